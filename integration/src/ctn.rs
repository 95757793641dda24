//! The manager under test: `ctn` and its front-ends run from the source tree with the
//! built tools, every container's state in a temporary directory, its cgroups below the
//! test's own (`CGCTL_PARENT=self`), the host side of its network in a network namespace
//! the test makes. `Lab` destroys whatever a test left, panic or not.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::netns::Netns;
use crate::{Output, Rootfs, bin, cmd};

/// The front-end names installed as links to `ctn/lxc`.
pub const LXC_COMMANDS: &[&str] = &[
    "lxc-create",
    "lxc-start",
    "lxc-console",
    "lxc-info",
    "lxc-ls",
    "lxc-attach",
    "lxc-stop",
    "lxc-destroy",
    "lxc-cgroup",
    "lxc-freeze",
    "lxc-unfreeze",
    "lxc-snapshot",
    "lxc-copy",
    "lxc-autostart",
    "lxc-checkconfig",
];

/// A lab: a state directory, a host network namespace, and the manager's commands.
#[derive(Debug)]
pub struct Lab {
    dir: tempfile::TempDir,
    /// The namespace playing the host.
    pub host: Netns,
    bin: PathBuf,
}

impl Lab {
    /// A fresh lab.
    pub fn new() -> Lab {
        let dir = crate::tempdir();
        let bin_dir = dir.path().join("bin");
        fs::create_dir_all(&bin_dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctn");
        for f in ["ctn", "lxc", "vzctl", "vzlist"] {
            symlink(src.join(f), bin_dir.join(f)).unwrap();
        }
        for c in LXC_COMMANDS {
            symlink(src.join("lxc"), bin_dir.join(c)).unwrap();
        }
        Lab {
            dir,
            host: Netns::new("ctnh"),
            bin: bin_dir,
        }
    }

    /// Where containers live (CTN_ROOT).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    /// Where running containers keep their state (CTN_RUN).
    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A command of the manager (`ctn`, `lxc-start`, `vzctl`…) with the lab's settings.
    pub fn command(&self, name: &str) -> Command {
        let tools = bin("chroot-rs").parent().unwrap().to_path_buf();
        let mut c = cmd(self.bin.join(name));
        c.env("CTN_ROOT", self.root())
            .env("CTN_RUN", self.run_dir())
            .env("CTN_CACHE", crate::cache_dir().join("ctn"))
            .env("CTN_HOST_NS", &self.host.name)
            .env("CTN_TOOLS", &tools)
            .env("CGCTL_PARENT", "self")
            .env(
                "PATH",
                format!(
                    "{}:{}:{}",
                    self.bin.display(),
                    tools.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        c
    }

    /// Run a manager command with its arguments.
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        crate::run_with_timeout(
            self.command(name).args(args),
            std::time::Duration::from_secs(300),
        )
    }

    /// A busybox template (its init runs a getty on the console and each tty), as a
    /// tarball the manager can create containers from.
    pub fn busybox_template(&self) -> PathBuf {
        let r = Rootfs::new();
        busybox_system(r.path());
        let t = self.dir.path().join("busybox.tar");
        let o = crate::run(
            cmd("tar")
                .args(["-c", "--numeric-owner", "-f"])
                .arg(&t)
                .arg("-C")
                .arg(r.path())
                .arg("."),
        );
        o.ok();
        t
    }

    /// The processes whose command line mentions this lab's directory (monitors, console
    /// holders, the tools of a start): `PID command…` each.
    pub fn processes(&self) -> Vec<String> {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mut v = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(raw) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            if line.contains(&dir) {
                v.push(format!("{name} {}", line.trim_end()));
            }
        }
        v
    }

    /// The names of the containers that exist.
    pub fn containers(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.root())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("config").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.containers() {
            let _ = self
                .command("ctn")
                .args(["destroy", "-f", "-s", &name])
                .output();
        }
    }
}

