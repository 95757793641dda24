//! One run of connect or disconnect: the sides, the context of its messages, and the
//! undo stack a failure rolls back.

use super::phys::phys_home;
use super::record::Record;
use super::sides::Sides;
use crate::error::{Error, KernelError, kernel};
use crate::msg::SetLink;
use crate::nl::Rtnl;
use crate::ops;

/// One thing to undo when a later step fails.
#[derive(Debug)]
pub(super) enum Undo {
    /// Delete a link in the host namespace (a veth host end: its peer goes too; a bridge).
    HostLink(String),
    /// Delete a link in the container namespace.
    ContainerLink(String),
    /// Bring the container's `lo` down again (connect brought it up).
    LoDown,
    /// Send a phys NIC back to the host under its original name and MTU.
    Phys { now: String, record: Record },
}

pub(super) struct Ctx<'a> {
    pub(super) sides: &'a mut dyn Sides,
    pub(super) what: String,
    pub(super) undo: Vec<Undo>,
}

impl Ctx<'_> {
    pub(super) fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.sides.host()
    }

    pub(super) fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.sides.ctn()
    }

    pub(super) fn step<S: std::fmt::Display>(
        &self,
        step: S,
    ) -> impl FnOnce(KernelError) -> Error + use<S> {
        kernel(format!("{}: {step}", self.what))
    }

    /// Undo in reverse order; failures are collected, not fatal.
    pub(super) fn rollback(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some(u) = self.undo.pop() {
            let r = match &u {
                Undo::HostLink(name) => self.host().and_then(|s| del_by_name(s, name)),
                Undo::ContainerLink(name) => self.ctn().and_then(|s| del_by_name(s, name)),
                Undo::LoDown => self.ctn().and_then(|s| {
                    let down = SetLink {
                        index: 1,
                        up: Some(false),
                        ..SetLink::default()
                    };
                    ops::set_link(s, &down, format_args!("lo down")).map_err(kernel("lo down"))
                }),
                Undo::Phys { now, record } => {
                    let (now, record) = (now.clone(), record.clone());
                    phys_home(self, &now, &record)
                }
            };
            if let Err(e) = r {
                problems.push(common::exit::message(&e));
            }
        }
        problems
    }
}

fn del_by_name(sock: &mut dyn Rtnl, name: &str) -> Result<(), Error> {
    match ops::find_link(sock, name).map_err(kernel(format!("look up '{name}'")))? {
        Some(l) => {
            ops::del_link(sock, l.ifindex, &name).map_err(kernel(format!("delete '{name}'")))
        }
        None => Ok(()),
    }
}
