//! Every call cgctl makes to the kernel, one small function each, traced through
//! `common::trace`: level 1 (`-v`) shows what changes state (writes, mkdir, rmdir,
//! rename, chown, kill, bpf, exec), level 2 (`-vv`) adds the reads behind each decision.
//! The only `unsafe` of cgctl is here: the bpf(2) calls of the v2 device filter, each
//! under a `// SAFETY:` comment. Exec and the other shared calls are `common`'s.
//!
//! cgroup files are written with one `write(2)` of the whole value and never created:
//! a missing control file is an error (ENOENT), not a new regular file.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use common::trace;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

fn q(p: &Path) -> String {
    format!("{:?}", p.as_os_str())
}

/// Read a whole (small) file. Traced at level 2.
pub fn read(path: &Path) -> io::Result<String> {
    let mut s = String::new();
    let r = read_into(path, &mut s).map(|()| s);
    if trace::enabled(2) {
        let shown: Result<String, io::Error> = match &r {
            Ok(s) => Ok(format!("{:?}", s.trim_end())),
            Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))),
        };
        trace::syscall_at(2, format_args!("read({})", q(path)), &shown);
    }
    r
}

/// Read a whole file into `buf` (cleared first), untraced: the fast path of `list`.
pub fn read_into(path: &Path, buf: &mut String) -> io::Result<()> {
    buf.clear();
    fs::File::open(path)?.read_to_string(buf)?;
    Ok(())
}

/// Write `value` to an existing control file in one write(2). Traced at level 1.
pub fn write(path: &Path, value: &str) -> io::Result<()> {
    let r = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    trace::syscall(format_args!("write({}, {value:?})", q(path)), &r);
    r
}

/// mkdir(2) with mode 0755.
pub fn mkdir(path: &Path) -> io::Result<()> {
    let r = fs::DirBuilder::new().mode(0o755).create(path);
    trace::syscall(format_args!("mkdir({}, 0755)", q(path)), &r);
    r
}

/// rmdir(2).
pub fn rmdir(path: &Path) -> io::Result<()> {
    let r = fs::remove_dir(path);
    trace::syscall(format_args!("rmdir({})", q(path)), &r);
    r
}

/// True when `path` exists (any type). Not traced: a stat behind a decision shows
/// as the read or write that follows.
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// The names of the subdirectories of `path` (child cgroups), sorted.
pub fn subdirs(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    trace::line(
        2,
        format_args!("getdents({}) = {} subdirectories", q(path), out.len()),
    );
    Ok(out)
}

/// rename(2) of a cgroup directory within its parent (v1 only: cgroup v2 answers EPERM).
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let r = fs::rename(from, to);
    trace::syscall(format_args!("rename({}, {})", q(from), q(to)), &r);
    r
}

/// chown(2).
pub fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let r = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    trace::syscall(format_args!("chown({}, {uid}, {gid})", q(path)), &r);
    r
}

/// The owner (uid, gid) of `path`, from lstat(2). Traced at level 2.
pub fn owner(path: &Path) -> io::Result<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let r = fs::symlink_metadata(path).map(|m| (m.uid(), m.gid()));
    trace::syscall_at(
        2,
        format_args!("lstat({})", q(path)),
        &r.as_ref()
            .map(|(u, g)| format!("{{st_uid={u}, st_gid={g}}}"))
            .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))),
    );
    r
}

/// open(2) of a directory, O_RDONLY|O_DIRECTORY|O_CLOEXEC: a descriptor bpf(2) can
/// attach a program to (an O_PATH one would not do).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let r = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map(OwnedFd::from);
    trace::syscall_at(
        2,
        format_args!("open({}, O_RDONLY|O_DIRECTORY|O_CLOEXEC)", q(path)),
        &r.as_ref()
            .map(AsRawFd::as_raw_fd)
            .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))),
    );
    r
}

/// True when `pid` is a running process with the same program name as this one: the
/// owner of a staging name (`.NAME.cgctl-PID`) is still at work. A process that is gone,
/// or a reused pid now running something else, means the name was left behind.
pub fn is_cgctl(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match nix::sys::signal::kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    let comm = |p: &str| fs::read_to_string(p).map(|s| s.trim_end().to_owned());
    match (comm(&format!("/proc/{pid}/comm")), comm("/proc/self/comm")) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        // Without /proc, assume the worst: it may still be at work.
        _ => true,
    }
}

