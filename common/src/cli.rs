//! What every tool's command line and `main` share: clap errors as one getopt-style
//! line, GNU quoting, getopt_long's option table and prefix matching for the tools that
//! scan arguments before clap (chroot-rs, nsenter-rs), and the main scaffold — parse,
//! trace, run, then one exit policy for errors, signals and standard output.
//!
//! A tool's `main` is a call to [`main`]:
//!
//! ```ignore
//! fn main() {
//!     common::cli::main(TOOL, exit::CANCELED, |args, out| {
//!         match cli::parse(args)? {
//!             Parsed::Print(text) => Ok(common::cli::print(out, &text)),
//!             Parsed::Run(cfg) => { trace::init(TOOL, cfg.verbose); tool::run(&cfg, out) }
//!         }
//!     })
//! }
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{self, BufWriter, StdoutLock, Write};

use clap::FromArgMatches;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use nix::sys::signal::Signal;

use crate::{exit, sys};

/// What a command line asked for.
#[derive(Debug)]
pub enum Parsed<C> {
    /// Run with this configuration.
    Run(C),
    /// Print this text on stdout and exit 0 (`--help`, `--version`).
    Print(String),
}

/// `s` in single quotes, as GNU tools quote names in messages: `'/srv/lab'`.
pub fn quote(s: impl AsRef<OsStr>) -> String {
    format!("'{}'", s.as_ref().to_string_lossy())
}

/// Run clap on `argv` (argv[0] included): help and version become [`Parsed::Print`],
/// errors one line ([`clap_message`]).
pub fn parse_clap<T: FromArgMatches>(
    cmd: clap::Command,
    argv: &[OsString],
) -> Result<Parsed<T>, String> {
    match cmd.try_get_matches_from(argv) {
        Ok(m) => T::from_arg_matches(&m)
            .map(Parsed::Run)
            .map_err(|e| clap_message(&e)),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                Ok(Parsed::Print(e.render().to_string()))
            }
            _ => Err(clap_message(&e)),
        },
    }
}

/// One line for a clap error, in getopt's words where getopt has them: `unrecognized
/// option '--x'`, `invalid option -- 'x'`; otherwise clap's first line without its
/// `error: ` prefix, joined with the line that completes it ("the following required
/// arguments were not provided: <NAME>").
pub fn clap_message(err: &clap::Error) -> String {
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match (err.kind(), arg) {
        (ErrorKind::UnknownArgument, Some(a)) if a.starts_with("--") => {
            let name = a.split('=').next().unwrap_or(&a);
            format!("unrecognized option '{name}'")
        }
        (ErrorKind::UnknownArgument, Some(a)) if a.starts_with('-') && a.len() > 1 => {
            let c = a.trim_start_matches('-').chars().next().unwrap_or('?');
            format!("invalid option -- '{c}'")
        }
        _ => {
            let text = err.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            match (first.strip_suffix(':'), lines.next()) {
                (Some(head), Some(next)) if !next.starts_with("Usage:") => {
                    format!("{head}: {next}")
                }
                _ => first.to_owned(),
            }
        }
    }
}

// ---------------------------------------------------------------- getopt_long

/// One option of a clap command, as a getopt-style scan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// `-x`.
    pub short: Option<char>,
    /// `--name`.
    pub long: Option<String>,
    /// A value is required (a separate word when not attached).
    pub required_value: bool,
    /// A value is optional (attached with `=` only).
    pub optional_value: bool,
}

/// The options of `cmd`, `--help` and `--version` included.
pub fn options(cmd: &clap::Command) -> Vec<Opt> {
    let mut cmd = cmd.clone();
    cmd.build();
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .map(|a| {
            let range = a.get_num_args().unwrap_or_default();
            let takes = a.get_action().takes_values();
            Opt {
                short: a.get_short(),
                long: a.get_long().map(str::to_owned),
                required_value: takes && range.min_values() > 0,
                optional_value: takes && range.min_values() == 0,
            }
        })
        .collect()
}

/// getopt_long's choice for `--name`: the exact option, else the only one `name`
/// prefixes; the error is getopt's message.
pub fn find_long<'a>(opts: &'a [Opt], name: &str) -> Result<&'a Opt, String> {
    if let Some(o) = opts.iter().find(|o| o.long.as_deref() == Some(name)) {
        return Ok(o);
    }
    let matches: Vec<&Opt> = opts
        .iter()
        .filter(|o| o.long.as_deref().is_some_and(|l| l.starts_with(name)))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unrecognized option '--{name}'")),
        many => {
            let list: Vec<String> = many
                .iter()
                .filter_map(|o| o.long.as_deref())
                .map(|l| format!("'--{l}'"))
                .collect();
            Err(format!(
                "option '--{name}' is ambiguous; possibilities: {}",
                list.join(" ")
            ))
        }
    }
}

// ---------------------------------------------------------------- main

/// How a tool's run ended when it did not become another program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with this code.
    Exit(i32),
    /// Die of this signal, as the command it waited for did.
    Signal(Signal),
}

impl From<crate::supervise::Ended> for Outcome {
    fn from(e: crate::supervise::Ended) -> Self {
        match e {
            crate::supervise::Ended::Exited(code) => Outcome::Exit(code),
            crate::supervise::Ended::Signaled(sig) => Outcome::Signal(sig),
        }
    }
}

