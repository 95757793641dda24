#!/usr/bin/env bash
# packages: cgctl
#
# cgctl against the tools it replaces, side by side (hyperfine, whole processes):
#   chain:  cgctl create X --memory 256M && cgctl exec X -- true && cgctl delete X
#           vs libcgroup: cgcreate -g memory,cpu,pids + cgset + cgexec + cgdelete (+ the
#              rmdir of what cgdelete leaves behind on a hybrid host, see the research)
#           vs plain shell writes: mkdir x3, echo limit, a child joins 3 groups and execs
#              true, rmdir x3                          targets: <= 1.2x shell, <= 0.5x libcgroup
#   get/set: cgctl get X memory, cgctl set X --memory 128M    target: <= 2 ms each
#   list:   cgctl list --json over 1,000 groups (every hierarchy, made by one
#           cgctl --batch)                                           target: < 100 ms
# cgctl's chain makes and removes the group in every mounted hierarchy (10 here), the
# others in the three they name. Every group lives below this script's own cgroup in
# each hierarchy (as the tests' do) and is removed on exit.
# Run as root: cargo xtask bench cgroup [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
RUNS=${1:-100}
CG="$BIN_DIR/cgctl"

for t in hyperfine cgcreate cgset cgexec cgdelete python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

# This process's own group in the memory, cpu and pids hierarchies (v1 or hybrid host).
own() { # controller -> its path in /proc/self/cgroup
    awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}
mnt() { # controller -> its v1 mount point
    awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $2 }' /proc/self/mounts
}
for c in memory cpu pids; do
    [ -n "$(mnt $c)" ] || { echo "bench: needs a v1 $c hierarchy (the libcgroup and shell chains are v1)" >&2; exit 1; }
done
MEM=$(own memory); MEM=${MEM%/}; CPU=$(own cpu); CPU=${CPU%/}; PIDS=$(own pids); PIDS=${PIDS%/}
MEMD="$(mnt memory)$MEM"; CPUD="$(mnt cpu)$CPU"; PIDSD="$(mnt pids)$PIDS"
[ "$CPU" = "$PIDS" ] || { echo "bench: cpu and pids groups differ ($CPU, $PIDS)" >&2; exit 1; }
export CGCTL_PARENT=self

out=$(mktemp -d)
B="cgbench$$"
cleanup() {
    "$CG" delete --kill --recursive "$B" 2>/dev/null || true
    for n in lc sh cg; do
        rmdir "$MEMD/$B$n" "$CPUD/$B$n" "$PIDSD/$B$n" 2>/dev/null || true
        "$CG" delete "$B$n" 2>/dev/null || true
    done
    rm -rf "$out"
}
trap cleanup EXIT

# The three chains, as scripts run by one `sh` each (the same shell start-up for all).
cat > "$out/libcgroup.sh" <<EOF
cgcreate -g memory:$MEM/${B}lc -g cpu,pids:$CPU/${B}lc
cgset -r memory.limit_in_bytes=256M $MEM/${B}lc
cgexec -g memory:$MEM/${B}lc -g cpu,pids:$CPU/${B}lc true
cgdelete -g memory:$MEM/${B}lc -g cpu,pids:$CPU/${B}lc
rmdir $CPUD/${B}lc $PIDSD/${B}lc 2>/dev/null || true
EOF
cat > "$out/shell.sh" <<EOF
mkdir $MEMD/${B}sh $CPUD/${B}sh $PIDSD/${B}sh
echo 268435456 > $MEMD/${B}sh/memory.limit_in_bytes
sh -c 'echo \$\$ > $MEMD/${B}sh/cgroup.procs; echo \$\$ > $CPUD/${B}sh/cgroup.procs; echo \$\$ > $PIDSD/${B}sh/cgroup.procs; exec true'
rmdir $MEMD/${B}sh $CPUD/${B}sh $PIDSD/${B}sh
EOF
cat > "$out/cgctl.sh" <<EOF
$CG create ${B}cg --memory 256M && $CG exec ${B}cg -- true && $CG delete ${B}cg
EOF

bench() { # name, then commands
    local name=$1; shift
    hyperfine -N --style none --warmup 5 --runs "$RUNS" --export-json "$out/$name.json" "$@" >/dev/null 2>&1
}

echo "cgctl benchmark: $RUNS runs per command, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
bench chain -n libcgroup "sh $out/libcgroup.sh" -n shell "sh $out/shell.sh" -n cgctl "sh $out/cgctl.sh"

"$CG" create "$B" --memory 256M
bench getset -n get "$CG get $B memory" -n set "$CG set $B --memory 128M" -n stat "$CG stat $B --json"

# 1,000 groups below $B, in every hierarchy, made by one cgctl --batch.
for i in $(seq -w 0 999); do echo "create $B/g$i"; done > "$out/create-1000"
t0=$(date +%s%N)
"$CG" --batch "$out/create-1000"
batch_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rows=$("$CG" list "$B" --json | wc -l)
bench list -n "list-1000" "$CG list $B --json"

python3 - "$out" "$rows" "$batch_ms" <<'EOF'
import json, sys, statistics
d, rows, batch_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    res = json.load(open(f"{d}/{name}.json"))["results"]
    return {r["command"]: (statistics.median(r["times"]) * 1000,
                           (r["user"] + r["system"]) * 1000)
            for r in res}
c, g, l = load("chain"), load("getset"), load("list")
print("  command                 wall ms (median)  cpu ms (mean)")
for k, (w, u) in {**c, **g, **l}.items():
    print(f"  {k:26s} {w:8.2f} {u:8.2f}")
print(f"  (list-1000 printed {rows} rows; cgctl --batch made the 1,000 groups in {batch_ms} ms)")
print("ratios and targets:")
def row(label, value, target, unit="x"):
    ok = "ok" if value <= target else "MISSED"
    print(f"  {label:34s} {value:6.2f}{unit}  (<= {target}{unit}) {ok}")
row("cgctl chain / shell chain (wall)", c["cgctl"][0] / c["shell"][0], 1.2)
row("cgctl chain / shell chain (cpu)", c["cgctl"][1] / c["shell"][1], 1.2)
row("cgctl chain / libcgroup (wall)", c["cgctl"][0] / c["libcgroup"][0], 0.5)
row("cgctl chain / libcgroup (cpu)", c["cgctl"][1] / c["libcgroup"][1], 0.5)
print(f"  (for scale: the raw shell chain itself is {c['shell'][0] / c['libcgroup'][0]:.2f}x libcgroup)")
row("cgctl get (wall)", g["get"][0], 2.0, " ms")
row("cgctl set (wall)", g["set"][0], 2.0, " ms")
row("cgctl list --json, 1,000 groups", l["list-1000"][0], 100.0, " ms")
EOF
