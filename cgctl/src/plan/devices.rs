//! devices: `--devices container|all|none` and `--allow-device RULE` make one policy;
//! v1 writes it to `devices.deny`/`devices.allow` (with the old list to restore), v2
//! attaches it as an eBPF program (see `filter`).

use super::Action;
use crate::devices::{Base, CONTAINER, Policy};
use crate::error::Error;
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::Target;

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let mut base: Option<Base> = None;
    let mut extra = Vec::new();
    for r in reqs {
        match &r.knob {
            Knob::Devices(b) => base = Some(*b),
            Knob::AllowDevice(rule) => extra.push(*rule),
            _ => {}
        }
    }
    // (check has refused --devices all with --allow-device)
    let policy = match base {
        Some(Base::All) => Policy::All,
        Some(Base::Container) => {
            let mut l = CONTAINER.to_vec();
            l.extend(extra);
            Policy::List(l)
        }
        Some(Base::None) | None => Policy::List(extra),
    };
    let (version, dir) = target.home("devices")?;
    let restore = match version {
        // What devices.list shows: "a *:* rwm" when everything is allowed, else the
        // exceptions to "deny all".
        Version::V1 => sys::read(&dir.join("devices.list"))
            .ok()
            .map(|t| t.lines().map(str::to_owned).collect()),
        Version::V2 => None,
    };
    out.push(Action::Devices {
        dir,
        version,
        policy,
        restore,
    });
    Ok(())
}

/// The v1 writes of a policy, in order: (file, value).
pub fn v1_writes(policy: &Policy) -> Vec<(&'static str, String)> {
    match policy {
        Policy::All => vec![("devices.allow", "a".to_owned())],
        Policy::List(rules) => std::iter::once(("devices.deny", "a".to_owned()))
            .chain(rules.iter().map(|r| ("devices.allow", r.to_string())))
            .collect(),
    }
}

/// The v1 writes that put back a `devices.list` as read before.
pub fn v1_restore(list: &[String]) -> Vec<(&'static str, String)> {
    if list.iter().any(|l| l.trim() == "a *:* rwm") {
        return vec![("devices.allow", "a".to_owned())];
    }
    std::iter::once(("devices.deny", "a".to_owned()))
        .chain(
            list.iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| ("devices.allow", l.trim().to_owned())),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fake, fake_v2, reqs};

    #[test]
    fn v1_lists_deny_everything_then_allow_each_rule() {
        let f = fake();
        let t = f.target();
        let plan = crate::plan::plan(
            &reqs(&[("devices", "container"), ("allow-device", "c 10:200 rwm")]),
            &t,
        )
        .unwrap();
        let [
            Action::Devices {
                policy,
                version,
                restore,
                ..
            },
        ] = &plan[..]
        else {
            panic!("{plan:?}")
        };
        assert_eq!(*version, Version::V1);
        assert_eq!(restore.as_deref(), Some(&["a *:* rwm".to_owned()][..]));
        let w = v1_writes(policy);
        assert_eq!(w[0], ("devices.deny", "a".to_owned()));
        assert_eq!(w[1], ("devices.allow", "c *:* m".to_owned()));
        assert_eq!(w[3], ("devices.allow", "c 1:3 rwm".to_owned()));
        assert_eq!(
            w.last().unwrap(),
            &("devices.allow", "c 10:200 rwm".to_owned())
        );
        assert_eq!(v1_writes(&Policy::All), [("devices.allow", "a".to_owned())]);
        assert_eq!(
            v1_restore(&["c 1:3 rwm".to_owned()]),
            [
                ("devices.deny", "a".to_owned()),
                ("devices.allow", "c 1:3 rwm".to_owned())
            ]
        );
        let e = crate::plan::plan(
            &reqs(&[("devices", "all"), ("allow-device", "c 1:3 r")]),
            &t,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("--allow-device adds to a list"),
            "{e}"
        );
        // --allow-device alone: only that device.
        let plan = crate::plan::plan(&reqs(&[("allow-device", "c 1:3 rw")]), &t).unwrap();
        assert!(
            matches!(&plan[0], Action::Devices { policy: Policy::List(l), .. } if l.len() == 1)
        );
    }

    #[test]
    fn v2_lists_become_a_program_on_the_unified_group() {
        let f = fake_v2();
        let plan = crate::plan::plan(&reqs(&[("devices", "none")]), &f.target()).unwrap();
        assert!(matches!(
            &plan[..],
            [Action::Devices { version: Version::V2, policy: Policy::List(l), restore: None, .. }] if l.is_empty()
        ));
    }
}
