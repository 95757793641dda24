//! `cargo xtask man [--bin-dir DIR] [--out DIR]`: the man pages, in `target/man/manN/`.
//!
//! The tools' pages (section 8) are rendered from the command line each binary describes
//! (`TOOL --toolkit-describe-clap`, see `clapdoc`): every option of every subcommand, the
//! help texts' paragraphs and verbatim blocks, then the sections clap does not know, in
//! man-pages(7) order: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS, the tool's own
//! sections, EXIT STATUS, ENVIRONMENT, FILES, NOTES, EXAMPLES, SEE ALSO. The paragraphs
//! clap prints after `--help` are kept: an "Exit status" one is what EXIT STATUS says in
//! full, an "Example" one joins EXAMPLES, the others go to the tool's section (NOTES
//! unless it names another). cgctl's CONVERSIONS section is read from the table in
//! cgctl/README.md, so the two cannot disagree.
//!
//! The manager's pages (ctn(8), ctn.conf(5), ctn-lxc(8) for the lxc-* front-ends,
//! vzctl(8), vzlist(8)) are written by hand in roff under `man/`; `@VERSION@` and
//! `@DATE@` are filled in here, and each lxc-* name gets a link to ctn-lxc(8).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::clapdoc::{Arg, Cmd};
use crate::roff::{bold, esc, italic, line, paragraphs, split_paragraphs, usage};
use crate::tools::{self, Opts};

/// The section of every tool's page.
pub const SECTION: &str = "8";

