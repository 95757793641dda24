//! The command line (clap derive) and its conversion into a plain [`Config`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use nix::sys::signal::Signal;

use crate::control::parse_signal;
use crate::error::Error;
use crate::group::Parent;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (cgroup v1, v2 and hybrid; runc's v1/v2 conversions)"
);

/// The v1 <-> v2 conversions, for --help and the man page (README.md has the full table).
pub const CONVERSIONS: &str = "\
Conversions (a key of the other version is translated; get answers in its format):
  memory.limit_in_bytes <-> memory.max: bytes, -1 <-> max
  memory.soft_limit_in_bytes <-> memory.low: bytes
  memory.memsw.limit_in_bytes <-> memory.swap.max: swap = memsw - memory
  cpu.cfs_quota_us, cpu.cfs_period_us <-> cpu.max 'QUOTA PERIOD': -1 <-> max
  cpu.shares <-> cpu.weight: ceil(10^((l*l + 125*l)/612 - 7/34)), l = log2(shares);
    2 -> 1, 1024 -> 100, 262144 -> 10000 (runc, crun, youki)
  cpu.cfs_burst_us <-> cpu.max.burst: microseconds
  blkio.weight <-> io.bfq.weight unchanged, else io.weight = 1 + (w-10)*9999/990
  blkio.throttle.*_device 'MAJ:MIN N' <-> io.max 'MAJ:MIN rbps= wbps= riops= wiops='
  freezer.state FROZEN/THAWED <-> cgroup.freeze 1/0
  cpuset.cpus, cpuset.mems, pids.max: the same; memory.high, memory.min: v2 only

Exit status: 0 success; 1 failure (the message says what is left); 2 usage
(nothing changed); 128+N stopped by signal N (SIGINT, SIGTERM, SIGHUP), what the
run made undone; exec: 125 cgctl failed, 126 cannot run, 127 not found, else the
command's status.";

/// One cgroup tool for v1, v2 and hybrid hosts
#[derive(Debug, Parser)]
#[command(
    name = "cgctl",
    version = VERSION,
    args_override_self = true,
    about = "One cgroup tool for v1, v2 and hybrid hosts: create, limit, run in, move to, account, freeze, kill, list",
    long_about = "One cgroup tool for v1, v2 and hybrid hosts: create, limit, run in, move to, account, \
freeze, kill, list. Named limits and raw keys of either version mean the same on every layout \
(the conversions are the OCI runtimes': see the README's table).\n\n\
Example: cgctl --parent self create web --memory 256M --cpu-limit 50% && \
cgctl --parent self exec web -- nginx",
    after_long_help = CONVERSIONS
)]
struct Cli {
    /// Where NAMEs live: 'self' (this process's own group in each hierarchy) or an absolute cgroup path [default: /]
    #[arg(long, global = true, env = "CGCTL_PARENT", value_name = "PATH|self")]
    parent: Option<String>,

    /// Trace every write, mkdir and rmdir on stderr (-vv adds the reads)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print JSON (one object per line)
    #[arg(long, global = true)]
    json: bool,

    /// Use only the hierarchies holding these controllers (or name=NAME, unified)
    // Set, not the Append of a Vec: a later --hierarchies (a batch line's own) replaces
    // the earlier list instead of adding to it, as every other option does.
    #[arg(
        long,
        global = true,
        action = clap::ArgAction::Set,
        env = "CGCTL_HIERARCHIES",
        value_name = "LIST",
        value_delimiter = ','
    )]
    hierarchies: Vec<String>,

    /// Run the commands of FILE ('-': standard input), one per line, stopping at the first failure
    #[arg(long, value_name = "FILE")]
    batch: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Cmd>,
}

