//! seccomp filters, assembled here in classic BPF (no libseccomp, no compiler): a list
//! of system calls refused with an errno, everything else allowed. chroot-rs installs the
//! container profile last before exec; nsenter-rs installs the same one when it attaches
//! to a container whose init runs under a filter, so both stay confined alike.
//!
//! The program, for the architecture this binary is built for:
//!
//! ```text
//! ld  [arch]          ; seccomp_data.arch
//! jeq AUDIT_ARCH, 1, 0
//! ret ERRNO(EPERM)    ; another ABI (i386 entry points on x86_64): refused
//! ld  [nr]            ; seccomp_data.nr
//! jge X32_BIT, 0, 1   ; x86_64 only: the x32 ABI numbers, refused
//! ret ERRNO(EPERM)
//! jeq NR_1, 0, 1
//! ret ERRNO(e_1)
//! …
//! ret ALLOW
//! ```
//!
//! A seccomp filter cannot read memory behind a pointer: it cannot tell a `mount` of a
//! new cgroup v1 hierarchy from any other mount (only a user namespace, in which the
//! kernel refuses to bind a new controller hierarchy, stops that).

use std::fmt;

use nix::errno::Errno;

use crate::trace;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_JMP: u16 = 0x05;
const BPF_JEQ: u16 = 0x10;
const BPF_JGE: u16 = 0x30;
const BPF_K: u16 = 0x00;
const BPF_RET: u16 = 0x06;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
/// x86_64's x32 ABI sets this bit in the syscall number.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// A system call refused, by name (for the trace) and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The name, as in `man 2`.
    pub name: &'static str,
    /// The number on this architecture.
    pub nr: i64,
    /// The errno the caller gets.
    pub errno: Errno,
}

/// A filter: the calls it refuses, everything else allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    refused: Vec<Refused>,
}

macro_rules! refuse {
    ($errno:expr; $($name:ident),* $(,)?) => {
        [$(Refused { name: stringify!($name), nr: libc::$name, errno: $errno }),*]
    };
}

impl Filter {
    /// The container profile: what LXC's and Docker's default profiles refuse, and the
    /// calls that reach the host's kernel state from a privileged container.
    ///
    /// - EPERM: `open_by_handle_at` (reads any host file by handle with
    ///   CAP_DAC_READ_SEARCH), `kexec_load`, `kexec_file_load`, `init_module`,
    ///   `finit_module`, `delete_module`, `bpf`, `perf_event_open`, `userfaultfd`,
    ///   `swapon`, `swapoff`, `acct`, the old `_sysctl`, `syslog` (the host's kernel
    ///   log, which `dmesg_restrict=0` would let anyone read);
    /// - ENOSYS: `keyctl`, `add_key`, `request_key` (the kernel keyring is not
    ///   namespaced; systemd and others treat ENOSYS as "no keyring" and carry on, as
    ///   under LXC's profile).
    pub fn container() -> Filter {
        let mut refused = Vec::new();
        refused.extend(refuse!(Errno::EPERM;
            SYS_open_by_handle_at, SYS_kexec_load, SYS_kexec_file_load, SYS_init_module,
            SYS_finit_module, SYS_delete_module, SYS_bpf, SYS_perf_event_open,
            SYS_userfaultfd, SYS_swapon, SYS_swapoff, SYS_acct, SYS_syslog,
        ));
        #[cfg(target_arch = "x86_64")]
        refused.extend(refuse!(Errno::EPERM; SYS__sysctl));
        refused.extend(refuse!(Errno::ENOSYS; SYS_keyctl, SYS_add_key, SYS_request_key));
        Filter { refused }
    }

    /// A filter refusing exactly `calls` (tests, and callers with their own list).
    pub fn refusing(calls: &[Refused]) -> Filter {
        Filter {
            refused: calls.to_vec(),
        }
    }

    /// The calls refused.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// The BPF program.
    pub fn program(&self) -> Vec<Insn> {
        let errno = |e: Errno| SECCOMP_RET_ERRNO | (e as u32 & 0xffff);
        let mut p = vec![
            stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH),
            jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
            stmt(BPF_RET | BPF_K, errno(Errno::EPERM)),
            stmt(BPF_LD | BPF_W | BPF_ABS, OFF_NR),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            p.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
            p.push(stmt(BPF_RET | BPF_K, errno(Errno::EPERM)));
        }
        for r in &self.refused {
            p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, r.nr as u32, 0, 1));
            p.push(stmt(BPF_RET | BPF_K, errno(r.errno)));
        }
        p.push(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        p
    }

    /// Install the filter on this thread (inherited by children and kept across exec).
    /// Needs no_new_privs or CAP_SYS_ADMIN in the current user namespace.
    pub fn install(&self) -> nix::Result<()> {
        let prog = self.program();
        let r = crate::sys::seccomp_install(&prog);
        trace::syscall(
            format_args!(
                "seccomp(SECCOMP_SET_MODE_FILTER, 0, {{len={}, refusing {self}}})",
                prog.len()
            ),
            &r,
        );
        r
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .refused
            .iter()
            .map(|r| r.name.trim_start_matches("SYS_"))
            .collect();
        f.write_str(&names.join(","))
    }
}

/// The seccomp mode of process `pid` (`Seccomp:` of /proc/PID/status): 0 none, 1
/// strict, 2 filter; `None` when it cannot be read.
pub fn mode_of(pid: i32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_checks_the_arch_then_each_call() {
        let f = Filter::refusing(&refuse!(Errno::EPERM; SYS_acct));
        let p = f.program();
        assert_eq!(p[0], stmt(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH));
        assert_eq!(p[1].k, AUDIT_ARCH);
        let last = p[p.len() - 1];
        assert_eq!(last, stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        let jeq = p[p.len() - 3];
        assert_eq!(jeq.k, libc::SYS_acct as u32);
        assert_eq!(p[p.len() - 2].k, SECCOMP_RET_ERRNO | Errno::EPERM as u32);
    }

    #[test]
    fn the_container_profile_names_the_issue_list() {
        let f = Filter::container();
        let names: Vec<&str> = f.refused().iter().map(|r| r.name).collect();
        for want in [
            "SYS_open_by_handle_at",
            "SYS_kexec_load",
            "SYS_kexec_file_load",
            "SYS_init_module",
            "SYS_finit_module",
            "SYS_delete_module",
            "SYS_bpf",
            "SYS_perf_event_open",
            "SYS_keyctl",
            "SYS_add_key",
            "SYS_request_key",
            "SYS_userfaultfd",
            "SYS_swapon",
            "SYS_swapoff",
            "SYS_acct",
        ] {
            assert!(names.contains(&want), "{want} missing");
        }
        // Each jump skips exactly its return: the program stays within BPF's limits.
        assert!(f.program().len() < 4096);
    }

    #[test]
    fn own_mode_is_readable() {
        assert!(mode_of(std::process::id().cast_signed()).is_some());
    }
}
