//! Run a command with a time-out and collect what a test asserts on: the exit code as a
//! shell reports it (128+N for signal N), standard output and standard error.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished command left.
#[derive(Debug)]
pub struct Output {
    /// Exit code, or 128+N when killed by signal N.
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// The signal that ended it, when one did (then `code` is 128+N).
    pub signal: Option<i32>,
}

impl Output {
    /// Panic with the whole output unless the code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code; output:\n{self}");
        self
    }

    /// Panic unless the command succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }
}

impl Output {
    /// Panic unless this is a refusal in one clear line on stderr, `TOOL: …` saying
    /// `says` (a usage error may add GNU's and util-linux's "Try 'TOOL --help'" line),
    /// nothing on stdout, exit `code`; `case` names it in the panic.
    #[track_caller]
    pub fn one_line(&self, tool: &str, code: i32, says: &str, case: &str) {
        assert_eq!(self.code, code, "{case}: {self}");
        assert_eq!(self.stdout, "", "{case}: {self}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines
                .first()
                .is_some_and(|l| l.starts_with(&format!("{tool}: ")) && l.contains(says)),
            "{case}: {self}"
        );
        let try_help = format!("Try '{tool} --help' for more information.");
        assert!(
            lines.len() == 1 || (lines.len() == 2 && lines[1] == try_help),
            "{case}: more than one line: {self}"
        );
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "code {}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A `Command` for `program` with stdin closed (tests never wait for input).
pub fn cmd(program: impl AsRef<Path>) -> Command {
    let mut c = Command::new(program.as_ref());
    c.stdin(Stdio::null());
    c
}

/// Run with the default time-out of 60 s.
pub fn run(command: &mut Command) -> Output {
    run_with_timeout(command, Duration::from_secs(60))
}

/// Run `command`, killing it (and failing the test) when it outlives `limit`.
pub fn run_with_timeout(command: &mut Command, limit: Duration) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let Some(status) = wait_bounded(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} did not finish within {limit:?}");
    };
    let stdout = String::from_utf8_lossy(&t_out.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().expect("stderr reader")).into_owned();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Output {
        code,
        stdout,
        stderr,
        signal: status.signal(),
    }
}

/// Wait for `child` to end; `None` when it is still running after `limit`.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if start.elapsed() > limit {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// A command left running while a test looks at it, with every wait bounded: a test that
/// fails hangs no more. The child is killed (through its handle, never by a PID that
/// may have been reused) when the `Background` is dropped.
#[derive(Debug)]
pub struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Background {
    /// Start `command` with stdin and stdout piped (stderr inherited).
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line of its stdout (without the newline); panics after `limit`.
    #[track_caller]
    pub fn line(&mut self, limit: Duration) -> String {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no output line within {limit:?}: {e}"))
    }

    /// Write to its stdin.
    pub fn send(&mut self, data: &[u8]) {
        use std::io::Write;
        self.child
            .stdin
            .as_mut()
            .expect("stdin")
            .write_all(data)
            .expect("write to stdin");
    }

    /// Wait for it to end; panics after `limit`.
    #[track_caller]
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let Some(status) = wait_bounded(&mut self.child, limit) else {
            panic!("did not end within {limit:?}");
        };
        status
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a command stopped by a signal left (see [`interrupt_at_line`]).
#[derive(Debug)]
pub struct Interrupted {
    /// Its exit status (128+N for a death by signal N).
    pub code: i32,
    /// The trace lines (`-v`: those holding `) = `) it printed.
    pub lines: usize,
    /// Its standard error.
    pub stderr: String,
}

/// Run `command` (traced with `-v`, stdin and stdout null) and send it `signal` when its
/// `after`-th trace line appears on standard error: a point within its run, since a line
/// is printed right after its call. `after` beyond the last line sends nothing.
pub fn interrupt_at_line(
    mut command: Command,
    after: usize,
    signal: nix::sys::signal::Signal,
) -> Interrupted {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command to interrupt");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut stderr = String::new();
    let mut lines = 0;
    let mut sent = false;
    loop {
        let mut line = String::new();
        match err.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                stderr.push_str(&line);
                if line.contains(") = ") {
                    lines += 1;
                }
                if !sent && lines >= after {
                    let _ = nix::sys::signal::kill(pid, signal);
                    sent = true;
                }
            }
        }
    }
    let status = child.wait().expect("wait");
    Interrupted {
        code: status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        lines,
        stderr,
    }
}
