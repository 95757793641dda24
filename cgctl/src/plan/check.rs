//! Refusing what no group below this parent could take, before anything is made.

use std::path::Path;

use super::invalid;
use crate::devices::Base;
use crate::error::Error;
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::{Target, effective, group_cpus};
use crate::value::CpuLimit;

/// Refuse what no group below this parent could take, reading only the parent's side:
/// CPUs or nodes the parent lacks, `--cpu-limit` beyond the CPUs, one weight on two
/// scales, an `io.max` device that does not exist, a v2-only key on v1. `create` runs it
/// before it makes anything and `set` before it enables controllers; `plan` runs it too.
pub fn check(requests: &[Request], target: &Target<'_>) -> Result<(), Error> {
    let mut new_cpus = None;
    let mut weight: Option<&Request> = None;
    for r in requests {
        match &r.knob {
            Knob::Cpus(list) | Knob::Mems(list) => {
                let what = if matches!(r.knob, Knob::Cpus(_)) {
                    new_cpus = Some(list.clone());
                    "cpus"
                } else {
                    "mems"
                };
                if let Some((ver, top, dir)) = target.place("cpuset")
                    && let Some(allowed) = effective(ver, top, dir.parent().unwrap_or(&dir), what)
                    && !list.is_subset(&allowed)
                {
                    return Err(invalid(
                        r,
                        format!("not available to the group: its parent allows {allowed}"),
                    ));
                }
            }
            Knob::CpuWeight(_) | Knob::CpuShares(_) => {
                if let Some(other) = weight
                    && std::mem::discriminant(&other.knob) != std::mem::discriminant(&r.knob)
                {
                    return Err(invalid(
                        r,
                        format!(
                            "conflicts with {} (the same knob on another scale)",
                            other.label
                        ),
                    ));
                }
                weight = Some(r);
            }
            Knob::IoMax(m)
                if target.check_devices
                    && !sys::exists(&Path::new("/sys/dev/block").join(m.dev_text())) =>
            {
                return Err(invalid(r, format!("no block device {}", m.dev_text())));
            }
            Knob::MemoryHigh(_) | Knob::MemoryMin(_)
                if target
                    .place("memory")
                    .is_some_and(|(v, ..)| v == Version::V1) =>
            {
                let high = matches!(r.knob, Knob::MemoryHigh(_));
                return Err(Error::NoEquivalent {
                    key: if high { "memory.high" } else { "memory.min" }.to_owned(),
                    version: "v1",
                    hint: Some(if high {
                        "v1 has no throttling limit; use memory or memory-soft".to_owned()
                    } else {
                        "v1 has no memory protection; memory-soft is the nearest".to_owned()
                    }),
                });
            }
            _ => {}
        }
    }
    // --devices all with --allow-device: a rule added to "everything" means nothing.
    if let Some(r) = requests
        .iter()
        .find(|r| matches!(r.knob, Knob::Devices(Base::All)))
        && requests
            .iter()
            .any(|r| matches!(r.knob, Knob::AllowDevice(_)))
    {
        return Err(invalid(
            r,
            "--allow-device adds to a list: use it with --devices container or none",
        ));
    }
    // --cpu-limit beyond the CPUs the group may use (quota/period against the CPU count
    // does not depend on the period).
    for r in requests {
        let Knob::CpuLimit(l) = r.knob else { continue };
        let share = match l {
            CpuLimit::Max => None,
            CpuLimit::Percent(p) => Some(p / 100.0),
            #[allow(clippy::cast_precision_loss)]
            CpuLimit::QuotaPeriod(q, p) => Some(q as f64 / p as f64),
        };
        if let (Some(share), Some(cpus)) = (share, new_cpus.clone().or_else(|| group_cpus(target)))
        {
            let n = cpus.len();
            #[allow(clippy::cast_precision_loss)]
            if share > n as f64 + 1e-9 {
                return Err(invalid(
                    r,
                    format!(
                        "more than the {n} CPU{} available to the group",
                        if n == 1 { "" } else { "s" }
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{Group, Parent};
    use crate::test_support::{fake, fake_layout, planned, reqs};
    use std::fs;

    #[test]
    fn cpu_limit_is_checked_against_the_cpus() {
        let f = fake();
        let e = planned(&f, &[("cpus", "0"), ("cpu-limit", "150%")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpu-limit '150%': more than the 1 CPU available to the group"
        );
        let e = planned(&f, &[("cpu-limit", "250%")]).unwrap_err();
        assert!(e.to_string().contains("more than the 2 CPUs"), "{e}");
        let e = planned(&f, &[("cpus", "0-999")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpus '0-999': not available to the group: its parent allows 0-1"
        );
        let e = planned(&f, &[("cpu-weight", "100"), ("cpu-shares", "10")]).unwrap_err();
        assert!(e.to_string().contains("conflicts with cpu-weight"), "{e}");
    }

    #[test]
    fn invalid_values_are_refused_before_the_group_exists() {
        // `create` checks against the parent's side before it makes anything: the
        // group's directory is not there yet.
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["cpuset", "cpu", "memory"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let u = t.path().join("unified");
        fs::write(u.join("cpuset.cpus.effective"), "0-1\n").unwrap();
        fs::write(u.join("cpuset.mems.effective"), "0\n").unwrap();
        // p has no cpuset controller yet: its group runs on the root's CPUs.
        fs::create_dir(u.join("p")).unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "x").unwrap();
        let t = Target {
            layout: &layout,
            group: &group,
            check_devices: false,
        };
        let e = check(&reqs(&[("cpus", "0-999")]), &t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpus '0-999': not available to the group: its parent allows 0-1"
        );
        let e = check(&reqs(&[("mems", "1")]), &t).unwrap_err();
        assert!(e.to_string().contains("its parent allows 0"), "{e}");
        let e = check(&reqs(&[("cpus", "1"), ("cpu-limit", "150%")]), &t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpu-limit '150%': more than the 1 CPU available to the group"
        );
        let e = check(&reqs(&[("cpu-limit", "250%")]), &t).unwrap_err();
        assert!(e.to_string().contains("more than the 2 CPUs"), "{e}");
        check(
            &reqs(&[("cpus", "1"), ("cpu-limit", "100%"), ("memory", "1G")]),
            &t,
        )
        .unwrap();
    }
}
