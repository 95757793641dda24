//! unshare-rs's command line: the clap definition and its conversion into
//! [`UnshareConfig`], util-linux's option order for `-r`, `-c` and `--map-user` included.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use common::cli::quote;
use nix::sys::signal::Signal;

use super::{Parsed, parse_clap};
use crate::error::Error;
use crate::idmap::{self, Range};
use crate::ns::{NsSet, NsType};
use crate::persist;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (util-linux 2.38 compatible)");

/// Propagation of the mounts in a new mount namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Propagation {
    /// Nothing propagates in or out (the default, recursive).
    #[default]
    Private,
    /// Mounts propagate both ways.
    Shared,
    /// Mounts propagate in from the parent namespace only.
    Slave,
    /// Leave as inherited.
    Unchanged,
}

/// `--setgroups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetGroups {
    /// setgroups(2) stays allowed in the user namespace.
    Allow,
    /// setgroups(2) is denied (needed for an unprivileged gid_map).
    Deny,
}

/// Run a program with some namespaces unshared from the parent
///
/// A drop-in for util-linux 2.38 unshare. With --fork, the namespaces are made by one
/// clone3(2) into the child, and the parent stays outside: it writes the ID maps, binds
/// the persisted namespace files and the pidfile before the command starts, passes
/// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 on, and exits with the command's
/// status (128+N for signal N). If anything fails before the command runs, nothing is
/// left: no namespace file stays mounted, no child keeps running.
#[derive(Debug, Parser)]
#[command(
    name = "unshare-rs",
    version = VERSION,
    override_usage = "unshare-rs [OPTION]... [COMMAND [ARG]...]\n       unshare-rs --release FILE",
    after_help = "Without COMMAND, runs \"$SHELL\" (default /bin/sh) as a login shell.\n\
--TYPE=FILE persists the new namespace by bind-mounting it on FILE (created if missing;\n\
/run/netns/NAME is usable by `ip netns exec NAME`); --release FILE unmounts it again.\n\n\
Exit status: 1 if unshare-rs itself fails, 126 if COMMAND is found but cannot be run,\n\
127 if COMMAND is not found, 128+N if it dies of signal N, else the status of COMMAND.\n\n\
Example: a container's namespaces, with a hostname and a pidfile (chroot-rs as PID 1:\n\
no --init, or its /proc would show a PID namespace of its own):\n  \
unshare-rs --fork --kill-child --pid --mount --uts --ipc --hostname ctn01 \\\n    \
--pidfile /run/ctn01.pid -- chroot-rs --pivot --api-fs /srv/ctn01 /bin/sh",
    disable_help_subcommand = true,
    infer_long_args = true,
    args_override_self = true
)]
pub struct UnshareCli {
    /// Unshare mounts namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    mount: Option<Vec<PathBuf>>,

    /// Unshare UTS namespace (hostname etc)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    uts: Option<Vec<PathBuf>>,

    /// Unshare System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    ipc: Option<Vec<PathBuf>>,

    /// Unshare network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    net: Option<Vec<PathBuf>>,

    /// Unshare pid namespace
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    pid: Option<Vec<PathBuf>>,

    /// Unshare user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    user: Option<Vec<PathBuf>>,

    /// Unshare cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    cgroup: Option<Vec<PathBuf>>,

    /// Unshare time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, action = ArgAction::Append)]
    time: Option<Vec<PathBuf>>,

    /// Fork before launching COMMAND
    #[arg(short = 'f', long)]
    fork: bool,

    /// Run a reaper as PID 1 and COMMAND as its child (implies --fork; needs --pid)
    #[arg(long)]
    init: bool,

    /// When dying, kill the forked child (implies --fork; default SIGKILL)
    #[arg(long, value_name = "SIGNAME", num_args = 0..=1, require_equals = true)]
    kill_child: Option<Option<String>>,

    /// Mount proc filesystem first (implies --mount)
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    mount_proc: Option<Option<PathBuf>>,

    /// Map current user to uid (implies --user)
    #[arg(long, value_name = "UID|NAME")]
    map_user: Option<String>,

