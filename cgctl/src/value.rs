//! The values cgctl reads and writes, parsed and printed: sizes and `max`, CPU lists,
//! CPU bandwidth (`50%`, `QUOTA/PERIOD`, v2 `cpu.max`), I/O limits (`io.max` lines and
//! v1 `MAJ:MIN value` lines), and the flat-keyed files (`cpu.stat`, `memory.events`).

use std::collections::BTreeSet;
use std::fmt;

use common::units::{self, Limit};

/// A size or `max`/`-1`, with the message the user sees.
pub fn limit(s: &str) -> Result<Limit, String> {
    units::parse_limit(s).map_err(|e| {
        let text = e.to_string();
        // "invalid size 'x': why" → "why": the caller names the option and the value.
        text.rsplit_once(": ")
            .map_or(text.clone(), |(_, why)| why.to_owned())
    })
}

/// A plain count or `max`/`-1` (no size units): pids.
pub fn count_limit(s: &str) -> Result<Limit, String> {
    match s.trim() {
        "max" | "-1" => Ok(Limit::Max),
        t => t
            .parse::<u64>()
            .map(Limit::Bytes)
            .map_err(|_| "not a number or 'max'".to_owned()),
    }
}

/// An integer within `lo..=hi`.
pub fn number_in(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| "not a whole number".to_owned())?;
    if n < lo || n > hi {
        return Err(format!("out of range {lo}..{hi}"));
    }
    Ok(n)
}

/// Text of a limit as v2 and cgctl print it: bytes or `max`.
pub fn limit_text(l: Limit) -> String {
    l.to_string()
}

/// Parse a number from a cgroup file, `max` being unlimited.
pub fn file_limit(s: &str) -> Option<Limit> {
    match s.trim() {
        "max" => Some(Limit::Max),
        t => t.parse().ok().map(Limit::Bytes),
    }
}

/// A set of CPU or memory-node numbers: `0-3,5`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(pub BTreeSet<u32>);

impl CpuList {
    /// Parse the kernel's list format. An empty string is the empty set.
    pub fn parse(s: &str) -> Result<CpuList, String> {
        let mut set = BTreeSet::new();
        for part in s.trim().split(',').filter(|p| !p.is_empty()) {
            let num = |t: &str| {
                t.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n < 65_536)
                    .ok_or_else(|| format!("'{t}' is not a CPU or node number"))
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return Err(format!("range '{part}' runs backwards"));
                    }
                    set.extend(a..=b);
                }
                None => {
                    set.insert(num(part)?);
                }
            }
        }
        Ok(CpuList(set))
    }

    /// True when every member is also in `other`.
    pub fn is_subset(&self, other: &CpuList) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CpuList {
    /// The kernel's compact form: `0-3,5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut it = self.0.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end = it.next().unwrap_or(end);
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
        f.write_str(&parts.join(","))
    }
}

/// What `--cpu-limit` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CpuLimit {
    /// No limit.
    Max,
    /// A percentage of one CPU, resolved against the group's period.
    Percent(f64),
    /// An explicit quota and period in µs.
    QuotaPeriod(u64, u64),
}

/// The kernel's bounds for the CFS period and quota (µs).
pub const PERIOD_MIN: u64 = 1_000;
/// Largest period.
pub const PERIOD_MAX: u64 = 1_000_000;
/// Smallest quota.
pub const QUOTA_MIN: u64 = 1_000;

/// Parse `--cpu-limit`: `50%`, `50`, `12.5%`, `QUOTA/PERIOD` (µs), `max` or `-1`.
pub fn cpu_limit(s: &str) -> Result<CpuLimit, String> {
    let t = s.trim();
    if t == "max" || t == "-1" {
        return Ok(CpuLimit::Max);
    }
    if let Some((q, p)) = t.split_once('/') {
        let q: u64 = q
            .trim()
            .parse()
            .map_err(|_| "the quota is not a number of µs".to_owned())?;
        let p = number_in(p, PERIOD_MIN, PERIOD_MAX).map_err(|e| format!("period: {e}"))?;
        if q < QUOTA_MIN {
            return Err(format!("the quota must be at least {QUOTA_MIN} µs"));
        }
        return Ok(CpuLimit::QuotaPeriod(q, p));
    }
    let num = t.strip_suffix('%').unwrap_or(t);
    let pct: f64 = num
        .trim()
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite())
        .ok_or_else(|| "not a percentage, QUOTA/PERIOD or 'max'".to_owned())?;
    if pct <= 0.0 {
        return Err("must be more than 0%".to_owned());
    }
    Ok(CpuLimit::Percent(pct))
}

