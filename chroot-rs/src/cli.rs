//! The command line: clap defines it (help, version, man page); a getopt_long-style scan in
//! front of clap gives GNU chroot's parsing exactly: options end at NEWROOT (everything
//! after it belongs to COMMAND, `chroot-rs R ls -l` works), `--` ends options,
//! unambiguous prefixes of long options are accepted (`--user=` means `--userspec=`), and
//! syntax errors read like GNU's and exit 125.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::capabilities::CapChange;
use crate::error::Error;
use crate::mounts::{ApiFs, BindSpec};

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (GNU coreutils 9.1 compatible)");

/// Run COMMAND with root directory set to NEWROOT
///
/// A drop-in for GNU chroot. Plain mode is chroot(2), compatible and, like GNU's, escapable
/// by root (chroot(2) is not a security boundary). --pivot runs in private mount and PID
/// namespaces, pivot_root(2)s into NEWROOT and detaches the old root: no path, no `..`, no
/// inherited descriptor and no /proc/PID/root leads back to the host's filesystem. A root
/// COMMAND still holds its capabilities, though, and some reach the host by other means
/// (CAP_SYS_ADMIN and CAP_MKNOD: mount a host disk; CAP_DAC_READ_SEARCH:
/// open_by_handle_at); for a boundary against root, drop them too (--cap-drop
/// sys_admin,mknod,dac_read_search,sys_module,sys_rawio,sys_ptrace), run COMMAND as
/// another user, or give it a user namespace (unshare-rs --user --map-root-user).
///
/// API filesystems, binds, a read-only root and loop-mounted images are set up inside a
/// private mount namespace only: nothing shows on the host and nothing stays mounted
/// after COMMAND exits.
#[derive(Debug, Parser)]
#[command(
    name = "chroot-rs",
    version = VERSION,
    override_usage = "chroot-rs [OPTION]... NEWROOT [COMMAND [ARG]...]\n       chroot-rs OPTION",
    after_help = "If no command is given, run '\"$SHELL\" -i' (default: '/bin/sh -i').\n\n\
Exit status: 125 if chroot-rs itself fails, 126 if COMMAND is found but cannot be invoked,\n\
127 if COMMAND cannot be found, 128+N if it dies of signal N, else the exit status of COMMAND.\n\n\
Example: run a pivoted shell with /proc, /sys and /dev in a busybox tree:\n  \
chroot-rs --pivot --api-fs /srv/lab/rootfs /bin/sh",
    disable_help_subcommand = true,
    args_override_self = true
)]
pub struct Cli {
    /// Specify supplementary groups as g1,g2,..,gN
    #[arg(long, value_name = "G_LIST")]
    groups: Option<String>,

    /// Specify user and group (ID or name) to use
    #[arg(long, value_name = "USER:GROUP")]
    userspec: Option<String>,

    /// Do not change working directory to '/' (only with NEWROOT '/')
    #[arg(long)]
    skip_chdir: bool,

    /// Pivot into NEWROOT in private mount and PID namespaces and detach the old root
    #[arg(long)]
    pivot: bool,

    /// Mount proc, a read-only sysfs and a minimal /dev (= --proc --sys --dev)
    #[arg(long)]
    api_fs: bool,

    /// Mount proc on /proc
    #[arg(long)]
    proc: bool,

    /// Mount sysfs read-only on /sys
    #[arg(long)]
    sys: bool,

    /// Mount a minimal /dev: null zero full random urandom tty, pts, shm, fd links
    #[arg(long)]
    dev: bool,

    /// Bind-mount host path SRC on DST inside NEWROOT (repeatable; DST is created if
    /// missing; SRC alone binds it at the same path inside)
    #[arg(long, value_name = "SRC[:DST[:ro|rw]]")]
    bind: Vec<String>,

    /// Mount the new root read-only, with the mounts below it
    #[arg(long)]
    read_only: bool,

    /// Make the host's /etc/resolv.conf visible inside (read-only bind)
    #[arg(long)]
    resolv_conf: bool,

    /// Loop-mount an ext4 or squashfs image FILE on NEWROOT and use it as the root (one writer at a time)
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,

    /// Drop capabilities from COMMAND's bounding set (names like net_raw, or all; repeatable)
    #[arg(long, value_name = "CAP,...|all")]
    cap_drop: Vec<String>,

    /// Keep only these capabilities in COMMAND's bounding set (repeatable)
    #[arg(long, value_name = "CAP,...")]
    cap_keep: Vec<String>,

    /// Set no_new_privs: COMMAND cannot gain privileges through setuid or file caps
    #[arg(long)]
    no_new_privs: bool,

