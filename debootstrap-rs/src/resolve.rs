//! The package set: debootstrap's own choice for a suite and variant, made in
//! milliseconds instead of its shell loop, then checked as dpkg would check it.
//!
//! debootstrap (`work_out_debs` in `scripts/debian-common`, `resolve_deps` in
//! `functions`) takes every `Priority: required` package (plus `usr-is-merged` on
//! bookworm), a variant's base list (`apt` for minbase, `apt build-essential` for buildd,
//! every `Priority: important` package by default), removes `--exclude`, adds
//! `--include`, and closes both lists under Depends and Pre-Depends taking **the first
//! alternative only**, ignoring versions, and dropping names that are no real package
//! (virtual ones) or are excluded as dependencies (`usrmerge` from bookworm on). That is
//! phase one here, kept identical so that the result is the same set.
//!
//! Phase two goes beyond debootstrap: every dependency of the set is checked with
//! versions, alternatives and Provides, and a group nothing in the set satisfies gets
//! its first satisfiable alternative (or a provider) added, until nothing is missing.
//! Where debootstrap's result is consistent (bookworm and trixie minbase are), phase two
//! adds nothing.

use std::collections::{BTreeSet, HashMap};

use crate::control::{Atom, parse_deps};
use crate::index::{Index, Pkg, Priority};

/// debootstrap's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `-`: required + important.
    Default,
    /// required + apt.
    Minbase,
    /// minbase + build-essential.
    Buildd,
    /// the default set + binutils.
    Fakechroot,
}

impl Variant {
    /// Parse `--variant`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "-" | "default" | "important" => Self::Default,
            "minbase" | "required" => Self::Minbase,
            "buildd" => Self::Buildd,
            "fakechroot" => Self::Fakechroot,
            _ => return None,
        })
    }

    /// The name debootstrap uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "-",
            Self::Minbase => "minbase",
            Self::Buildd => "buildd",
            Self::Fakechroot => "fakechroot",
        }
    }
}

/// What the set is computed from.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The variant.
    pub variant: Variant,
    /// The codename of the main suite (from its Release file).
    pub codename: &'a str,
    /// `--include`.
    pub include: &'a [String],
    /// `--exclude`.
    pub exclude: &'a [String],
    /// The first mirror is https (debootstrap then adds ca-certificates).
    pub https: bool,
}

/// The resolved set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// debootstrap's `required` list, sorted.
    pub required: Vec<String>,
    /// debootstrap's `base` list (not in required), sorted.
    pub base: Vec<String>,
    /// What phase two added to make the set consistent, sorted.
    pub added: Vec<String>,
}

impl Selection {
    /// Every package, sorted.
    pub fn all(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .required
            .iter()
            .chain(&self.base)
            .chain(&self.added)
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A package that was asked for is not in the indexes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package '{0}' is not in the indexes of the chosen suites and components")]
pub struct NotFound(pub String);

/// Codenames before bookworm, where debootstrap does no usrmerge special-casing.
const BEFORE_BOOKWORM: &[&str] = &[
    "etch", "lenny", "squeeze", "wheezy", "jessie", "stretch", "buster", "bullseye",
];

/// True when `codename` is bookworm or older.
pub fn at_most_bookworm(codename: &str) -> bool {
    codename == "bookworm" || BEFORE_BOOKWORM.contains(&codename)
}

/// Compute the package set.
pub fn resolve(index: &Index, req: &Request<'_>) -> Result<Selection, NotFound> {
    let with_priority = |p: Priority| -> Vec<String> {
        index
            .candidates()
            .into_iter()
            .filter(|c| c.rec().priority == p)
            .map(|c| c.name().to_owned())
            .collect()
    };
    let mut required = with_priority(Priority::Required);
    let mut base: Vec<String> = match req.variant {
        Variant::Default | Variant::Fakechroot => with_priority(Priority::Important),
        Variant::Buildd => vec!["apt".into(), "build-essential".into()],
        Variant::Minbase => vec!["apt".into()],
    };
    if req.variant == Variant::Fakechroot {
        required.push("binutils".into());
    }
    if req.https {
        base.push("ca-certificates".into());
    }
    let mut exclude_dependency: Vec<&str> = Vec::new();
    if req.codename == "bookworm" {
        required.push("usr-is-merged".into());
    }
    if !BEFORE_BOOKWORM.contains(&req.codename) {
        exclude_dependency.push("usrmerge");
    }
    base.extend(req.include.iter().cloned());
    let excluded = |n: &String| !req.exclude.contains(n);
    let required: BTreeSet<String> = required.into_iter().filter(excluded).collect();
    let base: BTreeSet<String> = base.into_iter().filter(excluded).collect();
    for name in required.iter().chain(&base) {
        if index.candidate(name).is_none() {
            return Err(NotFound(name.clone()));
        }
    }

    let required = close_first_alternatives(index, required, &exclude_dependency);
    let base: BTreeSet<String> = close_first_alternatives(index, base, &exclude_dependency)
        .difference(&required)
        .cloned()
        .collect();

    let mut all: BTreeSet<String> = required.union(&base).cloned().collect();
    let avoid: Vec<&str> = exclude_dependency
        .iter()
        .copied()
        .chain(req.exclude.iter().map(String::as_str))
        .collect();
    let added = complete(index, &mut all, &avoid);
    Ok(Selection {
        required: required.into_iter().collect(),
        base: base.into_iter().collect(),
        added,
    })
}

/// The first alternative's name of every group of Depends and Pre-Depends.
fn first_alternatives<'a>(p: &Pkg<'a>) -> impl Iterator<Item = &'a str> {
    parse_deps(p.depends())
        .into_iter()
        .chain(parse_deps(p.pre_depends()))
        .map(|g| g[0].name)
}