/// The names `ctn/lxc` answers to; each has a page link to ctn-lxc(8).
pub const LXC_FRONTENDS: &[&str] = &[
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

/// One tool's page: what its binary does not say.
#[derive(Debug)]
pub struct Page {
    /// The binary.
    pub bin: &'static str,
    /// EXIT STATUS: (status, meaning).
    pub exit_status: &'static [(&'static str, &'static str)],
    /// ENVIRONMENT: (variable, meaning).
    pub environment: &'static [(&'static str, &'static str)],
    /// FILES: (path, meaning).
    pub files: &'static [(&'static str, &'static str)],
    /// The section that takes the after-help paragraphs not covered elsewhere ("NOTES"
    /// goes before EXAMPLES, any other title after COMMANDS).
    pub notes: &'static str,
    /// EXAMPLES beyond the after-help's: (what, command line).
    pub examples: &'static [(&'static str, &'static str)],
    /// SEE ALSO: `name(section)`, pages that exist on Debian (or are the toolkit's).
    pub see_also: &'static [&'static str],
    /// Sections of the tool's own, after COMMANDS: (title, roff body).
    pub extra: Vec<(&'static str, String)>,
}

const CHAIN_EXIT: &[(&str, &str)] = &[
    (
        "125",
        "the tool itself failed (a usage error included); COMMAND was not run",
    ),
    ("126", "COMMAND was found but could not be run"),
    ("127", "COMMAND was not found"),
    (
        "128+N",
        "COMMAND died of signal N: the tool dies of the same signal, so a shell shows 128+N and a parent's waitpid(2) sees the signal",
    ),
    ("other", "the exit status of COMMAND"),
];

/// util-linux's statuses, kept by nsenter-rs and unshare-rs for drop-in compatibility.
const UTIL_LINUX_EXIT: &[(&str, &str)] = &[
    (
        "1",
        "the tool itself failed, usage errors and a missing target included (as util-linux's nsenter and unshare; the toolkit's other chain-loaders use 125)",
    ),
    ("126", "COMMAND was found but could not be run"),
    ("127", "COMMAND was not found"),
    (
        "128+N",
        "COMMAND died of signal N: the tool dies of the same signal, so a shell shows 128+N",
    ),
    (
        "other",
        "the exit status of COMMAND (0 for --list and --release that succeed)",
    ),
];

/// Every tool's page. `root` is the checkout: cgctl's conversion table is read from its
/// README.
pub fn pages(root: &Path) -> Result<Vec<Page>> {
    Ok(vec![
        Page {
            bin: "chroot-rs",
            exit_status: CHAIN_EXIT,
            environment: &[(
                "SHELL",
                "the program run (with the argument -i) when no COMMAND is given; /bin/sh when unset",
            )],
            files: &[
                (
                    "/etc/passwd, /etc/group",
                    "--userspec and --groups names are looked up outside NEWROOT first, then inside it, as GNU chroot does",
                ),
                (
                    "/dev/loop-control, /dev/loopN",
                    "the loop device of --image (one LOOP_CONFIGURE, released when the last user goes)",
                ),
                (
                    "/etc/resolv.conf",
                    "the host's, bound read-only by --resolv-conf",
                ),
            ],
            notes: "NOTES",
            examples: &[
                (
                    "Run id as a user of the guest, as GNU chroot would:",
                    "chroot-rs --userspec=student:lab /srv/lab/rootfs id",
                ),
                (
                    "A container's root: pivoted, with /proc, /sys and /dev, read-only, without CAP_SYS_ADMIN:",
                    "chroot-rs --pivot --api-fs --read-only --cap-drop sys_admin /srv/lab/rootfs /bin/sh",
                ),
                (
                    "Composed with new namespaces:",
                    "unshare-rs --fork --pid --uts --ipc -- chroot-rs --pivot --api-fs /srv/lab/rootfs ps",
                ),
                (
                    "Trace the system calls for the lab notes:",
                    "chroot-rs -v --pivot /srv/lab/rootfs true",
                ),
            ],
            see_also: &[
                "chroot(8)",
                "chroot(2)",
                "pivot_root(2)",
                "unshare-rs(8)",
                "nsenter-rs(8)",
                "mount_namespaces(7)",
                "capabilities(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            bin: "debootstrap-rs",
            exit_status: &[
                (
                    "0",
                    "TARGET was built (or the packages printed or downloaded)",
                ),
                (
                    "1",
                    "the bootstrap failed (mirror, signature, hash, disk, a step inside the target: the message says which); TARGET is then not usable, and the directories the run made while empty are removed",
                ),
                (
                    "2",
                    "a usage error (a name, URL or size refused before anything was made), or an --image-size too small for the tree",
                ),
                (
                    "130",
                    "interrupted by SIGINT, SIGTERM or SIGHUP; the download cache stays valid and a rerun completes from it",
                ),
            ],
            environment: &[(
                "SOURCE_DATE_EPOCH",
                "the time stamp of every file of a tarball or image, which is then bit-identical between runs",
            )],
            files: &[
                (
                    "/etc/apt/sources.list, /etc/apt/sources.list.d/*.list, *.sources",
                    "the mirror used when no MIRROR is given (deb822 and one-line formats)",
                ),
                (
                    "/usr/share/keyrings/debian-archive-keyring.gpg",
                    "the keys InRelease is verified against, unless --keyring is given",
                ),
                (
                    "/etc/hosts, /etc/resolv.conf",
                    "how the mirror's host name is resolved (without NSS: the hosts file, then DNS to the name servers listed)",
                ),
            ],
            notes: "NOTES",
            examples: &[
                (
                    "A minimal bookworm with its updates and security updates:",
                    "debootstrap-rs --variant=minbase --extra-suites=bookworm-updates,bookworm-security bookworm /var/lib/ctn/ctn01/rootfs",
                ),
                (
                    "A reproducible template archive:",
                    "SOURCE_DATE_EPOCH=1700000000 debootstrap-rs --variant=minbase bookworm /srv/templates/bookworm.tar.zst",
                ),
                (
                    "A 2 GiB ext4 disk for one container:",
                    "debootstrap-rs --variant=minbase --image-size 2G bookworm /srv/ctn01.ext4",
                ),
                (
                    "The package set debootstrap would install, without installing it:",
                    "debootstrap-rs --variant=minbase --print-debs bookworm /tmp/unused",
                ),
            ],
            see_also: &[
                "debootstrap(8)",
                "mmdebstrap(1)",
                "chroot-rs(8)",
                "apt-secure(8)",
                "sources.list(5)",
            ],
            extra: Vec::new(),
        },
        Page {
            bin: "nsenter-rs",
            exit_status: UTIL_LINUX_EXIT,
            environment: &[(
                "SHELL",
                "the program run as a login shell when no COMMAND is given; /bin/sh when unset",
            )],
            files: &[
                (
                    "/proc/PID/ns/*",
                    "the target's namespaces (opened through its pidfd)",
                ),
                (
                    "/proc/PID/root, /proc/PID/cwd, /proc/PID/environ",
                    "the target's root, working directory (-r, -w, --container) and environment (-e)",
                ),
                (
                    "/run/netns/NAME",
                    "network namespaces persisted by ip netns or unshare-rs --net=FILE",
                ),
            ],
            notes: "NOTES",
            examples: &[
                (
                    "A shell in a running container, in its root and working directory:",
                    "nsenter-rs --container --pidfile /run/ctn01.pid /bin/sh",
                ),
                (
                    "The namespaces of a process, as JSON:",
                    "nsenter-rs --list 1234 --json",
                ),
                (
                    "A command in a persisted network namespace:",
                    "nsenter-rs --net=/run/netns/ctn01 ip addr",
                ),
            ],
            see_also: &[
                "nsenter(1)",
                "unshare-rs(8)",
                "setns(2)",
                "pidfd_open(2)",
                "namespaces(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            bin: "unshare-rs",
            exit_status: UTIL_LINUX_EXIT,
            environment: &[
                (
                    "SHELL",
                    "the program run as a login shell when no COMMAND is given; /bin/sh when unset",
                ),
                (
                    "PATH",
                    "where COMMAND is looked up, to tell a missing command (127) from one that cannot run (126)",
                ),
            ],
            files: &[
                (
                    "/etc/subuid, /etc/subgid",
                    "the ranges of --map-auto and of --map-users/--map-groups given by name",
                ),
                (
                    "/proc/PID/uid_map, /proc/PID/gid_map, /proc/PID/setgroups",
                    "written by the parent for the new user namespace",
                ),
                (
                    "/run/netns/NAME",
                    "a network namespace persisted with --net=FILE is usable by ip netns exec NAME",
                ),
            ],
            notes: "NOTES",
            examples: &[
                (
                    "A network namespace persisted for ip netns, then released:",
                    "touch /run/netns/lab && unshare-rs --net=/run/netns/lab true && unshare-rs --release /run/netns/lab",
                ),
                (
                    "Root in a user namespace, as an unprivileged user:",
                    "unshare-rs --map-root-user --mount id",
                ),
            ],
            see_also: &[
                "unshare(1)",
                "nsenter-rs(8)",
                "chroot-rs(8)",
                "clone3(2)",
                "namespaces(7)",
                "user_namespaces(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            bin: "cgctl",
            exit_status: &[
                ("0", "success (check: everything present)"),
                (
                    "1",
                    "the operation failed: the kernel refused, the group is busy, something was left (the message says what); check: something is missing",
                ),
                (
                    "2",
                    "a usage error: unknown key, unparsable or impossible value, bad NAME; that command changed nothing (with --batch, earlier lines stay done)",
                ),
                (
                    "128+N",
                    "stopped by signal N (SIGINT, SIGTERM, SIGHUP): what the run had made is undone",
                ),
                (
                    "exec",
                    "a chain-loader: 125 if cgctl itself failed, usage included; 126 if the command cannot be run; 127 if it is not found; else the command's status",
                ),
            ],
            environment: &[
                ("CGCTL_PARENT", "the default of --parent"),
                ("CGCTL_HIERARCHIES", "the default of --hierarchies"),
            ],
            files: &[
                ("/sys/fs/cgroup", "the hierarchies"),
                (
                    "/proc/self/mountinfo, /proc/cgroups, /proc/self/cgroup",
                    "the layout, and the caller's own groups (--parent self)",
                ),
                (
                    ".NAME.cgctl-PID",
                    "beside a group: the staging directory (v1) or marker (v2) of a cgctl run that is creating or deleting NAME; one left by a run that has ended is cleared by the next create or delete",
                ),
            ],
            notes: "NOTES",
            examples: &[
                (
                    "A group below the caller's own, limited, running a server:",
                    "cgctl --parent self create web --memory 256M --swap 0 --cpu-limit 50% --pids 64 && cgctl --parent self exec web -- my-server",
                ),
                (
                    "A v1 key on any layout:",
                    "cgctl --parent self set web cpu.shares=512",
                ),
                (
                    "The bill, as JSON, then everything removed:",
                    "cgctl --parent self stat web --json; cgctl --parent self delete --kill web",
                ),
            ],
            see_also: &[
                "cgcreate(1)",
                "cgset(1)",
                "cgexec(1)",
                "lxc-cgroup(1)",
                "cgroups(7)",
                "cgroup_namespaces(7)",
            ],
            extra: vec![("CONVERSIONS", conversions(root)?)],
        },
        Page {
            bin: "netlink-tool",
            exit_status: &[
                ("0", "success"),
                ("1", "the operation failed (the message says why)"),
                (
                    "2",
                    "a usage error or a bad value: nothing was sent to the kernel (with --batch, the whole file is checked before its first line runs)",
                ),
                (
                    "128+N",
                    "stopped by signal N (SIGINT, SIGTERM, SIGHUP): what the run had made was rolled back",
                ),
            ],
            environment: &[(
                "NETLINK_TOOL_STATE_DIR",
                "where connect keeps its records (default /run/netlink-tool)",
            )],
            files: &[
                (
                    "/run/netns/NAME",
                    "network namespaces by name, as ip netns keeps them",
                ),
                (
                    "/run/netlink-tool",
                    "one record per connection, keyed by the container namespace and link name, with a lock file; disconnect reads only these, never the container's side",
                ),
            ],
            notes: "OBJECTS AND WORDS",
            examples: &[
                (
                    "Outbound NAT through one link, and a port forward:",
                    "netlink-tool nat masquerade --source 10.0.3.0/24 --out eth0; netlink-tool nat forward --proto tcp --port 8080 --to 10.0.3.2:80",
                ),
                (
                    "Many containers in one process:",
                    "netlink-tool --batch setup.txt",
                ),
            ],
            see_also: &[
                "ip(8)",
                "ip-link(8)",
                "ip-netns(8)",
                "nft(8)",
                "lxc.container.conf(5)",
                "rtnetlink(7)",
                "veth(4)",
            ],
            extra: Vec::new(),
        },
        Page {
            bin: "ptyhold",
            exit_status: &[
                (
                    "holding",
                    "the command's status; 128+N (ptyhold dies of N) if it died of signal N; 125 if ptyhold itself failed; 126 if COMMAND cannot be run; 127 if it is not found; with -d, 0 once the command has started",
                ),
                (
                    "attach, list",
                    "0 (detached, or the command ended); 1 on failure; 2 for a usage error",
                ),
            ],
            environment: &[(
                "PTYHOLD_TTYS",
                "set to N in the command's environment (the number of ttys on fds 3 and up); an inherited value is replaced",
            )],
            files: &[
                (
                    "SOCKET",
                    "the --socket the ptys are served on (mode 0600); a stale one is replaced, a live one refused; removed at exit",
                ),
                ("FILE, FILE.1", "the --log, rotated at --log-size"),
                ("/dev/ptmx, /dev/pts/N", "the pseudo-terminals held"),
            ],
            notes: "NOTES",
            examples: &[(
                "The console of a container started by ctn:",
                "ptyhold attach /run/ctn/ctn01/console -t 0",
            )],
            see_also: &[
                "pty(7)",
                "lxc-console(1)",
                "dtach(1)",
                "chroot-rs(8)",
                "unix(7)",
            ],
            extra: Vec::new(),
        },
    ])
}

/// cgctl's conversion table (cgctl/README.md, the table whose header starts with
/// `| knob |`) as roff: one tagged paragraph per row.
fn conversions(root: &Path) -> Result<String> {
    let readme = std::fs::read_to_string(root.join("cgctl/README.md"))?;
    let rows: Vec<Vec<String>> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| knob |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', "").replace("\\|", "|"))
                .collect()
        })
        .collect();
    anyhow::ensure!(
        !rows.is_empty() && rows.iter().all(|r| r.len() == 4),
        "cgctl/README.md has no conversion table of four columns"
    );
    let mut out = line(
        "Limits and keys mean the same on every layout; a key of the other version is \
translated with the OCI runtimes' formulas:",
    );
    for r in &rows {
        let mut text = format!("v1: {}; v2: {}", r[1], r[2]);
        if !r[3].is_empty() {
            text.push_str(&format!(". {}", r[3]));
        }
        out.push_str(&format!("\n.TP\n{}\n{}", bold(&r[0]), line(&text)));
    }
    Ok(out)
}

/// What a page's header needs besides the command.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The date of the page (YYYY-MM-DD).
    pub date: String,
    /// The workspace's version.
    pub version: String,
}

impl Meta {
    pub fn new(root: &Path) -> Result<Meta> {
        Ok(Meta {
            date: page_date(root),
            version: workspace_version(root)?,
        })
    }
}

/// The workspace's version (`[workspace.package] version` of the root Cargo.toml).
pub fn workspace_version(root: &Path) -> Result<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut in_package = false;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            in_package = l == "[workspace.package]";
        } else if in_package && let Some(v) = l.strip_prefix("version") {
            let v = v
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            return Ok(v.to_owned());
        }
    }
    bail!("Cargo.toml has no [workspace.package] version")
}