    /// Map current group to gid (implies --user)
    #[arg(long, value_name = "GID|NAME")]
    map_group: Option<String>,

    /// Map current user to root (implies --user)
    #[arg(short = 'r', long)]
    map_root_user: bool,

    /// Map current user to itself (implies --user)
    #[arg(short = 'c', long)]
    map_current_user: bool,

    /// Map the first ranges of /etc/subuid and /etc/subgid from 0 (implies --user)
    #[arg(long)]
    map_auto: bool,

    /// Map COUNT users from OUTER to INNER (implies --user); also INNER:OUTER:COUNT
    #[arg(long, value_name = "OUTER,INNER,COUNT")]
    map_users: Vec<String>,

    /// Map COUNT groups from OUTER to INNER (implies --user); also INNER:OUTER:COUNT
    #[arg(long, value_name = "OUTER,INNER,COUNT")]
    map_groups: Vec<String>,

    /// Control the setgroups syscall in user namespaces
    #[arg(long, value_name = "allow|deny", value_enum)]
    setgroups: Option<SetGroups>,

    /// Modify mount propagation in mount namespace
    #[arg(long, value_name = "slave|shared|private|unchanged", value_enum)]
    propagation: Option<Propagation>,

    /// Retain capabilities granted in user namespaces
    #[arg(long)]
    keep_caps: bool,

    /// Forward SIGTERM and SIGINT to the child (implies --fork; unshare-rs forwards them,
    /// and SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, whenever it waits)
    #[arg(long)]
    forward_signals: bool,

    /// Run the command with an empty environment
    #[arg(long)]
    clear_env: bool,

    /// Run the command with only these variables of the environment (NAME,NAME…)
    #[arg(long, value_name = "LIST")]
    whitelist_env: Vec<String>,

    /// Run the command with root directory set to DIR
    #[arg(short = 'R', long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Change working directory to DIR
    #[arg(short = 'w', long, value_name = "DIR")]
    wd: Option<PathBuf>,

    /// Set uid in entered namespace
    #[arg(short = 'S', long, value_name = "UID")]
    setuid: Option<u32>,

    /// Set gid in entered namespace
    #[arg(short = 'G', long, value_name = "GID")]
    setgid: Option<u32>,

    /// Set clock monotonic offset (seconds) in time namespaces
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    monotonic: Option<i64>,

    /// Set clock boottime offset (seconds) in time namespaces
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    boottime: Option<i64>,

    /// Set the hostname in the new UTS namespace (implies --uts)
    #[arg(long, value_name = "NAME")]
    hostname: Option<OsString>,

    /// Mount DIR over itself in the new mount namespace, idmapped with the new user
    /// namespace's maps (files owned by 0 on disk belong to the mapped root inside;
    /// needs --user, --mount, --fork; repeatable)
    #[arg(long, value_name = "DIR")]
    idmap_mount: Vec<PathBuf>,

    /// Wait until FD can be read (a byte, or end of file) before running the command,
    /// once everything else is done: a caller sets up what must exist first (a network)
    #[arg(long, value_name = "FD")]
    block_fd: Option<i32>,

    /// Write the command's PID (as seen from here) to FILE once the namespaces exist
    /// (with --init: the command's, not the init's)
    #[arg(long, value_name = "FILE")]
    pidfile: Option<PathBuf>,

    /// Unmount a namespace persisted on FILE and exit
    #[arg(long, value_name = "FILE")]
    release: Vec<PathBuf>,

    /// Trace each system call on standard error (-vv: also the reads behind decisions)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// The command and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<OsString>,
}

/// Whose ID a single mapping maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSpec {
    /// The caller's own effective ID (`--map-current-user`).
    Current,
    /// A number or a name (`--map-user=student`, `-r` = `0`).
    Named(String),
}