    /// Mount a tmpfs on DIR inside NEWROOT (repeatable: /run, /run/lock for an init)
    #[arg(long, value_name = "DIR")]
    tmpfs: Vec<PathBuf>,

    /// Make /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus read-only and hide
    /// /proc/kcore, /proc/keys, /proc/timer_list, /proc/sched_debug, /sys/firmware
    #[arg(long)]
    protect_kernel: bool,

    /// Mount the cgroup filesystem on /sys/fs/cgroup as the host has it, showing this
    /// process's cgroup namespace (for an init such as systemd)
    #[arg(long)]
    cgroup_fs: bool,

    /// Bind the terminal on standard input onto /dev/console (with --dev)
    #[arg(long)]
    console: bool,

    /// Make N terminals /dev/tty1..N from the new /dev/pts and send their master ends
    /// over the Unix socket FD (one message each, in order; with --dev)
    #[arg(long, value_name = "N:FD")]
    ttys: Option<String>,

    /// Refuse the system calls that reach the host's kernel state (seccomp: kexec,
    /// modules, open_by_handle_at, bpf, keyrings, perf, userfaultfd, swap, acct)
    #[arg(long)]
    seccomp: bool,

    /// Start COMMAND with a clean environment: TERM kept, a standard PATH, HOME
    #[arg(long)]
    clear_env: bool,

    /// Once everything is set up, just before COMMAND runs, write "ready" and a newline
    /// to descriptor FD and close it (a manager blocked reading it knows the container is
    /// made, without polling)
    #[arg(long, value_name = "FD")]
    ready_fd: Option<i32>,

    /// Set NAME=VALUE in COMMAND's environment (repeatable; after --clear-env)
    #[arg(long, value_name = "NAME=VALUE")]
    setenv: Vec<OsString>,

    /// Trace each system call on standard error (-vv: also the reads behind decisions)
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// The new root directory
    // An OsString, not a PathBuf: clap refuses an empty path, and GNU chroot lets
    // chroot(2) answer for '' ("cannot change root directory to ''").
    #[arg(value_name = "NEWROOT")]
    newroot: OsString,
}

/// What chroot-rs does, independent of how it was asked.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The directory that becomes `/` (the mount point of `image`, when given).
    pub newroot: PathBuf,
    /// The command and its arguments; empty means `"$SHELL" -i`.
    pub command: Vec<OsString>,
    /// `--userspec`, as given.
    pub userspec: Option<String>,
    /// `--groups`, as given (`Some("")` clears the supplementary groups).
    pub groups: Option<String>,
    /// `--skip-chdir`.
    pub skip_chdir: bool,
    /// `--pivot`.
    pub pivot: bool,
    /// Which API filesystems to mount.
    pub api: ApiFs,
    /// `--bind` mounts, in order.
    pub binds: Vec<BindSpec>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--resolv-conf`.
    pub resolv_conf: bool,
    /// `--image`.
    pub image: Option<PathBuf>,
    /// Bounding-set change from `--cap-drop`/`--cap-keep`.
    pub caps: Option<CapChange>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--tmpfs` mount points inside.
    pub tmpfs: Vec<PathBuf>,
    /// `--protect-kernel`.
    pub protect_kernel: bool,
    /// `--cgroup-fs`.
    pub cgroup_fs: bool,
    /// `--console`.
    pub console: bool,
    /// `--ttys N:FD`: how many, and the socket their masters go to.
    pub ttys: Option<(u32, i32)>,
    /// `--seccomp`.
    pub seccomp: bool,
    /// `--clear-env`.
    pub clear_env: bool,
    /// `--setenv`s, in order.
    pub setenv: Vec<OsString>,
    /// `--ready-fd FD`.
    pub ready_fd: Option<i32>,
    /// Trace level (`-v` count).
    pub verbose: u8,
}

impl Config {
    /// True when the run needs a private mount namespace.
    pub fn needs_mount_ns(&self) -> bool {
        self.pivot
            || self.api.any()
            || !self.binds.is_empty()
            || self.read_only
            || self.resolv_conf
            || self.image.is_some()
            || !self.tmpfs.is_empty()
            || self.protect_kernel
            || self.cgroup_fs
            || self.console
            || self.ttys.is_some()
    }
}

/// The clap definition, for `--help` and the man page.
pub fn command() -> clap::Command {
    Cli::command()
}

/// What the command line asked for: run a [`Config`], or print help or version.
pub type Parsed = common::cli::Parsed<Config>;

