//! Packages fetched in parallel (largest first), each verified against the signed
//! index before use, and unpacked as soon as it is verified on as many threads as there
//! are cores; then files that two packages ship are given to the one dpkg would keep.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::deb::{self, Shared, Unpacked};
use crate::error::{Error, Result, quote};
use crate::http::Http;
use crate::indexes::Cache;
use crate::progress::Progress;
use crate::release::Checksum;
use crate::{control, signals};

/// How many verified packages (open files) may wait for an unpacker.
const UNPACK_QUEUE: usize = 64;

/// One package to fetch and unpack.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub name: String,
    pub arch: String,
    pub replaces: String,
    pub url: String,
    pub dest: PathBuf,
    pub checksum: Checksum,
    pub by: String,
}

/// The file at `path`, opened and checked against `want`, rewound: what is unpacked is
/// exactly what was hashed (the same descriptor), whatever happens to the path. The file
/// is read twice (hashed, then unpacked), so only a regular file that no one but this
/// user can write is taken: nobody else could change it between the two reads (a cache
/// directory others may write to would otherwise be a way around the hash).
pub(crate) fn open_verified(path: &Path, want: &Checksum) -> Option<File> {
    use std::io::Seek as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file()
        || md.uid() != nix::unistd::geteuid().as_raw()
        || md.mode() & 0o022 != 0
        || md.len() != want.size
    {
        common::trace::line(
            1,
            format_args!(
                "{}: not taken from the cache (not our own {} bytes, or writable by others)",
                path.display(),
                want.size
            ),
        );
        return None;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !signals::interrupted() => {}
            Err(_) => return None,
        }
    }
    let d: [u8; 32] = h.finalize().into();
    let ok = d == want.sha256;
    common::trace::line(
        1,
        format_args!(
            "{}: SHA256 {}",
            path.display(),
            if ok { "ok" } else { "MISMATCH" }
        ),
    );
    f.rewind().ok()?;
    ok.then_some(f)
}

/// Download (or find in the cache) every package, in parallel, largest first; as each
/// one is verified, unpack it (when `shared` is given) on as many threads as there are
/// cores. Returns the unpacked packages in install order.
pub(crate) fn fetch_and_unpack(
    http: &Http,
    cache: &Cache,
    jobs: &[Job],
    shared: Option<&Shared>,
    arch: &str,
    njobs: usize,
    progress: &Progress,
) -> Result<Vec<Unpacked>> {
    let mut by_size: Vec<usize> = (0..jobs.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(jobs[i].checksum.size));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let fetched_bytes = AtomicU64::new(0);
    let from_cache = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Unpacked>>> = Mutex::new(vec![None; jobs.len()]);
    let fail = |e: Error| {
        stop.store(true, Ordering::SeqCst);
        let mut f = failed.lock().expect("failed");
        if f.is_none() {
            *f = Some(e);
        }
    };
    let t0 = Instant::now();
    progress.start(
        jobs.len() as u64,
        if shared.is_some() {
            "unpacking"
        } else {
            "fetching"
        },
    );
    let unpackers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let (tx, rx) = mpsc::sync_channel::<(usize, File)>(UNPACK_QUEUE);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        for _ in 0..njobs.min(jobs.len()).max(1) {
            let tx = tx.clone();
            let (next, stop, by_size, fetched_bytes, from_cache) =
                (&next, &stop, &by_size, &fetched_bytes, &from_cache);
            let fail = &fail;
            s.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) || signals::interrupted() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&j) = by_size.get(i) else { return };
                    let job = &jobs[j];
                    let r = if let Some(f) = open_verified(&job.dest, &job.checksum) {
                        from_cache.fetch_add(1, Ordering::Relaxed);
                        Ok(f)
                    } else if cache.offline {
                        Err(Error::io(
                            format!("package '{}' is not in the tarball", job.name),
                            io::Error::from_raw_os_error(libc::ENOENT),
                        ))
                    } else {
                        let _ = fs::remove_file(&job.dest);
                        http.fetch_file(&job.url, &job.dest, &job.checksum, &job.by)
                            .inspect(|_| {
                                fetched_bytes.fetch_add(job.checksum.size, Ordering::Relaxed);
                            })
                    };
                    match r {
                        // Only a package to unpack keeps its descriptor (in a bounded
                        // queue): a run that only fetches would otherwise hold one per
                        // package until the end, and run out of them.
                        Ok(f) if shared.is_some() => {
                            let _ = tx.send((j, f));
                        }
                        Ok(_) => progress.step(&job.name),
                        Err(e) => {
                            fail(e);
                            return;
                        }
                    }
                }
            });
        }
        drop(tx);
        if let Some(shared) = shared {
            for _ in 0..unpackers {
                let (rx, stop, results) = (&rx, &stop, &results);
                let fail = &fail;
                s.spawn(move || {
                    loop {
                        let msg = rx.lock().expect("rx").recv();
                        let Ok((j, file)) = msg else { return };
                        if stop.load(Ordering::SeqCst) || signals::interrupted() {
                            continue;
                        }
                        let job = &jobs[j];
                        match deb::unpack(shared, file, &job.name, j, arch, None) {
                            Ok(u) => {
                                progress.step(&job.name);
                                results.lock().expect("results")[j] = Some(u);
                            }
                            Err(e) => fail(e),
                        }
                    }
                });
            }
        }
    });
    progress.finish();
    if signals::interrupted() {
        return Err(Error::Interrupted);
    }
    if let Some(e) = failed.into_inner().expect("failed") {
        return Err(e);
    }
    let mb = fetched_bytes.load(Ordering::Relaxed) as f64 / 1e6;
    progress.phase(format_args!(
        "fetched {:.1} MB ({} of {} packages from the cache) in {:.1}s",
        mb,
        from_cache.load(Ordering::Relaxed),
        jobs.len(),
        t0.elapsed().as_secs_f64()
    ));
    if shared.is_none() {
        return Ok(Vec::new());
    }
    Ok(results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|u| u.expect("every package unpacked"))
        .collect())
}