/// v2 `cpu.max`: `QUOTA|max [PERIOD]` → (quota or None for max, period if given).
pub fn cpu_max(s: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let mut words = s.split_whitespace();
    let quota = match words.next() {
        Some("max" | "-1") => None,
        Some(q) => Some(
            q.parse::<u64>()
                .map_err(|_| format!("'{q}' is not a quota in µs or 'max'"))?,
        ),
        None => return Err("empty".to_owned()),
    };
    let period = words
        .next()
        .map(|p| number_in(p, PERIOD_MIN, PERIOD_MAX).map_err(|e| format!("period: {e}")))
        .transpose()?;
    if words.next().is_some() {
        return Err("expected 'QUOTA PERIOD'".to_owned());
    }
    if quota.is_some_and(|q| q < QUOTA_MIN) {
        return Err(format!("the quota must be at least {QUOTA_MIN} µs"));
    }
    Ok((quota, period))
}

/// One device's line of v2 `io.max`; None fields are left as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoMax {
    /// Major and minor device numbers.
    pub dev: (u32, u32),
    /// Read bytes per second.
    pub rbps: Option<Limit>,
    /// Write bytes per second.
    pub wbps: Option<Limit>,
    /// Read operations per second.
    pub riops: Option<Limit>,
    /// Write operations per second.
    pub wiops: Option<Limit>,
}

/// The four io.max fields with their v1 file names, in order.
pub const IO_FIELDS: [(&str, &str); 4] = [
    ("rbps", "blkio.throttle.read_bps_device"),
    ("wbps", "blkio.throttle.write_bps_device"),
    ("riops", "blkio.throttle.read_iops_device"),
    ("wiops", "blkio.throttle.write_iops_device"),
];

impl IoMax {
    /// The field named `rbps`, `wbps`, `riops` or `wiops`.
    pub fn field(&self, name: &str) -> Option<Limit> {
        match name {
            "rbps" => self.rbps,
            "wbps" => self.wbps,
            "riops" => self.riops,
            "wiops" => self.wiops,
            _ => None,
        }
    }

    /// Set a field by name.
    pub fn set_field(&mut self, name: &str, v: Limit) {
        match name {
            "rbps" => self.rbps = Some(v),
            "wbps" => self.wbps = Some(v),
            "riops" => self.riops = Some(v),
            _ => self.wiops = Some(v),
        }
    }

    /// Merge the fields `other` sets into self.
    pub fn merge(&mut self, other: &IoMax) {
        for (name, _) in IO_FIELDS {
            if let Some(v) = other.field(name) {
                self.set_field(name, v);
            }
        }
    }

    /// `MAJ:MIN` as text.
    pub fn dev_text(&self) -> String {
        format!("{}:{}", self.dev.0, self.dev.1)
    }
}

impl fmt::Display for IoMax {
    /// The io.max line, with the fields that are set: `8:0 rbps=1048576 wiops=max`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dev_text())?;
        for (name, _) in IO_FIELDS {
            if let Some(v) = self.field(name) {
                write!(f, " {name}={v}")?;
            }
        }
        Ok(())
    }
}

/// `MAJ:MIN`.
pub fn device(s: &str) -> Result<(u32, u32), String> {
    s.split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| format!("'{s}' is not a MAJ:MIN device number"))
}

/// Parse one `--io-max`/`io.max` line: `MAJ:MIN [rbps=N] [wbps=N] [riops=N] [wiops=N]`;
/// bps values take size units, every value takes `max`.
pub fn io_max(s: &str) -> Result<IoMax, String> {
    let mut words = s.split_whitespace();
    let dev = device(words.next().ok_or("empty")?)?;
    let mut out = IoMax {
        dev,
        ..IoMax::default()
    };
    let mut any = false;
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("'{w}' is not KEY=VALUE"))?;
        if !IO_FIELDS.iter().any(|(n, _)| *n == k) {
            return Err(format!("unknown field '{k}' (rbps, wbps, riops, wiops)"));
        }
        let val = if k.ends_with("bps") {
            limit(v)
        } else {
            count_limit(v)
        }
        .map_err(|e| format!("{k}: {e}"))?;
        out.set_field(k, val);
        any = true;
    }
    if !any {
        return Err("no limit given (rbps=, wbps=, riops=, wiops=)".to_owned());
    }
    Ok(out)
}

