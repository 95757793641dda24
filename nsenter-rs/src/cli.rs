//! The two command lines. clap defines them (help, version, man pages) with getopt's
//! rules: options stop at the command (`nsenter-rs -t 42 -a ls -l`), `--` ends them, long
//! options may be abbreviated while unambiguous, and optional values attach with `=`
//! (`--net=/run/netns/x`; `--net /x` means `--net` and the command `/x`, as in
//! util-linux). Usage errors exit 1, as util-linux's. The result is a plain [`NsenterConfig`] or
//! [`UnshareConfig`] that the library takes; unit tests build those directly.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use nix::sys::signal::Signal;

use crate::error::Error;
use crate::idmap::{self, Range};
use crate::ns::{NsSet, NsType};
use crate::persist;

pub use common::cli::Parsed;

// ---------------------------------------------------------------- nsenter-rs

/// Run a program in the namespaces of another process, or of namespace files
///
/// A drop-in for util-linux 2.38 nsenter. The target is held by a pidfd from the moment
/// it is named, and all of its namespaces are entered with one setns(2) call, so a PID
/// that is reused meanwhile is never entered by mistake. Entering a PID namespace forks:
/// nsenter-rs waits, passes signals on and exits with the command's status.
///
/// -a enters namespaces only; a container that chroot()ed into its root keeps the host's
/// / in its mount namespace, so -a alone runs the host's binaries. --container (= -a -r -w)
/// also takes the target's root and working directory: the command runs inside.
#[derive(Debug, Parser)]
#[command(
    name = "nsenter-rs",
    version,
    override_usage = "nsenter-rs [OPTION]... [COMMAND [ARG]...]\n       \
        nsenter-rs --list PID [--json]\n       nsenter-rs --release FILE",
    after_help = "Without COMMAND, runs \"$SHELL\" (default /bin/sh) as a login shell.\n\
A FILE without a slash that does not exist names /run/netns/FILE (an `ip netns` name).\n\n\
Exit status: 1 if nsenter-rs itself fails, 126 if COMMAND is found but cannot be run,\n\
127 if COMMAND is not found, 128+N if it dies of signal N, else the status of COMMAND.\n\n\
Example: a shell inside a running container, its root, cwd and namespaces:\n  \
nsenter-rs --container -t \"$(cat /run/ctn01.pid)\" /bin/sh",
    disable_help_subcommand = true,
    infer_long_args = true,
    args_override_self = true
)]
pub struct NsenterCli {
    /// Target process to get namespaces from
    #[arg(short = 't', long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    target: Option<i32>,

    /// Read the target's PID from FILE
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    pidfile: Option<PathBuf>,

    /// Enter all namespaces of the target (its user namespace only when not ours)
    #[arg(short = 'a', long)]
    all: bool,

    /// Enter everything of the target: all namespaces, root and working directory
    #[arg(long)]
    container: bool,

    /// Enter mount namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    mount: Option<Option<PathBuf>>,

    /// Enter UTS namespace (hostname etc)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    uts: Option<Option<PathBuf>>,

    /// Enter System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    ipc: Option<Option<PathBuf>>,

    /// Enter network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    net: Option<Option<PathBuf>>,

    /// Enter pid namespace
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pid: Option<Option<PathBuf>>,

    /// Enter cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    cgroup: Option<Option<PathBuf>>,

    /// Enter user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    user: Option<Option<PathBuf>>,

    /// Enter time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    time: Option<Option<PathBuf>>,

    /// Set uid in entered namespace
    #[arg(short = 'S', long, value_name = "UID")]
    setuid: Option<u32>,

    /// Set gid in entered namespace
    #[arg(short = 'G', long, value_name = "GID")]
    setgid: Option<u32>,

    /// Do not touch uids or gids
    #[arg(long)]
    preserve_credentials: bool,

    /// Take the environment of the target process
    #[arg(short = 'e', long)]
    env: bool,

