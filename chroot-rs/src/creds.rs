//! `--userspec` and `--groups`, with GNU chroot's exact semantics (coreutils 9.1
//! `chroot.c` and gnulib `userspec.c`):
//!
//! - `USER` sets the uid; the gid and supplementary groups come from USER's passwd entry
//!   (login group, initgroups list). `USER:` is the same. `USER:GROUP` sets both and the
//!   supplementary groups of USER. `:GROUP` sets only the gid and keeps the supplementary
//!   list. Names are tried first, then numbers; `+N` skips the name lookup. A numeric uid
//!   with no passwd entry needs a group (`no group specified for unknown uid: N`).
//! - `USER.GROUP` is accepted, with "warning: '.' should be ':'", when the whole spec is
//!   not itself a user name.
//! - `--groups=g1,g2` replaces the supplementary groups (names or numbers; spaces and `+`
//!   allowed; empty items ignored); `--groups=` clears them.
//! - Names are looked up twice: outside the new root (so NSS plugins load and a failure
//!   inside can fall back for groups), then inside it, where the answer counts.

use nix::unistd::{Gid, Group, Uid, User};

use crate::error::Error;
use crate::sys;

/// A passwd entry's parts chroot needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    /// Login name.
    pub name: String,
    /// User ID.
    pub uid: u32,
    /// Login group.
    pub gid: u32,
}

/// The user and group database, as seen from the current root.
pub trait Db {
    /// getpwnam(3).
    fn user_by_name(&self, name: &str) -> Option<Passwd>;
    /// getpwuid(3).
    fn user_by_uid(&self, uid: u32) -> Option<Passwd>;
    /// getgrnam(3): the gid.
    fn group_by_name(&self, name: &str) -> Option<u32>;
    /// getgrouplist(3): `gid` plus the groups `user` belongs to.
    fn group_list(&self, user: &str, gid: u32) -> Result<Vec<u32>, nix::errno::Errno>;
}

/// The system's database through NSS (files inside the new root after chroot).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemDb;

impl Db for SystemDb {
    fn user_by_name(&self, name: &str) -> Option<Passwd> {
        User::from_name(name).ok().flatten().map(|u| Passwd {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        })
    }
    fn user_by_uid(&self, uid: u32) -> Option<Passwd> {
        User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| Passwd {
                name: u.name,
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
            })
    }
    fn group_by_name(&self, name: &str) -> Option<u32> {
        Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    }
    fn group_list(&self, user: &str, gid: u32) -> Result<Vec<u32>, nix::errno::Errno> {
        sys::getgrouplist(user, Gid::from_raw(gid))
            .map(|v| v.into_iter().map(Gid::as_raw).collect())
    }
}

/// gnulib's xstrtoul for ids: optional leading blanks, optional `+`, decimal digits,
/// nothing after; `-1` (the "unset" id) and negatives are refused.
fn parse_id(s: &str) -> Option<u32> {
    let t = s.trim_start();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|&v| v != u32::MAX)
}

/// Ids parsed from a user spec; `None` = not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    /// The user ID.
    pub uid: Option<u32>,
    /// The group ID.
    pub gid: Option<u32>,
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// gnulib `parse_with_separator`: `prev` holds ids found earlier, kept unless replaced.
fn parse_with_separator(
    spec: &str,
    sep: Option<usize>,
    prev: Ids,
    db: &dyn Db,
) -> Result<Ids, &'static str> {
    let (user, group) = match sep {
        None => (nonempty(spec), None),
        Some(i) => (nonempty(&spec[..i]), nonempty(&spec[i + 1..])),
    };
    let mut ids = prev;
    if let Some(u) = user {
        let pw = if u.starts_with('+') {
            None
        } else {
            db.user_by_name(u)
        };
        match pw {
            None => {
                if sep.is_some() && group.is_none() {
                    // "USER:" asks for USER's login group, which a number has none of.
                    return Err("invalid spec");
                }
                ids.uid = Some(parse_id(u).ok_or("invalid user")?);
            }
            Some(pw) => {
                ids.uid = Some(pw.uid);
                if group.is_none() && sep.is_some() {
                    ids.gid = Some(pw.gid);
                }
            }
        }
    }
    if let Some(g) = group {
        let gr = if g.starts_with('+') {
            None
        } else {
            db.group_by_name(g)
        };
        ids.gid = Some(match gr {
            Some(gid) => gid,
            None => parse_id(g).ok_or("invalid group")?,
        });
    }
    Ok(ids)
}

