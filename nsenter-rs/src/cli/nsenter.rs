//! nsenter-rs's command line: the clap definition and its conversion into
//! [`NsenterConfig`], with util-linux's `-n/path` form of optional values.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};

use super::{Parsed, parse_clap};
use crate::error::Error;
use crate::ns::NsType;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (util-linux 2.38 compatible)");

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
    version = VERSION,
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
    /// `--container`: also the init's cgroups, bounding set, no_new_privs, seccomp, a
    /// clean environment and a terminal of the command's own.
    pub container: bool,
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
        container: cli.container,
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

    fn nsenter_usage(v: &[&str]) -> String {
        match parse_nsenter(&os(v)) {
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
}