// ---------------------------------------------------------------- interruption

/// The signal that asked cgctl to stop (0: none yet).
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    let _ = INTERRUPTED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Catch SIGINT, SIGTERM and SIGHUP: instead of dying half-way, cgctl notes the signal
/// and stops at its next check ([`interrupted`]), rolling back what the run made. exec
/// resets the handlers, so a command cgctl runs gets the default actions back.
pub fn catch_interrupts() {
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let _ = common::sys::set_handler(sig, note_signal);
    }
}

/// The signal that arrived since [`catch_interrupts`], if any.
pub fn interrupted() -> Option<Signal> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

// ---------------------------------------------------------------- bpf

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`, the attach type.
const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: programs of descendants run too, and several may be attached.
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;

/// The part of `union bpf_attr` that BPF_PROG_LOAD reads (up to expected_attach_type).
#[repr(C)]
#[derive(Debug, Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// BPF_PROG_ATTACH / BPF_PROG_DETACH.
#[repr(C)]
#[derive(Debug, Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// BPF_PROG_QUERY (up to prog_cnt and its padding).
#[repr(C)]
#[derive(Debug, Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Debug, Default)]
struct GetFd {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Debug, Default)]
struct GetInfo {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// bpf(2) with `attr` of type T; the raw return value.
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct laid out as the
    // kernel's `union bpf_attr` member for `cmd` (fields in the kernel's order, padding
    // explicit), and its exact size is passed; the kernel zero-extends what it does not
    // get. Every pointer stored in it (instructions, license, id and info buffers) is
    // set by the callers below to memory that lives until this call returns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_mut(attr).cast::<libc::c_void>(),
            std::mem::size_of::<T>(),
        )
    };
    Errno::result(rc)
}

/// A descriptor the kernel just returned.
fn owned_fd(rc: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a new descriptor (≥ 0, checked by Errno::result) that
    // nothing else owns; it fits a RawFd.
    unsafe { OwnedFd::from_raw_fd(rc as RawFd) }
}

/// BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program named `name` (≤ 15 bytes)
/// from encoded instructions.
pub fn bpf_load_device_filter(insns: &[[u8; 8]], name: &str) -> Result<OwnedFd, Errno> {
    let license = c"Apache-2.0";
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoad::default()
    };
    for (d, s) in attr.prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let r = bpf(BPF_PROG_LOAD, &mut attr).map(owned_fd);
    trace::syscall(
        format_args!(
            "bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, prog_name=\"{name}\"}})",
            insns.len()
        ),
        &r.as_ref().map(AsRawFd::as_raw_fd).map_err(|e| *e),
    );
    r
}

/// BPF_PROG_ATTACH of `prog` to the cgroup `dir` (its directory, `shown` in the trace)
/// as a device filter, BPF_F_ALLOW_MULTI.
pub fn bpf_attach_device_filter(
    dir: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    shown: &Path,
) -> Result<(), Errno> {
    let mut attr = Attach {
        target_fd: fd_u32(dir),
        attach_bpf_fd: fd_u32(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Attach::default()
    };
    let r = bpf(BPF_PROG_ATTACH, &mut attr).map(drop);
    trace::syscall(
        format_args!(
            "bpf(BPF_PROG_ATTACH, {{target_fd={}, attach_bpf_fd={}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI}})",
            trace::Fd(dir.as_raw_fd(), &shown.to_string_lossy()),
            prog.as_raw_fd()
        ),
        &r,
    );
    r
}

/// BPF_PROG_DETACH of the device filter `prog` from the cgroup `dir`.
pub fn bpf_detach_device_filter(
    dir: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    shown: &Path,
) -> Result<(), Errno> {
    let mut attr = Attach {
        target_fd: fd_u32(dir),
        attach_bpf_fd: fd_u32(prog),
        attach_type: BPF_CGROUP_DEVICE,
        ..Attach::default()
    };
    let r = bpf(BPF_PROG_DETACH, &mut attr).map(drop);
    trace::syscall(
        format_args!(
            "bpf(BPF_PROG_DETACH, {{target_fd={}, attach_bpf_fd={}, attach_type=BPF_CGROUP_DEVICE}})",
            trace::Fd(dir.as_raw_fd(), &shown.to_string_lossy()),
            prog.as_raw_fd()
        ),
        &r,
    );
    r
}

/// BPF_PROG_QUERY: the ids of the device filters attached to the cgroup `dir` itself
/// (not those inherited from its ancestors). Traced at level 2.
pub fn bpf_device_filters(dir: BorrowedFd<'_>, shown: &Path) -> Result<Vec<u32>, Errno> {
    let mut ids = vec![0u32; 64];
    let mut attr = Query {
        target_fd: fd_u32(dir),
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: 64,
        ..Query::default()
    };
    let r = bpf(BPF_PROG_QUERY, &mut attr).map(|_| {
        ids.truncate(attr.prog_cnt.min(64) as usize);
        ids
    });
    trace::syscall_at(
        2,
        format_args!(
            "bpf(BPF_PROG_QUERY, {{target_fd={}, attach_type=BPF_CGROUP_DEVICE}})",
            trace::Fd(dir.as_raw_fd(), &shown.to_string_lossy())
        ),
        &r.as_ref()
            .map(|v| format!("0 ({} attached)", v.len()))
            .map_err(|e| *e),
    );
    r
}

/// BPF_PROG_GET_FD_BY_ID, then BPF_OBJ_GET_INFO_BY_FD: a descriptor of program `id`
/// and its name. Traced at level 2.
pub fn bpf_program(id: u32) -> Result<(OwnedFd, String), Errno> {
    let mut attr = GetFd {
        prog_id: id,
        ..GetFd::default()
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned_fd);
    trace::syscall_at(
        2,
        format_args!("bpf(BPF_PROG_GET_FD_BY_ID, {{prog_id={id}}})"),
        &fd.as_ref().map(AsRawFd::as_raw_fd).map_err(|e| *e),
    );
    let fd = fd?;
    // struct bpf_prog_info up to its name (bytes 64..80).
    let mut info = [0u8; 80];
    let mut attr = GetInfo {
        bpf_fd: fd_u32(fd.as_fd()),
        info_len: 80,
        info: info.as_mut_ptr() as u64,
    };
    let r = bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(|_| {
        let name = &info[64..80];
        let end = name.iter().position(|b| *b == 0).unwrap_or(16);
        String::from_utf8_lossy(&name[..end]).into_owned()
    });
    trace::syscall_at(
        2,
        format_args!("bpf(BPF_OBJ_GET_INFO_BY_FD, {{bpf_fd={}}})", fd.as_raw_fd()),
        &r.as_ref()
            .map(|n| format!("0 (name \"{n}\")"))
            .map_err(|e| *e),
    );
    Ok((fd, r?))
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    u32::try_from(fd.as_raw_fd()).unwrap_or(u32::MAX)
}

/// kill(2).
pub fn kill(pid: i32, signal: Signal) -> nix::Result<()> {
    let r = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    trace::syscall(format_args!("kill({pid}, {})", signal.as_str()), &r);
    r
}

/// This process's id.
pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// Read a gzip-compressed text file (`/proc/config.gz`). Traced at level 2.
pub fn read_gz(path: &Path) -> io::Result<String> {
    let r = fs::read(path).and_then(|b| gunzip(&b));
    trace::line(
        2,
        format_args!(
            "read({}) = {}",
            q(path),
            match &r {
                Ok(s) => format!("{} bytes unpacked", s.len()),
                Err(e) => e.to_string(),
            }
        ),
    );
    r
}

/// Decompress gzip bytes into text.
fn gunzip(bytes: &[u8]) -> io::Result<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_files_are_read_unpacked() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"CONFIG_A=y\n").unwrap();
        fs::write(&p, e.finish().unwrap()).unwrap();
        assert_eq!(read_gz(&p).unwrap(), "CONFIG_A=y\n");
        assert!(read_gz(&t.path().join("none")).is_err());
    }
}