/// The date pages carry: SOURCE_DATE_EPOCH's, else the last commit's, else today.
fn page_date(root: &Path) -> String {
    let from = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .current_dir(root)
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && s.len() == 10).then_some(s)
    };
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        && let Some(d) = from(&["date", "-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"])
    {
        return d;
    }
    from(&["git", "log", "-1", "--format=%cs"])
        .or_else(|| from(&["date", "-u", "+%Y-%m-%d"]))
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// The name an argument is shown under: `-v, --verbose`, `--parent PATH|self`,
/// `--net[=FILE]`, `NAME...`.
pub fn arg_tag(a: &Arg) -> String {
    let values = value_part(a);
    if a.positional {
        return values;
    }
    let mut names = Vec::new();
    if let Some(s) = &a.short {
        names.push(bold(&format!("-{s}")));
    }
    for s in &a.short_aliases {
        names.push(bold(&format!("-{s}")));
    }
    if let Some(l) = &a.long {
        names.push(bold(&format!("--{l}")));
    }
    for l in &a.aliases {
        names.push(bold(&format!("--{l}")));
    }
    let names = names.join(", ");
    if values.is_empty() {
        names
    } else if a.num_args.is_some_and(|(min, _)| min == 0) || a.require_equals {
        if a.long.is_some() {
            format!("{names}[={values}]")
        } else {
            format!("{names}[{values}]")
        }
    } else {
        format!("{names} {values}")
    }
}

