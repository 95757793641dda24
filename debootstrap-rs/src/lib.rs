//! debootstrap-rs: a Debian root filesystem from a signed mirror, with debootstrap's
//! command line. Linux only.
//!
//! The order of [`run`] is the tool: mirror and sources, InRelease verified, Packages
//! indexes checked and parsed as they stream, the package set resolved, packages
//! fetched and verified in parallel and unpacked once (confined to TARGET) while the
//! rest still download, the dpkg database written, then the second stage (the target's
//! dpkg, in a private mount namespace), then the output (directory, tarball, image).

pub mod cli;
pub mod control;
pub mod deb;
pub mod dpkgdb;
pub mod error;
pub mod http;
pub mod index;
pub mod indexes;
pub mod output;
pub mod progress;
pub mod release;
pub mod resolve;
pub mod root;
pub mod signals;
pub mod sources;
pub mod stage2;
pub mod sys;
pub mod verify;
pub mod version;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

pub use cli::{Config, Mode};
use deb::{Shared, Unpacked};
use error::quote;
pub use error::{Error, Result};
use http::Http;
use index::Index;
use indexes::{Cache, Loaded, Source, Trust};
use output::Format;
use progress::Progress;
use release::Checksum;
use resolve::Variant;
use root::Root;
use stage2::Plan;

/// What a run produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `--print-debs`: the package names, for standard output.
    Packages(Vec<String>),
    /// TARGET was built (or the first stage, the download, the bundle).
    Done,
}

/// The core packages debootstrap installs first, in its order.
const CORE: &[&str] = &[
    "base-passwd",
    "base-files",
    "dpkg",
    "libc6",
    "perl-base",
    "mawk",
];

/// The Debian name of the host's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64el",
        "loongarch64" => "loong64",
        other => other,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().cast_signed())
}

/// Run debootstrap-rs.
pub fn run(cfg: &Config) -> Result<Outcome> {
    // Whatever failed after a SIGINT failed because of it.
    run_inner(cfg).map_err(|e| {
        if signals::interrupted() {
            Error::Interrupted
        } else {
            e
        }
    })
}

