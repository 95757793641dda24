//! The Release file (the signed text of InRelease): which suite it is, until when it is
//! valid, and the SHA-256 and size of every index it lists, the first link of the chain
//! that ends at each .deb.

use std::collections::HashMap;

use crate::control;

/// A SHA-256 digest and a size: what the signed chain promises about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    /// The size in bytes.
    pub size: u64,
    /// The SHA-256 digest.
    pub sha256: [u8; 32],
}

/// The fields of a Release file that debootstrap-rs uses.
#[derive(Debug, Clone, Default)]
pub struct Release {
    /// `Suite:` (stable, testing, unstable, oldstable-security…).
    pub suite: String,
    /// `Codename:` (bookworm, trixie, sid…).
    pub codename: String,
    /// `Valid-Until:` in seconds since the epoch.
    pub valid_until: Option<i64>,
    /// `Acquire-By-Hash: yes`: indexes are also under `by-hash/SHA256/<digest>`.
    pub by_hash: bool,
    /// The `SHA256:` list: path relative to the suite's directory → checksum.
    pub files: HashMap<String, Checksum>,
}

/// Why a Release file is not the one asked for or no longer valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// Not a Release file at all.
    #[error("not a Release file (no SHA256 list)")]
    NoChecksums,
    /// Neither Suite nor Codename is the suite asked for.
    #[error("it is for suite '{suite}' (codename '{codename}'), not '{wanted}'")]
    WrongSuite {
        /// The suite asked for.
        wanted: String,
        /// `Suite:`.
        suite: String,
        /// `Codename:`.
        codename: String,
    },
    /// `Valid-Until:` is there but is no date (never read as "valid forever").
    #[error("invalid Valid-Until '{0}'")]
    BadValidUntil(String),
    /// `Valid-Until:` lies in the past.
    #[error(
        "it expired on {until} (Valid-Until); use --no-check-valid-until for a snapshot mirror"
    )]
    Expired {
        /// The Valid-Until field as written.
        until: String,
    },
}

impl Release {
    /// Parse the (already verified) text of a Release file.
    pub fn parse(text: &str) -> Result<Self, ReleaseError> {
        let stanza = control::parse(text)
            .into_iter()
            .next()
            .ok_or(ReleaseError::NoChecksums)?;
        let get = |f: &str| stanza.get(f).unwrap_or("").to_owned();
        let mut files = HashMap::new();
        for line in stanza
            .get("SHA256")
            .ok_or(ReleaseError::NoChecksums)?
            .lines()
        {
            let mut it = line.split_whitespace();
            let (Some(hex), Some(size), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let (Some(sha256), Ok(size)) = (parse_hex32(hex), size.parse()) else {
                continue;
            };
            files.insert(path.to_owned(), Checksum { size, sha256 });
        }
        let valid_until = match stanza.get("Valid-Until") {
            None => None,
            Some(v) => Some(parse_date(v).ok_or_else(|| ReleaseError::BadValidUntil(v.into()))?),
        };
        Ok(Self {
            suite: get("Suite"),
            codename: get("Codename"),
            valid_until,
            by_hash: get("Acquire-By-Hash").eq_ignore_ascii_case("yes"),
            files,
        })
    }

    /// Check that this is the Release of `wanted` (by suite or codename) and, when
    /// `now` is given, that it has not expired.
    pub fn check(&self, wanted: &str, now: Option<i64>) -> Result<(), ReleaseError> {
        if self.suite != wanted && self.codename != wanted {
            return Err(ReleaseError::WrongSuite {
                wanted: wanted.to_owned(),
                suite: self.suite.clone(),
                codename: self.codename.clone(),
            });
        }
        if let (Some(now), Some(until)) = (now, self.valid_until)
            && now > until
        {
            return Err(ReleaseError::Expired {
                until: format_date(until),
            });
        }
        Ok(())
    }
}

/// Parse 64 hex digits.
pub fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    // Digits only: from_str_radix would also take a sign (`+a`).
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse a Release date, `Sat, 11 Jul 2026 10:16:37 UTC` (RFC 2822; `UTC`, `GMT`,
/// `Z` or a `+hhmm` offset). Each field must lie in its range (years 0 to 9999, a
/// leap second allowed): a date out of them is no date, never an overflow.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.split_once(',').map_or(s, |(_, r)| r).trim();
    let mut it = s.split_whitespace();
    let within = |v: &str, lo: i64, hi: i64| -> Option<i64> {
        v.parse::<i64>().ok().filter(|n| (lo..=hi).contains(n))
    };
    let day = within(it.next()?, 1, 31)?;
    let mon = it.next()?;
    let month = i64::try_from(MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))?).ok()? + 1;
    let year = within(it.next()?, 0, 9999)?;
    let mut hms = it.next()?.split(':');
    let h = within(hms.next()?, 0, 23)?;
    let mi = within(hms.next()?, 0, 59)?;
    let sec = hms.next().map_or(Some(0), |v| within(v, 0, 60))?;
    if hms.next().is_some() {
        return None;
    }
    let offset = match it.next() {
        None | Some("UTC" | "GMT" | "Z" | "UT") => 0,
        Some(z) => {
            let (sign, digits) = match z.as_bytes().first() {
                Some(b'+') => (1, &z[1..]),
                Some(b'-') => (-1, &z[1..]),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (hh, mm) = (within(&digits[..2], 0, 23)?, within(&digits[2..], 0, 59)?);
            sign * (hh * 3600 + mm * 60)
        }
    };
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Format seconds since the epoch as a Release date in UTC.
pub fn format_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} UTC",
        WDAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Origin: Debian\nSuite: oldstable\nCodename: bookworm\n\
