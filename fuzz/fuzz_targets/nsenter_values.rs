//! nsenter-rs and unshare-rs: ID maps (`idmap::parse_range` for `--map-users` and
//! `--map-groups`, `add_single`'s cut of a single mapping out of ranges, `render`),
//! names and IDs in /etc/passwd and /etc/subuid texts (`resolve_id`, `name_of`,
//! `first_subid_range`), the target's cgroups in the host's mountinfo for `--container`
//! (`attach::host_paths`), and namespace type names (`ns::NsType::from_name`).
//!
//! The first byte picks the parser, the rest is its input (NUL separates the parts of
//! one call): `r` ranges (one per line) NUL outer NUL inner, `p` spec NUL passwd NUL
//! subuid, `h` a /proc/PID/cgroup NUL mountinfo, `n` a namespace name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsenter_rs::attach;
use nsenter_rs::idmap::{self, Range};
use nsenter_rs::ns::NsType;
use toolkit_fuzz::{mode, parts, text};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'r' => ranges(rest),
        b'p' => passwd(rest),
        b'h' => {
            let [own, mountinfo] = parts::<2>(rest);
            let _ = attach::host_paths(&text(own), &text(mountinfo));
        }
        b'n' => {
            if let Some(t) = NsType::from_name(&text(rest)) {
                assert_eq!(NsType::from_name(t.name()), Some(t));
                assert_eq!(NsType::from_flag(t.flag()), Some(t));
            }
        }
        _ => {}
    }
});

fn contains(start: u32, count: u32, id: u32) -> bool {
    u64::from(id) >= u64::from(start) && u64::from(id) < u64::from(start) + u64::from(count)
}

fn overlap(a_start: u32, a_count: u32, b_start: u32, b_count: u32) -> bool {
    let (a0, a1) = (u64::from(a_start), u64::from(a_start) + u64::from(a_count));
    let (b0, b1) = (u64::from(b_start), u64::from(b_start) + u64::from(b_count));
    a0 < b1 && b0 < a1
}

fn ranges(rest: &[u8]) {
    let [specs, outer, inner] = parts::<3>(rest);
    let mut list: Vec<Range> = Vec::new();
    for spec in text(specs).lines() {
        if let Ok(r) = idmap::parse_range(spec) {
            assert!(r.count > 0);
            assert!(u64::from(r.inner) + u64::from(r.count) <= 1 << 32);
            assert!(u64::from(r.outer) + u64::from(r.count) <= 1 << 32);
            // Both spellings name the same range.
            let a = idmap::parse_range(&format!("{},{},{}", r.outer, r.inner, r.count));
            let b = idmap::parse_range(&format!("{}:{}:{}", r.inner, r.outer, r.count));
            assert_eq!((a, b), (Ok(r), Ok(r)));
            list.push(r);
        }
    }
    let (Ok(outer), inner) = (text(outer).parse::<u32>(), text(inner).parse::<u32>().ok()) else {
        return;
    };
    let out = idmap::add_single(&list, outer, inner);
    let _ = idmap::render(&out);
    assert_eq!(idmap::helper_args(&out).len(), 3 * out.len());
    let Some(inner) = inner else {
        assert_eq!(out, list);
        return;
    };
    assert_eq!(
        out[0],
        Range {
            inner,
            outer,
            count: 1
        }
    );
    // With ranges that map no ID twice on either side, the result maps no ID twice
    // either, each range within 32 bits, and every ID it maps (but the single one) was
    // mapped the same way before.
    let disjoint = list.iter().enumerate().all(|(i, a)| {
        list[i + 1..].iter().all(|b| {
            !overlap(a.outer, a.count, b.outer, b.count)
                && !overlap(a.inner, a.count, b.inner, b.count)
        })
    });
    if !disjoint {
        return;
    }
    for (i, a) in out.iter().enumerate() {
        assert!(a.count > 0);
        assert!(
            u64::from(a.inner) + u64::from(a.count) <= 1 << 32,
            "{a:?} of {list:?}"
        );
        assert!(
            u64::from(a.outer) + u64::from(a.count) <= 1 << 32,
            "{a:?} of {list:?}"
        );
        for b in &out[i + 1..] {
            assert!(
                !overlap(a.outer, a.count, b.outer, b.count)
                    && !overlap(a.inner, a.count, b.inner, b.count),
                "{a:?} and {b:?} overlap: {list:?} with {inner} ← {outer}"
            );
        }
    }
    // util-linux's cut shifts what is above a hole by one: each range lies within one
    // input range on both sides, and exactly one ID is lost from each input range that
    // held the single mapping's outer or inner ID.
    for a in &out[1..] {
        assert!(
            list.iter().any(|r| contains(r.outer, r.count, a.outer)
                && contains(r.outer, r.count, a.outer + (a.count - 1))
                && contains(r.inner, r.count, a.inner)
                && contains(r.inner, r.count, a.inner + (a.count - 1))),
            "{a:?} lies in no input range: {list:?}"
        );
    }
    let hit = list
        .iter()
        .filter(|r| contains(r.outer, r.count, outer) || contains(r.inner, r.count, inner))
        .count() as u64;
    let before: u64 = list.iter().map(|r| u64::from(r.count)).sum();
    let after: u64 = out.iter().map(|r| u64::from(r.count)).sum();
    assert_eq!(
        after,
        1 + before - hit,
        "{list:?} with {inner} ← {outer}: {out:?}"
    );
}

fn passwd(rest: &[u8]) {
    let [spec, passwd, subuid] = parts::<3>(rest);
    let (spec, passwd, subuid) = (text(spec), text(passwd), text(subuid));
    if let Some(id) = idmap::resolve_id(&spec, &passwd) {
        let name = idmap::name_of(id, &passwd);
        let _ = idmap::first_subid_range(&subuid, name.as_deref(), id);
    }
}
