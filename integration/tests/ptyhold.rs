//! ptyhold end to end: a held shell driven through `ptyhold attach` with pipes (as an
//! expect-style script would), lxc-console's keys and lines, ttys on fds 3 and up, the
//! window size and raw mode through `script`'s pty, the bounded log, exit statuses,
//! signals, `-d` (success only after the start, a failed start reported and nothing
//! left), busy ttys and take-over, the list, `--owner`.
//!
//! Every holder runs in its own temporary directory (socket, pidfile, log) and is ended
//! by a guard that kills it and the command it holds (recognised by its start time,
//! never a reused PID). Waits are bounded polls, never a sleep taken as an assertion.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use integration::{bin, cmd, require_root, run, tempdir};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// The bound on every wait: a failing test ends, a passing one never comes near it.
const LIMIT: Duration = Duration::from_secs(20);

/// lxc-console's lines, as ptyhold attach prints them on stderr.
fn hint(tty: u32) -> String {
    format!(
        "\nConnected to tty {tty}\nType <Ctrl+a q> to exit the console, \
         <Ctrl+a Ctrl+a> to enter Ctrl+a itself\n"
    )
}

fn ptyhold() -> Command {
    cmd(bin("ptyhold"))
}

fn code_of(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The start time of a process (field 22 of /proc/PID/stat), to recognise it later.
fn start_time(pid: i32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_owned)
}

/// True once the process has ended (gone, or a zombie waiting for its reaper).
fn is_dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s == "Z" || s == "X"),
    }
}

/// The parent of a process (PPid in /proc/PID/status).
fn parent_of(pid: i32) -> Option<i32> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Wait (bounded by LIMIT, not a timing assertion) for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kill `pid` if it is still the process that started at `started`.
fn kill_if_same(pid: i32, started: Option<&String>) {
    if started.is_some() && start_time(pid).as_ref() == started {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// PIDs of live processes whose command line mentions `needle` (a unique path).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid) == Ok(std::process::id()) || is_dead(pid) {
            continue;
        }
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

// ---- reading a child's output as it comes ----

/// What a reader thread has collected, and whether the stream has ended.
type Shared = Arc<(Mutex<(Vec<u8>, bool)>, Condvar)>;

/// A child's output stream, collected by a thread; `expect` waits for a string in it.
struct Stream {
    shared: Shared,
    seen: usize,
}

impl Stream {
    fn new(mut from: impl Read + Send + 'static) -> Self {
        let shared: Shared = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let writer = Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = from.read(&mut buf).unwrap_or(0);
                let (lock, cond) = &*writer;
                let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
                if n == 0 {
                    state.1 = true;
                    cond.notify_all();
                    return;
                }
                state.0.extend_from_slice(&buf[..n]);
                cond.notify_all();
            }
        });
        Self { shared, seen: 0 }
    }

    /// Wait for `needle` after what earlier calls consumed; returns the text up to the
    /// end of it.
    #[track_caller]
    fn expect(&mut self, needle: &str) -> String {
        let (lock, cond) = &*self.shared;
        let deadline = Instant::now() + LIMIT;
        let mut state = lock.lock().unwrap();
        loop {
            let text = String::from_utf8_lossy(&state.0[self.seen..]).into_owned();
            if let Some(at) = text.find(needle) {
                let upto = at + needle.len();
                self.seen += text[..upto].len();
                return text[..upto].to_owned();
            }
            let now = Instant::now();
            assert!(
                now < deadline && !state.1,
                "no {needle:?} in the output (ended: {}): {text:?}",
                state.1
            );
            state = cond.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Everything so far.
    fn all(&self) -> String {
        let state = self.shared.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&state.0).into_owned()
    }

    /// Wait for the end of the stream; everything.
    fn until_end(&self) -> String {
        let (lock, cond) = &*self.shared;
        let deadline = Instant::now() + LIMIT;
        let mut state = lock.lock().unwrap();
        while !state.1 {
            let now = Instant::now();
            assert!(now < deadline, "the stream did not end");
            state = cond.wait_timeout(state, deadline - now).unwrap().0;
        }
        String::from_utf8_lossy(&state.0).into_owned()
    }
}