/// The named limits `create` and `set` take.
#[derive(Debug, Args, Default)]
struct Limits {
    /// Hard memory limit (512M, 1G, max)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Soft limit: v1 memory.soft_limit_in_bytes, v2 memory.low
    #[arg(long = "memory-soft", value_name = "SIZE", allow_hyphen_values = true)]
    memory_soft: Option<String>,
    /// Swap allowance (swap only; v1 gets memory+swap)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    swap: Option<String>,
    /// CPUs the group may run on (cpuset: 0-3,5)
    #[arg(long, value_name = "LIST")]
    cpus: Option<String>,
    /// Memory nodes (cpuset)
    #[arg(long, value_name = "LIST")]
    mems: Option<String>,
    /// CPU bandwidth: percent of one CPU (50%, 200% = two CPUs) or QUOTA/PERIOD in µs
    #[arg(
        long = "cpu-limit",
        value_name = "PCT|QUOTA/PERIOD",
        allow_hyphen_values = true
    )]
    cpu_limit: Option<String>,
    /// CPU weight on the v2 scale (1-10000, default 100)
    #[arg(long = "cpu-weight", value_name = "N")]
    cpu_weight: Option<String>,
    /// CPU weight on the v1 scale (2-262144, default 1024)
    #[arg(long = "cpu-shares", value_name = "N")]
    cpu_shares: Option<String>,
    /// Most tasks (processes and threads)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pids: Option<String>,
    /// I/O weight on the v2 io.weight scale (1-10000, default 100)
    #[arg(long = "io-weight", value_name = "N")]
    io_weight: Option<String>,
    /// I/O throttle of one device: 'MAJ:MIN rbps=N wbps=N riops=N wiops=N' (repeatable)
    #[arg(long = "io-max", value_name = "'MAJ:MIN rbps=… …'")]
    io_max: Vec<String>,
    /// Devices the group may open: container (LXC's list), all, or none
    #[arg(long, value_name = "container|all|none")]
    devices: Option<String>,
    /// One more device the group may use, in devices.allow syntax: 'c 1:3 rwm' (repeatable)
    #[arg(long = "allow-device", value_name = "'TYPE MAJ:MIN ACCESS'")]
    allow_device: Vec<String>,
    /// Delegate the group to a container's root: its directories and the files that
    /// manage sub-groups change owner (numeric ids)
    #[arg(long, value_name = "UID:GID")]
    owner: Option<String>,
    /// Set a memory limit below 1 MiB anyway (no process can live in it)
    #[arg(long)]
    force: bool,
}

impl Limits {
    fn into_pairs(self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v));
            }
        };
        push("cpus", self.cpus);
        push("mems", self.mems);
        push("cpu-limit", self.cpu_limit);
        push("cpu-weight", self.cpu_weight);
        push("cpu-shares", self.cpu_shares);
        push("pids", self.pids);
        push("io-weight", self.io_weight);
        push("memory", self.memory);
        push("memory-soft", self.memory_soft);
        push("swap", self.swap);
        push("devices", self.devices);
        push("owner", self.owner);
        for m in self.io_max {
            out.push(("io-max".to_owned(), m));
        }
        for d in self.allow_device {
            out.push(("allow-device".to_owned(), d));
        }
        out
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a group in every hierarchy, with limits (all or nothing)
    Create {
        /// The group, a path below the parent
        name: String,
        #[command(flatten)]
        limits: Limits,
    },
    /// Change limits and raw keys of either version (all or nothing)
    Set {
        /// The group
        name: String,
        #[command(flatten)]
        limits: Limits,
        /// Raw keys of either version, or named limits: memory.limit_in_bytes=256M cpu.max='50000 100000'
        #[arg(value_name = "KEY=VALUE")]
        assignments: Vec<String>,
    },
    /// Print limits (no KEY: every named limit, one KEY=VALUE per line)
    Get {
        /// The group
        name: String,
        /// Named limits or raw keys of either version
        #[arg(value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Run a command in the group (joins every hierarchy, then execs it)
    Exec {
        /// The group
        name: String,
        /// Create the group first when it does not exist
        #[arg(long)]
        create: bool,
        /// Clone the command into the group and wait for it, instead of moving cgctl
        /// and exec'ing it: on cgroup2 nothing is moved, which spares the kernel's
        /// global migration lock (an RCU grace period, 15-20 ms here, per start), and
        /// cgctl, waiting, writes itself into its own group meanwhile (never the root's)
        /// so that the command's first move is spared it too; where clone3 is refused (a
        /// seccomp profile, Linux before 5.7), moved as without it
        #[arg(long)]
        fork: bool,
        /// The command and its arguments
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<OsString>,
    },
    /// Move processes into the group (all or none)
    Move {
        /// The group
        name: String,
        /// Process ids
        #[arg(required = true, value_name = "PID")]
        pids: Vec<String>,
    },
    /// Print what a bill needs: CPU time, memory, swap, I/O, pids, OOM kills, state
    Stat {
        /// The group
        name: String,
    },
    /// Print the tree of groups with their figures in columns
    List {
        /// The top of the tree [default: every group below the parent]
        name: Option<String>,
    },
    /// Print CPU, memory and I/O rates per group at each refresh, one line per group
    Top {
        /// The top of the tree [default: every group below the parent]
        name: Option<String>,
        /// Seconds between refreshes
        #[arg(long, short = 'd', default_value = "1", value_name = "S")]
        interval: f64,
        /// Stop after N refreshes
        #[arg(long, short = 'n', value_name = "N")]
        count: Option<u64>,
    },
    /// Freeze every process of the group; returns when frozen
    Freeze {
        /// The group
        name: String,
        /// Give up after S seconds
        #[arg(long, default_value = "10", value_name = "S")]
        timeout: f64,
    },
    /// Thaw the group; returns when thawed
    Thaw {
        /// The group
        name: String,
        /// Give up after S seconds
        #[arg(long, default_value = "10", value_name = "S")]
        timeout: f64,
    },
    /// Signal every process of the group; returns when the group is empty
    Kill {
        /// The group
        name: String,
        /// The signal (KILL, TERM, 15, ...)
        #[arg(long, short, default_value = "KILL", value_name = "SIG")]
        signal: String,
        /// Give up after S seconds
        #[arg(long, default_value = "10", value_name = "S")]
        timeout: f64,
    },
    /// Remove the group and its sub-groups from every hierarchy, or fail saying what is left
    Delete {
        /// The group
        name: String,
        /// Kill the processes of the group and its sub-groups first
        #[arg(long)]
        kill: bool,
        /// Sub-groups go too (the default; accepted for scripts written for older cgctl)
        #[arg(long, short)]
        recursive: bool,
        /// Give up waiting for --kill after S seconds
        #[arg(long, default_value = "10", value_name = "S")]
        timeout: f64,
    },
    /// Check the kernel for namespaces, cgroups and network link types
    Check,
}

