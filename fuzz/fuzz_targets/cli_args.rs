//! Every tool's command line, as `main` hands it to the tool's parser (clap, and the
//! getopt-style scans in front of it: chroot-rs's options before NEWROOT, nsenter-rs's
//! `-n/path` rewrite, unshare-rs's order of `-r`/`-c`/`--map-user`), then the checks
//! that run before anything changes (cgctl's `precheck`).
//!
//! The first byte picks the tool: `c` cgctl, `r` chroot-rs, `d` debootstrap-rs, `n`
//! netlink-tool, `e` nsenter-rs, `u` unshare-rs, `p` ptyhold; the rest is its arguments
//! (without argv[0]) separated by NUL bytes, as in /proc/PID/cmdline.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use common::cli::Parsed;
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{args, mode};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    let argv = args(rest);
    match m {
        b'c' => {
            let _ = cgctl::cli::is_exec(&argv);
            if let Ok(cgctl::cli::Parsed::Run(cfg)) = cgctl::cli::parse(&argv) {
                let _ = cgctl::precheck(&cfg);
            }
        }
        b'r' => one_line(
            chroot_rs::cli::parse(&argv)
                .map(drop)
                .map_err(|e| e.to_string()),
            &argv,
        ),
        b'd' => one_line(
            debootstrap_rs::cli::parse(&argv)
                .map(drop)
                .map_err(|e| e.to_string()),
            &argv,
        ),
        b'n' => one_line(
            netlink_tool::cli::parse(&argv)
                .map(drop)
                .map_err(|e| e.to_string()),
            &argv,
        ),
        b'e' => one_line(
            nsenter_rs::cli::parse_nsenter(&argv)
                .map(|p| matches!(p, Parsed::Run(_)))
                .map(drop)
                .map_err(|e| e.to_string()),
            &argv,
        ),
        b'u' => one_line(
            nsenter_rs::cli::parse_unshare(&argv)
                .map(drop)
                .map_err(|e| e.to_string()),
            &argv,
        ),
        b'p' => {
            let _ = ptyhold::cli::is_client(&argv);
            one_line(
                ptyhold::cli::parse(&argv)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                &argv,
            );
        }
        _ => {}
    }
});

/// Every error a user sees is one line (the `Try … --help` line is added when it is
/// printed, not part of the message), unless it quotes an argument that holds a line
/// break.
fn one_line(r: Result<(), String>, argv: &[OsString]) {
    let breaks = argv
        .iter()
        .any(|a| a.as_bytes().iter().any(|b| matches!(b, b'\n' | b'\r')));
    if let Err(msg) = r
        && !breaks
    {
        assert!(!msg.trim_end().contains('\n'), "{msg:?}");
    }
}