/// gnulib `parse_user_spec_warn`: `Ok((ids, warned))`, where `warned` means the
/// deprecated `.` separator was used.
pub fn parse_user_spec(spec: &str, prev: Ids, db: &dyn Db) -> Result<(Ids, bool), &'static str> {
    let colon = spec.find(':');
    let result = parse_with_separator(spec, colon, prev, db);
    if colon.is_none()
        && result.is_err()
        && let Some(dot) = spec.find('.')
        && let Ok(ids) = parse_with_separator(spec, Some(dot), prev, db)
    {
        return Ok((ids, true));
    }
    result.map(|ids| (ids, false))
}

/// GNU `parse_additional_groups`: the gids of a `--groups` list. Every entry that is
/// neither a group nor a number is named in the error, as GNU names each.
pub fn parse_groups(list: &str, db: &dyn Db) -> Result<Vec<u32>, Error> {
    let mut gids = Vec::new();
    let mut bad = Vec::new();
    for item in list.split(',').filter(|s| !s.is_empty()) {
        match parse_id(item) {
            Some(n) => {
                let trimmed = item.trim_start();
                // A numeric name ("1000" as a group name) wins over the number, unless '+'.
                gids.push(if trimmed.starts_with('+') {
                    n
                } else {
                    db.group_by_name(trimmed).unwrap_or(n)
                });
            }
            None => match db.group_by_name(item) {
                Some(gid) => gids.push(gid),
                None => bad.push(item.to_owned()),
            },
        }
    }
    if !bad.is_empty() {
        return Err(Error::InvalidGroup(bad));
    }
    if gids.is_empty() {
        return Err(Error::InvalidGroupList(list.to_owned()));
    }
    Ok(gids)
}

/// What the first, outside look-up found (errors are ignored there).
#[derive(Debug, Clone, Default)]
pub struct Outside {
    ids: Ids,
    gids: Option<Vec<u32>>,
}

/// The look-up before the root changes.
pub fn resolve_outside(userspec: Option<&str>, groups: Option<&str>, db: &dyn Db) -> Outside {
    let mut ids = Ids::default();
    if let Some(spec) = userspec
        && let Ok((found, _)) = parse_user_spec(spec, ids, db)
    {
        ids = found;
    }
    let mut username = None;
    if let Some(uid) = ids.uid
        && (groups.is_none() || ids.gid.is_none())
        && let Some(pw) = db.user_by_uid(uid)
    {
        ids.gid.get_or_insert(pw.gid);
        username = Some(pw.name);
    }
    let gids = match (groups, ids.gid, username) {
        (Some(list), _, _) if !list.is_empty() => parse_groups(list, db).ok(),
        (None, Some(gid), Some(name)) => db.group_list(&name, gid).ok().filter(|v| !v.is_empty()),
        _ => None,
    };
    Outside { ids, gids }
}

/// The credentials to apply: `groups` is `Some` when setgroups(2) is to be called.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Creds {
    /// setuid(2) to this.
    pub uid: Option<u32>,
    /// setgid(2) to this.
    pub gid: Option<u32>,
    /// setgroups(2) to this.
    pub groups: Option<Vec<u32>>,
    /// The deprecated `.` separator was used: print GNU's warning.
    pub warn_dot: bool,
}