/// Parse `args` (without argv[0]) GNU style into a [`Config`].
pub fn parse(args: &[OsString]) -> Result<Parsed, Error> {
    // Options come before NEWROOT (getopt's "+"): when the first argument is not one,
    // there are none, and the plain `chroot-rs NEWROOT COMMAND` of scripts and loops
    // needs no clap at all.
    if let Some(first) = args.first()
        && (!first.as_bytes().starts_with(b"-") || first == "-")
    {
        return Ok(Parsed::Run(Config {
            newroot: PathBuf::from(first),
            command: args[1..].to_vec(),
            ..Config::default()
        }));
    }
    let cmd = command();
    let longs = common::cli::options(&cmd);
    let mut normalized: Vec<OsString> = vec![OsString::from("chroot-rs")];
    let mut i = 0;
    let mut newroot_at = None;
    while i < args.len() {
        let arg = args[i].as_bytes();
        if arg == b"--" {
            normalized.push(args[i].clone());
            if i + 1 < args.len() {
                newroot_at = Some(i + 1);
            }
            break;
        }
        if let Some(body) = arg.strip_prefix(b"--") {
            let (name, value) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let name = String::from_utf8_lossy(name).into_owned();
            let opt = common::cli::find_long(&longs, &name).map_err(Error::Usage)?;
            let long = opt.long.as_deref().unwrap_or_default();
            let mut full = format!("--{long}").into_bytes();
            match (opt.required_value, value) {
                (true, Some(v)) => {
                    full.push(b'=');
                    full.extend_from_slice(v);
                }
                (true, None) => {
                    i += 1;
                    let Some(v) = args.get(i) else {
                        return Err(Error::Usage(format!(
                            "option '--{long}' requires an argument"
                        )));
                    };
                    full.push(b'=');
                    full.extend_from_slice(v.as_bytes());
                }
                (false, Some(_)) => {
                    return Err(Error::Usage(format!(
                        "option '--{long}' doesn't allow an argument"
                    )));
                }
                (false, None) => {}
            }
            if long == "help" || long == "version" {
                return Ok(Parsed::Print(if long == "help" {
                    cmd.clone().render_long_help().to_string()
                } else {
                    cmd.clone().render_version()
                }));
            }
            normalized.push(OsString::from(OsStr::from_bytes(&full)));
        } else if arg.len() > 1 && arg[0] == b'-' {
            for &c in &arg[1..] {
                match c {
                    b'v' => normalized.push("-v".into()),
                    b'h' => return Ok(Parsed::Print(cmd.clone().render_help().to_string())),
                    b'V' => return Ok(Parsed::Print(cmd.clone().render_version())),
                    _ => {
                        return Err(Error::Usage(format!(
                            "invalid option -- '{}'",
                            char::from(c).escape_default()
                        )));
                    }
                }
            }
        } else {
            newroot_at = Some(i);
            break;
        }
        i += 1;
    }
    let Some(at) = newroot_at else {
        return Err(Error::Usage("missing operand".to_owned()));
    };
    if normalized.last().is_none_or(|a| a != "--") {
        normalized.push("--".into());
    }
    normalized.push(args[at].clone());
    let command: Vec<OsString> = args[at + 1..].to_vec();

    // The same Command that resolved the prefixes: clap builds it once per run.
    let cli = cmd
        .try_get_matches_from(&normalized)
        .and_then(|m| Cli::from_arg_matches(&m))
        .map_err(|e| Error::Usage(common::cli::clap_message(&e)))?;
    config_from(cli, command).map(Parsed::Run)
}