    /// Set the root directory (the target's, or DIR)
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true)]
    root: Option<Option<PathBuf>>,

    /// Set the working directory (the target's, or DIR)
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true)]
    wd: Option<Option<PathBuf>>,

    /// Set the working directory to DIR as seen in the entered root
    #[arg(short = 'W', long, value_name = "DIR", conflicts_with = "wd")]
    wdns: Option<PathBuf>,

    /// Do not fork before exec'ing COMMAND
    #[arg(short = 'F', long)]
    no_fork: bool,

    /// List the namespaces of PID (type, inode, path) and exit
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    list: Option<i32>,

    /// With --list: one JSON object per line
    #[arg(long, requires = "list")]
    json: bool,

    /// Unmount a namespace persisted on FILE (by unshare-rs --TYPE=FILE) and exit
    #[arg(long, value_name = "FILE")]
    release: Vec<PathBuf>,

    /// Trace each system call on standard error (-vv: also the reads behind decisions)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// The command and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<OsString>,
}

/// Where a namespace, root or working directory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The target process (`/proc/PID/...` through its pidfd).
    Target,
    /// A file (`--net=/run/netns/x`) or directory (`--root=/srv/x`).
    Path(PathBuf),
}

/// How the target is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// `-t PID`.
    Pid(i32),
    /// `--pidfile FILE`.
    Pidfile(PathBuf),
}

/// What nsenter-rs is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NsenterMode {
    /// Enter namespaces and run the command.
    #[default]
    Enter,
    /// `--list PID [--json]`.
    List {
        /// The process.
        pid: i32,
        /// JSON lines instead of a table.
        json: bool,
    },
    /// `--release FILE…`.
    Release(Vec<PathBuf>),
}

/// What nsenter-rs does, independent of how it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsenterConfig {
    /// Enter, list or release.
    pub mode: NsenterMode,
    /// `-t` or `--pidfile`.
    pub target: Option<TargetSpec>,
    /// `-a` (also set by `--container`).
    pub all: bool,
    /// Namespaces named one by one, in the order of [`NsType::ALL`].
    pub namespaces: Vec<(NsType, Source)>,
    /// `-r`.
    pub root: Option<Source>,
    /// `-w`.
    pub wd: Option<Source>,
    /// `-W`.
    pub wdns: Option<PathBuf>,
    /// `-S`.
    pub uid: Option<u32>,
    /// `-G`.
    pub gid: Option<u32>,
    /// `--preserve-credentials`.
    pub preserve_credentials: bool,
    /// `-e`: the command gets the target's environment (/proc/PID/environ).
    pub env_from_target: bool,
    /// `-F`.
    pub no_fork: bool,
    /// The command; empty means a login shell.
    pub command: Vec<OsString>,
    /// Trace level (`-v` count).
    pub verbose: u8,
}

/// The clap definition of nsenter-rs, for `--help` and the man page.
pub fn nsenter_command() -> clap::Command {
    NsenterCli::command()
}

/// util-linux's getopt takes `-n/path` as `--net=/path`; clap does not. Before the
/// command starts, rewrite a short option with an optional value followed by something
/// that looks like a path (contains `/` or starts with `.`) into `-n=/path`. Clusters of
/// flags (`-mnu`) keep their usual meaning.
fn attach_short_values(cmd: &clap::Command, args: &[OsString]) -> Vec<OsString> {
    // The common case (no `-Xsomething/…` word at all) costs no look at the options.
    let maybe = args.iter().any(|a| {
        let a = a.as_bytes();
        a.len() > 2 && a[0] == b'-' && a[1] != b'-' && (a[2..].contains(&b'/') || a[2] == b'.')
    });
    if !maybe {
        return args.to_vec();
    }
    let opts = common::cli::options(cmd);
    let short = |c: u8| opts.iter().find(|o| o.short == Some(char::from(c)));
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" || !a.starts_with(b"-") || a == b"-" {
            out.extend_from_slice(&args[i..]);
            break;
        }
        let mut takes_next = false;
        if let Some(long) = a.strip_prefix(b"--") {
            out.push(args[i].clone());
            let name = String::from_utf8_lossy(long);
            takes_next = !name.contains('=')
                && common::cli::find_long(&opts, &name).is_ok_and(|o| o.required_value);
        } else {
            let letter = a[1];
            let rest = &a[2..];
            let opt = short(letter);
            if opt.is_some_and(|o| o.optional_value)
                && !rest.is_empty()
                && rest[0] != b'='
                && (rest.contains(&b'/') || rest[0] == b'.')
            {
                let mut v = vec![b'-', letter, b'='];
                v.extend_from_slice(rest);
                out.push(OsString::from(std::ffi::OsStr::from_bytes(&v)));
            } else {
                out.push(args[i].clone());
                // A cluster whose last letter needs a value takes the next word; a value
                // option in the middle takes the rest of the word.
                for (k, &c) in a[1..].iter().enumerate() {
                    if short(c).is_some_and(|o| o.required_value) {
                        takes_next = k + 2 == a.len();
                        break;
                    }
                }
            }
        }
        if takes_next {
            i += 1;
            if let Some(v) = args.get(i) {
                out.push(v.clone());
            }
        }
        i += 1;
    }
    out
}