/// The look-up inside the new root, which decides, falling back to the outside
/// look-up's group lists.
pub fn resolve_inside(
    userspec: Option<&str>,
    groups: Option<&str>,
    outside: &Outside,
    db: &dyn Db,
) -> Result<Creds, Error> {
    let mut ids = outside.ids;
    let mut warn_dot = false;
    if let Some(spec) = userspec {
        let (found, warned) = parse_user_spec(spec, ids, db).map_err(Error::UserSpec)?;
        ids = found;
        warn_dot = warned;
    }
    let mut username = None;
    if let Some(uid) = ids.uid
        && (groups.is_none() || ids.gid.is_none())
    {
        match db.user_by_uid(uid) {
            Some(pw) => {
                ids.gid.get_or_insert(pw.gid);
                username = Some(pw.name);
            }
            None if ids.gid.is_none() => return Err(Error::UnknownUid(uid)),
            None => {}
        }
    }
    let mut gids = outside.gids.clone().unwrap_or_default();
    match groups {
        Some(list) if !list.is_empty() => match parse_groups(list, db) {
            Ok(v) => gids = v,
            Err(e) if outside.gids.is_none() => return Err(e),
            Err(_) => {} // the outside look-up worked: go with it
        },
        None => {
            if let (Some(gid), Some(name)) = (ids.gid, &username) {
                match db.group_list(name, gid) {
                    Ok(v) if !v.is_empty() => gids = v,
                    Ok(_) | Err(_) if outside.gids.is_some() => {}
                    Ok(_) => return Err(Error::GetGroups(nix::errno::Errno::ENOENT)),
                    Err(e) => return Err(Error::GetGroups(e)),
                }
            }
        }
        Some(_) => {} // "--groups=": clear the list
    }
    let call_setgroups = ids.uid.is_some() || groups.is_some();
    Ok(Creds {
        uid: ids.uid,
        gid: ids.gid,
        groups: call_setgroups.then_some(gids),
        warn_dot,
    })
}

