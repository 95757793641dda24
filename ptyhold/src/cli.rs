//! The command line (clap derive) and its conversion into a plain [`Config`].
//!
//! Three forms: `ptyhold [OPTIONS] -- COMMAND [ARG]...` holds a command,
//! `ptyhold attach SOCKET [-t N] [-e CHAR] [--force]` attaches this terminal to one of its
//! ttys, `ptyhold list SOCKET [--json]` (or `attach SOCKET --list`) shows them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use common::pty;

use crate::error::Error;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (lxc-console 5.0 keys)");

/// The most ttys besides the console (fds 3 to 66).
pub const MAX_TTYS: u16 = 64;

const AFTER_HELP: &str = "\
Keys (attach, -F): Ctrl+a q detaches, Ctrl+a Ctrl+a sends Ctrl+a, Ctrl+a with any other key sends
that key alone (as lxc-console; -e changes the escape letter).

The command gets the console's slave on fds 0, 1 and 2 (a new session, the console its controlling
terminal), tty N's slave on fd 2+N, and PTYHOLD_TTYS=N in its environment; no other descriptor.

Exit status: ptyhold ... -- COMMAND: the command's status, 128+N if it died of signal N, 125 if
ptyhold itself failed, 126 if COMMAND cannot be run, 127 if it is not found; with -d, 0 once the
command has started. attach, list: 0 (detached, or the command ended), 1 failure, 2 usage.";

/// Hold a command's console and ttys on ptys, serve them on a Unix socket, keep a log
#[derive(Debug, Parser)]
#[command(
    name = "ptyhold",
    version = VERSION,
    override_usage = "ptyhold [OPTIONS] -- COMMAND [ARG]...\n       \
                      ptyhold attach SOCKET [-t N] [-e CHAR] [--force]\n       \
                      ptyhold list SOCKET [--json]",
    long_about = "Hold a command's console and ttys on ptys, serve them on a Unix socket, keep a log.\n\n\
A console that outlives the start and can be reattached, as LXC's: the command runs on a \
pseudo-terminal ptyhold holds; `ptyhold attach` connects a terminal to it (and to --ttys more) \
with lxc-console's keys and messages, the window size following the attaching terminal. Usable \
alone, like dtach or abduco, or before chroot-rs, which binds the ptys it is given onto \
/dev/console and /dev/ttyN.\n\n\
Example: hold a shell with a log and two ttys, detached, then attach to tty 1:\n  \
ptyhold -d --ttys 2 --socket /run/c1.sock --log /var/log/c1.console --pidfile /run/c1.pid -- \\\n    \
sh -c 'exec sh <&3 >&3 2>&3'\n  \
ptyhold attach /run/c1.sock -t 1",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    sub: Option<Sub>,

    #[command(flatten)]
    hold: HoldArgs,

    /// Trace each system call on standard error (-vv: also the relay's polls, reads and writes); after attach or list when given one
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Args)]
struct HoldArgs {
    /// Ttys besides the console (the command gets tty N's slave on fd 2+N)
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=i64::from(MAX_TTYS)))]
    ttys: u16,

    /// Receive N ttys from the command instead: it gets a Unix socket on fd 3 and sends
    /// the master ends over it (chroot-rs --ttys N:3 makes them in a container's devpts)
    #[arg(long, value_name = "N", conflicts_with = "ttys",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_TTYS)))]
    receive_ttys: Option<u16>,

    /// Pass descriptor FD on to the command unchanged (repeatable; above the ttys' fds)
    #[arg(long, value_name = "FD")]
    pass_fd: Vec<i32>,

    /// The command leads a new session without a controlling terminal (a container's
    /// init: its getty takes the console as its own)
    #[arg(long)]
    no_ctty: bool,

    /// Give every slave to UID:GID (mode 0620) before the command starts
    #[arg(long, value_name = "UID:GID")]
    owner: Option<String>,

    /// Serve the ptys on this Unix socket (mode 0600, removed at exit)
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Append what the console shows to FILE (rotated to FILE.1 at --log-size)
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,

    /// Most bytes of FILE before it is rotated (K, M, G: binary)
    #[arg(long, value_name = "SIZE", default_value = "1M")]
    log_size: String,

    /// Write the command's PID to FILE (atomically; removed at exit)
    #[arg(long, value_name = "FILE")]
    pidfile: Option<PathBuf>,

    /// When the command has ended, write the status ptyhold exits with (its code, or
    /// 128+N for signal N) and a newline to descriptor FD (kept from the command): a
    /// process reading FD learns how a detached command ended
    #[arg(long, value_name = "FD")]
    status_fd: Option<i32>,

    /// Detach: return once the command has started, hold it in the background
    #[arg(short, long, conflicts_with = "foreground")]
    daemon: bool,

    /// Also attach this terminal to the console now (default when stdin is the foreground terminal)
    #[arg(short = 'F', long)]
    foreground: bool,

    /// The escape letter for -F: Ctrl+CHAR (a, ^a, b …)
    #[arg(short, long, value_name = "CHAR", default_value = "a")]
    escape: String,

    /// The command to hold, and its arguments (after --)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Attach this terminal to a held tty (tty 0, the console, by default)
    Attach {
        /// The holder's socket
        socket: PathBuf,
        /// The tty: 0 the console, 1 to N the ttys
        #[arg(short, long, value_name = "N", default_value_t = 0)]
        tty: u16,
        /// The escape letter: Ctrl+CHAR (a, ^a, b …)
        #[arg(short, long, value_name = "CHAR", default_value = "a")]
        escape: String,
        /// Take the tty over when another client has it (that client is detached)
        #[arg(long)]
        force: bool,
        /// List the ttys instead of attaching (as `ptyhold list`)
        #[arg(long, conflicts_with_all = ["tty", "force"])]
        list: bool,
        /// With --list: one JSON object per line
        #[arg(long, requires = "list")]
        json: bool,
    },
    /// List the held ttys and their clients
    List {
        /// The holder's socket
        socket: PathBuf,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
}