/// The value placeholders of an argument that takes values (empty for a flag).
fn value_part(a: &Arg) -> String {
    if !a.takes_value {
        return String::new();
    }
    let names: Vec<String> = if a.value_names.is_empty() {
        vec![a.id.to_uppercase()]
    } else {
        a.value_names.clone()
    };
    let many = a
        .num_args
        .is_some_and(|(_, max)| max.is_none_or(|m| m > names.len()));
    let mut s = names
        .iter()
        .map(|n| italic(n))
        .collect::<Vec<_>>()
        .join(" ");
    if many {
        s.push_str("...");
    }
    s
}

/// An argument's description: its help, then the values it takes, its default and its
/// environment variable.
fn arg_body(a: &Arg) -> String {
    let mut out = String::new();
    let help = a.long_help.as_deref().or(a.help.as_deref()).unwrap_or("");
    if !help.is_empty() {
        out.push_str(&paragraphs(help));
    }
    let visible: Vec<_> = a.possible_values.iter().filter(|p| !p.hidden).collect();
    if a.takes_value && !visible.is_empty() && !a.hide_possible_values {
        if visible.iter().any(|p| p.help.is_some()) {
            out.push_str("\n.RS");
            for p in &visible {
                let _ = write!(out, "\n.TP\n{}", bold(&p.name));
                if let Some(h) = &p.help {
                    let _ = write!(out, "\n{}", paragraphs(h));
                }
            }
            out.push_str("\n.RE");
        } else {
            let names: Vec<String> = visible.iter().map(|p| bold(&p.name)).collect();
            let _ = write!(out, "\n.br\nValues: {}.", names.join(", "));
        }
    }
    if a.takes_value && !a.default_values.is_empty() && !a.hide_default_value {
        let d: Vec<String> = a.default_values.iter().map(|v| italic(v)).collect();
        let _ = write!(out, "\n.br\nDefault: {}.", d.join(", "));
    }
    if let Some(env) = &a.env {
        let _ = write!(out, "\n.br\nEnvironment: {}.", bold(env));
    }
    if a.hidden {
        out.push_str("\n.br\n(Not listed by \\-\\-help.)");
    }
    out
}