/// Does `replaces` (a Replaces field) name `pkg`?
pub(crate) fn names(replaces: &str, pkg: &str) -> bool {
    control::parse_deps(replaces)
        .iter()
        .flatten()
        .any(|a| a.name == pkg)
}

/// The owner that keeps a file two packages ship: the one that Replaces the other, else
/// the later in install order (what `dpkg --force-overwrite` leaves).
pub(crate) fn winner(jobs: &[Job], a: usize, b: usize) -> usize {
    let a_replaces_b = names(&jobs[a].replaces, &jobs[b].name);
    let b_replaces_a = names(&jobs[b].replaces, &jobs[a].name);
    match (a_replaces_b, b_replaces_a) {
        (true, false) => a,
        (false, true) => b,
        _ => a.max(b),
    }
}

/// Re-extract files two packages ship from the package that keeps them.
pub(crate) fn resolve_conflicts(
    shared: &Shared,
    jobs: &[Job],
    arch: &str,
    progress: &Progress,
) -> Result<()> {
    let conflicts = shared.conflicts.lock().expect("conflicts").clone();
    let mut per_winner: HashMap<usize, HashSet<PathBuf>> = HashMap::new();
    for (path, a, b) in &conflicts {
        let w = winner(jobs, *a, *b);
        progress.phase(format_args!(
            "'/{}' is in both {} and {}: {} keeps it",
            path.display(),
            jobs[*a].name,
            jobs[*b].name,
            jobs[w].name
        ));
        per_winner.entry(w).or_default().insert(path.clone());
    }
    let mut winners: Vec<_> = per_winner.into_iter().collect();
    winners.sort_by_key(|(w, _)| *w);
    for (w, paths) in winners {
        let file = open_verified(&jobs[w].dest, &jobs[w].checksum).ok_or_else(|| {
            Error::io(
                format!("{} changed after it was verified", quote(&jobs[w].dest)),
                io::Error::from_raw_os_error(libc::EIO),
            )
        })?;
        deb::unpack(shared, file, &jobs[w].name, w, arch, Some(&paths))?;
    }
    Ok(())
}

/// Remove a file two packages ship from the `.list` of the one that lost it.
pub(crate) fn drop_conflicting_lists(shared: &Shared, jobs: &[Job], unpacked: &mut [Unpacked]) {
    let conflicts = shared.conflicts.lock().expect("conflicts").clone();
    for (path, a, b) in conflicts {
        let w = winner(jobs, a, b);
        let loser = if w == a { b } else { a };
        let abs = format!("/{}", path.display());
        unpacked[loser].files.retain(|f| *f != abs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, replaces: &str) -> Job {
        Job {
            name: name.into(),
            arch: "all".into(),
            replaces: replaces.into(),
            url: String::new(),
            dest: PathBuf::new(),
            checksum: Checksum {
                size: 0,
                sha256: [0; 32],
            },
            by: String::new(),
        }
    }

    #[test]
    fn only_our_own_unwritable_files_are_taken_from_the_cache() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a_1_all.deb");
        let data = b"a package";
        let want = Checksum {
            size: data.len() as u64,
            sha256: Sha256::digest(data).into(),
        };
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = open_verified(&p, &want).expect("a good cached file");
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, data, "rewound");
        // Writable by others: it could change between the hash and the unpacking.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(open_verified(&p, &want).is_none());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        // Owned by someone else.
        nix::unistd::chown(&p, Some(nix::unistd::Uid::from_raw(65534)), None).ok();
        if nix::unistd::geteuid().is_root() {
            assert!(open_verified(&p, &want).is_none());
        }
        // A symlink to a good file is not taken either.
        let good = dir.path().join("good");
        fs::write(&good, data).unwrap();
        let l = dir.path().join("l.deb");
        std::os::unix::fs::symlink(&good, &l).unwrap();
        assert!(open_verified(&l, &want).is_none());
    }

    #[test]
    fn the_package_that_replaces_keeps_the_file() {
        let jobs = [job("aaa", "zzz (<< 2)"), job("mmm", ""), job("zzz", "")];
        assert_eq!(winner(&jobs, 0, 2), 0, "aaa replaces zzz");
        assert_eq!(winner(&jobs, 1, 2), 2, "no Replaces: the later one");
        assert_eq!(winner(&jobs, 2, 1), 2);
        assert!(names("a, zzz (<< 2) | b", "zzz"));
        assert!(!names("zzzz", "zzz"));
    }
}
