//! The cgroup v2 device filter of a group: cgctl's eBPF program (see `devices`) loaded
//! with BPF_PROG_LOAD and attached to the group's directory with BPF_PROG_ATTACH
//! (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI). A new list is attached before cgctl's old
//! program is detached, so the group is never without a filter on the way; `delete`
//! detaches it before the group goes. Only programs named [`PROGRAM_NAME`] are
//! cgctl's; others (a manager's above, a container's below) are left alone.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::devices::{PROGRAM_NAME, Policy, program};
use crate::error::{Cause, Error};
use crate::sys;

fn error(dir: &Path, what: &'static str, errno: Errno) -> Error {
    let hint = match (what, errno) {
        (_, Errno::ENOSYS) => Some("the kernel has no bpf(2): CONFIG_BPF_SYSCALL"),
        ("load", Errno::EINVAL) => {
            Some("the kernel lacks BPF_PROG_TYPE_CGROUP_DEVICE: CONFIG_CGROUP_BPF")
        }
        (_, Errno::EPERM) => Some("loading and attaching BPF programs needs CAP_SYS_ADMIN"),
        ("attach", Errno::EBADF | Errno::EINVAL) => {
            Some("device filters attach to cgroup v2 groups only")
        }
        _ => None,
    };
    Error::DeviceFilter {
        path: dir.to_path_buf(),
        what,
        source: Cause {
            error: std::io::Error::from_raw_os_error(errno as i32),
            hint: hint.map(str::to_owned),
        },
    }
}

/// cgctl's programs attached to the group itself.
fn ours(fd: &OwnedFd, dir: &Path) -> Result<Vec<OwnedFd>, Error> {
    let ids = sys::bpf_device_filters(fd.as_fd(), dir).map_err(|e| error(dir, "query", e))?;
    let mut out = Vec::new();
    for id in ids {
        match sys::bpf_program(id) {
            Ok((prog, name)) if name == PROGRAM_NAME => out.push(prog),
            // Detached meanwhile, or someone else's.
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(error(dir, "query", e)),
        }
    }
    Ok(out)
}

/// A filter put in place, with what it replaced: [`Installed::undo`] puts the old back.
#[derive(Debug)]
pub struct Installed {
    dir: PathBuf,
    fd: OwnedFd,
    new: Option<OwnedFd>,
    old: Vec<OwnedFd>,
}

impl Installed {
    /// Detach the new program and attach the old ones again (best effort).
    pub fn undo(&self) -> bool {
        let mut ok = true;
        for o in &self.old {
            ok &= sys::bpf_attach_device_filter(self.fd.as_fd(), o.as_fd(), &self.dir).is_ok();
        }
        if let Some(n) = &self.new {
            ok &= sys::bpf_detach_device_filter(self.fd.as_fd(), n.as_fd(), &self.dir).is_ok();
        }
        ok
    }
}

/// Give group `dir` the filter of `policy` (none for [`Policy::All`]), replacing
/// cgctl's old one. Nothing changes when a step fails.
pub fn install(dir: &Path, policy: &Policy) -> Result<Installed, Error> {
    let fd = sys::open_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let old = ours(&fd, dir)?;
    let new = match policy {
        Policy::All => None,
        Policy::List(rules) => {
            let insns: Vec<[u8; 8]> = program(rules)
                .iter()
                .map(crate::devices::Insn::encode)
                .collect();
            let prog = sys::bpf_load_device_filter(&insns, PROGRAM_NAME)
                .map_err(|e| error(dir, "load", e))?;
            sys::bpf_attach_device_filter(fd.as_fd(), prog.as_fd(), dir)
                .map_err(|e| error(dir, "attach", e))?;
            Some(prog)
        }
    };
    let installed = Installed {
        dir: dir.to_path_buf(),
        fd,
        new,
        old: Vec::new(),
    };
    let mut detached = Vec::new();
    for o in old {
        if let Err(e) = sys::bpf_detach_device_filter(installed.fd.as_fd(), o.as_fd(), dir) {
            let partial = Installed {
                old: detached,
                ..installed
            };
            partial.undo();
            return Err(error(dir, "detach", e));
        }
        detached.push(o);
    }
    Ok(Installed {
        old: detached,
        ..installed
    })
}

/// Detach cgctl's filters from group `dir` before it is removed (best effort: the
/// kernel releases what is still attached when the group goes; a kernel without cgroup
/// BPF, or a caller that may not query, has none to detach).
pub fn remove(dir: &Path) {
    let Ok(fd) = sys::open_dir(dir) else {
        return;
    };
    for p in ours(&fd, dir).unwrap_or_default() {
        let _ = sys::bpf_detach_device_filter(fd.as_fd(), p.as_fd(), dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_without_device_programs_is_named_in_one_line() {
        let e = error(Path::new("/sys/fs/cgroup/x"), "load", Errno::EINVAL);
        assert_eq!(
            common::exit::message(&e),
            "cannot load the device filter of '/sys/fs/cgroup/x': Invalid argument (the kernel \
             lacks BPF_PROG_TYPE_CGROUP_DEVICE: CONFIG_CGROUP_BPF)"
        );
        let e = error(Path::new("/x"), "attach", Errno::ENOSYS);
        assert!(
            common::exit::message(&e).ends_with("(the kernel has no bpf(2): CONFIG_BPF_SYSCALL)")
        );
    }
}
