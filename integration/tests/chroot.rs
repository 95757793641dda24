//! chroot-rs end to end: GNU compatibility (exit codes, messages, the credential matrix
//! against GNU chroot itself), and what plain chroot cannot do: pivot with no way back
//! to the host, API filesystems that never show on the host, binds, read-only roots,
//! images, capabilities.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use integration::{Background, Output, Rootfs, bin, cmd, require_root, run};

fn chroot_rs() -> Command {
    cmd(bin("chroot-rs"))
}

fn chroot_in(root: &Path, args: &[&str]) -> Output {
    run(chroot_rs().arg(root).args(args))
}

/// The mounts of this (the host's) mount namespace that lie under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

// ---- usage: no root needed, nothing happens before these are caught ----

#[test]
fn usage_errors_read_like_gnu_and_exit_125() {
    let o = run(&mut chroot_rs());
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        "chroot-rs: missing operand\nTry 'chroot-rs --help' for more information.\n"
    );
    let o = run(chroot_rs().args(["--bogus", "/"]));
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        "chroot-rs: unrecognized option '--bogus'\nTry 'chroot-rs --help' for more information.\n"
    );
    let o = run(chroot_rs().args(["--userspec"]));
    o.expect_code(125);
    assert!(
        o.stderr
            .starts_with("chroot-rs: option '--userspec' requires an argument\n")
    );
}

#[test]
fn skip_chdir_only_with_old_root() {
    let dir = integration::tempdir();
    let o = run(chroot_rs().arg("--skip-chdir").arg(dir.path()).arg("true"));
    o.expect_code(125);
    assert_eq!(o.stdout, "");
    assert_eq!(
        o.stderr,
        "chroot-rs: option --skip-chdir only permitted if NEWROOT is old '/'\n\
         Try 'chroot-rs --help' for more information.\n"
    );
}

#[test]
fn help_and_version_go_to_stdout() {
    let o = run(chroot_rs().arg("--help"));
    o.ok();
    assert!(
        o.stdout
            .contains("Usage: chroot-rs [OPTION]... NEWROOT [COMMAND [ARG]...]")
    );
    assert!(o.stdout.contains("--userspec"));
    let o = run(chroot_rs().arg("--version"));
    o.ok();
    assert!(o.stdout.starts_with("chroot-rs "));
}

// ---- GNU behaviour ----

#[test]
fn exit_statuses() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    chroot_in(r.path(), &["true"]).ok();
    chroot_in(r.path(), &["sh", "-c", "exit 3"]).expect_code(3);
    let o = chroot_in(r.path(), &["sh", "-c", "kill -TERM $$"]);
    assert_eq!((o.code, o.signal), (143, Some(libc::SIGTERM)), "{o}");
    let o = run(chroot_rs()
        .args(["--pivot", "--api-fs"])
        .arg(r.path())
        .args(["sh", "-c", "kill -TERM $$"]));
    assert_eq!((o.code, o.signal), (143, Some(libc::SIGTERM)), "{o}");
    // ENOTDIR is "cannot run" (126), not "not found", as for GNU.
    let o = chroot_in(r.path(), &["/etc/passwd/x"]);
    o.expect_code(126);

    let o = chroot_in(r.path(), &["nosuch"]);
    o.expect_code(127);
    assert_eq!(
        o.stderr,
        "chroot-rs: failed to run command 'nosuch': No such file or directory\n"
    );

    fs::write(r.path().join("notexec"), "#!/bin/sh\n").unwrap();
    let o = chroot_in(r.path(), &["/notexec"]);
    o.expect_code(126);
    assert_eq!(
        o.stderr,
        "chroot-rs: failed to run command '/notexec': Permission denied\n"
    );

    let missing = r.scratch().join("missing");
    let o = run(chroot_rs().arg(&missing).arg("true"));
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        format!(
            "chroot-rs: cannot change root directory to '{}': No such file or directory\n",
            missing.display()
        )
    );
    let file = r.scratch().join("plainfile");
    fs::write(&file, "").unwrap();
    let o = run(chroot_rs().arg(&file).arg("true"));
    o.expect_code(125);
    assert!(o.stderr.ends_with(": Not a directory\n"), "{o}");
}

#[test]
fn changes_to_root_also_when_newroot_is_slash() {
    if !require_root("chroot(2)") {
        return;
    }
    let dir = integration::tempdir();
    let link = dir.path().join("slash");
    symlink("/", &link).unwrap();
    for root in ["/", "/.", "/../", link.to_str().unwrap()] {
        let o = run(chroot_rs().current_dir(dir.path()).args([root, "pwd"]));
        o.ok();
        assert_eq!(o.stdout, "/\n", "NEWROOT {root}");
    }
    let o = run(chroot_rs()
        .current_dir(dir.path())
        .args(["--skip-chdir", "/", "pwd"]));
    o.ok();
    assert_eq!(o.stdout.trim_end(), dir.path().to_str().unwrap());
}