fn run_inner(cfg: &Config) -> Result<Outcome> {
    let progress = Progress::new(cfg.quiet, cfg.progress_bar);
    if cfg.mode == Mode::SecondStage {
        second_stage_only(cfg, &progress)?;
        return Ok(Outcome::Done);
    }
    if !cfg.check_gpg {
        eprintln!(
            "debootstrap-rs: WARNING: --no-check-gpg: InRelease signatures are NOT checked; \
             whoever controls the mirror or the network decides what is installed"
        );
    }
    let arch = cfg.arch.clone().unwrap_or_else(|| host_arch().to_owned());
    let mut sources = if cfg.unpack_tarball.is_some() {
        Vec::new()
    } else {
        sources_of(cfg)?
    };

    // TARGET and the directory the tree is built in.
    let building = matches!(cfg.mode, Mode::Full | Mode::Foreign);
    let (build_dir, _build_guard) = if building {
        prepare_target(cfg)?
    } else {
        (PathBuf::new(), None)
    };

    // The cache: --cache-dir, or a scratch directory removed at the end.
    let scratch_parent = if building && cfg.format == Format::Dir {
        cfg.target.clone()
    } else if building {
        build_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        std::env::temp_dir()
    };
    let (cache, _scratch) = match (&cfg.cache_dir, &cfg.unpack_tarball) {
        (_, Some(bundle)) => {
            let tmp = scratch(&scratch_parent)?;
            unpack_bundle(bundle, tmp.path())?;
            (
                Cache {
                    dir: tmp.path().to_path_buf(),
                    persistent: false,
                    offline: true,
                },
                Some(tmp),
            )
        }
        (Some(dir), None) => (
            Cache {
                dir: dir.clone(),
                persistent: true,
                offline: false,
            },
            None,
        ),
        (None, None) => {
            if cfg.mode == Mode::DownloadOnly {
                return Err(Error::Usage("--download-only needs --cache-dir".into()));
            }
            let tmp = scratch(&scratch_parent)?;
            let keep = matches!(cfg.mode, Mode::MakeTarball(_));
            (
                Cache {
                    dir: tmp.path().to_path_buf(),
                    persistent: keep,
                    offline: false,
                },
                Some(tmp),
            )
        }
    };
    cache.prepare()?;
    if cache.offline {
        sources = bundle_sources(&cache, &cfg.suite)?;
    }

    // Trust and indexes.
    let http = Http::new();
    let trust = Trust {
        keyring: if cfg.check_gpg {
            Some(indexes::load_keyring(
                cfg.keyring
                    .as_deref()
                    .unwrap_or(Path::new(indexes::DEBIAN_KEYRING)),
            )?)
        } else {
            None
        },
        now: cfg.check_valid_until.then(now),
        clock: now(),
    };
    let t0 = Instant::now();
    let mut loaded = Vec::new();
    for (n, s) in sources.iter().enumerate() {
        let l = indexes::load_release(&http, &cache, &trust, n, s, &cfg.components)?;
        progress.phase(format_args!(
            "{}: InRelease verified{} ({} {})",
            s.suite,
            if cfg.check_gpg { "" } else { " NOT" },
            l.release.suite,
            l.release.codename
        ));
        loaded.push(l);
    }
    let index = load_indexes(&http, &cache, &loaded, &cfg.components, &arch)?;
    progress.phase(format_args!(
        "{} package records from {} index(es) in {:.1}s",
        index.len(),
        loaded.len() * cfg.components.len(),
        t0.elapsed().as_secs_f64()
    ));
    if signals::interrupted() {
        return Err(Error::Interrupted);
    }

    // The package set.
    let codename = loaded[0].release.codename.clone();
    let https = sources[0].mirror.starts_with("https://");
    let selection = resolve::resolve(
        &index,
        &resolve::Request {
            variant: cfg.variant,
            codename: &codename,
            include: &cfg.include,
            exclude: &cfg.exclude,
            https,
            arch: &arch,
        },
    )
    .map_err(Error::Resolve)?;
    if cfg.mode == Mode::PrintDebs {
        return Ok(Outcome::Packages(selection.all()));
    }
    let order = install_order(&selection);
    progress.phase(format_args!(
        "{} packages ({}{})",
        order.len(),
        if cfg.variant == Variant::Default {
            "required + important"
        } else {
            cfg.variant.name()
        },
        if selection.added.is_empty() {
            String::new()
        } else {
            format!(
                "; added to satisfy dependencies: {}",
                selection.added.join(" ")
            )
        }
    ));
    let jobs: Vec<Job> = order
        .iter()
        .map(|name| {
            let p = index.candidate(name).expect("resolved names exist");
            Job {
                name: name.clone(),
                arch: p.arch().to_owned(),
                replaces: p.replaces().to_owned(),
                url: format!("{}/{}", sources[p.rec().source].mirror, p.filename()),
                dest: cache.deb_path(name, p.version(), p.arch()),
                checksum: Checksum {
                    size: p.rec().size,
                    sha256: p.rec().sha256,
                },
                by: format!("the Packages index of {}", sources[p.rec().source].suite),
            }
        })
        .collect();
    let dpkg_version = index
        .candidate("dpkg")
        .map(|p| p.version().to_owned())
        .unwrap_or_default();
    drop(index);

    if !building {
        fetch_and_unpack(&http, &cache, &jobs, None, &arch, cfg.jobs, &progress)?;
        if let Mode::MakeTarball(file) = &cfg.mode {
            write_bundle(file, &cache, &loaded, &jobs)?;
            progress.phase(format_args!("wrote {}", quote(file)));
        }
        return Ok(Outcome::Done);
    }

    // First stage: unpack into the confined tree.
    let root = Root::open(&build_dir)
        .map_err(|e| Error::io(format!("cannot open {}", quote(&build_dir)), e))?;
    let merged = cfg
        .merged_usr
        .unwrap_or(!(cfg.variant == Variant::Buildd && resolve::at_most_bookworm(&codename)));
    if merged {
        for d in ["bin", "sbin", "lib"] {
            let usr = PathBuf::from("usr").join(d);
            root.dir(&usr)
                .and_then(|_| {
                    if root.exists(Path::new(d)) {
                        Ok(())
                    } else {
                        root.symlink(&usr, Path::new(d))
                    }
                })
                .map_err(|e| {
                    Error::io(
                        format!("cannot create {}", quote(root.host(Path::new(d)))),
                        e,
                    )
                })?;
        }
    }
    let shared = Shared::new(root);
    let t1 = Instant::now();
    let unpacked = fetch_and_unpack(
        &http,
        &cache,
        &jobs,
        Some(&shared),
        &arch,
        cfg.jobs,
        &progress,
    )?;
    resolve_conflicts(&shared, &jobs, &unpacked, &arch, &progress)?;
    let mut unpacked = unpacked;
    drop_conflicting_lists(&shared, &jobs, &mut unpacked);
    shared.finish_dirs()?;
    progress.phase(format_args!(
        "unpacked {} packages in {:.1}s",
        unpacked.len(),
        t1.elapsed().as_secs_f64()
    ));
    let root = shared.root;
    if merged {
        merge_usr(&root)?;
    } else if !resolve::at_most_bookworm(&codename) || codename == "bookworm" {
        write_file(
            &root,
            "etc/unsupported-skip-usrmerge-conversion",
            b"this system will not be supported in the future\n",
            0o644,
        )?;
    }
    dpkgdb::write_database(&root, &unpacked)?;
    setup_etc(&root, cfg, &sources)?;
    setup_devices(&root, &progress)?;
    let plan = Plan {
        arch: arch.clone(),
        packages: unpacked
            .iter()
            .map(|u| stage2::PlanPackage {
                info: u.info_name.clone(),
                name: u.name.clone(),
                arch: jobs[u.order].arch.clone(),
                preinst_control: u.has_preinst.then(|| u.control.clone()),
            })
            .collect(),
        dpkg_version,
        source_date_epoch: cfg.source_date_epoch,
    };
    if cfg.mode == Mode::Foreign {
        save_first_stage(&root, &plan)?;
        progress.phase(format_args!(
            "first stage done: complete it with 'debootstrap-rs --second-stage {}' (or '/debootstrap/debootstrap-rs --second-stage' inside it)",
            cfg.target.display()
        ));
        return Ok(Outcome::Done);
    }
    let t2 = Instant::now();
    stage2::run(&root, &plan, cfg.verbose > 0, false)?;
    stage2::clean(&root, cfg.source_date_epoch.is_some())?;
    progress.phase(format_args!(
        "configured {} packages in {:.1}s",
        plan.packages.len(),
        t2.elapsed().as_secs_f64()
    ));
    finish_output(cfg, &build_dir, &progress)?;
    Ok(Outcome::Done)
}

