use std::io::Write;

use cgctl::cli::{self, Parsed};
use common::{exit, trace};

const TOOL: &str = "cgctl";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let exec = cli::is_exec(&args);
    let result = cli::parse(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            // A closed stdout (`cgctl --help | head -1`) is not an error.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(exit::SUCCESS)
        }
        Parsed::Batch(file, defaults) => {
            trace::init(TOOL, defaults.iter().filter(|a| *a == "-v").count() as u8);
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|source| cgctl::Error::Read { path: file, source })?;
            cgctl::run_batch(&text, &defaults, &mut std::io::stdout().lock(), &|n| {
                eprintln!("{TOOL}: {n}");
            })
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            cgctl::run(&cfg, &mut std::io::stdout().lock(), &|n| {
                eprintln!("{TOOL}: {n}");
            })
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            exit::report(TOOL, &e);
            if e.is_usage() {
                eprintln!("Try '{TOOL} --help' for more information.");
            }
            std::process::exit(if exec { e.exec_code() } else { e.exit_code() });
        }
    }
}
