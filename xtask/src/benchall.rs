//! `cargo xtask bench all`: every `bench/*.sh` in one run, each one's output kept in
//! `target/bench/NAME.txt`, then `docs/benchmarks.md` written from them (`cargo xtask bench
//! report` writes it again from the kept outputs): the machine, the versions of the tools
//! compared, one table of every measure with its target and verdict, a plot per family
//! (`docs/benchmarks/NAME.png`, each measure as a fraction of its target, by gnuplot), and
//! each script's output as it printed it.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// One measure a script printed with a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub target: f64,
    /// The target is a floor (`>= 10x`: more is better), not a ceiling.
    pub at_least: bool,
    pub ok: bool,
}

/// The families, in the order of the page (the course's order: chroot, debootstrap,
/// namespaces, cgroups, network, then the console, the boundary and the manager).
const FAMILIES: &[(&str, &str)] = &[
    (
        "chroot",
        "chroot-rs against GNU chroot, unshare --root and bubblewrap",
    ),
    (
        "debootstrap",
        "debootstrap-rs against mmdebstrap and debootstrap",
    ),
    ("ns", "nsenter-rs and unshare-rs against util-linux"),
    ("cgroup", "cgctl against the shell's writes and libcgroup"),
    ("net", "netlink-tool against iproute2"),
    ("console", "ptyhold (the console holder)"),
    (
        "boundary",
        "the container boundary: unprivileged against privileged and bubblewrap",
    ),
    ("ctn", "the manager against LXC 5"),
];

pub fn run(
    root: &Path,
    args: &[String],
    run_one: impl Fn(&[String]) -> Result<String>,
) -> Result<()> {
    let out_dir = root.join("target/bench");
    fs::create_dir_all(&out_dir)?;
    if args.first().map(String::as_str) == Some("all") {
        let mut failed = Vec::new();
        for (name, _) in FAMILIES {
            eprintln!("xtask: bench all: {name}");
            match run_one(&[(*name).to_owned()]) {
                Ok(text) => fs::write(out_dir.join(format!("{name}.txt")), text)?,
                Err(e) => {
                    eprintln!("xtask: bench {name} failed: {e:#}");
                    failed.push(*name);
                }
            }
        }
        write_page(root)?;
        if !failed.is_empty() {
            bail!("these benchmarks failed: {}", failed.join(", "));
        }
        return Ok(());
    }
    write_page(root)
}

/// The measures in a script's output: every line ending in a verdict (`ok`, `MISSED`,
/// possibly followed by a note), and the rows of ctn's table against LXC.
pub fn measures(text: &str) -> Vec<Measure> {
    let mut v = Vec::new();
    let mut ctn_table = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"step") && line.contains("ctn/lxc") {
            ctn_table = true;
            continue;
        }
        if ctn_table {
            // step ctn ctn-priv lxc ctn/lxc priv/lxc
            if words.len() == 6 && words[1..].iter().all(|w| w.parse::<f64>().is_ok()) {
                for (col, who) in [(4, "ctn"), (5, "ctn privileged")] {
                    let r: f64 = words[col].parse().unwrap_or(f64::NAN);
                    v.push(Measure {
                        label: format!("{} ({who}) / LXC", words[0]),
                        value: r,
                        unit: "x".into(),
                        target: 1.0,
                        at_least: false,
                        ok: r <= 1.0,
                    });
                }
                continue;
            }
            ctn_table = false;
        }
        if let Some(m) = fancy_line(line) {
            v.push(m);
            continue;
        }
        let Some(pos) = words.iter().position(|w| *w == "ok" || *w == "MISSED") else {
            continue;
        };
        let ok = words[pos] == "ok";
        // The target clause ("(<= 1.0x)", "(< 2.0 MiB)", ">= 10x") is the last one before
        // the verdict; the value is the number just before it (its unit glued or next),
        // and the label everything before (labels may hold numbers: "1,000 groups").
        // (no clause: "label 0.76x ok" under a "ratios (target <= 1.0x):" heading)
        let t = words[..pos]
            .iter()
            .rposition(|w| w.starts_with('(') || w.starts_with(">=") || w.starts_with("<="))
            .unwrap_or(pos);
        let (at, (value, unit)) = match t
            .checked_sub(1)
            .and_then(|i| number(words[i]).map(|n| (i, n)))
        {
            Some(found) => found,
            None => match t
                .checked_sub(2)
                .and_then(|i| number(words[i]).map(|n| (i, n)))
            {
                Some((i, (n, _))) => (i, (n, words[t - 1].to_owned())),
                None => continue,
            },
        };
        if at == 0 {
            continue;
        }
        let target = words[t..pos]
            .iter()
            .find_map(|w| number(w.trim_start_matches(['(', '<', '>', '='])).map(|n| n.0))
            .unwrap_or(if unit == "x" { 1.0 } else { f64::NAN });
        let at_least = words[t..pos].iter().any(|w| w.contains(">="));
        v.push(Measure {
            label: words[..at].join(" "),
            value,
            unit,
            target,
            at_least,
            ok,
        });
    }
    v
}