/// The (suite, mirror) pairs: MIRROR or the host's apt sources; extra suites with their
/// own mirror, the host's entry for them, or MIRROR.
fn sources_of(cfg: &Config) -> Result<Vec<Source>> {
    let host = sources::host_sources(&cfg.etc_apt);
    let main = cfg
        .mirror
        .clone()
        .or_else(|| sources::mirror_for(&host, &cfg.suite))
        .ok_or_else(|| Error::NoMirror(cfg.suite.clone()))?;
    let mut out = vec![Source {
        suite: cfg.suite.clone(),
        mirror: main.clone(),
    }];
    for (suite, mirror) in &cfg.extra_suites {
        let mirror = mirror
            .clone()
            .or_else(|| {
                if cfg.mirror.is_some() {
                    None
                } else {
                    sources::mirror_for(&host, suite)
                }
            })
            .unwrap_or_else(|| main.clone());
        out.push(Source {
            suite: suite.clone(),
            mirror,
        });
    }
    Ok(out)
}

/// Check TARGET and make the directory the tree is built in: TARGET itself, or for a
/// tarball or image a scratch directory beside it (removed by the returned guard).
fn prepare_target(cfg: &Config) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let t = &cfg.target;
    match cfg.format {
        Format::Dir => {
            match fs::read_dir(t) {
                Ok(mut d) => {
                    if d.next().is_some() && !cfg.force {
                        return Err(Error::TargetNotEmpty(t.clone()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir_all(t)
                        .map_err(|e| Error::io(format!("cannot create {}", quote(t)), e))?;
                }
                Err(e) => return Err(Error::io(format!("cannot read {}", quote(t)), e)),
            }
            let abs = fs::canonicalize(t)
                .map_err(|e| Error::io(format!("cannot resolve {}", quote(t)), e))?;
            Ok((abs, None))
        }
        _ => {
            if t.exists() && !cfg.force {
                return Err(Error::TargetNotEmpty(t.clone()));
            }
            let parent = match t.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let tmp = scratch(&parent)?;
            let dir = tmp.path().join("tree");
            fs::create_dir(&dir)
                .map_err(|e| Error::io(format!("cannot create {}", quote(&dir)), e))?;
            Ok((dir, Some(tmp)))
        }
    }
}

fn scratch(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".debootstrap-rs-")
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("cannot create a scratch directory in {}", quote(parent)),
                e,
            )
        })
}

