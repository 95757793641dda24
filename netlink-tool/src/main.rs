use common::cli::{Outcome, Parsed};
use common::{exit, trace};
use netlink_tool::cli;

const TOOL: &str = "netlink-tool";

fn main() {
    common::describe::serve(cli::command);
    common::cli::main(TOOL, exit::FAILURE, |args, out| match cli::parse(args)? {
        Parsed::Print(text) => Ok(common::cli::print(out, &text)),
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            netlink_tool::interrupt::install();
            netlink_tool::run(&cfg, out).map(|()| Outcome::Exit(exit::SUCCESS))
        }
    })
}