/// ctn's "ctn ls --fancy, 101 containers: 282 ms (target < 500)".
fn fancy_line(line: &str) -> Option<Measure> {
    let rest = line.trim().strip_prefix("ctn ls --fancy, ")?;
    let (label, tail) = rest.split_once(": ")?;
    let mut w = tail.split_whitespace();
    let value: f64 = w.next()?.parse().ok()?;
    let unit = w.next()?.to_owned();
    let target: f64 = tail
        .rsplit_once("< ")?
        .1
        .trim_end_matches(')')
        .parse()
        .ok()?;
    Some(Measure {
        label: format!("ls --fancy, {label}"),
        value,
        unit,
        target,
        at_least: false,
        ok: value < target,
    })
}

/// `1.23x`, `0.5`, `12ms` → the number and what is glued to it.
fn number(w: &str) -> Option<(f64, String)> {
    let w = w.trim_end_matches([',', ')']);
    let end = w
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(w.len());
    if end == 0 || !w[..end].bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: f64 = w[..end].parse().ok()?;
    Some((n, w[end..].to_owned()))
}

fn version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "not installed".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).into_owned(),
        )
}

/// A bar per measure, its value as a fraction of its target (1 = at the target).
fn plot(dir: &Path, name: &str, title: &str, ms: &[Measure]) -> Result<bool> {
    if Command::new("gnuplot").arg("--version").output().is_err() {
        return Ok(false);
    }
    let data = dir.join(format!(".{name}.dat"));
    let mut d = String::new();
    for m in ms.iter().filter(|m| m.target > 0.0 && m.value > 0.0) {
        // A floor is turned around, so that below 1 meets the target for every bar.
        let f = if m.at_least {
            m.target / m.value
        } else {
            m.value / m.target
        };
        let _ = writeln!(d, "\"{}\" {f:.4}", m.label.replace('"', "'"));
    }
    fs::write(&data, d)?;
    let png = dir.join(format!("{name}.png"));
    let script = format!(
        "set terminal pngcairo size 900,{h} font 'sans,10'\n\
         set output '{png}'\n\
         set title \"{title}\\n(each measure as a fraction of its target: below 1 meets it)\"\n\
         set style fill solid 0.6\n\
         set boxwidth 0.6\n\
         set yrange [0:*]\n\
         set xtics rotate by 30 right\n\
         set bmargin 12\n\
         set lmargin 18\n\
         set grid ytics\n\
         plot '{data}' using 0:2:xtic(1) with boxes lc rgb '#4477aa' notitle, \
         1 with lines lw 2 lc rgb '#cc3311' title 'target'\n",
        h = 520,
        png = png.display(),
        data = data.display(),
    );
    let mut child = Command::new("gnuplot")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot run gnuplot")?;
    child
        .stdin
        .take()
        .context("gnuplot stdin")?
        .write_all(script.as_bytes())?;
    let status = child.wait()?;
    let _ = fs::remove_file(&data);
    if !status.success() {
        bail!("gnuplot failed for {name}");
    }
    Ok(true)
}

