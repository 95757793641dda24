#!/usr/bin/env bash
# packages: netlink-tool
#
# netlink-tool against iproute2 for N container links (default 200), side by side in one
# run. Each container link: a veth pair, the peer in the container's own namespace named
# eth0, an address on each end (/30), both ends up, lo up in the container. Four ways:
#   ip-per-step    one `ip` process per step (7 per container)
#   ip-batch       `ip -batch` for the host side + one `ip -n C -batch` per container
#   nt-connect     one `netlink-tool connect` process per container
#   nt-batch       one `netlink-tool --batch` process for all containers
# Targets (from the issue): nt-batch <= 1 ms per container and >= 3x faster than ip-batch;
# nt-connect <= 4 ms per container and >= 9x faster than ip-per-step.
#
# Everything happens inside throwaway network namespaces (one plays the host), created
# before and deleted after each run (not timed); the machine's own namespace is never
# touched. Run as root: cargo xtask bench net [N] [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
NT="$BIN_DIR/netlink-tool"
N=${1:-200}
RUNS=${2:-3}
P="nb$$"
H="${P}h"

for t in ip python3 ping; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$NT" ] || { echo "bench: $NT is not built" >&2; exit 1; }

work=$(mktemp -d)
# netlink-tool's connection records: kept in the run's own directory, emptied with the
# namespaces (a record of a deleted namespace would be found stale by the next run).
export NETLINK_TOOL_STATE_DIR="$work/state"
teardown() {
    local f
    rm -rf "$NETLINK_TOOL_STATE_DIR"
    for f in /run/netns/"$P"*; do
        if [ -e "$f" ]; then ip netns del "$(basename "$f")" 2>/dev/null || true; fi
    done
}
trap 'teardown; rm -rf "$work"' EXIT

# Addresses of container i: host end .1, container end .2 of 10.(200+i/64).((i%64)*4).0/30.
host_addr() { echo "10.$((200 + $1 / 64)).$((($1 % 64) * 4)).1"; }
ctn_addr() { echo "10.$((200 + $1 / 64)).$((($1 % 64) * 4)).2"; }

setup() { # the host namespace and N container namespaces, empty
    teardown
    ip netns add "$H"
    for ((i = 0; i < N; i++)); do ip netns add "${P}c$i"; done
}

check() { # the last container reaches its host end
    local i=$((N - 1))
    ip netns exec "${P}c$i" ping -c1 -W2 "${HA[i]}" >/dev/null \
        || { echo "bench: $1 did not give a working link" >&2; exit 1; }
}

# Pre-generated inputs and addresses (not timed: no subshell in the timed loops).
declare -a HA CA
for ((i = 0; i < N; i++)); do HA[i]=$(host_addr $i); CA[i]=$(ctn_addr $i); done
: >"$work/host.ipbatch"
: >"$work/nt.batch"
for ((i = 0; i < N; i++)); do
    h=${HA[i]}; c=${CA[i]}
    printf 'link add h%d type veth peer name eth0 netns %sc%d\naddr add %s/30 dev h%d\nlink set h%d up\n' \
        "$i" "$P" "$i" "$h" "$i" "$i" >>"$work/host.ipbatch"
    printf 'addr add %s/30 dev eth0\nlink set eth0 up\nlink set lo up\n' "$c" >"$work/c$i.ipbatch"
    printf 'connect %sc%d --type veth --name eth0 --host-name h%d --host-addr %s/30 --addr %s/30\n' \
        "$P" "$i" "$i" "$h" "$c" >>"$work/nt.batch"
done

ip_per_step() {
    local i h c
    for ((i = 0; i < N; i++)); do
        h=${HA[i]}; c=${CA[i]}
        ip -n "$H" link add "h$i" type veth peer name "p$i"
        ip -n "$H" link set "p$i" netns "${P}c$i" name eth0
        ip -n "$H" addr add "$h/30" dev "h$i"
        ip -n "$H" link set "h$i" up
        ip -n "${P}c$i" addr add "$c/30" dev eth0
        ip -n "${P}c$i" link set eth0 up
        ip -n "${P}c$i" link set lo up
    done
}

ip_batch() {
    local i
    ip -n "$H" -batch "$work/host.ipbatch"
    for ((i = 0; i < N; i++)); do ip -n "${P}c$i" -batch "$work/c$i.ipbatch"; done
}

nt_connect() {
    local i
    for ((i = 0; i < N; i++)); do
        "$NT" -n "$H" connect "${P}c$i" --type veth --name eth0 --host-name "h$i" \
            --host-addr "${HA[i]}/30" --addr "${CA[i]}/30"
    done
}

nt_batch() {
    "$NT" -n "$H" --batch "$work/nt.batch"
}

declare -A times
for name in ip_per_step ip_batch nt_connect nt_batch; do
    t=""
    for ((r = 0; r < RUNS; r++)); do
        setup
        start=$(date +%s%N)
        "$name"
        end=$(date +%s%N)
        check "$name"
        t="$t $(((end - start) / 1000))"
    done
    times[$name]=$t
done

python3 - "$N" "$RUNS" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "${times[ip_per_step]}" "${times[ip_batch]}" "${times[nt_connect]}" "${times[nt_batch]}" <<'EOF'
import statistics, sys
n, runs, load = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
names = ["ip-per-step", "ip-batch", "nt-connect", "nt-batch"]
med = {}
print(f"netlink-tool benchmark: N={n} container links, {runs} runs each, medians (load: {load})")
for name, raw in zip(names, sys.argv[4:8]):
    us = [int(x) for x in raw.split()]
    m = statistics.median(us) / 1000
    med[name] = m
    print(f"  {name:12s} {m:9.1f} ms total  {m / n:7.3f} ms/container  (min {min(us)/1000:.1f}, max {max(us)/1000:.1f})")
rows = [
    ("ip-per-step / nt-connect", med["ip-per-step"] / med["nt-connect"], ">= 9x"),
    ("ip-batch / nt-batch", med["ip-batch"] / med["nt-batch"], ">= 3x"),
    ("ip-per-step / nt-batch", med["ip-per-step"] / med["nt-batch"], ""),
    ("nt-connect / nt-batch", med["nt-connect"] / med["nt-batch"], ""),
]
print("ratios (target):")
for label, r, target in rows:
    ok = ""
    if target:
        ok = "ok" if r >= float(target.split()[1][:-1]) else "MISSED"
    print(f"  {label:26s} {r:6.1f}x  {target:6s} {ok}")
per = [("nt-batch", med["nt-batch"] / n, 1.0), ("nt-connect", med["nt-connect"] / n, 4.0)]
for label, v, limit in per:
    print(f"  {label:26s} {v:6.3f} ms/container (<= {limit} ms) {'ok' if v <= limit else 'MISSED'}")
EOF
