// No Rust runtime start-up before main: see common::entry.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

use std::io::Write;

use common::cli::{Outcome, Parsed};
use common::{exit, json, trace};
use nsenter_rs::{Done, cli, error, ns};

const TOOL: &str = "nsenter-rs";

common::entry!(main);

fn main() {
    common::describe::serve(cli::nsenter_command);
    common::cli::main(
        TOOL,
        error::FAILED,
        |args, out| -> Result<_, nsenter_rs::Error> {
            match cli::parse_nsenter(args)? {
                Parsed::Print(text) => Ok(common::cli::print(out, &text)),
                Parsed::Run(cfg) => {
                    trace::init(TOOL, cfg.verbose);
                    match nsenter_rs::nsenter(&cfg)? {
                        Done::End(outcome) => Ok(outcome),
                        Done::List(entries, as_json) => {
                            // A write error is recorded in `out`, which main reports.
                            let _ = print_list(out, &entries, as_json);
                            Ok(Outcome::Exit(exit::SUCCESS))
                        }
                    }
                }
            }
        },
    )
}

/// Print the `--list` listing: a table, or one JSON object per line.
fn print_list(out: &mut impl Write, entries: &[ns::NsEntry], as_json: bool) -> std::io::Result<()> {
    if as_json {
        entries
            .iter()
            .try_for_each(|e| json::write_line(&mut *out, e))
    } else {
        out.write_all(ns::format_table(entries).as_bytes())
    }
}
