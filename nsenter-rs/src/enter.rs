//! nsenter-rs: enter the namespaces of a target process or of namespace files, then run
//! the command. The steps, in util-linux's order:
//!
//! 1. Take hold of the target (pidfd), decide which namespaces come from where (`-a`
//!    takes every type of the target, except its user namespace when it is ours, since
//!    re-entering one's own user namespace is refused by the kernel).
//! 2. Open the root and working directory to take (`-r`, `-w`) while they are still
//!    reachable by their /proc paths.
//! 3. Enter: all from the target → one `setns(pidfd, flags)`; otherwise one setns per
//!    namespace file, in two passes (all but user, then user and the rest) so that both
//!    gaining and dropping privileges work.
//! 4. Change root and working directory; fork when a PID namespace was entered (setns
//!    only moves future children); set uid/gid; exec.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use common::cli::Outcome;
use common::supervise::Blocked;
use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid};

use crate::attach::{self, Confinement, Terminal};
use crate::cli::{NsenterConfig, Source, TargetSpec};
use crate::error::{Error, quote};
use crate::exec::{self, Ids};
use crate::ns::{NsSet, NsType};
use crate::pidfile;
use crate::sys;
use crate::target::{self, Target};

/// Run `cfg` (mode Enter). On success this process becomes the command, so `Ok` carries
/// the status of a process that waited for it instead (after a fork into a PID namespace).
pub fn run(cfg: &NsenterConfig) -> Result<Outcome, Error> {
    let target = match &cfg.target {
        Some(TargetSpec::Pid(pid)) => Some(Target::open(Pid::from_raw(*pid))?),
        Some(TargetSpec::Pidfile(path)) => Some(Target::open(pidfile::read(path)?)?),
        None => None,
    };
    if cfg.all && target.is_none() {
        return Err(Error::Usage("no target PID given for --all".to_owned()));
    }
    let (plan, implicit) = plan(cfg, target.as_ref());
    // --container: the init's confinement (its terminal comes once inside).
    let confinement = match (&target, cfg.container) {
        (Some(t), true) => Some(Confinement::read(t)?),
        (None, true) => {
            return Err(Error::Usage(
                "no target PID given for --container".to_owned(),
            ));
        }
        _ => None,
    };
    // -e: the target's environment, read now, while its /proc entry is reachable.
    let env = match (&target, cfg.env_from_target, &confinement) {
        (Some(t), true, _) => target_env(t)?,
        (None, true, _) => return Err(Error::NoSource("--env".to_owned())),
        (_, false, Some(conf)) => conf.environment(),
        _ => common::exec::Env::Inherit,
    };
    if let Some(conf) = &confinement {
        conf.join_cgroups()?;
    }

    let root_fd = open_dir_source(cfg.root.as_ref(), target.as_ref(), "root")?;
    let mut wd_fd = open_dir_source(cfg.wd.as_ref(), target.as_ref(), "cwd")?;
    // The /proc/PID/root and cwd just opened were the target's if it still lives.
    if (cfg.root == Some(Source::Target) || cfg.wd == Some(Source::Target))
        && let Some(t) = &target
    {
        t.check_alive()?;
    }

    let entering_user = plan.iter().any(|(t, _)| *t == NsType::User);
    let touch_creds = entering_user && !cfg.preserve_credentials;
    // Leave no supplementary group of ours behind in the user namespace; complain only if
    // this and the second attempt after entering both fail (util-linux).
    let groups_cleared_early = touch_creds && sys::clear_groups().is_ok();

    enter(&plan, target.as_ref(), implicit)?;

    if let Some(root) = root_fd {
        // Remember where we are, to come back to it under the new root.
        if wd_fd.is_none() && cfg.wdns.is_none() {
            wd_fd = Some(
                sys::open_dir(Path::new("."))
                    .map_err(Error::setup("cannot open the current working directory"))?,
            );
        }
        sys::fchdir(root.as_fd(), "root").map_err(Error::setup("cannot change to the new root"))?;
        sys::chroot(Path::new(".")).map_err(Error::setup("cannot change root directory"))?;
        sys::chdir(Path::new("/")).map_err(Error::setup("cannot change directory to '/'"))?;
    }
    if let Some(dir) = &cfg.wdns {
        wd_fd = Some(sys::open_dir(dir).map_err(Error::setup(format!(
            "cannot change directory to {}",
            quote(dir)
        )))?);
    }
    if let Some(wd) = wd_fd {
        sys::fchdir(wd.as_fd(), "cwd")
            .map_err(Error::setup("cannot change to the working directory"))?;
    }

    // The command's own terminal, from the container's /dev/pts (so that it has a name
    // there, as lxc-attach's has).
    let attach = match confinement {
        Some(conf) => Some((conf, Terminal::for_caller()?)),
        None => None,
    };
    // A PID namespace is entered by the children only; --container always forks, to
    // relay the command's own terminal or to start it in a session of its own.
    let entering_pid = plan.iter().any(|(t, _)| *t == NsType::Pid);
    if (entering_pid || attach.is_some()) && !cfg.no_fork {
        let blocked = Blocked::block().map_err(Error::process("cannot block signals"))?;
        match sys::fork().map_err(Error::process("cannot fork"))? {
            ForkResult::Parent { child } => {
                // Only the command holds the terminal's slave end: when it and its
                // children are gone, the master reads end of file.
                let attach = attach.map(|(c, t)| (c, t.parent_side()));
                let ended = match &attach {
                    Some((_, Terminal::Pty { master, .. })) => {
                        attach::relay(master, child, &blocked)
                    }
                    _ => blocked.wait_forwarding(child),
                };
                return Ok(ended.into());
            }
            ForkResult::Child => blocked
                .restore()
                .map_err(Error::process("cannot restore the signal mask"))?,
        }
    }

    if let Some((_, term)) = &attach {
        term.take()?;
    }
    Ids {
        uid: cfg.uid.or(touch_creds.then_some(0)),
        gid: cfg.gid.or(touch_creds.then_some(0)),
        groups_must_clear: touch_creds && !groups_cleared_early,
    }
    .apply()?;
    if let Some((conf, _)) = &attach {
        conf.apply()?;
        // Nothing the caller had open reaches the container.
        sys::cloexec_from_3().map_err(Error::setup("cannot close inherited descriptors"))?;
    }
    Err(exec::exec(&cfg.command, &env))
}

