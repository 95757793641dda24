//! debootstrap-rs: a Debian root filesystem from a signed mirror, with debootstrap's
//! command line. Linux only.
//!
//! The order of [`run`] is the tool: mirror and sources, InRelease verified, Packages
//! indexes checked and parsed as they stream, the package set resolved, packages
//! fetched and verified in parallel and unpacked once (confined to TARGET) while the
//! rest still download, the dpkg database written, then the second stage (the target's
//! dpkg, in a private mount namespace), then the output (directory, tarball, image).

mod bundle;
pub mod cli;
pub mod control;
pub mod deb;
pub mod dpkgdb;
pub mod error;
mod fetch;
pub mod http;
pub mod index;
pub mod indexes;
pub mod output;
pub mod progress;
pub mod release;
pub mod resolve;
pub mod resolver;
pub mod root;
mod setup;
pub mod signals;
pub mod sources;
pub mod stage2;
pub mod sys;
pub mod verify;
pub mod version;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use cli::{Config, Mode};
use deb::Shared;
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
    // The directories this run will create for TARGET (TARGET and any missing parents),
    // to be removed again if the run fails before anything was put in them.
    let created = if matches!(cfg.mode, Mode::Full | Mode::Foreign) && cfg.format == Format::Dir {
        missing_dirs(&cfg.target)
    } else {
        Vec::new()
    };
    // Whatever failed after a SIGINT failed because of it.
    run_inner(cfg).map_err(|e| {
        // Deepest first; rmdir removes only what is still empty, so a tree that was
        // unpacked (and the log a failed second stage points to) stays.
        for d in &created {
            match fs::remove_dir(d) {
                Ok(()) => {}
                // Never made (the run failed making it, e.g. a name too long).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => continue,
                Err(_) => break,
            }
            common::trace::line(1, format_args!("removed {} (made by this run)", quote(d)));
        }
        if signals::interrupted() {
            Error::Interrupted
        } else {
            e
        }
    })
}

