use std::io::Write;

use common::{exit, json, trace};
use nsenter_rs::cli::{self, Parsed};
use nsenter_rs::{Outcome, error, ns};

const TOOL: &str = "nsenter-rs";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = cli::parse_nsenter(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            // A closed stdout (`nsenter-rs --help | head -1`) is not an error.
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(Outcome::Exit(exit::SUCCESS))
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            nsenter_rs::nsenter(&cfg)
        }
    });
    let code = match result {
        Ok(Outcome::Exit(code)) => code,
        Ok(Outcome::List(entries, as_json)) => print_list(&entries, as_json),
        Err(e) => {
            error::report(TOOL, &e);
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// Print the listing; a closed stdout (`| head -1`) ends quietly.
fn print_list(entries: &[ns::NsEntry], as_json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    let r = if as_json {
        entries
            .iter()
            .try_for_each(|e| json::write_line(&mut out, e))
    } else {
        out.write_all(ns::format_table(entries).as_bytes())
    };
    match r.and_then(|()| out.flush()) {
        Err(e) if !exit::is_broken_pipe(&e) => {
            eprintln!("{TOOL}: cannot write the listing: {e}");
            exit::CANCELED
        }
        _ => exit::SUCCESS,
    }
}