/// The environment of the target (/proc/PID/environ), checked to be its own (the pidfd
/// still names a live process after the read).
fn target_env(t: &Target) -> Result<common::exec::Env, Error> {
    use std::os::unix::ffi::OsStrExt;
    let path = t.proc_path("environ");
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::setup(format!("cannot read {}", quote(&path)))(Errno::from_raw(
            e.raw_os_error().unwrap_or(libc::EIO),
        ))
    })?;
    t.check_alive()?;
    Ok(common::exec::Env::Exactly(
        bytes
            .split(|&b| b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| std::ffi::OsStr::from_bytes(e).to_owned())
            .collect(),
    ))
}

/// Which namespaces to enter and from where, in [`NsType::ALL`] order; and the types
/// only `-a` asked for (skipped, not refused, when the kernel lacks them).
fn plan(cfg: &NsenterConfig, target: Option<&Target>) -> (Vec<(NsType, Source)>, NsSet) {
    let mut implicit = NsSet::EMPTY;
    let mut plan = Vec::new();
    for t in NsType::ALL {
        if let Some((_, src)) = cfg.namespaces.iter().find(|(n, _)| *n == t) {
            plan.push((t, src.clone()));
        } else if cfg.all
            && let Some(target) = target
        {
            // setns(2) refuses one's own user namespace (it would regain capabilities).
            if t == NsType::User && target.shares(NsType::User) {
                continue;
            }
            implicit.insert(t);
            plan.push((t, Source::Target));
        }
    }
    (plan, implicit)
}

