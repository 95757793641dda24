use std::io::Write;

use common::{exit, trace};
use netlink_tool::cli::{self, Parsed};

const TOOL: &str = "netlink-tool";

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = cli::parse(&args).and_then(|parsed| match parsed {
        Parsed::Print(text) => {
            let _ = out.write_all(text.as_bytes());
            Ok(())
        }
        Parsed::Run(cfg) => {
            trace::init(TOOL, cfg.verbose);
            netlink_tool::run(&cfg, &mut out)
        }
    });
    let flushed = out.flush().map_err(netlink_tool::Error::Stdout);
    match result.and(flushed) {
        Ok(()) => std::process::exit(exit::SUCCESS),
        Err(e) if e.is_broken_pipe() => std::process::exit(exit::SUCCESS),
        Err(e) => {
            exit::report(TOOL, &e);
            if e.is_usage() {
                eprintln!("Try '{TOOL} --help' for more information.");
            }
            std::process::exit(e.exit_code());
        }
    }
}
