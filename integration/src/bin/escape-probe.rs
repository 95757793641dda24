//! The classic chroot(2) escape, for the tests that show plain chroot can be escaped
//! and `chroot-rs --pivot` cannot: make a directory, chroot into it without changing
//! directory (the cwd is now outside the root), climb with `..`, chroot to where the
//! climb ended. Prints `ESCAPED` and exits 0 when MARKER (a host path) is then readable.
//!
//! usage: escape-probe MARKER

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(marker) = std::env::args().nth(1) else {
        eprintln!("usage: escape-probe MARKER");
        return ExitCode::from(2);
    };
    let attempt = || -> nix::Result<()> {
        let dir = "/.escape-probe";
        match nix::unistd::mkdir(dir, nix::sys::stat::Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        nix::unistd::chroot(dir)?;
        for _ in 0..256 {
            nix::unistd::chdir("..")?;
        }
        nix::unistd::chroot(".")
    };
    if let Err(e) = attempt() {
        println!("contained: {e}");
        return ExitCode::from(1);
    }
    if std::fs::read(&marker).is_ok() {
        println!("ESCAPED");
        ExitCode::SUCCESS
    } else {
        println!("contained");
        ExitCode::from(1)
    }
}
