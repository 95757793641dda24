// No Rust runtime start-up before main: see common::entry.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

use common::cli::Parsed;
use common::trace;
use nsenter_rs::{cli, error};

const TOOL: &str = "unshare-rs";

common::entry!(main);

fn main() {
    common::describe::serve(cli::unshare_command);
    common::cli::main(
        TOOL,
        error::FAILED,
        |args, out| -> Result<_, nsenter_rs::Error> {
            match cli::parse_unshare(args)? {
                Parsed::Print(text) => Ok(common::cli::print(out, &text)),
                Parsed::Run(cfg) => {
                    trace::init(TOOL, cfg.verbose);
                    nsenter_rs::unshare(&cfg)
                }
            }
        },
    )
}