#[test]
fn the_command_starts_with_default_signal_actions() {
    if !require_root("chroot(2)") {
        return;
    }
    // Rust ignores SIGPIPE in itself; the command must not inherit that.
    for mode in [&["--proc"][..], &["--pivot", "--api-fs"][..]] {
        let r = Rootfs::new();
        let o = run(chroot_rs().args(mode).arg(r.path()).args([
            "sh",
            "-c",
            "grep -E '^Sig(Ign|Blk)' /proc/self/status",
        ]));
        o.ok();
        let ign = o
            .stdout
            .lines()
            .find(|l| l.starts_with("SigIgn"))
            .unwrap_or("");
        let blk = o
            .stdout
            .lines()
            .find(|l| l.starts_with("SigBlk"))
            .unwrap_or("");
        assert!(!ign.is_empty() && !blk.is_empty(), "{o}");
        let ign = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
        let blk = u64::from_str_radix(blk.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(ign & (1 << (13 - 1)), 0, "SIGPIPE ignored in {mode:?}: {o}");
        assert_eq!(blk, 0, "signals blocked in {mode:?}: {o}");
    }
}

#[test]
fn ready_fd_is_told_just_before_the_command_which_does_not_inherit_it() {
    if !require_root("chroot(2)") {
        return;
    }
    for mode in [&["--proc"][..], &["--pivot", "--api-fs"][..]] {
        let r = Rootfs::new();
        let said = r.path().join("ready.txt");
        // The command reads what was written on FD before it ran, and finds FD closed.
        let script = format!(
            "exec 3>{}; exec {} {} --ready-fd 3 {} sh -c \
             'cat /ready.txt; test -e /proc/$$/fd/3 && echo open || echo closed'",
            said.display(),
            bin("chroot-rs").display(),
            mode.join(" "),
            r.path().display(),
        );
        let o = run(cmd("sh").args(["-c", &script]));
        o.ok();
        assert_eq!(o.stdout, "ready\nclosed\n", "{mode:?}: {o}");
        // A set-up that fails says nothing on FD.
        let script = format!(
            "exec 3>{}; exec {} {} --ready-fd 3 {}/nonexistent true",
            said.display(),
            bin("chroot-rs").display(),
            mode.join(" "),
            r.path().display(),
        );
        run(cmd("sh").args(["-c", &script])).expect_code(125);
        assert_eq!(fs::read_to_string(&said).unwrap(), "", "{mode:?}");
    }
    // A descriptor that is not open: refused before anything is made.
    let o = run(chroot_rs().args(["--ready-fd", "9", "/", "true"]));
    o.expect_code(125);
    assert!(
        o.stderr
            .starts_with("chroot-rs: --ready-fd 9: not an open descriptor: "),
        "{o}"
    );
}

#[test]
fn options_after_newroot_belong_to_the_command() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = chroot_in(r.path(), &["echo", "--userspec=x", "-v"]);
    o.ok();
    assert_eq!(o.stdout, "--userspec=x -v\n");
}

#[test]
fn default_command_is_shell_interactive() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    // SHELL names the program; "-i" is its argument.
    let o = run(chroot_rs().env("SHELL", "/bin/echo").arg(r.path()));
    o.ok();
    assert_eq!(o.stdout, "-i\n");
    // SHELL unset: /bin/sh -i, which reads its commands from stdin.
    let mut child = chroot_rs()
        .env_remove("SHELL")
        .arg(r.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo $0 $-; exit 7\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    // ash prints its banner and prompt too; the echo shows $0 and the option flags.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flags = stdout
        .split("/bin/sh ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no '$0 $-' line in {stdout:?}"));
    assert!(flags.contains('i'), "not interactive: {stdout:?}");
}

/// The credential matrix of GNU's tests/chroot/chroot-credentials.sh, with GNU chroot
/// as the oracle: same exit code, same `id` output, same message (modulo the name).
#[test]
fn credentials_match_gnu_chroot() {
    if !require_root("chroot(2) and setuid(2)") {
        return;
    }
    assert!(
        Path::new("/usr/sbin/chroot").exists(),
        "GNU chroot (coreutils) is the oracle of this test"
    );
    // By name, so that its messages start with "chroot:".
    let gnu = "chroot";
    let r = Rootfs::new();
    let cases: &[&[&str]] = &[
        &["--userspec=student"],
        &["--userspec=student:"],
        &["--userspec=student:lab"],
        &["--userspec=:lab"],
        &["--userspec=1234:1234"],
        &["--userspec=+1234:+1235"],
        &["--userspec=nobody"],
        &["--userspec=4321:4321"],
        &["--userspec=4321"],
        &["--userspec=nosuch"],
        &["--userspec=student:nosuch"],
        &["--userspec=student.lab"],
        // "UID:" is "UID" (the login group is looked up), as chroot-credentials.sh checks
        &["--userspec=1234:"],
        &["--userspec=+1234:"],
        &["--userspec=4321:"],
        &["--userspec=+4321:"],
        &["--userspec=:"],
        &["--user=student"],
        &["--groups=lab"],
        &["--groups=lab,students"],
        &["--groups= 1,+2,,3"],
        &["--groups="],
        &["--groups= "],
        &["--groups=,"],
        &["--groups=0trail"],
        &["--groups=lab", "--groups=students"],
        &["--userspec=student", "--groups=lab"],
        &["--userspec=student", "--groups="],
        &["--userspec=4321:4321", "--groups=lab"],
        // names the host has and the rootfs has not: the outside look-up's fallback
        &["--userspec=daemon"],
        &["--userspec=:daemon"],
        &["--userspec=student:daemon"],
        &["--groups=daemon"],
        &["--groups=daemon,lab"],
        &["--groups=bogus1,bogus2"],
    ];
    for args in cases {
        let theirs = run(cmd(gnu).args(*args).arg(r.path()).arg("id"));
        let ours = run(chroot_rs().args(*args).arg(r.path()).arg("id"));
        assert_eq!(
            ours.code, theirs.code,
            "{args:?}\nours: {ours}\nGNU: {theirs}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(
            ours.stderr.replace("chroot-rs", "chroot"),
            theirs.stderr.replace(['‘', '’'], "'"),
            "{args:?}"
        );
    }
}

