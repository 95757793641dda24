//! memory: the hard and soft limits, swap (v1 memsw = memory + swap, written in the
//! order that keeps memsw ≥ memory at every instant), v2's `memory.high`/`min`, and
//! on v2 a reclaim step before a limit below the usage.

use common::units::Limit;

use super::{Action, invalid, write, write_restore};
use crate::convert;
use crate::error::Error;
use crate::files::{self, read_limit, read_u64};
use crate::keys::{Knob, Origin, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::Target;

/// ≤ with `max` as infinity.
fn le(a: Limit, b: Limit) -> bool {
    match (a, b) {
        (_, Limit::Max) => true,
        (Limit::Max, Limit::Bytes(_)) => false,
        (Limit::Bytes(x), Limit::Bytes(y)) => x <= y,
    }
}

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let (ver, dir) = target.home("memory")?;
    let mut memory: Option<(&Request, Limit, Origin)> = None;
    let mut swap: Option<(&Request, Limit)> = None;
    let mut memsw: Option<(&Request, Limit)> = None;
    for r in reqs {
        match &r.knob {
            Knob::Memory(l, o) => memory = Some((r, *l, *o)),
            Knob::Swap(l) => {
                swap = Some((r, *l));
                memsw = None;
            }
            Knob::MemSw(l) => {
                memsw = Some((r, *l));
                swap = None;
            }
            Knob::MemorySoft(l) => out.push(write(
                dir.join(files::of(ver).memory_soft),
                match ver {
                    Version::V1 => convert::v1_limit_text(*l),
                    Version::V2 => l.to_string(),
                },
            )),
            Knob::MemoryHigh(l) | Knob::MemoryMin(l) => {
                let file = if matches!(r.knob, Knob::MemoryHigh(_)) {
                    "memory.high"
                } else {
                    "memory.min"
                };
                // (check has refused them on v1)
                out.push(write(dir.join(file), l.to_string()));
            }
            _ => {}
        }
    }
    let swap_unavailable = |file: &str| Error::Unavailable {
        what: "a swap limit".to_owned(),
        name: target.group.name.clone(),
        why: format!("{file} does not exist (swap accounting is off: boot with swapaccount=1)"),
    };
    match ver {
        Version::V2 => {
            let new_mem = memory.map(|(_, l, _)| l);
            let swap_target = match (swap, memsw) {
                (Some((_, s)), _) => Some(s),
                (None, Some((r, ms))) => {
                    let mem = match new_mem {
                        Some(m) => m,
                        None => read_limit(&dir.join(files::V2.memory_limit), ver)?,
                    };
                    Some(convert::memsw_to_swap(ms, mem).map_err(|e| invalid(r, e.to_string()))?)
                }
                _ => None,
            };
            if let Some(s) = swap_target {
                let p = dir.join(files::V2.swap_limit);
                if !sys::exists(&p) {
                    return Err(swap_unavailable(files::V2.swap_limit));
                }
                out.push(write(p, s.to_string()));
            }
            if let Some((_, l, origin)) = memory {
                if let (Limit::Bytes(limit), true) = (l, origin != Origin::V2) {
                    let reclaim = dir.join("memory.reclaim");
                    if let (Ok(usage), true) = (
                        read_u64(&dir.join(files::V2.memory_current)),
                        sys::exists(&reclaim),
                    ) && usage > limit
                    {
                        out.push(Action::Reclaim {
                            path: reclaim,
                            amount: usage - limit,
                            limit,
                            usage,
                        });
                    }
                }
                out.push(write(dir.join(files::V2.memory_limit), l.to_string()));
            }
        }
        Version::V1 => {
            let lim_p = dir.join(files::V1.memory_limit);
            let sw_p = dir.join(files::V1.swap_limit);
            let has_memsw = sys::exists(&sw_p);
            let l0 = read_limit(&lim_p, ver)?;
            let m0 = if has_memsw {
                Some(read_limit(&sw_p, ver)?)
            } else {
                None
            };
            let l1 = memory.map_or(l0, |(_, l, _)| l);
            let m1 = match (swap, memsw) {
                (_, Some((_, ms))) => Some(ms),
                (Some((r, s)), None) => {
                    Some(convert::swap_to_memsw(s, l1).map_err(|e| invalid(r, e.to_string()))?)
                }
                (None, None) => match (memory, m0) {
                    // Keep the swap allowance as it was (v2's memory.max leaves
                    // memory.swap.max alone), unless a raw v1 key asked for the file only.
                    // (memsw ≥ memory in the kernel, so a finite memsw has a finite limit.)
                    (Some((_, l, o)), Some(Limit::Bytes(ms))) if o != Origin::V1 => {
                        let old = match l0 {
                            Limit::Bytes(old) => old.min(ms),
                            Limit::Max => ms,
                        };
                        Some(match l {
                            Limit::Max => Limit::Max,
                            Limit::Bytes(n) => Limit::Bytes(n.saturating_add(ms - old)),
                        })
                    }
                    _ => None,
                },
            };
            if m1.is_some() && !has_memsw {
                return Err(swap_unavailable(files::V1.swap_limit));
            }
            if let Some(m) = m1
                && !le(l1, m)
            {
                let r = memsw
                    .map(|(r, _)| r)
                    .or(swap.map(|(r, _)| r))
                    .or(memory.map(|(r, ..)| r));
                if let Some(r) = r {
                    return Err(invalid(r, convert::SwapError::BelowMemory.to_string()));
                }
            }
            let lim_w = memory.map(|(_, l, _)| {
                write_restore(
                    lim_p.clone(),
                    convert::v1_limit_text(l),
                    Some(convert::v1_limit_text(l0)),
                )
            });
            let sw_w = m1.map(|m| {
                write_restore(
                    sw_p.clone(),
                    convert::v1_limit_text(m),
                    m0.map(convert::v1_limit_text),
                )
            });
            match (lim_w, sw_w) {
                (Some(a), Some(b)) => {
                    // memsw ≥ memory at every instant: lower the limit first unless it
                    // rises above the current memsw.
                    if le(l1, m0.unwrap_or(Limit::Max)) {
                        out.extend([a, b]);
                    } else {
                        out.extend([b, a]);
                    }
                }
                (Some(a), None) | (None, Some(a)) => out.push(a),
                (None, None) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::test_support::{fake, pairs, planned};
    use std::fs;

    #[test]
    fn v1_memsw_write_order_follows_the_direction() {
        let f = fake();
        let g = f.group.dir(2).unwrap().to_path_buf();
        fs::write(g.join("memory.limit_in_bytes"), "268435456\n").unwrap();
        fs::write(g.join("memory.memsw.limit_in_bytes"), "402653184\n").unwrap();
        // Raising above the current memsw (384M): memsw first.
        assert_eq!(
            planned(&f, &[("memory", "512M"), ("swap", "128M")]).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "671088640"),
                ("memory.limit_in_bytes", "536870912"),
            ])
        );
        // Lowering: the limit first.
        assert_eq!(
            planned(&f, &[("memory", "128M"), ("swap", "0")]).unwrap(),
            pairs(&[
                ("memory.limit_in_bytes", "134217728"),
                ("memory.memsw.limit_in_bytes", "134217728"),
            ])
        );
        // --memory alone keeps the swap allowance (128M), as v2 would.
        assert_eq!(
            planned(&f, &[("memory", "1G")]).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "1207959552"),
                ("memory.limit_in_bytes", "1073741824"),
            ])
        );
        // The raw v1 key writes that file only.
        assert_eq!(
            planned(&f, &[("memory.limit_in_bytes", "300M")]).unwrap(),
            pairs(&[("memory.limit_in_bytes", "314572800")])
        );
        // v2's memory.swap.max on v1 is memsw = memory + swap.
        assert_eq!(
            planned(&f, &[("memory.swap.max", "64M")]).unwrap(),
            pairs(&[("memory.memsw.limit_in_bytes", "335544320")])
        );
        let e = planned(&f, &[("memory", "max"), ("swap", "1G")]).unwrap_err();
        assert!(e.to_string().contains("needs a memory limit"), "{e}");
        let e = planned(&f, &[("memory.high", "1G")]).unwrap_err();
        assert!(matches!(e, Error::NoEquivalent { .. }), "{e:?}");
    }
}