/// Open the root or working directory to take: the target's (`/proc/PID/root`, `cwd`)
/// or a given directory.
fn open_dir_source(
    src: Option<&Source>,
    target: Option<&Target>,
    name: &str,
) -> Result<Option<OwnedFd>, Error> {
    let path = match src {
        None => return Ok(None),
        Some(Source::Path(p)) => p.clone(),
        Some(Source::Target) => target
            .ok_or_else(|| {
                Error::NoSource(if name == "root" { "--root" } else { "--wd" }.to_owned())
            })?
            .proc_path(name),
    };
    sys::open_dir(&path)
        .map(Some)
        .map_err(|source| match (src, target) {
            (Some(Source::Target), Some(t)) if t.check_alive().is_err() => Error::Target {
                pid: t.pid().as_raw(),
                source: Errno::ESRCH,
            },
            _ => Error::setup(format!("cannot open {}", quote(&path)))(source),
        })
}

/// A namespace file named by an `ip netns` name: `--net=ctn01` is /run/netns/ctn01 when
/// no file `ctn01` exists here.
fn resolve_file(t: NsType, path: &Path) -> PathBuf {
    if t == NsType::Net {
        common::nsfs::netns_path(path.as_os_str(), true)
    } else {
        path.to_owned()
    }
}

/// One namespace opened for the one-by-one path.
struct Opened {
    ns: NsType,
    fd: OwnedFd,
    /// For the trace: `/proc/42/ns/net`.
    shown: String,
    /// For errors: `net namespace of pid 42`.
    what: String,
}

/// Enter the planned namespaces.
fn enter(plan: &[(NsType, Source)], target: Option<&Target>, implicit: NsSet) -> Result<(), Error> {
    if plan.is_empty() {
        return Ok(());
    }
    let set: NsSet = plan.iter().map(|(t, _)| *t).collect();
    if let Some(t) = target
        && let Some(pidfd) = t.pidfd()
        && plan.iter().all(|(_, s)| *s == Source::Target)
    {
        match sys::setns(pidfd, set, &format!("pidfd:{}", t.pid())) {
            Ok(()) => return Ok(()),
            // No pidfd support in setns (before 5.8), a type this kernel lacks, or one
            // that cannot be entered: the one-by-one path says which.
            Err(Errno::EINVAL) => {}
            Err(source) => {
                return Err(Error::Enter {
                    what: format!("namespaces of pid {}", t.pid()),
                    source,
                });
            }
        }
    }

    let mut opened = Vec::with_capacity(plan.len());
    for (t, src) in plan {
        if let Some(o) = open_ns(*t, src, target, implicit)? {
            opened.push(o);
        }
    }
    if let Some(t) = target {
        t.check_alive()?;
    }
    // Pass 1: all but the user namespace; failures wait for pass 2.
    let mut pending: Vec<&Opened> = Vec::new();
    for o in &opened {
        if o.ns == NsType::User || sys::setns(o.fd.as_fd(), one(o.ns), &o.shown).is_err() {
            pending.push(o);
        }
    }
    // Pass 2: the user namespace first (it may grant what the others needed), then the
    // rest; now failures count.
    pending.sort_by_key(|o| o.ns != NsType::User);
    for o in pending {
        sys::setns(o.fd.as_fd(), one(o.ns), &o.shown).map_err(|source| Error::Enter {
            what: o.what.clone(),
            source,
        })?;
    }
    Ok(())
}

fn one(t: NsType) -> NsSet {
    std::iter::once(t).collect()
}