/// Load every (source, component) index, in parallel, merged in a fixed order.
fn load_indexes(
    http: &Http,
    cache: &Cache,
    loaded: &[Loaded],
    components: &[String],
    arch: &str,
) -> Result<Index> {
    let mut work = Vec::new();
    for (n, l) in loaded.iter().enumerate() {
        for c in components {
            work.push((n, l, c));
        }
    }
    let results: Vec<Result<Index>> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .iter()
            .map(|(n, l, c)| {
                s.spawn(move || {
                    let mut idx = Index::new();
                    indexes::load_packages(http, cache, l, c, arch, &mut idx, *n).map(|_| idx)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("index thread"))
            .collect()
    });
    let mut index = Index::new();
    for r in results {
        index.merge(r?);
    }
    Ok(index)
}

/// debootstrap's install order: the core packages, then required, then base.
fn install_order(sel: &resolve::Selection) -> Vec<String> {
    let all: HashSet<String> = sel.all().into_iter().collect();
    let mut out: Vec<String> = CORE
        .iter()
        .filter(|c| all.contains(**c))
        .map(|c| (*c).to_owned())
        .collect();
    for n in sel.required.iter().chain(&sel.base).chain(&sel.added) {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// One package to fetch and unpack.
#[derive(Debug, Clone)]
struct Job {
    name: String,
    arch: String,
    replaces: String,
    url: String,
    dest: PathBuf,
    checksum: Checksum,
    by: String,
}

/// Is the cached file there and intact?
fn cached_ok(path: &Path, want: &Checksum) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    if f.metadata().map(|m| m.len()).ok() != Some(want.size) {
        return false;
    }
    let mut h = Sha256::new();
    let mut r = io::BufReader::with_capacity(256 << 10, f);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(_) => return false,
        }
    }
    let d: [u8; 32] = h.finalize().into();
    let ok = d == want.sha256;
    common::trace::line(
        1,
        format_args!(
            "cached {}: SHA256 {}",
            path.display(),
            if ok {
                "ok"
            } else {
                "MISMATCH: fetching it again"
            }
        ),
    );
    ok
}

