//! Run a command under a seccomp filter that refuses some system calls with ENOSYS, as
//! the default profiles of Docker and Podman refuse clone3: for the tests that show a
//! tool still works there.
//!
//! usage: seccomp-refuse CALL[,CALL…] -- COMMAND [ARG…]   (CALL: clone3)

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use common::seccomp::{Filter, Refused};
use nix::errno::Errno;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (Some(calls), Some(sep), Some(program)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: seccomp-refuse CALL[,CALL…] -- COMMAND [ARG…]");
        return ExitCode::from(2);
    };
    if sep != "--" {
        eprintln!("usage: seccomp-refuse CALL[,CALL…] -- COMMAND [ARG…]");
        return ExitCode::from(2);
    }
    let mut refused = Vec::new();
    for name in calls.to_string_lossy().split(',') {
        let nr = match name {
            "clone3" => libc::SYS_clone3,
            other => {
                eprintln!("seccomp-refuse: unknown call {other}");
                return ExitCode::from(2);
            }
        };
        refused.push(Refused {
            name: "clone3",
            nr,
            errno: Errno::ENOSYS,
        });
    }
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        eprintln!("seccomp-refuse: no_new_privs: {e}");
        return ExitCode::from(1);
    }
    if let Err(e) = Filter::refusing(&refused).install() {
        eprintln!("seccomp-refuse: seccomp: {e}");
        return ExitCode::from(1);
    }
    let e = Command::new(program).args(&args[3..]).exec();
    eprintln!("seccomp-refuse: exec: {e}");
    ExitCode::from(127)
}
