//! One run of connect, disconnect or readdr: the sides, the record and where it is kept,
//! the context of its messages, and the undo stack a failure (or a stopping signal)
//! rolls back.

use netlink_packet_route::RouteNetlinkMessage as M;

use super::phys::phys_home;
use super::record::Record;
use super::sides::Sides;
use super::store::{Key, Store};
use crate::error::{Error, KernelError, kernel};
use crate::msg::{self, SetLink};
use crate::nl::Rtnl;
use crate::ops;
use crate::parse::Cidr;

/// One thing to undo when a later step fails.
#[derive(Debug)]
pub(super) enum Undo {
    /// Delete a link in the host namespace by name (a veth host end: its peer goes too;
    /// a bridge under its temporary name).
    HostLink(String),
    /// Delete a link in the host namespace by index (a bridge this run made).
    HostIndex(u32),
    /// Delete a link in the container namespace.
    ContainerLink(String),
    /// Bring the container's `lo` down again (connect brought it up).
    LoDown,
    /// Send a phys NIC back to the host as the record says it was.
    Phys { now: String },
    /// Remove an address the run added in the container (readdr).
    CtnAddr { index: u32, cidr: Cidr },
    /// Put back an address the run removed in the container (readdr).
    CtnAddrBack { index: u32, cidr: Cidr, nodad: bool },
    /// Remove a host route the run added (readdr, routed).
    HostRoute { index: u32, dest: Cidr },
    /// Put back a host route the run removed (readdr, routed).
    HostRouteBack { index: u32, dest: Cidr },
}

/// A run over one connection.
pub(super) struct Ctx<'a> {
    pub(super) sides: &'a mut dyn Sides,
    pub(super) store: &'a Store,
    pub(super) key: Key,
    pub(super) what: String,
    pub(super) undo: Vec<Undo>,
    /// The record this run keeps, once written.
    pub(super) record: Option<Record>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(sides: &'a mut dyn Sides, store: &'a Store, key: Key, what: String) -> Self {
        Ctx {
            sides,
            store,
            key,
            what,
            undo: Vec::new(),
            record: None,
        }
    }

    /// Stop here when a stopping signal arrived.
    pub(super) fn check(&mut self) -> Result<(), Error> {
        match self.sides.interrupted() {
            Some(signal) => Err(Error::Interrupted { signal }),
            None => Ok(()),
        }
    }

    /// The host's rtnetlink, for the next step (a signal stops the run here).
    pub(super) fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.check()?;
        self.sides.host()
    }

    /// The container's rtnetlink, for the next step (a signal stops the run here).
    pub(super) fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.check()?;
        self.sides.ctn()
    }

    pub(super) fn step<S: std::fmt::Display>(
        &self,
        step: S,
    ) -> impl FnOnce(KernelError) -> Error + use<S> {
        kernel(format!("{}: {step}", self.what))
    }

    /// Write the record before the first change: from here on, whatever the run makes
    /// is findable by the record, even if the run is killed.
    pub(super) fn begin(&mut self, record: Record) -> Result<(), Error> {
        self.check()?;
        self.store.write(&self.key, &record)?;
        self.record = Some(record);
        Ok(())
    }

    /// Write the record again (it learnt an index or a temporary name).
    pub(super) fn save(&mut self) -> Result<(), Error> {
        match &self.record {
            Some(r) => self.store.write(&self.key, r),
            None => Ok(()),
        }
    }

    /// The record being made (after [`Ctx::begin`]).
    pub(super) fn rec(&mut self) -> &mut Record {
        self.record.as_mut().expect("begun")
    }

    /// Undo in reverse order; failures are collected, not fatal. Signals are not
    /// checked here: a rollback runs to its end.
    pub(super) fn rollback(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some(u) = self.undo.pop() {
            let r = self.undo_one(u);
            if let Err(e) = r {
                problems.push(common::exit::message(&e));
            }
        }
        problems
    }

    fn undo_one(&mut self, u: Undo) -> Result<(), Error> {
        match u {
            Undo::HostLink(name) => self.sides.host().and_then(|s| del_by_name(s, &name)),
            Undo::HostIndex(index) => self.sides.host().and_then(|s| del_by_index(s, index)),
            Undo::ContainerLink(name) => self.sides.ctn().and_then(|s| del_by_name(s, &name)),
            Undo::LoDown => self.sides.ctn().and_then(|s| {
                let down = SetLink {
                    index: 1,
                    up: Some(false),
                    ..SetLink::default()
                };
                ops::set_link(s, &down, format_args!("lo down")).map_err(kernel("lo down"))
            }),
            Undo::Phys { now } => {
                let record = self.record.clone().expect("phys has a record");
                phys_home(self, &now, &record, false)
            }
            Undo::CtnAddr { index, cidr } => self
                .sides
                .ctn()
                .and_then(|s| del_addr(s, index, &cidr).map_err(kernel(format!("del {cidr}")))),
            Undo::CtnAddrBack { index, cidr, nodad } => self.sides.ctn().and_then(|s| {
                s.request(
                    M::NewAddress(msg::addr(index, &cidr, nodad)),
                    crate::nl::CREATE_EXCL,
                    format_args!("{cidr} index {index}"),
                )
                .map_err(kernel(format!("add {cidr} back")))
            }),
            Undo::HostRoute { index, dest } => self.sides.host().and_then(|s| {
                host_route(s, index, dest, false).map_err(kernel(format!("del route {dest}")))
            }),
            Undo::HostRouteBack { index, dest } => self.sides.host().and_then(|s| {
                host_route(s, index, dest, true).map_err(kernel(format!("add route {dest} back")))
            }),
        }
    }
}