/// What ptyhold does, independent of how it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The trace level (`-v` count).
    pub verbose: u8,
    /// Hold, attach or list.
    pub mode: Mode,
}

/// The three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `ptyhold [OPTIONS] -- COMMAND`.
    Hold(Hold),
    /// `ptyhold attach SOCKET`.
    Attach(Attach),
    /// `ptyhold list SOCKET`.
    List(List),
}

/// The holder's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The command and its arguments (not empty).
    pub command: Vec<OsString>,
    /// Ttys besides the console.
    pub ttys: u16,
    /// `--receive-ttys N`: the command sends N tty masters over a socket on fd 3.
    pub receive_ttys: Option<u16>,
    /// `--pass-fd`: descriptors passed on to the command.
    pub pass_fds: Vec<i32>,
    /// `--owner`: (uid, gid).
    pub owner: Option<(u32, u32)>,
    /// `--socket`.
    pub socket: Option<PathBuf>,
    /// `--log`.
    pub log: Option<PathBuf>,
    /// `--log-size` in bytes (at least 1).
    pub log_size: u64,
    /// `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--status-fd`.
    pub status_fd: Option<i32>,
    /// `-d`.
    pub daemon: bool,
    /// `--no-ctty`: setsid without TIOCSCTTY.
    pub no_ctty: bool,
    /// `-F` given (`true`); otherwise decided at run time from stdin (`false`).
    pub foreground: bool,
    /// The escape key for `-F` (a control code).
    pub escape: u8,
}

/// `attach`'s configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// The holder's socket.
    pub socket: PathBuf,
    /// 0 the console, 1.. the ttys.
    pub tty: u16,
    /// The escape key (a control code).
    pub escape: u8,
    /// `--force`: take the tty over.
    pub force: bool,
}

/// `list`'s configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The holder's socket.
    pub socket: PathBuf,
    /// `--json`.
    pub json: bool,
}

/// The clap definition, for `--help` and the man page.
pub fn command() -> clap::Command {
    Cli::command()
}

/// What the command line asked for: run a [`Config`], or print help or version.
pub type Parsed = common::cli::Parsed<Config>;