/// A process with piped stdin, stdout and stderr (an attach, or a terminal under
/// `script`); killed through its handle when dropped.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Stream,
    err: Stream,
}

impl Session {
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stdin = child.stdin.take();
        let out = Stream::new(child.stdout.take().expect("stdout"));
        let err = Stream::new(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdin,
            out,
            err,
        }
    }

    /// `ptyhold attach SOCKET ARGS…`.
    fn attach(socket: &Path, args: &[&str]) -> Self {
        Self::spawn(ptyhold().arg("attach").arg(socket).args(args))
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a PID fits in i32")
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("write to the session");
        stdin.flush().expect("flush");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    #[track_caller]
    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return code_of(status);
            }
            assert!(
                Instant::now() < deadline,
                "the session did not end; stdout: {:?} stderr: {:?}",
                self.out.all(),
                self.err.all()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a held command ----

/// A holder started by the test in the foreground (stdin /dev/null, so no -F), with a
/// socket and a pidfile in a temporary directory. Dropping it kills the holder and the
/// command.
struct Held {
    child: Child,
    err: Stream,
    dir: tempfile::TempDir,
    socket: PathBuf,
    pid: i32,
    started: Option<String>,
}

impl Held {
    /// `ptyhold --socket S --pidfile P ARGS… -- COMMAND…`, once the command runs.
    fn start(args: &[&str], command: &[&str]) -> Self {
        let dir = tempdir();
        let socket = dir.path().join("console.sock");
        let pidfile = dir.path().join("command.pid");
        let mut child = ptyhold()
            .arg("--socket")
            .arg(&socket)
            .arg("--pidfile")
            .arg(&pidfile)
            .args(args)
            .arg("--")
            .args(command)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ptyhold");
        let err = Stream::new(child.stderr.take().expect("stderr"));
        let mut held = Self {
            child,
            err,
            dir,
            socket,
            pid: 0,
            started: None,
        };
        wait_for("the pidfile", || {
            assert!(
                held.child.try_wait().unwrap().is_none(),
                "ptyhold ended early: {}",
                held.err.all()
            );
            fs::read_to_string(&pidfile).is_ok_and(|t| t.ends_with('\n'))
        });
        held.pid = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        held.started = start_time(held.pid);
        held
    }

    /// A path in the holder's directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn holder_pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a PID fits in i32")
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    #[track_caller]
    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return code_of(status);
            }
            assert!(
                Instant::now() < deadline,
                "the holder did not end: {}",
                self.err.all()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `ptyhold list SOCKET --json`, parsed.
    fn list(&self) -> Vec<Value> {
        let out = run(ptyhold().arg("list").arg(&self.socket).arg("--json"));
        out.ok();
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    /// The holder has ended and left nothing: no socket, no pidfile, no command.
    #[track_caller]
    fn assert_clean(&self) {
        assert!(!self.socket.exists(), "the socket is left");
        assert!(!self.path("command.pid").exists(), "the pidfile is left");
        wait_for("the command's end", || is_dead(self.pid));
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_if_same(self.pid, self.started.as_ref());
    }
}

/// An interactive shell on the console.
const SHELL: [&str; 2] = ["sh", "-i"];

// ---- the tests ----

#[test]
fn attach_runs_commands_and_ctrl_a_q_detaches() {
    let mut held = Held::start(&[], &SHELL);
    let mut a = Session::attach(&held.socket, &[]);
    a.send(b"echo hi-$((6*7))\n");
    a.out.expect("hi-42");
    // lxc-console's two lines, on stderr, a blank line first.
    assert_eq!(a.err.expect("itself\n"), hint(0));
    // The list shows the client by its PID.
    let list = held.list();
    assert_eq!(list[0]["attached"], true);
    assert_eq!(list[0]["client_pid"], a.pid());
    a.send(b"\x01q");
    assert_eq!(a.wait(), 0);
    assert_eq!(a.err.until_end(), hint(0), "nothing more on stderr");
    // The command goes on, and the tty is free again.
    assert!(held.running());
    wait_for("the detach", || held.list()[0]["attached"] == false);
    let mut b = Session::attach(&held.socket, &[]);
    b.send(b"exit 3\n");
    assert_eq!(held.wait(), 3);
    // The client learns the end: it exits 0.
    assert_eq!(b.wait(), 0);
    held.assert_clean();
}

#[test]
fn ctrl_a_ctrl_a_sends_one_ctrl_a() {
    let mut held = Held::start(&[], &SHELL);
    let mut a = Session::attach(&held.socket, &[]);
    a.send(b"od -An -tx1 -N3\n");
    a.out.expect("od -An -tx1 -N3");
    // Ctrl+a Ctrl+a is one Ctrl+a; Ctrl+a x is x alone (as lxc-console).
    a.send(b"\x01\x01\x01x\n");
    a.out.expect(" 01 78 0a");
    a.send(b"exit\n");
    assert_eq!(held.wait(), 0);
    held.assert_clean();
}

#[test]
fn the_escape_letter_can_be_changed() {
    let mut held = Held::start(&[], &SHELL);
    let mut a = Session::attach(&held.socket, &["-e", "^b"]);
    a.send(b"od -An -tx1 -N2\n");
    a.out.expect("od -An -tx1 -N2");
    // Ctrl+a passes as it is now; Ctrl+b Ctrl+b is one Ctrl+b.
    a.send(b"\x01\x02\x02\n");
    a.out.expect(" 01 02");
    assert!(a.err.expect("itself\n").contains("<Ctrl+b q>"));
    a.send(b"\x02q");
    assert_eq!(a.wait(), 0);
    assert!(held.running());
}

#[test]
fn end_of_input_detaches_and_the_command_goes_on() {
    let mut held = Held::start(&[], &SHELL);
    let marker = held.path("marker");
    let mut a = Session::attach(&held.socket, &[]);
    a.send(format!("touch {}\n", marker.display()).as_bytes());
    a.close_stdin();
    assert_eq!(a.wait(), 0);
    wait_for("the command's effect", || marker.exists());
    assert!(held.running());
}

#[test]
fn tty_n_is_fd_2_plus_n() {
    // The console runs a shell; a second shell gets tty 1 (fd 3) as its controlling
    // terminal in its own session, as a getty would.
    let mut held = Held::start(
        &["--ttys", "2"],
        &["sh", "-c", "setsid -c sh -i <&3 >&3 2>&3 & exec sh -i"],
    );
    let list = held.list();
    assert_eq!(list.len(), 3);
    let mut a = Session::attach(&held.socket, &["-t", "1"]);
    assert_eq!(a.err.expect("itself\n"), hint(1));
    a.send(b"echo T=$PTYHOLD_TTYS; tty\n");
    a.out.expect("T=2");
    a.out.expect("\n");
    let tty_line = a.out.expect("\n");
    assert_eq!(
        tty_line.trim(),
        list[1]["pts"],
        "tty 1 is {}",
        list[1]["pts"]
    );
    a.send(b"\x01q");
    assert_eq!(a.wait(), 0);
    // No tty 3.
    let out = run(ptyhold().arg("attach").arg(&held.socket).args(["-t", "3"]));
    out.expect_code(1);
    assert_eq!(
        out.stderr,
        format!(
            "ptyhold: tty 3 does not exist: '{}' holds the console (tty 0) and ttys 1 to 2\n",
            held.socket.display()
        )
    );
    assert!(held.running());
}

#[test]
fn the_command_gets_the_console_on_0_to_2_the_ttys_from_3_and_nothing_else() {
    let dir = tempdir();
    let log = dir.path().join("console.log");
    // An extra descriptor (7) in ptyhold's hands must not reach the command.
    let script = format!(
        "exec 7</dev/null; exec {} --ttys 2 --log {} -- sh -c '{}'",
        bin("ptyhold").display(),
        log.display(),
        // First, and with nothing redirected: the shell itself has opened nothing yet.
        "ls -l /proc/$$/fd; \
         echo sid=$(cut -d\" \" -f6 /proc/$$/stat) pid=$$; \
         echo tty_nr=$(cut -d\" \" -f7 /proc/$$/stat); \
         echo T=$PTYHOLD_TTYS; env | grep -c ^PTYHOLD_",
    );
    run(cmd("sh").args(["-c", &script])).ok();
    let text = fs::read_to_string(&log).unwrap().replace('\r', "");
    // `lrwx------ 1 root root 64 Dec  6 04:00 0 -> /dev/pts/2`
    let mut fds: Vec<(u32, String)> = text
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(left, target)| {
            let n = left.rsplit(' ').next().unwrap();
            (n.parse().unwrap(), target.to_owned())
        })
        .collect();
    fds.sort();
    let numbers: Vec<u32> = fds.iter().map(|f| f.0).collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4], "{text}");
    assert!(fds[0].1.starts_with("/dev/pts/"), "{text}");
    assert_eq!(fds[1].1, fds[0].1);
    assert_eq!(fds[2].1, fds[0].1);
    assert!(fds[3].1.starts_with("/dev/pts/") && fds[3].1 != fds[0].1);
    assert!(fds[4].1.starts_with("/dev/pts/") && fds[4].1 != fds[3].1);
    // A session leader with a controlling terminal.
    let line = text.lines().find(|l| l.starts_with("sid=")).unwrap();
    let (sid, pid) = line.split_once(' ').unwrap();
    assert_eq!(sid.strip_prefix("sid="), pid.strip_prefix("pid="));
    assert!(!text.contains("tty_nr=0\n"), "{text}");
    assert!(text.contains("T=2\n1\n"), "{text}");
}

