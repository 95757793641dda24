#!/usr/bin/env bash
# packages: nsenter-rs
#
# nsenter-rs and unshare-rs against util-linux's nsenter and unshare, side by side in one
# hyperfine run each (targets: <= 1.0x util-linux):
#   enter:     nsenter-rs -t PID -a true        vs nsenter -t PID -a true
#              (PID: a sleep in new pid, mnt, uts, ipc and net namespaces)
#   create:    unshare-rs --fork --pid --mount --uts --ipc --mount-proc true
#              vs unshare --fork --pid --mount --uts --ipc --mount-proc true
#   create+net: the same with --net (the kernel's slowest namespace, ~0.45 ms more)
#   start:     nsenter-rs true vs nsenter true (no namespace: the tool's own start)
# plus the floor: a bare fork+exec of true.
# Run as root: cargo xtask bench ns [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
RUNS=${1:-300}
NSENTER_RS="$BIN_DIR/nsenter-rs"
UNSHARE_RS="$BIN_DIR/unshare-rs"
TRUE=$(command -v true)

for t in hyperfine nsenter unshare python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

out=$(mktemp -d)
target_parent=
cleanup() {
    # Our own background unshare (by PID); --kill-child takes its sleep with it.
    if [ -n "$target_parent" ]; then
        kill -KILL "$target_parent" 2>/dev/null || true
        wait "$target_parent" 2>/dev/null || true
    fi
    rm -rf "$out"
}
trap cleanup EXIT

# The target: started by util-linux's unshare, so neither side is favoured.
unshare --fork --pid --mount --uts --ipc --net --mount-proc --kill-child sleep 100000 &
target_parent=$!
target=
for _ in $(seq 200); do
    target=$(awk '{print $1}' "/proc/$target_parent/task/$target_parent/children" 2>/dev/null || true)
    [ -n "$target" ] && break
    sleep 0.01
done
[ -n "$target" ] || { echo "bench: the target did not start" >&2; exit 1; }

# The machine is shared: load drifts during a run. Each comparison therefore runs in
# ROUNDS rounds, alternating which side goes first, and the medians are taken over all
# the rounds' timings together.
ROUNDS=${ROUNDS:-4}
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
bench() { # name, then two "-n NAME CMD" triples
    local name=$1; shift
    local a=("$1" "$2" "$3") b=("$4" "$5" "$6")
    for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then set -- "${a[@]}" "${b[@]}"; else set -- "${b[@]}" "${a[@]}"; fi
        hyperfine -N --style none --warmup 10 --runs "$per_round" \
            --export-json "$out/$name.$round.json" "$@" >"$out/log" 2>&1 ||
            { cat "$out/log" >&2; echo "bench: hyperfine failed ($name)" >&2; exit 1; }
    done
}

echo "nsenter-rs benchmark: $RUNS runs per command in $ROUNDS rounds, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
bench floor -n true "$TRUE" -n true-again "$TRUE"
bench start -n nsenter-start "nsenter $TRUE" -n nsenter-rs-start "$NSENTER_RS $TRUE"
bench enter \
    -n nsenter "nsenter -t $target -a $TRUE" \
    -n nsenter-rs "$NSENTER_RS -t $target -a $TRUE"
bench create \
    -n unshare "unshare --fork --pid --mount --uts --ipc --mount-proc $TRUE" \
    -n unshare-rs "$UNSHARE_RS --fork --pid --mount --uts --ipc --mount-proc $TRUE"
bench create-net \
    -n unshare+net "unshare --fork --pid --mount --uts --ipc --net --mount-proc $TRUE" \
    -n unshare-rs+net "$UNSHARE_RS --fork --pid --mount --uts --ipc --net --mount-proc $TRUE"

python3 - "$out" <<'EOF'
import json, sys, statistics
d = sys.argv[1]
import glob
times = {}
for name in ["floor", "start", "enter", "create", "create-net"]:
    for f in sorted(glob.glob(f"{d}/{name}.*.json")):
        for r in json.load(open(f))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
m = {k: statistics.median(v) * 1000 for k, v in times.items()}
m["true"] = statistics.median(times["true"] + times.pop("true-again")) * 1000
del m["true-again"]
print(f"load at the end: {open('/proc/loadavg').read().split()[:3]}")
for k, v in m.items():
    print(f"  {k:16s} {v:7.2f} ms")
rows = [
    ("nsenter-rs start / nsenter start", m["nsenter-rs-start"] / m["nsenter-start"]),
    ("nsenter-rs -a / nsenter -a", m["nsenter-rs"] / m["nsenter"]),
    ("unshare-rs / unshare", m["unshare-rs"] / m["unshare"]),
    ("unshare-rs --net / unshare --net", m["unshare-rs+net"] / m["unshare+net"]),
]
print(f"  above a bare true: nsenter-rs alone {m['nsenter-rs-start'] - m['true']:+.2f} ms "
      f"(nsenter {m['nsenter-start'] - m['true']:+.2f} ms), "
      f"nsenter-rs -a {m['nsenter-rs'] - m['true']:+.2f} ms, "
      f"unshare-rs {m['unshare-rs'] - m['true']:+.2f} ms, "
      f"unshare-rs --net {m['unshare-rs+net'] - m['true']:+.2f} ms")
print("ratios (target <= 1.0x):")
for label, r in rows:
    print(f"  {label:34s} {r:5.2f}x  {'ok' if r <= 1.0 else 'MISSED'}")
EOF
