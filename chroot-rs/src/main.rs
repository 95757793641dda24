// No Rust runtime start-up before main: see common::entry.
#![cfg_attr(all(not(test), target_env = "gnu"), no_main)]

use chroot_rs::cli::{self, Parsed};
use common::{exit, trace};

const TOOL: &str = "chroot-rs";

common::entry!(main);

fn main() {
    common::describe::serve(cli::command);
    common::cli::main(TOOL, exit::CANCELED, |args, out| match cli::parse(args)? {
        Parsed::Print(text) => Ok(common::cli::print(out, &text)),
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            chroot_rs::run(&cfg, &|w| eprintln!("{TOOL}: {w}"))
        }
    })
}
