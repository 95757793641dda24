//! `--make-tarball` / `--unpack-tarball`: the verified InRelease files, the indexes and
//! the .debs of a run in one tarball, which a later run (offline) verifies again exactly
//! as downloads: signature, then index and .deb hashes.

use std::fs::{self, File};
use std::io::{self, Read};
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
    let ctx = |e: io::Error| Error::io(format!("cannot write {}", quote(file)), e);
    // Stage only the relevant files in a scratch directory: what this run wrote (the
    // manifest, the InRelease files), and hard links to the .debs and indexes.
    let stage = crate::scratch(&cache.dir)?;
    let s = stage.path();
    for sub in ["debs", "indexes", "inrelease"] {
        fs::create_dir_all(s.join(sub)).map_err(ctx)?;
    }
    let manifest = Manifest {
        sources: loaded
            .iter()
            .map(|l| (l.source.suite.clone(), l.source.mirror.clone()))
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ctx(io::Error::other(e)))?;
    fs::write(s.join("manifest.json"), json).map_err(ctx)?;
    let link = |from: &Path, sub: &str| {
        let to = s.join(sub).join(from.file_name().unwrap_or_default());
        match fs::hard_link(from, &to) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => fs::copy(from, &to).map(|_| ()),
            // Linked, or already (an index two Release files list): a copy onto the
            // link would truncate the cached file itself.
            _ => Ok(()),
        }
        .map_err(ctx)
    };
    for j in jobs {
        link(&j.dest, "debs")?;
    }
    for (n, l) in loaded.iter().enumerate() {
        fs::write(s.join("inrelease").join(n.to_string()), &l.inrelease).map_err(ctx)?;
        for (path, ck) in &l.release.files {
            let p = cache.index_path(&ck.sha256);
            if path.ends_with("/Packages") && p.exists() {
                link(&p, "indexes")?;
            }
        }
    }
    let tmp = http::partial_name(file);
    output::write_tar(s, &tmp, compression(file), Some(0))
        .and_then(|()| fs::rename(&tmp, file).map_err(ctx))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

/// A bundle is compressed as its name says; gzip (debootstrap's choice) for any other
/// name, when it is written and when it is read.
fn compression(bundle: &Path) -> output::Compression {
    match Format::from_name(bundle) {
        Format::Tar(c) => c,
        Format::Dir | Format::Ext4 => output::Compression::Gzip,
    }
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
    let r: Box<dyn Read> = match compression(bundle) {
        output::Compression::Gzip => Box::new(flate2::read::GzDecoder::new(f)),
        output::Compression::Xz => Box::new(liblzma::read::XzDecoder::new(f)),
        output::Compression::Zstd => Box::new(zstd::Decoder::new(f).map_err(ctx)?),
        output::Compression::None => Box::new(f),
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

    #[test]
    fn a_bundle_is_read_with_the_compression_it_was_written_with() {
        use output::Compression::{Gzip, None, Xz};
        for (name, c) in [
            ("b.tar", None),
            ("b.tar.xz", Xz),
            ("b.tgz", Gzip),
            ("b.bundle", Gzip),
            ("b.img", Gzip),
        ] {
            assert_eq!(compression(Path::new(name)), c, "{name}");
        }
    }
}
