//! debootstrap-rs's text formats: deb822 stanzas (Release, Packages, `DEBIAN/control`,
//! apt's `.sources`), dependency fields, one-line `sources.list`, Release dates and
//! digests, dpkg versions and their order, the Packages index with the resolver over it,
//! triggers files, and the name service's inputs (/etc/hosts, /etc/resolv.conf, DNS
//! answers).
//!
//! The first byte picks the parser, the rest is its input (NUL separates the parts of
//! one call): `c` deb822 + dependency fields, `r` Release, `d` a date, `h` hex digest,
//! `l` sources.list, `s` .sources, `t` triggers, `p` Packages index + resolution,
//! `v` three versions, `H` hosts text NUL name, `R` resolv.conf NUL name,
//! `D` name NUL DNS message (`+`: AAAA).
#![no_main]

use std::cmp::Ordering;
use std::net::IpAddr;

use debootstrap_rs::control::{self, Stanza};
use debootstrap_rs::index::Index;
use debootstrap_rs::release::{self, Release};
use debootstrap_rs::resolve::{self, Request, Variant};
use debootstrap_rs::resolver::{self, ResolvConf};
use debootstrap_rs::version::{self, Relation};
use debootstrap_rs::{dpkgdb, sources};
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{mode, parts, text, u64_le};

/// A fixed "now" for Valid-Until checks (2033-05-18).
const NOW: i64 = 2_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'c' => deb822(rest),
        b'r' => release_file(rest),
        b'd' => date(rest),
        b'h' => digest(rest),
        b'l' => source_list(rest, false),
        b's' => source_list(rest, true),
        b't' => triggers(rest),
        b'p' => packages(rest),
        b'v' => versions(rest),
        b'H' => hosts(rest),
        b'R' => resolv_conf(rest),
        b'D' => dns(rest),
        _ => {}
    }
});

