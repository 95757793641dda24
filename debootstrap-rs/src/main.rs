use std::io::Write;

use common::{exit, trace};
use debootstrap_rs::cli::{self, Parsed};
use debootstrap_rs::{Outcome, signals};

const TOOL: &str = "debootstrap-rs";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = cli::parse(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(Outcome::Done)
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            signals::install();
            debootstrap_rs::run(&cfg)
        }
    });
    match result {
        Ok(Outcome::Packages(list)) => {
            let mut out = std::io::stdout().lock();
            for p in list {
                // A closed stdout (`| head`) ends quietly.
                if writeln!(out, "{p}").is_err() {
                    break;
                }
            }
        }
        Ok(Outcome::Done) => {}
        Err(e) => {
            exit::report(TOOL, &e);
            if matches!(e, debootstrap_rs::Error::Usage(_)) {
                eprintln!("Try '{TOOL} --help' for more information.");
            }
            std::process::exit(e.exit_code());
        }
    }
}