fn is_help_or_version(a: &Arg) -> bool {
    matches!(
        a.action.as_str(),
        "Help" | "HelpShort" | "HelpLong" | "Version"
    )
}

/// `a` in a synopsis: `NAME`, `[NAME]`, `NAME...`, `[-- COMMAND...]`.
fn synopsis_word(a: &Arg) -> String {
    let name = a
        .value_names
        .first()
        .cloned()
        .unwrap_or_else(|| a.id.to_uppercase());
    let many = a.num_args.is_some_and(|(_, max)| max.is_none_or(|m| m > 1));
    let mut w = name;
    if many {
        w.push_str("...");
    }
    if a.last {
        w = format!("-- {w}");
    }
    if a.required { w } else { format!("[{w}]") }
}

/// The usage line of `cmd`, reached through `path` (`cgctl`, `netlink-tool nat`).
fn usage_line(path: &[&str], cmd: &Cmd) -> String {
    let mut words: Vec<String> = Vec::new();
    words.push(path[0].to_owned());
    if path.len() > 1 {
        words.push("[OPTIONS]".to_owned());
        words.extend(path[1..].iter().map(|s| (*s).to_owned()));
    }
    if cmd
        .visible_args()
        .any(|a| !a.positional && !is_help_or_version(a))
    {
        words.push("[OPTIONS]".to_owned());
    }
    let mut positionals: Vec<&Arg> = cmd.visible_args().filter(|a| a.positional).collect();
    positionals.sort_by_key(|a| a.index.unwrap_or(usize::MAX));
    words.extend(positionals.iter().map(|a| synopsis_word(a)));
    if cmd.visible_subcommands().next().is_some() {
        words.push(if cmd.subcommand_required {
            "COMMAND".to_owned()
        } else {
            "[COMMAND]".to_owned()
        });
    }
    words.dedup();
    words.join(" ")
}

/// The options of one command as a tagged list: positionals first, then options.
fn arg_list(cmd: &Cmd, skip_help: bool) -> String {
    let mut out = String::new();
    let mut args: Vec<&Arg> = cmd.args.iter().collect();
    args.sort_by_key(|a| (!a.positional, a.index.unwrap_or(0)));
    for a in args {
        if skip_help && is_help_or_version(a) {
            continue;
        }
        let _ = write!(out, "\n.TP\n{}\n{}", arg_tag(a), arg_body(a));
    }
    out
}

