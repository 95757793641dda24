//! What every tool's `main` does the same way (`common::cli::main`): a failed write to
//! standard output is an error with the tool's failure status (coreutils'
//! `tests/help/help-version.sh` sends `--help` and `--version` to /dev/full), and a reader
//! that goes away ends the tool quietly. No root needed.

use std::fs::File;
use std::process::{Command, Stdio};

use integration::bin;

/// Each binary and its failure status: 125 for GNU-style chain-loaders (chroot-rs),
/// util-linux's 1 for nsenter-rs and unshare-rs, 1 for the rest.
const TOOLS: &[(&str, i32)] = &[
    ("chroot-rs", 125),
    ("nsenter-rs", 1),
    ("unshare-rs", 1),
    ("cgctl", 1),
    ("netlink-tool", 1),
    ("debootstrap-rs", 1),
];

fn to_dev_full(tool: &str, arg: &str) -> (Option<i32>, String) {
    let full = File::options().write(true).open("/dev/full").unwrap();
    let out = Command::new(bin(tool))
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version_to_a_full_device_fail_with_the_tools_status() {
    for &(tool, status) in TOOLS {
        for arg in ["--help", "--version"] {
            let (code, stderr) = to_dev_full(tool, arg);
            assert_eq!(code, Some(status), "{tool} {arg}: {stderr}");
            assert_eq!(
                stderr,
                format!("{tool}: write error: No space left on device\n"),
                "{tool} {arg}"
            );
        }
    }
}

#[test]
fn help_to_a_closed_pipe_ends_quietly() {
    for &(tool, _) in TOOLS {
        let mut child = Command::new(bin(tool))
            .arg("--help")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the tool writes (or while it does).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{tool}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{tool}");
    }
}

#[test]
fn help_and_version_print_on_stdout_and_succeed() {
    for &(tool, _) in TOOLS {
        for arg in ["--help", "--version"] {
            let out = Command::new(bin(tool))
                .arg(arg)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{tool} {arg}: {out:?}");
            assert!(!out.stdout.is_empty(), "{tool} {arg}");
            assert!(out.stderr.is_empty(), "{tool} {arg}: {out:?}");
        }
    }
}

/// A chain-loader started with standard input and output closed (a daemon's child, a
/// careless caller) opens /dev/null on them before anything else, as Rust's runtime would
/// (the tools start without it: `common::entry`), so that no file it opens becomes the
/// command's stdin or stdout.
#[test]
fn closed_standard_descriptors_are_opened_on_dev_null() {
    let mut tools = vec![("unshare-rs", vec![]), ("nsenter-rs", vec![])];
    if integration::is_root() {
        tools.push(("chroot-rs", vec!["/"]));
    }
    for (tool, args) in tools {
        let out = Command::new("sh")
            .arg("-c")
            .arg("exec <&- >&-; exec \"$@\"")
            .arg("sh")
            .arg(bin(tool))
            .args(args)
            .args([
                "sh",
                "-c",
                "exec 3>&1; readlink /proc/self/fd/0 /proc/self/fd/3 >&2",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{tool}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "/dev/null\n/dev/null\n",
            "{tool}"
        );
    }
}
