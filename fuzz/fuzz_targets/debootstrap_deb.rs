//! debootstrap-rs's .deb reader: the ar container (`deb::read_member_header`), the
//! members' compression (`deb::decompressor`), control.tar (`deb::read_control`,
//! `deb::describe`: Package, Multi-Arch, conffiles, triggers) and the headers of every
//! data.tar entry as `deb::unpack` reads them (path and its `..` check,
//! `root::normalize`; type, mode, owner, time, link target, device numbers), without
//! writing anything.
//!
//! The input is a whole .deb (`!<arch>\n` …), as the Debian mirror serves it.
#![no_main]

use std::io::{self, BufReader, Read};
use std::path::Component;

use debootstrap_rs::deb::{self, Unpacked};
use debootstrap_rs::root;
use libfuzzer_sys::fuzz_target;

/// The most bytes of a member read (the fuzzer's own size limit keeps inputs small;
/// this bounds what a decompressor may make of them).
const MAX_OUT: u64 = 16 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = walk(data);
});

/// `deb::unpack`'s walk over the archive, with the same calls and checks, and the
/// extraction replaced by reading.
fn walk(data: &[u8]) -> Result<(), String> {
    let mut r = BufReader::new(data);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|e| e.to_string())?;
    if &magic != b"!<arch>\n" {
        return Err("no ar magic".into());
    }
    let mut control = None;
    let mut out = Unpacked::default();
    loop {
        let Some(m) = deb::read_member_header(&mut r).map_err(|e| e.to_string())? else {
            return Err("no data.tar member".into());
        };
        let pad = m.size % 2;
        if m.name.starts_with("control.tar") {
            let mut limited = BufReader::new((&mut r).take(m.size));
            let files = deb::decompressor(&m.name, &mut limited)
                .and_then(|d| deb::read_control(d.take(MAX_OUT)))
                .map_err(|e| e.to_string())?;
            io::copy(&mut limited, &mut io::sink()).map_err(|e| e.to_string())?;
            drop(limited);
            skip(&mut r, pad)?;
            for name in files.keys() {
                assert!(!name.is_empty() && !name.contains('/'), "{name:?}");
            }
            control = Some(files);
        } else if m.name.starts_with("data.tar") {
            let ctl = control.take().ok_or("data.tar before control.tar")?;
            deb::describe(&mut out, &ctl, "amd64")?;
            for c in &out.conffiles {
                assert!(c.starts_with('/'));
            }
            let limited = BufReader::new((&mut r).take(m.size));
            let data = deb::decompressor(&m.name, limited).map_err(|e| e.to_string())?;
            return entries(data.take(MAX_OUT));
        } else {
            skip(&mut r, m.size + pad)?;
        }
    }
}

fn skip(r: &mut impl Read, n: u64) -> Result<(), String> {
    let copied = io::copy(&mut r.take(n), &mut io::sink()).map_err(|e| e.to_string())?;
    if copied != n {
        return Err("truncated ar member".into());
    }
    Ok(())
}

/// What `extract` reads of each data.tar entry.
fn entries(data: impl Read) -> Result<(), String> {
    let mut ar = tar::Archive::new(data);
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut e = entry.map_err(|e| e.to_string())?;
        let raw = e.path().map_err(|e| e.to_string())?.into_owned();
        let Some(rel) = root::normalize(&raw) else {
            // Refused: it has a `..`.
            assert!(raw.components().any(|c| c == Component::ParentDir));
            continue;
        };
        // What is extracted stays below TARGET: relative, no `..`, no `.`.
        assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "{rel:?}"
        );
        let h = e.header().clone();
        let _ = (h.mode(), h.uid(), h.gid(), h.mtime(), h.entry_type());
        let _ = (h.device_major(), h.device_minor());
        if let Ok(Some(target)) = e.link_name()
            && let Some(t) = root::normalize(&target)
        {
            assert!(t.components().all(|c| matches!(c, Component::Normal(_))));
        }
        io::copy(&mut e, &mut io::sink()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