/// Operands only (chroot-rs's quick path, no option parsing) and the same after `--`:
/// GNU chroot's exit codes and messages, the empty NEWROOT included.
#[test]
fn operands_match_gnu_chroot() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    let root = r.path().to_str().unwrap();
    let missing = format!("/nonexistent-{}", std::process::id());
    let cases: &[&[&str]] = &[
        &["", "true"],
        &["--", "", "true"],
        &[&missing, "true"],
        &[root, "sh", "-c", "echo in; exit 7"],
        &["--", root, "sh", "-c", "exit 3"],
        &[root, "/nonexistent"],
        &[root, "/etc/hostname"],
    ];
    for args in cases {
        let theirs = run(cmd("chroot").args(*args));
        let ours = run(chroot_rs().args(*args));
        assert_eq!(
            ours.code, theirs.code,
            "{args:?}\nours: {ours}\nGNU: {theirs}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(
            ours.stderr.replace("chroot-rs", "chroot"),
            theirs.stderr.replace(['‘', '’'], "'"),
            "{args:?}"
        );
    }
}

// ---- beyond GNU: --pivot ----

/// A host file the guest must not reach, and its absolute host path.
fn marker(r: &Rootfs) -> PathBuf {
    let m = r.scratch().join("host-secret");
    fs::write(&m, "host\n").unwrap();
    m
}

#[test]
fn plain_chroot_is_escapable_as_documented() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    let secret = marker(&r);
    let probe = r.add_binary(&bin("escape-probe"));
    let o = chroot_in(
        r.path(),
        &[probe.to_str().unwrap(), secret.to_str().unwrap()],
    );
    assert_eq!(o.stdout, "ESCAPED\n", "{o}");
}

#[test]
fn pivot_leaves_no_way_back_to_the_host() {
    if !require_root("pivot_root(2)") {
        return;
    }
    let r = Rootfs::new();
    let secret = marker(&r);
    let secret = secret.to_str().unwrap();
    let probe = r.add_binary(&bin("escape-probe"));
    // 1. The classic chroot escape.
    let o = run(chroot_rs()
        .args(["--pivot"])
        .arg(r.path())
        .args([probe.to_str().unwrap(), secret]));
    o.expect_code(1);
    assert!(o.stdout.starts_with("contained"), "{o}");
    // 2. `..` from the root, and the host path itself.
    let o = run(chroot_rs().arg("--pivot").arg(r.path()).args([
        "sh",
        "-c",
        &format!("cat /../../..{secret} || cat {secret} || echo contained"),
    ]));
    assert_eq!(o.stdout, "contained\n", "{o}");
    // 3. /proc/PID/root of PID 1 (the container's own init) and of a host process
    //    (this test: not visible in the container's PID namespace).
    let o = run(chroot_rs()
        .args(["--pivot", "--api-fs"])
        .arg(r.path())
        .args([
            "sh",
            "-c",
            &format!(
                "cat /proc/1/root{secret} || cat /proc/{}/root{secret} || echo contained",
                std::process::id()
            ),
        ]));
    assert_eq!(o.stdout, "contained\n", "{o}");
    // 4. A descriptor opened on the host before.
    let script = format!(
        "exec 3<{dir}; exec {cr} --pivot --api-fs {root} sh -c 'cat /proc/self/fd/3/host-secret || echo contained'",
        dir = r.scratch().display(),
        cr = bin("chroot-rs").display(),
        root = r.path().display()
    );
    let o = run(cmd("/bin/sh").args(["-c", &script]));
    assert_eq!(o.stdout, "contained\n", "{o}");
    // 5. The same descriptor, through the init (PID 1), which must not keep it.
    let script = format!(
        "exec 3<{dir}; exec {cr} --pivot --api-fs {root} sh -c 'ls /proc/1/fd; cat /proc/1/fd/3/host-secret || echo contained'",
        dir = r.scratch().display(),
        cr = bin("chroot-rs").display(),
        root = r.path().display()
    );
    let o = run(cmd("/bin/sh").args(["-c", &script]));
    assert!(o.stdout.ends_with("contained\n"), "{o}");
    // 6. Without --proc, a root command mounting proc itself sees only its own PIDs.
    let o = run(chroot_rs().arg("--pivot").arg(r.path()).args([
        "sh",
        "-c",
        // (The mount must work: a failed one would print "contained" for nothing.)
        &format!(
            "mount -t proc proc /proc && (cat /proc/{}/root{secret} || echo contained)",
            std::process::id()
        ),
    ]));
    assert_eq!(o.stdout, "contained\n", "{o}");
}

