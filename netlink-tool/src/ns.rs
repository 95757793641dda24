//! Network namespaces: naming them (a PID, an nsfs path, or an `ip netns` name under
//! /run/netns), creating and deleting them as `ip netns add|del` does, and the one
//! netlink socket per namespace that everything else uses.
//!
//! A netlink socket belongs to the namespace it was opened in, so a socket for another
//! namespace is opened after `setns` into it, and the thread goes back at once. The
//! tool is single-threaded; `setns` happens on that one thread.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::error::{Error, sys};
use crate::nl::Sock;
use crate::sys as syscalls;

/// Where `ip netns` keeps its namespace files.
pub use common::nsfs::NETNS_DIR as NETNS_RUN_DIR;

/// Open sockets kept at most; a batch over more namespaces closes the oldest ones.
const MAX_SOCKETS: usize = 256;

/// The file a namespace argument names: all digits → /proc/PID/ns/net; with a `/` → that
/// path; otherwise /run/netns/NAME.
pub fn ns_path(spec: &str) -> PathBuf {
    common::nsfs::netns_path(std::ffi::OsStr::new(spec), false)
}

/// Check a name for `netns add|del`: a plain file name.
pub fn check_netns_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(char::is_whitespace)
    {
        return Err(Error::Invalid(crate::parse::Invalid {
            kind: "namespace name",
            value: name.to_owned(),
            why: "must be a plain file name (no '/', no spaces)".to_owned(),
        }));
    }
    Ok(())
}

/// An open network namespace.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    /// (device, inode) of the nsfs file: the namespace's identity.
    pub id: (u64, u64),
    /// How the user named it (for messages and the trace).
    pub label: String,
}

impl NetNs {
    /// Open the namespace a user named, checking that it is one: nothing is sent to the
    /// kernel for an unknown namespace.
    pub fn open(spec: &str) -> Result<NetNs, Error> {
        let path = ns_path(spec);
        let unknown = |why: String| Error::UnknownNetns {
            spec: spec.to_owned(),
            why,
        };
        let fd = syscalls::open_ns(&path).map_err(|e| match e {
            Errno::ENOENT | Errno::ENOTDIR => {
                if spec.bytes().all(|b| b.is_ascii_digit()) {
                    unknown(format!("does not exist (no process {spec})"))
                } else {
                    unknown(format!("does not exist (no {})", path.display()))
                }
            }
            e => unknown(format!(
                "cannot be opened ({}): {}",
                path.display(),
                e.desc()
            )),
        })?;
        match syscalls::ns_type(fd.as_fd()) {
            Ok(t) if t == libc::CLONE_NEWNET => {}
            Ok(_) => {
                return Err(unknown(format!(
                    "is not a network namespace ({})",
                    path.display()
                )));
            }
            Err(_) => {
                return Err(unknown(format!(
                    "is not a namespace file ({} is not on nsfs; is it mounted?)",
                    path.display()
                )));
            }
        }
        let id = syscalls::ns_id(fd.as_fd()).map_err(sys(format!("fstat {}", path.display())))?;
        Ok(NetNs {
            fd,
            id,
            label: spec.to_owned(),
        })
    }

    /// The namespace of this thread.
    pub fn current() -> Result<NetNs, Error> {
        let path = Path::new("/proc/thread-self/ns/net");
        let fd = syscalls::open_ns(path).map_err(sys("open /proc/thread-self/ns/net"))?;
        let id = syscalls::ns_id(fd.as_fd()).map_err(sys("fstat /proc/thread-self/ns/net"))?;
        Ok(NetNs {
            fd,
            id,
            label: "(current)".to_owned(),
        })
    }

    /// The raw fd, for IFLA_NET_NS_FD.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The inode (the number `ip netns identify` and `lsns` show).
    pub fn inode(&self) -> u64 {
        self.id.1
    }
}

/// The namespaces the tool works in: the one it started in ("home"), the one playing the
/// host (`-n`, or home), and one netlink socket per namespace, kept for the whole run
/// (a batch reuses them).
#[derive(Debug)]
pub struct Net {
    home: NetNs,
    /// The host side: `-n NS` or the namespace the tool runs in.
    pub host: NetNs,
    sockets: HashMap<(u64, u64), Sock>,
    order: Vec<(u64, u64)>,
}

impl Net {
    /// Start in the current namespace; `host` is `-n`'s namespace, if given.
    pub fn new(host: Option<&str>) -> Result<Net, Error> {
        let home = NetNs::current()?;
        let host = match host {
            Some(spec) => NetNs::open(spec)?,
            None => NetNs::current()?,
        };
        Ok(Net {
            home,
            host,
            sockets: HashMap::new(),
            order: Vec::new(),
        })
    }

