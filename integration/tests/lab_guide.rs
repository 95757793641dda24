//! The lab guide, `docs/lab.md` and its French twin `docs/lab.fr.md`, is executable: the
//! code blocks fenced as ```` ```sh lab ```` are run here in order, as one `sh -e`
//! script, as root, with the built tools on PATH, a busybox root instead of Debian, the
//! manager's state in an `integration::ctn::Lab`, cgroups below this test's own, and
//! networking only in the network namespaces the guide makes and deletes. Blocks fenced
//! as plain ```` ```sh ```` are shown, not run (they need the Debian mirror or a
//! terminal). Both files must hold the same blocks in the same order.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration::ctn::Lab;
use integration::{Guard, Rootfs, bin, cmd, require_root, run_with_timeout};

/// The fence of a block the test runs.
const RUN: &str = "```sh lab";
/// The fence of a block that is shown only.
const SHOW: &str = "```sh";

/// A code block of the guide: whether it runs, and its text.
#[derive(Debug, PartialEq, Eq)]
struct Block {
    runs: bool,
    line: usize,
    text: String,
}

fn guide(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name)
}

/// The `sh` and `sh lab` blocks of a guide, in order.
fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        match open.as_mut() {
            Some(_) if line.trim_end() == "```" => out.extend(open.take()),
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            None => {
                let fence = line.trim_end();
                if fence == RUN || fence == SHOW {
                    open = Some(Block {
                        runs: fence == RUN,
                        line: n + 1,
                        text: String::new(),
                    });
                }
            }
        }
    }
    assert!(open.is_none(), "{}: a block is not closed", path.display());
    out
}

#[test]
fn both_guides_have_the_same_commands_in_the_same_order() {
    let en = blocks(&guide("lab.md"));
    let fr = blocks(&guide("lab.fr.md"));
    assert!(
        en.iter().filter(|b| b.runs).count() >= 10,
        "the guide runs its steps"
    );
    for (i, (e, f)) in en.iter().zip(&fr).enumerate() {
        assert!(
            e.runs == f.runs && e.text == f.text,
            "block {i} differs: lab.md line {} ({}), lab.fr.md line {} ({}):\n{}\n---\n{}",
            e.line,
            if e.runs { "runs" } else { "shown" },
            f.line,
            if f.runs { "runs" } else { "shown" },
            e.text,
            f.text
        );
    }
    assert_eq!(
        en.len(),
        fr.len(),
        "lab.md and lab.fr.md: not as many blocks"
    );
}

#[test]
fn the_lab_guide_runs_as_written() {
    if !require_root("the lab guide (namespaces, cgroups, network namespaces)") {
        return;
    }
    let runs: Vec<Block> = blocks(&guide("lab.md"))
        .into_iter()
        .filter(|b| b.runs)
        .collect();
    // One script: each block after a line naming it, so a failure says where.
    let mut script = String::new();
    for (i, b) in runs.iter().enumerate() {
        script.push_str(&format!(
            "echo '>>> block {} (docs/lab.md line {})'\n{}",
            i + 1,
            b.line,
            b.text
        ));
    }
    script.push_str("echo '>>> done'\n");

    // What the guide's first block expects: a busybox root with the escape probe at its
    // host path, the same root as a manager template, a work directory and a unique id.
    let lab = Lab::new();
    let template = lab.busybox_template();
    let rootfs = Rootfs::new();
    rootfs.add_binary(&bin("escape-probe"));
    let work = integration::tempdir();
    let id = integration::unique_name("lab");

    let mut sh = cmd("sh");
    for (k, v) in lab.command("ctn").get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.env("LAB_ID", &id)
        .env("LAB_DIR", work.path())
        .env("LAB_ROOTFS", rootfs.path())
        .env("LAB_TEMPLATE", &template)
        .current_dir(work.path())
        .args(["-e", "-c", &script]);

    // What the guide makes, removed even when it fails half-way (its own EXIT trap does
    // the same; this is for a script killed by the time-out).
    let tools = bin("chroot-rs").parent().unwrap().to_path_buf();
    // The PIDs the guide records: its background commands, and the container's init.
    let pid_files = [work.path().join("pids"), work.path().join("ctn01.pid")];
    let recorded = move || -> Vec<String> {
        pid_files
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                text.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let guard_pids = recorded.clone();
    let guard_id = id.clone();
    let _guard = Guard::new(move || {
        for p in guard_pids() {
            if let Ok(p) = p.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for ns in ["host", "ctn", "net"] {
            let name = format!("{ns}-{guard_id}");
            let _ = cmd(tools.join("netlink-tool"))
                .args(["-n", &name, "disconnect", &format!("ctn-{guard_id}")])
                .output();
            let _ = cmd(tools.join("netlink-tool"))
                .args(["netns", "del", &name])
                .output();
        }
        let _ = cmd(tools.join("cgctl"))
            .args([
                "--parent",
                "self",
                "delete",
                "--kill",
                &format!("lab-{guard_id}"),
            ])
            .output();
    });

    let start = Instant::now();
    let o = run_with_timeout(&mut sh, Duration::from_secs(150));
    eprintln!("{}", o.stdout);
    eprintln!(
        "the lab guide: {} blocks run in {:.1?}",
        runs.len(),
        start.elapsed()
    );
    assert_eq!(o.code, 0, "the guide failed; output:\n{o}");
    assert!(o.stdout.ends_with(">>> done\n"), "{o}");

    // It left nothing: no namespace file, no group, no container, no process.
    for ns in ["host", "ctn", "net"] {
        let f = Path::new("/run/netns").join(format!("{ns}-{id}"));
        assert!(!f.exists(), "{} is left", f.display());
    }
    let left: Vec<PathBuf> = integration::cgroups::hierarchies()
        .iter()
        .map(|h| h.own.join(format!("lab-{id}")))
        .filter(|p| p.exists())
        .collect();
    assert!(left.is_empty(), "groups left: {left:?}");
    assert!(lab.containers().is_empty(), "{:?}", lab.containers());
    for p in recorded() {
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        assert!(
            !cmdline.starts_with(b"sleep\x00300"),
            "the guide's process {p} is left"
        );
    }
    let dir = work.path().to_string_lossy().into_owned();
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&dir))
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:?}");
}