#[test]
fn plain_mode_with_proc_shows_the_host_escape_the_pivot_closes() {
    if !require_root("mount(2)") {
        return;
    }
    // Proves the /proc/PID/root check above can fail: without --pivot, the host's
    // processes are visible and their root leads out.
    let r = Rootfs::new();
    let secret = marker(&r);
    let o = run(chroot_rs().arg("--proc").arg(r.path()).args([
        "cat",
        &format!("/proc/{}/root{}", std::process::id(), secret.display()),
    ]));
    o.ok();
    assert_eq!(o.stdout, "host\n");
}

#[test]
fn pivot_with_proc_gets_its_own_pid_namespace() {
    if !require_root("pivot_root(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = run(chroot_rs()
        .args(["--pivot", "--api-fs"])
        .arg(r.path())
        .args(["sh", "-c", "ps -o pid,comm | tail -n +2"]));
    o.ok();
    let pids: Vec<&str> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // chroot-rs as init (1), sh (2), ps and tail: nothing of the host.
    assert_eq!(pids[..2], ["1", "2"], "{o}");
    assert!(pids.len() <= 4, "{o}");
}

#[test]
fn pivot_forwards_signals_and_dies_as_the_command_did() {
    if !require_root("pivot_root(2)") {
        return;
    }
    let r = Rootfs::new();
    let mut child = Background::spawn(
        chroot_rs()
            .args(["--pivot", "--api-fs"])
            .arg(r.path())
            .args(["sh", "-c", "echo ready; exec sleep 30"]),
    );
    assert_eq!(child.line(Duration::from_secs(30)), "ready");
    let pid = nix::unistd::Pid::from_raw(child.id().cast_signed());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    // sleep dies of SIGTERM; so does chroot-rs, as a plain exec'd command would.
    let status = child.wait(Duration::from_secs(20));
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

#[test]
fn a_signal_during_set_up_reaches_the_command() {
    if !require_root("pivot_root(2)") {
        return;
    }
    // SIGTERM sent while chroot-rs is still mounting is held, then forwarded: the
    // command never runs to completion (it would print "finished"). It is sent once
    // chroot-rs has blocked it (before that it simply kills chroot-rs, which proves
    // nothing), so it lands in the set-up or just after.
    let r = Rootfs::new();
    for _ in 0..10 {
        let mut child = Background::spawn(
            chroot_rs()
                .args(["--pivot", "--api-fs"])
                .arg(r.path())
                .args(["sh", "-c", "sleep 2; echo finished"]),
        );
        let pid = nix::unistd::Pid::from_raw(child.id().cast_signed());
        // Blocked shows in SigBlk until chroot-rs forks; then it waits in sigwait(2),
        // which unblocks the set for the wait, and the child it forked tells instead.
        let past_the_block = || {
            let blocked = fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    let v = s.lines().find_map(|l| l.strip_prefix("SigBlk:"))?;
                    u64::from_str_radix(v.trim(), 16).ok()
                })
                .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0);
            blocked
                || fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .is_ok_and(|c| !c.trim().is_empty())
        };
        let start = std::time::Instant::now();
        while !past_the_block() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "chroot-rs never blocked SIGTERM"
            );
            std::thread::yield_now();
        }
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = child.wait(Duration::from_secs(20));
        assert_ne!(status.code(), Some(0), "the SIGTERM was lost: {status:?}");
    }
}

#[test]
fn pivot_trace_is_replayable() {
    if !require_root("pivot_root(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = run(chroot_rs()
        .args(["-v", "--pivot"])
        .arg(r.path())
        .arg("true"));
    o.ok();
    let root = r.path().display();
    let expected = [
        "chroot-rs: unshare(CLONE_NEWNS|CLONE_NEWPID) = 0".to_owned(),
        "chroot-rs: mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0".to_owned(),
        format!("chroot-rs: mount(\"{root}\", \"{root}\", NULL, MS_BIND|MS_REC, NULL) = 0"),
        format!("chroot-rs: chdir(\"{root}\") = 0"),
        "chroot-rs: pivot_root(\".\", \".\") = 0".to_owned(),
        "chroot-rs: umount2(\".\", MNT_DETACH) = 0".to_owned(),
        "chroot-rs: chdir(\"/\") = 0".to_owned(),
        "chroot-rs: execvp(\"true\", [\"true\"])".to_owned(),
    ];
    let lines: Vec<&str> = o.stderr.lines().collect();
    let mut at = 0;
    for want in &expected {
        let found = lines[at..].iter().position(|l| l == want);
        assert!(
            found.is_some(),
            "missing or out of order: {want}\n{}",
            o.stderr
        );
        at += found.unwrap() + 1;
    }
}

// ---- API filesystems ----

/// Run `args` in the background until it prints "ready", check the host, let it end.
fn while_running(args: &[&str], root: &Path, check: impl FnOnce()) -> Output {
    let mut child = Background::spawn(chroot_rs().args(args).arg(root).args([
        "sh",
        "-c",
        "echo ready; read x",
    ]));
    let line = child.line(Duration::from_secs(30));
    check();
    child.send(b"done\n");
    let status = child.wait(Duration::from_secs(30));
    Output {
        code: status.code().unwrap_or(-1),
        stdout: format!("{line}\n"),
        stderr: String::new(),
        signal: None,
    }
}

