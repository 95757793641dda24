//! cpu: CFS bandwidth (v1 quota and period ordered so that their ratio never exceeds the
//! parent's on the way; v2 `cpu.max`), the weight on either scale, burst and idle.

use super::{Action, invalid, write, write_restore};
use crate::convert;
use crate::error::Error;
use crate::files::{self, read_bandwidth};
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::target::Target;
use crate::value::{self, CpuLimit};

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let (ver, dir) = target.home("cpu")?;
    let mut quota: Option<Option<u64>> = None;
    let mut period: Option<u64> = None;
    let mut percent: Option<(&Request, f64)> = None;
    let mut weight: Option<Knob> = None;
    for r in reqs {
        match &r.knob {
            Knob::CpuLimit(l) => match *l {
                CpuLimit::Max => {
                    quota = Some(None);
                    percent = None;
                }
                CpuLimit::Percent(p) => {
                    percent = Some((r, p));
                    quota = None;
                }
                CpuLimit::QuotaPeriod(q, p) => {
                    quota = Some(Some(q));
                    period = Some(p);
                    percent = None;
                }
            },
            Knob::CpuBandwidth(q, p) => {
                if let Some(q) = q {
                    quota = Some(*q);
                    percent = None;
                }
                if let Some(p) = p {
                    period = Some(*p);
                }
            }
            // (check has refused a weight given on both scales)
            Knob::CpuWeight(_) | Knob::CpuShares(_) => weight = Some(r.knob.clone()),
            Knob::CpuBurst(b) => out.push(write(dir.join(files::of(ver).cpu_burst), b.to_string())),
            Knob::CpuIdle(i) => out.push(write(dir.join("cpu.idle"), i.to_string())),
            _ => {}
        }
    }
    if quota.is_some() || period.is_some() || percent.is_some() {
        let (q0, p0) = read_bandwidth(ver, &dir)?;
        let p1 = period.unwrap_or(p0);
        let q1 = match percent {
            Some((r, pct)) => {
                let q = convert::percent_to_quota(pct, p1);
                if q < value::QUOTA_MIN {
                    return Err(invalid(
                        r,
                        format!(
                            "gives a quota below {} µs per {p1} µs period",
                            value::QUOTA_MIN
                        ),
                    ));
                }
                Some(q)
            }
            None => quota.unwrap_or(q0),
        };
        match ver {
            Version::V2 => out.push(write_restore(
                dir.join("cpu.max"),
                format!("{} {p1}", convert::quota_v2_text(q1)),
                Some(format!("{} {p0}", convert::quota_v2_text(q0))),
            )),
            Version::V1 => {
                let qw = write_restore(
                    dir.join("cpu.cfs_quota_us"),
                    convert::quota_v1_text(q1),
                    Some(convert::quota_v1_text(q0)),
                );
                let pw = write_restore(
                    dir.join("cpu.cfs_period_us"),
                    p1.to_string(),
                    Some(p0.to_string()),
                );
                let q_changes = q1 != q0 || quota.is_some() || percent.is_some();
                let p_changes = p1 != p0 || period.is_some();
                // The ratio quota/period must not exceed the parent's at any step:
                // a longer period first lowers it, a shorter one goes after the quota.
                let period_first = q1.is_some() && p1 >= p0;
                match (q_changes, p_changes, period_first) {
                    (true, true, true) => out.extend([pw, qw]),
                    (true, true, false) => out.extend([qw, pw]),
                    (true, false, _) => out.push(qw),
                    (false, true, _) => out.push(pw),
                    (false, false, _) => {}
                }
            }
        }
    }
    if let Some(k) = weight {
        let n = match (ver, k) {
            (Version::V2, Knob::CpuWeight(n)) | (Version::V1, Knob::CpuShares(n)) => n,
            (Version::V2, Knob::CpuShares(s)) => convert::shares_to_weight(s),
            (Version::V1, Knob::CpuWeight(w)) => convert::weight_to_shares(w),
            _ => unreachable!(),
        };
        out.push(write(dir.join(files::of(ver).cpu_weight), n.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::{fake, pairs, planned};

    #[test]
    fn v1_cfs_order_follows_the_period() {
        let f = fake();
        assert_eq!(
            planned(&f, &[("cpu-limit", "20000/50000")]).unwrap(),
            pairs(&[
                ("cpu.cfs_quota_us", "20000"),
                ("cpu.cfs_period_us", "50000"),
            ])
        );
        assert_eq!(
            planned(&f, &[("cpu.max", "max")]).unwrap(),
            pairs(&[("cpu.cfs_quota_us", "-1")])
        );
    }
}