/// True when `args` (without `argv[0]`) are a client's (`attach`, `list`): usage errors
/// then exit 2, not a chain-loader's 125.
pub fn is_client(args: &[OsString]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "attach" || a == "list")
}

/// Parse `args` (without `argv[0]`) into a [`Config`].
pub fn parse(args: &[OsString]) -> Result<Parsed, Error> {
    let argv = std::iter::once(OsString::from("ptyhold")).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                return Ok(Parsed::Print(e.to_string()));
            }
            let msg = common::cli::clap_message(&e);
            // `ptyhold sh`: say where the command goes.
            if let Some(word) = msg
                .strip_prefix("unexpected argument '")
                .and_then(|m| m.split_once('\'').map(|(w, _)| w))
                .filter(|w| !w.starts_with('-'))
            {
                return Err(Error::Usage(format!(
                    "unexpected argument '{word}': the command comes after '--' \
                     (ptyhold [OPTIONS] -- {word} …)"
                )));
            }
            return Err(Error::Usage(msg));
        }
    };
    convert(cli).map(Parsed::Run)
}

fn escape(text: &str) -> Result<u8, Error> {
    pty::parse_escape(text).ok_or_else(|| {
        Error::Usage(format!(
            "invalid escape '{text}': expected a letter (a, ^a)"
        ))
    })
}

/// `UID:GID`, both numbers (a container's root is a subordinate id, not a name).
fn owner(text: &str) -> Result<(u32, u32), Error> {
    let bad = || {
        Error::Usage(format!(
            "invalid owner '{text}': expected UID:GID (numbers)"
        ))
    };
    let (u, g) = text.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u32>()
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or_else(bad)
    };
    Ok((num(u)?, num(g)?))
}