/// Parse nsenter-rs's arguments (without argv[0]).
pub fn parse_nsenter(args: &[OsString]) -> Result<Parsed<NsenterConfig>, Error> {
    let cmd = nsenter_command();
    let mut argv = vec![OsString::from("nsenter-rs")];
    argv.extend(attach_short_values(&cmd, args));
    let cli = match parse_clap::<NsenterCli>(cmd, &argv)? {
        Parsed::Run(c) => c,
        Parsed::Print(t) => return Ok(Parsed::Print(t)),
    };
    nsenter_config(cli).map(Parsed::Run)
}

fn nsenter_config(cli: NsenterCli) -> Result<NsenterConfig, Error> {
    let target = match (cli.target, cli.pidfile) {
        (Some(pid), _) => Some(TargetSpec::Pid(pid)),
        (None, Some(f)) => Some(TargetSpec::Pidfile(f)),
        (None, None) => None,
    };
    let to_source = |v: Option<PathBuf>| v.map_or(Source::Target, Source::Path);
    let mut namespaces = Vec::new();
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
        if let Some(v) = v {
            namespaces.push((t, to_source(v)));
        }
    }
    let mut root = cli.root.map(to_source);
    let mut wd = cli.wd.map(to_source);
    if cli.container {
        root.get_or_insert(Source::Target);
        if cli.wdns.is_none() {
            wd.get_or_insert(Source::Target);
        }
    }
    let mode = if let Some(pid) = cli.list {
        NsenterMode::List {
            pid,
            json: cli.json,
        }
    } else if !cli.release.is_empty() {
        NsenterMode::Release(cli.release)
    } else {
        NsenterMode::Enter
    };
    Ok(NsenterConfig {
        mode,
        target,
        all: cli.all || cli.container,
        namespaces,
        root,
        wd,
        wdns: cli.wdns,
        uid: cli.setuid,
        gid: cli.setgid,
        preserve_credentials: cli.preserve_credentials,
        env_from_target: cli.env,
        no_fork: cli.no_fork,
        command: cli.command,
        verbose: cli.verbose,
    })
}

// ---------------------------------------------------------------- unshare-rs

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
    version,
    override_usage = "unshare-rs [OPTION]... [COMMAND [ARG]...]\n       unshare-rs --release FILE",
    after_help = "Without COMMAND, runs \"$SHELL\" (default /bin/sh) as a login shell.\n\
--TYPE=FILE persists the new namespace by bind-mounting it on FILE (created if missing;\n\
/run/netns/NAME is usable by `ip netns exec NAME`); --release FILE unmounts it again.\n\n\
Exit status: 1 if unshare-rs itself fails, 126 if COMMAND is found but cannot be run,\n\
127 if COMMAND is not found, 128+N if it dies of signal N, else the status of COMMAND.\n\n\
Example: a container's namespaces, with an init, a hostname and a pidfile:\n  \
unshare-rs --fork --pid --mount --uts --ipc --init --hostname ctn01 \\\n    \
--pidfile /run/ctn01.pid -- chroot-rs --pivot --api-fs /srv/ctn01 /bin/sh",
    disable_help_subcommand = true,
    infer_long_args = true,
    args_override_self = true
)]
pub struct UnshareCli {
    /// Unshare mounts namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    mount: Option<Option<PathBuf>>,