/// What unshare-rs does, independent of how it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnshareConfig {
    /// The namespaces to create.
    pub namespaces: NsSet,
    /// `--TYPE=FILE`: where to persist which.
    pub persist: Vec<persist::Request>,
    /// `--fork` (also implied by `--kill-child` and `--init`).
    pub fork: bool,
    /// `--init`.
    pub init: bool,
    /// `--kill-child[=SIG]`.
    pub kill_child: Option<Signal>,
    /// `--mount-proc[=DIR]`.
    pub mount_proc: Option<PathBuf>,
    /// The inner UID the caller's effective UID maps to.
    pub map_user: Option<IdSpec>,
    /// The inner GID the caller's effective GID maps to.
    pub map_group: Option<IdSpec>,
    /// `--map-users` ranges.
    pub map_users: Vec<Range>,
    /// `--map-groups` ranges.
    pub map_groups: Vec<Range>,
    /// `--map-auto`.
    pub map_auto: bool,
    /// `--setgroups`.
    pub setgroups: Option<SetGroups>,
    /// `--propagation` (default private).
    pub propagation: Propagation,
    /// `--keep-caps`.
    pub keep_caps: bool,
    /// The command's environment (`--clear-env`, `--whitelist-env`).
    pub env: common::exec::Env,
    /// `-R`.
    pub root: Option<PathBuf>,
    /// `-w`.
    pub wd: Option<PathBuf>,
    /// `-S`.
    pub uid: Option<u32>,
    /// `-G`.
    pub gid: Option<u32>,
    /// `--monotonic`.
    pub monotonic: Option<i64>,
    /// `--boottime`.
    pub boottime: Option<i64>,
    /// `--hostname`.
    pub hostname: Option<OsString>,
    /// `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--idmap-mount DIR…`.
    pub idmap_mounts: Vec<PathBuf>,
    /// `--block-fd FD`.
    pub block_fd: Option<i32>,
    /// `--release FILE…`: release and exit.
    pub release: Vec<PathBuf>,
    /// The command; empty means a login shell.
    pub command: Vec<OsString>,
    /// Trace level (`-v` count).
    pub verbose: u8,
}

impl UnshareConfig {
    /// True when a user namespace gets ID maps.
    pub fn maps_ids(&self) -> bool {
        self.map_user.is_some()
            || self.map_group.is_some()
            || !self.map_users.is_empty()
            || !self.map_groups.is_empty()
            || self.map_auto
    }
}

/// The clap definition of unshare-rs, for `--help` and the man page.
pub fn unshare_command() -> clap::Command {
    UnshareCli::command()
}

/// Parse unshare-rs's arguments (without argv[0]).
pub fn parse_unshare(args: &[OsString]) -> Result<Parsed<UnshareConfig>, Error> {
    let mut argv = vec![OsString::from("unshare-rs")];
    argv.extend_from_slice(args);
    let Ok(matches) = unshare_command().try_get_matches_from(&argv) else {
        // Help, version and errors: the one-line forms.
        return match parse_clap::<UnshareCli>(unshare_command(), &argv)? {
            Parsed::Print(t) => Ok(Parsed::Print(t)),
            Parsed::Run(_) => unreachable!("clap refused these arguments a moment ago"),
        };
    };
    let order = MapOrder::of(&matches);
    let cli = UnshareCli::from_arg_matches(&matches)
        .map_err(|e| Error::Usage(common::cli::clap_message(&e)))?;
    unshare_config(cli, order).map(Parsed::Run)
}

/// Which of `-r`, `-c` and `--map-user`/`--map-group` came last: util-linux sets the
/// inner uid and gid option by option, so the last one wins (`-r -c` maps the current
/// user, `-c -r` root), for the uid and the gid separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MapOrder {
    user: Option<MapSource>,
    group: Option<MapSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapSource {
    Named,
    Root,
    Current,
}