/// debootstrap's `resolve_deps`: the closure under first alternatives, real packages only.
fn close_first_alternatives(
    index: &Index,
    start: BTreeSet<String>,
    exclude_dependency: &[&str],
) -> BTreeSet<String> {
    let mut all = start.clone();
    let mut todo: Vec<String> = start.into_iter().collect();
    while let Some(name) = todo.pop() {
        // debootstrap reads the dependencies of every stanza of that name, in every
        // index; so do we.
        for p in index.named(&name) {
            for dep in first_alternatives(&p) {
                if exclude_dependency.contains(&dep) || index.candidate(dep).is_none() {
                    continue;
                }
                if all.insert(dep.to_owned()) {
                    todo.push(dep.to_owned());
                }
            }
        }
    }
    all
}

/// Does `atom` hold for the selected `set`?
fn satisfied(
    index: &Index,
    set: &BTreeSet<String>,
    providers: &Providers,
    atom: &Atom<'_>,
) -> bool {
    if set.contains(atom.name)
        && let Some(c) = index.candidate(atom.name)
        && atom
            .version
            .is_none_or(|(rel, v)| rel.holds(c.version(), v))
    {
        return true;
    }
    providers.get(atom.name).is_some_and(|ps| {
        ps.iter().any(|(provider, version)| {
            set.contains(*provider)
                && match (atom.version, version) {
                    (None, _) => true,
                    (Some((rel, want)), Some(have)) => rel.holds(have, want),
                    (Some(_), None) => false,
                }
        })
    })
}

/// virtual name → (provider, provided version).
type Providers<'a> = HashMap<&'a str, Vec<(&'a str, Option<&'a str>)>>;

fn providers(index: &Index) -> Providers<'_> {
    let mut map: Providers<'_> = HashMap::new();
    for c in index.candidates() {
        for group in parse_deps(c.provides()) {
            for atom in group {
                map.entry(atom.name)
                    .or_default()
                    .push((c.name(), atom.version.map(|(_, v)| v)));
            }
        }
    }
    for v in map.values_mut() {
        v.sort_unstable();
    }
    map
}

/// Phase two: add what makes every dependency of the set hold. Returns the additions.
fn complete(index: &Index, set: &mut BTreeSet<String>, avoid: &[&str]) -> Vec<String> {
    let providers = providers(index);
    let mut added = Vec::new();
    loop {
        let mut missing: Option<String> = None;
        'outer: for name in set.iter() {
            let Some(p) = index.candidate(name) else {
                continue;
            };
            for group in parse_deps(p.depends())
                .into_iter()
                .chain(parse_deps(p.pre_depends()))
            {
                if group.iter().any(|a| satisfied(index, set, &providers, a)) {
                    continue;
                }
                missing = choose(index, &providers, &group, avoid);
                if missing.is_some() {
                    break 'outer;
                }
            }
        }
        match missing {
            Some(name) => {
                set.insert(name.clone());
                added.push(name);
            }
            None => break,
        }
    }
    added.sort();
    added
}