/// Download (or find in the cache) every package, in parallel, largest first; as each
/// one is verified, unpack it (when `shared` is given) on as many threads as there are
/// cores. Returns the unpacked packages in install order.
fn fetch_and_unpack(
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
    let (tx, rx) = mpsc::channel::<usize>();
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
                    let r = if cached_ok(&job.dest, &job.checksum) {
                        from_cache.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    } else if cache.offline {
                        Err(Error::io(
                            format!("package '{}' is not in the tarball", job.name),
                            io::Error::from_raw_os_error(libc::ENOENT),
                        ))
                    } else {
                        let _ = fs::remove_file(&job.dest);
                        http.fetch_file(&job.url, &job.dest, &job.checksum, &job.by)
                            .map(|()| {
                                fetched_bytes.fetch_add(job.checksum.size, Ordering::Relaxed);
                            })
                    };
                    match r {
                        Ok(()) => {
                            if shared.is_none() {
                                progress.step(&job.name);
                            }
                            let _ = tx.send(j);
                        }
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
                        let Ok(j) = msg else { return };
                        if stop.load(Ordering::SeqCst) || signals::interrupted() {
                            continue;
                        }
                        let job = &jobs[j];
                        match deb::unpack(shared, &job.dest, j, arch, None) {
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
fn names(replaces: &str, pkg: &str) -> bool {
    control::parse_deps(replaces)
        .iter()
        .flatten()
        .any(|a| a.name == pkg)
}

/// The owner that keeps a file two packages ship: the one that Replaces the other, else
/// the later in install order (what `dpkg --force-overwrite` leaves).
fn winner(jobs: &[Job], a: usize, b: usize) -> usize {
    let a_replaces_b = names(&jobs[a].replaces, &jobs[b].name);
    let b_replaces_a = names(&jobs[b].replaces, &jobs[a].name);
    match (a_replaces_b, b_replaces_a) {
        (true, false) => a,
        (false, true) => b,
        _ => a.max(b),
    }
}

/// Re-extract files two packages ship from the package that keeps them.
fn resolve_conflicts(
    shared: &Shared,
    jobs: &[Job],
    _u: &[Unpacked],
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
        deb::unpack(shared, &jobs[w].dest, w, arch, Some(&paths))?;
    }
    Ok(())
}

/// Remove a file two packages ship from the `.list` of the one that lost it.
fn drop_conflicting_lists(shared: &Shared, jobs: &[Job], unpacked: &mut [Unpacked]) {
    let conflicts = shared.conflicts.lock().expect("conflicts").clone();
    for (path, a, b) in conflicts {
        let w = winner(jobs, a, b);
        let loser = if w == a { b } else { a };
        let abs = format!("/{}", path.display());
        unpacked[loser].files.retain(|f| *f != abs);
    }
}

/// debootstrap's merge_usr: top-level bin, sbin, lib* that packages made as real
/// directories move into /usr and become symlinks.
fn merge_usr(root: &Root) -> Result<()> {
    for d in ["bin", "lib", "lib32", "lib64", "libo32", "libx32", "sbin"] {
        let p = Path::new(d);
        let Ok(st) = root.lstat(p) else { continue };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            continue;
        }
        let usr = Path::new("usr").join(d);
        let err = |e| Error::io(format!("cannot merge {} into /usr", quote(root.host(p))), e);
        if !root.exists(&usr) {
            root.rename(p, &usr).map_err(err)?;
        } else {
            let names: Vec<_> = fs::read_dir(root.host(p))
                .map_err(err)?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            for n in names {
                let to = usr.join(&n);
                if root.exists(&to) {
                    return Err(Error::io(
                        format!("cannot merge {} into /usr", quote(root.host(&p.join(&n)))),
                        io::Error::from_raw_os_error(libc::EEXIST),
                    ));
                }
                root.rename(&p.join(&n), &to).map_err(err)?;
            }
            root.remove_tree(p, true).map_err(err)?;
        }
        root.symlink(&usr, p).map_err(err)?;
    }
    Ok(())
}

fn write_file(root: &Root, rel: &str, data: &[u8], mode: u32) -> Result<()> {
    root.write(Path::new(rel), data, mode).map_err(|e| {
        Error::io(
            format!("cannot write {}", quote(root.host(Path::new(rel)))),
            e,
        )
    })
}

/// /etc as debootstrap leaves it: fstab placeholder, the host's resolv.conf and
/// hostname, and apt sources (deb822) with signed-by.
fn setup_etc(root: &Root, cfg: &Config, sources: &[Source]) -> Result<()> {
    if !root.exists(Path::new("etc/fstab")) {
        write_file(
            root,
            "etc/fstab",
            b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
            0o644,
        )?;
    }
    for f in ["resolv.conf", "hostname"] {
        let rel = format!("etc/{f}");
        if !root.exists(Path::new(&rel))
            && let Ok(data) = fs::read(Path::new("/etc").join(f))
        {
            write_file(root, &rel, &data, 0o644)?;
        }
    }
    let signed_by = if !cfg.check_gpg {
        None
    } else {
        match &cfg.keyring {
            None => Some(indexes::DEBIAN_KEYRING.to_owned()),
            Some(k) => {
                let data =
                    fs::read(k).map_err(|e| Error::io(format!("cannot read {}", quote(k)), e))?;
                let ext = if data.starts_with(b"-----BEGIN") {
                    "asc"
                } else {
                    "gpg"
                };
                let rel = format!("etc/apt/keyrings/debootstrap-rs.{ext}");
                write_file(root, &rel, &data, 0o644)?;
                Some(format!("/{rel}"))
            }
        }
    };
    let mut text = String::new();
    let mut mirrors: Vec<&str> = Vec::new();
    for s in sources {
        if !mirrors.contains(&s.mirror.as_str()) {
            mirrors.push(&s.mirror);
        }
    }
    for m in mirrors {
        let suites: Vec<&str> = sources
            .iter()
            .filter(|s| s.mirror == m)
            .map(|s| s.suite.as_str())
            .collect();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "Types: deb\nURIs: {m}\nSuites: {}\nComponents: {}\n",
            suites.join(" "),
            cfg.components.join(" ")
        ));
        if let Some(k) = &signed_by {
            text.push_str(&format!("Signed-By: {k}\n"));
        }
    }
    write_file(
        root,
        "etc/apt/sources.list.d/debian.sources",
        text.as_bytes(),
        0o644,
    )
}

