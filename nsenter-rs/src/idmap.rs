//! User and group ID maps of a new user namespace (`uid_map`, `gid_map`).
//!
//! Single IDs (`--map-root-user`, `--map-user`, `--map-current-user`) map the caller's
//! own effective ID; ranges (`--map-users`, `--map-groups`, `--map-auto`) map many. When
//! both are given, the single mapping is cut out of the ranges exactly as util-linux does
//! (`add_single_map_range`), so that no ID is mapped twice on either side.
//!
//! Names are looked up in /etc/passwd and /etc/group directly (files only, no NSS), so
//! the tool stays a static binary that behaves the same in any root.

use std::fs;

use crate::error::Error;

/// One line of a uid_map/gid_map: `inner outer count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First ID inside the namespace.
    pub inner: u32,
    /// First ID outside (in the parent namespace).
    pub outer: u32,
    /// How many.
    pub count: u32,
}

/// Parse a `--map-users`/`--map-groups` value: `outer,inner,count` (util-linux 2.38's
/// form) or `inner:outer:count` (newuidmap's order, accepted by util-linux 2.39 and later).
pub fn parse_range(s: &str) -> Result<Range, String> {
    let bad = || format!("invalid mapping '{s}' (use OUTER,INNER,COUNT or INNER:OUTER:COUNT)");
    let (sep, outer_first) = if s.contains(',') {
        (',', true)
    } else {
        (':', false)
    };
    let parts: Vec<&str> = s.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(bad());
    };
    let num = |t: &str| {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u32>().map_err(|_| bad())
    };
    let (a, b, count) = (num(a)?, num(b)?, num(c)?);
    if count == 0 {
        return Err(format!("invalid mapping '{s}': the count is 0"));
    }
    let (outer, inner) = if outer_first { (a, b) } else { (b, a) };
    if u64::from(outer) + u64::from(count) > 1 << 32
        || u64::from(inner) + u64::from(count) > 1 << 32
    {
        return Err(format!(
            "invalid mapping '{s}': the range passes 4294967295"
        ));
    }
    Ok(Range {
        inner,
        outer,
        count,
    })
}

/// Cut the single mapping `inner ← outer` out of `ranges` and put it first, as util-linux
/// does: each range that contains `outer` (on its outside) or `inner` (on its inside)
/// loses one ID and is split around the hole, so that the topmost ID of the range is the
/// one left unmapped. `inner == None` (no single mapping asked for) leaves `ranges` as is.
pub fn add_single(ranges: &[Range], outer: u32, inner: Option<u32>) -> Vec<Range> {
    let Some(inner) = inner else {
        return ranges.to_vec();
    };
    let within = |id: u32, start: u32, count: u32| {
        u64::from(id) >= u64::from(start) && u64::from(id) < u64::from(start) + u64::from(count)
    };
    let mut out = vec![Range {
        inner,
        outer,
        count: 1,
    }];
    for m in ranges {
        let mut count = m.count;
        if within(outer, m.outer, m.count) || within(inner, m.inner, m.count) {
            count -= 1;
        }
        let outer_off = if outer > m.outer {
            (outer - m.outer).min(count)
        } else {
            0
        };
        let inner_off = if inner > m.inner {
            (inner - m.inner).min(count)
        } else {
            0
        };
        // Below both holes, between them, above both.
        let lo = Range {
            outer: m.outer,
            inner: m.inner,
            count: inner_off.min(outer_off),
        };
        let skip = |v: u32, hole: u32| if v == hole { v.wrapping_add(1) } else { v };
        let mid_outer = skip(lo.outer.wrapping_add(lo.count), outer);
        let mid_inner = skip(lo.inner.wrapping_add(lo.count), inner);
        let mid = Range {
            outer: mid_outer,
            inner: mid_inner,
            count: outer_off.abs_diff(inner_off),
        };
        let hi = Range {
            outer: skip(mid.outer.wrapping_add(mid.count), outer),
            inner: skip(mid.inner.wrapping_add(mid.count), inner),
            count: count - lo.count - mid.count,
        };
        out.extend([lo, mid, hi].into_iter().filter(|r| r.count > 0));
    }
    out
}

