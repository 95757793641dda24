//! The Packages indexes, parsed as they stream in: only the fields the resolver and the
//! downloader need are kept, in one string arena, so that a 50 MB index costs a few MB.

use std::collections::HashMap;
use std::io::{self, BufRead};

use crate::release::parse_hex32;
use crate::version;

/// A span of the arena.
#[derive(Debug, Clone, Copy, Default)]
struct Span(u32, u32);

/// `Priority:` values debootstrap looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// required
    Required,
    /// important
    Important,
    /// standard
    Standard,
    /// optional, extra, anything else
    Other,
}

/// One binary package of an index.
#[derive(Debug, Clone)]
pub struct Record {
    name: Span,
    version: Span,
    arch: Span,
    depends: Span,
    pre_depends: Span,
    provides: Span,
    replaces: Span,
    filename: Span,
    multi_arch: Span,
    priority_text: Span,
    /// `Priority:`.
    pub priority: Priority,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Size:`.
    pub size: u64,
    /// `SHA256:`.
    pub sha256: [u8; 32],
    /// `Installed-Size:` in KiB (0 when absent).
    pub installed_size: u64,
    /// Which source (suite and mirror) the record came from.
    pub source: usize,
    /// Which index file (see [`Index::set_file`]) the stanza is in.
    pub file: u32,
    /// Where the stanza is in that file, uncompressed: byte offset and length (without
    /// the blank line that ends it).
    pub stanza: (u64, u32),
}

/// All the records of the indexes of one run (every suite, every component).
#[derive(Debug, Default)]
pub struct Index {
    arena: String,
    records: Vec<Record>,
    /// name → the records of that name.
    by_name: HashMap<String, Vec<u32>>,
}

/// A record with access to its strings.
#[derive(Debug, Clone, Copy)]
pub struct Pkg<'a> {
    index: &'a Index,
    /// Position in the index.
    pub id: u32,
    rec: &'a Record,
}

impl<'a> Pkg<'a> {
    fn s(&self, span: Span) -> &'a str {
        &self.index.arena[span.0 as usize..(span.0 + span.1) as usize]
    }
    /// `Package:`.
    pub fn name(&self) -> &'a str {
        self.s(self.rec.name)
    }
    /// `Version:`.
    pub fn version(&self) -> &'a str {
        self.s(self.rec.version)
    }
    /// `Architecture:`.
    pub fn arch(&self) -> &'a str {
        self.s(self.rec.arch)
    }
    /// `Depends:`.
    pub fn depends(&self) -> &'a str {
        self.s(self.rec.depends)
    }
    /// `Pre-Depends:`.
    pub fn pre_depends(&self) -> &'a str {
        self.s(self.rec.pre_depends)
    }
    /// `Provides:`.
    pub fn provides(&self) -> &'a str {
        self.s(self.rec.provides)
    }
    /// `Replaces:`.
    pub fn replaces(&self) -> &'a str {
        self.s(self.rec.replaces)
    }
    /// `Filename:` (relative to the mirror's root).
    pub fn filename(&self) -> &'a str {
        self.s(self.rec.filename)
    }
    /// `Multi-Arch:`.
    pub fn multi_arch(&self) -> &'a str {
        self.s(self.rec.multi_arch)
    }
    /// `Priority:` as the index gives it (the archive's override, which dpkg's database
    /// records; the .deb's own control file may say otherwise).
    pub fn priority_text(&self) -> &'a str {
        self.s(self.rec.priority_text)
    }
    /// The record's other fields.
    pub fn rec(&self) -> &'a Record {
        self.rec
    }
}

/// A malformed index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Reading failed (network, decompression).
    #[error("reading the index")]
    Read(#[source] io::Error),
    /// A stanza lacks a field every package must have.
    #[error("package '{package}' has no valid {field} field")]
    Missing {
        /// The package.
        package: String,
        /// The field.
        field: &'static str,
    },
}

#[derive(Default)]
struct Pending {
    name: Option<Span>,
    version: Span,
    arch: Span,
    depends: Span,
    pre_depends: Span,
    provides: Span,
    replaces: Span,
    filename: Option<Span>,
    multi_arch: Span,
    priority_text: Span,
    priority: Option<Priority>,
    installed_size: u64,
    start: u64,
    essential: bool,
    size: Option<u64>,
    sha256: Option<[u8; 32]>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.arena.len() as u32;
        self.arena.push_str(s);
        Span(start, s.len() as u32)
    }

    /// Parse one Packages file from `reader` into the index, tagging its records with
    /// `source`. Returns the number of records added.
    pub fn add(&mut self, mut reader: impl BufRead, source: usize) -> Result<usize, IndexError> {
        let mut line = String::new();
        let mut cur = Pending::default();
        let mut added = 0;
        // Byte offset of the line being read, and whether a stanza has begun.
        let mut pos: u64 = 0;
        let mut in_stanza = false;
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(IndexError::Read)?;
            let at = pos;
            pos += n as u64;
            let l = line.trim_end_matches(['\n', '\r']);
            if n == 0 || l.is_empty() {
                if cur.name.is_some() {
                    let len = u32::try_from(at - cur.start).unwrap_or(u32::MAX);
                    self.finish(std::mem::take(&mut cur), source, len)?;
                    added += 1;
                }
                cur.start = pos;
                in_stanza = false;
                if n == 0 {
                    return Ok(added);
                }
                continue;
            }
            if !in_stanza {
                cur.start = at;
                in_stanza = true;
            }
            if l.starts_with([' ', '\t']) {
                continue; // continuation lines (Description) are not kept
            }
            let Some((field, value)) = l.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match field {
                "Package" => cur.name = Some(self.push_str(value)),
                "Version" => cur.version = self.push_str(value),
                "Architecture" => cur.arch = self.push_str(value),
                "Depends" => cur.depends = self.push_str(value),
                "Pre-Depends" => cur.pre_depends = self.push_str(value),
                "Provides" => cur.provides = self.push_str(value),
                "Replaces" => cur.replaces = self.push_str(value),
                "Filename" => cur.filename = Some(self.push_str(value)),
                "Multi-Arch" => cur.multi_arch = self.push_str(value),
                "Installed-Size" => cur.installed_size = value.parse().unwrap_or(0),
                "Priority" => {
                    cur.priority_text = self.push_str(value);
                    cur.priority = Some(match value {
                        "required" => Priority::Required,
                        "important" => Priority::Important,
                        "standard" => Priority::Standard,
                        _ => Priority::Other,
                    });
                }
                "Essential" => cur.essential = value == "yes",
                "Size" => cur.size = value.parse().ok(),
                "SHA256" => cur.sha256 = parse_hex32(value),
                _ => {}
            }
        }
    }

    #[allow(clippy::needless_pass_by_value)] // consumed: the stanza is done
    fn finish(&mut self, p: Pending, source: usize, len: u32) -> Result<(), IndexError> {
        let name = p.name.expect("checked by caller");
        let name_str = self.arena[name.0 as usize..(name.0 + name.1) as usize].to_owned();
        let missing = |field| IndexError::Missing {
            package: name_str.clone(),
            field,
        };
        let rec = Record {
            name,
            version: p.version,
            arch: p.arch,
            depends: p.depends,
            pre_depends: p.pre_depends,
            provides: p.provides,
            replaces: p.replaces,
            filename: p.filename.ok_or_else(|| missing("Filename"))?,
            multi_arch: p.multi_arch,
            priority_text: p.priority_text,
            priority: p.priority.unwrap_or(Priority::Other),
            essential: p.essential,
            size: p.size.ok_or_else(|| missing("Size"))?,
            sha256: p.sha256.ok_or_else(|| missing("SHA256"))?,
            installed_size: p.installed_size,
            source,
            file: 0,
            stanza: (p.start, len),
        };
        if p.version.1 == 0 {
            return Err(missing("Version"));
        }
        let id = self.records.len() as u32;
        self.records.push(rec);
        self.by_name.entry(name_str).or_default().push(id);
        Ok(())
    }

    /// Move the records of `other` (parsed on its own, then verified) into this index.
    pub fn merge(&mut self, other: Index) {
        if self.records.is_empty() {
            // The common case (one index): no copy of the arena.
            *self = other;
            return;
        }
        let off = self.arena.len() as u32;
        self.arena.push_str(&other.arena);
        let base = self.records.len() as u32;
        let shift = |s: &mut Span| {
            if s.1 != 0 {
                s.0 += off;
            }
        };
        for mut r in other.records {
            for s in [
                &mut r.name,
                &mut r.version,
                &mut r.arch,
                &mut r.depends,
                &mut r.pre_depends,
                &mut r.provides,
                &mut r.replaces,
                &mut r.filename,
                &mut r.multi_arch,
                &mut r.priority_text,
            ] {
                shift(s);
            }
            self.records.push(r);
        }
        for (name, ids) in other.by_name {
            self.by_name
                .entry(name)
                .or_default()
                .extend(ids.into_iter().map(|i| i + base));
        }
    }

    /// Say which index file every record parsed so far came from (an index parsed from
    /// one file, before it is merged).
    pub fn set_file(&mut self, file: u32) {
        for r in &mut self.records {
            r.file = file;
        }
    }

    /// The record `id`.
    pub fn get(&self, id: u32) -> Pkg<'_> {
        Pkg {
            index: self,
            id,
            rec: &self.records[id as usize],
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no index was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record named `name` (one per index that has it).
    pub fn named<'s>(&'s self, name: &str) -> impl Iterator<Item = Pkg<'s>> + 's {
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|&id| self.get(id))
    }

    /// The candidate for `name`, as apt picks it among equal pins: the highest version
    /// (the first source wins a tie).
    pub fn candidate(&self, name: &str) -> Option<Pkg<'_>> {
        let ids = self.by_name.get(name)?;
        let mut best = self.get(ids[0]);
        for &id in &ids[1..] {
            let p = self.get(id);
            if version::compare(p.version(), best.version()).is_gt() {
                best = p;
            }
        }
        Some(best)
    }

    /// The candidates of every name, in name order.
    pub fn candidates(&self) -> Vec<Pkg<'_>> {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| self.candidate(n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PACKAGES: &str = "\
Package: a
Version: 1.0
Architecture: amd64
Priority: required
Essential: yes
Depends: b (>= 2), c | d
Description: x
 long
Filename: pool/main/a/a_1.0_amd64.deb
Size: 10
SHA256: 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f

Package: b
Version: 2.0
Architecture: all
Priority: optional
Filename: pool/main/b/b_2.0_all.deb
Size: 20
SHA256: 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f
";

    #[test]
    fn keeps_the_fields_it_needs() {
        let mut idx = Index::new();
        assert_eq!(idx.add(PACKAGES.as_bytes(), 0).unwrap(), 2);
        let a = idx.candidate("a").unwrap();
        assert_eq!(a.version(), "1.0");
        assert_eq!(a.depends(), "b (>= 2), c | d");
        assert!(a.rec().essential);
        assert_eq!(a.rec().priority, Priority::Required);
        assert_eq!(a.filename(), "pool/main/a/a_1.0_amd64.deb");
        let b = idx.candidate("b").unwrap();
        assert_eq!(b.arch(), "all");
        assert_eq!(b.rec().size, 20);
        assert!(idx.candidate("c").is_none());
    }

    #[test]
    fn the_highest_version_wins_across_suites() {
        let mut idx = Index::new();
        idx.add(PACKAGES.as_bytes(), 0).unwrap();
        let upd = PACKAGES.replace("Version: 1.0", "Version: 1.0+deb12u1");
        let mut other = Index::new();
        other.add(upd.as_bytes(), 1).unwrap();
        idx.merge(other);
        assert_eq!(
            idx.candidate("b").unwrap().filename(),
            "pool/main/b/b_2.0_all.deb"
        );
        let a = idx.candidate("a").unwrap();
        assert_eq!(a.version(), "1.0+deb12u1");
        assert_eq!(a.rec().source, 1);
        assert_eq!(idx.candidate("b").unwrap().rec().source, 0);
        assert_eq!(idx.candidates().len(), 2);
    }

    #[test]
    fn stanzas_are_located_in_the_file() {
        let mut idx = Index::new();
        let text = format!("\n{PACKAGES}\n\n");
        idx.add(text.as_bytes(), 0).unwrap();
        for (name, prio) in [("a", "required"), ("b", "optional")] {
            let p = idx.candidate(name).unwrap();
            let (at, len) = p.rec().stanza;
            let stanza = &text[at as usize..at as usize + len as usize];
            assert!(
                stanza.starts_with(&format!("Package: {name}\n")),
                "{stanza:?}"
            );
            assert!(
                stanza.ends_with('\n') && !stanza.ends_with("\n\n"),
                "{stanza:?}"
            );
            assert_eq!(p.priority_text(), prio);
        }
        assert!(
            text[..idx.candidate("a").unwrap().rec().stanza.0 as usize]
                .trim()
                .is_empty()
        );
    }

    #[test]
    fn a_stanza_without_a_hash_is_an_error() {
        let bad = "Package: x\nVersion: 1\nFilename: f\nSize: 1\n";
        let e = Index::new().add(bad.as_bytes(), 0).unwrap_err();
        assert_eq!(e.to_string(), "package 'x' has no valid SHA256 field");
    }
}
