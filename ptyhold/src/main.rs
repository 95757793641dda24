// No Rust runtime start-up before main: see common::entry.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

use common::cli::Parsed;
use common::trace;
use ptyhold::cli;
use ptyhold::error::Failed;

const TOOL: &str = "ptyhold";

common::entry!(main);

fn main() {
    common::describe::serve(cli::command);
    common::cli::main(TOOL, common::exit::CANCELED, |args, out| {
        let client = cli::is_client(args);
        let failed = |error| Failed { error, client };
        let ui = ptyhold::Ui {
            warn: &|w| eprintln!("{TOOL}: {w}"),
            hint: &|h| eprint!("{h}"),
        };
        match cli::parse(args).map_err(failed)? {
            Parsed::Print(text) => Ok(common::cli::print(out, &text)),
            Parsed::Run(cfg) => {
                trace::init(TOOL, cfg.verbose);
                ptyhold::run(&cfg, &ui, out).map_err(failed)
            }
        }
    })
}