impl Creds {
    /// One line for the pipe from the look-up child: `uid gid warn groups`, `-` for
    /// "not set", groups as `N` (no setgroups) or `S` followed by a comma list.
    pub fn encode(&self) -> String {
        let id = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let groups = match &self.groups {
            None => "N".to_owned(),
            Some(g) => format!(
                "S{}",
                g.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        format!(
            "{} {} {} {groups}",
            id(self.uid),
            id(self.gid),
            u8::from(self.warn_dot)
        )
    }

    /// The inverse of [`Creds::encode`]; `None` for a line it did not write.
    pub fn decode(line: &str) -> Option<Self> {
        let mut it = line.split(' ');
        let id = |s: &str| {
            if s == "-" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        let uid = id(it.next()?)?;
        let gid = id(it.next()?)?;
        let warn_dot = it.next()? == "1";
        let groups = match it.next()? {
            "N" => None,
            g => Some(
                g.strip_prefix('S')?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect::<Result<Vec<u32>, _>>()
                    .ok()?,
            ),
        };
        Some(Self {
            uid,
            gid,
            groups,
            warn_dot,
        })
    }

    /// The first half of GNU's order: supplementary groups, then the gid.
    pub fn apply_groups(&self) -> Result<(), Error> {
        if let Some(groups) = &self.groups {
            let gids: Vec<Gid> = groups.iter().copied().map(Gid::from_raw).collect();
            sys::setgroups(&gids).map_err(Error::SetGroups)?;
        }
        if let Some(gid) = self.gid {
            sys::setgid(Gid::from_raw(gid)).map_err(Error::SetGid)?;
        }
        Ok(())
    }

    /// The second half: the uid, last, since it gives up the right to change the others.
    pub fn apply_user(&self) -> Result<(), Error> {
        if let Some(uid) = self.uid {
            sys::setuid(Uid::from_raw(uid)).map_err(Error::SetUid)?;
        }
        Ok(())
    }
}

/// The inside look-up, done before chroot-rs changes anything in the new root (mount
/// points, mounts): a forked child chroots into `root`, looks the names up there, and
/// sends the result back. Bad names thus fail with nothing changed.
pub fn lookup_inside(
    root: &std::path::Path,
    userspec: Option<&str>,
    groups: Option<&str>,
    outside: &Outside,
) -> Result<Creds, Error> {
    use std::io::{Read, Write};
    let fail = |what: &'static str| move |source| Error::Process { what, source };
    let (r, w) = sys::pipe(false).map_err(fail("cannot create a pipe"))?;
    match sys::fork().map_err(fail("cannot fork"))? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let line = match sys::chroot(root)
                .map_err(|source| Error::ChangeRoot {
                    path: root.to_owned(),
                    source,
                })
                .and_then(|()| sys::chdir(std::path::Path::new("/")).map_err(Error::ChdirRoot))
                .and_then(|()| resolve_inside(userspec, groups, outside, &SystemDb))
            {
                Ok(creds) => format!("O{}", creds.encode()),
                Err(e) => format!("E{}", common::exit::message(&e)),
            };
            let _ = std::fs::File::from(w).write_all(line.as_bytes());
            // Only this process's own code ran since fork; no destructors, no atexit.
            sys::exit_child(0);
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut line = String::new();
            let read = std::fs::File::from(r).read_to_string(&mut line);
            let _ = sys::waitpid(Some(child), None);
            read.map_err(|e| Error::Lookup(format!("the look-up in the new root failed: {e}")))?;
            if let Some(msg) = line.strip_prefix('E') {
                return Err(Error::Lookup(msg.to_owned()));
            }
            line.strip_prefix('O')
                .and_then(Creds::decode)
                .ok_or_else(|| Error::Lookup("the look-up in the new root failed".to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// root 0/0, student 1234/1234 in students(1234) and lab(1235), nobody 65534/65534,
    /// a user called "1000" with uid 4000, a group called "7" with gid 77.
    struct FakeDb;

    impl Db for FakeDb {
        fn user_by_name(&self, name: &str) -> Option<Passwd> {
            let (uid, gid) = match name {
                "root" => (0, 0),
                "student" => (1234, 1234),
                "nobody" => (65534, 65534),
                "1000" => (4000, 4000),
                "a.b" => (5000, 5000),
                _ => return None,
            };
            Some(Passwd {
                name: name.to_owned(),
                uid,
                gid,
            })
        }
        fn user_by_uid(&self, uid: u32) -> Option<Passwd> {
            ["root", "student", "nobody", "1000", "a.b"]
                .iter()
                .filter_map(|n| self.user_by_name(n))
                .find(|p| p.uid == uid)
        }
        fn group_by_name(&self, name: &str) -> Option<u32> {
            match name {
                "root" => Some(0),
                "students" => Some(1234),
                "lab" => Some(1235),
                "nogroup" => Some(65534),
                "7" => Some(77),
                _ => None,
            }
        }
        fn group_list(&self, user: &str, gid: u32) -> Result<Vec<u32>, nix::errno::Errno> {
            Ok(match user {
                "student" => vec![gid, 1235],
                _ => vec![gid],
            })
        }
    }

    fn spec(s: &str) -> Result<(Ids, bool), &'static str> {
        parse_user_spec(s, Ids::default(), &FakeDb)
    }

    fn ids(uid: Option<u32>, gid: Option<u32>) -> Ids {
        Ids { uid, gid }
    }

    #[test]
    fn user_spec_forms() {
        assert_eq!(spec("student"), Ok((ids(Some(1234), None), false)));
        assert_eq!(spec("student:"), Ok((ids(Some(1234), Some(1234)), false)));
        assert_eq!(
            spec("student:lab"),
            Ok((ids(Some(1234), Some(1235)), false))
        );
        assert_eq!(spec(":lab"), Ok((ids(None, Some(1235)), false)));
        assert_eq!(spec("42:43"), Ok((ids(Some(42), Some(43)), false)));
        assert_eq!(spec("+1000"), Ok((ids(Some(1000), None), false)));
        assert_eq!(spec("1000"), Ok((ids(Some(4000), None), false)));
        assert_eq!(spec(":7"), Ok((ids(None, Some(77)), false)));
        assert_eq!(spec(":+7"), Ok((ids(None, Some(7)), false)));
        assert_eq!(spec(""), Ok((ids(None, None), false)));
        assert_eq!(spec(":"), Ok((ids(None, None), false)));
    }

    #[test]
    fn user_spec_errors() {
        assert_eq!(spec("nosuch"), Err("invalid user"));
        assert_eq!(spec("nosuch:lab"), Err("invalid user"));
        assert_eq!(spec("student:nosuch"), Err("invalid group"));
        assert_eq!(spec("42:"), Err("invalid spec"));
        assert_eq!(spec("-1"), Err("invalid user"));
        assert_eq!(spec("4294967295"), Err("invalid user"));
        assert_eq!(spec("12x"), Err("invalid user"));
    }

    #[test]
    fn dot_separator_warns() {
        assert_eq!(spec("student.lab"), Ok((ids(Some(1234), Some(1235)), true)));
        // a user whose name has a dot is not split
        assert_eq!(spec("a.b"), Ok((ids(Some(5000), None), false)));
    }

    #[test]
    fn groups_lists() {
        assert_eq!(
            parse_groups("lab,students", &FakeDb).unwrap(),
            vec![1235, 1234]
        );
        assert_eq!(parse_groups(" 1, +2,,3", &FakeDb).unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_groups("7", &FakeDb).unwrap(), vec![77]);
        assert_eq!(parse_groups("+7", &FakeDb).unwrap(), vec![7]);
        assert!(matches!(parse_groups(" ", &FakeDb), Err(Error::InvalidGroup(g)) if g == [" "]));
        assert!(
            matches!(parse_groups("x,lab,y", &FakeDb), Err(Error::InvalidGroup(g)) if g == ["x", "y"])
        );
        assert!(matches!(
            parse_groups(",", &FakeDb),
            Err(Error::InvalidGroupList(_))
        ));
        assert!(matches!(
            parse_groups("0trail", &FakeDb),
            Err(Error::InvalidGroup(_))
        ));
    }

    fn creds(userspec: Option<&str>, groups: Option<&str>) -> Result<Creds, Error> {
        let out = resolve_outside(userspec, groups, &FakeDb);
        resolve_inside(userspec, groups, &out, &FakeDb)
    }

    #[test]
    fn creds_cross_the_pipe_unchanged() {
        for c in [
            Creds::default(),
            Creds {
                uid: Some(0),
                gid: Some(5),
                groups: Some(vec![]),
                warn_dot: true,
            },
            Creds {
                uid: None,
                gid: Some(1235),
                groups: Some(vec![1, 2, 3]),
                warn_dot: false,
            },
        ] {
            assert_eq!(Creds::decode(&c.encode()), Some(c.clone()));
        }
        assert_eq!(Creds::decode("x y"), None);
    }

    #[test]
    fn gnu_credential_matrix() {
        // USER: login group and its group list
        let c = creds(Some("student"), None).unwrap();
        assert_eq!((c.uid, c.gid), (Some(1234), Some(1234)));
        assert_eq!(c.groups, Some(vec![1234, 1235]));
        // USER:GROUP: that group, USER's supplementary list with it
        let c = creds(Some("student:lab"), None).unwrap();
        assert_eq!((c.uid, c.gid), (Some(1234), Some(1235)));
        assert_eq!(c.groups, Some(vec![1235, 1235]));
        // :GROUP keeps uid and supplementary groups
        let c = creds(Some(":lab"), None).unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (None, Some(1235), None));
        // --groups replaces; with a uid the login group still comes from passwd
        let c = creds(Some("student"), Some("root")).unwrap();
        assert_eq!((c.uid, c.gid), (Some(1234), Some(1234)));
        assert_eq!(c.groups, Some(vec![0]));
        // --groups= clears
        let c = creds(None, Some("")).unwrap();
        assert_eq!(c.groups, Some(vec![]));
        // numeric uid with group: no passwd entry needed, empty supplementary list
        let c = creds(Some("4321:4321"), None).unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups),
            (Some(4321), Some(4321), Some(vec![]))
        );
        // numeric uid without group: GNU's error
        assert!(matches!(
            creds(Some("4321"), None),
            Err(Error::UnknownUid(4321))
        ));
        // no userspec, no groups: nothing changes
        assert_eq!(creds(None, None).unwrap(), Creds::default());
    }
}