/// The lines of a v2 `io.max` file.
pub fn io_max_file(text: &str) -> Vec<IoMax> {
    text.lines().filter_map(|l| io_max(l).ok()).collect()
}

/// A v1 throttle file (`MAJ:MIN value` per line) as (device, value); 0 is no limit.
pub fn throttle_file(text: &str) -> Vec<((u32, u32), u64)> {
    text.lines()
        .filter_map(|l| {
            let (d, v) = l.split_once(' ')?;
            Some((device(d).ok()?, v.trim().parse().ok()?))
        })
        .collect()
}

/// The value of `key` in a flat-keyed file (`key value` per line: cpu.stat,
/// memory.events, memory.oom_control, pids.events).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sums of the nested-keyed `io.stat` (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 …`):
/// (rbytes, wbytes, rios, wios) over all devices.
pub fn io_stat(text: &str) -> [u64; 4] {
    let mut sum = [0u64; 4];
    for line in text.lines() {
        for w in line.split_whitespace().skip(1) {
            let Some((k, v)) = w.split_once('=') else {
                continue;
            };
            let i = match k {
                "rbytes" => 0,
                "wbytes" => 1,
                "rios" => 2,
                "wios" => 3,
                _ => continue,
            };
            // Saturating: the counters of many devices may add up past u64.
            sum[i] = sum[i].saturating_add(v.parse::<u64>().unwrap_or(0));
        }
    }
    sum
}

/// Sums of a v1 `cpuacct.usage_all` (a header, then `CPU USER SYSTEM` in ns per CPU):
/// (user, system) in ns over all CPUs.
pub fn usage_all(text: &str) -> [u64; 2] {
    let mut sum = [0u64; 2];
    for line in text.lines().skip(1) {
        let w: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if w.len() == 3 {
            sum[0] = sum[0].saturating_add(w[1]);
            sum[1] = sum[1].saturating_add(w[2]);
        }
    }
    sum
}

