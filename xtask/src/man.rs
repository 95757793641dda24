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
}

const CHAIN_EXIT: &str = "125 if the tool itself fails, usage errors included; 126 if COMMAND \
is found but cannot be run; 127 if COMMAND is not found; 128+N if COMMAND dies of signal N; \
otherwise the exit status of COMMAND.";

/// Every tool's page.
pub fn pages() -> Vec<Page> {
    vec![Page {
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
    }]
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
    for page in pages() {
        let name = format!("{}.1", page.command.get_name());
        std::fs::write(dir.join(&name), render(&page)?)?;
        eprintln!("xtask: wrote {}", dir.join(name).display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_the_sections_in_order() {
        for page in pages() {
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
