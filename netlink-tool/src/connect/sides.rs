//! The seam between connect and the kernel: the two namespaces it works with.

use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::error::Error;
use crate::nl::Rtnl;
use crate::ns::{Net, NetNs};
use crate::sys;

/// The two namespaces connect works with, as it sees them: a conversation with each,
/// their fds (for IFLA_NET_NS_FD), and the host's /proc/sys. [`Real`] is the kernel; the
/// unit tests use a fake that also injects failures at every step.
pub trait Sides {
    /// The host side's rtnetlink.
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The container side's rtnetlink.
    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The host namespace's fd.
    fn host_fd(&self) -> RawFd;
    /// The container namespace's fd.
    fn ctn_fd(&self) -> RawFd;
    /// The container namespace's inode (for the default host-end name).
    fn ctn_inode(&self) -> u64;
    /// The host namespace as the user named it.
    fn host_label(&self) -> String;
    /// The container namespace as the user named it.
    fn ctn_label(&self) -> String;
    /// Write a sysctl of the host namespace (`net/ipv4/conf/X/proxy_arp`).
    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error>;
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

    fn ctn_inode(&self) -> u64 {
        self.ctn.inode()
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
}