/// Sums of a v1 `blkio.throttle.io_service_bytes`/`io_serviced` file
/// (`8:0 Read 123`, …, `Total 456`): (read, write).
pub fn blkio_stat(text: &str) -> [u64; 2] {
    let mut sum = [0u64; 2];
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let (Some(_dev), Some(op), Some(v)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match op {
            "Read" => sum[0] = sum[0].saturating_add(v),
            "Write" => sum[1] = sum[1].saturating_add(v),
            _ => {}
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let l = CpuList::parse("0-3,5,7-8").unwrap();
        assert_eq!(l.to_string(), "0-3,5,7-8");
        assert_eq!(l.len(), 7);
        assert_eq!(CpuList::parse("1,0,2").unwrap().to_string(), "0-2");
        assert_eq!(CpuList::parse("").unwrap().to_string(), "");
        assert_eq!(CpuList::parse("0-1\n").unwrap().to_string(), "0-1");
        assert!(CpuList::parse("3-1").is_err());
        assert!(CpuList::parse("a").is_err());
        assert!(CpuList::parse("0-99999").is_err());
        let all = CpuList::parse("0-1").unwrap();
        assert!(CpuList::parse("0").unwrap().is_subset(&all));
        assert!(!CpuList::parse("0-999").unwrap().is_subset(&all));
    }

    #[test]
    fn cpu_limits() {
        assert_eq!(cpu_limit("50%"), Ok(CpuLimit::Percent(50.0)));
        assert_eq!(cpu_limit("50"), Ok(CpuLimit::Percent(50.0)));
        assert_eq!(cpu_limit("12.5%"), Ok(CpuLimit::Percent(12.5)));
        assert_eq!(cpu_limit("max"), Ok(CpuLimit::Max));
        assert_eq!(cpu_limit("-1"), Ok(CpuLimit::Max));
        assert_eq!(
            cpu_limit("25000/100000"),
            Ok(CpuLimit::QuotaPeriod(25_000, 100_000))
        );
        assert!(cpu_limit("0%").is_err());
        assert!(cpu_limit("lots").is_err());
        assert!(cpu_limit("10/100").is_err());
        assert!(cpu_limit("100000/2000000").is_err());
        assert_eq!(cpu_max("max"), Ok((None, None)));
        assert_eq!(cpu_max("max 100000"), Ok((None, Some(100_000))));
        assert_eq!(cpu_max("50000 100000"), Ok((Some(50_000), Some(100_000))));
        assert_eq!(cpu_max("50000"), Ok((Some(50_000), None)));
        assert!(cpu_max("50000 100000 3").is_err());
        assert!(cpu_max("").is_err());
    }

    #[test]
    fn io_limits() {
        let m = io_max("8:0 rbps=1M wiops=max").unwrap();
        assert_eq!(m.dev, (8, 0));
        assert_eq!(m.rbps, Some(Limit::Bytes(1 << 20)));
        assert_eq!(m.wiops, Some(Limit::Max));
        assert_eq!(m.wbps, None);
        assert_eq!(m.to_string(), "8:0 rbps=1048576 wiops=max");
        assert!(io_max("8:0").is_err());
        assert!(io_max("sda rbps=1").is_err());
        assert!(io_max("8:0 rbps=lots").is_err());
        assert!(io_max("8:0 riops=1K").is_err());
        assert!(io_max("8:0 speed=1").is_err());
        let file = "8:0 rbps=1048576 wbps=max riops=max wiops=max\n254:0 rbps=max wbps=2 riops=max wiops=max\n";
        let lines = io_max_file(file);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].wbps, Some(Limit::Bytes(2)));
        assert_eq!(
            throttle_file("254:0 1048576\n8:0 5\n"),
            [((254, 0), 1_048_576), ((8, 0), 5)]
        );
    }

    #[test]
    fn keyed_files() {
        let cpu = "usage_usec 2345\nuser_usec 2000\nsystem_usec 345\nnr_periods 10\n";
        assert_eq!(keyed(cpu, "usage_usec"), Some(2345));
        assert_eq!(keyed(cpu, "system_usec"), Some(345));
        assert_eq!(keyed(cpu, "nope"), None);
        let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(keyed(oom, "oom_kill"), Some(1));
        assert_eq!(
            io_stat(
                "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n254:0 rbytes=5 wbytes=0 rios=1 wios=0\n"
            ),
            [15, 20, 2, 2]
        );
        assert_eq!(
            blkio_stat(
                "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Total 12288\nTotal 12288\n"
            ),
            [4096, 8192]
        );
    }

    #[test]
    fn usage_all_sums_per_cpu_times() {
        let t = "cpu user system\n0 3000 1000\n1 2000 500\nbad line\n";
        assert_eq!(usage_all(t), [5000, 1500]);
        let huge = "cpu user system\n0 18446744073709551615 1\n1 1 1\n";
        assert_eq!(usage_all(huge), [u64::MAX, 2]);
    }

    #[test]
    fn stat_sums_saturate() {
        // Found by fuzzing (fuzz/fuzz_targets/cgctl_values.rs): two devices whose counters
        // add up past u64 overflowed (a panic in a debug build, a wrapped sum in release).
        let io = "8:0 rbytes=1048576 wbytes=4096 rios=12 wios=1 dbytes=0 dios=0\n\
                  253:0 rbytes=18446744073709551615 wbytes=2\n";
        assert_eq!(io_stat(io), [u64::MAX, 4098, 12, 1]);
        let blkio = "8:0 Read 18446744073709551615\n8:16 Read 1\n8:0 Write 3\n";
        assert_eq!(blkio_stat(blkio), [u64::MAX, 3]);
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(limit("256M"), Ok(Limit::Bytes(256 << 20)));
        assert_eq!(limit("max"), Ok(Limit::Max));
        assert_eq!(
            limit("lots"),
            Err("unknown unit (use K, M, G, T, P or E)".to_owned())
        );
        assert_eq!(count_limit("10"), Ok(Limit::Bytes(10)));
        assert_eq!(count_limit("-1"), Ok(Limit::Max));
        assert!(count_limit("10K").is_err());
        assert_eq!(number_in("100", 1, 10_000), Ok(100));
        assert!(number_in("0", 1, 10_000).is_err());
        assert_eq!(file_limit("max\n"), Some(Limit::Max));
        assert_eq!(file_limit("42\n"), Some(Limit::Bytes(42)));
    }
}
