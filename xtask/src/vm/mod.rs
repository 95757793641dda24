//! The VM lane: what this host's kernel cannot show (pure cgroup v2 with controllers;
//! 802.1Q vlan) is tested in a small virtual machine. A stock Debian kernel boots under
//! qemu with an initramfs holding busybox, the modules, the project's binaries and test
//! programs; `/init` runs the steps and reports through the serial console
//! (`VM-LANE-RESULT name rc`, then `VM-LANE-EXIT=rc`). No network, no shared
//! filesystem; the runner has its own time-out and never leaves qemu running. Each step
//! also has a watchdog in the guest ([`STEP_RUNNER`]): a hung step is dumped (processes,
//! kernel stacks, CPU backtraces, kernel log), killed and run once more
//! (`VM-LANE-HUNG`, `VM-LANE-RETRY` on the console).
//!
//! - `cargo xtask vm-test`: the lane's steps (see [`steps`]); fails when one fails.
//! - `cargo xtask vm-run [--add FILE]... -- COMMAND...`: one command in the VM.
//!
//! Accelerator: `VM_ACCEL=kvm|tcg|auto` (default auto: KVM when /dev/kvm boots a kernel
//! within a short time-out, remembered in the cache when it does not; else TCG).
//! `VM_TIMEOUT` (seconds, default 900) bounds a whole run.

mod cpio;
mod kernel;
mod qemu;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cache_dir, cargo};
use cpio::Cpio;

/// What goes into the guest besides busybox and the modules.
#[derive(Debug, Default)]
struct Payload {
    /// (host file, guest path): binaries get their `ldd` libraries added too.
    files: Vec<(PathBuf, String)>,
    /// The script `/init` runs.
    script: String,
    /// Raw disk images, the guest's /dev/vda, /dev/vdb… (written through a snapshot: the
    /// image is left as it was).
    disks: Vec<PathBuf>,
}

/// A step of `vm-test`: a name and a shell command line run in the guest.
struct Step {
    name: &'static str,
    command: String,
    /// Seconds the step may take before the guest's watchdog calls it hung (several
    /// times its usual duration under TCG).
    limit: u32,
}