/// The text written to uid_map/gid_map: one `inner outer count` line per range.
pub fn render(ranges: &[Range]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.inner, r.outer, r.count))
        .collect()
}

/// newuidmap/newgidmap's arguments after the PID: `inner outer count` for each range.
pub fn helper_args(ranges: &[Range]) -> Vec<String> {
    ranges
        .iter()
        .flat_map(|r| [r.inner, r.outer, r.count].map(|n| n.to_string()))
        .collect()
}

/// A user as `--map-user` and `-S` take it: a number, or a name in `passwd` (the text of
/// /etc/passwd).
pub fn resolve_id(spec: &str, passwd: &str) -> Option<u32> {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return spec.parse().ok();
    }
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id = f.nth(1)?;
        (name == spec).then(|| id.parse().ok()).flatten()
    })
}

/// The name of `uid` in `passwd` (for /etc/subuid lines written with names).
pub fn name_of(uid: u32, passwd: &str) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

/// A user for `--map-user`: number or /etc/passwd name.
pub fn lookup_user(spec: &str) -> Result<u32, Error> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    resolve_id(spec, &passwd).ok_or_else(|| Error::UnknownUser(spec.to_owned()))
}

/// A group for `--map-group`: number or /etc/group name.
pub fn lookup_group(spec: &str) -> Result<u32, Error> {
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    resolve_id(spec, &group).ok_or_else(|| Error::UnknownGroup(spec.to_owned()))
}

/// The first subordinate range of the user (`name` or numeric `uid`) in `subids` (the
/// text of /etc/subuid or /etc/subgid): `(start, count)`.
pub fn first_subid_range(subids: &str, name: Option<&str>, uid: u32) -> Option<(u32, u32)> {
    subids.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let who = f.next()?;
        let matches = Some(who) == name || who.parse::<u32>().ok() == Some(uid);
        if !matches {
            return None;
        }
        let start = f.next()?.trim().parse().ok()?;
        let count = f.next()?.trim().parse().ok()?;
        Some((start, count))
    })
}