impl MapOrder {
    fn of(m: &clap::ArgMatches) -> MapOrder {
        let last = |id: &str| {
            m.indices_of(id)
                .and_then(Iterator::max)
                .filter(|_| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        };
        let pick = |named: &str| {
            [
                (last(named), MapSource::Named),
                (last("map_root_user"), MapSource::Root),
                (last("map_current_user"), MapSource::Current),
            ]
            .into_iter()
            .filter_map(|(i, s)| i.map(|i| (i, s)))
            .max_by_key(|(i, _)| *i)
            .map(|(_, s)| s)
        };
        MapOrder {
            user: pick("map_user"),
            group: pick("map_group"),
        }
    }
}

fn unshare_config(cli: UnshareCli, order: MapOrder) -> Result<UnshareConfig, Error> {
    let mut namespaces = NsSet::EMPTY;
    let mut persist = Vec::new();
    for (t, v) in [
        (NsType::User, cli.user),
        (NsType::Cgroup, cli.cgroup),
        (NsType::Ipc, cli.ipc),
        (NsType::Uts, cli.uts),
        (NsType::Net, cli.net),
        (NsType::Pid, cli.pid),
        (NsType::Mnt, cli.mount),
        (NsType::Time, cli.time),
    ] {
        if let Some(mut files) = v {
            namespaces.insert(t);
            // One file per namespace: a second would silently replace the first.
            files.dedup();
            if let [first, second, ..] = files.as_slice() {
                return Err(Error::Usage(format!(
                    "two files for one {} namespace: {} and {}",
                    t.name(),
                    quote(first),
                    quote(second)
                )));
            }
            if let Some(path) = files.pop() {
                persist.push(persist::Request { ns: t, path });
            }
        }
    }
    let kill_child = match cli.kill_child {
        None => None,
        Some(None) => Some(Signal::SIGKILL),
        Some(Some(name)) => Some(common::supervise::parse_signal(&name).map_err(Error::Usage)?),
    };
    let mount_proc = cli
        .mount_proc
        .map(|d| d.unwrap_or_else(|| PathBuf::from("/proc")));
    if mount_proc.is_some() {
        namespaces.insert(NsType::Mnt);
    }
    if let Some(name) = &cli.hostname {
        // sethostname(2) takes 1 to HOST_NAME_MAX (64) bytes; say so before anything
        // is made.
        if name.is_empty() || name.len() > 64 {
            return Err(Error::Usage(format!(
                "invalid hostname {}: 1 to 64 bytes",
                quote(name)
            )));
        }
        namespaces.insert(NsType::Uts);
    }
    // The last of -r, -c, --map-user (--map-group) wins, as in util-linux.
    let spec = |source: Option<MapSource>, named: Option<String>| match source {
        Some(MapSource::Named) => named.map(IdSpec::Named),
        Some(MapSource::Root) => Some(IdSpec::Named("0".into())),
        Some(MapSource::Current) => Some(IdSpec::Current),
        None => None,
    };
    let map_user = spec(order.user, cli.map_user);
    let map_group = spec(order.group, cli.map_group);
    let ranges = |v: &[String]| {
        v.iter()
            .map(|s| idmap::parse_range(s).map_err(Error::Usage))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut cfg = UnshareConfig {
        namespaces,
        persist,
        fork: cli.fork || cli.init || kill_child.is_some() || cli.forward_signals,
        init: cli.init,
        kill_child,
        mount_proc,
        map_user,
        map_group,
        map_users: ranges(&cli.map_users)?,
        map_groups: ranges(&cli.map_groups)?,
        map_auto: cli.map_auto,
        setgroups: cli.setgroups,
        propagation: cli.propagation.unwrap_or_default(),
        keep_caps: cli.keep_caps,
        env: if cli.clear_env || !cli.whitelist_env.is_empty() {
            let keep: Vec<OsString> = cli
                .whitelist_env
                .iter()
                .flat_map(|l| l.split(','))
                .filter(|n| !n.is_empty())
                .map(OsString::from)
                .collect();
            common::exec::Env::keeping(&keep)
        } else {
            common::exec::Env::Inherit
        },
        root: cli.root,
        wd: cli.wd,
        uid: cli.setuid,
        gid: cli.setgid,
        monotonic: cli.monotonic,
        boottime: cli.boottime,
        hostname: cli.hostname,
        pidfile: cli.pidfile,
        idmap_mounts: cli.idmap_mount,
        block_fd: cli.block_fd,
        release: cli.release,
        command: cli.command,
        verbose: cli.verbose,
    };
    if cfg.maps_ids() {
        cfg.namespaces.insert(NsType::User);
    }
    check_unshare(&cfg)?;
    Ok(cfg)
}

/// Combinations that cannot work, refused before anything happens.
fn check_unshare(cfg: &UnshareConfig) -> Result<(), Error> {
    let usage = |s: &str| Err(Error::Usage(s.to_owned()));
    if (cfg.monotonic.is_some() || cfg.boottime.is_some()) && !cfg.namespaces.contains(NsType::Time)
    {
        return usage(
            "options --monotonic and --boottime require unsharing of a time namespace (-T)",
        );
    }
    if cfg.init && !cfg.namespaces.contains(NsType::Pid) {
        return usage("option --init needs a new PID namespace (--pid)");
    }
    if !cfg.fork && cfg.persist.iter().any(|r| r.ns == NsType::Pid) {
        return usage(
            "persisting a PID namespace (--pid=FILE) needs --fork: it has no process before",
        );
    }
    let idmap_ready = cfg.fork
        && cfg.namespaces.contains(NsType::User)
        && cfg.namespaces.contains(NsType::Mnt)
        && cfg.maps_ids();
    if !cfg.idmap_mounts.is_empty() && !idmap_ready {
        return usage("option --idmap-mount needs --fork, --user with ID maps, and --mount");
    }
    if cfg.block_fd.is_some_and(|fd| fd < 0) {
        return usage("option --block-fd needs a file descriptor number");
    }
    if cfg.setgroups == Some(SetGroups::Allow)
        && cfg.map_group.is_some()
        && cfg.map_groups.is_empty()
        && !cfg.map_auto
    {
        return usage("options --setgroups=allow and --map-group are mutually exclusive");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn unshare(v: &[&str]) -> UnshareConfig {
        match parse_unshare(&os(v)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    fn unshare_usage(v: &[&str]) -> String {
        match parse_unshare(&os(v)) {
            Err(Error::Usage(m)) => m,
            other => panic!("{v:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn unshare_flags_and_files() {
        let c = unshare(&[
            "--fork",
            "--pid",
            "--mount-proc",
            "--net=/run/netns/x",
            "true",
        ]);
        assert!(c.fork);
        let want: NsSet = [NsType::Pid, NsType::Mnt, NsType::Net]
            .into_iter()
            .collect();
        assert_eq!(c.namespaces, want);
        assert_eq!(
            c.persist,
            vec![persist::Request {
                ns: NsType::Net,
                path: "/run/netns/x".into()
            }]
        );
        assert_eq!(c.mount_proc, Some("/proc".into()));
        assert_eq!(c.command, os(&["true"]));
        let c = unshare(&["-fpmuinUCT", "--mount-proc=/x/proc"]);
        assert_eq!(c.namespaces.iter().count(), 8);
        assert_eq!(c.mount_proc, Some("/x/proc".into()));
        assert_eq!(c.propagation, Propagation::Private);
    }

    #[test]
    fn one_file_per_namespace_and_a_real_hostname() {
        let m = unshare_usage(&["--uts=/a", "--uts=/b", "true"]);
        assert!(m.contains("two files for one uts namespace"), "{m}");
        // the same file twice, or a bare flag beside a file, is one request
        let c = unshare(&["--uts=/a", "--uts=/a", "--uts", "true"]);
        assert_eq!(
            c.persist,
            vec![persist::Request {
                ns: NsType::Uts,
                path: "/a".into()
            }]
        );
        let c = unshare(&["-u", "-u", "true"]);
        assert!(c.namespaces.contains(NsType::Uts) && c.persist.is_empty());
        for bad in ["", &"x".repeat(65)] {
            let m = unshare_usage(&["--hostname", bad, "true"]);
            assert!(m.contains("invalid hostname"), "{m}");
        }
        let c = unshare(&["--hostname", &"x".repeat(64), "true"]);
        assert!(c.namespaces.contains(NsType::Uts));
    }

    #[test]
    fn unshare_implications() {
        let c = unshare(&["--kill-child", "--pid", "true"]);
        assert!(c.fork);
        assert_eq!(c.kill_child, Some(Signal::SIGKILL));
        let c = unshare(&["--kill-child=TERM", "true"]);
        assert_eq!(c.kill_child, Some(Signal::SIGTERM));
        let c = unshare(&["--init", "--pid", "true"]);
        assert!(c.fork && c.init);
        let c = unshare(&["--hostname", "box", "true"]);
        assert!(c.namespaces.contains(NsType::Uts));
        let c = unshare(&["-r", "true"]);
        assert!(c.namespaces.contains(NsType::User));
        assert_eq!(c.map_user, Some(IdSpec::Named("0".into())));
        assert_eq!(c.map_group, Some(IdSpec::Named("0".into())));
        let c = unshare(&["-c"]);
        assert_eq!(c.map_user, Some(IdSpec::Current));
        // The last of -r, -c and --map-user wins, for uid and gid separately.
        let c = unshare(&["--map-user=student", "-r"]);
        assert_eq!(c.map_user, Some(IdSpec::Named("0".into())));
        assert_eq!(c.map_group, Some(IdSpec::Named("0".into())));
        let c = unshare(&["-r", "--map-user=student"]);
        assert_eq!(c.map_user, Some(IdSpec::Named("student".into())));
        assert_eq!(c.map_group, Some(IdSpec::Named("0".into())));
        let c = unshare(&["-r", "-c", "true"]);
        assert_eq!(c.map_user, Some(IdSpec::Current));
        assert_eq!(c.map_group, Some(IdSpec::Current));
        let c = unshare(&["-c", "-r", "true"]);
        assert_eq!(c.map_user, Some(IdSpec::Named("0".into())));
        let c = unshare(&["-c", "--map-group=7", "true"]);
        assert_eq!(c.map_user, Some(IdSpec::Current));
        assert_eq!(c.map_group, Some(IdSpec::Named("7".into())));
        let c = unshare(&[
            "--map-users=100000,0,65536",
            "--map-groups",
            "0:100000:65536",
        ]);
        assert!(c.namespaces.contains(NsType::User));
        assert_eq!(
            c.map_users,
            vec![idmap::parse_range("100000,0,65536").unwrap()]
        );
        assert_eq!(c.map_groups, c.map_users);
        let c = unshare(&["-T", "--monotonic", "-5", "--boottime=100", "true"]);
        assert_eq!(c.monotonic, Some(-5));
        assert_eq!(c.boottime, Some(100));
        let c = unshare(&["--propagation", "slave", "-m"]);
        assert_eq!(c.propagation, Propagation::Slave);
        let c = unshare(&["--setgroups=deny", "-U"]);
        assert_eq!(c.setgroups, Some(SetGroups::Deny));
    }

    #[test]
    fn unshare_usage_errors() {
        assert_eq!(
            unshare_usage(&["--kill-child=NOPE"]),
            "unknown signal: NOPE"
        );
        assert_eq!(
            unshare_usage(&["--map-users=1,2"]),
            "invalid mapping '1,2' (use OUTER,INNER,COUNT or INNER:OUTER:COUNT)"
        );
        assert_eq!(
            unshare_usage(&["--monotonic=5"]),
            "options --monotonic and --boottime require unsharing of a time namespace (-T)"
        );
        assert_eq!(
            unshare_usage(&["--init", "true"]),
            "option --init needs a new PID namespace (--pid)"
        );
        assert!(unshare_usage(&["--pid=/x", "true"]).starts_with("persisting a PID namespace"));
        assert_eq!(
            unshare_usage(&["--setgroups=allow", "--map-group=0"]),
            "options --setgroups=allow and --map-group are mutually exclusive"
        );
        assert!(unshare_usage(&["--setgroups=maybe"]).contains("'maybe'"));
        assert!(unshare_usage(&["--propagation=x"]).contains("'x'"));
        assert_eq!(unshare_usage(&["--bogus"]), "unrecognized option '--bogus'");
        // An ambiguous abbreviation.
        assert!(unshare_usage(&["--map"]).contains("--map"));
    }
}