/// `path` and its ancestors that do not exist yet, deepest first.
fn missing_dirs(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut p = Some(path);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || fs::symlink_metadata(d).is_ok() {
            break;
        }
        out.push(d.to_path_buf());
        p = d.parent();
    }
    out
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
    let mut sources = sources_of(cfg)?;
    // What can be checked before anything is made or fetched: the keyring.
    let keyring = if cfg.check_gpg {
        Some(indexes::load_keyring(
            cfg.keyring
                .as_deref()
                .unwrap_or(Path::new(indexes::DEBIAN_KEYRING)),
        )?)
    } else {
        None
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
            bundle::unpack_bundle(bundle, tmp.path())?;
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
        sources = bundle::bundle_sources(&cache, &sources)?;
    }

    // Trust and indexes.
    let http = Http::new();
    let trust = Trust {
        keyring,
        now: cfg.check_valid_until.then(now),
        clock: now(),
    };
    let t0 = Instant::now();
    let mut loaded = Vec::new();
    for (n, s) in sources.iter().enumerate() {
        let l = indexes::load_release(&http, &cache, &trust, n, s)?;
        progress.phase(format_args!(
            "{}: InRelease verified{} ({} {})",
            s.suite,
            if cfg.check_gpg { "" } else { " NOT" },
            l.release.suite,
            l.release.codename
        ));
        loaded.push(l);
    }
    let (index, index_files) = load_indexes(&http, &cache, &loaded, &cfg.components, &arch)?;
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
    let jobs: Vec<fetch::Job> = order
        .iter()
        .map(|name| {
            let p = index.candidate(name).expect("resolved names exist");
            fetch::Job {
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
    // What the archive says of the chosen packages, for dpkg's database: the Priority
    // (the archive's override, which debootstrap's status records) and `available`.
    let priorities: HashMap<String, String> = order
        .iter()
        .filter_map(|n| index.candidate(n))
        .filter(|p| !p.priority_text().is_empty())
        .map(|p| (p.name().to_owned(), p.priority_text().to_owned()))
        .collect();
    if let (Format::Ext4, Some(size)) = (cfg.format, cfg.image_size)
        && building
    {
        let kib: u64 = order
            .iter()
            .filter_map(|n| index.candidate(n))
            .map(|p| p.rec().installed_size)
            .sum();
        output::check_image_size(size, kib << 10, order.len())?;
    }
    let available = if building {
        indexes::available(&index, &index_files, &order)?
    } else {
        Vec::new()
    };
    drop(index);

    if !building {
        fetch::fetch_and_unpack(&http, &cache, &jobs, None, &arch, cfg.jobs, &progress)?;
        if let Mode::MakeTarball(file) = &cfg.mode {
            bundle::write_bundle(file, &cache, &loaded, &jobs)?;
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
    let unpacked = fetch::fetch_and_unpack(
        &http,
        &cache,
        &jobs,
        Some(&shared),
        &arch,
        cfg.jobs,
        &progress,
    )?;
    fetch::resolve_conflicts(&shared, &jobs, &arch, &progress)?;
    let mut unpacked = unpacked;
    fetch::drop_conflicting_lists(&shared, &jobs, &mut unpacked);
    shared.finish_dirs()?;
    progress.phase(format_args!(
        "unpacked {} packages in {:.1}s",
        unpacked.len(),
        t1.elapsed().as_secs_f64()
    ));
    let root = shared.root;
    if merged {
        setup::merge_usr(&root)?;
    } else if !resolve::at_most_bookworm(&codename) || codename == "bookworm" {
        setup::write_file(
            &root,
            "etc/unsupported-skip-usrmerge-conversion",
            b"this system will not be supported in the future\n",
            0o644,
        )?;
    }
    dpkgdb::write_database(&root, &unpacked, &priorities, &available)?;
    setup::setup_etc(&root, cfg, &sources)?;
    setup::setup_devices(&root, &progress)?;
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
        setup::save_first_stage(&root, &plan)?;
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
            if let (Format::Ext4, Some(size)) = (cfg.format, cfg.image_size) {
                output::probe_image_file(t, size)?;
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

/// The prefix of scratch directories: `.debootstrap-rs-PID.` and a random part.
const SCRATCH: &str = ".debootstrap-rs-";

/// A scratch directory in `parent`, removed when dropped. Those that runs killed by
/// SIGKILL left in `parent` (their PID is gone; a PID in use again is left alone) are
/// removed first: a rerun into the same TARGET would otherwise keep a dead run's
/// downloads, or a whole tree beside a tarball, for ever.
pub(crate) fn scratch(parent: &Path) -> Result<tempfile::TempDir> {
    reap_dead_scratch(parent);
    tempfile::Builder::new()
        .prefix(&format!("{SCRATCH}{}.", std::process::id()))
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("cannot create a scratch directory in {}", quote(parent)),
                e,
            )
        })
}

/// Remove the scratch directories of dead runs in `parent`.
fn reap_dead_scratch(parent: &Path) {
    for e in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH)
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()
        {
            common::trace::line(
                1,
                format_args!("removing {} (its run died)", quote(e.path())),
            );
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Load every (source, component) index, in parallel, merged in a fixed order (suite by
/// suite, component by component: debootstrap's); with where each is kept, in that
/// order (the records' `file`).
fn load_indexes(
    http: &Http,
    cache: &Cache,
    loaded: &[Loaded],
    components: &[String],
    arch: &str,
) -> Result<(Index, Vec<Option<PathBuf>>)> {
    let mut work = Vec::new();
    for (n, l) in loaded.iter().enumerate() {
        for c in components {
            work.push((n, l, c));
        }
    }
    let results: Vec<Result<(Index, Option<PathBuf>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .iter()
            .enumerate()
            .map(|(k, (n, l, c))| {
                s.spawn(move || {
                    let mut idx = Index::new();
                    let (_, kept) = indexes::load_packages(http, cache, l, c, arch, &mut idx, *n)?;
                    idx.set_file(k as u32);
                    Ok((idx, kept))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("index thread"))
            .collect()
    });
    let mut index = Index::new();
    let mut files = Vec::new();
    for r in results {
        let (idx, kept) = r?;
        index.merge(idx);
        files.push(kept);
    }
    Ok((index, files))
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

/// `--second-stage`: complete a `--foreign` TARGET.
fn second_stage_only(cfg: &Config, progress: &Progress) -> Result<()> {
    let inside = cfg.target == Path::new("/");
    let root = Root::open(&cfg.target)
        .map_err(|e| Error::io(format!("cannot open {}", quote(&cfg.target)), e))?;
    let data = root
        .read(Path::new(setup::STATE))
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

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_directories_of_dead_runs_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(".debootstrap-rs-999999999.abc");
        std::fs::create_dir_all(dead.join("tree/usr")).unwrap();
        let alive = d
            .path()
            .join(format!(".debootstrap-rs-{}.xyz", std::process::id()));
        std::fs::create_dir(&alive).unwrap();
        let not_ours = d.path().join(".debootstrap-rs-user-file");
        std::fs::write(&not_ours, b"x").unwrap();
        let s = super::scratch(d.path()).unwrap();
        assert!(!dead.exists(), "a dead run's scratch directory");
        assert!(alive.exists() && not_ours.exists());
        let name = s.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!(".debootstrap-rs-{}.", std::process::id())),
            "{name}"
        );
    }

    #[test]
    fn missing_dirs_are_the_ones_a_run_makes() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("a/b/c");
        assert_eq!(
            super::missing_dirs(&t),
            [t.clone(), d.path().join("a/b"), d.path().join("a")]
        );
        std::fs::create_dir(d.path().join("a")).unwrap();
        assert_eq!(super::missing_dirs(&t).len(), 2);
        assert!(super::missing_dirs(d.path()).is_empty());
    }
}
