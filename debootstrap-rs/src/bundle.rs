//! `--make-tarball` / `--unpack-tarball`: the verified InRelease files, the indexes and
//! the .debs of a run in one tarball, which a later run (offline) verifies again exactly
//! as downloads: signature, then index and .deb hashes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use crate::error::{Error, Result, quote};
use crate::fetch::Job;
use crate::indexes::{Cache, Loaded, Source};
use crate::output::{self, Format};
use crate::{http, root};

/// The manifest of a `--make-tarball` bundle.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Manifest {
    sources: Vec<(String, String)>,
}

/// `--make-tarball`: the verified InRelease files, the indexes and the .debs, as a
/// tarball (compressed as its name says) that `--unpack-tarball` verifies again.
pub(crate) fn write_bundle(
    file: &Path,
    cache: &Cache,
    loaded: &[Loaded],
    jobs: &[Job],
) -> Result<()> {
    let dir = &cache.dir;
    let manifest = Manifest {
        sources: loaded
            .iter()
            .map(|l| (l.source.suite.clone(), l.source.mirror.clone()))
            .collect(),
    };
    let ctx = |e: io::Error| Error::io(format!("cannot write {}", quote(file)), e);
    let write = |p: &Path, data: &[u8]| http::create_fresh(p)?.write_all(data);
    write(
        &dir.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest).map_err(|e| ctx(io::Error::other(e)))?,
    )
    .map_err(ctx)?;
    for (n, l) in loaded.iter().enumerate() {
        write(&cache.inrelease_path(n), &l.inrelease).map_err(ctx)?;
    }
    // Compressed as the name says; gzip (debootstrap's choice) for any other name.
    let compression = match output::Format::from_name(file) {
        Format::Tar(c) => c,
        _ => output::Compression::Gzip,
    };
    // Write only the relevant files: stage them in a directory of hard links.
    let stage = crate::scratch(dir)?;
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

/// The sources of a bundle, in the order its InRelease files are stored. The manifest
/// is not signed: it only says where each suite's files are. Which suites are used and
/// their mirrors (written into the target's apt sources) come from the command line, as
/// in a run that downloads: the bundle must hold exactly SUITE (first) and the
/// `--extra-suites`, so that it can neither add a suite (one whose packages would win by
/// version) nor point the target's apt at a mirror of its choosing.
pub(crate) fn bundle_sources(cache: &Cache, wanted: &[Source]) -> Result<Vec<Source>> {
    let p = cache.dir.join("manifest.json");
    let data = fs::read(&p).map_err(|e| {
        Error::io(
            "the tarball has no manifest.json (not made by --make-tarball)",
            e,
        )
    })?;
    let m: Manifest = serde_json::from_slice(&data)
        .map_err(|e| Error::io("the tarball's manifest.json", io::Error::other(e)))?;
    let suites: Vec<String> = m.sources.into_iter().map(|(suite, _)| suite).collect();
    align(&suites, wanted)
}

/// The `wanted` sources in the order of the bundle's `suites`, which must be the same.
fn align(suites: &[String], wanted: &[Source]) -> Result<Vec<Source>> {
    let names = |v: &[String]| v.join(" ");
    let asked: Vec<String> = wanted.iter().map(|s| s.suite.clone()).collect();
    let mut sorted = (suites.to_vec(), asked.clone());
    sorted.0.sort();
    sorted.1.sort();
    if suites.first() != asked.first() || sorted.0 != sorted.1 {
        return Err(Error::Usage(format!(
            "the tarball holds suite(s) '{}', the command line asks for '{}' (SUITE, then --extra-suites)",
            names(suites),
            names(&asked)
        )));
    }
    Ok(suites
        .iter()
        .filter_map(|s| wanted.iter().find(|w| &w.suite == s).cloned())
        .collect())
}

/// Extract a bundle into `dir` (a cache layout). Its contents are verified again like
/// downloads: InRelease by signature, indexes and .debs by SHA-256.
pub(crate) fn unpack_bundle(bundle: &Path, dir: &Path) -> Result<()> {
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
        let mut w = http::create_fresh(&out).map_err(ctx)?;
        io::copy(&mut e, &mut w).map_err(ctx)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(suite: &str, mirror: &str) -> Source {
        Source {
            suite: suite.into(),
            mirror: mirror.into(),
        }
    }

    #[test]
    fn a_bundle_serves_exactly_the_suites_asked_with_the_mirrors_asked() {
        let wanted = [
            src("bookworm", "http://m/debian"),
            src("bookworm-security", "http://s/ds"),
        ];
        let suites = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // The bundle's order (where its InRelease files are), the command line's mirrors.
        assert_eq!(
            align(&suites(&["bookworm", "bookworm-security"]), &wanted).unwrap(),
            wanted
        );
        // A suite the command line does not name, one missing, another first suite.
        for bad in [
            &["bookworm", "bookworm-security", "experimental"][..],
            &["bookworm"],
            &["bookworm-security", "bookworm"],
            &[],
        ] {
            let e = align(&suites(bad), &wanted).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
        }
        assert_eq!(
            align(&suites(&["trixie"]), &wanted[..1])
                .unwrap_err()
                .to_string(),
            "the tarball holds suite(s) 'trixie', the command line asks for 'bookworm' (SUITE, then --extra-suites)"
        );
    }
}
