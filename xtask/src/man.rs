//! `cargo xtask man`: man pages from the same clap definitions as `--help`
//! (clap_mangen), completed with the sections clap does not know, in man-pages(7)
//! order: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES,
//! EXAMPLES, SEE ALSO. Written to `target/man/<tool>.1`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

/// One tool's page: its clap command and the hand-written sections.
pub struct Page {
    /// The clap definition (`cli::command()` of the tool).
    pub command: clap::Command,
    /// EXIT STATUS body.
    pub exit_status: &'static str,
    /// ENVIRONMENT body (empty: no section).
    pub environment: &'static str,
    /// FILES body (empty: no section).
    pub files: &'static str,
    /// EXAMPLES: (description, command line).
    pub examples: &'static [(&'static str, &'static str)],
    /// SEE ALSO: `name(section)` entries.
    pub see_also: &'static [&'static str],
    /// Sections of the tool's own, after OPTIONS: (title, roff body).
    pub extra: Vec<(&'static str, String)>,
}

const CHAIN_EXIT: &str = "125 if the tool itself fails, usage errors included; 126 if COMMAND \
is found but cannot be run; 127 if COMMAND is not found; if COMMAND dies of signal N, the tool \
dies of N too (a shell shows 128+N); otherwise the exit status of COMMAND.";

/// util-linux's statuses, kept by nsenter-rs and unshare-rs for drop-in compatibility.
const UTIL_LINUX_EXIT: &str = "1 if the tool itself fails, usage errors and a missing target \
included (as util-linux's nsenter and unshare); 126 if COMMAND is found but cannot be run; \
127 if COMMAND is not found; if COMMAND dies of signal N, the tool dies of N too (a shell \
shows 128+N); otherwise the exit status of COMMAND.";

const TOOL_EXIT: &str = "0 on success; 1 if the operation failed (the message says why); \
2 for a usage error, in which case the command was not run. With --batch, the first failing \
line stops the batch, is named in the message and gives the status; earlier lines stay done.";

