//! Debian version numbers (`[epoch:]upstream[-revision]`) and their order, as
//! deb-version(7) defines it: epochs numerically, then the upstream part and the revision
//! each compared by alternating non-digit and digit runs, where `~` sorts before
//! everything (even the end of the string) and letters sort before other characters.

use std::cmp::Ordering;

/// Compare two version strings the way `dpkg --compare-versions` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// The weight of one character in the non-digit run: `~` first, then the end, then
/// letters, then everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefix, character by character.
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            a = &a[1..];
            b = &b[1..];
        }
        // Digit run, numerically (leading zeros ignored, any length).
        let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let na = trim_zeros(&a[..da]);
        let nb = trim_zeros(&b[..db]);
        let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n..]
}

/// A version relation of a dependency: `<<`, `<=`, `=`, `>=`, `>>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `<<`
    Less,
    /// `<=` (and the obsolete `<`)
    LessEq,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`)
    GreaterEq,
    /// `>>`
    Greater,
}

impl Relation {
    /// Parse the operator of a `(op version)` restriction.
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "<<" => Self::Less,
            "<=" | "<" => Self::LessEq,
            "=" => Self::Eq,
            ">=" | ">" => Self::GreaterEq,
            ">>" => Self::Greater,
            _ => return None,
        })
    }

    /// True when `version` satisfies `self wanted`.
    pub fn holds(self, version: &str, wanted: &str) -> bool {
        let o = compare(version, wanted);
        match self {
            Self::Less => o == Ordering::Less,
            Self::LessEq => o != Ordering::Greater,
            Self::Eq => o == Ordering::Equal,
            Self::GreaterEq => o != Ordering::Less,
            Self::Greater => o == Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn dpkg_order() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1:1.0", "2.0", Greater),
            ("0:1.0", "1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.0-10", "1.0-9", Greater),
            ("2.36-9+deb12u14", "2.36-9+deb12u4", Greater),
            ("1.001", "1.1", Equal),
            ("12.4+deb12u15", "12.4", Greater),
            ("5.36.0-7+deb12u3", "5.36.0-7", Greater),
            ("1.0-1~bpo1", "1.0-1", Less),
            ("10", "9", Greater),
            ("a", "", Greater),
            ("~", "", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn relations() {
        assert!(Relation::parse(">=").unwrap().holds("2.36-9", "2.36"));
        assert!(!Relation::parse("<<").unwrap().holds("2.36", "2.36"));
        assert!(Relation::parse("=").unwrap().holds("0:1.0", "1.0"));
        assert!(Relation::parse(">>").unwrap().holds("1.0.1", "1.0"));
        assert!(Relation::parse("<=").unwrap().holds("1.0", "1.0"));
        assert_eq!(Relation::parse("!="), None);
    }
}