fn config_from(cli: Cli, command: Vec<OsString>) -> Result<Config, Error> {
    let api = ApiFs {
        proc: cli.api_fs || cli.proc,
        sys: cli.api_fs || cli.sys,
        dev: cli.api_fs || cli.dev,
    };
    let binds = cli
        .bind
        .iter()
        .map(|s| BindSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let caps = CapChange::from_options(&cli.cap_drop, &cli.cap_keep)?;
    if cli.skip_chdir && cli.pivot {
        return Err(Error::Usage(
            "option --skip-chdir cannot be combined with --pivot".to_owned(),
        ));
    }
    if (cli.console || cli.ttys.is_some()) && !api.dev {
        return Err(Error::Usage(
            "options --console and --ttys need --dev (or --api-fs)".to_owned(),
        ));
    }
    if cli.protect_kernel && !api.proc {
        return Err(Error::Usage(
            "option --protect-kernel needs --proc (or --api-fs)".to_owned(),
        ));
    }
    if cli.cgroup_fs && !api.sys {
        return Err(Error::Usage(
            "option --cgroup-fs needs --sys (or --api-fs)".to_owned(),
        ));
    }
    let ttys = cli.ttys.as_deref().map(parse_ttys).transpose()?;
    for pair in &cli.setenv {
        let b = pair.as_bytes();
        if b.first() == Some(&b'=') || !b.contains(&b'=') {
            return Err(Error::Usage(format!(
                "invalid --setenv {}: expected NAME=VALUE",
                crate::error::quote(pair)
            )));
        }
    }
    for dir in &cli.tmpfs {
        if dir.as_os_str().is_empty() {
            return Err(Error::Usage("option --tmpfs needs a directory".to_owned()));
        }
    }
    Ok(Config {
        newroot: PathBuf::from(cli.newroot),
        command,
        // GNU chroot treats "USER:" like "USER" (the login group is looked up by default,
        // for numeric uids too): one trailing ':' goes before the spec is parsed.
        userspec: cli
            .userspec
            .map(|s| s.strip_suffix(':').map_or_else(|| s.clone(), str::to_owned)),
        groups: cli.groups,
        skip_chdir: cli.skip_chdir,
        pivot: cli.pivot,
        api,
        binds,
        read_only: cli.read_only,
        resolv_conf: cli.resolv_conf,
        image: cli.image,
        caps,
        no_new_privs: cli.no_new_privs,
        tmpfs: cli.tmpfs,
        protect_kernel: cli.protect_kernel,
        cgroup_fs: cli.cgroup_fs,
        console: cli.console,
        ttys,
        seccomp: cli.seccomp,
        clear_env: cli.clear_env,
        setenv: cli.setenv,
        ready_fd: cli.ready_fd,
        verbose: cli.verbose,
    })
}

/// `--ttys N:FD`: 1 to 63 terminals, and an open descriptor number.
fn parse_ttys(spec: &str) -> Result<(u32, i32), Error> {
    let bad = || {
        Error::Usage(format!(
            "invalid --ttys '{spec}': expected N:FD (1-63 terminals, a socket descriptor)"
        ))
    };
    let (n, fd) = spec.split_once(':').ok_or_else(bad)?;
    let n: u32 = n.parse().map_err(|_| bad())?;
    let fd: i32 = fd.parse().map_err(|_| bad())?;
    if !(1..=63).contains(&n) || fd < 0 {
        return Err(bad());
    }
    Ok((n, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn run(v: &[&str]) -> Config {
        match parse(&args(v)) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    fn usage(v: &[&str]) -> String {
        match parse(&args(v)) {
            Err(Error::Usage(m)) => m,
            other => panic!("{v:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn options_stop_at_newroot() {
        let c = run(&["/r", "ls", "-l", "--userspec=x"]);
        assert_eq!(c.newroot, PathBuf::from("/r"));
        assert_eq!(c.command, args(&["ls", "-l", "--userspec=x"]));
        assert_eq!(c.userspec, None);
    }

    #[test]
    fn without_options_the_quick_path_equals_the_full_parse() {
        // "--" first forces the full parse (prescan and clap) of the same operands.
        for operands in [
            &["/r"][..],
            &["/r", "ls", "-l"],
            &["-", "x"],
            &["", "sh", "--"],
        ] {
            let mut forced = vec!["--"];
            forced.extend_from_slice(operands);
            assert_eq!(
                format!("{:?}", run(operands)),
                format!("{:?}", run(&forced)),
                "{operands:?}"
            );
        }
    }

    #[test]
    fn double_dash_ends_options() {
        let c = run(&["--", "-weird-root", "true"]);
        assert_eq!(c.newroot, PathBuf::from("-weird-root"));
        assert_eq!(c.command, args(&["true"]));
        let c = run(&["--skip-chdir", "--", "/", "--help"]);
        assert!(c.skip_chdir);
        assert_eq!(c.command, args(&["--help"]));
    }

    #[test]
    fn unambiguous_prefixes_and_separate_values() {
        let c = run(&["--user=nobody:nogroup", "--gr", "1,2", "/r"]);
        assert_eq!(c.userspec.as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.groups.as_deref(), Some("1,2"));
        let c = run(&["--userspec", "1:2", "/r"]);
        assert_eq!(c.userspec.as_deref(), Some("1:2"));
        assert!(run(&["--piv", "/r"]).pivot);
        assert!(run(&["--sk", "/"]).skip_chdir);
    }

    #[test]
    fn a_trailing_colon_means_the_login_group() {
        assert_eq!(
            run(&["--userspec=65534:", "/r"]).userspec.as_deref(),
            Some("65534")
        );
        assert_eq!(
            run(&["--userspec=+65534:", "/r"]).userspec.as_deref(),
            Some("+65534")
        );
        assert_eq!(
            run(&["--userspec=a:b", "/r"]).userspec.as_deref(),
            Some("a:b")
        );
        assert_eq!(run(&["--userspec=:", "/r"]).userspec.as_deref(), Some(""));
    }

    #[test]
    fn last_occurrence_wins() {
        let c = run(&["--groups=1", "--groups=2", "/r"]);
        assert_eq!(c.groups.as_deref(), Some("2"));
        let c = run(&["--groups=", "/r"]);
        assert_eq!(c.groups.as_deref(), Some(""));
    }

    #[test]
    fn gnu_style_usage_errors() {
        assert_eq!(usage(&[]), "missing operand");
        assert_eq!(usage(&["--userspec=x"]), "missing operand");
        assert_eq!(usage(&["--bogus", "/r"]), "unrecognized option '--bogus'");
        assert_eq!(
            usage(&["--s", "/r"]),
            "option '--s' is ambiguous; possibilities: '--skip-chdir' '--sys' '--seccomp' '--setenv'"
        );
        assert_eq!(
            usage(&["--userspec"]),
            "option '--userspec' requires an argument"
        );
        assert_eq!(
            usage(&["--pivot=yes", "/r"]),
            "option '--pivot' doesn't allow an argument"
        );
        assert_eq!(usage(&["-x", "/r"]), "invalid option -- 'x'");
    }

    #[test]
    fn help_and_version_print() {
        for a in [["--help"], ["--he"], ["--version"]] {
            assert!(matches!(parse(&args(&a)), Ok(Parsed::Print(_))), "{a:?}");
        }
        match parse(&args(&["--help"])) {
            Ok(Parsed::Print(h)) => assert!(h.contains("NEWROOT")),
            _ => unreachable!(),
        }
    }

    #[test]
    fn api_fs_expands() {
        let c = run(&["--api-fs", "/r"]);
        assert!(c.api.proc && c.api.sys && c.api.dev);
        let c = run(&["--proc", "/r"]);
        assert!(c.api.proc && !c.api.sys && !c.api.dev);
        assert!(c.needs_mount_ns());
        assert!(!run(&["/r"]).needs_mount_ns());
    }

    #[test]
    fn repeated_lists_add_up() {
        let c = run(&[
            "--cap-drop",
            "chown",
            "--cap-drop=kill",
            "--bind",
            "/a:/b",
            "--bind=/c",
            "/r",
        ]);
        assert_eq!(c.caps.unwrap().dropped().len(), 2);
        assert_eq!(c.binds.len(), 2);
    }

    #[test]
    fn verbose_counts() {
        assert_eq!(run(&["-vv", "/r"]).verbose, 2);
        assert_eq!(run(&["-v", "--verbose", "/r"]).verbose, 2);
    }

    #[test]
    fn container_options() {
        let c = run(&[
            "--api-fs",
            "--protect-kernel",
            "--cgroup-fs",
            "--console",
            "--ttys=4:5",
            "--seccomp",
            "--clear-env",
            "--setenv",
            "container=ctn",
            "--tmpfs",
            "/run",
            "/r",
        ]);
        assert!(c.protect_kernel && c.cgroup_fs && c.console && c.seccomp && c.clear_env);
        assert_eq!(c.ttys, Some((4, 5)));
        assert_eq!(c.setenv, args(&["container=ctn"]));
        assert_eq!(c.tmpfs, vec![PathBuf::from("/run")]);
        assert!(c.needs_mount_ns());
        assert_eq!(
            usage(&["--console", "/r"]),
            "options --console and --ttys need --dev (or --api-fs)"
        );
        assert_eq!(
            usage(&["--protect-kernel", "/r"]),
            "option --protect-kernel needs --proc (or --api-fs)"
        );
        assert_eq!(
            usage(&[
                "--sys",
                "--cgroup-fs",
                "--proc",
                "--dev",
                "--ttys",
                "0:3",
                "/r"
            ]),
            "invalid --ttys '0:3': expected N:FD (1-63 terminals, a socket descriptor)"
        );
        assert_eq!(
            usage(&["--setenv", "=x", "/r"]),
            "invalid --setenv '=x': expected NAME=VALUE"
        );
        assert_eq!(
            usage(&["--setenv", "novalue", "/r"]),
            "invalid --setenv 'novalue': expected NAME=VALUE"
        );
    }

    #[test]
    fn skip_chdir_with_pivot_is_refused() {
        assert_eq!(
            usage(&["--skip-chdir", "--pivot", "/"]),
            "option --skip-chdir cannot be combined with --pivot"
        );
    }
}
