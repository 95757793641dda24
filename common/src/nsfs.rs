//! Namespace files: the `ip netns` names under /run/netns, and the check that a path is
//! a namespace (nsfs: a bind-mounted namespace, or /proc/PID/ns/*).
//!
//! Every tool that takes a network namespace accepts a PID, a path, or an `ip netns`
//! name; [`netns_path`] is the one rule for names.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::sys;

/// Where `ip netns` keeps its namespace files.
pub const NETNS_DIR: &str = "/run/netns";

/// The file a network namespace argument names: all digits → `/proc/PID/ns/net`; with a
/// `/` → that path; a bare name → `/run/netns/NAME`, unless `local_first` and a file of
/// that name exists in the working directory (util-linux's `nsenter --net=FILE` reads a
/// relative file; iproute2's `ip -n NAME` never does).
pub fn netns_path(spec: &OsStr, local_first: bool) -> PathBuf {
    let bytes = spec.as_encoded_bytes();
    let path = Path::new(spec);
    if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) && !local_first {
        return PathBuf::from(format!("/proc/{}/ns/net", spec.to_string_lossy()));
    }
    if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
        return path.to_owned();
    }
    if local_first && path.exists() {
        return path.to_owned();
    }
    let named = Path::new(NETNS_DIR).join(path);
    if local_first && !named.exists() {
        // Neither exists: report the name as given.
        return path.to_owned();
    }
    named
}

/// True when `path` is a namespace file (nsfs), bound or in /proc.
pub fn is_namespace(path: &Path) -> bool {
    sys::fs_magic(path).is_ok_and(|m| m == sys::NSFS_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pids_and_paths() {
        let p = |s: &str, local| netns_path(OsStr::new(s), local);
        assert_eq!(p("42", false), Path::new("/proc/42/ns/net"));
        assert_eq!(p("/run/netns/x", false), Path::new("/run/netns/x"));
        assert_eq!(p("./x", true), Path::new("./x"));
        assert_eq!(p("ctn01", false), Path::new("/run/netns/ctn01"));
        // With local_first, a name that is neither here nor in /run/netns stays as given.
        assert_eq!(
            p("no-such-netns-for-common-test", true),
            Path::new("no-such-netns-for-common-test")
        );
        assert!(is_namespace(Path::new("/proc/self/ns/net")));
        assert!(!is_namespace(Path::new("/proc/self/status")));
    }
}
