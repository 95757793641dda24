# shellcheck shell=sh
# Settings shared by the container examples (sourced). Each can be set in the environment.
# The examples are the course's LXC session made of the toolkit's five tools:
#   ctn-create NAME N   rootfs, cgroup with limits, a persistent netns, a veth on a bridge
#   ctn-start NAME      the container's init, in its cgroup, netns and new namespaces
#   ctn-attach NAME [CMD...]   a command inside (lxc-attach)
#   ctn-info NAME       state and accounting (lxc-info), JSON
#   ctn-ls              every container, one line each (lxc-ls --fancy)
#   ctn-stop NAME       kill every process of the container (lxc-stop -k)
#   ctn-destroy NAME    undo ctn-create (lxc-destroy)

: "${CTN_ROOT:=/var/lib/ctn}"     # NAME/rootfs lives here
: "${CTN_RUN:=/run/ctn}"          # NAME.net (netns file), NAME.pid, NAME.addr, NAME.log
: "${CTN_BRIDGE:=ctnbr0}"         # the host bridge the containers' veths join
: "${CTN_SUBNET:=10.0.3}"         # container N gets $CTN_SUBNET.N/24; the bridge has .1
: "${CTN_HOST_NS:=}"              # netns playing the host (a name, path or PID); empty: ours
: "${CTN_SUITE:=bookworm}"        # for debootstrap-rs, when neither source below is set
: "${CTN_TEMPLATE:=}"             # a rootfs tarball (OpenVZ-style template) to unpack
: "${CTN_ROOTFS_FROM:=}"          # or a rootfs directory to copy
: "${CGCTL_PARENT:=/}"            # where cgctl makes the containers' groups
export CGCTL_PARENT

die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

# netlink-tool on the host side.
host_net() {
    if [ -n "$CTN_HOST_NS" ]; then
        netlink-tool -n "$CTN_HOST_NS" "$@"
    else
        netlink-tool "$@"
    fi
}

need_name() {
    [ -n "${1:-}" ] || die "usage: ${0##*/} NAME"
    case $1 in */* | .* | *' '*) die "bad container name '$1'" ;; esac
}

# The PID of a running container's init, or nothing.
ctn_pid() {
    pid=$(cat "$CTN_RUN/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}