/// The static device nodes debootstrap creates (setup_devices_simple).
fn setup_devices(root: &Root, progress: &Progress) -> Result<()> {
    let nodes: [(&str, u64, u64); 8] = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
        ("console", 5, 1),
        ("ptmx", 5, 2),
    ];
    for (name, major, minor) in nodes {
        let rel = PathBuf::from("dev").join(name);
        if let Err(e) = root.mknod_char(&rel, 0o666, major, minor) {
            if e.raw_os_error() == Some(libc::EPERM) {
                progress.phase(format_args!(
                    "cannot create /dev/{name} here (not permitted): skipped"
                ));
                continue;
            }
            return Err(Error::io(
                format!("cannot create {}", quote(root.host(&rel))),
                e,
            ));
        }
    }
    for d in ["dev/pts", "dev/shm"] {
        root.dir(Path::new(d)).map_err(|e| {
            Error::io(
                format!("cannot create {}", quote(root.host(Path::new(d)))),
                e,
            )
        })?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let rel = PathBuf::from("dev").join(name);
        root.symlink(Path::new(target), &rel)
            .map_err(|e| Error::io(format!("cannot create {}", quote(root.host(&rel))), e))?;
    }
    Ok(())
}

const STATE: &str = "debootstrap/state.json";

/// `--foreign`: save what the second stage needs, and a copy of this program.
fn save_first_stage(root: &Root, plan: &Plan) -> Result<()> {
    let json = serde_json::to_vec_pretty(plan)
        .map_err(|e| Error::io("cannot encode the plan", io::Error::other(e)))?;
    write_file(root, STATE, &json, 0o644)?;
    let me = fs::read("/proc/self/exe").map_err(|e| Error::io("cannot read /proc/self/exe", e))?;
    write_file(root, "debootstrap/debootstrap-rs", &me, 0o755)
}

