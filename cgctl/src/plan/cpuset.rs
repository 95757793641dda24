//! cpuset: the CPUs and memory nodes, written as given (`check` has compared them with
//! the parent's).

use super::{Action, write};
use crate::error::Error;
use crate::keys::{Knob, Request};
use crate::target::Target;

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let (_, dir) = target.home("cpuset")?;
    for r in reqs {
        let (file, list) = match &r.knob {
            Knob::Cpus(l) => ("cpus", l),
            Knob::Mems(l) => ("mems", l),
            _ => continue,
        };
        out.push(write(dir.join(format!("cpuset.{file}")), list.to_string()));
    }
    Ok(())
}
