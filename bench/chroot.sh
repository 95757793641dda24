#!/usr/bin/env bash
# packages: chroot-rs nsenter-rs
#
# chroot-rs against the tools it replaces, side by side in one run (hyperfine):
#   start:    each tool's own start: chroot-rs / true vs GNU chroot / true, unshare-rs true
#             vs util-linux unshare true (no namespace), against a bare exec of true
#   plain:    chroot-rs R true                      vs GNU chroot R true          (target <= 1.1x)
#   isolated: unshare --fork --pid --uts --ipc -- chroot-rs --pivot --api-fs R true
#             vs unshare --fork --pid --mount --uts --ipc --root=R --mount-proc true (<= 1.2x)
#             vs bwrap --unshare-all --bind R / --proc /proc --dev /dev true         (<= 0.5x)
#   composed: the toolkit alone, as README.md composes it:
#             unshare-rs --fork --pid --mount --uts --ipc -- chroot-rs --pivot --api-fs R true
#             vs bwrap doing the same job: new pid, mount, uts and ipc namespaces, R as the
#             root, a new /proc, a minimal /dev, a read-only /sys               (<= 1.0x)
# plus the composed path's floor: the same chain with plain chroot-rs (one exec more than
# unshare alone, no mount work), so that the cost of the extra exec and the cost of the
# isolation work are told apart.
# Run as root: cargo xtask bench chroot [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
CACHE=${TOOLKIT_CACHE:-/var/cache/container-toolkit}
RUNS=${1:-300}
CR="$BIN_DIR/chroot-rs"
UR="$BIN_DIR/unshare-rs"
TRUE=$(command -v true)

for t in hyperfine bwrap unshare chroot busybox python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

# A busybox root filesystem (static), built once.
R="$CACHE/bench-busybox-rootfs"
if [ ! -x "$R/bin/busybox" ]; then
    mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
    cp "$(command -v busybox)" "$R/bin/busybox"
    for a in $("$R/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
    done
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The machine may be shared: load drifts during a run. Each group therefore runs in ROUNDS
# rounds, the order of its commands rotated from one round to the next, and the medians
# are taken over all the rounds' timings together.
ROUNDS=${ROUNDS:-4}
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
bench() { # name, then "-n NAME CMD" pairs
    local name=$1; shift
    local args=("$@") n=$(( $# / 3 ))
    for round in $(seq 0 $((ROUNDS - 1))); do
        local rotated=()
        for i in $(seq 0 $((n - 1))); do
            local j=$(( (i + round) % n * 3 ))
            rotated+=("${args[j]}" "${args[j + 1]}" "${args[j + 2]}")
        done
        hyperfine -N --style none --warmup 10 --runs "$per_round" \
            --export-json "$out/$name.$round.json" "${rotated[@]}" >"$out/log" 2>&1 ||
            { cat "$out/log" >&2; echo "bench: hyperfine failed ($name)" >&2; exit 1; }
    done
}

echo "chroot-rs benchmark: $RUNS runs per command in $ROUNDS rounds, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
bench start \
    -n true "$TRUE" \
    -n chroot-rs-start "$CR / $TRUE" \
    -n gnu-chroot-start "chroot / $TRUE" \
    -n unshare-rs-start "$UR $TRUE" \
    -n unshare-start "unshare $TRUE"
bench plain -n gnu-chroot "chroot $R /bin/true" -n chroot-rs "$CR $R /bin/true"
bench isolated \
    -n unshare-root "unshare --fork --pid --mount --uts --ipc --root=$R --mount-proc /bin/true" \
    -n unshare+chroot-rs-plain "unshare --fork --pid --uts --ipc -- $CR $R /bin/true" \
    -n unshare+chroot-rs-pivot "unshare --fork --pid --uts --ipc -- $CR --pivot --api-fs $R /bin/true" \
    -n bwrap "bwrap --unshare-all --bind $R / --proc /proc --dev /dev /bin/true"
bench composed \
    -n composed "$UR --fork --pid --mount --uts --ipc -- $CR --pivot --api-fs $R /bin/true" \
    -n bwrap-same "bwrap --unshare-pid --unshare-uts --unshare-ipc --bind $R / --proc /proc --dev /dev --ro-bind /sys /sys /bin/true"

python3 - "$out" <<'EOF'
import glob, json, sys, statistics
d = sys.argv[1]
cpu = {}
def medians(name):
    times = {}
    for f in sorted(glob.glob(f"{d}/{name}.*.json")):
        for r in json.load(open(f))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
            cpu.setdefault(r["command"], []).append(r["user"] + r["system"])
    return {k: statistics.median(v) * 1000 for k, v in times.items()}
s, p, i, c = medians("start"), medians("plain"), medians("isolated"), medians("composed")
print("  command                      wall ms (median)  cpu ms (mean)")
for k, v in {**s, **p, **i, **c}.items():
    print(f"  {k:28s} {v:7.2f}  {statistics.mean(cpu[k]) * 1000:7.2f}")
t = s["true"]
print(f"  each tool's own start (above a bare exec of true, {t:.2f} ms): "
      f"chroot-rs {s['chroot-rs-start'] - t:+.2f} ms, GNU chroot {s['gnu-chroot-start'] - t:+.2f} ms, "
      f"unshare-rs {s['unshare-rs-start'] - t:+.2f} ms, unshare {s['unshare-start'] - t:+.2f} ms")
rows = [
    ("chroot-rs start / GNU chroot start", s["chroot-rs-start"] / s["gnu-chroot-start"], 1.0),
    ("unshare-rs start / unshare start", s["unshare-rs-start"] / s["unshare-start"], 1.0),
    ("chroot-rs / GNU chroot", p["chroot-rs"] / p["gnu-chroot"], 1.1),
    ("pivot path / unshare --root", i["unshare+chroot-rs-pivot"] / i["unshare-root"], 1.2),
    ("pivot path / bwrap --unshare-all", i["unshare+chroot-rs-pivot"] / i["bwrap"], 0.5),
    ("composed start / bwrap, same job", c["composed"] / c["bwrap-same"], 1.0),
]
floor = i["unshare+chroot-rs-plain"]
print(f"  the composed path's floor (one exec more, no mounts): {floor:.2f} ms = "
      f"{floor / i['unshare-root']:.2f}x unshare --root; isolation work on top: "
      f"{i['unshare+chroot-rs-pivot'] - floor:+.2f} ms")
print("ratios (target):")
for label, r, target in rows:
    print(f"  {label:36s} {r:5.2f}x  (<= {target}x) {'ok' if r <= target else 'MISSED'}")
EOF
