#!/usr/bin/env bash
# packages: ptyhold
#
# What the console holder adds to a container, side by side in one hyperfine run each
# (ROUNDS rounds, alternating which side goes first; medians over all the rounds):
#   start:  ptyhold -d --socket S -- true                 vs true      (target: < 1 ms added)
#           ptyhold -d --ttys 4 --socket S --log L -- true  (a container's set: 5 ptys, a log)
#           dtach -n S true, when dtach is installed (the detachable-session tool ptyhold
#           stands beside; not installed by ./lab, so skipped when missing)
#   whole:  ptyhold --socket S -- true (start, wait, drain, remove the socket) vs true
#   memory: VmRSS and VmHWM of a holder of an idle `sleep` with 4 ttys, a socket and a log,
#           then after 16 MiB of console output through the log (rotated at 1M) with a
#           client attached, and the client's own            (target: < 2 MiB per holder)
# -d returns once the command has started; the holder then sees `true` end, drains and
# removes its socket: each run's --prepare waits until that socket is gone, so a holder
# never overlaps the next run (and never runs into "in use").
# Root is not needed. cargo xtask bench console [RUNS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
RUNS=${1:-300}
ROUNDS=${ROUNDS:-4}
PH="$BIN_DIR/ptyhold"
TRUE=$(command -v true)

for t in hyperfine python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (./lab deps installs it)" >&2; exit 1; }
done

out=$(mktemp -d)
pids=()
cleanup() {
    # Only what this script started, by PID: the holders (SIGTERM is passed on to their
    # sleep) and the attached client (which also detaches when its FIFO closes).
    exec 9>&- 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 200); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.01
    done
    rm -rf "$out"
}
trap cleanup EXIT

gone() { # the --prepare of a run: wait (bounded) until socket $1 is removed
    echo "sh -c 'i=0; while [ -e $1 ] && [ \$i -lt 2000 ]; do sleep 0.001; i=\$((i+1)); done'"
}