/// What to do, as the library takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `create NAME [LIMITS]`.
    Create {
        /// NAME.
        name: String,
        /// (key, value) pairs: named limits, devices, owner.
        limits: Vec<(String, String)>,
        /// --force: a memory limit below 1 MiB is set anyway.
        force: bool,
    },
    /// `set NAME [LIMITS] [KEY=VALUE...]`.
    Set {
        /// NAME.
        name: String,
        /// (key, value) pairs: `--memory`/`memory.max`.
        limits: Vec<(String, String)>,
        /// --force.
        force: bool,
    },
    /// `get NAME [KEY...]`.
    Get {
        /// NAME.
        name: String,
        /// Keys.
        keys: Vec<String>,
    },
    /// `exec NAME [--create] -- CMD...`.
    Exec {
        /// NAME.
        name: String,
        /// --create.
        create: bool,
        /// --fork.
        fork: bool,
        /// The command.
        argv: Vec<OsString>,
    },
    /// `move NAME PID...`.
    Move {
        /// NAME.
        name: String,
        /// Pids.
        pids: Vec<i32>,
    },
    /// `stat NAME`.
    Stat {
        /// NAME.
        name: String,
    },
    /// `list [NAME]`.
    List {
        /// NAME.
        name: Option<String>,
    },
    /// `top [NAME]`.
    Top {
        /// NAME.
        name: Option<String>,
        /// Between refreshes.
        interval: Duration,
        /// Refreshes.
        count: Option<u64>,
    },
    /// `freeze`/`thaw`.
    Freeze {
        /// NAME.
        name: String,
        /// Freeze or thaw.
        on: bool,
        /// Time-out.
        timeout: Duration,
    },
    /// `kill NAME`.
    Kill {
        /// NAME.
        name: String,
        /// The signal.
        signal: Signal,
        /// Time-out.
        timeout: Duration,
    },
    /// `delete NAME`.
    Delete {
        /// NAME.
        name: String,
        /// --kill.
        kill: bool,
        /// Time-out for --kill.
        timeout: Duration,
    },
    /// `check`.
    Check,
}

/// Everything `run` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// --parent.
    pub parent: Parent,
    /// -v count.
    pub verbose: u8,
    /// --json.
    pub json: bool,
    /// --hierarchies: keep only these (empty: all).
    pub hierarchies: Vec<String>,
    /// The command.
    pub command: Command,
}

/// The clap definition, for --help and man pages.
pub fn command() -> clap::Command {
    Cli::command()
}

fn seconds(s: f64, what: &str) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero() || what == "--timeout")
        .ok_or_else(|| Error::Usage(format!("invalid {what} '{s}'")))
}

/// What parsing produced: a Config, or text for stdout (--help, --version).
#[derive(Debug)]
pub enum Parsed {
    /// Run this.
    Run(Config),
    /// Print this and exit 0.
    Print(String),
    /// Run the commands of a file (`-`: stdin), each after these global options.
    Batch(PathBuf, Vec<OsString>),
}

