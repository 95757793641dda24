use std::io::Write;

use chroot_rs::Status;
use chroot_rs::cli::{self, Parsed};
use common::{exit, trace};

const TOOL: &str = "chroot-rs";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = cli::parse(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            // A closed stdout (`chroot-rs --help | head -1`) is not an error.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(Status::Exit(exit::SUCCESS))
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            chroot_rs::run(&cfg, &|w| eprintln!("{TOOL}: {w}"))
        }
    });
    match result {
        Ok(Status::Exit(code)) => std::process::exit(code),
        Ok(Status::Signal(sig)) => {
            chroot_rs::sys::die_of(sig);
            std::process::exit(exit::signal_status(sig));
        }
        Err(e) => {
            exit::report(TOOL, &e);
            if e.is_usage() {
                eprintln!("Try '{TOOL} --help' for more information.");
            }
            std::process::exit(e.exit_code());
        }
    }
}
