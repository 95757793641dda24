//! The seam between connect and the kernel: the two namespaces it works with.

use std::os::fd::RawFd;
use std::path::PathBuf;

use nix::sys::signal::Signal;

use super::record::NsIdent;
use crate::error::{Error, sys as sys_error};
use crate::nl::Rtnl;
use crate::ns::{Net, NetNs};
use crate::sys;

/// The two namespaces connect works with, as it sees them: a conversation with each,
/// their fds (for IFLA_NET_NS_FD), their identities, the host's /proc/sys, and whether a
/// stopping signal arrived. [`Real`] is the kernel; the unit tests use a fake that also
/// injects failures and interruptions at every step.
pub trait Sides {
    /// The host side's rtnetlink.
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The container side's rtnetlink.
    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The host namespace's fd.
    fn host_fd(&self) -> RawFd;
    /// The container namespace's fd.
    fn ctn_fd(&self) -> RawFd;
    /// The host namespace's identity.
    fn host_ident(&mut self) -> Result<NsIdent, Error>;
    /// The container namespace's identity (its inode also names the default host end).
    fn ctn_ident(&mut self) -> Result<NsIdent, Error>;
    /// The host namespace as the user named it.
    fn host_label(&self) -> String;
    /// The container namespace as the user named it.
    fn ctn_label(&self) -> String;
    /// Write a sysctl of the host namespace (`net/ipv4/conf/X/proxy_arp`).
    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error>;
    /// The stopping signal that arrived (SIGINT, SIGTERM, SIGHUP), if any.
    fn interrupted(&mut self) -> Option<Signal>;
}

/// The real namespaces.
#[derive(Debug)]
pub struct Real<'a> {
    pub(super) net: &'a mut Net,
    pub(super) ctn: NetNs,
}

impl Sides for Real<'_> {
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        Ok(self.net.route_host()?)
    }

    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        Ok(self.net.route(&self.ctn)?)
    }

    fn host_fd(&self) -> RawFd {
        self.net.host.raw_fd()
    }

    fn ctn_fd(&self) -> RawFd {
        self.ctn.raw_fd()
    }

    fn host_ident(&mut self) -> Result<NsIdent, Error> {
        let (dev, ino) = self.net.host.id;
        let label = self.net.host.label.clone();
        let cookie = self
            .net
            .route_host()?
            .cookie()
            .map_err(sys_error(format!("read the cookie of '{label}'")))?;
        Ok(NsIdent { dev, ino, cookie })
    }

    fn ctn_ident(&mut self) -> Result<NsIdent, Error> {
        let (dev, ino) = self.ctn.id;
        let label = self.ctn.label.clone();
        let cookie = self
            .net
            .route(&self.ctn)?
            .cookie()
            .map_err(sys_error(format!("read the cookie of '{label}'")))?;
        Ok(NsIdent { dev, ino, cookie })
    }

    fn host_label(&self) -> String {
        self.net.host.label.clone()
    }

    fn ctn_label(&self) -> String {
        self.ctn.label.clone()
    }

    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let path = PathBuf::from(format!("/proc/sys/{key}"));
        self.net
            .inside_host(|| sys::write_sysctl(&path, value))?
            .map_err(|source| Error::File {
                context: "cannot write",
                path: path.clone(),
                source,
            })
    }

    fn interrupted(&mut self) -> Option<Signal> {
        crate::interrupt::pending()
    }
}