/// deb822 as written: `Name: value`, continuation lines indented by one space.
fn write_stanzas(stanzas: &[Stanza]) -> String {
    let mut out = String::new();
    for st in stanzas {
        for (name, value) in &st.fields {
            let mut lines = value.split('\n');
            out.push_str(name);
            out.push_str(": ");
            out.push_str(lines.next().unwrap_or(""));
            out.push('\n');
            for l in lines {
                out.push(' ');
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

fn deb822(rest: &[u8]) {
    let t = text(rest);
    let stanzas = control::parse(&t);
    for st in &stanzas {
        assert!(!st.fields.is_empty());
        for (name, value) in &st.fields {
            assert!(st.get(name).is_some());
            assert!(!name.starts_with([' ', '\t']), "{name:?}");
            for group in control::parse_deps(value) {
                assert!(!group.is_empty());
                for atom in group {
                    assert!(!atom.name.is_empty());
                    if let Some((rel, v)) = atom.version {
                        let _ = rel.holds("1.0", v);
                    }
                }
            }
        }
    }
    // What it read, written back as deb822, reads the same (a value line ending in
    // CR cannot be written back: the line break would take it; nor a name that a
    // Unicode blank before it hid from the comment test).
    let writable = stanzas.iter().all(|s| {
        s.fields
            .iter()
            .all(|(n, v)| !n.starts_with('#') && v.split('\n').all(|l| !l.ends_with('\r')))
    });
    if writable {
        assert_eq!(control::parse(&write_stanzas(&stanzas)), stanzas, "{t:?}");
    }
}

fn release_file(rest: &[u8]) {
    let t = text(rest);
    let Ok(r) = Release::parse(&t) else { return };
    for (path, sum) in &r.files {
        assert!(!path.is_empty());
        assert_eq!(
            release::parse_hex32(&release::hex(&sum.sha256)),
            Some(sum.sha256)
        );
    }
    if let Some(until) = r.valid_until {
        round_trip(until);
    }
    let _ = r.check(&r.suite, Some(NOW));
    let _ = r.check(&r.codename, None);
    let _ = r.check("bookworm", Some(NOW));
}

fn date(rest: &[u8]) {
    let t = text(rest);
    if let Some(secs) = release::parse_date(&t) {
        round_trip(secs);
    }
}

/// A time printed as a Release date reads back as that time (years 1970 to 9999 must;
/// an offset may have moved a parsed date just outside the years a date may have).
fn round_trip(secs: i64) {
    let shown = release::format_date(secs);
    match release::parse_date(&shown) {
        Some(back) => assert_eq!(back, secs, "{shown:?}"),
        None => assert!(!(0..253_402_300_800).contains(&secs), "{shown:?}"),
    }
}

fn digest(rest: &[u8]) {
    let t = text(rest);
    if let Some(d) = release::parse_hex32(&t) {
        assert!(release::hex(&d).eq_ignore_ascii_case(&t));
    }
}

fn source_list(rest: &[u8], deb822: bool) {
    let [list, suite] = parts::<2>(rest);
    let t = text(list);
    let found = if deb822 {
        sources::parse_deb822(&t)
    } else {
        sources::parse_list(&t)
    };
    for s in &found {
        assert!(!s.uri.ends_with('/'), "{:?}", s.uri);
    }
    let suite = text(suite);
    if let Some(uri) = sources::mirror_for(&found, &suite) {
        assert!(found.iter().any(|s| s.uri == uri));
    }
}

fn triggers(rest: &[u8]) {
    for (name, _) in dpkgdb::interests(&text(rest)) {
        assert!(!name.contains('#'));
    }
}

fn packages(rest: &[u8]) {
    let Some((&flags, index_text)) = rest.split_first() else {
        return;
    };
    let mut index = Index::new();
    if index.add(index_text, 0).is_err() {
        return;
    }
    for p in index.candidates() {
        for field in [p.depends(), p.pre_depends(), p.provides(), p.replaces()] {
            let _ = control::parse_deps(field);
        }
        // The candidate is the highest version of its name.
        for other in index.named(p.name()) {
            assert_ne!(
                version::compare(other.version(), p.version()),
                Ordering::Greater
            );
        }
    }
    let variant = [
        Variant::Default,
        Variant::Minbase,
        Variant::Buildd,
        Variant::Fakechroot,
    ][usize::from(flags & 3)];
    let include = ["e2fsprogs".to_owned()];
    let exclude = ["usrmerge".to_owned()];
    let req = Request {
        variant,
        codename: if flags & 4 == 0 { "bookworm" } else { "trixie" },
        include: if flags & 8 == 0 { &[] } else { &include },
        exclude: if flags & 16 == 0 { &[] } else { &exclude },
        https: flags & 32 != 0,
    };
    if let Ok(sel) = resolve::resolve(&index, &req) {
        for name in sel.all() {
            assert!(
                index.candidate(&name).is_some(),
                "{name} resolved but not in the index"
            );
        }
    }
}

fn versions(rest: &[u8]) {
    let [a, b, c] = parts::<3>(rest);
    let (a, b, c) = (text(a), text(b), text(c));
    let cmp = version::compare;
    assert_eq!(cmp(&a, &a), Ordering::Equal);
    let ab = cmp(&a, &b);
    assert_eq!(cmp(&b, &a), ab.reverse(), "{a:?} {b:?}");
    let bc = cmp(&b, &c);
    let ac = cmp(&a, &c);
    if ab != Ordering::Greater && bc != Ordering::Greater {
        assert_ne!(ac, Ordering::Greater, "{a:?} <= {b:?} <= {c:?}");
    }
    if ab == Ordering::Equal {
        assert_eq!(ac, bc, "{a:?} = {b:?}, vs {c:?}");
    }
    for (op, rel) in [
        ("<<", Relation::Less),
        ("<=", Relation::LessEq),
        ("=", Relation::Eq),
        (">=", Relation::GreaterEq),
        (">>", Relation::Greater),
    ] {
        assert_eq!(Relation::parse(op), Some(rel));
        let want = match rel {
            Relation::Less => ab == Ordering::Less,
            Relation::LessEq => ab != Ordering::Greater,
            Relation::Eq => ab == Ordering::Equal,
            Relation::GreaterEq => ab != Ordering::Less,
            Relation::Greater => ab == Ordering::Greater,
        };
        assert_eq!(rel.holds(&a, &b), want);
    }
    let _ = Relation::parse(&c);
}

fn hosts(rest: &[u8]) {
    let [file, name] = parts::<2>(rest);
    let found = resolver::hosts_lookup(&text(file), &text(name));
    for (i, a) in found.iter().enumerate() {
        assert!(!found[..i].contains(a));
    }
}

fn resolv_conf(rest: &[u8]) {
    let [file, name] = parts::<2>(rest);
    let c = ResolvConf::parse(&text(file));
    assert!((1..=3).contains(&c.nameservers.len()));
    assert!(c.ndots <= 15);
    assert!((1..=5).contains(&c.attempts));
    assert!((1..=30).contains(&c.timeout.as_secs()));
    let name = text(name);
    let tried = c.candidates(&name);
    assert!(!tried.is_empty());
}

/// A DNS message from a server (any bytes) for a name; and a query encoded for the
/// name, answered with one record, parses back to that record's address.
fn dns(rest: &[u8]) {
    let [name, msg] = parts::<2>(rest);
    let name = text(name);
    let (qtype, name) = match name.strip_prefix('+') {
        Some(n) => (resolver::TYPE_AAAA, n),
        None => (resolver::TYPE_A, &*name),
    };
    let id = u16::try_from(u64_le(msg.get(..2).unwrap_or(&[])) & 0xffff).unwrap_or(0);
    let _ = resolver::parse_answer(msg, id, name, qtype);
    let Ok(query) = resolver::encode_query(id, name, qtype) else {
        return;
    };
    let mut answer = query.clone();
    answer[2] |= 0x80; // QR: a response
    answer[7] = 1; // ANCOUNT 1
    answer.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
    let (addr, rdata): (IpAddr, Vec<u8>) = if qtype == resolver::TYPE_A {
        let o = [10, 0, msg.len() as u8, 1];
        (IpAddr::from(o), o.to_vec())
    } else {
        let mut o = [0u8; 16];
        o[0] = 0xfd;
        o[15] = msg.len() as u8;
        (IpAddr::from(o), o.to_vec())
    };
    answer.extend_from_slice(&qtype.to_be_bytes());
    answer.extend_from_slice(&1u16.to_be_bytes()); // IN
    answer.extend_from_slice(&60u32.to_be_bytes()); // TTL
    answer.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    answer.extend_from_slice(&rdata);
    let got = resolver::parse_answer(&answer, id, name, qtype)
        .unwrap_or_else(|e| panic!("our own answer for {name:?}: {e}"));
    assert_eq!(got.addrs, [addr], "{name:?}");
    assert!(!got.truncated);
}
