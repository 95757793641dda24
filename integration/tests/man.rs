//! The man pages, as `cargo xtask man` makes them from the built binaries and `man/`.
//!
//! Every option and subcommand clap knows of each binary is in its page, in the section
//! of its subcommand, and shows in what `man` prints; the text `--help` prints after the
//! options is kept; each page renders without a warning (`groff -ww`, `man --warnings`);
//! sections come in man-pages(7) order; SEE ALSO names pages that exist. For the
//! manager, whose pages are written by hand, the pages are held against the code: every
//! command, option and config key ctn/ctn, ctn/lxc, ctn/vzctl and ctn/vzlist accept is
//! documented.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use integration::{bin, cmd, run};
use serde_json::Value;

const TOOLS: &[&str] = &[
    "chroot-rs",
    "debootstrap-rs",
    "nsenter-rs",
    "unshare-rs",
    "cgctl",
    "netlink-tool",
    "ptyhold",
];

const HAND_WRITTEN: &[&str] = &["ctn.8", "ctn.conf.5", "ctn-lxc.8", "vzctl.8", "vzlist.8"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

thread_local! {
    /// The pages, rendered once per test (each runs on a thread of its own) into a
    /// temporary directory removed when the test's thread ends.
    static PAGES: tempfile::TempDir = {
        let dir = integration::tempdir();
        let bins = bin("cgctl").parent().unwrap().to_path_buf();
        run(cmd(bin("xtask"))
            .args(["man", "--bin-dir"])
            .arg(&bins)
            .arg("--out")
            .arg(dir.path()))
        .ok();
        dir
    };
}

fn pages() -> PathBuf {
    PAGES.with(|d| d.path().to_path_buf())
}

fn page_path(file: &str) -> PathBuf {
    let sect = file.rsplit('.').next().unwrap();
    pages().join(format!("man{sect}")).join(file)
}

fn roff(file: &str) -> String {
    std::fs::read_to_string(page_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// What `man -l` prints for the page, one line per line, formatting removed.
fn rendered(file: &str) -> String {
    let o = run(Command::new("man")
        .args(["-l", "-E", "UTF-8"])
        .arg(page_path(file))
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C.UTF-8"));
    o.ok();
    o.stdout
}

/// `text` with hyphenation undone and all white space removed, for "does it say X".
fn squeezed(text: &str) -> String {
    text.replace("\u{2010}\n", "")
        .replace("\u{2212}", "-")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// roff text with fonts and escapes removed.
fn plain(roff: &str) -> String {
    roff.replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\-", "-")
        .replace("\\(aq", "'")
        .replace("\\(dq", "\"")
        .replace("\\e", "\\")
        .replace("\\&", "")
}

fn describe(tool: &str) -> Value {
    let o = run(cmd(bin(tool)).arg("--toolkit-describe-clap"));
    o.ok();
    serde_json::from_str(&o.stdout).unwrap()
}

/// The blocks of a page: (".SH"/".SS" header line, body), in order.
fn blocks(roff: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![(String::new(), String::new())];
    for l in roff.lines() {
        if l.starts_with(".SH ") || l.starts_with(".SS ") {
            out.push((l.to_owned(), String::new()));
        } else {
            let last = out.last_mut().unwrap();
            last.1.push_str(l);
            last.1.push('\n');
        }
    }
    out
}

/// The bold words of a subsection title (the command path: cgctl, nat, masquerade).
fn title_words(header: &str) -> Vec<String> {
    header
        .split("\\fB")
        .skip(1)
        .filter_map(|s| s.split_once("\\fR").map(|(w, _)| w.replace("\\-", "-")))
        .collect()
}

/// The tags (the line after each `.TP`) of a block.
fn tags(body: &str) -> Vec<String> {
    let lines: Vec<&str> = body.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .map(|w| w[1].to_owned())
        .collect()
}

/// Every (command path, argument) of a description, global options once where defined
/// (clap copies them into each subcommand), clap's help subcommand's copies left out.
fn walk(
    cmd: &Value,
    path: &mut Vec<String>,
    globals: &[String],
    out: &mut Vec<(Vec<String>, Value)>,
) {
    path.push(cmd["name"].as_str().unwrap().to_owned());
    let mut mine = globals.to_vec();
    for a in cmd["args"].as_array().unwrap() {
        let id = a["id"].as_str().unwrap().to_owned();
        if a["global"] == true && globals.contains(&id) {
            continue;
        }
        if a["global"] == true {
            mine.push(id);
        }
        out.push((path.clone(), a.clone()));
    }
    if path.len() == 1 || path.last().map(String::as_str) != Some("help") {
        for sub in cmd["subcommands"].as_array().unwrap() {
            if path.last().map(String::as_str) == Some("help") {
                break;
            }
            walk(sub, path, &mine, out);
        }
    }
    path.pop();
}

fn is_help_or_version(a: &Value) -> bool {
    matches!(
        a["action"].as_str(),
        Some("Help" | "HelpShort" | "HelpLong" | "Version")
    )
}

/// The escaped forms an argument is shown under in its tag.
fn forms(a: &Value) -> Vec<String> {
    let mut v = Vec::new();
    if a["positional"] == true {
        let name = a["value_names"][0]
            .as_str()
            .map_or_else(|| a["id"].as_str().unwrap().to_uppercase(), str::to_owned);
        v.push(format!("\\fI{}\\fR", name.replace('-', "\\-")));
        return v;
    }
    if let Some(s) = a["short"].as_str() {
        v.push(format!("\\fB\\-{s}\\fR"));
    }
    if let Some(l) = a["long"].as_str() {
        v.push(format!("\\fB\\-\\-{}\\fR", l.replace('-', "\\-")));
    }
    for l in a["aliases"].as_array().unwrap() {
        v.push(format!(
            "\\fB\\-\\-{}\\fR",
            l.as_str().unwrap().replace('-', "\\-")
        ));
    }
    v
}

#[test]
fn every_option_and_subcommand_clap_knows_is_in_its_page() {
    for tool in TOOLS {
        let file = format!("{tool}.8");
        let text = roff(&file);
        let blocks = blocks(&text);
        let shown = squeezed(&rendered(&file));
        let mut args = Vec::new();
        walk(&describe(tool), &mut Vec::new(), &[], &mut args);
        assert!(args.len() > 3, "{tool}: {args:?}");
        for (path, a) in &args {
            let id = a["id"].as_str().unwrap();
            if path.len() > 1 && is_help_or_version(a) {
                continue;
            }
            // The block that documents this command: OPTIONS for the tool itself, the
            // subsection whose title is the command's path for a subcommand.
            let block = if path.len() == 1 {
                blocks
                    .iter()
                    .find(|(h, _)| h == ".SH OPTIONS")
                    .map(|(_, b)| b.clone())
            } else {
                blocks
                    .iter()
                    .find(|(h, _)| h.starts_with(".SS ") && title_words(h) == *path)
                    .map(|(_, b)| b.clone())
            };
            let block =
                block.unwrap_or_else(|| panic!("{tool}: no section for {}", path.join(" ")));
            let tags = tags(&block);
            for f in forms(a) {
                assert!(
                    tags.iter().any(|t| t.contains(&f)),
                    "{tool} {}: {id} ({f}) is not among the options:\n{block}",
                    path.join(" ")
                );
                let word = plain(&f);
                assert!(
                    shown.contains(&squeezed(&word)),
                    "{tool}: man shows no {word}"
                );
            }
            if let Some(env) = a["env"].as_str() {
                let environment = blocks
                    .iter()
                    .find(|(h, _)| h == ".SH ENVIRONMENT")
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                assert!(
                    environment.contains(&format!("\\fB{env}\\fR")),
                    "{tool}: {env} (of {id}) is not in ENVIRONMENT"
                );
            }
        }
    }
}

#[test]
fn cgctl_documents_create_memory() {
    // What the "done" names: man 8 cgctl documents create --memory.
    let text = rendered("cgctl.8");
    // The subsection's title is indented by 3 (the synopsis's lines by 7).
    let create = text
        .find("\n   cgctl [OPTIONS] create [OPTIONS] NAME\n")
        .expect("a create subsection");
    let rest = &text[create + 1..];
    let end = rest[10..]
        .find("\n   cgctl ")
        .map_or(rest.len(), |e| e + 10);
    let section = &rest[..end];
    for opt in [
        "--memory SIZE",
        "--swap SIZE",
        "--cpu-limit PCT|QUOTA/PERIOD",
        "--pids N",
        "--owner UID:GID",
    ] {
        assert!(section.contains(opt), "{opt} missing:\n{section}");
    }
    assert!(section.contains("Hard memory limit"), "{section}");
}

#[test]
fn the_text_after_the_options_is_kept() {
    for tool in TOOLS {
        let d = describe(tool);
        let after = d["after_long_help"]
            .as_str()
            .or(d["after_help"].as_str())
            .unwrap_or("");
        let file = format!("{tool}.8");
        let shown = squeezed(&rendered(&file));
        let blocks = blocks(&roff(&file));
        for para in after.split("\n\n") {
            if para.starts_with("Conversions") {
                // cgctl: the CONVERSIONS section has the README's full table.
                assert!(blocks.iter().any(|(h, _)| h == ".SH CONVERSIONS"));
                continue;
            }
            if para.starts_with("Exit status") {
                // Every status it names is in EXIT STATUS.
                let exit = blocks
                    .iter()
                    .find(|(h, _)| h == ".SH \"EXIT STATUS\"")
                    .map(|(_, b)| plain(b))
                    .unwrap();
                for word in para.split(|c: char| !c.is_ascii_digit() && c != '+' && c != 'N') {
                    let code = word.trim_end_matches('+');
                    if !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()) {
                        assert!(
                            exit.contains(code),
                            "{tool}: status {code} of --help is not in EXIT STATUS:\n{exit}"
                        );
                    }
                }
                continue;
            }
            // The rest (an example's command line included) is in the page.
            for line in para.lines().skip(usize::from(para.starts_with("Example"))) {
                let line = line.trim().trim_end_matches('\\');
                assert!(
                    shown.contains(&squeezed(line)),
                    "{tool}: the --help line {line:?} is not in the page"
                );
            }
        }
    }
    let netlink = rendered("netlink-tool.8");
    assert!(
        netlink.contains("link add NAME type vlan link PARENT id N"),
        "{netlink}"
    );
}

/// man-pages(7)'s order of the standard sections.
const ORDER: &[&str] = &[
    "NAME",
    "SYNOPSIS",
    "CONFIGURATION",
    "DESCRIPTION",
    "OPTIONS",
    "EXIT STATUS",
    "RETURN VALUE",
    "ERRORS",
    "ENVIRONMENT",
    "FILES",
    "ATTRIBUTES",
    "VERSIONS",
    "STANDARDS",
    "HISTORY",
    "NOTES",
    "CAVEATS",
    "BUGS",
    "EXAMPLES",
    "AUTHORS",
    "REPORTING BUGS",
    "COPYRIGHT",
    "SEE ALSO",
];

fn all_pages() -> Vec<String> {
    TOOLS
        .iter()
        .map(|t| format!("{t}.8"))
        .chain(HAND_WRITTEN.iter().map(|s| (*s).to_owned()))
        .collect()
}

#[test]
fn sections_come_in_man_pages_order() {
    for file in all_pages() {
        let text = roff(&file);
        let titles: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|t| t.trim_matches('"').to_owned())
            .collect();
        let standard: Vec<usize> = titles
            .iter()
            .filter_map(|t| ORDER.iter().position(|o| o == t))
            .collect();
        assert!(
            standard.windows(2).all(|w| w[0] < w[1]),
            "{file}: {titles:?} not in man-pages(7) order"
        );
        for required in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "SEE ALSO"] {
            assert!(
                titles.iter().any(|t| t == required),
                "{file}: no {required}"
            );
        }
        if file.ends_with(".8") {
            assert!(
                titles.iter().any(|t| t == "EXIT STATUS"),
                "{file}: no EXIT STATUS"
            );
        }
        assert_eq!(titles.first().map(String::as_str), Some("NAME"), "{file}");
        assert_eq!(
            titles.last().map(String::as_str),
            Some("SEE ALSO"),
            "{file}"
        );
        let th = text.lines().find(|l| l.starts_with(".TH ")).unwrap();
        let sect = file.rsplit('.').next().unwrap();
        assert!(th.contains(&format!(" {sect} ")), "{file}: {th}");
        assert!(!th.contains('@'), "{file}: unfilled {th}");
    }
}

#[test]
fn pages_render_without_warnings() {
    for file in all_pages() {
        let path = page_path(&file);
        let o = run(Command::new("groff")
            .args(["-ww", "-z", "-man", "-Tutf8"])
            .arg(&path));
        o.ok();
        assert_eq!(o.stderr, "", "{file}: groff warns");
        let o = run(Command::new("man")
            .args(["--warnings", "-l", "-E", "UTF-8"])
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("LC_ALL", "C.UTF-8"));
        o.ok();
        assert_eq!(o.stderr, "", "{file}: man warns");
        assert!(o.stdout.contains("NAME"), "{file}: {o}");
        // ASCII only: the page reads the same in every locale.
        let text = roff(&file);
        assert!(text.is_ascii(), "{file} has non-ASCII characters");
    }
    // Each lxc-* name is a page: a link to ctn-lxc.8.
    for fe in lxc_frontends() {
        let link = pages().join("man8").join(format!("{fe}.8"));
        assert_eq!(
            std::fs::read_link(&link).unwrap_or_else(|e| panic!("{fe}.8: {e}")),
            Path::new("ctn-lxc.8")
        );
    }
}

/// Pages outside the toolkit that SEE ALSO may name: each exists on Debian 12, in the
/// package named. Where that package is installed here, `man -w` must find it.
const DEBIAN_PAGES: &[(&str, &str)] = &[
    ("chroot(8)", "coreutils"),
    ("chroot(2)", "manpages-dev"),
    ("pivot_root(2)", "manpages-dev"),
    ("setns(2)", "manpages-dev"),
    ("pidfd_open(2)", "manpages-dev"),
    ("clone3(2)", "manpages-dev"),
    ("mount_namespaces(7)", "manpages"),
    ("namespaces(7)", "manpages"),
    ("user_namespaces(7)", "manpages"),
    ("capabilities(7)", "manpages"),
    ("cgroups(7)", "manpages"),
    ("cgroup_namespaces(7)", "manpages"),
    ("rtnetlink(7)", "manpages"),
    ("pty(7)", "manpages"),
    ("unix(7)", "manpages"),
    ("veth(4)", "manpages"),
    ("fstab(5)", "util-linux"),
    ("nsenter(1)", "util-linux"),
    ("unshare(1)", "util-linux"),
    ("debootstrap(8)", "debootstrap"),
    ("mmdebstrap(1)", "mmdebstrap"),
    ("apt-secure(8)", "apt"),
    ("sources.list(5)", "apt"),
    ("ip(8)", "iproute2"),
    ("ip-link(8)", "iproute2"),
    ("ip-netns(8)", "iproute2"),
    ("nft(8)", "nftables"),
    ("cgcreate(1)", "cgroup-tools"),
    ("cgset(1)", "cgroup-tools"),
    ("cgexec(1)", "cgroup-tools"),
    ("lxc(7)", "lxc"),
    ("lxc-start(1)", "lxc"),
    ("lxc-cgroup(1)", "lxc"),
    ("lxc-console(1)", "lxc"),
    ("lxc.container.conf(5)", "lxc"),
    ("dtach(1)", "dtach"),
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

#[test]
fn see_also_names_pages_that_exist_on_debian() {
    let ours: Vec<String> = all_pages()
        .iter()
        .map(|f| {
            let (name, sect) = f.rsplit_once('.').unwrap();
            format!("{name}({sect})")
        })
        .collect();
    for file in all_pages() {
        let text = roff(&file);
        let see_also = text.split(".SH \"SEE ALSO\"").nth(1).unwrap();
        for l in see_also.lines().filter(|l| l.starts_with(".BR ")) {
            let l = l.trim_start_matches(".BR ").trim_end_matches(',');
            let (name, sect) = l.split_once(" (").unwrap();
            let page = format!("{}({}", name.replace("\\-", "-"), sect);
            if ours.contains(&page) {
                continue;
            }
            let Some((_, package)) = DEBIAN_PAGES.iter().find(|(p, _)| *p == page) else {
                panic!("{file}: SEE ALSO {page} is neither the toolkit's nor a known Debian page")
            };
            if installed(package) {
                let (n, s) = page.trim_end_matches(')').split_once('(').unwrap();
                let o = run(Command::new("man").args(["-w", s, n]));
                assert_eq!(o.code, 0, "{file}: {page} of {package} not found: {o}");
            }
        }
        assert!(
            !text.contains(".BR chroot (1)"),
            "{file}: chroot is chroot(8) on Debian"
        );
    }
}

// ---- the manager: its pages against its code ----

fn source(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap()
}

/// The words of the `case` arms of `text` (`-t | --template)` gives -t and --template):
/// those starting with `-` when `options`, the others otherwise; globs and patterns
/// (`--name=*`, `-n?*`, `--active:FROZEN`) are not names. With `one_level`, only the arms
/// at the outermost indentation such arms have (a command's own `case $1 in`, not a
/// nested one).
fn patterns(text: &str, options: bool, one_level: bool) -> Vec<String> {
    let arms: Vec<(usize, Vec<String>)> = text
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let (pat, _) = t.split_once(')')?;
            let words: Vec<String> = pat.split('|').map(|w| w.trim().to_owned()).collect();
            let word_like = |w: &String| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._*?=:[]!+".contains(c))
            };
            if !words.iter().all(word_like) || t.starts_with('#') {
                return None;
            }
            let words: Vec<String> = words
                .into_iter()
                .filter(|w| w.starts_with('-') == options)
                .filter(|w| !w.contains(['*', '?', '=', '[', ':']))
                .collect();
            (!words.is_empty()).then(|| (l.len() - t.len(), words))
        })
        .collect();
    let level = arms.iter().map(|(i, _)| *i).min().unwrap_or(0);
    let mut out: Vec<String> = arms
        .into_iter()
        .filter(|(i, _)| !one_level || *i == level)
        .flat_map(|(_, w)| w)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The body of shell function `name` in `text`.
fn function(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("\n{name}() {{"))
        .unwrap_or_else(|| panic!("no function {name}"));
    let body = &text[start + 1..];
    let end = body.find("\n}\n").unwrap();
    body[..end].to_owned()
}

