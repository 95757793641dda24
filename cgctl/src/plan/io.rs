//! io: the weight on the scale of whichever weight file the host has (BFQ or iocost),
//! and `io.max` / the v1 throttle files per device, each with the value to restore.

use common::units::Limit;

use super::{Action, write_restore};
use crate::convert::{self, IoScale};
use crate::error::Error;
use crate::files::{self, io_weight_file};
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::Target;
use crate::value::{self, IO_FIELDS, IoMax};

fn io_unavailable(target: &Target<'_>, what: &str, files: &str) -> Error {
    Error::Unavailable {
        what: what.to_owned(),
        name: target.group.name.clone(),
        why: format!("none of {files} exists (the BFQ I/O scheduler or blk-iocost provides one)"),
    }
}

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let (ver, dir) = target.home("io")?;
    let has = |f: &str| sys::exists(&dir.join(f));
    let mut limits: Vec<IoMax> = Vec::new();
    for r in reqs {
        match (&r.knob, ver) {
            (Knob::IoMax(m), _) => match limits.iter_mut().find(|l| l.dev == m.dev) {
                Some(l) => l.merge(m),
                None => limits.push(m.clone()),
            },
            (Knob::IoWeight(n) | Knob::BlkioWeight(n) | Knob::BfqWeight(n), _) => {
                let scale = match r.knob {
                    Knob::IoWeight(_) => IoScale::Io,
                    Knob::BfqWeight(_) => IoScale::Bfq,
                    _ => IoScale::Blkio,
                };
                let Some((file, to)) = io_weight_file(ver, scale, has) else {
                    let names: Vec<&str> =
                        files::of(ver).io_weights.iter().map(|(f, _)| *f).collect();
                    return Err(io_unavailable(target, "io weight", &names.join(", ")));
                };
                let w = convert::io_weight_between(*n, scale, to);
                let p = dir.join(file);
                let old = sys::read(&p).ok().and_then(|t| {
                    t.lines()
                        .find(|l| !l.contains(':'))
                        .map(|l| l.trim().to_owned())
                });
                let value = if ver == Version::V2 {
                    format!("default {w}")
                } else {
                    w.to_string()
                };
                out.push(write_restore(p, value, old));
            }
            _ => {}
        }
    }
    for m in limits {
        match ver {
            Version::V2 => {
                let p = dir.join("io.max");
                let old = sys::read(&p)
                    .ok()
                    .and_then(|t| value::io_max_file(&t).into_iter().find(|l| l.dev == m.dev));
                let mut all_max = IoMax {
                    dev: m.dev,
                    ..IoMax::default()
                };
                for (f, _) in IO_FIELDS {
                    all_max.set_field(f, Limit::Max);
                }
                let restore = old.unwrap_or(all_max).to_string();
                out.push(write_restore(p, m.to_string(), Some(restore)));
            }
            Version::V1 => {
                for (field, file) in IO_FIELDS {
                    let Some(v) = m.field(field) else { continue };
                    let p = dir.join(file);
                    let old = sys::read(&p)
                        .ok()
                        .and_then(|t| {
                            value::throttle_file(&t)
                                .into_iter()
                                .find(|(d, _)| *d == m.dev)
                                .map(|(_, n)| n)
                        })
                        .unwrap_or(0);
                    let n = match v {
                        Limit::Max => 0,
                        Limit::Bytes(n) => n,
                    };
                    out.push(write_restore(
                        p,
                        format!("{} {n}", m.dev_text()),
                        Some(format!("{} {old}", m.dev_text())),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::{fake_v2, pairs, planned};
    use std::fs;

    #[test]
    fn blkio_weight_goes_to_bfq_unchanged_where_bfq_is() {
        // runc and crun: blkio.weight → io.bfq.weight as it is; io.weight (converted)
        // only without BFQ. --io-weight keeps the io.weight scale.
        let f = fake_v2();
        let g = f.group.dir(0).unwrap();
        fs::write(g.join("io.bfq.weight"), "default 100\n").unwrap();
        assert_eq!(
            planned(&f, &[("blkio.weight", "500")]).unwrap(),
            pairs(&[("io.bfq.weight", "default 500")])
        );
        assert_eq!(
            planned(&f, &[("io-weight", "500")]).unwrap(),
            pairs(&[("io.weight", "default 500")])
        );
        let t = f.target();
        fs::write(g.join("io.bfq.weight"), "default 300\n").unwrap();
        assert_eq!(crate::get::get_key("blkio.weight", &t).unwrap().0, ["300"]);
        assert_eq!(
            crate::get::get_key("io.weight", &t).unwrap().0,
            ["default 100"]
        );
        fs::remove_file(g.join("io.bfq.weight")).unwrap();
        assert_eq!(
            planned(&f, &[("blkio.weight", "500")]).unwrap(),
            pairs(&[("io.weight", "default 4950")])
        );
    }
}
