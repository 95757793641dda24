//! The examples/ scripts, run as a user copies them: the course's LXC session (create,
//! start, attach, info, ls, stop, destroy) made only of the toolkit's five tools. Two
//! busybox containers on a bridge in a network namespace that plays the host, their
//! cgroups below this test's own, everything under a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration::netns::Netns;
use integration::{Output, Rootfs, bin, cmd, require_root, run};

struct Lab {
    dir: tempfile::TempDir,
    host: Netns,
    rootfs: Rootfs,
}

impl Lab {
    fn new() -> Self {
        Self {
            dir: integration::tempdir(),
            host: Netns::new("exh"),
            rootfs: Rootfs::new(),
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn example(&self, script: &str, args: &[&str]) -> Output {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let tools = bin("chroot-rs").parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            tools.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(cmd(examples.join(script))
            .args(args)
            .env("PATH", path)
            .env("CTN_ROOT", self.dir.path().join("lib"))
            .env("CTN_RUN", self.run_dir())
            .env("CTN_HOST_NS", &self.host.name)
            .env("CTN_ROOTFS_FROM", self.rootfs.path())
            .env("CGCTL_PARENT", "self"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // A test that failed halfway still leaves nothing: destroy what exists.
        for name in ["c1", "c2"] {
            if self.dir.path().join("lib").join(name).exists() {
                let _ = self.example("ctn-destroy", &[name]);
            }
        }
    }
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

/// True while `pid` runs (a zombie waiting for its parent to reap it does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

#[test]
fn the_lxc_session_made_of_the_five_tools() {
    if !require_root("namespaces, cgroups, netlink") {
        return;
    }
    let lab = Lab::new();
    let host_before = lab.host.snapshot();

    lab.example("ctn-create", &["c1", "2"]).ok();
    lab.example("ctn-create", &["c2", "3"]).ok();
    let o = lab.example("ctn-create", &["c1", "4"]);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(o.stderr, "ctn-create: container 'c1' exists\n");

    let pid: u32 = lab
        .example("ctn-start", &["c1"])
        .ok()
        .stdout
        .trim()
        .parse()
        .unwrap();
    lab.example("ctn-start", &["c2"]).ok();
    assert!(running(pid));

    let ls = lab.example("ctn-ls", &[]);
    ls.ok();
    assert!(
        ls.stdout
            .contains(&format!("c1               RUNNING  {pid:<8} 10.0.3.2")),
        "{ls}"
    );
    assert!(ls.stdout.contains("c2               RUNNING"), "{ls}");

    // Inside: its hostname, its own PID namespace and root, its network.
    let o = lab.example("ctn-attach", &["c1", "hostname"]);
    assert_eq!(o.ok().stdout, "c1\n");
    let o = lab.example("ctn-attach", &["c1", "ps", "-o", "pid,comm"]);
    let procs: Vec<&str> = o.ok().stdout.lines().skip(1).collect();
    assert!(procs[0].trim_start().starts_with("1 "), "{o}");
    assert!(procs.len() <= 4, "more than the container's processes: {o}");
    let o = lab.example("ctn-attach", &["c1", "cat", "/etc/hostname"]);
    assert_eq!(
        o.ok().stdout,
        "rootfs\n",
        "attach lands in the container's root"
    );
    let o = lab.example("ctn-attach", &["c1", "ping", "-c1", "-W2", "10.0.3.1"]);
    o.ok();
    let o = lab.example("ctn-attach", &["c2", "ping", "-c1", "-W2", "10.0.3.2"]);
    o.ok();

    // Accounting: one JSON object.
    let o = lab.example("ctn-info", &["c1"]);
    let info: serde_json::Value = serde_json::from_str(o.ok().stdout.trim()).unwrap();
    assert_eq!(info["state"], "RUNNING");
    assert_eq!(info["pid"], pid);
    assert_eq!(info["addr"], "10.0.3.2");
    assert!(info["pids_current"].as_u64().unwrap() >= 1, "{info}");

    // Stop: nothing of c1 survives; c2 runs on.
    lab.example("ctn-stop", &["c1"]).ok();
    assert!(!running(pid), "c1's init still runs");
    let o = lab.example("ctn-info", &["c1"]);
    let info: serde_json::Value = serde_json::from_str(o.ok().stdout.trim()).unwrap();
    assert_eq!(info["state"], "STOPPED");
    assert_eq!(info["processes"], 0, "{info}");
    assert!(
        lab.example("ctn-ls", &[])
            .stdout
            .contains("c2               RUNNING")
    );

    // Destroy: no mount, no cgroup, no link left.
    lab.example("ctn-destroy", &["c1"]).ok();
    lab.example("ctn-destroy", &["c2"]).ok();
    assert_eq!(mounts_under(lab.dir.path()), Vec::<String>::new());
    let o = run(Command::new(bin("cgctl")).args(["--parent", "self", "get", "c1"]));
    assert_ne!(o.code, 0, "the cgroup is gone: {o}");
    assert_eq!(
        std::fs::read_dir(lab.dir.path().join("lib"))
            .unwrap()
            .count(),
        0
    );
    // The host keeps only the bridge the first create made.
    let mut after = lab.host.snapshot();
    let links = after["links"].as_array_mut().unwrap();
    links.retain(|l| l["ifname"] != "ctnbr0");
    after["routes"] = host_before["routes"].clone();
    assert_eq!(after, host_before);
}