    /// Unshare UTS namespace (hostname etc)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    uts: Option<Option<PathBuf>>,

    /// Unshare System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    ipc: Option<Option<PathBuf>>,

    /// Unshare network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    net: Option<Option<PathBuf>>,

    /// Unshare pid namespace
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pid: Option<Option<PathBuf>>,

    /// Unshare user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    user: Option<Option<PathBuf>>,

    /// Unshare cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    cgroup: Option<Option<PathBuf>>,

    /// Unshare time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    time: Option<Option<PathBuf>>,

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
        if let Some(v) = v {
            namespaces.insert(t);
            if let Some(path) = v {
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
    if cli.hostname.is_some() {
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
    if cfg.setgroups == Some(SetGroups::Allow)
        && cfg.map_group.is_some()
        && cfg.map_groups.is_empty()
        && !cfg.map_auto
    {
        return usage("options --setgroups=allow and --map-group are mutually exclusive");
    }
    Ok(())
}

// ---------------------------------------------------------------- shared

/// Run clap on `argv`; help and version become [`Parsed::Print`], errors a one-line
/// [`Error::Usage`].
fn parse_clap<T: FromArgMatches>(
    cmd: clap::Command,
    argv: &[OsString],
) -> Result<Parsed<T>, Error> {
    common::cli::parse_clap(cmd, argv).map_err(Error::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn nsenter(v: &[&str]) -> NsenterConfig {
        match parse_nsenter(&os(v)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    fn unshare(v: &[&str]) -> UnshareConfig {
        match parse_unshare(&os(v)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    fn nsenter_usage(v: &[&str]) -> String {
        match parse_nsenter(&os(v)) {
            Err(Error::Usage(m)) => m,
            other => panic!("{v:?}: expected a usage error, got {other:?}"),
        }
    }

    fn unshare_usage(v: &[&str]) -> String {
        match parse_unshare(&os(v)) {
            Err(Error::Usage(m)) => m,
            other => panic!("{v:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn nsenter_options_stop_at_the_command() {
        let c = nsenter(&["-t", "42", "-a", "ls", "-l", "-n"]);
        assert_eq!(c.target, Some(TargetSpec::Pid(42)));
        assert!(c.all);
        assert!(c.namespaces.is_empty());
        assert_eq!(c.command, os(&["ls", "-l", "-n"]));
        let c = nsenter(&["--target=7", "--", "-weird"]);
        assert_eq!(c.command, os(&["-weird"]));
    }

    #[test]
    fn nsenter_namespace_files() {
        let c = nsenter(&["-t", "1", "-m", "--net=/run/netns/x", "-u", "true"]);
        assert_eq!(
            c.namespaces,
            vec![
                (NsType::Uts, Source::Target),
                (NsType::Net, Source::Path("/run/netns/x".into())),
                (NsType::Mnt, Source::Target),
            ]
        );
        // getopt's attached optional value.
        let c = nsenter(&["-n/proc/1/ns/net", "-U./userns", "true"]);
        assert_eq!(
            c.namespaces,
            vec![
                (NsType::User, Source::Path("./userns".into())),
                (NsType::Net, Source::Path("/proc/1/ns/net".into())),
            ]
        );
        // A cluster of flags stays a cluster.
        let c = nsenter(&["-t", "1", "-mnu"]);
        assert_eq!(c.namespaces.len(), 3);
        // A separate word is the command, as with getopt's optional arguments.
        let c = nsenter(&["--net", "/bin/true"]);
        assert_eq!(c.namespaces, vec![(NsType::Net, Source::Target)]);
        assert_eq!(c.command, os(&["/bin/true"]));
        // A value option's argument is not taken for a path-like flag.
        let c = nsenter(&["-S", "0", "-t", "5", "-n"]);
        assert_eq!(c.uid, Some(0));
        assert_eq!(c.target, Some(TargetSpec::Pid(5)));
    }

    #[test]
    fn nsenter_root_wd_and_container() {
        let c = nsenter(&["-t", "1", "-r", "-w/tmp"]);
        assert_eq!(c.root, Some(Source::Target));
        assert_eq!(c.wd, Some(Source::Path("/tmp".into())));
        let c = nsenter(&["--container", "-t", "1"]);
        assert!(c.all);
        assert_eq!(c.root, Some(Source::Target));
        assert_eq!(c.wd, Some(Source::Target));
        let c = nsenter(&["--container", "--root=/x", "-t", "1"]);
        assert_eq!(c.root, Some(Source::Path("/x".into())));
        let c = nsenter(&["--container", "-W", "/home", "-t", "1"]);
        assert_eq!(c.wd, None);
        assert_eq!(c.wdns, Some("/home".into()));
    }

    #[test]
    fn nsenter_modes() {
        let c = nsenter(&["--list", "42", "--json"]);
        assert_eq!(
            c.mode,
            NsenterMode::List {
                pid: 42,
                json: true
            }
        );
        let c = nsenter(&["--release", "/run/netns/a", "--release=/tmp/b"]);
        assert_eq!(
            c.mode,
            NsenterMode::Release(vec!["/run/netns/a".into(), "/tmp/b".into()])
        );
        let c = nsenter(&["--pidfile", "/run/x.pid", "-a"]);
        assert_eq!(c.target, Some(TargetSpec::Pidfile("/run/x.pid".into())));
        // Abbreviations, as getopt_long allows.
        let c = nsenter(&["--targ=3", "--preserve", "true"]);
        assert_eq!(c.target, Some(TargetSpec::Pid(3)));
        assert!(c.preserve_credentials);
    }

    #[test]
    fn nsenter_usage_errors() {
        assert_eq!(nsenter_usage(&["--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(nsenter_usage(&["-x"]), "invalid option -- 'x'");
        assert!(nsenter_usage(&["-t", "0"]).contains("'0'"));
        assert!(nsenter_usage(&["-t", "abc"]).contains("'abc'"));
        assert!(nsenter_usage(&["--json"]).contains("--list"));
        assert!(nsenter_usage(&["-t", "1", "--pidfile", "/x"]).contains("cannot be used"));
        assert!(matches!(
            parse_nsenter(&os(&["--help"])),
            Ok(Parsed::Print(h)) if h.contains("--container")
        ));
        assert!(matches!(
            parse_nsenter(&os(&["-V"])),
            Ok(Parsed::Print(v)) if v.starts_with("nsenter-rs ")
        ));
    }

    #[test]
    fn attach_only_before_the_command() {
        let cmd = nsenter_command();
        let attach = |v: &[&str]| attach_short_values(&cmd, &os(v));
        assert_eq!(
            attach(&["-n/x", "cmd", "-n/y"]),
            os(&["-n=/x", "cmd", "-n/y"])
        );
        assert_eq!(attach(&["--", "-n/y"]), os(&["--", "-n/y"]));
        assert_eq!(
            attach(&["-t", "-n/y"]),
            os(&["-t", "-n/y"]),
            "the value of -t is left alone"
        );
        assert_eq!(attach(&["-at", "-n/y"]), os(&["-at", "-n/y"]));
        assert_eq!(
            attach(&["--list", "5", "-n/x"]),
            os(&["--list", "5", "-n=/x"])
        );
        assert_eq!(
            attach(&["--lis", "5", "-n/x"]),
            os(&["--lis", "5", "-n=/x"])
        );
        // --pid takes no separate value: the next word is examined.
        assert_eq!(attach(&["--pid", "-n/x"]), os(&["--pid", "-n=/x"]));
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
