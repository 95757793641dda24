//! Processes and groups: freeze and thaw (returning when the state is reached), kill
//! (`cgroup.kill` where a unified group exists, else freeze, signal each, thaw; returns
//! when the group is empty), move (all pids or none), and exec (join every hierarchy,
//! then execvp).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::error::{Cause, Error};
use crate::group::{self, Group};
use crate::layout::{Layout, Version};
use crate::plan::write_error;
use crate::sys;
use crate::target::Target;

/// Poll `done` with a growing pause until it holds or `timeout` passes (or SIGINT,
/// SIGTERM, SIGHUP arrives).
fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) -> Result<(), Error> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(500);
    loop {
        if done() {
            return Ok(());
        }
        if let Some(sig) = sys::interrupted() {
            return Err(Error::Interrupted(sig));
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs_f64(),
            });
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Where the group is frozen: v1 freezer, else the unified `cgroup.freeze`.
fn freezer(target: &Target<'_>) -> Result<(Version, PathBuf), Error> {
    target.home("freezer")
}

fn is_frozen(ver: Version, dir: &Path) -> Option<bool> {
    match ver {
        Version::V1 => sys::read(&dir.join("freezer.state"))
            .ok()
            .map(|s| s.trim() == "FROZEN"),
        Version::V2 => sys::read(&dir.join("cgroup.events"))
            .ok()
            .map(|s| s.lines().any(|l| l.trim() == "frozen 1")),
    }
}

fn is_thawed(ver: Version, dir: &Path) -> Option<bool> {
    match ver {
        Version::V1 => sys::read(&dir.join("freezer.state"))
            .ok()
            .map(|s| s.trim() == "THAWED"),
        Version::V2 => sys::read(&dir.join("cgroup.events"))
            .ok()
            .map(|s| s.lines().any(|l| l.trim() == "frozen 0")),
    }
}

/// Freeze (`on`) or thaw the group and wait until the kernel reports the state.
pub fn freeze(target: &Target<'_>, on: bool, timeout: Duration) -> Result<(), Error> {
    let (ver, dir) = freezer(target)?;
    let (file, value) = match (ver, on) {
        (Version::V1, true) => ("freezer.state", "FROZEN"),
        (Version::V1, false) => ("freezer.state", "THAWED"),
        (Version::V2, true) => ("cgroup.freeze", "1"),
        (Version::V2, false) => ("cgroup.freeze", "0"),
    };
    let path = dir.join(file);
    let before = sys::read(&path).ok();
    sys::write(&path, value).map_err(|e| write_error(&path, value, e))?;
    let what = format!(
        "{} {}",
        if on { "freezing" } else { "thawing" },
        crate::error::quote(&target.group.name)
    );
    let reached = wait_until(timeout, &what, || {
        if on {
            is_frozen(ver, &dir).unwrap_or(true)
        } else {
            is_thawed(ver, &dir).unwrap_or(true)
        }
    });
    if let (Err(Error::Interrupted(_)), Some(old)) = (&reached, before) {
        // Interrupted: back to the state before (v1 reads FREEZING while on its way).
        let old = match old.trim() {
            "FREEZING" => "FROZEN",
            o => o,
        };
        let _ = sys::write(&path, old);
    }
    reached
}

/// Refuse to signal a group that holds this very process.
fn refuse_self(group: &Group) -> Result<(), Error> {
    let me = sys::getpid();
    if group.procs().contains(&me) {
        return Err(Error::KillSelf(group.name.clone()));
    }
    Ok(())
}

