// No Rust runtime start-up before main: see common::entry.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

use cgctl::cli::{self, Parsed};
use cgctl::error::Failed;
use common::cli::Outcome;
use common::{exit, trace};

const TOOL: &str = "cgctl";

common::entry!(main);

fn main() {
    common::describe::serve(cli::command);
    common::cli::main(TOOL, exit::FAILURE, |args, out| {
        let exec = cli::is_exec(args);
        let failed = |error| Failed { error, exec };
        let code = match cli::parse(args).map_err(failed)? {
            Parsed::Print(text) => return Ok(common::cli::print(out, &text)),
            Parsed::Batch(file, defaults) => {
                trace::init(TOOL, defaults.iter().filter(|a| *a == "-v").count() as u8);
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())
                } else {
                    std::fs::read_to_string(&file)
                }
                .map_err(|source| failed(cgctl::Error::Read { path: file, source }))?;
                cgctl::run_batch(&text, &defaults, out, &|n| eprintln!("{TOOL}: {n}"))
            }
            Parsed::Run(cfg) => {
                trace::init(TOOL, cfg.verbose);
                cgctl::run(&cfg, out, &|n| eprintln!("{TOOL}: {n}"))
            }
        };
        code.map(Outcome::Exit).map_err(failed)
    })
}