/// Make a busybox tree a small system: an inittab with a getty on the console and on
/// tty1..4, a root password (`root`), a hostname, rcS that brings up loopback.
pub fn busybox_system(root: &Path) {
    fs::write(
        root.join("etc/inittab"),
        "::sysinit:/etc/init.d/rcS\n\
         console::respawn:/sbin/getty -L 0 console vt100\n\
         tty1::respawn:/sbin/getty -L 0 tty1 vt100\n\
         tty2::respawn:/sbin/getty -L 0 tty2 vt100\n\
         ::restart:/sbin/init\n\
         ::shutdown:/bin/sync\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("etc/init.d")).unwrap();
    fs::write(
        root.join("etc/init.d/rcS"),
        "#!/bin/sh\nhostname -F /etc/hostname 2>/dev/null\nip link set lo up 2>/dev/null\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        root.join("etc/init.d/rcS"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    // root's password is "root" (SHA-512 crypt).
    let hash = "$6$toolkit$wTdi7ds4JcJgGrA.ujaYbORiBKnI50Xu99PaeNmcji3k3aCbhSyvkoYgXEe1rWllrv9ydsmKMrpJ99HfnqnTI0";
    let shadow: String = fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .lines()
        .map(|l| {
            let user = l.split(':').next().unwrap_or("");
            let pw = if user == "root" { hash } else { "*" };
            format!("{user}:{pw}:19000:0:99999:7:::\n")
        })
        .collect();
    fs::write(root.join("etc/shadow"), shadow).unwrap();
    fs::set_permissions(root.join("etc/shadow"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("etc/hosts"), "127.0.0.1\tlocalhost\n").unwrap();
    fs::write(root.join("etc/machine-id"), "").unwrap();
}

/// A console session (`lxc-console`, `vzctl enter`…) driven as expect(1) does: what the
/// command prints is read by a thread, so that waiting for a text is bounded in time even
/// when nothing comes.
#[derive(Debug)]
pub struct Console {
    child: std::process::Child,
    input: Option<std::process::ChildStdin>,
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Everything read so far.
    pub seen: String,
}

impl Console {
    /// Start `command` with piped input and output (stderr piped too, read at the end).
    pub fn spawn(mut command: Command) -> Console {
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the console");
        let mut out = child.stdout.take().unwrap();
        let (tx, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Console {
            input: child.stdin.take(),
            child,
            chunks,
            seen: String::new(),
        }
    }

    /// Wait until `want` has been printed (panics after `limit`, or at the end of output).
    #[track_caller]
    pub fn expect(&mut self, want: &str, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !self.seen.contains(want) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(c) => self.seen.push_str(&String::from_utf8_lossy(&c)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no {want:?} within {limit:?} in {:?}", self.seen)
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("end of output before {want:?}: {:?}", self.seen)
                }
            }
        }
    }

    /// Press Enter until `prompt` shows (a getty may still be starting, and flushes what
    /// was typed before it opened its tty, as a person at the console would find).
    #[track_caller]
    pub fn wake(&mut self, prompt: &str, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !self.seen.contains(prompt) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {prompt:?} within {limit:?} in {:?}",
                self.seen
            );
            self.send(b"\n");
            let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while !self.seen.contains(prompt) {
                let left = until.saturating_duration_since(std::time::Instant::now());
                match self.chunks.recv_timeout(left) {
                    Ok(c) => self.seen.push_str(&String::from_utf8_lossy(&c)),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        panic!("end of output before {prompt:?}: {:?}", self.seen)
                    }
                }
            }
        }
    }

    /// Type `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let input = self.input.as_mut().expect("input still open");
        input.write_all(bytes).expect("write to the console");
        input.flush().unwrap();
    }

    /// Close the input, wait for the command (bounded); its status and stderr.
    pub fn finish(mut self, limit: std::time::Duration) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        drop(self.input.take());
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the console") {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the console did not end within {limit:?}: {:?}", self.seen);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, err)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