#[test]
fn api_filesystems_never_show_on_the_host() {
    if !require_root("mount(2)") {
        return;
    }
    for mode in [&["--api-fs"][..], &["--pivot", "--api-fs"][..]] {
        let r = Rootfs::new();
        let o = while_running(mode, r.path(), || {
            assert_eq!(
                host_mounts_under(r.path()),
                Vec::<String>::new(),
                "{mode:?}"
            );
        });
        assert_eq!(o.stdout, "ready\n", "{mode:?}");
        assert_eq!(o.code, 0);
        assert_eq!(host_mounts_under(r.path()), Vec::<String>::new());
        // and nothing is left inside the tree: the mount points are plain directories
        assert_eq!(fs::read_dir(r.path().join("proc")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(r.path().join("dev")).unwrap().count(), 0);
    }
}

#[test]
fn api_filesystems_inside() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let script = "set -e
        test -r /proc/self/status
        ! touch /sys/x 2>/dev/null
        grep -q ' /sys sysfs ro,' /proc/mounts
        for d in null zero full random urandom tty; do test -c /dev/$d; done
        echo hi > /dev/null
        test -c /dev/pts/ptmx && test -L /dev/ptmx
        test -d /dev/shm && touch /dev/shm/x
        test \"$(readlink /dev/fd)\" = /proc/self/fd
        test \"$(readlink /dev/stdin)\" = /proc/self/fd/0
        head -c 4 /dev/zero | wc -c";
    for mode in [&["--api-fs"][..], &["--pivot", "--api-fs"][..]] {
        let o = run(chroot_rs()
            .args(mode)
            .arg(r.path())
            .args(["sh", "-c", script]));
        o.ok();
        assert_eq!(o.stdout.trim(), "4", "{mode:?}");
    }
    // Separately: only what is asked.
    let o = run(chroot_rs().arg("--proc").arg(r.path()).args([
        "sh",
        "-c",
        "test -r /proc/self/status && test ! -e /dev/null && echo ok",
    ]));
    assert_eq!(o.stdout, "ok\n", "{o}");
}

#[test]
fn a_guest_symlink_cannot_redirect_a_mount_to_the_host() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let outside = r.scratch().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::remove_dir(r.path().join("proc")).unwrap();
    // An absolute symlink to a host path: resolved inside the root, not on the host.
    symlink(&outside, r.path().join("proc")).unwrap();
    let o = run(chroot_rs()
        .arg("--proc")
        .arg(r.path())
        .args(["test", "-r", "/proc/self/status"]));
    o.ok();
    // Resolved inside the root: the mounts landed there (and are gone now).
    assert!(r.path().join(outside.strip_prefix("/").unwrap()).is_dir());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

// ---- binds, read-only, resolv.conf ----

#[test]
fn binds_read_write_and_read_only() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let data = r.scratch().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("f"), "shared\n").unwrap();
    let spec_rw = format!("{}:/mnt/rw", data.display());
    let spec_ro = format!("{}:/srv/deep/ro:ro", data.display());
    let o = run(chroot_rs()
        .args(["--pivot", "--bind", &spec_rw, "--bind", &spec_ro])
        .arg(r.path())
        .args([
            "sh",
            "-c",
            "cat /mnt/rw/f && echo new > /mnt/rw/g && cat /srv/deep/ro/g && ! touch /srv/deep/ro/h 2>/dev/null && echo ro-held",
        ]));
    o.ok();
    assert_eq!(o.stdout, "shared\nnew\nro-held\n");
    assert_eq!(fs::read_to_string(data.join("g")).unwrap(), "new\n");
    assert!(!data.join("h").exists());
    // a missing source is caught before anything happens
    let o = run(chroot_rs()
        .args(["--bind", "/nonexistent-src:/x"])
        .arg(r.path())
        .arg("true"));
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        "chroot-rs: cannot access '/nonexistent-src': No such file or directory\n"
    );
    assert!(!r.path().join("x").exists());
    // a bad spec is a usage error
    let o = run(chroot_rs()
        .args(["--bind", "/a:/b:rx"])
        .arg(r.path())
        .arg("true"));
    o.expect_code(125);
    assert!(
        o.stderr.starts_with("chroot-rs: invalid bind '/a:/b:rx'"),
        "{o}"
    );
}

#[test]
fn read_only_root() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = run(chroot_rs()
        .arg("--read-only")
        .arg(r.path())
        .args(["sh", "-c", "touch /etc/x"]));
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("Read-only file system"), "{o}");
    // API filesystems stay writable where they should be.
    let o = run(chroot_rs()
        .args(["--read-only", "--pivot", "--api-fs"])
        .arg(r.path())
        .args([
            "sh",
            "-c",
            "touch /etc/x 2>&1; echo written > /dev/shm/ok && cat /dev/shm/ok",
        ]));
    o.ok();
    assert!(o.stdout.contains("Read-only file system"), "{o}");
    assert!(o.stdout.ends_with("written\n"), "{o}");
    assert!(!r.path().join("etc/x").exists());
}