/// What [`main`] needs of a tool's error type.
pub trait Failure: std::error::Error + 'static {
    /// The exit code for this error.
    fn exit_code(&self) -> i32;
    /// True for a command-line error: "Try 'TOOL --help' for more information." follows.
    fn is_usage(&self) -> bool {
        false
    }
    /// True when another process of the tool (a forked child or helper) already printed
    /// the message: only the exit code remains.
    fn reported(&self) -> bool {
        false
    }
}

/// Standard output as every tool writes it: buffered, and remembering its first error.
/// A write error is returned to the writer (so a loop stops) and decided by [`main`]:
/// a closed pipe (`tool list | head -1`) ends quietly and successfully; any other
/// (`tool --help >/dev/full`) is reported as `tool: write error: …` with the tool's
/// failure status, as GNU tools do.
#[derive(Debug)]
pub struct Out {
    inner: BufWriter<StdoutLock<'static>>,
    error: Option<io::ErrorKind>,
    errno: Option<i32>,
}

impl Out {
    fn new() -> Out {
        Out {
            inner: BufWriter::new(io::stdout().lock()),
            error: None,
            errno: None,
        }
    }

    fn record(&mut self, e: io::Error) -> io::Error {
        if self.error.is_none() {
            self.error = Some(e.kind());
            self.errno = e.raw_os_error();
        }
        e
    }

    /// True once a write failed.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.record(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.record(e))
    }
}

/// Write `text` (help, version) to `out`: success, unless the write fails, which `out`
/// records for [`main`] to report.
pub fn print(out: &mut Out, text: &str) -> Outcome {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Outcome::Exit(exit::SUCCESS)
}

/// The main scaffold of every tool: run `body` with the arguments (without argv[0]) and
/// standard output, then end the process by one policy.
///
/// - A failed write to stdout: nothing more for a closed pipe (exit 0 unless the run
///   failed otherwise), else `tool: write error: CAUSE` and `write_failure` (125 for
///   GNU-style chain-loaders, 1 for the others).
/// - `Err(e)`: `tool: message` (and the `Try` line for usage errors), `e.exit_code()`.
/// - `Outcome::Signal(sig)`: die of `sig` (128+N if it does not end us).
pub fn main<E: Failure>(
    tool: &'static str,
    write_failure: i32,
    body: impl FnOnce(&[OsString], &mut Out) -> Result<Outcome, E>,
) -> ! {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut out = Out::new();
    let result = body(&args, &mut out);
    let _ = out.flush();
    let code = match (out.error, result) {
        // A failed write decides: the tool's own error, if any, came from it.
        (Some(kind), _) if kind != io::ErrorKind::BrokenPipe => {
            let cause = out.errno.map_or_else(
                || io::Error::from(kind).to_string(),
                |n| nix::errno::Errno::from_raw(n).desc().to_owned(),
            );
            eprintln!("{tool}: write error: {cause}");
            write_failure
        }
        // A closed pipe: the reader has what it wanted.
        (Some(_), _) => exit::SUCCESS,
        (None, Ok(Outcome::Exit(code))) => code,
        (None, Ok(Outcome::Signal(sig))) => {
            sys::die_of(sig);
            exit::signal_status(sig)
        }
        (None, Err(e)) => {
            if !e.reported() {
                exit::report(tool, &e);
            }
            if e.is_usage() {
                eprintln!("Try '{tool} --help' for more information.");
            }
            e.exit_code()
        }
    };
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// A small command for the tests.
    #[derive(Debug, Parser)]
    #[command(name = "t", version)]
    struct T {
        #[arg(long)]
        skip_chdir: bool,
        #[arg(long)]
        sys: bool,
        #[arg(short = 'n', long, num_args = 0..=1, require_equals = true)]
        net: Option<Option<String>>,
        #[arg(short = 'u', long)]
        userspec: Option<String>,
        name: Option<String>,
    }

    fn argv(v: &[&str]) -> Vec<OsString> {
        std::iter::once("t")
            .chain(v.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn getopt_messages() {
        let m = |v: &[&str]| match parse_clap::<T>(T::command(), &argv(v)) {
            Err(m) => m,
            other => panic!("{v:?}: {other:?}"),
        };
        assert_eq!(m(&["--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(m(&["--bogus=1"]), "unrecognized option '--bogus'");
        assert_eq!(m(&["-x"]), "invalid option -- 'x'");
        assert!(
            m(&["--userspec"]).contains("--userspec"),
            "{}",
            m(&["--userspec"])
        );
        assert!(matches!(
            parse_clap::<T>(T::command(), &argv(&["--help"])),
            Ok(Parsed::Print(_))
        ));
        assert!(matches!(
            parse_clap::<T>(T::command(), &argv(&["--version"])),
            Ok(Parsed::Print(_))
        ));
    }

    #[test]
    fn long_option_prefixes() {
        let opts = options(&T::command());
        assert_eq!(
            find_long(&opts, "user").unwrap().long.as_deref(),
            Some("userspec")
        );
        assert_eq!(
            find_long(&opts, "sys").unwrap().long.as_deref(),
            Some("sys")
        );
        assert_eq!(
            find_long(&opts, "s").unwrap_err(),
            "option '--s' is ambiguous; possibilities: '--skip-chdir' '--sys'"
        );
        assert_eq!(
            find_long(&opts, "nope").unwrap_err(),
            "unrecognized option '--nope'"
        );
        let net = find_long(&opts, "net").unwrap();
        assert!(net.optional_value && !net.required_value);
        let user = find_long(&opts, "userspec").unwrap();
        assert!(user.required_value && user.short == Some('u'));
        assert!(find_long(&opts, "help").is_ok() && find_long(&opts, "vers").is_ok());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/srv/lab"), "'/srv/lab'");
    }
}