/// The COMMANDS section: one subsection per subcommand (nested ones by their full path).
fn commands(out: &mut String, path: &mut Vec<String>, cmd: &Cmd) {
    for sub in cmd.visible_subcommands() {
        path.push(sub.name.clone());
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let _ = write!(out, "\n.SS \"{}\"\n", usage(&usage_line(&p, sub)));
        let about = sub.long_about.as_deref().or(sub.about.as_deref());
        if let Some(about) = about {
            out.push_str(&paragraphs(about));
        }
        if !sub.aliases.is_empty() {
            let names: Vec<String> = sub.aliases.iter().map(|a| bold(a)).collect();
            let _ = write!(out, "\n.br\nAlso: {}.", names.join(", "));
        }
        out.push_str(&arg_list(sub, true));
        if let Some(after) = sub.after_long_help.as_deref().or(sub.after_help.as_deref()) {
            let _ = write!(out, "\n.PP\n{}", paragraphs(after));
        }
        // clap's own `help` subcommand repeats the others as its own: not again.
        if sub.name != "help" {
            commands(out, path, sub);
        }
        path.pop();
    }
}

/// After-help paragraphs sorted out: (examples, exit-status paragraphs, the others).
struct AfterHelp {
    examples: Vec<(String, String)>,
    exit: Vec<String>,
    notes: Vec<String>,
}

fn sort_after_help(cmd: &Cmd) -> AfterHelp {
    let mut ah = AfterHelp {
        examples: Vec::new(),
        exit: Vec::new(),
        notes: Vec::new(),
    };
    let text = cmd
        .after_long_help
        .as_deref()
        .or(cmd.after_help.as_deref())
        .unwrap_or("");
    for para in split_paragraphs(text) {
        if para.starts_with("Exit status") {
            ah.exit.push(para);
        } else if para.starts_with("Example") {
            let mut lines = para.lines();
            let first = lines.next().unwrap_or_default();
            let what = first
                .split_once(':')
                .map_or(first, |(_, w)| w.trim())
                .to_owned();
            let what = capitalize(&what);
            let body: Vec<&str> = lines.map(str::trim).collect();
            ah.examples.push((what, body.join("\n")));
        } else if para.starts_with("Conversions") {
            // cgctl's: the CONVERSIONS section has the README's full table.
        } else {
            ah.notes.push(para);
        }
    }
    ah
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// NAME's description: the about line with a lower-case first letter (unless the first
/// word is an acronym).
fn name_description(about: &str) -> String {
    let first = about.lines().next().unwrap_or("").trim_end_matches('.');
    let mut chars = first.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            a.to_lowercase().collect::<String>() + &first[a.len_utf8()..]
        }
        _ => first.to_owned(),
    }
}

fn tagged(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(k, v)| format!(".TP\n{}\n{}", bold(k), line(&capitalize(v)) + "."))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Render one tool's page.
pub fn render(page: &Page, cmd: &Cmd, meta: &Meta) -> String {
    let name = &cmd.name;
    // The number only: the compatibility claim is too long for the page's footer.
    let version = cmd
        .version
        .as_deref()
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or(&meta.version);
    let mut out = String::new();
    let _ = writeln!(
        out,
        ".\\\" Generated by cargo xtask man from {name} --toolkit-describe-clap; do not edit."
    );
    let _ = writeln!(
        out,
        ".TH {} {SECTION} {} \"{} {}\" \"container-toolkit\"",
        esc(&name.to_uppercase()),
        meta.date,
        esc(name),
        esc(version)
    );
    let about = cmd.about.as_deref().unwrap_or("");
    let _ = writeln!(
        out,
        ".SH NAME\n{} \\- {}",
        esc(name),
        esc(&name_description(about))
    );

    out.push_str(".SH SYNOPSIS\n");
    let lines: Vec<String> = match &cmd.usage {
        Some(u) => u.lines().map(|l| l.trim().to_owned()).collect(),
        None => {
            let mut v = vec![usage_line(&[name], cmd)];
            for sub in cmd.visible_subcommands() {
                v.push(usage_line(&[name, &sub.name], sub));
            }
            v
        }
    };
    let synopsis: Vec<String> = lines.iter().map(|l| usage(l)).collect();
    out.push_str(&synopsis.join("\n.br\n"));
    out.push('\n');

    let _ = writeln!(
        out,
        ".SH DESCRIPTION\n{}",
        paragraphs(cmd.long_about.as_deref().unwrap_or(about))
    );
    let _ = writeln!(out, ".SH OPTIONS{}", arg_list(cmd, false));

    if cmd.visible_subcommands().next().is_some() {
        out.push_str(".SH COMMANDS");
        commands(&mut out, &mut vec![name.clone()], cmd);
        out.push('\n');
    }

    let ah = sort_after_help(cmd);
    let notes = ah.notes.iter().map(|p| paragraphs(p)).collect::<Vec<_>>();
    if page.notes != "NOTES" && !notes.is_empty() {
        let _ = writeln!(out, ".SH \"{}\"\n{}", page.notes, notes.join("\n.PP\n"));
    }
    for (title, body) in &page.extra {
        let _ = writeln!(out, ".SH {title}\n{body}");
    }
    let _ = writeln!(out, ".SH \"EXIT STATUS\"\n{}", tagged(page.exit_status));
    if !page.environment.is_empty() {
        let _ = writeln!(out, ".SH ENVIRONMENT\n{}", tagged(page.environment));
    }
    if !page.files.is_empty() {
        let _ = writeln!(out, ".SH FILES\n{}", tagged(page.files));
    }
    if page.notes == "NOTES" && !notes.is_empty() {
        let _ = writeln!(out, ".SH NOTES\n{}", notes.join("\n.PP\n"));
    }
    out.push_str(".SH EXAMPLES\n");
    let examples = ah
        .examples
        .iter()
        .map(|(w, c)| (w.as_str(), c.as_str()))
        .chain(page.examples.iter().copied());
    for (i, (what, command)) in examples.enumerate() {
        if i > 0 {
            out.push_str(".PP\n");
        }
        let _ = writeln!(out, "{}\n.PP\n.RS 4\n.nf", line(what));
        for l in command.lines() {
            let _ = writeln!(out, "{}", line(l));
        }
        out.push_str(".fi\n.RE\n");
    }
    let refs: Vec<String> = page
        .see_also
        .iter()
        .map(|r| match r.split_once('(') {
            Some((n, sect)) => format!(".BR {} ({}", esc(n), sect),
            None => format!(".B {}", esc(r)),
        })
        .collect();
    let _ = writeln!(out, ".SH \"SEE ALSO\"\n{}", refs.join(",\n"));
    out
}

