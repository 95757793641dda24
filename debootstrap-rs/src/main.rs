use std::io::Write;

use common::cli::{Outcome, Parsed};
use common::{exit, trace};
use debootstrap_rs::{cli, signals};

const TOOL: &str = "debootstrap-rs";

fn main() {
    common::describe::serve(cli::command);
    common::cli::main(
        TOOL,
        exit::FAILURE,
        |args, out| -> Result<_, debootstrap_rs::Error> {
            match cli::parse(args)? {
                Parsed::Print(text) => Ok(common::cli::print(out, &text)),
                Parsed::Run(cfg) => {
                    trace::init(TOOL, cfg.verbose);
                    signals::install();
                    if let debootstrap_rs::Outcome::Packages(list) = debootstrap_rs::run(&cfg)? {
                        for p in list {
                            // A failed write (a closed pipe: `| head`) stops the list; main
                            // decides what it means.
                            if writeln!(out, "{p}").is_err() {
                                break;
                            }
                        }
                    }
                    Ok(Outcome::Exit(exit::SUCCESS))
                }
            }
        },
    )
}