/// `--second-stage`: complete a `--foreign` TARGET.
fn second_stage_only(cfg: &Config, progress: &Progress) -> Result<()> {
    let inside = cfg.target == Path::new("/");
    let root = Root::open(&cfg.target)
        .map_err(|e| Error::io(format!("cannot open {}", quote(&cfg.target)), e))?;
    let data = root
        .read(Path::new(STATE))
        .map_err(|_| Error::NoFirstStage(cfg.target.clone()))?;
    let mut plan: Plan =
        serde_json::from_slice(&data).map_err(|_| Error::NoFirstStage(cfg.target.clone()))?;
    if cfg.source_date_epoch.is_some() {
        plan.source_date_epoch = cfg.source_date_epoch;
    }
    let t = Instant::now();
    stage2::run(&root, &plan, cfg.verbose > 0, inside)?;
    stage2::clean(&root, plan.source_date_epoch.is_some())?;
    progress.phase(format_args!(
        "configured {} packages in {:.1}s",
        plan.packages.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Turn the built tree into the asked output.
fn finish_output(cfg: &Config, build_dir: &Path, progress: &Progress) -> Result<()> {
    match cfg.format {
        Format::Dir => {
            progress.phase(format_args!(
                "base system installed in {}",
                quote(&cfg.target)
            ));
        }
        Format::Tar(c) => {
            let tmp = http::partial_name(&cfg.target);
            output::write_tar(build_dir, &tmp, c, cfg.source_date_epoch)
                .and_then(|()| {
                    fs::rename(&tmp, &cfg.target)
                        .map_err(|e| Error::io(format!("cannot write {}", quote(&cfg.target)), e))
                })
                .inspect_err(|_| {
                    let _ = fs::remove_file(&tmp);
                })?;
            progress.phase(format_args!("wrote {}", quote(&cfg.target)));
        }
        Format::Ext4 => {
            let size = cfg
                .image_size
                .unwrap_or_else(|| output::auto_size(build_dir));
            let tmp = http::partial_name(&cfg.target);
            output::write_ext4(build_dir, &tmp, size, cfg.source_date_epoch)
                .and_then(|()| {
                    fs::rename(&tmp, &cfg.target)
                        .map_err(|e| Error::io(format!("cannot write {}", quote(&cfg.target)), e))
                })
                .inspect_err(|_| {
                    let _ = fs::remove_file(&tmp);
                })?;
            progress.phase(format_args!(
                "wrote {} ({})",
                quote(&cfg.target),
                common::units::format_size(size)
            ));
        }
    }
    Ok(())
}

/// The manifest of a `--make-tarball` bundle.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Manifest {
    sources: Vec<(String, String)>,
}

/// `--make-tarball`: the verified InRelease files, the indexes and the .debs, as a
/// tarball (compressed as its name says) that `--unpack-tarball` verifies again.
fn write_bundle(file: &Path, cache: &Cache, loaded: &[Loaded], jobs: &[Job]) -> Result<()> {
    let dir = &cache.dir;
    let manifest = Manifest {
        sources: loaded
            .iter()
            .map(|l| (l.source.suite.clone(), l.source.mirror.clone()))
            .collect(),
    };
    let ctx = |e: io::Error| Error::io(format!("cannot write {}", quote(file)), e);
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).map_err(|e| ctx(io::Error::other(e)))?,
    )
    .map_err(ctx)?;
    for (n, l) in loaded.iter().enumerate() {
        fs::write(cache.inrelease_path(n), &l.inrelease).map_err(ctx)?;
    }
    // Compressed as the name says; gzip (debootstrap's choice) for any other name.
    let compression = match output::Format::from_name(file) {
        Format::Tar(c) => c,
        _ => output::Compression::Gzip,
    };
    // Write only the relevant files: stage them in a directory of hard links.
    let stage = scratch(dir)?;
    let s = stage.path();
    for sub in ["debs", "indexes", "inrelease"] {
        fs::create_dir_all(s.join(sub)).map_err(ctx)?;
    }
    let link = |from: &Path, to: &Path| {
        fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(|_| ()))
    };
    link(&dir.join("manifest.json"), &s.join("manifest.json")).map_err(ctx)?;
    for j in jobs {
        link(
            &j.dest,
            &s.join("debs").join(j.dest.file_name().unwrap_or_default()),
        )
        .map_err(ctx)?;
    }
    for (n, l) in loaded.iter().enumerate() {
        link(
            &cache.inrelease_path(n),
            &s.join("inrelease").join(n.to_string()),
        )
        .map_err(ctx)?;
        for (path, ck) in &l.release.files {
            if path.ends_with("/Packages") {
                let p = cache.index_path(&ck.sha256);
                if p.exists() {
                    let _ = link(
                        &p,
                        &s.join("indexes").join(p.file_name().unwrap_or_default()),
                    );
                }
            }
        }
    }
    let tmp = http::partial_name(file);
    output::write_tar(s, &tmp, compression, Some(0))
        .and_then(|()| fs::rename(&tmp, file).map_err(ctx))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

