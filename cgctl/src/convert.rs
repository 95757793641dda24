//! The v1 ↔ v2 conversions, as the OCI runtimes (runc, crun ≥ 1.23, youki) do them.
//! Each function is pure and table-tested with the values of README.md's table.

use common::units::Limit;

/// The smallest and largest `cpu.shares` (v1) and `cpu.weight` (v2).
pub const SHARES_MIN: u64 = 2;
/// Largest `cpu.shares`.
pub const SHARES_MAX: u64 = 262_144;
/// Smallest `cpu.weight`.
pub const WEIGHT_MIN: u64 = 1;
/// Largest `cpu.weight` (and `io.weight`).
pub const WEIGHT_MAX: u64 = 10_000;

/// v1 memory files read back "unlimited" as PAGE_COUNTER_MAX pages
/// (9223372036854771712 with 4 KiB pages); anything from 2^62 up is taken as unlimited.
const V1_UNLIMITED_FROM: u64 = 1 << 62;

/// The quadratic in log space through (2, 1), (1024, 100) and (262144, 10000), before
/// rounding up: runc's `ConvertCPUSharesToCgroupV2Value`.
fn shares_curve(shares: f64) -> f64 {
    let l = shares.log2();
    10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0)
}

/// `cpu.shares` → `cpu.weight` (runc, crun ≥ 1.23, youki): ≤ 2 → 1, ≥ 262144 → 10000,
/// else ⌈10^((l² + 125·l)/612 − 7/34)⌉ with l = log2(shares). 1024 → 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= SHARES_MIN {
        return WEIGHT_MIN;
    }
    if shares >= SHARES_MAX {
        return WEIGHT_MAX;
    }
    // The curve stays within 1..=10000 between the clamps above, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let w = shares_curve(shares as f64).ceil() as u64;
    w.clamp(WEIGHT_MIN, WEIGHT_MAX)
}

/// `cpu.weight` → `cpu.shares`: the largest shares whose curve value does not exceed the
/// weight, so that `shares_to_weight(weight_to_shares(w)) == w` for every weight and the
/// defaults map onto each other (100 → 1024). The runtimes never need this direction;
/// cgctl does for `--cpu-weight` and `cpu.weight=` on v1.
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(WEIGHT_MIN, WEIGHT_MAX);
    if w == WEIGHT_MAX {
        return SHARES_MAX;
    }
    // Binary search: the curve is increasing.
    let (mut lo, mut hi) = (SHARES_MIN, SHARES_MAX);
    #[allow(clippy::cast_precision_loss)]
    let fits = |s: u64| shares_curve(s as f64) <= w as f64 + 1e-9;
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// `blkio.weight` (10…1000) → `io.weight` (1…10000): 1 + (w − 10)·9999/990, runc's
/// `ConvertBlkIOToIOWeightValue` (used when `io.bfq.weight` is absent).
pub fn blkio_to_io_weight(w: u64) -> u64 {
    let w = w.clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// `io.weight` (1…10000) → `blkio.weight` (10…1000): the inverse line,
/// 10 + (w − 1)·990/9999.
pub fn io_to_blkio_weight(w: u64) -> u64 {
    let w = w.clamp(1, WEIGHT_MAX);
    10 + (w - 1) * 990 / 9999
}

/// The three I/O weight scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoScale {
    /// v2 `io.weight` (blk-iocost): 1…10000, default 100. `--io-weight` uses it.
    Io,
    /// BFQ's `io.bfq.weight` (v2) and `blkio.bfq.weight` (v1): 1…1000, default 100.
    Bfq,
    /// v1 CFQ's `blkio.weight`: 10…1000, default 500.
    Blkio,
}

/// An I/O weight from one scale to another. BFQ and io.weight share the default (100)
/// and map one to one (clamped to BFQ's 1000); `blkio.weight` goes to BFQ unchanged, as
/// runc and crun write it, and to and from `io.weight` by the runtimes' line.
pub fn io_weight_between(n: u64, from: IoScale, to: IoScale) -> u64 {
    use IoScale::{Bfq, Blkio, Io};
    match (from, to) {
        (a, b) if a == b => n,
        (Io, Bfq) => n.clamp(1, 1000),
        (Bfq, Io) => n.clamp(1, 1000),
        (Blkio, Bfq) => n.clamp(10, 1000),
        (Bfq, Blkio) => n.clamp(10, 1000),
        (Blkio, Io) => blkio_to_io_weight(n),
        (Io, Blkio) => io_to_blkio_weight(n),
        _ => n,
    }
}

/// Why a swap conversion is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapError {
    /// A finite swap or memsw limit needs a finite memory limit.
    NoMemoryLimit,
    /// memsw below the memory limit.
    BelowMemory,
}

impl std::fmt::Display for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SwapError::NoMemoryLimit => {
                "a swap limit needs a memory limit (v1 limits memory+swap together)"
            }
            SwapError::BelowMemory => "memory+swap must not be below the memory limit",
        })
    }
}

/// v1 `memory.memsw.limit_in_bytes` (memory + swap) → v2 `memory.swap.max` (swap only):
/// memsw − memory; unlimited stays unlimited (runc's ConvertMemorySwapToCgroupV2Value).
pub fn memsw_to_swap(memsw: Limit, memory: Limit) -> Result<Limit, SwapError> {
    match (memsw, memory) {
        (Limit::Max, _) => Ok(Limit::Max),
        (Limit::Bytes(_), Limit::Max) => Err(SwapError::NoMemoryLimit),
        (Limit::Bytes(ms), Limit::Bytes(m)) if ms < m => Err(SwapError::BelowMemory),
        (Limit::Bytes(ms), Limit::Bytes(m)) => Ok(Limit::Bytes(ms - m)),
    }
}