/// Send `signal` to every process of the group and its descendants, and return when
/// the group is empty. SIGKILL goes through `cgroup.kill` where the group has a unified
/// directory that offers it (v2, and hybrid hosts); otherwise, and for the processes that
/// joined only v1 hierarchies, the group is frozen, each process signalled, and thawed.
pub fn kill(target: &Target<'_>, signal: Signal, timeout: Duration) -> Result<(), Error> {
    let group = target.group;
    refuse_self(group)?;
    if group.procs().is_empty() {
        return Ok(());
    }
    let what = format!("emptying {}", crate::error::quote(&group.name));
    let unified_kill = target
        .layout
        .unified_index()
        .and_then(|i| group.dir(i))
        .map(|d| d.join("cgroup.kill"))
        .filter(|p| sys::exists(p));
    if let (Signal::SIGKILL, Some(p)) = (signal, &unified_kill) {
        sys::write(p, "1").map_err(|e| write_error(p, "1", e))?;
        // Processes that joined only v1 hierarchies escape cgroup.kill: a short wait,
        // then the fallback takes the rest.
        if wait_until(Duration::from_millis(200), &what, || {
            group.procs().is_empty()
        })
        .is_ok()
        {
            return Ok(());
        }
    }
    let frozen = freezer(target).ok();
    if let Some((ver, dir)) = &frozen {
        let (file, value) = match ver {
            Version::V1 => ("freezer.state", "FROZEN"),
            Version::V2 => ("cgroup.freeze", "1"),
        };
        let _ = sys::write(&dir.join(file), value);
        let _ = wait_until(Duration::from_secs(2), &what, || {
            is_frozen(*ver, dir).unwrap_or(true)
        });
    }
    let signal_all = || -> Result<(), Error> {
        for pid in group.procs() {
            match sys::kill(pid, signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => {
                    return Err(Error::Kill {
                        pid,
                        signal: signal.as_str(),
                        source,
                    });
                }
            }
        }
        Ok(())
    };
    let sent = signal_all();
    if let Some((ver, dir)) = &frozen {
        let (file, value) = match ver {
            Version::V1 => ("freezer.state", "THAWED"),
            Version::V2 => ("cgroup.freeze", "0"),
        };
        let p = dir.join(file);
        sys::write(&p, value).map_err(|e| write_error(&p, value, e))?;
    }
    sent?;
    // Processes forked before the freeze took hold get the signal on a later round.
    let mut last = Instant::now();
    wait_until(timeout, &what, || {
        let left = group.procs();
        if !left.is_empty()
            && last.elapsed() > Duration::from_millis(100)
            && signal == Signal::SIGKILL
        {
            let _ = signal_all();
            last = Instant::now();
        }
        left.is_empty()
    })
}

/// The directory of `pid`'s group in each hierarchy (for moving it back).
fn groups_of(layout: &Layout, pid: i32) -> Vec<Option<PathBuf>> {
    let text = sys::read(Path::new(&format!("/proc/{pid}/cgroup"))).unwrap_or_default();
    layout
        .hierarchies
        .iter()
        .map(|h| {
            text.lines().find_map(|line| {
                let mut p = line.splitn(3, ':');
                let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
                let matches = match (h.version, &h.name) {
                    (Version::V2, _) => ctrls.is_empty(),
                    (Version::V1, Some(n)) => {
                        ctrls.split(',').any(|c| c.strip_prefix("name=") == Some(n))
                    }
                    (Version::V1, None) => {
                        let set: Vec<&str> = ctrls.split(',').collect();
                        !h.controllers.is_empty()
                            && h.controllers.iter().all(|c| set.contains(&c.as_str()))
                    }
                };
                if matches { h.dir_of(path) } else { None }
            })
        })
        .collect()
}

fn procs_write(dir: &Path, pid: i32) -> Result<(), Error> {
    join_file(dir, "cgroup.procs", pid)
}

/// Write `pid` to `file` (`cgroup.procs`, or v1 `tasks`) of `dir`.
fn join_file(dir: &Path, file: &str, pid: i32) -> Result<(), Error> {
    let p = dir.join(file);
    let v = pid.to_string();
    // A task that is still being created answers EINVAL; runc retries too.
    let mut tries = 0;
    loop {
        match sys::write(&p, &v) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                tries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                let hint = match e.raw_os_error() {
                    Some(libc::ENOSPC) => Some("the group's v1 cpuset has no CPUs or memory nodes".to_owned()),
                    Some(libc::EBUSY) => Some(
                        "cgroup v2 does not allow processes in a group whose children have controllers enabled"
                            .to_owned(),
                    ),
                    _ => None,
                };
                return Err(Error::Move {
                    pid,
                    path: p,
                    source: Cause { error: e, hint },
                });
            }
        }
    }
}