/// The guest's step runner. A step runs in its own session under a watchdog: when it
/// outlives its limit, the watchdog prints what every process is doing (state, wait
/// channel, kernel stack, cgroup), the CPUs' backtraces and the kernel log, kills the
/// step's process group, and the step is run once more, loudly (a hang seen once in
/// the lane under TCG could not be reproduced; a hang that recurs still fails).
const STEP_RUNNER: &str = r#"
dump() {
    echo "--- processes"
    for p in /proc/[0-9]*; do
        c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null)
        [ -n "$c" ] || continue
        echo "${p#/proc/} $(grep State: $p/status) wchan=$(cat $p/wchan) cgroup=$(cat $p/cgroup) :: $c"
        head -8 $p/stack 2>/dev/null
    done
    echo "--- load $(cat /proc/loadavg)"
    echo l > /proc/sysrq-trigger
    echo w > /proc/sysrq-trigger
    echo "--- kernel log"
    dmesg | tail -120
}
attempt() { # name limit command
    # The step runs in the foreground (a background job would start with SIGINT and
    # SIGQUIT ignored, and stdin on /dev/null) as the leader of its own session, and
    # leaves its PID for the watchdog, which runs in the background.
    rm -f /tmp/step.pid
    ( i=0
      while [ ! -s /tmp/step.pid ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      pid=$(cat /tmp/step.pid 2>/dev/null)
      [ -n "$pid" ] || exit 0
      i=0
      while kill -0 $pid 2>/dev/null; do
          if [ $i -ge $2 ]; then
              echo "VM-LANE-HUNG $1 after $2 s"
              dump
              # Only a step still there is hung: one that ended during the dump is not.
              kill -9 -$pid 2>/dev/null && : > /tmp/hung
              break
          fi
          sleep 1
          i=$((i + 1))
      done ) &
    dog=$!
    setsid sh -c 'echo $$ > /tmp/step.pid; exec sh -c "$1"' step "$3"
    rc=$?
    wait $dog
    return $rc
}
step() { # name limit command
    echo "VM-LANE-STEP $1"
    rm -f /tmp/hung
    attempt "$@"
    rc=$?
    if [ -e /tmp/hung ]; then
        rm -f /tmp/hung
        echo "VM-LANE-RETRY $1: the first attempt hung (dump above); running it once more"
        attempt "$@"
        rc=$?
    fi
    echo "VM-LANE-RESULT $1 $rc"
    [ $rc = 0 ] || fail=1
}
"#;

/// The guest directory for the tools (`$TOOLKIT_BIN_DIR` inside).
const GUEST_BIN: &str = "/opt/toolkit/bin";
/// The guest directory for test executables.
const GUEST_TESTS: &str = "/opt/toolkit/tests";

const INIT: &str = r#"#!/bin/sh
export PATH=/opt/toolkit/bin:/bin:/sbin:/usr/bin:/usr/sbin
# pivot_root(2) refuses to leave the initramfs (EINVAL): a container's root needs the
# system's root to be a real mount. Copy the initramfs into a tmpfs and make that the root
# (switch_root frees the initramfs).
if [ ! -e /.vm-lane-root ]; then
    mkdir /newroot
    mount -t tmpfs -o mode=755 root /newroot
    for f in /*; do [ "$f" = /newroot ] || cp -a "$f" /newroot/; done
    : >/newroot/.vm-lane-root
    exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
mkdir -p /run/netns
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "VM-LANE: insmod $m failed"; done
ip link set lo up
echo VM-LANE-BOOTED
cd /
sh /vm-lane/run
echo VM-LANE-EXIT=$?
poweroff -f
"#;

/// The shared libraries `ldd` lists for `bin` (none for a static binary).
fn libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .context("cannot run ldd")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next().map(PathBuf::from),
            None => line.split_whitespace().next().map(PathBuf::from),
        })
        .filter(|p| p.is_absolute() && p.is_file())
        .collect())
}

/// A binary's bytes without debug information (test binaries shrink tenfold).
fn stripped(path: &Path) -> Result<Vec<u8>> {
    let tmp = std::env::temp_dir().join(format!("vm-lane-strip-{}", std::process::id()));
    let ok = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(path)
        .arg(&tmp)
        .status()
        .is_ok_and(|s| s.success());
    let data = if ok { fs::read(&tmp)? } else { fs::read(path)? };
    let _ = fs::remove_file(&tmp);
    Ok(data)
}

/// Write the initramfs: busybox, /dev/console, the modules, /init, the payload.
fn initramfs(kernel: &kernel::Kernel, payload: &Payload, out: &Path) -> Result<()> {
    let file = fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut c = Cpio::new(std::io::BufWriter::new(file));
    for d in [
        "proc", "sys", "dev", "run", "tmp", "root", "etc", "mnt", "var/tmp",
    ] {
        c.dir(d)?;
    }
    c.char_dev("/dev/console", 5, 1)?;
    c.char_dev("/dev/null", 1, 3)?;
    let busybox = Path::new("/bin/busybox");
    c.file(
        "/bin/busybox",
        0o755,
        &fs::read(busybox).context("busybox-static is needed (./lab deps)")?,
    )?;
    let list = Command::new(busybox).arg("--list-full").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "bin/busybox" {
            c.symlink(applet, "/bin/busybox")?;
        }
    }
    c.file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    c.file("/etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n")?;
    let mut order = String::new();
    for m in &kernel.modules {
        let name = m
            .file_name()
            .context("module name")?
            .to_string_lossy()
            .into_owned();
        c.file(&format!("/modules/{name}"), 0o644, &fs::read(m)?)?;
        order.push_str(name.trim_end_matches(".ko"));
        order.push('\n');
    }
    c.file("/modules/order", 0o644, order.as_bytes())?;
    c.file(
        &format!("/boot/config-{}", kernel.release),
        0o644,
        &fs::read(&kernel.config)?,
    )?;
    c.file("/init", 0o755, INIT.as_bytes())?;
    c.file("/vm-lane/run", 0o755, payload.script.as_bytes())?;
    let mut done = std::collections::BTreeSet::new();
    for (host, guest) in &payload.files {
        c.file(
            guest,
            0o755,
            &stripped(host).with_context(|| format!("read {}", host.display()))?,
        )?;
        for lib in libraries(host)? {
            let g = lib.to_string_lossy().into_owned();
            if done.insert(g.clone()) {
                c.file(&g, 0o755, &fs::read(&lib)?)?;
            }
        }
    }
    c.finish()?;
    Ok(())
}

/// Kills qemu when dropped: the runner never leaves a VM behind.
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a boot ended with.
#[derive(Debug)]
enum Outcome {
    /// The exit status and the steps found hung.
    Exit(i32, Vec<String>),
    NoBoot,
    Timeout,
    Died,
}

/// The same command run through `setpriv --pdeathsig KILL` (util-linux), so that the
/// kernel kills it when this process dies.
fn with_pdeathsig(cmd: &Command) -> Command {
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--pdeathsig", "KILL", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped
}

fn boot(
    q: &qemu::Qemu,
    kernel: &kernel::Kernel,
    initrd: &Path,
    disks: &[PathBuf],
    kvm: bool,
    boot_limit: Duration,
    limit: Duration,
) -> Result<Outcome> {
    // qemu dies with xtask, however xtask ends (SIGTERM, SIGKILL of a CI job), not only
    // through the Vm guard.
    let mut cmd = with_pdeathsig(&q.command());
    if kvm {
        cmd.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        cmd.args(["-accel", "tcg", "-cpu", "max"]);
    }
    cmd.args([
        "-m",
        "1536",
        "-smp",
        "2",
        "-nographic",
        "-monitor",
        "none",
        "-nodefaults",
        "-serial",
        "stdio",
        "-nic",
        "none",
        "-no-reboot",
    ])
    .arg("-kernel")
    .arg(&kernel.vmlinuz)
    .arg("-initrd")
    .arg(initrd)
    .args([
        "-append",
        "console=ttyS0 quiet loglevel=1 panic=-1 cgroup_no_v1=all",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for d in disks {
        let mut spec = std::ffi::OsString::from("file=");
        spec.push(d);
        spec.push(",if=virtio,format=raw,snapshot=on");
        cmd.arg("-drive").arg(spec);
    }
    let mut vm = Vm(cmd.spawn().context("cannot start qemu")?);
    let stdout = vm.0.stdout.take().context("qemu stdout")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut booted = false;
    let mut hung = Vec::new();
    loop {
        let deadline = if booted { limit } else { boot_limit };
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Ok(if booted {
                Outcome::Timeout
            } else {
                Outcome::NoBoot
            });
        }
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                eprintln!("vm| {line}");
                // The firmware's terminal escapes may precede a marker on its line.
                if line.ends_with("VM-LANE-BOOTED") {
                    booted = true;
                } else if let Some(rest) = line.strip_prefix("VM-LANE-HUNG ") {
                    hung.extend(rest.split_whitespace().next().map(str::to_owned));
                } else if let Some(code) = line.split_once("VM-LANE-EXIT=").map(|(_, c)| c) {
                    return Ok(Outcome::Exit(code.trim().parse().unwrap_or(1), hung));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Ok(if booted {
                    Outcome::Died
                } else {
                    Outcome::NoBoot
                });
            }
        }
    }
}

/// What the guest reported.
struct Guest {
    /// Its exit status (`VM-LANE-EXIT=`).
    code: i32,
    /// The steps its watchdog found hung (`VM-LANE-HUNG`), in order.
    hung: Vec<String>,
}

/// Boot the payload, choosing the accelerator, and return what the guest reported.
fn run_payload(payload: &Payload) -> Result<Guest> {
    let cache = cache_dir().join("vm-lane");
    fs::create_dir_all(&cache)?;
    let q = qemu::ensure(&cache)?;
    let kernel = kernel::ensure(&cache)?;
    let initrd = cache.join(format!("initrd-{}.cpio", std::process::id()));
    let _cleanup = Cleanup(initrd.clone());
    initramfs(&kernel, payload, &initrd)?;
    let limit = Duration::from_secs(
        std::env::var("VM_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(900),
    );
    let accel = std::env::var("VM_ACCEL").unwrap_or_else(|_| "auto".to_owned());
    let kvm_broken = cache.join("kvm-does-not-boot");
    let try_kvm = match accel.as_str() {
        "kvm" => true,
        "tcg" => false,
        _ => Path::new("/dev/kvm").exists() && !kvm_broken.exists(),
    };
    let started = Instant::now();
    let mut outcome = Outcome::NoBoot;
    if try_kvm {
        eprintln!("xtask: booting {} under KVM", kernel.package);
        outcome = boot(
            &q,
            &kernel,
            &initrd,
            &payload.disks,
            true,
            Duration::from_secs(20),
            limit,
        )?;
        if matches!(outcome, Outcome::NoBoot) && accel != "kvm" {
            eprintln!(
                "xtask: KVM did not boot the kernel; using TCG (remembered in {})",
                kvm_broken.display()
            );
            fs::write(&kvm_broken, "")?;
        }
    }
    if !try_kvm || (matches!(outcome, Outcome::NoBoot) && accel != "kvm") {
        eprintln!(
            "xtask: booting {} under TCG (software emulation)",
            kernel.package
        );
        outcome = boot(
            &q,
            &kernel,
            &initrd,
            &payload.disks,
            false,
            Duration::from_secs(120),
            limit,
        )?;
    }
    eprintln!(
        "xtask: VM lane finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    match outcome {
        Outcome::Exit(code, hung) => Ok(Guest { code, hung }),
        Outcome::NoBoot => bail!("the VM did not boot (no VM-LANE-BOOTED on its console)"),
        Outcome::Timeout => bail!(
            "the VM did not finish within {} s (VM_TIMEOUT)",
            limit.as_secs()
        ),
        Outcome::Died => bail!("qemu ended before the guest reported an exit status"),
    }
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// `cargo xtask vm-run [--add FILE]... -- COMMAND...`
pub fn vm_run(args: &[String]) -> Result<()> {
    let mut payload = Payload::default();
    let mut it = args.iter();
    let mut command = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--add" => {
                let f = PathBuf::from(it.next().context("--add needs a FILE")?);
                let f = fs::canonicalize(&f).with_context(|| format!("{}", f.display()))?;
                let guest = format!(
                    "{GUEST_BIN}/{}",
                    f.file_name().context("file name")?.to_string_lossy()
                );
                payload.files.push((f, guest));
            }
            "--" => {
                command.extend(it.by_ref().cloned());
            }
            other => bail!(
                "vm-run: unexpected argument {other} (usage: vm-run [--add FILE]... -- COMMAND...)"
            ),
        }
    }
    if command.is_empty() {
        bail!("usage: cargo xtask vm-run [--add FILE]... -- COMMAND...");
    }
    payload.script = format!(
        "cd /tmp\n{}\n",
        command
            .iter()
            .map(|a| quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let code = run_payload(&payload)?.code;
    if code != 0 {
        bail!("the command in the VM exited with status {code}");
    }
    Ok(())
}

/// Build a test target of the integration crate and return its executable.
fn test_executable(root: &Path, test: &str) -> Result<PathBuf> {
    let out = cargo()
        .current_dir(root)
        .args([
            "test",
            "-p",
            "integration",
            "--test",
            test,
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("cannot build the {test} integration tests");
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == test)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no executable for the {test} tests"))
}

/// The steps of `vm-test`, for the packages present in the workspace.
fn steps(root: &Path, payload: &mut Payload) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut tools = Vec::new();
    for (package, test) in [("cgctl", "cgctl"), ("netlink-tool", "netlink_vlan")] {
        if !root.join(package).join("Cargo.toml").is_file() {
            continue;
        }
        tools.push(package);
        let exe = test_executable(root, test)?;
        let guest = format!("{GUEST_TESTS}/{test}");
        payload.files.push((exe, guest.clone()));
        steps.push(Step {
            name: test,
            command: format!("{guest} --test-threads=1"),
            limit: 300,
        });
    }
    if tools.is_empty() {
        bail!("vm-test: neither cgctl nor netlink-tool is in the workspace");
    }
    let mut build = cargo();
    build.current_dir(root).args(["build", "--bins"]);
    for t in &tools {
        build.args(["-p", t]);
    }
    crate::sh(&mut build)?;
    for t in &tools {
        payload.files.push((
            root.join("target/debug").join(t),
            format!("{GUEST_BIN}/{t}"),
        ));
    }
    if tools.contains(&"cgctl") {
        // cgctl's tests run it under a seccomp filter that refuses clone3, as container
        // runtimes' profiles do (integration's helper).
        let mut helper = cargo();
        helper
            .current_dir(root)
            .args(["build", "-p", "integration", "--bin", "seccomp-refuse"]);
        crate::sh(&mut helper)?;
        payload.files.push((
            root.join("target/debug/seccomp-refuse"),
            format!("{GUEST_BIN}/seccomp-refuse"),
        ));
    }
    if tools.contains(&"netlink-tool") {
        // The tests observe with iproute2 and nftables (busybox's ip has no -j or netns):
        // first on the guest's PATH, ahead of busybox's applets.
        for host in ["/usr/sbin/ip", "/usr/sbin/nft"] {
            let name = Path::new(host)
                .file_name()
                .context("name")?
                .to_string_lossy()
                .into_owned();
            payload
                .files
                .push((PathBuf::from(host), format!("{GUEST_BIN}/{name}")));
        }
    }
    if SYSTEM_TOOLS
        .iter()
        .all(|t| root.join(t).join("Cargo.toml").is_file())
        && root.join("ctn/ctn").is_file()
    {
        let image = system_image(root)?;
        payload.disks.push(image);
        let mut build = cargo();
        build.current_dir(root).args(["build", "--bins"]);
        for t in SYSTEM_TOOLS {
            build.args(["-p", t]);
        }
        crate::sh(&mut build)?;
        for bin in ["ptyhold", "unshare-rs", "nsenter-rs", "chroot-rs", "cgctl"] {
            let guest = format!("{GUEST_BIN}/{bin}");
            if !payload.files.iter().any(|(_, g)| *g == guest) {
                payload
                    .files
                    .push((root.join("target/debug").join(bin), guest));
            }
        }
        steps.push(Step {
            name: "systemd-container",
            command: SYSTEM_STEP.to_owned(),
            limit: 420,
        });
    }
    if tools.contains(&"cgctl") {
        steps.insert(
            0,
            Step {
                name: "cgctl-check",
                command: "cgctl check".to_owned(),
                limit: 60,
            },
        );
    }
    Ok(steps)
}

/// The packages the system-container step runs.
const SYSTEM_TOOLS: &[&str] = &[
    "ptyhold",
    "nsenter-rs",
    "chroot-rs",
    "cgctl",
    "debootstrap-rs",
];

/// The system-container step: the course's Debian container (systemd as PID 1) booted
/// unprivileged on pure cgroup v2, as `ctn start` composes it (its rootfs an ext4 disk,
/// /dev/vda): `running` with nothing failed, a console login on tty 1 through ptyhold, a
/// clean halt by systemd's own signal, nothing left. (ctn itself needs more of a Debian
/// userland than the guest's busybox: the chain is typed here as `examples/container`
/// types it.)
const SYSTEM_STEP: &str = r#"set -ex
trap 'rc=$?; if [ $rc != 0 ]; then echo "--- the container console (rc $rc)"; cat /tmp/ctn.log; fi' EXIT
B=1073741824
mkdir -p /mnt/ctn
mount -t ext4 /dev/vda /mnt/ctn
chmod 755 /mnt
cgctl create vmctn
cgctl create vmctn/payload --owner $B:$B
ptyhold -d --socket /tmp/ctn.sock --log /tmp/ctn.log --no-ctty --receive-ttys 1     --owner $B:$B --pidfile /tmp/holder.pid --   cgctl exec vmctn/payload --   unshare-rs --fork --kill-child --user -S 0 -G 0 --map-users=$B,0,65536     --map-groups=$B,0,65536 --idmap-mount /mnt/ctn --pid --mount --uts --ipc --net     --cgroup --hostname vmctn --pidfile /tmp/init.pid --   chroot-rs --pivot --api-fs --protect-kernel --cgroup-fs --seccomp --console --ttys 1:3     --tmpfs /run --tmpfs /run/lock --cap-drop sys_module,sys_rawio,sys_time,mac_admin,mac_override     --clear-env --setenv container=ctn /mnt/ctn /sbin/init
i=0; until [ -s /tmp/init.pid ]; do sleep 0.2; i=$((i + 1)); [ $i -lt 300 ]; done
pid=$(cat /tmp/init.pid)
i=0; until [ "$(cat /proc/$pid/comm 2>/dev/null)" = systemd ]; do sleep 0.2; i=$((i + 1)); [ $i -lt 300 ]; done
# Its bus first (under emulation the boot takes a while), then the end of its start-up.
i=0; until [ -S /proc/$pid/root/run/systemd/private ]; do sleep 1; i=$((i + 1)); [ $i -lt 240 ]; done
state=$(nsenter-rs --container -t $pid -- systemctl is-system-running --wait </dev/null || true)
echo "systemd in the container: $state"
nsenter-rs --container -t $pid -- systemctl --failed --no-legend </dev/null
[ "$state" = running ]
# A console login on tty 1, typed as a person would.
mkfifo /tmp/in
ptyhold attach /tmp/ctn.sock -t 1 </tmp/in >/tmp/console.out 2>&1 &
attach=$!
exec 7>/tmp/in
wait_for() { i=0; until grep -q "$1" /tmp/console.out; do sleep 1; i=$((i + 1)); [ $i -lt 60 ]; done; }
i=0
until grep -q 'vmctn login:' /tmp/console.out; do printf '
' >&7; sleep 3; i=$((i + 1)); [ $i -lt 30 ]; done
printf 'root
' >&7; wait_for 'Password:'
printf 'root
' >&7; wait_for 'root@vmctn'
printf 'echo LOGIN-$((6*7)) on $(tty)
' >&7; wait_for 'LOGIN-42 on /dev/'
printf 'exit
q' >&7
exec 7>&-
wait $attach
# A clean stop: systemd halts on SIGRTMIN+3 (34+3).
kill -37 $pid
i=0; while kill -0 $pid 2>/dev/null; do sleep 0.2; i=$((i + 1)); [ $i -lt 600 ]; done
grep -q 'Halting system' /tmp/ctn.log
i=0; while [ -e /tmp/ctn.sock ]; do sleep 0.2; i=$((i + 1)); [ $i -lt 150 ]; done
cgctl delete --kill vmctn
! cgctl stat vmctn 2>/dev/null
umount /mnt/ctn
echo "the systemd container booted, served a login, halted, and left nothing"
"#;

/// The system container's disk: ctn's Debian base (built once by debootstrap-rs from the
/// host's mirror), made a machine (hostname, root's password `root`, SSH host keys), as
/// an ext4 image; cached.
fn system_image(root: &Path) -> Result<PathBuf> {
    let cache = cache_dir();
    let mut build = cargo();
    build
        .current_dir(root)
        .args(["build", "--bins", "-p", "debootstrap-rs"]);
    crate::sh(&mut build)?;
    let out = Command::new(root.join("ctn/ctn"))
        .args(["template", "base", "bookworm"])
        .env("CTN_CACHE", cache.join("ctn"))
        .env("CTN_TOOLS", root.join("target/debug"))
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run ctn template base")?;
    anyhow::ensure!(out.status.success(), "ctn template base failed");
    let base = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let name = base
        .file_name()
        .context("base name")?
        .to_string_lossy()
        .replace(".tar.zst", ".img");
    let image = cache.join("vm-lane").join(format!("system-{name}"));
    if image.is_file() {
        return Ok(image);
    }
    fs::create_dir_all(cache.join("vm-lane"))?;
    let tree = cache
        .join("vm-lane")
        .join(format!("system-tree-{}", std::process::id()));
    let _tree = CleanupDir(tree.clone());
    fs::create_dir_all(&tree)?;
    crate::sh(
        Command::new("tar")
            .args(["--zstd", "-x", "-p", "--numeric-owner", "-f"])
            .arg(&base)
            .arg("-C")
            .arg(&tree),
    )?;
    fs::write(
        tree.join("etc/hostname"),
        "vmctn
",
    )?;
    // root's password is "root" (SHA-512 crypt), as the integration tests' templates.
    let hash = "$6$toolkit$wTdi7ds4JcJgGrA.ujaYbORiBKnI50Xu99PaeNmcji3k3aCbhSyvkoYgXEe1rWllrv9ydsmKMrpJ99HfnqnTI0";
    let shadow = fs::read_to_string(tree.join("etc/shadow"))?
        .lines()
        .map(|l| match l.split_once(':') {
            Some(("root", rest)) => {
                let after = rest.split_once(':').map_or("", |(_, a)| a);
                format!(
                    "root:{hash}:{after}
"
                )
            }
            _ => format!(
                "{l}
"
            ),
        })
        .collect::<String>();
    fs::write(tree.join("etc/shadow"), shadow)?;
    crate::sh(
        Command::new("ssh-keygen")
            .args(["-q", "-A", "-f"])
            .arg(&tree),
    )?;
    let part = image.with_extension("img.part");
    let _ = fs::remove_file(&part);
    crate::sh(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "vmctn", "-d"])
            .arg(&tree)
            .arg(&part)
            .arg("1G"),
    )?;
    fs::rename(&part, &image)?;
    Ok(image)
}

struct CleanupDir(PathBuf);

impl Drop for CleanupDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// True when the workspace has a package the VM lane tests.
pub fn has_work(root: &Path) -> bool {
    ["cgctl", "netlink-tool"]
        .iter()
        .any(|p| root.join(p).join("Cargo.toml").is_file())
}

/// `cargo xtask vm-test`
pub fn vm_test(root: &Path) -> Result<()> {
    let mut payload = Payload::default();
    let steps = steps(root, &mut payload)?;
    let mut script = format!(
        "export INTEGRATION_REQUIRE_ROOT=1 TOOLKIT_BIN_DIR={GUEST_BIN} TOOLKIT_VM_LANE=1 RUST_BACKTRACE=1\n\
         cd /tmp\nfail=0\n{STEP_RUNNER}"
    );
    for s in &steps {
        script.push_str(&format!(
            "step {name} {limit} {cmd}\n",
            name = s.name,
            limit = s.limit,
            cmd = quote(&s.command)
        ));
    }
    script.push_str("exit $fail\n");
    payload.script = script;
    let guest = run_payload(&payload)?;
    if guest.code != 0 {
        bail!("a VM lane step failed (see the VM-LANE-RESULT lines above)");
    }
    if guest.hung.is_empty() {
        eprintln!("xtask: VM lane: all {} steps passed", steps.len());
    } else {
        eprintln!(
            "xtask: VM lane: all {} steps passed, but {} hung once and passed only when run \
             again: see the VM-LANE-HUNG dump above",
            steps.len(),
            guest.hung.join(", ")
        );
    }
    Ok(())
}