/// Parse the arguments (without argv[0]).
pub fn parse(args: &[OsString]) -> Result<Parsed, Error> {
    let argv = std::iter::once(OsString::from("cgctl")).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                return Ok(Parsed::Print(e.to_string()));
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                return Err(Error::Usage("missing command".to_owned()));
            }
            return Err(Error::Usage(common::cli::clap_message(&e)));
        }
    };
    convert(cli)
}

fn convert(cli: Cli) -> Result<Parsed, Error> {
    let parent = match cli.parent.as_deref() {
        None => Parent::Root,
        Some(p) => Parent::parse(p)?,
    };
    if let Some(file) = cli.batch {
        if cli.command.is_some() {
            return Err(Error::Usage("--batch takes no COMMAND".to_owned()));
        }
        // The global options given with --batch apply to every line.
        let mut defaults: Vec<OsString> = Vec::new();
        if let Some(p) = &cli.parent {
            defaults.extend(["--parent".into(), p.into()]);
        }
        defaults.extend((0..cli.verbose).map(|_| OsString::from("-v")));
        if cli.json {
            defaults.push("--json".into());
        }
        if !cli.hierarchies.is_empty() {
            defaults.extend(["--hierarchies".into(), cli.hierarchies.join(",").into()]);
        }
        return Ok(Parsed::Batch(file, defaults));
    }
    let Some(command) = cli.command else {
        return Err(Error::Usage("missing command".to_owned()));
    };
    let command = match command {
        Cmd::Create { name, limits } => Command::Create {
            name,
            force: limits.force,
            limits: limits.into_pairs(),
        },
        Cmd::Set {
            name,
            limits,
            assignments,
        } => {
            let force = limits.force;
            let mut pairs = limits.into_pairs();
            for a in &assignments {
                let (k, v) = crate::keys::split_assignment(a)?;
                pairs.push((k.to_owned(), v.to_owned()));
            }
            if pairs.is_empty() {
                return Err(Error::Usage(
                    "set: nothing to set (give LIMITS or KEY=VALUE)".to_owned(),
                ));
            }
            Command::Set {
                name,
                limits: pairs,
                force,
            }
        }
        Cmd::Get { name, keys } => Command::Get { name, keys },
        Cmd::Exec {
            name,
            create,
            fork,
            command,
        } => Command::Exec {
            name,
            create,
            fork,
            argv: command,
        },
        Cmd::Move { name, pids } => {
            let pids = pids
                .iter()
                .map(|p| {
                    p.parse::<i32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Error::Usage(format!("invalid pid '{p}'")))
                })
                .collect::<Result<_, _>>()?;
            Command::Move { name, pids }
        }
        Cmd::Stat { name } => Command::Stat { name },
        Cmd::List { name } => Command::List { name },
        Cmd::Top {
            name,
            interval,
            count,
        } => Command::Top {
            name,
            interval: seconds(interval, "--interval")?,
            count,
        },
        Cmd::Freeze { name, timeout } => Command::Freeze {
            name,
            on: true,
            timeout: seconds(timeout, "--timeout")?,
        },
        Cmd::Thaw { name, timeout } => Command::Freeze {
            name,
            on: false,
            timeout: seconds(timeout, "--timeout")?,
        },
        Cmd::Kill {
            name,
            signal,
            timeout,
        } => Command::Kill {
            name,
            signal: parse_signal(&signal)?,
            timeout: seconds(timeout, "--timeout")?,
        },
        Cmd::Delete {
            name,
            kill,
            recursive: _,
            timeout,
        } => Command::Delete {
            name,
            kill,
            timeout: seconds(timeout, "--timeout")?,
        },
        Cmd::Check => Command::Check,
    };
    Ok(Parsed::Run(Config {
        parent,
        verbose: cli.verbose,
        json: cli.json,
        hierarchies: cli
            .hierarchies
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect(),
        command,
    }))
}

