//! The last steps before the command: credentials (`-S`, `-G`), then execvp(3) of the
//! command, or of a login shell (`"$SHELL"`, shown as `-sh`) when none is given, as
//! util-linux does.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use nix::unistd::{Gid, Uid};

use crate::error::Error;
use crate::sys;

/// The credentials to set in the namespaces, after everything else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    /// `-S UID`.
    pub uid: Option<u32>,
    /// `-G GID`.
    pub gid: Option<u32>,
    /// When setgroups(2) fails: true makes it an error (unshare-rs, and nsenter-rs when
    /// its first attempt before entering a user namespace failed too).
    pub groups_must_clear: bool,
}

impl Ids {
    /// setgroups([]) and setgid when a GID is set, then setuid.
    pub fn apply(self) -> Result<(), Error> {
        if let Some(gid) = self.gid {
            if let Err(e) = sys::clear_groups()
                && self.groups_must_clear
            {
                return Err(Error::setup("setgroups failed")(e));
            }
            sys::setgid(Gid::from_raw(gid)).map_err(Error::setup("setgid failed"))?;
        }
        if let Some(uid) = self.uid {
            sys::setuid(Uid::from_raw(uid)).map_err(Error::setup("setuid failed"))?;
        }
        Ok(())
    }
}

/// What to exec: the command, or `"$SHELL"` (default /bin/sh) as a login shell.
/// Returns argv and the argv[0] to show (`-sh`), when it differs.
pub fn command_line(command: &[OsString]) -> (Vec<OsString>, Option<OsString>) {
    if !command.is_empty() {
        return (command.to_vec(), None);
    }
    let shell = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let base = shell
        .as_bytes()
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or_default();
    let mut argv0 = OsString::from("-");
    argv0.push(std::ffi::OsStr::from_bytes(base));
    (vec![shell], Some(argv0))
}

/// Exec the command with the environment `env`. Returns only on failure: 127 when not
/// found, 126 otherwise.
pub fn exec(command: &[OsString], env: &common::exec::Env) -> Error {
    let (argv, argv0) = command_line(command);
    let source = common::exec::exec(&argv, argv0.as_deref(), env);
    Error::Exec {
        command: argv[0].clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_kept() {
        let cmd: Vec<OsString> = vec!["ls".into(), "-l".into()];
        assert_eq!(command_line(&cmd), (cmd.clone(), None));
    }

    #[test]
    fn default_is_a_login_shell() {
        // SHELL is read from the environment; the test sets nothing and reads what is
        // there, so both branches are checked against the same rule.
        let (argv, argv0) = command_line(&[]);
        let shell = std::env::var_os("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        assert_eq!(argv, vec![shell.clone()]);
        let base = std::path::Path::new(&shell).file_name().unwrap().to_owned();
        let mut expected = OsString::from("-");
        expected.push(base);
        assert_eq!(argv0, Some(expected));
    }
}
