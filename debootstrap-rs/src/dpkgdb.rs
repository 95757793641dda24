//! The dpkg database as `dpkg --unpack` leaves it, written directly: every package
//! `install ok unpacked` in `status` (its control fields, conffiles marked
//! `newconffile`), its `info/NAME.list`, and the trigger interests in `triggers/`. The
//! target's own dpkg then configures everything (`dpkg --configure --pending`), which
//! moves the conffiles into place and rewrites `status` in its canonical form. The
//! archive is decompressed once: dpkg never reads the .debs again.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::deb::Unpacked;
use crate::error::{Error, Result, quote};
use crate::root::Root;

fn write(root: &Root, rel: &str, data: &[u8], mode: u32) -> Result<()> {
    let p = Path::new(rel);
    root.write(p, data, mode)
        .map_err(|e| Error::io(format!("cannot write {}", quote(root.host(p))), e))
}

/// One `status` stanza: the control file with `Status:` after `Package:`, the
/// archive's `Priority:` (`priority`, from the index: what debootstrap's dpkg records,
/// reading it from `available`) in place of the package's own, and the conffiles
/// appended.
pub fn status_stanza(u: &Unpacked, priority: Option<&str>) -> String {
    let mut out = String::new();
    let mut continuation_of_priority = false;
    for line in u.control.trim_end().lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) && continuation_of_priority {
            continue;
        }
        continuation_of_priority = false;
        if priority.is_some() && line.starts_with("Priority:") {
            continuation_of_priority = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Package:") {
            out.push_str("Status: install ok unpacked\n");
            if let Some(p) = priority {
                let _ = writeln!(out, "Priority: {p}");
            }
        }
    }
    if !u.conffiles.is_empty() {
        out.push_str("Conffiles:\n");
        for c in &u.conffiles {
            let _ = writeln!(out, " {c} newconffile");
        }
    }
    out
}

/// Trigger interests of one `triggers` control file: (trigger, noawait).
pub fn interests(triggers: &str) -> Vec<(String, bool)> {
    triggers
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter_map(|l| {
            let (directive, name) = l.split_once(char::is_whitespace)?;
            let noawait = match directive {
                "interest" | "interest-await" => false,
                "interest-noawait" => true,
                _ => return None,
            };
            Some((name.trim().to_owned(), noawait))
        })
        .collect()
}

/// Write `status` (with the archive's priorities, by package name), `available` (the
/// index stanzas debootstrap leaves there), the `.list` files, the trigger interest
/// files and the small files dpkg and debootstrap create.
pub fn write_database(
    root: &Root,
    pkgs: &[Unpacked],
    priorities: &HashMap<String, String>,
    available: &[u8],
) -> Result<()> {
    let mut sorted: Vec<&Unpacked> = pkgs.iter().collect();
    sorted.sort_by(|a, b| a.info_name.cmp(&b.info_name));
    let mut status = String::new();
    for u in &sorted {
        status.push_str(&status_stanza(
            u,
            priorities.get(&u.name).map(String::as_str),
        ));
        status.push('\n');
    }
    write(root, "var/lib/dpkg/status", status.as_bytes(), 0o644)?;
    for u in &sorted {
        let mut list = u.files.join("\n");
        list.push('\n');
        write(
            root,
            &format!("var/lib/dpkg/info/{}.list", u.info_name),
            list.as_bytes(),
            0o644,
        )?;
    }
    let mut file_triggers = String::new();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for u in pkgs {
        let Some(t) = &u.triggers else { continue };
        for (name, noawait) in interests(t) {
            let who = if noawait {
                format!("{}/noawait", u.info_name)
            } else {
                u.info_name.clone()
            };
            if name.starts_with('/') {
                let _ = writeln!(file_triggers, "{name} {who}");
            } else {
                let _ = writeln!(named.entry(name).or_default(), "{who}");
            }
        }
    }
    if !file_triggers.is_empty() {
        write(
            root,
            "var/lib/dpkg/triggers/File",
            file_triggers.as_bytes(),
            0o644,
        )?;
    }
    for (name, who) in &named {
        write(
            root,
            &format!("var/lib/dpkg/triggers/{name}"),
            who.as_bytes(),
            0o644,
        )?;
    }
    write(root, "var/lib/dpkg/triggers/Unincorp", b"", 0o644)?;
    write(root, "var/lib/dpkg/triggers/Lock", b"", 0o600)?;
    write(root, "var/lib/dpkg/info/format", b"1\n", 0o644)?;
    write(root, "var/lib/dpkg/available", available, 0o644)?;
    write(root, "var/lib/dpkg/cmethopt", b"apt apt\n", 0o644)?;
    for d in [
        "var/lib/dpkg/updates",
        "var/lib/dpkg/alternatives",
        "var/lib/dpkg/parts",
    ] {
        root.dir(&PathBuf::from(d)).map_err(|e| {
            Error::io(
                format!("cannot create {}", quote(root.host(Path::new(d)))),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_as_dpkg_unpack_writes_it() {
        let u = Unpacked {
            name: "base-files".into(),
            info_name: "base-files".into(),
            control: "Package: base-files\nEssential: yes\nVersion: 12.4\nDescription: x\n y\n\n"
                .into(),
            conffiles: vec!["/etc/issue".into()],
            ..Unpacked::default()
        };
        assert_eq!(
            status_stanza(&u, None),
            "Package: base-files\nStatus: install ok unpacked\nEssential: yes\nVersion: 12.4\n\
             Description: x\n y\nConffiles:\n /etc/issue newconffile\n"
        );
        // The archive's priority replaces the package's own (zlib1g says required, the
        // archive optional).
        let u = Unpacked {
            control: "Package: zlib1g\nPriority: required\nVersion: 1\n".into(),
            ..Unpacked::default()
        };
        assert_eq!(
            status_stanza(&u, Some("optional")),
            "Package: zlib1g\nStatus: install ok unpacked\nPriority: optional\nVersion: 1\n"
        );
    }

    #[test]
    fn trigger_interests() {
        let t = "# comment\ninterest-await ldconfig\ninterest-noawait /usr/lib/x\nactivate-noawait ldconfig\ninterest /usr/share/y # c\n";
        assert_eq!(
            interests(t),
            [
                ("ldconfig".to_owned(), false),
                ("/usr/lib/x".to_owned(), true),
                ("/usr/share/y".to_owned(), false)
            ]
        );
    }
}
