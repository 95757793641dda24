#!/usr/bin/env bash
# packages: chroot-rs nsenter-rs cgctl netlink-tool ptyhold debootstrap-rs
#
# The manager against LXC 5 (Debian's lxc package, installed here when missing: it is the
# anchor, never a dependency), side by side on the same Debian bookworm base (systemd,
# openssh-server: ctn's debian template) and host, ROUNDS rounds alternating which goes
# first, medians:
#   create   ctn create -t debian (the cached base)    lxc-create -t local (the same base
#                                                       as LXC's images are: tar.xz + metadata)
#   start    ctn start (to RUNNING)                     lxc-start -d
#   boot     start, then systemctl is-system-running --wait answers inside (asked once
#            systemd's private socket is there: one attach, polling inside)
#   attach   ctn attach -- true                         lxc-attach -- true
#   stop     ctn stop (clean: the init halts)           lxc-stop (SIGRTMIN+3, as for systemd)
#   copy     ctn copy                                   lxc-copy
#   destroy  ctn destroy                                lxc-destroy
# ctn's containers are unprivileged (its default) and also measured privileged; LXC's are
# privileged (root's default without /etc/subuid entries, which this script does not
# touch). start, boot and stop are timed CYCLES times (default 3) per container and round:
# systemd's own boot and halt are most of them, and vary. Every container is network-less
# (lxc.net.0.type = empty), its cgroups below this script's own (lxc.cgroup.relative), its
# state in a temporary directory; all destroyed at the end. Then `ctn ls --fancy` of 100 containers (target < 0.5 s).
# (lxc-copy needs rsync, installed with it.) Root. cargo xtask bench ctn [ROUNDS]
set -euo pipefail

BIN_DIR=${BIN_DIR:?set by cargo xtask bench}
ROUNDS=${1:-5}
CYCLES=${CYCLES:-3}  # start/boot/stop cycles of each container per round
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TOOLKIT_CACHE:-/var/cache/container-toolkit}

[ "$(id -u)" = 0 ] || { echo "bench: root is needed" >&2; exit 1; }
if ! command -v lxc-start >/dev/null || ! command -v rsync >/dev/null; then
    echo "bench: installing Debian's lxc package (the reference; it starts no service here)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lxc rsync xz-utils >/dev/null
fi

# The whole run in a cgroup of its own below ours, removed with everything below it at the
# end: LXC's monitor makes `lxc.pivot` beside its caller's group (the hierarchies' roots
# when the caller sits there), ctn's and LXC's containers make theirs below it.
if [ -z "${CTN_BENCH_GROUP:-}" ]; then
    g=ctn-bench-$$
    CGCTL_PARENT=self "$BIN_DIR/cgctl" create "$g" || exit 1
    rc=0
    CTN_BENCH_GROUP=$g CGCTL_PARENT=self "$BIN_DIR/cgctl" exec "$g" -- bash "$0" "$@" || rc=$?
    CGCTL_PARENT=self "$BIN_DIR/cgctl" delete --kill "$g" >/dev/null ||
        echo "bench: cannot remove the cgroup $g" >&2
    exit "$rc"
fi

W=$(mktemp -d /var/tmp/ctn-bench.XXXXXX)
chmod 755 "$W"  # an unprivileged container's root must reach its tree
NS=ctnb$$
export CTN_ROOT=$W/ctn CTN_RUN=$W/run CTN_CACHE=$CACHE/ctn CTN_TOOLS=$BIN_DIR CGCTL_PARENT=self
export CTN_HOST_NS=$NS PATH="$HERE/ctn:$BIN_DIR:$PATH"
LP=$W/lxc
mkdir -p "$CTN_ROOT" "$LP"

cleanup() {
    set +e
    for c in "$CTN_ROOT"/*/config; do
        [ -f "$c" ] || continue
        n=${c%/config}; n=${n##*/}
        ctn destroy -f "$n" >/dev/null 2>&1
    done
    for n in $(lxc-ls -P "$LP" 2>/dev/null); do
        lxc-stop -P "$LP" -n "$n" -k >/dev/null 2>&1
        lxc-destroy -P "$LP" -n "$n" >/dev/null 2>&1
    done
    ip netns del "$NS" 2>/dev/null
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$NS"

now() { date +%s%N; }
# ms START: milliseconds since START.
ms() { echo $(( ($(now) - $1) / 1000000 )); }

# The shared base: ctn's cached tarball (built once by debootstrap-rs when missing), and
# the same tree as LXC's local template wants it (tar.xz, plus a metadata tarball).
base=$(ctn template base bookworm) || { echo "bench: cannot build the Debian base" >&2; exit 1; }
xz_base=$CACHE/ctn-bench/$(basename "$base" .tar.zst).tar.xz
if [ ! -s "$xz_base" ]; then
    mkdir -p "$CACHE/ctn-bench"
    zstd -dc "$base" | xz -T0 -1 >"$xz_base.part" && mv "$xz_base.part" "$xz_base"