/// The sources a bundle was made from (its first suite must be SUITE).
fn bundle_sources(cache: &Cache, suite: &str) -> Result<Vec<Source>> {
    let p = cache.dir.join("manifest.json");
    let data = fs::read(&p).map_err(|e| {
        Error::io(
            "the tarball has no manifest.json (not made by --make-tarball)",
            e,
        )
    })?;
    let m: Manifest = serde_json::from_slice(&data)
        .map_err(|e| Error::io("the tarball's manifest.json", io::Error::other(e)))?;
    let sources: Vec<Source> = m
        .sources
        .into_iter()
        .map(|(suite, mirror)| Source { suite, mirror })
        .collect();
    match sources.first() {
        Some(s) if s.suite == suite => Ok(sources),
        Some(s) => Err(Error::Usage(format!(
            "the tarball holds suite '{}', not '{suite}'",
            s.suite
        ))),
        None => Err(Error::Usage("the tarball's manifest names no suite".into())),
    }
}

/// Extract a bundle into `dir` (a cache layout). Its contents are verified again like
/// downloads: InRelease by signature, indexes and .debs by SHA-256.
fn unpack_bundle(bundle: &Path, dir: &Path) -> Result<()> {
    let ctx = |e: io::Error| Error::io(format!("cannot read {}", quote(bundle)), e);
    let f = File::open(bundle).map_err(ctx)?;
    let r: Box<dyn Read> = match output::Format::from_name(bundle) {
        Format::Tar(output::Compression::Gzip) => Box::new(flate2::read::GzDecoder::new(f)),
        Format::Tar(output::Compression::Xz) => Box::new(liblzma::read::XzDecoder::new(f)),
        Format::Tar(output::Compression::Zstd) => Box::new(zstd::Decoder::new(f).map_err(ctx)?),
        _ => Box::new(f),
    };
    let mut ar = tar::Archive::new(r);
    for e in ar.entries().map_err(ctx)? {
        let mut e = e.map_err(ctx)?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().map_err(ctx)?.into_owned();
        let Some(rel) = root::normalize(&p) else {
            return Err(ctx(io::Error::new(
                io::ErrorKind::InvalidData,
                "unsafe path in the tarball",
            )));
        };
        let allowed = rel == Path::new("manifest.json")
            || ["debs", "indexes", "inrelease"]
                .iter()
                .any(|d| rel.parent() == Some(Path::new(d)));
        if !allowed {
            continue;
        }
        let out = dir.join(&rel);
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(ctx)?;
        }
        let mut w = File::create(&out).map_err(ctx)?;
        io::copy(&mut e, &mut w).map_err(ctx)?;
    }
    Ok(())
}