/// Every tool's page. `root` is the checkout: cgctl's conversion table is read from its
/// README, so that the page and the README cannot disagree.
pub fn pages(root: &Path) -> Result<Vec<Page>> {
    Ok(vec![
        Page {
            command: chroot_rs::cli::command(),
            exit_status: CHAIN_EXIT,
            environment: "SHELL: the program run when no COMMAND is given (with the argument -i); \
/bin/sh when unset.",
            files: "/etc/passwd, /etc/group: looked up outside NEWROOT first, then inside it. \
/dev/loop-control: for --image.",
            examples: &[
                (
                    "Run id as a user of the guest, as GNU chroot would:",
                    "chroot-rs --userspec=student:lab /srv/lab/rootfs id",
                ),
                (
                    "A container's root: pivoted, with /proc /sys /dev, read-only, without CAP_SYS_ADMIN:",
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
                "chroot(1)",
                "chroot(2)",
                "pivot_root(2)",
                "unshare-rs(1)",
                "nsenter-rs(1)",
                "mount_namespaces(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            command: debootstrap_rs::cli::command(),
            exit_status: "0 on success; 1 if the bootstrap failed (mirror, signature, hash, disk, a \
step inside the target: the message says which), and TARGET is then not usable; 2 for a usage \
error; 130 if interrupted by SIGINT, SIGTERM or SIGHUP (the cache stays valid).",
            environment: "SOURCE_DATE_EPOCH: the time stamp of every file in a tarball or image, \
which is then bit-identical between runs.",
            files: "/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources: the \
mirror used when no MIRROR is given. /usr/share/keyrings/debian-archive-keyring.gpg: the \
keys InRelease is verified against, unless --keyring is given.",
            examples: &[
                (
                    "A minimal bookworm with its security updates:",
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
            ],
            see_also: &[
                "debootstrap(8)",
                "mmdebstrap(1)",
                "chroot-rs(1)",
                "apt-secure(8)",
            ],
            extra: Vec::new(),
        },
        Page {
            command: nsenter_rs::cli::nsenter_command(),
            exit_status: UTIL_LINUX_EXIT,
            environment: "SHELL: the program run when no COMMAND is given; /bin/sh when unset.",
            files: "/proc/PID/ns/*: the target's namespaces. /run/netns/NAME: network namespaces \
persisted by ip netns or unshare-rs --net=FILE.",
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
                "unshare-rs(1)",
                "setns(2)",
                "pidfd_open(2)",
                "namespaces(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            command: nsenter_rs::cli::unshare_command(),
            exit_status: UTIL_LINUX_EXIT,
            environment: "SHELL: the program run when no COMMAND is given; /bin/sh when unset.",
            files: "/etc/subuid, /etc/subgid and newuidmap(1), newgidmap(1): for --map-users and \
--map-groups ranges.",
            examples: &[
                (
                    "A container's namespaces, with an init as PID 1, a hostname and a pidfile:",
                    "unshare-rs --fork --pid --mount --uts --ipc --init --hostname ctn01 --pidfile /run/ctn01.pid -- chroot-rs --pivot --api-fs /srv/ctn01/rootfs /bin/sh",
                ),
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
                "nsenter-rs(1)",
                "chroot-rs(1)",
                "clone3(2)",
                "namespaces(7)",
            ],
            extra: Vec::new(),
        },
        Page {
            command: cgctl::cli::command(),
            exit_status: "0 on success; 1 if the operation failed (the kernel refused, the group is \
busy, something was left: the message says what); 2 if the command line was wrong (unknown \
key, unparsable or impossible value, bad NAME), in which case that command changed nothing \
(with --batch, earlier lines stay done). check exits \
1 when something is missing. exec is a chain-loader: 125 if cgctl itself failed, usage \
included; 126 if the command cannot be run; 127 if it is not found; else the command's \
status (128+N for signal N).",
            environment: "CGCTL_PARENT: the default of --parent. CGCTL_HIERARCHIES: the default of \
--hierarchies.",
            files: "/sys/fs/cgroup: the hierarchies. /proc/self/mountinfo, /proc/cgroups, \
/proc/self/cgroup: the layout and the caller's own groups (--parent self).",
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
            ],
            extra: vec![("CONVERSIONS", conversions(root)?)],
        },
        Page {
            command: netlink_tool::cli::command(),
            exit_status: TOOL_EXIT,
            environment: "",
            files: "/run/netns/NAME: network namespaces by name, as ip netns keeps them.",
            examples: &[
                (
                    "A container's veth on a bridge, addressed, with a default route:",
                    "netlink-tool connect ctn01 --type veth --link br0 --name eth0 --addr 10.0.3.2/24 --gw 10.0.3.1",
                ),
                (
                    "Outbound NAT for the containers' subnet:",
                    "netlink-tool nat masquerade --source 10.0.3.0/24 --out eth0",
                ),
                (
                    "Many containers in one process:",
                    "netlink-tool --batch setup.txt",
                ),
            ],
            see_also: &[
                "ip(8)",
                "ip-netns(8)",
                "nft(8)",
                "lxc.container.conf(5)",
                "rtnetlink(7)",
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
    let mut out = String::from(
        "Limits and keys mean the same on every layout; a key of the other version is \
translated with the OCI runtimes' formulas:",
    );
    for r in &rows {
        let mut text = format!("v1: {}; v2: {}", r[1], r[2]);
        if !r[3].is_empty() {
            text.push_str(&format!(". {}", r[3]));
        }
        out.push_str(&format!("\n.TP\n.B {}\n{}", escape(&r[0]), escape(&text)));
    }
    Ok(out)
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .replace('\n', "\n.br\n")
}

/// Render one page as roff.
pub fn render(page: &Page) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(page.command.clone())
        .section("1")
        .manual("container-toolkit");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    if page.command.get_subcommands().next().is_some() {
        man.render_subcommands_section(&mut out)?;
    }
    for (title, body) in &page.extra {
        writeln!(out, ".SH {title}\n{body}")?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"\n{}", escape(page.exit_status))?;
    if !page.environment.is_empty() {
        writeln!(out, ".SH ENVIRONMENT\n{}", escape(page.environment))?;
    }
    if !page.files.is_empty() {
        writeln!(out, ".SH FILES\n{}", escape(page.files))?;
    }
    writeln!(out, ".SH EXAMPLES")?;
    for (what, line) in page.examples {
        writeln!(
            out,
            ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE",
            escape(what),
            escape(line)
        )?;
    }
    let refs: Vec<String> = page
        .see_also
        .iter()
        .map(|r| match r.split_once('(') {
            Some((name, sect)) => format!(".BR {} ({}", escape(name), sect),
            None => format!(".B {}", escape(r)),
        })
        .collect();
    writeln!(out, ".SH \"SEE ALSO\"\n{}", refs.join(",\n"))?;
    Ok(out)
}

/// Write every page under `root/target/man`.
pub fn run(root: &Path) -> Result<()> {
    let dir: PathBuf = root.join("target/man");
    std::fs::create_dir_all(&dir)?;
    for page in pages(root)? {
        let name = format!("{}.1", page.command.get_name());
        std::fs::write(dir.join(&name), render(&page)?)?;
        eprintln!("xtask: wrote {}", dir.join(name).display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn every_tool_has_a_page() {
        let names: Vec<String> = pages(&root())
            .unwrap()
            .iter()
            .map(|p| p.command.get_name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "chroot-rs",
                "debootstrap-rs",
                "nsenter-rs",
                "unshare-rs",
                "cgctl",
                "netlink-tool"
            ]
        );
    }

    #[test]
    fn cgctl_page_carries_the_readme_conversions() {
        let pages = pages(&root()).unwrap();
        let cgctl = pages
            .iter()
            .find(|p| p.command.get_name() == "cgctl")
            .unwrap();
        let text = String::from_utf8(render(cgctl).unwrap()).unwrap();
        let at = text.find(".SH CONVERSIONS").expect("CONVERSIONS section");
        let section = &text[at..text.find(".SH \"EXIT STATUS\"").unwrap()];
        for key in [
            "memory.memsw.limit_in_bytes",
            "memory.swap.max",
            "cpu.weight",
            "blkio.throttle.{read,write}_{bps,iops}_device",
            "freezer.state",
        ] {
            assert!(section.contains(&escape(key)), "{key} missing:\n{section}");
        }
        // One tagged paragraph per row of the README's table.
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
    fn every_page_has_the_sections_in_order() {
        for page in pages(&root()).unwrap() {
            let text = String::from_utf8(render(&page).unwrap()).unwrap();
            let mut at = 0;
            for section in [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH DESCRIPTION",
                ".SH OPTIONS",
                ".SH \"EXIT STATUS\"",
                ".SH EXAMPLES",
                ".SH \"SEE ALSO\"",
            ] {
                let found = text[at..].find(section);
                assert!(
                    found.is_some(),
                    "{}: {section} missing or out of order",
                    page.command.get_name()
                );
                at += found.unwrap();
            }
        }
    }
}