/// True when the arguments name the `exec` subcommand (its usage errors exit 125).
pub fn is_exec(args: &[OsString]) -> bool {
    let mut skip = false;
    for a in args {
        let a = a.to_string_lossy();
        if skip {
            skip = false;
            continue;
        }
        // The global options that take a separate value.
        if matches!(a.as_ref(), "--parent" | "--hierarchies" | "--batch") {
            skip = true;
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        return a == "exec";
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, Error> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        match parse(&v)? {
            Parsed::Run(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batch_lines() {
        // (How a line splits into words is common::words's, tested there.)
        let v: Vec<OsString> = ["--parent", "self", "-v", "--batch", "-"]
            .iter()
            .map(OsString::from)
            .collect();
        match parse(&v).unwrap() {
            Parsed::Batch(f, d) => {
                assert_eq!(f, PathBuf::from("-"));
                assert_eq!(d, ["--parent", "self", "-v"]);
            }
            other => panic!("{other:?}"),
        }
        // A line's own option overrides the batch's.
        let c = p(&["--parent", "self", "--parent", "/x", "list"]).unwrap();
        assert_eq!(c.parent, Parent::Path("/x".into()));
    }

    #[test]
    fn create_and_set() {
        let c = p(&[
            "--parent",
            "self",
            "create",
            "web",
            "--memory",
            "256M",
            "--cpu-limit",
            "50%",
            "--pids",
            "-1",
            "--devices",
            "container",
            "--allow-device",
            "c 10:200 rwm",
            "--allow-device",
            "b 8:0 r",
            "--owner",
            "100000:100000",
        ])
        .unwrap();
        assert_eq!(c.parent, Parent::Own);
        assert_eq!(
            c.command,
            Command::Create {
                name: "web".into(),
                limits: vec![
                    ("cpu-limit".into(), "50%".into()),
                    ("pids".into(), "-1".into()),
                    ("memory".into(), "256M".into()),
                    ("devices".into(), "container".into()),
                    ("owner".into(), "100000:100000".into()),
                    ("allow-device".into(), "c 10:200 rwm".into()),
                    ("allow-device".into(), "b 8:0 r".into()),
                ],
                force: false,
            }
        );
        let c = p(&["create", "x", "--memory", "10", "--force"]).unwrap();
        assert!(matches!(c.command, Command::Create { force: true, .. }));
        // An empty --parent is refused, not taken for the root.
        assert!(matches!(
            p(&["--parent", "", "list"]),
            Err(Error::BadName { .. })
        ));
        let c = p(&[
            "set",
            "web",
            "--json",
            "memory.max=1G",
            "cpu.max=50000 100000",
            "-v",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(c.verbose, 1);
        assert_eq!(
            c.command,
            Command::Set {
                name: "web".into(),
                limits: vec![
                    ("memory.max".into(), "1G".into()),
                    ("cpu.max".into(), "50000 100000".into())
                ],
                force: false,
            }
        );
        assert!(matches!(p(&["set", "web"]), Err(Error::Usage(_))));
        assert!(matches!(p(&["set", "web", "nokey"]), Err(Error::Usage(_))));
        let e = p(&["create"]).unwrap_err();
        assert!(e.to_string().contains("required"), "{e}");
    }

    #[test]
    fn exec_and_others() {
        let c = p(&["exec", "web", "--create", "--", "sh", "-c", "exit 3"]).unwrap();
        assert_eq!(
            c.command,
            Command::Exec {
                name: "web".into(),
                create: true,
                fork: false,
                argv: vec!["sh".into(), "-c".into(), "exit 3".into()]
            }
        );
        let c = p(&["exec", "web", "ls", "-l"]).unwrap();
        assert!(matches!(c.command, Command::Exec { ref argv, .. } if argv.len() == 2));
        let c = p(&["exec", "--fork", "web", "--", "true"]).unwrap();
        assert!(matches!(c.command, Command::Exec { fork: true, .. }));
        let c = p(&["kill", "web", "-s", "TERM"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Kill {
                signal: Signal::SIGTERM,
                ..
            }
        ));
        assert!(p(&["move", "web", "0"]).is_err());
        assert!(p(&["--parent", "rel", "stat", "x"]).is_err());
        assert!(is_exec(&["--parent".into(), "self".into(), "exec".into()]));
        assert!(!is_exec(&["create".into(), "exec".into()]));
        assert!(is_exec(&[
            "--hierarchies".into(),
            "unified".into(),
            "exec".into()
        ]));
        let c = p(&["--hierarchies", "memory,cpu", "list"]).unwrap();
        assert_eq!(c.hierarchies, ["memory", "cpu"]);
        // A later list replaces the earlier one (a batch line's own, after the batch's).
        let c = p(&["--hierarchies", "memory", "--hierarchies", "pids", "list"]).unwrap();
        assert_eq!(c.hierarchies, ["pids"]);
        let c = p(&["top", "-n", "2", "--interval", "0.1"]).unwrap();
        assert!(matches!(c.command, Command::Top { count: Some(2), .. }));
    }
}
