use std::io::Write;

use common::{exit, trace};
use nsenter_rs::cli::{self, Parsed};
use nsenter_rs::error;

const TOOL: &str = "unshare-rs";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = cli::parse_unshare(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            // A closed stdout (`unshare-rs --help | head -1`) is not an error.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(exit::SUCCESS)
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            nsenter_rs::unshare(&cfg)
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            error::report(TOOL, &e);
            std::process::exit(e.exit_code());
        }
    }
}