/// A hand-written page with its `@VERSION@` and `@DATE@` filled in.
pub fn fill(text: &str, meta: &Meta) -> String {
    text.replace("@VERSION@", &meta.version)
        .replace("@DATE@", &meta.date)
}

/// The hand-written pages under `man/`: (file name, section).
pub fn hand_written(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(root.join("man")).context("man/")? {
        let p = e?.path();
        let Some(sect) = p.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if sect.len() == 1 && sect.chars().all(|c| c.is_ascii_digit()) {
            v.push((p.clone(), sect.to_owned()));
        }
    }
    v.sort();
    Ok(v)
}

/// Every page, as (section, file name, text): the tools' rendered from the binaries in
/// `bins`, the manager's from `man/`. Links (lxc-* to ctn-lxc) are not in this list.
pub fn all(root: &Path, bins: &Path) -> Result<Vec<(String, String, String)>> {
    let meta = Meta::new(root)?;
    let mut out = Vec::new();
    for page in pages(root)? {
        let cmd = crate::clapdoc::load(&bins.join(page.bin))?;
        anyhow::ensure!(
            cmd.name == page.bin,
            "{} describes itself as {}",
            page.bin,
            cmd.name
        );
        out.push((
            SECTION.to_owned(),
            format!("{}.{SECTION}", page.bin),
            render(&page, &cmd, &meta),
        ));
    }
    for (path, sect) in hand_written(root)? {
        let text = std::fs::read_to_string(&path)?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.push((sect, name, fill(&text, &meta)));
    }
    Ok(out)
}