#[test]
fn no_ctty_leaves_the_console_free_for_a_getty_inside() {
    let dir = tempdir();
    let log = dir.path().join("console.log");
    // The command leads its session without a terminal; a child in a session of its own
    // (as a container's getty) can then make the console its controlling terminal, and
    // without the privilege to steal it from another session (as in a user namespace).
    let script = format!(
        "exec {} --no-ctty --log {} -- sh -c '{}'",
        bin("ptyhold").display(),
        log.display(),
        "echo sid=$(cut -d\" \" -f6 /proc/$$/stat) pid=$$; \
         echo tty_nr=$(cut -d\" \" -f7 /proc/$$/stat); \
         setpriv --reuid=65534 --regid=65534 --clear-groups \
           setsid -c sh -c \"echo getty_tty=\\$(cut -d\\\" \\\" -f7 /proc/self/stat)\"",
    );
    run(cmd("sh").args(["-c", &script])).ok();
    let text = fs::read_to_string(&log).unwrap().replace('\r', "");
    let line = text.lines().find(|l| l.starts_with("sid=")).unwrap();
    let (sid, pid) = line.split_once(' ').unwrap();
    assert_eq!(sid.strip_prefix("sid="), pid.strip_prefix("pid="), "{text}");
    assert!(text.contains("tty_nr=0\n"), "{text}");
    let getty = text
        .lines()
        .find_map(|l| l.strip_prefix("getty_tty="))
        .unwrap_or_else(|| panic!("{text}"));
    assert_ne!(
        getty, "0",
        "the console became the getty's terminal: {text}"
    );
}