    /// Replace the host namespace (a batch line's own `-n`).
    pub fn set_host(&mut self, spec: Option<&str>) -> Result<(), Error> {
        self.host = match spec {
            Some(s) => NetNs::open(s)?,
            None => NetNs::current()?,
        };
        Ok(())
    }

    /// Run `f` with this thread inside the host namespace, and come back (also when `f`
    /// fails).
    pub fn inside_host<T>(&self, f: impl FnOnce() -> T) -> Result<T, Error> {
        enter(&self.home, &self.host, f)
    }

    /// The rtnetlink socket for `ns` (opened on first use).
    pub fn route(&mut self, ns: &NetNs) -> Result<&mut Sock, Error> {
        if !self.sockets.contains_key(&ns.id) {
            let s = open_sock(
                &self.home,
                ns,
                netlink_sys::constants::NETLINK_ROUTE,
                "NETLINK_ROUTE",
            )?;
            self.keep(ns.id, s);
        }
        Ok(self.sockets.get_mut(&ns.id).expect("kept"))
    }

    /// The rtnetlink socket for the host namespace.
    pub fn route_host(&mut self) -> Result<&mut Sock, Error> {
        let key = self.host.id;
        if !self.sockets.contains_key(&key) {
            let s = open_sock(
                &self.home,
                &self.host,
                netlink_sys::constants::NETLINK_ROUTE,
                "NETLINK_ROUTE",
            )?;
            self.keep(key, s);
        }
        Ok(self.sockets.get_mut(&key).expect("kept"))
    }

    /// A fresh nftables socket in the host namespace (not cached: NAT commands are rare).
    pub fn netfilter_host(&self) -> Result<Sock, Error> {
        open_sock(
            &self.home,
            &self.host,
            netlink_sys::constants::NETLINK_NETFILTER,
            "NETLINK_NETFILTER",
        )
    }

    /// Close the socket kept for `ns`, if any.
    pub fn forget(&mut self, ns: &NetNs) {
        if self.sockets.remove(&ns.id).is_some() {
            self.order.retain(|k| *k != ns.id);
        }
    }

    fn keep(&mut self, key: (u64, u64), s: Sock) {
        if self.sockets.len() >= MAX_SOCKETS {
            // Close the oldest half, except the host's.
            let host = self.host.id;
            let old: Vec<_> = self.order.drain(..MAX_SOCKETS / 2).collect();
            for k in old {
                if k == host {
                    self.order.push(k);
                } else {
                    self.sockets.remove(&k);
                }
            }
        }
        self.sockets.insert(key, s);
        self.order.push(key);
    }
}

/// Run `f` with this thread inside `ns`, then go back to `home`.
fn enter<T>(home: &NetNs, ns: &NetNs, f: impl FnOnce() -> T) -> Result<T, Error> {
    if ns.id == home.id {
        return Ok(f());
    }
    syscalls::setns_net(ns.fd.as_fd(), &ns.label)
        .map_err(sys(format!("enter network namespace '{}'", ns.label)))?;
    let out = f();
    // Coming back cannot fail for a namespace we were in a moment ago; if it does,
    // nothing after it would be safe, so it is an error.
    syscalls::setns_net(home.fd.as_fd(), "home")
        .map_err(sys("return to the original network namespace"))?;
    Ok(out)
}