/// The package to add for an unsatisfied group: the first real alternative whose
/// version fits and that is not avoided, else the first provider, else the avoided one.
fn choose(
    index: &Index,
    providers: &Providers,
    group: &[Atom<'_>],
    avoid: &[&str],
) -> Option<String> {
    let fits = |a: &Atom<'_>| {
        index
            .candidate(a.name)
            .is_some_and(|c| a.version.is_none_or(|(rel, v)| rel.holds(c.version(), v)))
    };
    let provider = |a: &Atom<'_>| -> Option<String> {
        providers.get(a.name)?.iter().find_map(|(p, v)| {
            let ok = match (a.version, v) {
                (None, _) => true,
                (Some((rel, want)), Some(have)) => rel.holds(have, want),
                (Some(_), None) => false,
            };
            (ok && !avoid.contains(p)).then(|| (*p).to_owned())
        })
    };
    group
        .iter()
        .find(|a| fits(a) && !avoid.contains(&a.name))
        .map(|a| a.name.to_owned())
        .or_else(|| group.iter().find_map(provider))
        .or_else(|| group.iter().find(|a| fits(a)).map(|a| a.name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(name: &str, prio: &str, deps: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: amd64\nPriority: {prio}\n\
             Depends: {deps}\n{extra}Filename: pool/{name}.deb\nSize: 1\n\
             SHA256: 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f\n\n"
        )
    }

    fn index(stanzas: &[String]) -> Index {
        let mut idx = Index::new();
        idx.add(stanzas.concat().as_bytes(), 0).unwrap();
        idx
    }

    fn req<'a>(variant: Variant, codename: &'a str) -> Request<'a> {
        Request {
            variant,
            codename,
            include: &[],
            exclude: &[],
            https: false,
        }
    }

    #[test]
    fn debootstrap_takes_first_alternatives_and_prunes_usrmerge() {
        let idx = index(&[
            stanza("dpkg", "required", "libc6 (>= 2), tar", ""),
            stanza("libc6", "optional", "", ""),
            stanza("tar", "required", "", ""),
            stanza(
                "init-system-helpers",
                "required",
                "usrmerge | usr-is-merged",
                "",
            ),
            stanza("usrmerge", "optional", "perl", ""),
            stanza("perl", "optional", "", ""),
            stanza("usr-is-merged", "optional", "", ""),
            stanza("apt", "important", "gpgv | gpgv2, libc6", ""),
            stanza("gpgv", "optional", "", ""),
            stanza("gpgv2", "optional", "", ""),
            stanza("vim", "important", "awk", ""),
            stanza("mawk", "required", "", "Provides: awk\n"),
        ]);
        let s = resolve(&idx, &req(Variant::Minbase, "bookworm")).unwrap();
        assert_eq!(
            s.required,
            [
                "dpkg",
                "init-system-helpers",
                "libc6",
                "mawk",
                "tar",
                "usr-is-merged"
            ]
        );
        assert_eq!(s.base, ["apt", "gpgv"]);
        assert!(s.added.is_empty());
        // The default variant takes the important packages; awk is virtual, mawk provides it.
        let s = resolve(&idx, &req(Variant::Default, "trixie")).unwrap();
        assert!(s.base.contains(&"vim".to_owned()));
        assert!(!s.required.contains(&"usr-is-merged".to_owned()));
        // Phase two adds usr-is-merged for the excluded first alternative on trixie.
        assert_eq!(s.added, ["usr-is-merged"]);
        assert!(!s.all().contains(&"usrmerge".to_owned()));
    }

    #[test]
    fn include_exclude_and_missing() {
        let idx = index(&[
            stanza("a", "required", "", ""),
            stanza("b", "required", "", ""),
            stanza("apt", "important", "", ""),
            stanza("extra", "optional", "a", ""),
        ]);
        let include = ["extra".to_owned()];
        let exclude = ["b".to_owned()];
        let mut r = req(Variant::Minbase, "trixie");
        r.include = &include;
        r.exclude = &exclude;
        let s = resolve(&idx, &r).unwrap();
        assert_eq!(s.required, ["a"]);
        assert_eq!(s.base, ["apt", "extra"]);
        let include = ["nope".to_owned()];
        r.include = &include;
        assert_eq!(resolve(&idx, &r).unwrap_err(), NotFound("nope".into()));
    }

    #[test]
    fn versions_decide_in_phase_two() {
        let idx = index(&[
            stanza("a", "required", "old (>= 2) | new", ""),
            stanza("old", "optional", "", ""),
            stanza("new", "optional", "", ""),
            stanza("apt", "required", "", ""),
        ]);
        let s = resolve(&idx, &req(Variant::Minbase, "trixie")).unwrap();
        // debootstrap's phase takes `old` although it is too old; phase two adds `new`.
        assert_eq!(s.required, ["a", "apt", "old"]);
        assert_eq!(s.added, ["new"]);
    }
}
