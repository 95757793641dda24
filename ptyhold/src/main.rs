use std::io::Write;

use common::{exit, trace};
use ptyhold::cli::{self, Parsed};

const TOOL: &str = "ptyhold";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let client = cli::is_client(&args);
    let ui = ptyhold::Ui {
        warn: &|w| eprintln!("{TOOL}: {w}"),
        hint: &|h| eprint!("{h}"),
    };
    let result = cli::parse(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            // A closed stdout (`ptyhold --help | head -1`) is not an error.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(exit::SUCCESS)
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            ptyhold::run(&cfg, &ui, &mut std::io::stdout().lock())
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            exit::report(TOOL, &e);
            if e.is_usage() {
                eprintln!("Try '{TOOL} --help' for more information.");
            }
            std::process::exit(if client {
                e.client_code()
            } else {
                e.hold_code()
            });
        }
    }
}
