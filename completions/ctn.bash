# bash completion for ctn, vzctl, vzlist and the lxc-* front-ends (container-toolkit).
# Installed as bash-completion/completions/ctn, and under each other command's name as
# a link to it: bash-completion loads a command's file by the command's name.
# Container names are the directories of $CTN_ROOT (/var/lib/ctn) that hold a config.
# Plain bash: nothing of the bash-completion package is needed.

# _ctn_names: the containers, one per line.
_ctn_names() {
    local c n
    for c in "${CTN_ROOT:-/var/lib/ctn}"/*/config; do
        [ -f "$c" ] || continue
        n=${c%/config}
        printf '%s\n' "${n##*/}"
    done
}

# _ctn_templates: what -t / --ostemplate take: debian, the store's, OpenVZ's names.
_ctn_templates() {
    local t
    printf '%s\n' debian debian-11-minimal debian-12-minimal debian-13-minimal
    for t in "${CTN_ROOT:-/var/lib/ctn}"/templates/*.tar*; do
        [ -f "$t" ] || continue
        t=${t##*/}
        printf '%s\n' "${t%%.tar*}"
    done
}

# _ctn_reply WORDS CUR: COMPREPLY is the WORDS (one per line) that begin with CUR.
_ctn_reply() {
    local IFS=$'\n'
    # shellcheck disable=SC2207 # compgen prints one candidate per line
    COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# _ctn_files CUR [-d]: file (or directory) names.
_ctn_files() {
    local IFS=$'\n'
    # shellcheck disable=SC2207
    COMPREPLY=($(compgen "${2:--f}" -- "$1"))
}

_ctn() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local i=1 cmd='' at=0
    # The command: the first word that is not a global option (-P takes a value).
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case ${COMP_WORDS[i]} in
            -P | --lxcpath) i=$((i + 1)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; at=$i; break ;;
        esac
        i=$((i + 1))
    done
    case $prev in
        -P | --lxcpath) _ctn_files "$cur" -d; return ;;
    esac
    if [ -z "$cmd" ]; then
        case $cur in
            -*) _ctn_reply $'-x\n--trace\n-P\n--lxcpath\n-h\n--help\n--version' "$cur" ;;
            *) _ctn_reply $'create\nstart\nstop\ndestroy\nconsole\nattach\ninfo\nls\nlist\ncgroup\nfreeze\nunfreeze\nthaw\nset\ncopy\nsnapshot\nautostart\ntemplate\ncheckconfig\ncheck\nstat\nexport\nhelp' "$cur" ;;
        esac
        return
    fi
    local opts=''
    case $cmd in
        create)
            case $prev in
                -t | --template) _ctn_reply "$(_ctn_templates)" "$cur"; return ;;
                -f | --config | --from) _ctn_files "$cur"; return ;;
                -r | --release | --include) return ;;
            esac
            opts=$'-t\n--template\n-r\n--release\n--include\n--from\n--privileged\n-f\n--config'
            ;;
        start) opts=$'-d\n--daemon\n-F\n--foreground' ;;
        stop) opts=$'-k\n--kill\n-t\n--timeout' ;;
        destroy) opts=$'-f\n--force\n-s\n--snapshots' ;;
        console) opts=$'-t\n--tty\n-e\n--escape' ;;
        attach) opts=-- ;;
        info) opts=$'--json\n-s\n-p\n-i\n-S\n-H\n-c' ;;
        ls | list) opts=$'-1\n--line\n-f\n--fancy\n--running\n--stopped\n--frozen\n--active' ;;
        set)
            opts=$'--ram\n--swap\n--cpus\n--cpulimit\n--cpuunits\n--diskspace\n--hostname\n--ipadd\n--ipdel\n--nameserver\n--userpasswd\n--save'
            ;;
        export)
            case $prev in
                --oci) _ctn_files "$cur"; return ;;
            esac
            opts=--oci
            ;;
        snapshot) opts=$'-c\n--comment\n-L\n--list\n-r\n--restore\n-N\n--newname\n-d\n--destroy' ;;
        autostart)
            _ctn_reply $'-a\n--all\n-g\n--groups\n-k\n--kill\n-s\n--shutdown\n-r\n--reboot\n-L\n--list' "$cur"
            return
            ;;
        template)
            if [ "$COMP_CWORD" -eq $((at + 1)) ]; then
                _ctn_reply $'list\nimport\nmake' "$cur"
            elif [ "${COMP_WORDS[at + 1]}" = import ] && [ "$COMP_CWORD" -eq $((at + 2)) ]; then
                _ctn_files "$cur"
            elif [ "${COMP_WORDS[at + 1]}" = make ] && [ "$COMP_CWORD" -eq $((at + 3)) ]; then
                _ctn_reply "$(_ctn_names)" "$cur"
            fi
            return
            ;;
        checkconfig | check) _ctn_reply --raw "$cur"; return ;;
        help) return ;;
    esac
    case $cur in
        -*) _ctn_reply "$opts" "$cur" ;;
        *)
            # The container's name comes first (a new one for create).
            if [ "$COMP_CWORD" -eq $((at + 1)) ] && [ "$cmd" != create ]; then
                _ctn_reply "$(_ctn_names)" "$cur"
            fi
            ;;
    esac
}