/// v2 swap only → v1 memory + swap: swap + memory; unlimited stays unlimited.
pub fn swap_to_memsw(swap: Limit, memory: Limit) -> Result<Limit, SwapError> {
    match (swap, memory) {
        (Limit::Max, _) => Ok(Limit::Max),
        (Limit::Bytes(_), Limit::Max) => Err(SwapError::NoMemoryLimit),
        (Limit::Bytes(s), Limit::Bytes(m)) => Ok(m.checked_add(s).map_or(Limit::Max, Limit::Bytes)),
    }
}

/// A v1 memory file's number as a limit (PAGE_COUNTER_MAX reads as unlimited).
pub fn v1_bytes(n: u64) -> Limit {
    if n >= V1_UNLIMITED_FROM {
        Limit::Max
    } else {
        Limit::Bytes(n)
    }
}

/// What a v1 memory file takes for a limit: the bytes, or -1 for unlimited.
pub fn v1_limit_text(l: Limit) -> String {
    match l {
        Limit::Max => "-1".to_owned(),
        Limit::Bytes(n) => n.to_string(),
    }
}

/// v1 `cpu.cfs_quota_us` ↔ the quota word of v2 `cpu.max`: -1 ↔ `max`.
pub fn quota_v1_text(quota: Option<u64>) -> String {
    quota.map_or_else(|| "-1".to_owned(), |q| q.to_string())
}

/// The quota word of v2 `cpu.max`.
pub fn quota_v2_text(quota: Option<u64>) -> String {
    quota.map_or_else(|| "max".to_owned(), |q| q.to_string())
}

/// A `--cpu-limit` percentage of one CPU as a quota for `period` µs (vzctl's
/// `--cpulimit`: 200 % is two CPUs).
pub fn percent_to_quota(percent: f64, period: u64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let q = (percent * period as f64 / 100.0).round() as u64;
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_the_runtimes() {
        // (shares, weight): the clamps, the three fixed points, and the research's samples.
        for (shares, weight) in [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (512, 59),
            (1024, 100),
            (2048, 174),
            (4096, 303),
            (262_143, 10_000),
            (262_144, 10_000),
            (1_000_000, 10_000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn weight_to_shares_round_trips() {
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        assert_eq!(weight_to_shares(0), 2);
        assert_eq!(weight_to_shares(59), 521); // 512 → 59 as well: the largest is kept
        for w in 1..=WEIGHT_MAX {
            assert_eq!(shares_to_weight(weight_to_shares(w)), w, "weight {w}");
        }
    }

    #[test]
    fn io_weights() {
        for (blkio, io) in [(10, 1), (100, 910), (500, 4950), (1000, 10_000), (5, 1)] {
            assert_eq!(blkio_to_io_weight(blkio), io, "blkio {blkio}");
        }
        for (io, blkio) in [(1, 10), (100, 19), (4950, 500), (10_000, 1000)] {
            assert_eq!(io_to_blkio_weight(io), blkio, "io {io}");
        }
    }

    #[test]
    fn io_scales() {
        use IoScale::{Bfq, Blkio, Io};
        for (n, from, to, want) in [
            (100, Io, Bfq, 100),
            (5000, Io, Bfq, 1000),
            (100, Bfq, Io, 100),
            (500, Blkio, Bfq, 500),
            (5, Bfq, Blkio, 10),
            (500, Blkio, Io, 4950),
            (100, Io, Blkio, 19),
            (42, Io, Io, 42),
        ] {
            assert_eq!(
                io_weight_between(n, from, to),
                want,
                "{n} {from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn swap() {
        let b = Limit::Bytes;
        assert_eq!(memsw_to_swap(b(768 << 20), b(512 << 20)), Ok(b(256 << 20)));
        assert_eq!(memsw_to_swap(b(512 << 20), b(512 << 20)), Ok(b(0)));
        assert_eq!(memsw_to_swap(Limit::Max, b(512 << 20)), Ok(Limit::Max));
        assert_eq!(memsw_to_swap(Limit::Max, Limit::Max), Ok(Limit::Max));
        assert_eq!(
            memsw_to_swap(b(256 << 20), b(512 << 20)),
            Err(SwapError::BelowMemory)
        );
        assert_eq!(
            memsw_to_swap(b(1 << 30), Limit::Max),
            Err(SwapError::NoMemoryLimit)
        );
        assert_eq!(swap_to_memsw(b(256 << 20), b(512 << 20)), Ok(b(768 << 20)));
        assert_eq!(swap_to_memsw(Limit::Max, b(512 << 20)), Ok(Limit::Max));
        assert_eq!(
            swap_to_memsw(b(1), Limit::Max),
            Err(SwapError::NoMemoryLimit)
        );
    }

    #[test]
    fn v1_numbers() {
        assert_eq!(v1_bytes(9_223_372_036_854_771_712), Limit::Max);
        assert_eq!(v1_bytes(9_223_372_036_854_710_272), Limit::Max); // 64 KiB pages
        assert_eq!(v1_bytes(268_435_456), Limit::Bytes(268_435_456));
        assert_eq!(v1_limit_text(Limit::Max), "-1");
        assert_eq!(quota_v1_text(None), "-1");
        assert_eq!(quota_v2_text(None), "max");
        assert_eq!(quota_v2_text(Some(50_000)), "50000");
        assert_eq!(percent_to_quota(50.0, 100_000), 50_000);
        assert_eq!(percent_to_quota(12.5, 100_000), 12_500);
        assert_eq!(percent_to_quota(200.0, 50_000), 100_000);
    }
}
