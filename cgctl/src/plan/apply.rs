//! Performing a plan: each write in order; on a failure the ones already written are
//! restored, newest first, so a `set` applies all or none.

use std::path::Path;

use super::{Action, devices};
use crate::error::{Cause, Error, quote};
use crate::files::read_u64;
use crate::filter;
use crate::layout::Version;
use crate::sys;

/// A hint for a failed write, from the file and the errno.
fn hint(path: &Path, errno: Option<i32>) -> Option<String> {
    let file = path.file_name()?.to_string_lossy();
    let e = errno?;
    Some(
        match (file.as_ref(), e) {
            ("memory.limit_in_bytes" | "memory.memsw.limit_in_bytes", libc::EINVAL) => {
                "memory+swap (memory.memsw.limit_in_bytes) must stay at or above memory.limit_in_bytes; set both"
            }
            (f, libc::EINVAL) if f.starts_with("cpuset.") => {
                "not within the parent's cpuset, or a child group uses others"
            }
            (f, libc::EINVAL) if f.starts_with("cpu.cfs_") || f == "cpu.max" => {
                "the quota/period ratio would exceed the parent's"
            }
            ("devices.allow" | "devices.deny", libc::EINVAL) => {
                "v1 changes a group's default device policy only while it has no child groups"
            }
            ("devices.allow", libc::EPERM) => "the parent group does not allow that device",
            ("cgroup.procs", libc::ENOSPC) => {
                "the group's v1 cpuset has no CPUs or memory nodes"
            }
            ("cgroup.procs", libc::EBUSY) => {
                "cgroup v2 does not allow processes in a group whose children have controllers enabled"
            }
            (_, libc::ENOENT) => "no such control file: the controller is not enabled or the kernel lacks it",
            _ => return None,
        }
        .to_owned(),
    )
}

/// A write error with its hint.
pub fn write_error(path: &Path, value: &str, e: std::io::Error) -> Error {
    let h = hint(path, e.raw_os_error());
    Error::Write {
        path: path.to_path_buf(),
        value: value.to_owned(),
        source: Cause { error: e, hint: h },
        note: String::new(),
    }
}

/// How to take back one performed action.
#[derive(Debug)]
enum Undo<'a> {
    /// Write the old value back.
    Write(&'a Path, &'a str),
    /// Put a v1 device list back.
    Devices(&'a Path, &'a [String]),
    /// Put the old v2 device filter back.
    Filter(filter::Installed),
    /// chown back.
    Chown(&'a Path, (u32, u32)),
}

impl Undo<'_> {
    /// Take it back; false when that failed.
    fn undo(&self) -> bool {
        match self {
            Undo::Write(path, old) => sys::write(path, old).is_ok(),
            Undo::Devices(dir, list) => devices::v1_restore(list)
                .iter()
                .all(|(f, v)| sys::write(&dir.join(f), v).is_ok()),
            Undo::Filter(installed) => installed.undo(),
            Undo::Chown(path, (u, g)) => sys::chown(path, *u, *g).is_ok(),
        }
    }

    fn path(&self) -> String {
        match self {
            Undo::Write(p, _) | Undo::Devices(p, _) | Undo::Chown(p, _) => quote(p),
            Undo::Filter(_) => "the device filter".to_owned(),
        }
    }
}

/// Perform one action; what undoes it.
fn perform<'a>(a: &'a Action, name: &str) -> Result<Option<Undo<'a>>, Error> {
    match a {
        Action::Write {
            path,
            value,
            restore,
        } => {
            sys::write(path, value).map_err(|e| {
                let file = path.file_name().unwrap_or_default();
                if file == "memory.limit_in_bytes" && e.raw_os_error() == Some(libc::EBUSY) {
                    let usage =
                        read_u64(&path.with_file_name("memory.usage_in_bytes")).unwrap_or(0);
                    Error::BelowUsage {
                        name: name.to_owned(),
                        limit: value.parse().unwrap_or(0),
                        usage,
                    }
                } else {
                    write_error(path, value, e)
                }
            })?;
            Ok(restore.as_deref().map(|old| Undo::Write(path, old)))
        }
        Action::Reclaim {
            path,
            amount,
            limit,
            usage,
        } => {
            sys::write(path, &amount.to_string()).map_err(|e| {
                if e.raw_os_error() == Some(libc::EAGAIN) {
                    Error::BelowUsage {
                        name: name.to_owned(),
                        limit: *limit,
                        usage: *usage,
                    }
                } else {
                    write_error(path, &amount.to_string(), e)
                }
            })?;
            Ok(None)
        }
        Action::Devices {
            dir,
            version: Version::V1,
            policy,
            restore,
        } => {
            let undo = restore.as_deref().map(|old| Undo::Devices(dir, old));
            for (file, value) in devices::v1_writes(policy) {
                let path = dir.join(file);
                if let Err(e) = sys::write(&path, &value) {
                    if let Some(u) = &undo {
                        u.undo();
                    }
                    return Err(write_error(&path, &value, e));
                }
            }
            Ok(undo)
        }
        Action::Devices {
            dir,
            version: Version::V2,
            policy,
            ..
        } => Ok(Some(Undo::Filter(filter::install(dir, policy)?))),
        Action::Chown {
            path,
            uid,
            gid,
            restore,
        } => {
            sys::chown(path, *uid, *gid).map_err(|source| Error::Chown {
                path: path.clone(),
                source,
            })?;
            Ok(Some(Undo::Chown(path, *restore)))
        }
    }
}

/// Perform the actions; on a failure (or SIGINT, SIGTERM, SIGHUP between two of them)
/// take back what was done, newest first, and return the error (with a note when
/// taking back failed too).
pub fn apply(actions: &[Action], name: &str) -> Result<(), Error> {
    let mut done: Vec<Undo<'_>> = Vec::new();
    for a in actions {
        let result = match sys::interrupted() {
            Some(sig) => Err(Error::Interrupted(sig)),
            None => perform(a, name),
        };
        match result {
            Ok(undo) => done.extend(undo),
            Err(mut err) => {
                let failed: Vec<String> = done
                    .iter()
                    .rev()
                    .filter(|u| !u.undo())
                    .map(Undo::path)
                    .collect();
                if !failed.is_empty()
                    && let Error::Write { note, .. } = &mut err
                {
                    *note = format!(" (and restoring {} failed)", failed.join(", "));
                }
                return Err(err);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;
    use crate::test_support::{fake, reqs};
    use std::fs;

    #[test]
    fn apply_rolls_back_in_reverse() {
        let f = fake();
        let t = f.target();
        let mut actions = plan(&reqs(&[("pids", "10"), ("cpu-weight", "200")]), &t).unwrap();
        // A write that fails: its file does not exist.
        actions.push(Action::Write {
            path: f.group.dir(2).unwrap().join("memory.nonexistent"),
            value: "1".into(),
            restore: None,
        });
        let e = apply(&actions, "g").unwrap_err();
        assert!(
            common::exit::message(&e).ends_with(
                "memory.nonexistent': No such file or directory (no such control file: the controller is not enabled or the kernel lacks it)"
            ),
            "{}",
            common::exit::message(&e)
        );
        let pids = fs::read_to_string(f.group.dir(3).unwrap().join("pids.max")).unwrap();
        assert_eq!(pids, "max");
        let shares = fs::read_to_string(f.group.dir(0).unwrap().join("cpu.shares")).unwrap();
        assert_eq!(shares, "1024");
    }
}
