//! Helpers shared by the fuzz targets: splitting one input into the several texts a
//! parser takes, sh quoting for the word-splitting round trip, and a fake user database.

use std::borrow::Cow;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// The input as text: invalid UTF-8 replaced (the tools read files with
/// `from_utf8_lossy` or refuse them whole; either way the parser sees valid UTF-8).
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The first byte (which parser) and the rest; `None` for an empty input.
pub fn mode(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(m, rest)| (*m, rest))
}

/// The input cut at NUL bytes into exactly `N` parts (missing ones empty; the last takes
/// the rest, NULs included): the several files or arguments one call takes.
pub fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == 0) {
            Some(p) => {
                *slot = &rest[..p];
                rest = &rest[p + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// Command-line arguments: the input cut at NUL bytes (as in /proc/PID/cmdline), each
/// one any bytes (not necessarily UTF-8).
pub fn args(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// A little-endian integer from up to 8 bytes (missing bytes are 0).
pub fn u64_le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}

/// One word quoted for sh: `'…'`, each `'` as `'\''`.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A fixed user and group database for chroot-rs's `--userspec`/`--groups` semantics
/// (what NSS would answer inside a root): names that look like numbers included, since
/// GNU's rules differ for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeDb;

const USERS: &[(&str, u32, u32)] = &[
    ("root", 0, 0),
    ("daemon", 1, 1),
    ("student", 1234, 1234),
    ("1000", 4000, 4000),
    ("nobody", 65534, 65534),
    ("user.name", 2000, 1235),
];

const GROUPS: &[(&str, u32)] = &[
    ("root", 0),
    ("daemon", 1),
    ("students", 1234),
    ("lab", 1235),
    ("4242", 5000),
    ("nogroup", 65534),
];

impl chroot_rs::creds::Db for FakeDb {
    fn user_by_name(&self, name: &str) -> Option<chroot_rs::creds::Passwd> {
        USERS
            .iter()
            .find(|u| u.0 == name)
            .map(|&(name, uid, gid)| chroot_rs::creds::Passwd {
                name: name.to_owned(),
                uid,
                gid,
            })
    }

    fn user_by_uid(&self, uid: u32) -> Option<chroot_rs::creds::Passwd> {
        USERS
            .iter()
            .find(|u| u.1 == uid)
            .map(|&(name, uid, gid)| chroot_rs::creds::Passwd {
                name: name.to_owned(),
                uid,
                gid,
            })
    }

    fn group_by_name(&self, name: &str) -> Option<u32> {
        GROUPS.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    fn group_list(&self, user: &str, gid: u32) -> Result<Vec<u32>, nix::errno::Errno> {
        match user {
            "nobody" => Err(nix::errno::Errno::EIO),
            "student" => Ok(vec![gid, 1235]),
            _ => Ok(vec![gid]),
        }
    }
}