_ctn_vzctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        _ctn_reply $'create\nstart\nstop\nrestart\nstatus\ndestroy\ndelete\nenter\nexec\nexec2\nset\nhelp\n--version' "$cur"
        return
    fi
    local cmd=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 2 ]; then
        [ "$cmd" = create ] || _ctn_reply "$(_ctn_names)" "$cur"
        return
    fi
    case $prev in
        --ostemplate) _ctn_reply "$(_ctn_templates)" "$cur"; return ;;
    esac
    case $cmd in
        create) _ctn_reply $'--ostemplate\n--hostname\n--ipadd\n--nameserver\n--privileged' "$cur" ;;
        stop) _ctn_reply --fast "$cur" ;;
        set)
            _ctn_reply $'--ram\n--swap\n--cpus\n--cpulimit\n--cpuunits\n--diskspace\n--hostname\n--ipadd\n--ipdel\n--nameserver\n--userpasswd\n--save' "$cur"
            ;;
    esac
}

_ctn_vzlist() {
    _ctn_reply $'-a\n--all' "${COMP_WORDS[COMP_CWORD]}"
}

_ctn_lxc() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd=${COMP_WORDS[0]##*/} opts=''
    case $prev in
        -n | --name) _ctn_reply "$(_ctn_names)" "$cur"; return ;;
        -P | --lxcpath) _ctn_files "$cur" -d; return ;;
    esac
    local common=$'-n\n--name\n-P\n--lxcpath\n-q\n--quiet\n-o\n--logfile\n-l\n--logpriority\n-h\n--help\n--version'
    case $cmd in
        lxc-create)
            case $prev in
                -t | --template) _ctn_reply "$(_ctn_templates)" "$cur"; return ;;
                -f | --config) _ctn_files "$cur"; return ;;
                -B | --bdev) _ctn_reply dir "$cur"; return ;;
            esac
            opts=$'-t\n--template\n-f\n--config\n-B\n--bdev'
            ;;
        lxc-start) opts=$'-d\n--daemon\n-F\n--foreground' ;;
        lxc-console) opts=$'-t\n--tty\n-e\n--escape' ;;
        lxc-info) opts=$'-s\n--state\n-p\n--pid\n-i\n--ips\n-S\n--stats' ;;
        lxc-ls)
            _ctn_reply $'-1\n--line\n-f\n--fancy\n--running\n--stopped\n--frozen\n--active' "$cur"
            return
            ;;
        lxc-attach) opts=--clear-env ;;
        lxc-stop) opts=$'-k\n--kill\n-t\n--timeout' ;;
        lxc-destroy) opts=$'-f\n--force\n-s\n--snapshots' ;;
        lxc-snapshot)
            case $prev in -c | --comment) _ctn_files "$cur"; return ;; esac
            opts=$'-c\n--comment\n-L\n--list\n-C\n--showcomments\n-r\n--restore\n-N\n--newname\n-d\n--destroy'
            ;;
        lxc-copy) opts=$'-N\n--newname' ;;
        lxc-autostart)
            _ctn_reply $'-a\n--all\n-g\n--groups\n-k\n--kill\n-s\n--shutdown\n-r\n--reboot\n-L\n--list' "$cur"
            return
            ;;
        lxc-checkconfig) return ;;
    esac
    case $cur in
        -*) _ctn_reply "$common"$'\n'"$opts" "$cur" ;;
        *)
            # LXC 5 takes the name as the first word too; after -- comes a command.
            local w
            for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
                case $w in -n | --name | -n?* | --name=* | --) return ;; esac
            done
            [ "$cmd" = lxc-create ] || _ctn_reply "$(_ctn_names)" "$cur"
            ;;
    esac
}

complete -F _ctn ctn
complete -F _ctn_vzctl vzctl
complete -F _ctn_vzlist vzlist
complete -F _ctn_lxc lxc-create lxc-start lxc-console lxc-info lxc-ls lxc-attach lxc-stop \
    lxc-destroy lxc-cgroup lxc-freeze lxc-unfreeze lxc-snapshot lxc-copy lxc-autostart \
    lxc-checkconfig
