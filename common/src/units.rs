//! Sizes as people write them: `512M`, `1G`, `1.5G`, `4096`, and `max` (or `-1`) for
//! "no limit". Suffixes are binary (K = 1024), as in cgroup tools, vzctl and ip; an
//! optional `B` or `iB` after the letter is accepted (`512MiB`, `512MB` mean the same).

use std::fmt;

/// A size that may be unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// No limit (`max`, `-1`).
    Max,
    /// A number of bytes.
    Bytes(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Max => f.write_str("max"),
            Limit::Bytes(n) => write!(f, "{n}"),
        }
    }
}

/// Why a size did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError {
    input: String,
    why: &'static str,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid size '{}': {}", self.input, self.why)
    }
}

impl std::error::Error for SizeError {}

fn err(input: &str, why: &'static str) -> SizeError {
    SizeError {
        input: input.to_owned(),
        why,
    }
}

/// Parse a size or `max`/`-1`.
pub fn parse_limit(input: &str) -> Result<Limit, SizeError> {
    match input.trim() {
        "max" | "-1" => Ok(Limit::Max),
        _ => parse_size(input).map(Limit::Bytes),
    }
}

/// Parse a size in bytes: digits, an optional fraction, an optional K/M/G/T/P/E suffix.
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(input, "empty"));
    }
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    let shift = match suffix {
        "" | "b" | "B" => 0,
        _ => {
            let mut chars = suffix.chars();
            let letter = chars.next().map(|c| c.to_ascii_uppercase());
            let rest = chars.as_str();
            if !matches!(rest, "" | "B" | "b" | "iB" | "ib") {
                return Err(err(input, "unknown unit (use K, M, G, T, P or E)"));
            }
            match letter {
                Some('K') => 10,
                Some('M') => 20,
                Some('G') => 30,
                Some('T') => 40,
                Some('P') => 50,
                Some('E') => 60,
                _ => return Err(err(input, "unknown unit (use K, M, G, T, P or E)")),
            }
        }
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(err(input, "no number"));
    }
    if frac.contains('.') {
        return Err(err(input, "not a number"));
    }
    let overflow = || err(input, "too large");
    let int_val: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| overflow())?
    };
    // A multiplication, not a shift: a shift would drop the high bits silently.
    let mut bytes = int_val
        .checked_mul(1u128 << shift)
        .filter(|v| *v <= u128::from(u64::MAX))
        .ok_or_else(overflow)?;
    if !frac.is_empty() {
        if frac.len() > 18 {
            return Err(err(input, "too many decimals"));
        }
        let digits: u128 = frac.parse().map_err(|_| err(input, "not a number"))?;
        let scale = 10u128.pow(frac.len() as u32);
        let part = (digits << shift) / scale;
        if shift == 0 && digits != 0 {
            return Err(err(input, "a fraction of a byte"));
        }
        bytes = bytes.checked_add(part).ok_or_else(overflow)?;
    }
    u64::try_from(bytes).map_err(|_| overflow())
}

/// A byte count in the largest binary unit that shows it exactly (`536870912` → `512M`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u32, &str); 6] = [
        (60, "E"),
        (50, "P"),
        (40, "T"),
        (30, "G"),
        (20, "M"),
        (10, "K"),
    ];
    for (shift, unit) in UNITS {
        let div = 1u64 << shift;
        if bytes >= div && bytes.is_multiple_of(div) {
            return format!("{}{unit}", bytes / div);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_suffixed() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("1P"), Ok(1 << 50));
        assert_eq!(parse_size("15E"), Ok(15 << 60));
        assert_eq!(parse_size(" 8M "), Ok(8 << 20));
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("0.5K"), Ok(512));
        assert_eq!(parse_size(".5K"), Ok(512));
        assert_eq!(parse_size("1.0"), Ok(1));
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("1.2.3M").is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit("max"), Ok(Limit::Max));
        assert_eq!(parse_limit("-1"), Ok(Limit::Max));
        assert_eq!(parse_limit("256M"), Ok(Limit::Bytes(256 << 20)));
        assert_eq!(Limit::Max.to_string(), "max");
        assert_eq!(Limit::Bytes(5).to_string(), "5");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "lots",
            "M",
            "12X",
            "12MX",
            "-5",
            "1e3",
            "16E",
            "99999999999999999999999",
            "1.",
            ".",
        ] {
            if bad == "1." {
                assert_eq!(parse_size(bad), Ok(1));
                continue;
            }
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse_size("lots").unwrap_err().to_string(),
            "invalid size 'lots': unknown unit (use K, M, G, T, P or E)"
        );
    }

    #[test]
    fn formatting_round_trips() {
        for n in [
            0u64,
            1,
            1000,
            1024,
            1536,
            512 << 20,
            3 << 30,
            1 << 40,
            u64::MAX,
        ] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        assert_eq!(format_size(512 << 20), "512M");
        assert_eq!(format_size(1536), "1536"); // 1.5K is not a whole number of K
    }
}