per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
bench() { # name, then "NAME|PREPARE|COMMAND" entries
    local name=$1; shift
    local entries=("$@")
    for round in $(seq "$ROUNDS"); do
        local args=() order=()
        if (( round % 2 )); then order=("${entries[@]}"); else
            for (( i=${#entries[@]}-1; i>=0; i-- )); do order+=("${entries[$i]}"); done
        fi
        for e in "${order[@]}"; do
            IFS='|' read -r n p c <<<"$e"
            args+=(-n "$n" --prepare "$p" "$c")
        done
        hyperfine -N --style none --warmup 10 --runs "$per_round" \
            --export-json "$out/$name.$round.json" "${args[@]}" >"$out/log" 2>&1 ||
            { cat "$out/log" >&2; echo "bench: hyperfine failed ($name)" >&2; exit 1; }
    done
}

echo "ptyhold benchmark: $RUNS runs per command in $ROUNDS rounds, medians (load: $(cut -d' ' -f1-3 /proc/loadavg))"
S1="$out/d.sock" S2="$out/d4.sock" S3="$out/fg.sock" S4="$out/dtach.sock"
start=(
    "true|$TRUE|$TRUE"
    "ptyhold -d|$(gone "$S1")|$PH -d --socket $S1 -- $TRUE"
    "ptyhold -d 4 ttys + log|$(gone "$S2")|$PH -d --ttys 4 --socket $S2 --log $out/d4.log -- $TRUE"
)
if command -v dtach >/dev/null; then
    start+=("dtach -n|$(gone "$S4")|dtach -n $S4 $TRUE")
fi
bench start "${start[@]}"
bench whole "true|$TRUE|$TRUE" "ptyhold (foreground)|$(gone "$S3")|$PH --socket $S3 -- $TRUE"

# Memory: an idle holder, then a busy one with a client attached.
status_of() { # pid -> "VmRSS VmHWM" in KiB
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' "/proc/$1/status"
}
holder_of() { # pidfile -> the holder (the command's parent)
    awk '/^PPid:/ { print $2 }' "/proc/$(cat "$1")/status"
}
"$PH" -d --ttys 4 --socket "$out/idle.sock" --log "$out/idle.log" --pidfile "$out/idle.pid" -- sleep 100000
idle=$(holder_of "$out/idle.pid"); pids+=("$idle")
"$PH" -d --ttys 4 --socket "$out/busy.sock" --log "$out/busy.log" --log-size 1M --pidfile "$out/busy.pid" -- \
    sh -c "while [ ! -e $out/go ]; do sleep 0.01; done; head -c 16777216 /dev/zero | tr '\\0' x; touch $out/done; exec sleep 100000"
busy=$(holder_of "$out/busy.pid"); pids+=("$busy")
# The client reads a FIFO this script holds open (no end of input, so it stays attached).
mkfifo "$out/keys"
"$PH" attach "$out/busy.sock" <"$out/keys" >/dev/null 2>&1 &
client=$!; pids+=("$client")
exec 9>"$out/keys"
for _ in $(seq 1000); do
    "$PH" list "$out/busy.sock" --json 2>/dev/null | grep -q '"attached":true' && break
    sleep 0.01
done
touch "$out/go"
for _ in $(seq 6000); do [ -e "$out/done" ] && break; sleep 0.01; done
[ -e "$out/done" ] || { echo "bench: the busy command did not finish" >&2; exit 1; }
# The holder may still be relaying the last of it: wait until the log stops growing.
last=-1
while :; do
    size=$(cat "$out/busy.log" "$out/busy.log.1" 2>/dev/null | wc -c)
    [ "$size" = "$last" ] && break
    last=$size; sleep 0.1
done
read -r idle_rss idle_hwm <<<"$(status_of "$idle")"
read -r busy_rss busy_hwm <<<"$(status_of "$busy")"
read -r client_rss client_hwm <<<"$(status_of "$client")"
log_bytes=$(( $(stat -c %s "$out/busy.log") + $(stat -c %s "$out/busy.log.1") ))

python3 - "$out" "$idle_rss" "$idle_hwm" "$busy_rss" "$busy_hwm" "$client_rss" "$client_hwm" "$log_bytes" <<'EOF'
import glob, json, statistics, sys
d = sys.argv[1]
idle_rss, idle_hwm, busy_rss, busy_hwm, client_rss, client_hwm, log_bytes = map(int, sys.argv[2:])
def stats(name):
    times = {}
    for f in sorted(glob.glob(f"{d}/{name}.*.json")):
        for r in json.load(open(f))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
    return {k: (statistics.median(v) * 1000, min(v) * 1000) for k, v in times.items()}
s, w = stats("start"), stats("whole")
cpus = open("/proc/cpuinfo").read().count("processor\t:")
print(f"load at the end: {open('/proc/loadavg').read().split()[:3]} on {cpus} CPUs")
print("  command                      median ms   min ms")
for k, (med, low) in s.items():
    print(f"  {k:28s} {med:9.3f} {low:8.3f}")
for k, (med, low) in w.items():
    print(f"  {k + ' (whole)' if k == 'true' else k:28s} {med:9.3f} {low:8.3f}")
def above(table, k):
    return table[k][0] - table["true"][0], table[k][1] - table["true"][1]
print("added to a start (median; the floor is the difference of the minimums, the cost")
print("without scheduling delays), and memory (targets: < 1 ms, < 2 MiB; a loaded machine")
print("inflates the medians: see the load):")
def row(label, value, target, unit, extra=""):
    ok = "ok" if value < target else "MISSED"
    print(f"  {label:44s} {value:7.3f} {unit}  (< {target} {unit}) {ok}{extra}")
def ratio(table, k):
    return f", {table[k][0] / table['true'][0]:.2f}x true"
for label, k in [("ptyhold -d -- true, above true", "ptyhold -d"),
                 ("ptyhold -d --ttys 4 --log, above true", "ptyhold -d 4 ttys + log")]:
    med, low = above(s, k)
    row(label, med, 1.0, "ms", f"   floor {low:.3f} ms{ratio(s, k)}")
med, low = above(w, "ptyhold (foreground)")
print(f"  {'ptyhold -- true (whole life), above true':44s} {med:7.3f} ms   "
      f"floor {low:.3f} ms{ratio(w, 'ptyhold (foreground)')}")
if "dtach -n" in s:
    med, low = above(s, "dtach -n")
    print(f"  {'(for scale) dtach -n S true, above true':44s} {med:7.3f} ms   "
          f"floor {low:.3f} ms{ratio(s, 'dtach -n')}")
row("holder VmRSS, idle, 4 ttys, socket, log", idle_rss / 1024, 2.0, "MiB")
row("holder VmHWM, idle", idle_hwm / 1024, 2.0, "MiB")
row("holder VmRSS after 16 MiB relayed and logged", busy_rss / 1024, 2.0, "MiB")
row("holder VmHWM after 16 MiB relayed and logged", busy_hwm / 1024, 2.0, "MiB")
print(f"  {'attach client VmRSS / VmHWM':44s} {client_rss / 1024:7.3f} / {client_hwm / 1024:.3f} MiB")
print(f"  (the busy log and its .1 hold {log_bytes} bytes of the 16 MiB: <= 2 x 1M)")
EOF
