//! The last step of every chain-loader: exec the command, as GNU chroot, util-linux and
//! cgexec do, with the signal state and the environment a command expects.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::{sys, trace};

/// The environment the command gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Env {
    /// Ours, unchanged (the default of every tool, as of their classic counterparts).
    #[default]
    Inherit,
    /// Exactly these `NAME=VALUE` entries.
    Exactly(Vec<OsString>),
}

/// The `PATH` a cleared environment gets (Debian's default for root's login).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Env {
    /// Our environment reduced to the variables named in `keep` (util-linux's
    /// `--clear-env` with an empty list, `--whitelist-env` with names).
    pub fn keeping(keep: &[OsString]) -> Env {
        Env::Exactly(
            std::env::vars_os()
                .filter(|(k, _)| keep.contains(k))
                .map(|(k, v)| entry(&k, &v))
                .collect(),
        )
    }

    /// A container's environment, as its init and every attached command get it:
    /// nothing of the caller's but `TERM`, a standard `PATH`, `HOME`, and `extra`
    /// (`container=NAME`, `container_ttys=…`), later entries replacing earlier ones.
    pub fn container(home: &OsStr, extra: &[OsString]) -> Env {
        let mut v = Vec::new();
        if let Some(term) = std::env::var_os("TERM") {
            v.push(entry(OsStr::new("TERM"), &term));
        }
        v.push(entry(OsStr::new("PATH"), OsStr::new(DEFAULT_PATH)));
        v.push(entry(OsStr::new("HOME"), home));
        let mut env = Env::Exactly(v);
        for e in extra {
            env.set(e.clone());
        }
        env
    }

    /// Add or replace one `NAME=VALUE` entry (turning `Inherit` into our environment
    /// plus it).
    pub fn set(&mut self, pair: OsString) {
        if let Env::Inherit = self {
            *self = Env::Exactly(std::env::vars_os().map(|(k, v)| entry(&k, &v)).collect());
        }
        let Env::Exactly(v) = self else {
            unreachable!("made Exactly just above")
        };
        let name = name_of(&pair).to_owned();
        v.retain(|e| name_of(e) != name.as_slice());
        v.push(pair);
    }

    /// The value of `name`, when the environment is explicit and has it.
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        let Env::Exactly(v) = self else { return None };
        v.iter().find_map(|e| {
            let b = e.as_bytes();
            (name_of(e) == name.as_bytes()).then(|| OsStr::from_bytes(&b[name.len() + 1..]))
        })
    }
}

fn entry(k: &OsStr, v: &OsStr) -> OsString {
    let mut e = k.to_owned();
    e.push("=");
    e.push(v);
    e
}

fn name_of(e: &OsStr) -> &[u8] {
    let b = e.as_bytes();
    b.iter().position(|&c| c == b'=').map_or(b, |i| &b[..i])
}

/// Exec `argv` (searched in our `PATH`), showing `argv0` as its `argv[0]` when given,
/// with the environment `env`. Returns only on failure, with the errno
/// ([`crate::exit::exec_failure`] turns it into 126 or 127).
///
/// SIGPIPE goes back to its default action first: Rust's runtime ignores it, an ignored
/// signal stays ignored across exec, and a command in a pipeline must die of it as under
/// GNU chroot (`chroot-rs / yes | head -1` ends). Resetting a valid signal to SIG_DFL
/// cannot fail; were it to, the command would still run, so the failure is only traced.
pub fn exec(argv: &[OsString], argv0: Option<&OsStr>, env: &Env) -> Errno {
    let r = sys::default_action(Signal::SIGPIPE);
    trace::syscall(format_args!("rt_sigaction(SIGPIPE, SIG_DFL)"), &r);
    match env {
        Env::Inherit => sys::execvp(argv, argv0, None),
        Env::Exactly(v) => sys::execvp(argv, argv0, Some(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_environment() {
        let env = Env::container(
            OsStr::new("/root"),
            &["container=ctn".into(), "HOME=/home/x".into()],
        );
        assert_eq!(env.get("PATH"), Some(OsStr::new(DEFAULT_PATH)));
        assert_eq!(env.get("HOME"), Some(OsStr::new("/home/x")));
        assert_eq!(env.get("container"), Some(OsStr::new("ctn")));
        assert_eq!(env.get("USER"), None);
        let Env::Exactly(v) = &env else { panic!() };
        // TERM (if the test runner has one), PATH, HOME, container: nothing else.
        assert!(v.len() <= 4, "{v:?}");
    }

    #[test]
    fn keeping_only_named() {
        let Env::Exactly(v) = Env::keeping(&[]) else {
            panic!()
        };
        assert!(v.is_empty());
        let mut env = Env::keeping(&["PATH".into()]);
        env.set("A=1".into());
        env.set("A=2".into());
        assert_eq!(env.get("A"), Some(OsStr::new("2")));
    }
}