/// Delete a link by name, if it is there.
pub(super) fn del_by_name(sock: &mut dyn Rtnl, name: &str) -> Result<(), Error> {
    match ops::find_link(sock, name).map_err(kernel(format!("look up '{name}'")))? {
        Some(l) => {
            ops::del_link(sock, l.ifindex, &name).map_err(kernel(format!("delete '{name}'")))
        }
        None => Ok(()),
    }
}

/// Delete a link by index, if it is there.
fn del_by_index(sock: &mut dyn Rtnl, index: u32) -> Result<(), Error> {
    match ops::find_link_by_index(sock, index).map_err(kernel(format!("look up index {index}")))? {
        Some(l) => {
            ops::del_link(sock, index, &l.ifname).map_err(kernel(format!("delete '{}'", l.ifname)))
        }
        None => Ok(()),
    }
}

/// RTM_DELADDR of `cidr` on link `index`.
pub(super) fn del_addr(sock: &mut dyn Rtnl, index: u32, cidr: &Cidr) -> Result<(), KernelError> {
    sock.request(
        M::DelAddress(msg::addr(index, cidr, false)),
        0,
        format_args!("{cidr} index {index}"),
    )
}

/// The host route of a routed address (`/32` through the host end): add or delete.
pub(super) fn host_route(
    sock: &mut dyn Rtnl,
    index: u32,
    dest: Cidr,
    add: bool,
) -> Result<(), KernelError> {
    let r = msg::Route {
        dest: Some(dest),
        v6: dest.is_v6(),
        via: None,
        dev: Some(index),
    };
    if add {
        sock.request(
            M::NewRoute(msg::route(&r)),
            crate::nl::CREATE_EXCL,
            format_args!("{dest} dev index {index}"),
        )
    } else {
        sock.request(
            M::DelRoute(msg::route_delete(&r)),
            0,
            format_args!("{dest} dev index {index}"),
        )
    }
}

/// The host route for a routed container address: the address alone (`/32`).
pub(super) fn host_route_of(a: &Cidr) -> Cidr {
    Cidr {
        addr: a.addr,
        prefix: a.bits(),
    }
}
