//! chroot-rs: `--userspec` and `--groups` with GNU's semantics (`creds::parse_user_spec`,
//! `parse_groups`, `resolve_outside`, `resolve_inside` over a fixed user database), the
//! line the inside look-up sends back (`creds::Creds::encode`/`decode`), capability
//! lists (`capabilities::parse_cap`, `parse_list`, `CapChange::from_options`), `--bind`
//! specs, the host's mountinfo for `--cgroup-fs` (`cgroupfs::parse`), and image magic
//! (`image::detect`).
//!
//! The first byte picks the parser, the rest is its input (NUL separates the parts of
//! one call): `u` userspec NUL groups (`-` alone: no `--groups`), `l` a look-up line,
//! `c` drop list NUL keep list, `b` a bind spec, `m` mountinfo, `i` image bytes.
#![no_main]

use chroot_rs::capabilities::{self, CapChange};
use chroot_rs::cgroupfs;
use chroot_rs::creds::{self, Creds, Ids};
use chroot_rs::image;
use chroot_rs::mounts::BindSpec;
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{FakeDb, mode, parts, text};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'u' => userspec(rest),
        b'l' => lookup_line(rest),
        b'c' => caps(rest),
        b'b' => {
            if let Ok(b) = BindSpec::parse(&text(rest)) {
                assert!(!b.src.as_os_str().is_empty() && !b.dst.as_os_str().is_empty());
            }
        }
        b'm' => {
            let _ = cgroupfs::parse(&text(rest));
        }
        b'i' => {
            let _ = image::detect(rest);
        }
        _ => {}
    }
});

fn userspec(rest: &[u8]) {
    let [spec, groups] = parts::<2>(rest);
    let (spec, groups) = (text(spec), text(groups));
    let groups = (groups != "-").then_some(&*groups);
    let db = FakeDb;
    if let Ok((ids, _)) = creds::parse_user_spec(&spec, Ids::default(), &db) {
        assert!(ids.uid != Some(u32::MAX) && ids.gid != Some(u32::MAX));
    }
    if let Some(g) = groups
        && let Ok(gids) = creds::parse_groups(g, &db)
    {
        assert!(!gids.is_empty());
    }
    let outside = creds::resolve_outside(Some(&spec), groups, &db);
    let _ = creds::resolve_outside(None, groups, &db);
    for userspec in [Some(&*spec), None] {
        if let Ok(c) = creds::resolve_inside(userspec, groups, &outside, &db) {
            // The line from the look-up child carries them exactly.
            assert_eq!(Creds::decode(&c.encode()), Some(c.clone()));
            if c.uid.is_some() {
                assert!(c.groups.is_some(), "a new user gets a group list");
            }
        }
    }
}

fn lookup_line(rest: &[u8]) {
    let t = text(rest);
    if let Some(c) = Creds::decode(&t) {
        assert_eq!(Creds::decode(&c.encode()), Some(c));
    }
}

fn caps(rest: &[u8]) {
    let [drop, keep] = parts::<2>(rest);
    let (drop, keep) = (text(drop), text(keep));
    if let Ok(c) = capabilities::parse_cap(&drop) {
        assert_eq!(capabilities::parse_cap(&c.to_string()).ok(), Some(c));
    }
    if let Ok(set) = capabilities::parse_list(&drop) {
        let names: Vec<String> = set.iter().map(ToString::to_string).collect();
        assert_eq!(capabilities::parse_list(&names.join(",")).ok(), Some(set));
    }
    let lists = |t: &str| -> Vec<String> {
        if t.is_empty() {
            Vec::new()
        } else {
            t.split('\n').map(str::to_owned).collect()
        }
    };
    if let Ok(Some(change)) = CapChange::from_options(&lists(&drop), &lists(&keep)) {
        let _ = change.dropped();
    }
}