/// The plain text of the subsection of `page` whose title starts with `title`.
fn subsection(page: &str, title: &str) -> String {
    let text = roff(page);
    let b = blocks(&text);
    let (h, body) = b
        .iter()
        .find(|(h, _)| {
            // One subsection may document two commands: "ctn freeze NAME, ctn unfreeze NAME".
            h.starts_with(".SS ")
                && plain(h)
                    .trim_start_matches(".SS \"")
                    .split(", ")
                    .any(|t| t.starts_with(title))
        })
        .unwrap_or_else(|| panic!("{page}: no subsection {title}"));
    plain(&format!("{h}\n{body}"))
}

/// Whether `text` names `option` as a word (not as the prefix of a longer option).
fn names(text: &str, option: &str) -> bool {
    text.match_indices(option).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + option.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn ctn_page_documents_every_command_and_option() {
    let ctn = source("ctn/ctn");
    let main = function(&ctn, "main");
    let page = plain(&roff("ctn.8"));
    // The commands of main's case: `create) cmd_create "$@" ;;`, `ls | list) cmd_ls`.
    let mut checked = 0;
    for l in main.lines() {
        let t = l.trim();
        let Some((pat, rest)) = t.split_once(')') else {
            continue;
        };
        let Some(func) = rest.trim().strip_prefix("cmd_") else {
            continue;
        };
        let func = func.split_whitespace().next().unwrap();
        let names_of: Vec<&str> = pat.split('|').map(str::trim).collect();
        if names_of.contains(&"__monitor") {
            continue;
        }
        for n in &names_of {
            if n.starts_with('-') {
                assert!(names(&page, n), "ctn.8 does not name {n}");
            } else {
                assert!(
                    page.contains(&format!("ctn {n}")),
                    "ctn.8 does not document 'ctn {n}'"
                );
            }
        }
        if func == "help" {
            continue;
        }
        // Its options, in its own subsection.
        let title = format!("ctn {}", names_of[0]);
        let section = subsection("ctn.8", &title);
        for opt in patterns(&function(&ctn, &format!("cmd_{func}")), true, true) {
            assert!(
                names(&section, &opt),
                "ctn.8, {title}: {opt} is not documented:\n{section}"
            );
        }
        if func == "template" {
            // Its words are commands of their own: list, import, make, base.
            let words = patterns(&function(&ctn, "cmd_template"), false, true);
            assert!(words.len() >= 4, "{words:?}");
            for w in words {
                assert!(names(&section, &w), "ctn.8, {title}: {w} is not documented");
            }
        }
        checked += 1;
    }
    assert!(checked >= 18, "{checked} commands found in ctn's main");
    // The global options of main's loop.
    for opt in patterns(&main, true, true) {
        assert!(names(&page, &opt), "ctn.8 does not name {opt}");
    }
    // Every variable ctn reads from the environment.
    let mut vars: Vec<&str> = ctn
        .match_indices("CTN_")
        .map(|(i, _)| {
            let rest = &ctn[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    vars.sort_unstable();
    vars.dedup();
    let environment = page.split(".SH ENVIRONMENT").nth(1).unwrap();
    let environment = environment.split(".SH FILES").next().unwrap();
    for v in vars.iter().chain(&["CGCTL_PARENT"]) {
        assert!(names(environment, v), "ctn.8 ENVIRONMENT lacks {v}");
    }
}

#[test]
fn ctn_conf_documents_every_key_ctn_accepts() {
    let ctn = source("ctn/ctn");
    let page = squeezed(&rendered("ctn.conf.5"));
    let keys = function(&ctn, "cfg_key");
    let mut n = 0;
    for l in keys.lines() {
        let t = l.trim();
        if !(t.starts_with("lxc.") || t.starts_with("ctn.")) {
            continue;
        }
        let Some((pat, _)) = t.split_once(')') else {
            continue;
        };
        for key in pat.split('|').map(str::trim) {
            // lxc.net.*.* is every network key, below; lxc.cgroup.* any cgroup key.
            let shown = key
                .replace("lxc.net.*.*", "lxc.net.N.type")
                .replace("lxc.network.*", "lxc.network.link")
                .replace("ctn.net.*.", "ctn.net.N.")
                .replace(".*", ".KEY");
            assert!(
                page.contains(&shown),
                "ctn.conf(5) does not document {key} (as {shown})"
            );
            n += 1;
        }
    }
    assert!(n >= 40, "{n} keys found in cfg_key");
    // Every network key, in LXC 5's form and, for the legacy names, as lxc.network.KEY.
    let net = function(&ctn, "cfg_net");
    for field in patterns(&net, false, true) {
        let five = format!("lxc.net.N.{field}");
        let legacy = format!("lxc.network.{field}");
        assert!(
            page.contains(&five) || page.contains(&legacy),
            "ctn.conf(5) does not document the network key {field}"
        );
    }
    for t in [
        "empty", "veth", "macvlan", "vlan", "phys", "routed", "venet", "none",
    ] {
        assert!(net.contains(t), "cfg_net no longer takes {t}?");
        assert!(page.contains(t), "ctn.conf(5) does not name the type {t}");
    }
}

fn lxc_frontends() -> Vec<String> {
    let lxc = source("ctn/lxc");
    let cases = lxc.split("case $PROG in").nth(1).unwrap();
    let mut v: Vec<String> = cases
        .lines()
        .filter(|l| l.starts_with("    lxc-"))
        .flat_map(|l| {
            l.trim()
                .trim_end_matches(')')
                .split('|')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn lxc_page_documents_every_front_end_and_option() {
    let lxc = source("ctn/lxc");
    let fes = lxc_frontends();
    assert_eq!(fes.len(), 15, "{fes:?}");
    let name_line = plain(roff("ctn-lxc.8").split(".SH SYNOPSIS").next().unwrap());
    let cases = lxc.split("case $PROG in").nth(1).unwrap();
    for fe in &fes {
        assert!(
            name_line.contains(fe.as_str()),
            "ctn-lxc(8)'s NAME lacks {fe}"
        );
        // The front-end's block: from its case line to the next front-end's.
        let lines: Vec<&str> = cases.lines().collect();
        let start = lines
            .iter()
            .position(|l| {
                l.starts_with("    lxc-")
                    && l.trim()
                        .trim_end_matches(')')
                        .split('|')
                        .any(|n| n.trim() == fe)
            })
            .unwrap();
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.starts_with("    lxc-") || l.starts_with("    *)"))
            .map_or(lines.len(), |e| start + 1 + e);
        let block = lines[start + 1..end].join("\n");
        let section = subsection("ctn-lxc.8", fe);
        for opt in patterns(&block, true, true) {
            assert!(
                names(&section, &opt),
                "ctn-lxc(8), {fe}: {opt} is not documented:\n{section}"
            );
        }
    }
    // The options every front-end takes.
    let options = plain(&roff("ctn-lxc.8"))
        .split(".SH OPTIONS")
        .nth(1)
        .unwrap()
        .split(".SH COMMANDS")
        .next()
        .unwrap()
        .to_owned();
    for opt in patterns(&function(&lxc, "common"), true, true) {
        assert!(names(&options, &opt), "ctn-lxc(8) OPTIONS lacks {opt}");
    }
}

#[test]
fn vzctl_and_vzlist_pages_document_their_commands_and_options() {
    let vzctl = source("ctn/vzctl");
    let page = plain(&roff("vzctl.8"));
    let body = vzctl.split("\ncase $cmd in").last().unwrap();
    let commands: Vec<String> = patterns(body, false, true)
        .into_iter()
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for c in &commands {
        assert!(names(&page, c), "vzctl(8) does not document {c}");
    }
    for opt in patterns(&vzctl, true, false) {
        assert!(names(&page, &opt), "vzctl(8) does not document {opt}");
    }
    let vzlist = source("ctn/vzlist");
    let page = plain(&roff("vzlist.8"));
    for opt in patterns(&vzlist, true, false) {
        assert!(names(&page, &opt), "vzlist(8) does not document {opt}");
    }
    for column in ["CTID", "NPROC", "STATUS", "IP_ADDR", "HOSTNAME"] {
        assert!(vzlist.contains(column) && page.contains(column), "{column}");
    }
}

#[test]
fn the_manager_claims_the_workspaces_version() {
    let o = run(Command::new(root().join("ctn/ctn")).arg("--version"));
    o.ok();
    let cargo = source("Cargo.toml");
    let version = cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap()
        .trim_matches('"');
    assert_eq!(o.stdout, format!("ctn {version}\n"));
    for tool in TOOLS {
        let o = run(cmd(bin(tool)).arg("--version"));
        o.ok();
        assert!(
            o.stdout.starts_with(&format!("{tool} {version} (")) && o.stdout.ends_with(")\n"),
            "{tool}: {}",
            o.stdout
        );
    }
    // Each page's title line carries it.
    let mut seen = BTreeMap::new();
    for file in all_pages() {
        let th = roff(&file)
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap()
            .to_owned();
        seen.insert(file.clone(), th.contains(&format!(" {version}\"")));
    }
    assert!(seen.values().all(|v| *v), "{seen:?}");
}