Date: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n\
Acquire-By-Hash: yes\nArchitectures: all amd64 arm64\nComponents: main contrib\nMD5Sum:\n \
f230d61720e789abf5df55d6026230c6 50060337 main/binary-amd64/Packages\nSHA256:\n \
515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages\n \
9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz\n";

    #[test]
    fn parses_the_fields() {
        let r = Release::parse(SAMPLE).unwrap();
        assert_eq!(r.suite, "oldstable");
        assert_eq!(r.codename, "bookworm");
        assert!(r.by_hash);
        assert_eq!(r.files.len(), 2);
        let xz = r.files["main/binary-amd64/Packages.xz"];
        assert_eq!(xz.size, 8_790_396);
        assert_eq!(hex(&xz.sha256)[..8], *"9e0b5aab");
        assert_eq!(r.valid_until, Some(1_783_764_997 + 7 * 86_400));
    }

    #[test]
    fn suite_and_validity() {
        let r = Release::parse(SAMPLE).unwrap();
        assert!(r.check("bookworm", None).is_ok());
        assert!(r.check("oldstable", None).is_ok());
        assert!(matches!(
            r.check("trixie", None),
            Err(ReleaseError::WrongSuite { .. })
        ));
        let until = r.valid_until.unwrap();
        assert!(r.check("bookworm", Some(until - 1)).is_ok());
        let e = r.check("bookworm", Some(until + 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it expired on Sat, 18 Jul 2026 10:16:37 UTC (Valid-Until); use --no-check-valid-until for a snapshot mirror"
        );
        assert!(matches!(
            Release::parse("Suite: x\n"),
            Err(ReleaseError::NoChecksums)
        ));
        // A Valid-Until that is no date is an error, not a Release valid forever.
        let bad = SAMPLE.replace(
            "Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC",
            "Valid-Until: 2026-07-18",
        );
        assert_eq!(
            Release::parse(&bad).unwrap_err(),
            ReleaseError::BadValidUntil("2026-07-18".into())
        );
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_date("Fri, 02 Jan 1970 01:00:00 +0100"), Some(86_400));
        assert_eq!(parse_date("nonsense"), None);
        for t in [0, 1_783_764_997, 951_782_400, 4_102_444_800] {
            assert_eq!(parse_date(&format_date(t)), Some(t), "{}", format_date(t));
        }
        assert_eq!(format_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 UTC");
    }

    #[test]
    fn a_digest_is_64_hex_digits() {
        // Found by fuzzing (fuzz/fuzz_targets/debootstrap_deb822.rs): a `+` before a hex
        // digit passed as the byte 0x0a.
        let plus = "0d711642b726b04401627ca9fbac32f5c8530fb1903cc4db0225871792+a4881";
        assert_eq!(plus.len(), 64);
        assert_eq!(parse_hex32(plus), None);
        assert_eq!(
            parse_hex32(&plus.replace('+', "0")).map(|d| hex(&d)),
            Some(plus.replace('+', "0"))
        );
        assert_eq!(parse_hex32(&"-1".repeat(32)), None);
    }

    #[test]
    fn a_date_out_of_range_is_no_date() {
        // Found by fuzzing (fuzz/fuzz_targets/debootstrap_deb822.rs): a huge day or year
        // overflowed the arithmetic (a panic in a debug build; in release a wrapped time,
        // any Valid-Until at all).
        let text = "Suite: x\nValid-Until: 900000000000080 Feb 2026 10:00:00 UTC\nSHA256:\n";
        assert!(matches!(
            Release::parse(text),
            Err(ReleaseError::BadValidUntil(_))
        ));
        for bad in [
            "900000000000080 Feb 2026 10:00:00 UTC",
            "Wed, 20 May 99999999999 14:06:31 UTC",
            "Wed, 20 May 2026 99999999999:06:31 UTC",
            "Wed, 20 May 2026 14:06:31 +99999999999999",
            "Wed, 20 May 2026 14:06:31 +02",
            "Wed, 32 May 2026 14:06:31 UTC",
            "Wed, 20 May 2026 14:60:00 UTC",
            "Wed, 20 May 2026 14:06:31:00 UTC",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date("Thu, 29 Feb 2024 23:59:60 GMT"),
            Some(1_709_251_200)
        );
        assert_eq!(
            parse_date("Sat, 11 Jul 2026 12:16:37 +0200"),
            parse_date("Sat, 11 Jul 2026 10:16:37 UTC")
        );
    }
}