/// A netlink socket of `proto` opened inside `ns`.
fn open_sock(home: &NetNs, ns: &NetNs, proto: isize, name: &str) -> Result<Sock, Error> {
    let label = ns.label.clone();
    let s = enter(home, ns, || syscalls::netlink_socket(proto, name, &label))?.map_err(|e| {
        Error::Sys {
            context: format!("open a {name} socket in '{label}'"),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    })?;
    Ok(Sock::new(s, label))
}

/// `netns add NAME`: a new network namespace kept alive by a bind mount on
/// /run/netns/NAME, as `ip netns add` makes it (the directory is made a shared mount
/// first, so the file shows in other mount namespaces too). The thread comes back to
/// its own namespace afterwards.
pub fn add(net: &Net, name: &str) -> Result<(), Error> {
    check_netns_name(name)?;
    let dir = Path::new(NETNS_RUN_DIR);
    syscalls::mkdir_p(dir).map_err(sys(format!("create {NETNS_RUN_DIR}")))?;
    // Make /run/netns a shared mount point (a bind on itself the first time).
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if let Err(Errno::EINVAL) = syscalls::mount(Path::new("none"), dir, shared, "MS_SHARED|MS_REC")
    {
        syscalls::mount(
            dir,
            dir,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            "MS_BIND|MS_REC",
        )
        .map_err(sys(format!("bind {NETNS_RUN_DIR} on itself")))?;
        syscalls::mount(Path::new("none"), dir, shared, "MS_SHARED|MS_REC")
            .map_err(sys(format!("make {NETNS_RUN_DIR} shared")))?;
    }
    let path = dir.join(name);
    syscalls::create_excl(&path).map_err(|e| {
        if e == Errno::EEXIST {
            Error::Refused(format!(
                "netns add {name}: {} already exists",
                path.display()
            ))
        } else {
            sys(format!("netns add {name}: create {}", path.display()))(e)
        }
    })?;
    let made = (|| {
        syscalls::unshare_net().map_err(sys(format!("netns add {name}: unshare")))?;
        let r = syscalls::mount(
            Path::new("/proc/thread-self/ns/net"),
            &path,
            MsFlags::MS_BIND,
            "MS_BIND",
        )
        .map_err(sys(format!(
            "netns add {name}: bind mount on {}",
            path.display()
        )));
        // Back home whatever happened.
        syscalls::setns_net(net.home.fd.as_fd(), "home")
            .map_err(sys("return to the original network namespace"))?;
        r
    })();
    if made.is_err() {
        let _ = syscalls::unlink(&path);
    }
    made
}

/// `netns del NAME`: detach the bind mount and remove the file. The namespace dies
/// when its last user goes (its virtual links with it, asynchronously). A socket this
/// process keeps in it is one such user: it is closed first, so that in a batch the
/// namespace (and the host ends of its veths) go now, not when the batch ends.
pub fn del(net: &mut Net, name: &str) -> Result<(), Error> {
    check_netns_name(name)?;
    let path = Path::new(NETNS_RUN_DIR).join(name);
    if !path.exists() {
        return Err(Error::UnknownNetns {
            spec: name.to_owned(),
            why: format!("does not exist (no {})", path.display()),
        });
    }
    if let Ok(ns) = NetNs::open(&path.to_string_lossy()) {
        net.forget(&ns);
    }
    match syscalls::umount_detach(&path) {
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(e) => {
            return Err(sys(format!("netns del {name}: umount {}", path.display()))(
                e,
            ));
        }
    }
    syscalls::unlink(&path).map_err(sys(format!("netns del {name}: unlink {}", path.display())))
}

/// The names under /run/netns of the namespaces the host namespace has ids for, as
/// (id, name), in directory order (as `ip` resolves `link-netns`).
pub fn nsid_names(net: &mut Net) -> Result<Vec<(i32, String)>, Error> {
    let Ok(rd) = std::fs::read_dir(NETNS_RUN_DIR) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ns) = NetNs::open(&e.path().to_string_lossy()) else {
            continue;
        };
        let sock = net.route_host()?;
        if let Ok(Some(id)) = crate::ops::nsid(sock, ns.raw_fd()) {
            out.push((id, name));
        }
    }
    Ok(out)
}

/// `netns list`: the names under /run/netns, sorted.
pub fn list() -> Result<Vec<String>, Error> {
    let dir = Path::new(NETNS_RUN_DIR);
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::File {
                context: "cannot read",
                path: dir.to_owned(),
                source: e,
            });
        }
    };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_arguments() {
        assert_eq!(ns_path("1234"), Path::new("/proc/1234/ns/net"));
        assert_eq!(ns_path("/run/netns/x"), Path::new("/run/netns/x"));
        assert_eq!(ns_path("./x"), Path::new("./x"));
        assert_eq!(ns_path("ctn01"), Path::new("/run/netns/ctn01"));
        assert!(check_netns_name("a/b").is_err());
        assert!(check_netns_name("..").is_err());
        assert!(check_netns_name("a b").is_err());
        assert!(check_netns_name("ctn-01").is_ok());
    }

    #[test]
    fn unknown_namespaces_are_refused() {
        let e = NetNs::open("no-such-ns-for-netlink-tool-test").unwrap_err();
        assert_eq!(
            e.to_string(),
            "network namespace 'no-such-ns-for-netlink-tool-test' does not exist (no /run/netns/no-such-ns-for-netlink-tool-test)"
        );
        let e = NetNs::open("/proc/self/ns/uts").unwrap_err();
        assert_eq!(
            e.to_string(),
            "network namespace '/proc/self/ns/uts' is not a network namespace (/proc/self/ns/uts)"
        );
        let e = NetNs::open("/etc/hostname").unwrap_err();
        assert!(e.to_string().contains("is not a namespace file"), "{e}");
        let e = NetNs::open("999999999").unwrap_err();
        assert!(e.to_string().contains("no process 999999999"), "{e}");
        let me = NetNs::open("/proc/self/ns/net").unwrap();
        assert_eq!(me.id, NetNs::current().unwrap().id);
    }
}