#[test]
fn resolv_conf_through_a_dangling_symlink() {
    if !require_root("mount(2)") {
        return;
    }
    let host = fs::read_to_string(
        fs::canonicalize("/etc/resolv.conf").expect("this test needs the host's /etc/resolv.conf"),
    )
    .unwrap();
    let r = Rootfs::new();
    symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        r.path().join("etc/resolv.conf"),
    )
    .unwrap();
    let o = run(chroot_rs()
        .args(["--pivot", "--resolv-conf"])
        .arg(r.path())
        .args(["cat", "/etc/resolv.conf"]));
    o.ok();
    assert_eq!(o.stdout, host);
    // The link's target was created (empty) to mount on; the host file is untouched.
    let created = r.path().join("run/systemd/resolve/stub-resolv.conf");
    assert_eq!(fs::read_to_string(created).unwrap(), "");
}

// ---- images ----

/// A 32 MiB ext4 image of the rootfs and an empty mount point, both in its scratch dir.
fn ext4_image(r: &Rootfs) -> (PathBuf, PathBuf) {
    let mnt = r.scratch().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let img = r.scratch().join("root.ext4");
    run(cmd("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(r.path())
        .arg(&img)
        .arg("32M"))
    .ok();
    (img, mnt)
}

#[test]
fn ext4_and_squashfs_images_as_root() {
    if !require_root("loop devices") {
        return;
    }
    let r = Rootfs::new();
    let (ext4, mnt) = ext4_image(&r);
    let o = run(chroot_rs()
        .args(["--pivot", "--image"])
        .arg(&ext4)
        .arg(&mnt)
        .args(["sh", "-c", "cat /etc/hostname; echo kept > /persist"]));
    o.ok();
    assert_eq!(o.stdout, "rootfs\n");
    // the write went into the image, not into the mount point
    assert!(!mnt.join("persist").exists());
    let o = run(chroot_rs()
        .arg("--image")
        .arg(&ext4)
        .arg(&mnt)
        .args(["cat", "/persist"]));
    o.ok();
    assert_eq!(o.stdout, "kept\n");

    let sq = r.scratch().join("root.squashfs");
    run(cmd("mksquashfs")
        .arg(r.path())
        .arg(&sq)
        .args(["-quiet", "-noappend", "-no-progress"]))
    .ok();
    let o = run(chroot_rs().arg("--image").arg(&sq).arg(&mnt).args([
        "sh",
        "-c",
        "cat /etc/hostname; touch /x 2>/dev/null || echo read-only",
    ]));
    o.ok();
    assert_eq!(o.stdout, "rootfs\nread-only\n");

    // No loop device is left attached to either image.
    for img in [&ext4, &sq] {
        let o = run(cmd("losetup").arg("-j").arg(img));
        assert_eq!(o.stdout, "", "loop device left for {}", img.display());
    }
    assert_eq!(host_mounts_under(r.scratch()), Vec::<String>::new());
}

#[test]
fn an_image_that_is_not_a_filesystem_is_refused() {
    if !require_root("loop devices") {
        return;
    }
    let dir = integration::tempdir();
    let img = dir.path().join("junk.img");
    fs::write(&img, vec![0x5au8; 64 * 1024]).unwrap();
    let o = run(chroot_rs()
        .arg("--image")
        .arg(&img)
        .arg(dir.path())
        .arg("true"));
    o.expect_code(125);
    assert_eq!(
        o.stderr,
        format!(
            "chroot-rs: '{}' is not an ext4 or squashfs image\n",
            img.display()
        )
    );
    let o = run(cmd("losetup").arg("-j").arg(&img));
    assert_eq!(o.stdout, "");
}

// ---- capabilities, no_new_privs ----

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"))
}

#[test]
fn capabilities_are_dropped_and_kept() {
    if !require_root("capabilities") {
        return;
    }
    let r = Rootfs::new();
    let status = |args: &[&str]| {
        let o = run(chroot_rs()
            .args(["--proc"])
            .args(args)
            .arg(r.path())
            .args(["cat", "/proc/self/status"]));
        o.ok();
        o.stdout
    };
    let s = status(&["--cap-drop", "all"]);
    assert_eq!(status_field(&s, "CapBnd:"), "0000000000000000");
    assert_eq!(status_field(&s, "CapEff:"), "0000000000000000");
    // CAP_NET_BIND_SERVICE is bit 10
    let s = status(&["--cap-keep", "net_bind_service"]);
    assert_eq!(status_field(&s, "CapBnd:"), "0000000000000400");
    assert_eq!(status_field(&s, "CapEff:"), "0000000000000400");
    // CAP_SYS_ADMIN is bit 21: gone, the rest stays
    let s = status(&["--cap-drop", "sys_admin"]);
    let bnd = u64::from_str_radix(&status_field(&s, "CapBnd:"), 16).unwrap();
    assert_eq!(bnd & (1 << 21), 0);
    assert_ne!(bnd & (1 << 10), 0);
    // and it is enforced: mount needs CAP_SYS_ADMIN
    let o = run(chroot_rs()
        .args(["--cap-drop", "sys_admin", "--pivot"])
        .arg(r.path())
        .args([
            "sh",
            "-c",
            "mount -t tmpfs none /mnt 2>/dev/null && echo mounted || echo refused",
        ]));
    assert_eq!(o.stdout, "refused\n", "{o}");

    // Repeated options add up.
    let s = status(&["--cap-drop", "chown", "--cap-drop", "kill"]);
    let bnd = u64::from_str_radix(&status_field(&s, "CapBnd:"), 16).unwrap();
    assert_eq!(
        bnd & ((1 << 0) | (1 << 5)),
        0,
        "CAP_CHOWN and CAP_KILL dropped"
    );

    let s = status(&["--no-new-privs"]);
    assert_eq!(status_field(&s, "NoNewPrivs:"), "1");

    let o = run(chroot_rs()
        .args(["--cap-drop", "net_rawr"])
        .arg(r.path())
        .arg("true"));
    o.expect_code(125);
    assert_eq!(o.stderr, "chroot-rs: unknown capability 'net_rawr'\n");
}

