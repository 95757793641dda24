//! `--cap-drop` and `--cap-keep`: which capabilities COMMAND may still have.
//!
//! The change is made to the bounding set (which limits what any exec can grant, root's
//! included), the inheritable set and the ambient set, before the user ID changes. A
//! command run as root then has exactly the kept capabilities (see
//! /proc/self/status: CapBnd, CapEff); a command run as another user has none, as usual.

use caps::{CapSet, Capability, CapsHashSet};

use crate::error::Error;
use crate::sys;

/// A change to the capability sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapChange {
    /// The capabilities to remove.
    drop: CapsHashSet,
}

/// Parse one capability name: `net_raw`, `NET_RAW`, `cap_net_raw` or `CAP_NET_RAW`.
pub fn parse_cap(name: &str) -> Result<Capability, Error> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<Capability>()
        .map_err(|_| Error::UnknownCapability(name.to_owned()))
}

/// Parse a comma-separated list; `all` means every capability. An empty list (`''`, `,`)
/// is refused: it would silently change nothing.
pub fn parse_list(list: &str) -> Result<CapsHashSet, Error> {
    if list.split(',').all(|s| s.trim().is_empty()) {
        return Err(Error::Usage(format!(
            "empty capability list {} (to drop every capability: --cap-drop all)",
            common::cli::quote(list)
        )));
    }
    let mut set = CapsHashSet::new();
    for item in list.split(',').filter(|s| !s.trim().is_empty()) {
        if item.trim().eq_ignore_ascii_case("all") {
            set.extend(caps::all());
        } else {
            set.insert(parse_cap(item)?);
        }
    }
    Ok(set)
}

impl CapChange {
    /// The change asked for by every `--cap-drop` and `--cap-keep` (each repeatable,
    /// their lists joined; both may be given: keep limits the set first, drop removes
    /// from what is left). `None` when neither was.
    pub fn from_options(drop: &[String], keep: &[String]) -> Result<Option<Self>, Error> {
        if drop.is_empty() && keep.is_empty() {
            return Ok(None);
        }
        let mut removed = if keep.is_empty() {
            CapsHashSet::new()
        } else {
            let mut kept = CapsHashSet::new();
            for list in keep {
                kept.extend(parse_list(list)?);
            }
            caps::all().difference(&kept).copied().collect()
        };
        for list in drop {
            removed.extend(parse_list(list)?);
        }
        Ok(Some(Self { drop: removed }))
    }

    /// The capabilities removed.
    pub fn dropped(&self) -> &CapsHashSet {
        &self.drop
    }

    /// Apply to the bounding, ambient and inheritable sets: after setgid, before setuid
    /// (dropping from the bounding set needs CAP_SETPCAP, which setuid may take away).
    pub fn apply_before_setuid(&self) -> Result<(), Error> {
        let supported = caps::runtime::thread_all_supported();
        let mut names: Vec<Capability> = self
            .drop
            .iter()
            .copied()
            .filter(|c| supported.contains(c))
            .collect();
        names.sort_by_key(Capability::index);
        let err = |e: caps::errors::CapsError| Error::Capabilities(e.to_string());
        for cap in names {
            sys::drop_bounding(cap).map_err(err)?;
        }
        sys::caps_clear_ambient().map_err(err)?;
        let inheritable = caps::read(None, CapSet::Inheritable).map_err(err)?;
        let keep: CapsHashSet = inheritable.difference(&self.drop).copied().collect();
        if keep != inheritable {
            sys::caps_set(CapSet::Inheritable, &keep).map_err(err)?;
        }
        Ok(())
    }

    /// Drop from the effective and permitted sets, after setuid (they hold CAP_SETUID
    /// until then). A setuid to a non-root user has already emptied them.
    pub fn apply_after_setuid(&self) -> Result<(), Error> {
        let err = |e: caps::errors::CapsError| Error::Capabilities(e.to_string());
        // A command that stays root gets its permitted set from the bounding set at exec;
        // drop them from this process too, so nothing before the exec keeps them.
        for set in [CapSet::Effective, CapSet::Permitted] {
            let now = caps::read(None, set).map_err(err)?;
            let left: CapsHashSet = now.difference(&self.drop).copied().collect();
            if left != now {
                sys::caps_set(set, &left).map_err(err)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_every_spelling() {
        for n in [
            "net_raw",
            "NET_RAW",
            "cap_net_raw",
            "CAP_NET_RAW",
            " net_raw ",
        ] {
            assert_eq!(parse_cap(n).unwrap(), Capability::CAP_NET_RAW, "{n}");
        }
        assert!(
            matches!(parse_cap("net_rawr"), Err(Error::UnknownCapability(n)) if n == "net_rawr")
        );
    }

    #[test]
    fn lists_and_all() {
        let s = parse_list("chown,sys_admin").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(parse_list("all").unwrap(), caps::all());
        // an empty list would change nothing without saying so
        for empty in ["", ",", " , "] {
            assert!(
                matches!(parse_list(empty), Err(Error::Usage(_))),
                "{empty:?}"
            );
        }
        assert_eq!(parse_list("chown,").unwrap().len(), 1);
        assert!(parse_list("chown,bogus").is_err());
    }

    #[test]
    fn keep_and_drop_combine() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(CapChange::from_options(&[], &[]).unwrap(), None);
        let c = CapChange::from_options(&[], &v(&["net_bind_service"]))
            .unwrap()
            .unwrap();
        assert_eq!(c.dropped().len(), caps::all().len() - 1);
        assert!(!c.dropped().contains(&Capability::CAP_NET_BIND_SERVICE));
        let c = CapChange::from_options(&v(&["chown"]), &v(&["chown,kill"]))
            .unwrap()
            .unwrap();
        assert!(c.dropped().contains(&Capability::CAP_CHOWN));
        assert!(!c.dropped().contains(&Capability::CAP_KILL));
        let c = CapChange::from_options(&v(&["all"]), &[]).unwrap().unwrap();
        assert_eq!(c.dropped(), &caps::all());
        // repeated options add up
        let c = CapChange::from_options(&v(&["chown", "kill"]), &[])
            .unwrap()
            .unwrap();
        assert_eq!(c.dropped().len(), 2);
        let c = CapChange::from_options(&[], &v(&["chown", "kill"]))
            .unwrap()
            .unwrap();
        assert_eq!(c.dropped().len(), caps::all().len() - 2);
    }
}
