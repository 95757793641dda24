#!/usr/bin/env bash
# packages: debootstrap-rs
#
# bookworm minbase built by debootstrap-rs, mmdebstrap and debootstrap (Debian's
# packages), side by side, runs interleaved (rs, mm, deb, rs, mm, deb, …) so that drift in
# the machine's load spreads evenly. Each run: a fresh empty directory, /usr/bin/time -v
# for wall time, CPU time (user+sys, the children included) and peak RSS (ru_maxrss: the
# largest single process of the tree, as in the research notes).
#
# Fair cache handling: in the compared rows no tool keeps anything between runs: every
# run fetches InRelease, the Packages index and every .deb from the mirror (debootstrap-rs
# without --cache-dir; debootstrap and mmdebstrap as they come). One extra row shows
# debootstrap-rs with a warm --cache-dir (indexes and .debs verified, not fetched), for
# information only; it is not used in the ratios.
#
# Targets (issue 6): wall <= 0.5x mmdebstrap, CPU <= 8 s, peak RSS <= 64 MiB.
# Run as root: cargo xtask bench debootstrap [RUNS]   (default 3)
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
CACHE=${TOOLKIT_CACHE:-/var/cache/container-toolkit}
RUNS=${1:-3}
RS="$BIN_DIR/debootstrap-rs"

for t in debootstrap mmdebstrap python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (Debian package time)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

# The mirror of the host's apt sources (deb822 or one-line), never a built-in name.
MIRROR=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && !/security/ {print $2; exit}')
if [ -z "$MIRROR" ]; then
    MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ {print $2; exit}')
fi
[ -n "$MIRROR" ] || { echo "bench: no mirror in the host's apt sources" >&2; exit 1; }

work=$(mktemp -d /var/tmp/bench-debootstrap.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
WARM="$CACHE/debootstrap-rs-bench"
mkdir -p "$WARM"

measure() { # name, command...
    local name=$1; shift
    local dir="$work/$name-target"
    rm -rf --one-file-system "$dir"
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" "$dir" "$MIRROR" >"$work/$name.log" 2>&1; then
        echo "bench: $name failed; its output:" >&2
        tail -20 "$work/$name.log" >&2
        exit 1
    fi
    local pkgs; pkgs=$(dpkg-query --admindir="$dir/var/lib/dpkg" -W 2>/dev/null | wc -l)
    echo "$name $(cat "$work/time") $pkgs $load" >>"$work/results"
    rm -rf --one-file-system "$dir"
}

echo "debootstrap benchmark: bookworm minbase, $RUNS runs each, mirror from the host's apt sources"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm the optional cache once (not measured).
"$RS" -q --variant=minbase --print-debs --cache-dir "$WARM" bookworm "$MIRROR" >/dev/null
"$RS" -q --variant=minbase --download-only --cache-dir "$WARM" bookworm "$work/unused" "$MIRROR"
for i in $(seq "$RUNS"); do
    measure debootstrap-rs "$RS" -q --variant=minbase bookworm
    measure mmdebstrap mmdebstrap -q --variant=minbase bookworm
    measure debootstrap debootstrap --variant=minbase bookworm
    measure debootstrap-rs-warm "$RS" -q --variant=minbase --cache-dir "$WARM" bookworm
    echo "  run $i done (load $(cut -d' ' -f1 /proc/loadavg))"
done

python3 - "$work/results" <<'EOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, wall, user, sys_, rss, pkgs, load = line.split()
    rows.setdefault(name, []).append((float(wall), float(user) + float(sys_), int(rss) / 1024, int(pkgs), float(load)))
med = {}
print(f"{'tool':22s} {'wall s':>8s} {'(min-max)':>14s} {'CPU s':>7s} {'peak RSS':>9s} {'pkgs':>5s}")
for name in ["debootstrap-rs", "mmdebstrap", "debootstrap", "debootstrap-rs-warm"]:
    r = rows[name]
    w = [x[0] for x in r]; c = [x[1] for x in r]; m = [x[2] for x in r]
    med[name] = (statistics.median(w), statistics.median(c), max(m))
    print(f"{name:22s} {med[name][0]:8.2f} {min(w):6.2f}-{max(w):<7.2f} {med[name][1]:7.2f} {med[name][2]:6.0f} MiB {r[0][3]:5d}")
rs, mm, deb = med["debootstrap-rs"], med["mmdebstrap"], med["debootstrap"]
print("ratios, cold (every tool fetches everything each run), medians:")
print(f"  wall debootstrap-rs / mmdebstrap  {rs[0] / mm[0]:5.2f}x  (<= 0.5x)  {'ok' if rs[0] <= 0.5 * mm[0] else 'MISSED'}")
print(f"  CPU  debootstrap-rs / mmdebstrap  {rs[1] / mm[1]:5.2f}x")
print(f"  wall debootstrap-rs / debootstrap {rs[0] / deb[0]:5.2f}x")
print(f"  CPU  debootstrap-rs / debootstrap {rs[1] / deb[1]:5.2f}x")
print(f"  CPU  debootstrap-rs {rs[1]:.2f} s  (<= 8 s)  {'ok' if rs[1] <= 8 else 'MISSED'}")
print(f"  peak RSS debootstrap-rs {rs[2]:.0f} MiB  (<= 64 MiB)  {'ok' if rs[2] <= 64 else 'MISSED'}")
w = med["debootstrap-rs-warm"]
print(f"  (warm --cache-dir, not in the ratios: {w[0]:.2f} s wall, {w[1]:.2f} s CPU = {w[0] / mm[0]:.2f}x mmdebstrap's wall)")
EOF