#[test]
fn userspec_with_pivot_and_unknown_user() {
    if !require_root("setuid(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = run(chroot_rs()
        .args(["--pivot", "--api-fs", "--userspec=student"])
        .arg(r.path())
        .args(["sh", "-c", "id; touch /dev/shm/s && ls -n /dev/shm/s"]));
    o.ok();
    assert!(
        o.stdout
            .starts_with("uid=1234(student) gid=1234(students) groups=1234(students),1235(lab)\n"),
        "{o}"
    );
    assert!(o.stdout.contains(" 1234 "), "{o}");
    let o = run(chroot_rs()
        .args(["--pivot", "--userspec=nosuchuser"])
        .arg(r.path())
        .arg("true"));
    o.expect_code(125);
    assert_eq!(o.stderr, "chroot-rs: invalid user\n");
}

#[test]
fn mount_points_created_for_binds_are_made_inside() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let file = r.scratch().join("single");
    fs::write(&file, "one file\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let spec = format!("{}:/opt/new/file.txt:ro", file.display());
    let o = run(chroot_rs()
        .args(["--bind", &spec])
        .arg(r.path())
        .args(["cat", "/opt/new/file.txt"]));
    o.ok();
    assert_eq!(o.stdout, "one file\n");
    assert!(r.path().join("opt/new/file.txt").is_file());
}

#[test]
fn one_writer_per_image_and_no_loop_device_left_on_a_failed_mount() {
    if !require_root("loop devices") {
        return;
    }
    let r = Rootfs::new();
    let (img, mnt) = ext4_image(&r);
    let mut first = Background::spawn(chroot_rs().arg("--image").arg(&img).arg(&mnt).args([
        "sh",
        "-c",
        "echo ready; read x",
    ]));
    assert_eq!(first.line(Duration::from_secs(30)), "ready");
    // A second writer would corrupt the filesystem: refused, as is a reader.
    for extra in [&[][..], &["--read-only"][..]] {
        let o = run(chroot_rs()
            .args(extra)
            .arg("--image")
            .arg(&img)
            .arg(&mnt)
            .arg("true"));
        o.expect_code(125);
        assert_eq!(
            o.stderr,
            format!(
                "chroot-rs: '{}' is in use by another process\n",
                img.display()
            )
        );
    }
    first.send(b"done\n");
    assert!(first.wait(Duration::from_secs(30)).success());
    // Readers share.
    let o = run(chroot_rs()
        .args(["--read-only", "--image"])
        .arg(&img)
        .arg(&mnt)
        .args(["cat", "/etc/hostname"]));
    assert_eq!(o.ok().stdout, "rootfs\n");

    // An image whose superblock magic is right but whose contents are not: the loop
    // device is attached, the mount fails, and the device goes away.
    let bad = r.scratch().join("bad.ext4");
    let mut bytes = vec![0u8; 4 << 20];
    bytes[1080] = 0x53;
    bytes[1081] = 0xEF;
    fs::write(&bad, bytes).unwrap();
    let o = run(chroot_rs().arg("--image").arg(&bad).arg(&mnt).arg("true"));
    o.expect_code(125);
    assert!(
        o.stderr.starts_with("chroot-rs: cannot mount ext4 image"),
        "{o}"
    );
    for image in [&img, &bad] {
        let o = run(cmd("losetup").arg("-j").arg(image));
        assert_eq!(o.stdout, "", "loop device left for {}", image.display());
    }
}

#[test]
fn read_only_binds_and_roots_cover_the_mounts_below_them() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let src = r.scratch().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    // The submount is made in a private mount namespace (util-linux unshare), which
    // chroot-rs then runs in; nothing of it shows on the host.
    let script = format!(
        "mount -t tmpfs sub {src}/sub && mount -t tmpfs inroot {root}/mnt && \
         {cr} --bind {src}:/data:ro --read-only {root} sh -c \
         'touch /data/top 2>&1; touch /data/sub/x 2>&1; touch /mnt/y 2>&1; echo end'",
        src = src.display(),
        root = r.path().display(),
        cr = bin("chroot-rs").display(),
    );
    let o = run(cmd("unshare").args(["--mount", "sh", "-c", &script]));
    o.ok();
    assert_eq!(o.stdout.matches("Read-only file system").count(), 3, "{o}");
    assert!(o.stdout.ends_with("end\n"));
}

