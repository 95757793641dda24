#!/usr/bin/env bash
# packages: chroot-rs
#
# chroot-rs against the tools it replaces, side by side in one hyperfine run each:
#   plain:    chroot-rs R true                      vs GNU chroot R true          (target <= 1.1x)
#   isolated: unshare --fork --pid --uts --ipc -- chroot-rs --pivot --api-fs R true
#             vs unshare --fork --pid --mount --uts --ipc --root=R --mount-proc true (<= 1.2x)
#             vs bwrap --unshare-all --bind R / --proc /proc --dev /dev true         (<= 0.5x)
# plus the composed path's floor: the same chain with plain chroot-rs (one exec more than
# unshare alone, no mount work), so that the cost of the extra exec and the cost of the
# isolation work are told apart.
# Run as root: cargo xtask bench chroot [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
CACHE=${TOOLKIT_CACHE:-/var/cache/container-toolkit}
RUNS=${1:-300}
CR="$BIN_DIR/chroot-rs"

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

bench() { # name, then commands
    local name=$1; shift
    hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$out/$name.json" "$@" >/dev/null
}

echo "chroot-rs benchmark: $RUNS runs per command, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
bench plain -n gnu-chroot "chroot $R /bin/true" -n chroot-rs "$CR $R /bin/true"
bench isolated \
    -n unshare-root "unshare --fork --pid --mount --uts --ipc --root=$R --mount-proc /bin/true" \
    -n unshare+chroot-rs-plain "unshare --fork --pid --uts --ipc -- $CR $R /bin/true" \
    -n unshare+chroot-rs-pivot "unshare --fork --pid --uts --ipc -- $CR --pivot --api-fs $R /bin/true" \
    -n bwrap "bwrap --unshare-all --bind $R / --proc /proc --dev /dev /bin/true"

python3 - "$out" <<'EOF'
import json, sys, statistics
d = sys.argv[1]
def medians(name):
    res = json.load(open(f"{d}/{name}.json"))["results"]
    return {r["command"]: statistics.median(r["times"]) * 1000 for r in res}
p, i = medians("plain"), medians("isolated")
for k, v in {**p, **i}.items():
    print(f"  {k:28s} {v:7.2f} ms")
rows = [
    ("chroot-rs / GNU chroot", p["chroot-rs"] / p["gnu-chroot"], 1.1),
    ("pivot path / unshare --root", i["unshare+chroot-rs-pivot"] / i["unshare-root"], 1.2),
    ("pivot path / bwrap", i["unshare+chroot-rs-pivot"] / i["bwrap"], 0.5),
]
floor = i["unshare+chroot-rs-plain"]
print(f"  the composed path's floor (one exec more, no mounts): {floor:.2f} ms = "
      f"{floor / i['unshare-root']:.2f}x unshare --root; isolation work on top: "
      f"{i['unshare+chroot-rs-pivot'] - floor:+.2f} ms")
print("ratios (target):")
for label, r, target in rows:
    print(f"  {label:30s} {r:5.2f}x  (<= {target}x) {'ok' if r <= target else 'MISSED'}")
EOF