/// Write every page under `out` (`out/man8/cgctl.8`), the lxc-* names as symbolic links
/// to ctn-lxc.8.
pub fn write(root: &Path, bins: &Path, out: &Path) -> Result<()> {
    for (sect, name, text) in all(root, bins)? {
        let dir = out.join(format!("man{sect}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&name), text)?;
    }
    let dir = out.join("man8");
    for fe in LXC_FRONTENDS {
        let link = dir.join(format!("{fe}.8"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("ctn-lxc.8", &link)?;
    }
    Ok(())
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = Opts::parse(args, "cargo xtask man [--bin-dir DIR] [--out DIR]")?;
    let bins = tools::bin_dir(&opts)?;
    let out = opts.out.clone().unwrap_or_else(|| root.join("target/man"));
    write(root, &bins, &out)?;
    eprintln!("xtask: man pages in {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn sample() -> Cmd {
        serde_json::from_value(serde_json::json!({
            "name": "t", "version": "1.0 (x compatible)", "about": "Do a thing",
            "long_about": null,
            "after_help": "Words:\n  a b c\n\nExit status: 0, 1, 2.\n\nExample: one run:\n  t go --fast",
            "after_long_help": null, "usage": null, "aliases": [], "hidden": false,
            "subcommand_required": true, "args_conflict_with_subcommands": false,
            "args": [arg("verbose", Some("v"), Some("verbose"), false, false)],
            "subcommands": [{
                "name": "go", "version": null, "about": "Go", "long_about": null,
                "after_help": null, "after_long_help": null, "usage": null,
                "aliases": ["run"], "hidden": false, "subcommand_required": false,
                "args_conflict_with_subcommands": false,
                "args": [arg("fast", None, Some("fast"), false, false),
                         arg("name", None, None, true, true)],
                "subcommands": []
            }]
        }))
        .unwrap()
    }

    fn arg(
        id: &str,
        short: Option<&str>,
        long: Option<&str>,
        value: bool,
        pos: bool,
    ) -> serde_json::Value {
        serde_json::json!({
            "id": id, "short": short, "long": long, "short_aliases": [], "aliases": [],
            "help": format!("The {id}"), "long_help": null,
            "value_names": if value { vec![id.to_uppercase()] } else { vec![] },
            "num_args": if value { serde_json::json!([1, 1]) } else { serde_json::json!([0, 0]) },
            "action": if value { "Set" } else { "SetTrue" }, "takes_value": value,
            "possible_values": [], "default_values": [], "env": null, "hidden": false,
            "required": pos, "positional": pos, "index": if pos { Some(1) } else { None },
            "value_hint": "Unknown", "global": false, "last": false,
            "trailing_var_arg": false, "allow_hyphen_values": false,
            "hide_possible_values": false, "hide_default_value": false,
            "value_delimiter": null, "require_equals": false
        })
    }

    fn sample_page() -> Page {
        Page {
            bin: "t",
            exit_status: &[("0", "fine"), ("1", "not"), ("2", "usage")],
            environment: &[],
            files: &[],
            notes: "WORDS",
            examples: &[("Another:", "t go x")],
            see_also: &["ip(8)"],
            extra: Vec::new(),
        }
    }

    fn meta() -> Meta {
        Meta {
            date: "2026-01-02".into(),
            version: "1.0".into(),
        }
    }

    #[test]
    fn sections_in_order_and_after_help_sorted_out() {
        let text = render(&sample_page(), &sample(), &meta());
        let mut at = 0;
        for s in [
            ".TH T 8 2026-01-02 \"t 1.0\"",
            ".SH NAME\nt \\- do a thing",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH COMMANDS",
            ".SS \"\\fBt\\fR [\\fIOPTIONS\\fR] \\fBgo\\fR [\\fIOPTIONS\\fR] \\fINAME\\fR\"",
            "Also: \\fBrun\\fR.",
            "\\fB\\-\\-fast\\fR",
            ".SH \"WORDS\"\nWords:\n.RS 4\n.nf\na b c\n.fi\n.RE",
            ".SH \"EXIT STATUS\"",
            ".SH EXAMPLES\nOne run:\n.PP\n.RS 4\n.nf\nt go \\-\\-fast",
            "Another:",
            ".SH \"SEE ALSO\"\n.BR ip (8)",
        ] {
            let found = text[at..].find(s);
            assert!(found.is_some(), "{s:?} missing or out of order in:\n{text}");
            at += found.unwrap();
        }
        assert!(!text.contains("Exit status: 0"), "{text}");
    }

    #[test]
    fn cgctl_conversions_come_from_the_readme() {
        let section = conversions(&root()).unwrap();
        for key in [
            "memory.memsw.limit_in_bytes",
            "memory.swap.max",
            "cpu.weight",
            "blkio.throttle.{read,write}_{bps,iops}_device",
            "freezer.state",
        ] {
            assert!(section.contains(&esc(key)), "{key} missing:\n{section}");
        }
        let readme = std::fs::read_to_string(root().join("cgctl/README.md")).unwrap();
        let rows = readme
            .lines()
            .skip_while(|l| !l.starts_with("| knob |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .count();
        assert!(rows >= 10, "{rows} rows");
        assert_eq!(section.matches(".TP").count(), rows, "{section}");
    }

    #[test]
    fn every_tool_binary_has_a_page() {
        let names: Vec<&str> = pages(&root()).unwrap().iter().map(|p| p.bin).collect();
        let bins: Vec<&str> = tools::all_bins().collect();
        assert_eq!(names, bins);
    }

    #[test]
    fn workspace_version_is_read() {
        let v = workspace_version(&root()).unwrap();
        assert!(v.split('.').count() == 3, "{v}");
    }

    #[test]
    fn optional_values_and_repeats_are_shown() {
        let mut a: Arg =
            serde_json::from_value(arg("net", Some("n"), Some("net"), true, false)).unwrap();
        a.num_args = Some((0, Some(1)));
        a.value_names = vec!["FILE".into()];
        assert_eq!(
            arg_tag(&a),
            "\\fB\\-n\\fR, \\fB\\-\\-net\\fR[=\\fIFILE\\fR]"
        );
        a.num_args = Some((1, None));
        assert_eq!(
            arg_tag(&a),
            "\\fB\\-n\\fR, \\fB\\-\\-net\\fR \\fIFILE\\fR..."
        );
    }
}