#[test]
fn exit_statuses_pass_through() {
    let out = run(ptyhold().args(["--", "sh", "-c", "exit 3"]));
    out.expect_code(3);
    assert_eq!(out.stderr, "");
    run(ptyhold().args(["--", "sh", "-c", "kill -TERM $$"])).expect_code(143);
    let out = run(ptyhold().args(["--", "/nonexistent/command"]));
    out.expect_code(127);
    assert_eq!(
        out.stderr,
        "ptyhold: failed to run command '/nonexistent/command': No such file or directory\n"
    );
    let out = run(ptyhold().args(["--", "/etc/passwd"]));
    out.expect_code(126);
    assert_eq!(
        out.stderr,
        "ptyhold: failed to run command '/etc/passwd': Permission denied\n"
    );
}

#[test]
fn sigterm_to_the_holder_ends_the_command() {
    let mut held = Held::start(&[], &["sleep", "1000"]);
    kill(Pid::from_raw(held.holder_pid()), Signal::SIGTERM).unwrap();
    assert_eq!(held.wait(), 143);
    held.assert_clean();
}

#[test]
fn the_log_is_rotated_and_bounded() {
    let dir = tempdir();
    let log = dir.path().join("console.log");
    let old = dir.path().join("console.log.1");
    run(ptyhold().arg("--log").arg(&log).args([
        "--log-size",
        "4K",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo \"line $i of the console\"; i=$((i+1)); done",
    ]))
    .ok();
    let (now, before) = (fs::read(&log).unwrap(), fs::read(&old).unwrap());
    assert!(now.len() <= 4096, "FILE has {} bytes", now.len());
    assert!(before.len() <= 4096, "FILE.1 has {} bytes", before.len());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    // FILE.1 then FILE: consecutive lines ending with the last one. The output is read
    // in chunks, so FILE.1 may begin inside a line: skip that one.
    let tail = String::from_utf8([before, now].concat()).unwrap();
    let first_whole = usize::from(!tail.starts_with("line "));
    let numbers: Vec<u32> = tail
        .lines()
        .skip(first_whole)
        .map(|l| {
            l.trim_end_matches('\r')
                .strip_prefix("line ")
                .and_then(|l| l.strip_suffix(" of the console"))
                .unwrap_or_else(|| panic!("a cut line: {l:?}"))
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers.last(), Some(&1999));
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(numbers.len() > 100, "only {} lines kept", numbers.len());
}

/// `script` gives the attach a terminal: raw mode, window size.
fn under_script(shell_command: &str) -> Session {
    Session::spawn(cmd("script").args(["-qec", shell_command, "/dev/null"]))
}

#[test]
fn the_window_size_follows_the_attaching_terminal_and_raw_mode_is_restored() {
    let held = Held::start(&[], &SHELL);
    let go = held.path("go");
    let mut t = under_script(&format!(
        "stty rows 33 cols 101; a=$(stty -g); \
         {ptyhold} attach {socket} </dev/tty & \
         while [ ! -e {go} ]; do sleep 0.01; done; stty rows 44 cols 55; echo RESIZED; \
         wait; b=$(stty -g); [ \"$a\" = \"$b\" ] && echo RESTORED",
        ptyhold = bin("ptyhold").display(),
        socket = held.socket.display(),
        go = go.display(),
    ));
    t.send(b"stty size\r");
    t.out.expect("33 101");
    // The terminal is resized (SIGWINCH): the held shell sees the new size.
    fs::write(&go, b"").unwrap();
    t.out.expect("RESIZED");
    t.send(b"stty size\r");
    t.out.expect("44 55");
    t.send(b"\x01q");
    t.out.expect("RESTORED");
    assert_eq!(t.wait(), 0);
}

#[test]
fn sigterm_to_attach_restores_the_terminal() {
    let held = Held::start(&[], &SHELL);
    let mut t = under_script(&format!(
        "a=$(stty -g); {} attach {}; echo rc=$?; b=$(stty -g); [ \"$a\" = \"$b\" ] && echo RESTORED",
        bin("ptyhold").display(),
        held.socket.display()
    ));
    // Only the held shell computes 42: the attach relays.
    t.send(b"echo $((40+2))-relayed\r");
    t.out.expect("42-relayed");
    let client = held.list()[0]["client_pid"].as_i64().unwrap();
    kill(Pid::from_raw(client as i32), Signal::SIGTERM).unwrap();
    t.out.expect("rc=143");
    t.out.expect("RESTORED");
    assert_eq!(t.wait(), 0);
}

#[test]
fn foreground_attaches_the_callers_terminal() {
    let dir = tempdir();
    let socket = dir.path().join("c.sock");
    let mut t = under_script(&format!(
        "{} --socket {} -- sh -c 'sh -i; exit 5'; echo holder-rc=$?",
        bin("ptyhold").display(),
        socket.display()
    ));
    t.out.expect(&hint(0).replace('\n', "\r\n"));
    t.send(b"echo on-the-console\r");
    t.out.expect("on-the-console\r");
    t.send(b"\x01q");
    t.out.expect("detached; the command");
    // The holder goes on until the command ends; another client ends it.
    let mut a = Session::attach(&socket, &[]);
    a.send(b"exit\n");
    t.out.expect("holder-rc=5");
    assert_eq!(a.wait(), 0);
    assert_eq!(t.wait(), 0);
    assert!(!socket.exists());
}

#[test]
fn a_busy_tty_is_refused_and_force_takes_it_over() {
    let mut held = Held::start(&[], &SHELL);
    let mut first = Session::attach(&held.socket, &[]);
    first.send(b"echo first\n");
    first.out.expect("first\r\n");
    let out = run(ptyhold().arg("attach").arg(&held.socket));
    out.expect_code(1);
    assert!(
        out.stderr.ends_with(
            "ptyhold: tty 0 is busy: another client is attached (--force takes it over)\n"
        ),
        "{out}"
    );
    let mut second = Session::attach(&held.socket, &["--force"]);
    assert_eq!(first.wait(), 0);
    assert!(
        first
            .err
            .until_end()
            .ends_with("ptyhold: tty 0 was taken over by another client\n")
    );
    second.send(b"echo second\n");
    second.out.expect("second\r\n");
    second.send(b"exit 4\n");
    assert_eq!(held.wait(), 4);
    held.assert_clean();
}

#[test]
fn daemon_returns_once_the_command_runs() {
    let dir = tempdir();
    let socket = dir.path().join("c.sock");
    let pidfile = dir.path().join("c.pid");
    let out = run(ptyhold()
        .arg("-d")
        .arg("--socket")
        .arg(&socket)
        .arg("--pidfile")
        .arg(&pidfile)
        .args(["--", "sleep", "1000"]));
    // The socket and pidfile exist when -d returns.
    let pid: i32 = fs::read_to_string(&pidfile)
        .map(|t| t.trim().parse().unwrap())
        .unwrap_or(0);
    let started = start_time(pid);
    let holder = parent_of(pid).unwrap_or(0);
    let holder_started = start_time(holder);
    let _cleanup = integration::Guard::new(move || {
        kill_if_same(holder, holder_started.as_ref());
        kill_if_same(pid, started.as_ref());
    });
    out.ok();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    assert!(pid > 0);
    assert_eq!(
        fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap()
            .starts_with("sleep\0")
    );
    // The holder is the command's parent, runs detached (it leads its own session, soon
    // after the caller has returned), and ends the command on SIGTERM.
    wait_for("the holder's own session", || {
        let stat = fs::read_to_string(format!("/proc/{holder}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        fields.get(3) == Some(&holder.to_string().as_str())
    });
    kill(Pid::from_raw(holder), Signal::SIGTERM).unwrap();
    wait_for("the holder's end", || is_dead(holder) && is_dead(pid));
    wait_for("the socket's removal", || !socket.exists());
    assert!(!pidfile.exists());
}

#[test]
fn daemon_reports_a_failed_start_and_leaves_nothing() {
    let dir = tempdir();
    let socket = dir.path().join("c.sock");
    let pidfile = dir.path().join("c.pid");
    let out = run(ptyhold()
        .arg("-d")
        .arg("--socket")
        .arg(&socket)
        .arg("--pidfile")
        .arg(&pidfile)
        .args(["--", "/nonexistent/init"]));
    out.expect_code(127);
    assert_eq!(
        out.stderr,
        "ptyhold: failed to run command '/nonexistent/init': No such file or directory\n"
    );
    assert!(!socket.exists());
    assert!(!pidfile.exists());
    assert_eq!(
        processes_mentioning(&socket.to_string_lossy()),
        Vec::<i32>::new()
    );
    // A set-up failure too (the log's directory is missing): 125, nothing left.
    let out = run(ptyhold()
        .arg("-d")
        .arg("--socket")
        .arg(&socket)
        .arg("--log")
        .arg(dir.path().join("missing/log"))
        .args(["--", "sleep", "1000"]));
    out.expect_code(125);
    assert!(
        out.stderr.starts_with("ptyhold: cannot open log '"),
        "{out}"
    );
    assert!(!socket.exists());
    assert_eq!(
        processes_mentioning(&socket.to_string_lossy()),
        Vec::<i32>::new()
    );
}

#[test]
fn a_live_socket_is_refused_and_a_stale_one_replaced() {
    let held = Held::start(&[], &SHELL);
    let out = run(ptyhold()
        .arg("--socket")
        .arg(&held.socket)
        .args(["--", "true"]));
    out.expect_code(125);
    assert_eq!(
        out.stderr,
        format!(
            "ptyhold: '{}' is in use: something listens on it\n",
            held.socket.display()
        )
    );
    let stale = held.path("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    run(ptyhold().arg("--socket").arg(&stale).args(["--", "true"])).ok();
    assert!(!stale.exists());
}

#[test]
fn owner_gives_the_slaves_to_a_container_root() {
    if !require_root("chown of the slaves") {
        return;
    }
    let dir = tempdir();
    let log = dir.path().join("log");
    run(ptyhold()
        .args(["--owner", "100000:100005", "--ttys", "1", "--log"])
        .arg(&log)
        .args([
            "--",
            "sh",
            "-c",
            "stat -L -c %u:%g:%a /proc/self/fd/0 /proc/self/fd/3",
        ]))
    .ok();
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "100000:100005:620\r\n100000:100005:620\r\n"
    );
}

#[test]
fn usage_errors() {
    let out = run(ptyhold().arg("sh"));
    out.expect_code(125);
    assert_eq!(
        out.stderr,
        "ptyhold: unexpected argument 'sh': the command comes after '--' (ptyhold [OPTIONS] -- sh …)\n\
         Try 'ptyhold --help' for more information.\n"
    );
    let out = run(ptyhold().args(["attach", "/x", "-e", "7"]));
    out.expect_code(2);
    assert_eq!(
        out.stderr,
        "ptyhold: invalid escape '7': expected a letter (a, ^a)\n\
         Try 'ptyhold --help' for more information.\n"
    );
    let out = run(ptyhold().args(["attach", "/nonexistent.sock"]));
    out.expect_code(1);
    assert_eq!(
        out.stderr,
        "ptyhold: cannot connect to '/nonexistent.sock': No such file or directory\n"
    );
    let out = run(ptyhold().arg("--version"));
    out.ok();
    assert!(out.stdout.starts_with("ptyhold "));
}

#[test]
fn status_fd_tells_how_the_command_ended_and_is_not_the_commands() {
    let dir = tempdir();
    let seen = dir.path().join("seen");
    let holder = bin("ptyhold");
    // Held in the foreground: exit code, then a signal death (128+N), as ptyhold exits.
    for (command, line) in [("exit 3", "3\n"), ("kill -TERM $$", "143\n")] {
        let script = format!(
            "{} --status-fd 7 -- sh -c '{{ test -e /proc/$$/fd/7 && echo open || echo closed; }} >{}; {command}' 7>&1",
            holder.display(),
            seen.display(),
        );
        let o = run(cmd("sh").args(["-c", &script]));
        assert_eq!(o.stdout, line, "{command}: {o}");
        assert_eq!(fs::read_to_string(&seen).unwrap(), "closed\n", "{command}");
    }
    // Detached: ptyhold returns at once; a reader of the pipe gets the status when the
    // command ends, then the end of the pipe as the holder exits.
    let script = format!(
        "{} -d --status-fd 7 -- sh -c 'sleep 0.3; exit 5' 7>&1 >/dev/null | {{ read -r s; echo \"got $s\"; cat; echo end; }}",
        holder.display(),
    );
    let o = run(cmd("sh").args(["-c", &script]));
    o.ok();
    assert_eq!(o.stdout, "got 5\nend\n", "{o}");
    let o = run(ptyhold().args(["--status-fd", "9", "--", "true"]));
    o.expect_code(125);
    assert!(
        o.stderr
            .starts_with("ptyhold: --status-fd 9: not an open descriptor"),
        "{o}"
    );
}

#[test]
fn pass_fd_reaches_the_command_unchanged() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let script = format!(
        "exec 7>{}; exec {} --pass-fd 7 -- sh -c 'echo through-7 >&7'",
        out.display(),
        bin("ptyhold").display(),
    );
    run(cmd("sh").args(["-c", &script])).ok();
    assert_eq!(fs::read_to_string(&out).unwrap(), "through-7\n");
    // Not open, or among the ttys' numbers: refused before anything runs.
    let o = run(ptyhold().args(["--pass-fd", "9", "--", "true"]));
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        "ptyhold: --pass-fd 9: not an open descriptor: Bad file number\n"
    );
    let o = run(ptyhold().args(["--ttys", "2", "--pass-fd", "4", "--", "true"]));
    o.expect_code(125);
    assert!(
        o.stderr
            .starts_with("ptyhold: --pass-fd 4: fds 0 to 4 are the console's and the ttys'\n"),
        "{o}"
    );
}

#[test]
fn ttys_received_from_a_container_are_served() {
    if !integration::require_root("a container's devpts") {
        return;
    }
    // chroot-rs makes two ttys in the new root's own devpts and sends their masters to
    // ptyhold over fd 3: tty 1 is /dev/tty1 inside, and `container_ttys` names them.
    let r = integration::Rootfs::new();
    let mut held = Held::start(
        &["--receive-ttys", "2"],
        &[
            bin("unshare-rs").to_str().unwrap(),
            "--fork",
            "--pid",
            "--",
            bin("chroot-rs").to_str().unwrap(),
            "--pivot",
            "--api-fs",
            "--ttys",
            "2:3",
            r.path().to_str().unwrap(),
            "sh",
            "-c",
            "echo ttys=$container_ttys > /dev/tty1; setsid -c sh -i </dev/tty2 >/dev/tty2 2>&1 & exec sleep 100",
        ],
    );
    let list = held.list();
    assert_eq!(list.len(), 3, "{list:?}");
    let mut a = Session::attach(&held.socket, &["-t", "1"]);
    a.err.expect("itself\n");
    a.out.expect("ttys=pts/0 pts/1");
    a.send(b"\x01q");
    assert_eq!(a.wait(), 0);
    let mut b = Session::attach(&held.socket, &["-t", "2"]);
    b.err.expect("itself\n");
    b.send(b"tty; echo done-$((2*3))\n");
    b.out.expect("/dev/tty2");
    b.out.expect("done-6");
    b.send(b"\x01q");
    assert_eq!(b.wait(), 0);
    assert!(held.running());
}