#[test]
fn an_unknown_user_changes_nothing_in_the_new_root() {
    if !require_root("mount(2)") {
        return;
    }
    let r = Rootfs::new();
    let data = r.scratch().join("data");
    fs::create_dir(&data).unwrap();
    let spec = format!("{}:/newdir/sub", data.display());
    for mode in [&["--pivot"][..], &[][..]] {
        let o = run(chroot_rs()
            .args(mode)
            .args(["--bind", &spec, "--userspec=nosuchuser"])
            .arg(r.path())
            .arg("true"));
        o.expect_code(125);
        assert_eq!(o.stderr, "chroot-rs: invalid user\n");
        assert!(!r.path().join("newdir").exists(), "{mode:?}");
    }
    // With the user known inside, the same run works and as that user.
    let o = run(chroot_rs()
        .args(["--pivot", "--bind", &spec, "--userspec=student"])
        .arg(r.path())
        .arg("id"));
    assert!(o.ok().stdout.starts_with("uid=1234(student)"));
}

/// The loop devices attached on the machine (`losetup -a`), to see that none was left.
fn loop_devices() -> String {
    run(cmd("losetup").arg("-a")).stdout
}

#[test]
fn bad_input_is_refused_in_one_line_and_leaves_nothing() {
    if !require_root("chroot(2), mounts and user lookups") {
        return;
    }
    let dir = integration::tempdir();
    let r = dir.path();
    let long = "x".repeat(5000);
    let bad_utf8: std::ffi::OsString =
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"--userspec=\xff\xfe")
            .to_owned();
    // (options, exit code, what the one line says)
    let cases: Vec<(Vec<std::ffi::OsString>, i32, &str)> = {
        let o = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        vec![
            (o(&["--cap-drop="]), 125, "empty capability list ''"),
            (o(&["--cap-keep=,"]), 125, "empty capability list ','"),
            (o(&["--cap-drop=bogus"]), 125, "unknown capability 'bogus'"),
            (
                o(&["--cap-drop=net_raw,../x"]),
                125,
                "unknown capability '../x'",
            ),
            (o(&["--bind="]), 125, "invalid bind '': empty source"),
            (o(&["--bind=:/x"]), 125, "invalid bind ':/x': empty source"),
            (
                o(&["--bind=/tmp:"]),
                125,
                "invalid bind '/tmp:': empty destination",
            ),
            (o(&["--bind=/tmp:/x:rx"]), 125, "must be ro or rw"),
            (o(&["--bind=a:b:c:d"]), 125, "expected SRC[:DST[:ro|rw]]"),
            (o(&["--userspec=nosuchuser"]), 125, "invalid user"),
            (o(&["--userspec=99999999999"]), 125, "invalid user"),
            (o(&["--userspec=:nosuchgroup"]), 125, "invalid group"),
            (o(&["--groups=nosuch"]), 125, "invalid group 'nosuch'"),
            (o(&["--api-fs", "--ttys=1:x"]), 125, "invalid --ttys '1:x'"),
            (o(&["--api-fs", "--ttys=0"]), 125, "invalid --ttys '0'"),
            (
                o(&["--api-fs", "--ttys=99999"]),
                125,
                "invalid --ttys '99999'",
            ),
            (o(&["--api-fs", "--ttys=-1"]), 125, "invalid --ttys '-1'"),
            (o(&["--ttys=1"]), 125, "need --dev"),
            (
                o(&["--tmpfs="]),
                125,
                "a value is required for '--tmpfs <DIR>'",
            ),
            (o(&["--setenv=NOEQ"]), 125, "invalid --setenv 'NOEQ'"),
            (o(&["--setenv==x"]), 125, "invalid --setenv '=x'"),
            (
                o(&["--image=/nonexistent"]),
                125,
                "cannot access '/nonexistent'",
            ),
            (o(&["--skip-chdir"]), 125, "cannot be combined with --pivot"),
            (o(&["--bogus"]), 125, "unrecognized option '--bogus'"),
            (vec![bad_utf8], 125, "invalid UTF-8"),
        ]
    };
    let mounts = integration::mount_points(r);
    let loops = loop_devices();
    for (opts, code, says) in &cases {
        let o = run(chroot_rs().arg("--pivot").args(opts).arg(r).arg("true"));
        o.one_line("chroot-rs", *code, says, &format!("{opts:?}"));
        assert_eq!(
            fs::read_dir(r).unwrap().count(),
            0,
            "{opts:?} changed NEWROOT"
        );
    }
    // The new root itself: missing, too long a name.
    for (root, says) in [
        (
            "/nonexistent",
            "cannot change root directory to '/nonexistent'",
        ),
        (long.as_str(), "File name too long"),
    ] {
        let o = run(chroot_rs().arg(root).arg("true"));
        o.one_line("chroot-rs", 125, says, root);
    }
    assert_eq!(integration::mount_points(r), mounts, "a mount was left");
    assert_eq!(loop_devices(), loops, "a loop device was left");
    eprintln!(
        "{} bad inputs refused, each in one line, nothing left",
        cases.len() + 2
    );
}