fi
meta=$W/meta
mkdir -p "$meta"
cat >"$meta/config" <<EOF
lxc.include = /usr/share/lxc/config/common.conf
lxc.arch = $(dpkg --print-architecture)
lxc.apparmor.profile = unconfined
lxc.signal.halt = SIGRTMIN+3
lxc.tty.max = 4
lxc.cgroup.relative = 1
lxc.net.0.type = empty
EOF
printf 'Debian bookworm (ctn bench)\n' >"$meta/excludes-user"
# lxc-create's own starting config (instead of /etc/lxc/default.conf's veth on lxcbr0).
printf 'lxc.net.0.type = empty\n' >"$W/default.conf"
tar -C "$meta" -cJf "$W/meta.tar.xz" config excludes-user

# Until systemd answers inside that it is running. One attach that waits in the container
# for systemd's private socket (10 ms steps: no attach is spent on a systemd not yet
# listening, and no 100 ms step rounds the time up), then asks with --wait; attached
# again (bounded) only if the attach itself was refused.
# shellcheck disable=SC2016 # expanded by the shell inside the container
WAIT_INSIDE='i=0; until [ -S /run/systemd/private ] || [ $i -ge 3000 ]; do sleep 0.01; i=$((i + 1)); done; systemctl is-system-running --wait'
wait_running() { # FRONT… : the attach command
    local i=0
    until [ "$("$@" sh -c "$WAIT_INSIDE" 2>/dev/null)" = running ]; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "bench: no boot: $*" >&2; exit 1; }
        sleep 0.1
    done
}

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }

one_ctn() { # SUFFIX [--privileged]
    local s=$1 n=c$1 t c; shift
    t=$(now); ctn create "$n" -t debian "$@" >/dev/null 2>&1; add "ctn$s create" "$(ms "$t")"
    for c in $(seq "$CYCLES"); do
        t=$(now); ctn start "$n"; add "ctn$s start" "$(ms "$t")"
        wait_running ctn attach "$n" --; add "ctn$s boot" "$(ms "$t")"
        if [ "$c" = 1 ]; then t=$(now); ctn attach "$n" -- true; add "ctn$s attach" "$(ms "$t")"; fi
        t=$(now); ctn stop "$n"; add "ctn$s stop" "$(ms "$t")"
    done
    t=$(now); ctn copy "$n" "${n}b" >/dev/null 2>&1; add "ctn$s copy" "$(ms "$t")"
    t=$(now); ctn destroy "${n}b" >/dev/null 2>&1; add "ctn$s destroy" "$(ms "$t")"
    ctn destroy "$n" >/dev/null 2>&1
}

one_lxc() {
    local n=l t c
    # (ctn makes each container's SSH host keys at create, as LXC's debian template did:
    # the same work here, or sshd fails in LXC's container.)
    t=$(now); lxc-create -P "$LP" -n "$n" -f "$W/default.conf" -t local -- -m "$W/meta.tar.xz" -f "$xz_base" >/dev/null
    ssh-keygen -q -A -f "$LP/$n/rootfs"
    add "lxc create" "$(ms "$t")"
    for c in $(seq "$CYCLES"); do
        t=$(now); lxc-start -P "$LP" -n "$n" -d; add "lxc start" "$(ms "$t")"
        wait_running lxc-attach -P "$LP" -n "$n" --; add "lxc boot" "$(ms "$t")"
        if [ "$c" = 1 ]; then t=$(now); lxc-attach -P "$LP" -n "$n" -- true; add "lxc attach" "$(ms "$t")"; fi
        t=$(now); lxc-stop -P "$LP" -n "$n"; add "lxc stop" "$(ms "$t")"
    done
    t=$(now); lxc-copy -P "$LP" -n "$n" -N "${n}b" >/dev/null; add "lxc copy" "$(ms "$t")"
    t=$(now); lxc-destroy -P "$LP" -n "${n}b" >/dev/null; add "lxc destroy" "$(ms "$t")"
    lxc-destroy -P "$LP" -n "$n" >/dev/null
}

for r in $(seq "$ROUNDS"); do
    if (( r % 2 )); then one_ctn "" ; one_ctn p --privileged; one_lxc
    else one_lxc; one_ctn p --privileged; one_ctn ""; fi
    echo "bench: round $r of $ROUNDS done" >&2
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-8s %12s %14s %10s %12s %12s\n' step "ctn (ms)" "ctn priv (ms)" "lxc (ms)" "ctn/lxc" "priv/lxc"
for step in create start boot attach stop copy destroy; do
    a=$(echo "${T["ctn $step"]}" | median)
    p=$(echo "${T["ctnp $step"]}" | median)
    l=$(echo "${T["lxc $step"]}" | median)
    printf '%-8s %12s %14s %10s %12s %12s\n' "$step" "$a" "$p" "$l" \
        "$(awk -v a="$a" -v l="$l" 'BEGIN { printf "%.2f", a / (l ? l : 1) }')" \
        "$(awk -v a="$p" -v l="$l" 'BEGIN { printf "%.2f", a / (l ? l : 1) }')"
done

# ls --fancy of 100 containers (configs only: ls reads configs and run state).
ctn create one --from "$base" >/dev/null 2>&1
for i in $(seq 100); do
    mkdir -p "$CTN_ROOT/m$i"
    sed "s/= one$/= m$i/" "$CTN_ROOT/one/config" >"$CTN_ROOT/m$i/config"
done
t=$(now); ctn ls --fancy >/dev/null; echo "ctn ls --fancy, 101 containers: $(ms "$t") ms (target < 500)"
for i in $(seq 100); do rm -rf "${CTN_ROOT:?}/m$i"; done
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r), LXC $(lxc-start --version)"