fn convert(cli: Cli) -> Result<Config, Error> {
    let mode = match cli.sub {
        Some(Sub::Attach {
            socket,
            list: true,
            json,
            ..
        })
        | Some(Sub::List { socket, json }) => Mode::List(List { socket, json }),
        Some(Sub::Attach {
            socket,
            tty,
            escape: e,
            force,
            ..
        }) => Mode::Attach(Attach {
            socket,
            tty,
            escape: escape(&e)?,
            force,
        }),
        None => {
            let h = cli.hold;
            let log_size = common::units::parse_size(&h.log_size)
                .map_err(|e| Error::Usage(format!("--log-size: {e}")))?;
            if log_size == 0 {
                return Err(Error::Usage(
                    "--log-size: the log needs at least one byte".to_owned(),
                ));
            }
            // The command's fds 3.. are the ttys (or the socket of --receive-ttys): a
            // descriptor passed on must be above them.
            let slots = if h.receive_ttys.is_some() {
                1
            } else {
                i32::from(h.ttys)
            };
            for &fd in &h.pass_fd {
                if fd < 3 + slots {
                    return Err(Error::Usage(format!(
                        "--pass-fd {fd}: fds 0 to {} are the console's and the ttys'",
                        2 + slots
                    )));
                }
            }
            Mode::Hold(Hold {
                command: h.command,
                ttys: h.ttys,
                receive_ttys: h.receive_ttys,
                pass_fds: h.pass_fd,
                owner: h.owner.as_deref().map(owner).transpose()?,
                socket: h.socket,
                log: h.log,
                log_size,
                pidfile: h.pidfile,
                status_fd: h.status_fd,
                daemon: h.daemon,
                no_ctty: h.no_ctty,
                foreground: h.foreground,
                escape: escape(&h.escape)?,
            })
        }
    };
    Ok(Config {
        verbose: cli.verbose,
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Parsed, Error> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args)
    }

    fn config(args: &[&str]) -> Config {
        match parse_strs(args) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        match parse_strs(args) {
            Err(Error::Usage(m)) => m,
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn hold_defaults() {
        let c = config(&["--", "sh", "-c", "echo hi"]);
        assert_eq!(c.verbose, 0);
        let Mode::Hold(h) = c.mode else {
            panic!("not hold")
        };
        assert_eq!(h.command, ["sh", "-c", "echo hi"]);
        assert_eq!(h.ttys, 0);
        assert_eq!(h.log_size, 1 << 20);
        assert_eq!(h.escape, 1);
        assert!(!h.daemon && !h.foreground);
        assert_eq!(
            (h.socket, h.log, h.pidfile, h.owner),
            (None, None, None, None)
        );
    }

    #[test]
    fn hold_options() {
        let c = config(&[
            "-d",
            "-vv",
            "--ttys",
            "4",
            "--owner",
            "100000:100005",
            "--socket",
            "/run/c.sock",
            "--log",
            "/var/log/c",
            "--log-size",
            "64K",
            "--pidfile",
            "/run/c.pid",
            "--",
            "/sbin/init",
            "--debug",
        ]);
        assert_eq!(c.verbose, 2);
        let Mode::Hold(h) = c.mode else {
            panic!("not hold")
        };
        assert_eq!(h.command, ["/sbin/init", "--debug"]);
        assert_eq!(h.ttys, 4);
        assert_eq!(h.owner, Some((100_000, 100_005)));
        assert_eq!(h.socket, Some(PathBuf::from("/run/c.sock")));
        assert_eq!(h.log_size, 64 << 10);
        assert!(h.daemon);
    }

    #[test]
    fn attach_and_list() {
        let c = config(&["attach", "/run/c.sock", "-t", "2", "-e", "^b", "--force"]);
        assert_eq!(
            c.mode,
            Mode::Attach(Attach {
                socket: "/run/c.sock".into(),
                tty: 2,
                escape: 2,
                force: true
            })
        );
        let c = config(&["attach", "/run/c.sock"]);
        assert_eq!(
            c.mode,
            Mode::Attach(Attach {
                socket: "/run/c.sock".into(),
                tty: 0,
                escape: 1,
                force: false
            })
        );
        let list = Mode::List(List {
            socket: "/s".into(),
            json: true,
        });
        assert_eq!(config(&["list", "/s", "--json"]).mode, list);
        assert_eq!(config(&["attach", "/s", "--list", "--json"]).mode, list);
        assert_eq!(config(&["list", "/s", "--json", "-v"]).verbose, 1);
    }

    #[test]
    fn usage_errors() {
        assert!(usage(&[]).contains("COMMAND"), "{}", usage(&[]));
        assert_eq!(
            usage(&["sh"]),
            "unexpected argument 'sh': the command comes after '--' (ptyhold [OPTIONS] -- sh …)"
        );
        assert!(usage(&["--ttys", "65", "--", "sh"]).contains("65"));
        assert_eq!(
            usage(&["--owner", "root:0", "--", "sh"]),
            "invalid owner 'root:0': expected UID:GID (numbers)"
        );
        assert_eq!(
            usage(&["--log-size", "0", "--", "sh"]),
            "--log-size: the log needs at least one byte"
        );
        assert!(usage(&["--log-size", "1X", "--", "sh"]).starts_with("--log-size: invalid size"));
        assert_eq!(
            usage(&["attach", "/s", "-e", "1"]),
            "invalid escape '1': expected a letter (a, ^a)"
        );
        assert!(usage(&["-d", "-F", "--", "sh"]).contains("cannot be used with"));
        assert!(usage(&["--ttys", "1", "attach", "/s"]).contains("attach"));
        assert!(usage(&["attach", "/s", "--json"]).contains("--list"));
    }

    #[test]
    fn client_forms_are_recognised() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(is_client(&v(&["attach", "/s"])));
        assert!(is_client(&v(&["-v", "list", "/s"])));
        assert!(!is_client(&v(&["--", "attach"])));
        assert!(!is_client(&v(&["-d", "--", "sh"])));
    }

    #[test]
    fn help_and_version_are_printed() {
        assert!(matches!(parse_strs(&["--help"]), Ok(Parsed::Print(t)) if t.contains("Example")));
        assert!(
            matches!(parse_strs(&["--version"]), Ok(Parsed::Print(t)) if t.starts_with("ptyhold "))
        );
        command().debug_assert();
    }
}