/// Move `pids` into the group in every hierarchy. All or none: on a failure, the pids
/// already moved go back where they were.
pub fn move_pids(layout: &Layout, group: &Group, pids: &[i32]) -> Result<(), Error> {
    group.require(layout)?;
    let dirs = group.existing();
    let mut moved: Vec<(i32, Vec<Option<PathBuf>>, usize)> = Vec::new();
    for &pid in pids {
        let origin = groups_of(layout, pid);
        let mut n = 0;
        let mut failure = sys::interrupted().map(Error::Interrupted);
        for (_, d) in dirs
            .iter()
            .take(if failure.is_some() { 0 } else { dirs.len() })
        {
            if let Err(e) = procs_write(d, pid) {
                failure = Some(e);
                break;
            }
            n += 1;
        }
        moved.push((pid, origin, n));
        if let Some(e) = failure {
            for (pid, origin, n) in moved.iter().rev() {
                for (i, _) in dirs.iter().take(*n) {
                    if let Some(Some(o)) = origin.get(*i) {
                        let _ = sys::write(&o.join("cgroup.procs"), &pid.to_string());
                    }
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Join the group in every hierarchy and exec the command. With `create`, a group that
/// does not exist is created first, and removed again when joining or exec fails. With
/// `fork`, the command is instead cloned into the group's cgroup2 directory
/// (CLONE_INTO_CGROUP) and waited for: nothing moves in that hierarchy, so the kernel's
/// global migration lock and the RCU grace period it waits for are never met (v1
/// hierarchies are joined as ever, by this thread alone). Returns only with `fork`: the
/// status to exit with (having died of the command's signal if it died of one).
pub fn exec(
    layout: &Layout,
    group: &Group,
    create: bool,
    fork: bool,
    argv: &[OsString],
    note: &dyn Fn(&str),
) -> Result<i32, Error> {
    let mut created = false;
    if create && group.existing().is_empty() {
        match crate::create::create(layout, group, &[], note)
            .and_then(crate::create::Creation::publish)
        {
            Ok(()) => created = true,
            Err(Error::Exists(_) | Error::Busy { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // What --create made goes again when joining or exec fails.
    let undo = || {
        if created {
            for (_, d) in group.existing().iter().rev() {
                let _ = crate::delete::rmdir_retry(d, Duration::from_millis(500));
            }
        }
    };
    if !created {
        if create {
            // A concurrent `exec --create` of the same group may be making it: join it
            // once it is in every hierarchy.
            let _ = wait_until(Duration::from_secs(1), "", || group.require(layout).is_ok());
        }
        group.require(layout)?;
    }
    let me = sys::getpid();
    let dirs = group.existing();
    // cgctl's own group in each hierarchy: where `back` returns it, and where `--fork`
    // writes it while waiting (see `fork_into`).
    let origs = group::parent_dirs(layout, &group::Parent::Own);
    let back = |n: usize| {
        for (i, _) in dirs.iter().take(n) {
            if let Some(Some(orig)) = origs.get(*i) {
                let _ = sys::write(&orig.join("cgroup.procs"), &me.to_string());
            }
        }
    };
    // With --fork: the cgroup2 group the command is cloned into (its directory, open,
    // and its path), and the index of its hierarchy.
    let mut into = None;
    for (k, (i, d)) in dirs.iter().enumerate() {
        // On v1, cgctl (one thread) joins through `tasks` with pid 0, "this thread":
        // moving only the caller's own thread skips the kernel's global threadgroup
        // lock and its RCU grace period, which a cgroup.procs write waits for in
        // every hierarchy. The exec'd command inherits the groups.
        let joined = match sys::interrupted() {
            Some(sig) => Err(Error::Interrupted(sig)),
            None if layout.hierarchies[*i].version == Version::V1 => join_file(d, "tasks", 0),
            None if fork => sys::open_dir(d)
                .map(|fd| into = Some((fd, d, *i)))
                .map_err(|error| Error::Move {
                    pid: me,
                    path: d.clone(),
                    source: Cause { error, hint: None },
                }),
            None => procs_write(d, me),
        };
        if let Err(e) = joined {
            back(k);
            undo();
            return Err(e);
        }
    }
    if let Some(sig) = sys::interrupted() {
        back(dirs.len());
        undo();
        return Err(Error::Interrupted(sig));
    }
    if let Some((dir, d, i)) = into {
        // (Never the hierarchy's root group: nothing is written there.)
        let own = origs[i]
            .as_deref()
            .filter(|o| *o != layout.hierarchies[i].mount);
        match fork_into(&dir, own, argv) {
            Ok(code) => return Ok(code),
            // clone3 refused (a container runtime's seccomp profile answers ENOSYS) or
            // without CLONE_INTO_CGROUP (before Linux 5.7): joined by a move instead, as
            // without --fork.
            Err(Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL) => {
                if let Err(e) = procs_write(d, me) {
                    back(dirs.len());
                    undo();
                    return Err(e);
                }
            }
            Err(errno) => {
                back(dirs.len());
                undo();
                return Err(Error::Move {
                    pid: me,
                    path: d.join("cgroup.procs"),
                    source: Cause {
                        error: errno.into(),
                        hint: Some("cannot clone the command into the group".to_owned()),
                    },
                });
            }
        }
    }
    let errno = common::exec::exec(argv, None, &common::exec::Env::Inherit);
    back(dirs.len());
    undo();
    Err(Error::Exec {
        command: argv[0].clone(),
        source: errno,
    })
}

/// `exec --fork`'s clone into the cgroup2 group `dir`: the child execs `argv` (its
/// failure said and its status 126 or 127, as a shell's); this process waits, passing
/// on the signals it is sent, and ends as the command ended.
///
/// Cloned into its group, the command moves nothing, so the kernel's global threadgroup
/// lock (taken by every `cgroup.procs` write) is not taken, and the next such write on
/// the machine waits for an RCU grace period before it takes it: 13 to 26 ms measured
/// here, and a container's systemd makes one at once (moving itself into init.scope).
/// So cgctl, which only waits now, writes itself into the cgroup2 group it is already in
/// (`own`: no move; not when that is the hierarchy's root): its write waits for that
/// grace period while the command starts, and a write that follows within about a grace
/// period (the init's) does not wait. Best effort: a refusal is only traced. Signals to
/// pass on wait until it returns.
fn fork_into(
    dir: &std::os::fd::OwnedFd,
    own: Option<&Path>,
    argv: &[OsString],
) -> Result<i32, Errno> {
    use common::supervise::Blocked;
    use nix::unistd::ForkResult;
    use std::os::fd::AsFd;
    let blocked = Blocked::block()?;
    match common::sys::clone_into_cgroup(dir.as_fd()) {
        Err(e) => {
            let _ = blocked.restore();
            Err(e)
        }
        Ok(ForkResult::Child) => {
            // cgctl's own handlers (catch_interrupts) go before the mask: a signal passed
            // on before the exec must act on the command as it would after it (caught
            // here, it was lost and the command ran on).
            for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                let _ = common::sys::default_action(sig);
            }
            let _ = blocked.restore();
            let errno = common::exec::exec(argv, None, &common::exec::Env::Inherit);
            let e = Error::Exec {
                command: argv[0].clone(),
                source: errno,
            };
            eprintln!("cgctl: {e}: {}", errno.desc());
            common::sys::exit_child(common::exit::exec_failure(errno))
        }
        Ok(ForkResult::Parent { child }) => {
            if let Some(own) = own {
                let _ = sys::write(&own.join("cgroup.procs"), "0");
            }
            Ok(blocked.wait_forwarding(child).finish())
        }
    }
}

/// Parse a signal: `KILL`, `SIGKILL`, `kill`, `9`.
pub fn parse_signal(s: &str) -> Result<Signal, Error> {
    common::supervise::parse_signal(s).map_err(|_| Error::Usage(format!("invalid signal '{s}'")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_v2;
    use std::fs;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }

    #[test]
    fn waiting_times_out_with_a_message() {
        let e = wait_until(Duration::from_millis(5), "thawing 'x'", || false).unwrap_err();
        assert_eq!(e.to_string(), "thawing 'x': still not done after 0.005 s");
        assert!(wait_until(Duration::from_millis(5), "x", || true).is_ok());
    }

    #[test]
    fn v2_freeze_waits_for_the_events_file() {
        let f = fake_v2();
        let t = f.target();
        let d = f.group.dir(0).unwrap();
        fs::write(d.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        crate::control::freeze(&t, true, std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(fs::read_to_string(d.join("cgroup.freeze")).unwrap(), "1");
        // The kernel never reports "frozen 0": thaw times out with a message.
        let e =
            crate::control::freeze(&t, false, std::time::Duration::from_millis(20)).unwrap_err();
        assert_eq!(e.to_string(), "thawing 'g': still not done after 0.02 s");
    }
}