/// Open one namespace: the target's /proc/PID/ns file, or a given file checked to be an
/// nsfs file of the right type. `None` for a type only `-a` asked for that the kernel lacks.
fn open_ns(
    t: NsType,
    src: &Source,
    target: Option<&Target>,
    implicit: NsSet,
) -> Result<Option<Opened>, Error> {
    match src {
        Source::Target => {
            let target = target.ok_or_else(|| Error::NoSource(format!("the {t} namespace")))?;
            let path = target.ns_path(t);
            match sys::open_read(&path) {
                Ok(fd) => Ok(Some(Opened {
                    ns: t,
                    fd,
                    shown: path.to_string_lossy().into_owned(),
                    what: format!("{t} namespace of pid {}", target.pid()),
                })),
                Err(source) => {
                    target.check_alive()?;
                    if source == Errno::ENOENT && target::kernel_lacks(t) {
                        if implicit.contains(t) {
                            return Ok(None);
                        }
                        return Err(Error::KernelLacks(t));
                    }
                    Err(Error::OpenNs {
                        ns: t,
                        from: format!("of pid {}", target.pid()),
                        source,
                    })
                }
            }
        }
        Source::Path(given) => {
            let path = resolve_file(t, given);
            let fd = sys::open_read(&path).map_err(|source| Error::OpenNs {
                ns: t,
                from: quote(&path),
                source,
            })?;
            let shown = path.to_string_lossy().into_owned();
            match sys::ns_get_type(fd.as_fd(), &shown) {
                Ok(flag) if flag == t.flag() => {}
                Ok(flag) => {
                    return Err(match NsType::from_flag(flag) {
                        Some(found) => Error::WrongType {
                            path,
                            expected: t,
                            found,
                        },
                        None => Error::NotNamespace(path),
                    });
                }
                Err(_) => return Err(Error::NotNamespace(path)),
            }
            Ok(Some(Opened {
                ns: t,
                fd,
                what: format!("{t} namespace {}", quote(&path)),
                shown,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names() {
        // A bare name that does not exist here is looked up in /run/netns (only for net).
        let p = resolve_file(NsType::Net, Path::new("surely-not-here-xyz"));
        assert_eq!(
            p,
            PathBuf::from("surely-not-here-xyz"),
            "no such netns either"
        );
        assert_eq!(
            resolve_file(NsType::Net, Path::new("/abs/x")),
            PathBuf::from("/abs/x")
        );
        assert_eq!(
            resolve_file(NsType::Uts, Path::new("x")),
            PathBuf::from("x")
        );
    }

    #[test]
    fn plan_takes_files_over_the_target_and_skips_our_user_ns() {
        let me = Target::open(sys::getpid()).unwrap();
        let cfg = NsenterConfig {
            all: true,
            namespaces: vec![(NsType::Net, Source::Path("/run/netns/x".into()))],
            ..NsenterConfig::default()
        };
        let (plan, implicit) = plan(&cfg, Some(&me));
        assert!(!plan.iter().any(|(t, _)| *t == NsType::User));
        assert!(plan.contains(&(NsType::Net, Source::Path("/run/netns/x".into()))));
        assert!(plan.contains(&(NsType::Mnt, Source::Target)));
        assert!(!implicit.contains(NsType::Net) && implicit.contains(NsType::Uts));
        // Without -a only what was named.
        let cfg = NsenterConfig {
            namespaces: vec![(NsType::Uts, Source::Target)],
            ..NsenterConfig::default()
        };
        assert_eq!(plan_of(&cfg, &me), vec![(NsType::Uts, Source::Target)]);
    }

    fn plan_of(cfg: &NsenterConfig, t: &Target) -> Vec<(NsType, Source)> {
        plan(cfg, Some(t)).0
    }

    #[test]
    fn files_must_be_namespaces_of_the_right_type() {
        let e = open_ns(
            NsType::Net,
            &Source::Path("/proc/self/ns/uts".into()),
            None,
            NsSet::EMPTY,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "'/proc/self/ns/uts' is a uts namespace, not a net namespace"
        );
        let e = open_ns(
            NsType::Net,
            &Source::Path("/proc/self/status".into()),
            None,
            NsSet::EMPTY,
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "'/proc/self/status' is not a namespace file");
        let e = open_ns(NsType::Net, &Source::Target, None, NsSet::EMPTY)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "neither a file nor a target PID given for the net namespace"
        );
        assert!(
            open_ns(
                NsType::Net,
                &Source::Path("/proc/self/ns/net".into()),
                None,
                NsSet::EMPTY
            )
            .unwrap()
            .is_some()
        );
    }
}
