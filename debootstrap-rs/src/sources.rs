//! The host's apt sources, read to find a mirror when none is given: deb822 `.sources`
//! files and one-line `sources.list` entries alike. No host name is ever built in.

use std::path::Path;

use crate::control;

/// One `deb` source: a URI and the suites it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The mirror's URI, without a trailing slash.
    pub uri: String,
    /// The suites listed for it.
    pub suites: Vec<String>,
}

/// Parse a one-line `sources.list`: `deb [options] URI SUITE [COMPONENT…]`.
pub fn parse_list(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        // Options in brackets: `[arch=amd64 signed-by=/x]`, possibly several words.
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(Source {
            uri: uri.trim_end_matches('/').to_owned(),
            suites: vec![suite.to_owned()],
        });
    }
    out
}

/// Parse a deb822 `.sources` file.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for st in control::parse(text) {
        let types = st.get("Types").unwrap_or("");
        if !types.split_whitespace().any(|t| t == "deb") {
            continue;
        }
        if st
            .get("Enabled")
            .is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        let suites: Vec<String> = st
            .get("Suites")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        for uri in st.get("URIs").unwrap_or("").split_whitespace() {
            out.push(Source {
                uri: uri.trim_end_matches('/').to_owned(),
                suites: suites.clone(),
            });
        }
    }
    out
}

/// Every `deb` source of the host: `/etc/apt/sources.list`, then `sources.list.d/*.list`
/// and `*.sources` in name order (apt's order).
pub fn host_sources(etc_apt: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        out.extend(parse_list(&t));
    }
    let mut files: Vec<_> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let Ok(t) = std::fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("list") => out.extend(parse_list(&t)),
            Some("sources") => out.extend(parse_deb822(&t)),
            _ => {}
        }
    }
    out.retain(|s| s.uri.starts_with("http://") || s.uri.starts_with("https://"));
    out
}

/// The mirror for `suite`: a source that lists it; else, for a main suite (no `-` in
/// it), the first source of a main suite (the same archive serves every release).
pub fn mirror_for(sources: &[Source], suite: &str) -> Option<String> {
    if let Some(s) = sources.iter().find(|s| s.suites.iter().any(|x| x == suite)) {
        return Some(s.uri.clone());
    }
    if let Some((_, pocket)) = suite.split_once('-') {
        // bookworm-security: a source serving any *-security suite.
        let pocket = format!("-{pocket}");
        return sources
            .iter()
            .find(|s| s.suites.iter().any(|x| x.ends_with(&pocket)))
            .map(|s| s.uri.clone());
    }
    sources
        .iter()
        .find(|s| {
            s.suites
                .iter()
                .any(|x| !x.contains('-') && !x.contains('/'))
        })
        .map(|s| s.uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_format() {
        let t = "# comment\ndeb http://m.example/debian bookworm main\n\
                 deb-src http://m.example/debian bookworm main\n\
                 deb [arch=amd64 signed-by=/k.gpg] http://s.example/debian-security/ bookworm-security main # x\n";
        let s = parse_list(t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].uri, "http://m.example/debian");
        assert_eq!(s[1].uri, "http://s.example/debian-security");
        assert_eq!(s[1].suites, ["bookworm-security"]);
    }

    #[test]
    fn deb822_format() {
        let t = "Types: deb\n# snapshot\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\n\
                 Components: main\n\nTypes: deb\nURIs: http://s.example/debian-security\n\
                 Suites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://x\nSuites: sid\n\n\
                 Types: deb\nEnabled: no\nURIs: http://off\nSuites: sid\n";
        let s = parse_deb822(t);
        assert_eq!(s.len(), 2);
        assert_eq!(
            mirror_for(&s, "bookworm").as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_for(&s, "trixie").as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_for(&s, "bookworm-updates").as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_for(&s, "trixie-security").as_deref(),
            Some("http://s.example/debian-security")
        );
        assert_eq!(mirror_for(&[], "bookworm"), None);
    }
}