fn write_page(root: &Path) -> Result<()> {
    let out_dir = root.join("target/bench");
    let img_dir = root.join("docs/benchmarks");
    fs::create_dir_all(&img_dir)?;
    let mut summary =
        String::from("| family | measure | value | target | verdict |\n|---|---|---|---|---|\n");
    let mut sections = String::new();
    let (mut met, mut missed) = (0, 0);
    for (name, title) in FAMILIES {
        let Ok(text) = fs::read_to_string(out_dir.join(format!("{name}.txt"))) else {
            let _ = writeln!(
                sections,
                "## {title}\n\nNot run (`cargo xtask bench {name}`).\n"
            );
            continue;
        };
        let ms = measures(&text);
        for m in &ms {
            if m.ok {
                met += 1;
            } else {
                missed += 1;
            }
            let _ = writeln!(
                summary,
                "| {name} | {} | {}{} | {}{} | {} |",
                m.label,
                m.value,
                m.unit,
                if m.target.is_nan() {
                    "-".to_owned()
                } else {
                    format!("{}{}", if m.at_least { "≥ " } else { "≤ " }, m.target)
                },
                if m.target.is_nan() { "" } else { &m.unit },
                if m.ok { "ok" } else { "**missed**" }
            );
        }
        let _ = writeln!(sections, "## {title}\n");
        if plot(&img_dir, name, title, &ms)? {
            let _ = writeln!(sections, "![{name}](benchmarks/{name}.png)\n");
        }
        let _ = writeln!(sections, "`cargo xtask bench {name}`:\n\n```text");
        for l in text.lines() {
            let _ = writeln!(sections, "{l}");
        }
        let _ = writeln!(sections, "```\n");
    }
    let versions = [
        "coreutils",
        "util-linux",
        "bubblewrap",
        "debootstrap",
        "mmdebstrap",
        "cgroup-tools",
        "iproute2",
        "dtach",
        "lxc",
        "hyperfine",
    ]
    .iter()
    .map(|p| format!("{p} {}", version(p)))
    .collect::<Vec<_>>()
    .join(", ");
    let page = format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench all` (every `bench/*.sh` in one run; `cargo xtask \
         bench report` writes this page again from their kept output) {stamp}. Each \
         script times our tool \
         and the one it replaces side by side in one run, on release binaries as shipped; \
         a shared, loaded machine inflates the medians, the ratios less. Compared with: \
         {versions}.\n\n\
         {met} measures meet their target, {missed} miss it.\n\n{summary}\n{sections}",
        stamp = crate::stamp(),
    );
    fs::write(root.join("docs/benchmarks.md"), page)?;
    eprintln!("xtask: docs/benchmarks.md written ({met} met, {missed} missed)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_verdict_lines_are_read() {
        let text = "\
ratios (target <= 1.0x):
  nsenter-rs start / nsenter start   0.76x  ok
ratios (target):
  chroot-rs start / GNU chroot start  0.91x  (<= 1.0x) ok
  pivot path / unshare --root          1.84x  (<= 1.2x) MISSED
  cgctl get (wall)                     1.20 ms  (<= 2.0 ms) ok
  ptyhold -d -- true, above true                 0.412 ms  (< 1.0 ms) ok   floor 0.2 ms, 1.10x true
  nt-connect / ip-per-step      12.3x  >= 10x  ok
  nt-batch                    0.071 ms/container (<= 1.0 ms) ok
  (for scale: the raw shell chain itself is 0.40x libcgroup)
  cgctl list --json, 1,000 groups    175.53 ms  (<= 100.0 ms) MISSED
  holder VmRSS, idle, 4 ttys, socket, log        1.543 MiB  (< 2.0 MiB) ok
step         ctn (ms)  ctn priv (ms)   lxc (ms)      ctn/lxc     priv/lxc
create           5834           5800      11203         0.52         0.52
start             124            120         29         4.28         4.14
ctn ls --fancy, 101 containers: 282 ms (target < 500)
";
        let m = measures(text);
        let get = |l: &str| {
            m.iter()
                .find(|x| x.label == l)
                .unwrap_or_else(|| panic!("{l}: {m:#?}"))
        };
        let a = get("chroot-rs start / GNU chroot start");
        assert_eq!(
            (a.value, a.unit.as_str(), a.target, a.ok),
            (0.91, "x", 1.0, true)
        );
        let b = get("pivot path / unshare --root");
        assert_eq!((b.value, b.target, b.ok), (1.84, 1.2, false));
        let c = get("cgctl get (wall)");
        assert_eq!((c.value, c.unit.as_str(), c.target), (1.2, "ms", 2.0));
        let d = get("ptyhold -d -- true, above true");
        assert_eq!((d.value, d.target, d.ok), (0.412, 1.0, true));
        let e = get("nt-connect / ip-per-step");
        assert_eq!((e.value, e.target, e.at_least), (12.3, 10.0, true));
        assert!(!a.at_least);
        let f = get("nt-batch");
        assert_eq!(
            (f.value, f.unit.as_str(), f.target),
            (0.071, "ms/container", 1.0)
        );
        let g = get("start (ctn) / LXC");
        assert_eq!((g.value, g.ok), (4.28, false));
        assert_eq!(get("create (ctn privileged) / LXC").value, 0.52);
        let h = get("ls --fancy, 101 containers");
        assert_eq!((h.value, h.target, h.ok), (282.0, 500.0, true));
        let k = get("nsenter-rs start / nsenter start");
        assert_eq!((k.value, k.target, k.ok), (0.76, 1.0, true));
        let i = get("cgctl list --json, 1,000 groups");
        assert_eq!(
            (i.value, i.unit.as_str(), i.target, i.ok),
            (175.53, "ms", 100.0, false)
        );
        let j = get("holder VmRSS, idle, 4 ttys, socket, log");
        assert_eq!((j.value, j.unit.as_str(), j.target), (1.543, "MiB", 2.0));
        assert_eq!(m.len(), 14, "{m:#?}");
    }
}