/// `--map-auto`: the caller's first range in `file` (/etc/subuid or /etc/subgid), mapped
/// from ID 0 inside.
pub fn auto_range(file: &'static str, uid: u32) -> Result<Range, Error> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = name_of(uid, &passwd);
    let text = fs::read_to_string(file).unwrap_or_default();
    let (start, count) =
        first_subid_range(&text, name.as_deref(), uid).ok_or_else(|| Error::NoSubIds {
            file,
            user: name.unwrap_or_else(|| uid.to_string()),
        })?;
    Ok(Range {
        inner: 0,
        outer: start,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(inner: u32, outer: u32, count: u32) -> Range {
        Range {
            inner,
            outer,
            count,
        }
    }

    #[test]
    fn both_range_syntaxes() {
        assert_eq!(parse_range("100000,0,65536"), Ok(r(0, 100000, 65536)));
        assert_eq!(parse_range("0:100000:65536"), Ok(r(0, 100000, 65536)));
        assert_eq!(parse_range("1000,1000,1"), Ok(r(1000, 1000, 1)));
        assert_eq!(parse_range("4294967295,0,1"), Ok(r(0, 4294967295, 1)));
    }

    #[test]
    fn bad_ranges() {
        for bad in [
            "", "1", "1,2", "1,2,3,4", "1:2", "a,b,c", "1,2,-3", "1;2;3", " 1,2,3", "1,,3", "1:2,3",
        ] {
            assert!(parse_range(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse_range("1,2,0").unwrap_err(),
            "invalid mapping '1,2,0': the count is 0"
        );
        assert_eq!(
            parse_range("4294967295,0,2").unwrap_err(),
            "invalid mapping '4294967295,0,2': the range passes 4294967295"
        );
        assert_eq!(
            parse_range("x").unwrap_err(),
            "invalid mapping 'x' (use OUTER,INNER,COUNT or INNER:OUTER:COUNT)"
        );
    }

    #[test]
    fn single_cut_out_like_util_linux() {
        // `-r --map-users=100000,0,65536` as uid 1000: root is the caller, the rest shift up.
        let got = add_single(&[r(0, 100000, 65536)], 1000, Some(0));
        assert_eq!(got, vec![r(0, 1000, 1), r(1, 100000, 65535)]);
        // Nothing asked: unchanged.
        assert_eq!(
            add_single(&[r(0, 100000, 10)], 1000, None),
            vec![r(0, 100000, 10)]
        );
        // A hole in the middle of the inside.
        let got = add_single(&[r(0, 100000, 10)], 1000, Some(5));
        assert_eq!(got, vec![r(5, 1000, 1), r(0, 100000, 5), r(6, 100005, 4)]);
        // No overlap at all: the range stays whole.
        let got = add_single(&[r(0, 100000, 10)], 1000, Some(10));
        assert_eq!(got, vec![r(10, 1000, 1), r(0, 100000, 10)]);
    }

    /// Every result is a valid map: no inner ID and no outer ID twice, the single
    /// mapping present, and at most one ID of each range lost.
    #[test]
    fn single_cut_out_never_overlaps() {
        for start_outer in [0u32, 3, 7] {
            for start_inner in [0u32, 2, 5] {
                for count in 1u32..8 {
                    for outer in 0u32..16 {
                        for inner in 0u32..16 {
                            let range = r(start_inner, start_outer, count);
                            let got = add_single(&[range], outer, Some(inner));
                            let mut ins = std::collections::HashSet::new();
                            let mut outs = std::collections::HashSet::new();
                            let mut total = 0;
                            for m in &got {
                                for k in 0..m.count {
                                    assert!(
                                        ins.insert(m.inner + k),
                                        "{range:?} {outer} {inner}: {got:?}"
                                    );
                                    assert!(
                                        outs.insert(m.outer + k),
                                        "{range:?} {outer} {inner}: {got:?}"
                                    );
                                    total += 1;
                                }
                            }
                            assert_eq!(got[0], r(inner, outer, 1));
                            assert!(total >= count, "{range:?} {outer} {inner}: {got:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rendering() {
        let m = [r(0, 1000, 1), r(1, 100000, 65535)];
        assert_eq!(render(&m), "0 1000 1\n1 100000 65535\n");
        assert_eq!(helper_args(&m), ["0", "1000", "1", "1", "100000", "65535"]);
    }

    #[test]
    fn names_and_numbers() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nstudent:x:1234:1234::/home/student:/bin/sh\n";
        assert_eq!(resolve_id("student", passwd), Some(1234));
        assert_eq!(resolve_id("0", passwd), Some(0));
        assert_eq!(resolve_id("4321", passwd), Some(4321));
        assert_eq!(resolve_id("nobody", passwd), None);
        assert_eq!(resolve_id("", passwd), None);
        assert_eq!(resolve_id("-1", passwd), None);
        assert_eq!(name_of(1234, passwd).as_deref(), Some("student"));
        assert_eq!(name_of(9, passwd), None);
    }

    #[test]
    fn subid_lines() {
        let subuid = "alice:100000:65536\n1234:200000:1000\nstudent:300000:5\n";
        assert_eq!(
            first_subid_range(subuid, Some("alice"), 1000),
            Some((100000, 65536))
        );
        // By number first when the number's line comes first.
        assert_eq!(
            first_subid_range(subuid, Some("student"), 1234),
            Some((200000, 1000))
        );
        assert_eq!(first_subid_range(subuid, Some("bob"), 7), None);
        assert_eq!(first_subid_range("junk\n", Some("bob"), 7), None);
    }
}
