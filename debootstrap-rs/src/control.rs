//! deb822 control data: stanzas of `Field: value` lines with indented continuation
//! lines, as in Release, Packages, `DEBIAN/control` and apt's `.sources` files; and the
//! dependency fields (`a (>= 1) | b, c:any`) in them.

use crate::version::Relation;

/// One stanza: its fields in file order, values with continuation lines joined by `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    /// (name, value) in file order.
    pub fields: Vec<(String, String)>,
}

impl Stanza {
    /// The value of `name` (case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse every stanza of `text`. Comment lines (`#`) are skipped; a blank line ends a
/// stanza.
pub fn parse(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim_start());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            cur.fields
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    out
}

/// One alternative of a dependency: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom<'a> {
    /// The package (or virtual package) name.
    pub name: &'a str,
    /// The architecture qualifier (`any`, `native`, or an architecture).
    pub arch: Option<&'a str>,
    /// The version restriction.
    pub version: Option<(Relation, &'a str)>,
}

/// Parse a dependency field into groups of alternatives. Architecture restrictions in
/// brackets and build profiles in angle brackets (not used in binary packages) are
/// skipped.
pub fn parse_deps(field: &str) -> Vec<Vec<Atom<'_>>> {
    field
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|group| group.split('|').filter_map(parse_atom).collect())
        .filter(|g: &Vec<Atom<'_>>| !g.is_empty())
        .collect()
}

fn parse_atom(s: &str) -> Option<Atom<'_>> {
    let s = s.trim();
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
        .unwrap_or(s.len());
    let (full, rest) = s.split_at(name_end);
    if full.is_empty() {
        return None;
    }
    let (name, arch) = match full.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (full, None),
    };
    if name.is_empty() {
        // `:any` alone names no package.
        return None;
    }
    let version = rest.find('(').and_then(|open| {
        let close = rest[open..].find(')')? + open;
        let inner = rest[open + 1..close].trim();
        let op_end = inner
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(inner.len());
        let rel = Relation::parse(&inner[..op_end])?;
        Some((rel, inner[op_end..].trim()))
    });
    Some(Atom {
        name,
        arch,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_and_continuations() {
        let t = "Package: a\nDescription: short\n long line\n .\nVersion: 1\n\n\n# c\nPackage: b\n";
        let s = parse(t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("package"), Some("a"));
        assert_eq!(s[0].get("Description"), Some("short\nlong line\n."));
        assert_eq!(s[0].get("Version"), Some("1"));
        assert_eq!(s[1].get("Package"), Some("b"));
        assert_eq!(s[1].get("Version"), None);
    }

    #[test]
    fn dependency_fields() {
        let d =
            parse_deps("libc6 (>= 2.34), usrmerge | usr-is-merged, perl:any, foo [amd64] (<< 3)");
        assert_eq!(d.len(), 4);
        assert_eq!(d[0][0].name, "libc6");
        assert_eq!(d[0][0].version, Some((Relation::GreaterEq, "2.34")));
        assert_eq!(d[1].len(), 2);
        assert_eq!(d[1][1].name, "usr-is-merged");
        assert_eq!(d[2][0].name, "perl");
        assert_eq!(d[2][0].arch, Some("any"));
        assert_eq!(d[3][0].version, Some((Relation::Less, "3")));
        assert!(parse_deps("").is_empty());
        assert!(parse_deps(" , ").is_empty());
    }

    #[test]
    fn an_atom_without_a_package_name_is_skipped() {
        // Found by fuzzing (fuzz/fuzz_targets/debootstrap_deb822.rs): `:1%2` (the value of
        // a line `nameserver fe80::1%2`) was an atom named "".
        assert!(parse_deps(":1%2").is_empty());
        assert!(parse_deps(":any (>= 1)").is_empty());
        let d = parse_deps("a | :any, :b");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].len(), 1);
        assert_eq!(d[0][0].name, "a");
    }
}
