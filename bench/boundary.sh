#!/usr/bin/env bash
# packages: chroot-rs nsenter-rs cgctl
#
# What the boundary costs at start, side by side in one hyperfine run (medians):
#   default     the unprivileged container as ctn composes it, running /bin/true:
#               unshare-rs --fork --user (maps, root inside) --idmap-mount --pid --mount
#               --uts --ipc --net --cgroup -- chroot-rs --pivot --api-fs --protect-kernel
#               --cgroup-fs --seccomp --cap-drop … --clear-env ROOT /bin/true
#   privileged  the same without the user namespace and idmapped mount (host root inside)
#   plain       today's composed start: unshare-rs --fork --pid --mount --uts --ipc --
#               chroot-rs --pivot --api-fs ROOT /bin/true
#   bwrap       bubblewrap doing the comparable job: --unshare-all (user namespace with
#               root inside), --bind ROOT /, --proc, --dev, --cap-add ALL, /bin/true
# Targets: default <= 1.3x privileged; default < bwrap.
# (cgctl exec, the outermost step, is the same on both sides and left out: bench/cgroup.sh
# times it.) Root. cargo xtask bench boundary [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
RUNS=${1:-200}
CACHE=${TOOLKIT_CACHE:-/var/cache/container-toolkit}
UR="$BIN_DIR/unshare-rs"
CR="$BIN_DIR/chroot-rs"

for t in hyperfine bwrap busybox python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

# A busybox root filesystem (static), built once; reachable by the container's root.
R="$CACHE/bench-busybox-rootfs"
if [ ! -x "$R/bin/busybox" ]; then
    mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
    cp "$(command -v busybox)" "$R/bin/busybox"
    for a in $("$R/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
    done
fi
chmod o+x "$CACHE" "$R"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

base=$((1073741824 + 4095 * 65536))
drop=sys_module,sys_rawio,sys_time,mac_admin,mac_override
inner="$CR --pivot --api-fs --protect-kernel --cgroup-fs --seccomp --cap-drop $drop --clear-env --setenv container=ctn $R /bin/true"
default="$UR --fork --kill-child --user -S 0 -G 0 --map-users=$base,0,65536 --map-groups=$base,0,65536 --idmap-mount $R --pid --mount --uts --ipc --net --cgroup -- $inner"
privileged="$UR --fork --kill-child --pid --mount --uts --ipc --net --cgroup -- $inner"
plain="$UR --fork --pid --mount --uts --ipc -- $CR --pivot --api-fs $R /bin/true"
bwrap="bwrap --unshare-all --uid 0 --gid 0 --cap-add ALL --bind $R / --proc /proc --dev /dev /bin/true"

# Each must work before it is timed.
for c in "$default" "$privileged" "$plain" "$bwrap"; do
    $c || { echo "bench: does not run: $c" >&2; exit 1; }
done

echo "boundary benchmark: $RUNS runs per command, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$out/b.json" \
    -n default "$default" -n privileged "$privileged" -n plain "$plain" -n bwrap "$bwrap" >/dev/null

python3 - "$out/b.json" <<'EOF'
import json, sys, statistics
res = json.load(open(sys.argv[1]))["results"]
m = {r["command"]: statistics.median(r["times"]) * 1000 for r in res}
for k, v in m.items():
    print(f"  {k:12s} {v:7.2f} ms")
rows = [
    ("default / privileged", m["default"] / m["privileged"], 1.3),
    ("default / bwrap", m["default"] / m["bwrap"], 1.0),
]
print(f"  the boundary's own cost over today's composed start: {m['default'] - m['plain']:+.2f} ms")
print("ratios (target):")
for label, r, target in rows:
    print(f"  {label:24s} {r:5.2f}x  (<= {target}x) {'ok' if r <= target else 'MISSED'}")
EOF
