//! The command line. clap defines the global options and the objects (help, man page);
//! `link`, `addr`, `route` and `netns` then take iproute2's words, parsed here by hand
//! (`link add v0 type veth peer v1`), while `connect`, `disconnect` and `nat` take
//! `--options`. Everything is checked and converted into a plain [`Config`] before
//! anything is sent to the kernel. Batch lines go through the same parser.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

pub use crate::command::{AddKind, Command, Master, RouteFilter, RouteSpec};
use crate::connect::{self, Spec};
use crate::error::Error;
use crate::iproute::{self, usage};
use crate::msg::MacvlanMode;
use crate::nat::{Proto, Rule};
use crate::parse;

/// `--version`: the workspace's version and what the tool claims to be compatible with.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (iproute2 6.1 words for link, addr, route, netns)"
);

const AFTER_HELP: &str = "\
NS is a PID, a path to an nsfs file, or a name under /run/netns (as `ip netns` makes).
Link names are at most 15 bytes, without '/', ':' or spaces.

Objects and their words (iproute2's):
  link add NAME [mtu N] [address MAC] [up] type veth peer PEER [address MAC] [mtu N] [netns NS]
  link add NAME type bridge
  link add NAME type macvlan link PARENT [mode bridge|vepa|private|passthru]
  link add NAME type vlan link PARENT id N
  link set NAME [up|down] [mtu N] [address MAC] [master BR|nomaster] [netns NS] [name NEW]
  link del NAME
  link show [NAME]
  addr add|del CIDR dev NAME [nodad]      addr show [dev NAME]      addr flush dev NAME
  route add|del DEST|default [via GW] [dev NAME]
  route show [DEST|default] [dev NAME]      route flush DEST|dev NAME
  netns add|del NAME      netns list

connect keeps a record of each connection in /run/netlink-tool ($NETLINK_TOOL_STATE_DIR);
disconnect undoes what it says (also what an interrupted connect left), readdr changes
the connection's addresses.

Exit status: 0 success, 1 the operation failed, 2 usage error (nothing was sent),
128+N stopped by signal N (SIGINT, SIGTERM, SIGHUP: what the run made was rolled back).

Example: a container with a veth on bridge br0, and NAT for its subnet:
  netlink-tool netns add ctn01
  netlink-tool connect ctn01 --type veth --link br0 --create-bridge --addr 10.0.3.2/24 --gw 10.0.3.1
  netlink-tool nat masquerade --source 10.0.3.0/24";

/// Container networking over rtnetlink and nftables
///
/// Links, addresses, routes and network namespaces with iproute2's words; `connect`
/// gives a network namespace its link the way LXC's network types do (veth, macvlan,
/// vlan, phys, empty, and OpenVZ's routed venet); `nat` keeps masquerade and port
/// forwards in one nftables table the tool owns. Speaks netlink itself: never runs `ip`
/// or `nft`.
#[derive(Debug, Parser)]
#[command(
    name = "netlink-tool",
    version = VERSION,
    after_help = AFTER_HELP,
    disable_help_subcommand = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Work in network namespace NS (the host side of connect)
    #[arg(short = 'n', long = "netns", value_name = "NS")]
    netns: Option<String>,

    /// Print show/list output as JSON, one object per line
    #[arg(short = 'j', long, global = true)]
    json: bool,

    /// Trace every netlink request and system call on stderr (-vv: lookups too)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Read commands one per line from FILE ('-': standard input)
    #[arg(short = 'b', long, value_name = "FILE")]
    batch: Option<PathBuf>,

    /// IPv4 only (addr show/flush, route show/flush)
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,

    /// IPv6 only (addr show/flush, route show/flush)
    #[arg(short = '6')]
    ipv6: bool,

    /// Details: link show adds promiscuity, MTU limits, the kind and its settings
    #[arg(short = 'd', long)]
    details: bool,

    /// Statistics: link show adds the RX/TX counters (JSON always has them)
    #[arg(short = 's', long = "stats", action = clap::ArgAction::Count)]
    stats: u8,

    #[command(subcommand)]
    object: Option<Object>,
}

#[derive(Debug, Subcommand)]
enum Object {
    /// Links: add (veth, bridge, macvlan, vlan), set, del, show
    Link(Words),
    /// Addresses: add, del, show (IPv4 and IPv6)
    #[command(alias = "address")]
    Addr(Words),
    /// Routes: add, del, show (IPv4 and IPv6)
    Route(Words),
    /// Network namespaces under /run/netns: add, del, list
    Netns(Words),
    /// Give a container's network namespace its link (LXC's network types)
    Connect(ConnectArgs),
    /// Undo exactly what connect made (also what an interrupted connect left)
    Disconnect(DisconnectArgs),
    /// Add or remove addresses of a connection (vzctl set --ipadd/--ipdel)
    Readdr(ReaddrArgs),
    /// NAT in the tool's own nftables table (ip netlink_tool)
    #[command(subcommand)]
    Nat(NatCmd),
}

#[derive(Debug, Args)]
struct Words {
    /// The command and its words (see below)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    words: Vec<String>,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The container's network namespace
    #[arg(value_name = "NS")]
    ns: String,
    /// Link type: empty, veth, macvlan, vlan, phys, routed (OpenVZ venet)
    #[arg(long = "type", value_name = "TYPE")]
    ty: String,
    /// Bridge (veth), parent link (macvlan, vlan) or host NIC (phys)
    #[arg(long, value_name = "DEV")]
    link: Option<String>,
    /// Create the --link bridge when it does not exist (veth)
    #[arg(long)]
    create_bridge: bool,
    /// Name of the link inside the container
    #[arg(long, default_value = "eth0", value_name = "NAME")]
    name: String,
    /// Address inside the container (repeatable)
    #[arg(long = "addr", value_name = "CIDR")]
    addrs: Vec<String>,
    /// Default gateway inside the container
    #[arg(long, value_name = "IP")]
    gw: Option<String>,
    /// MTU of the link (both veth ends; default: the bridge's)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    mtu: Option<String>,
    /// MAC address of the container's link
    #[arg(long, value_name = "MAC")]
    hwaddr: Option<String>,
    /// Name of the host end (veth, routed; default veth + 8 hex digits)
    #[arg(long, value_name = "NAME")]
    host_name: Option<String>,
    /// Address on the host end (veth, routed; repeatable)
    #[arg(long = "host-addr", value_name = "CIDR")]
    host_addrs: Vec<String>,
    /// VLAN id (vlan)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    vlan_id: Option<String>,
    /// macvlan mode: bridge (default), vepa, private, passthru
    #[arg(long, value_name = "MODE")]
    macvlan_mode: Option<String>,
    /// Keep IPv6 duplicate address detection on veth (default: nodad, usable at once)
    #[arg(long)]
    dad: bool,
}

#[derive(Debug, Args)]
struct DisconnectArgs {
    /// The container's network namespace
    #[arg(value_name = "NS")]
    ns: String,
    /// Name of the link inside the container
    #[arg(long, default_value = "eth0", value_name = "NAME")]
    name: String,
}

#[derive(Debug, Args)]
struct ReaddrArgs {
    /// The container's network namespace
    #[arg(value_name = "NS")]
    ns: String,
    /// Name of the link inside the container (as connect named it)
    #[arg(long, default_value = "eth0", value_name = "NAME")]
    name: String,
    /// Add this address (repeatable; routed: with its host route)
    #[arg(long = "add", visible_alias = "add-addr", value_name = "CIDR")]
    add: Vec<String>,
    /// Remove this address (repeatable; routed: with its host route)
    #[arg(long = "del", visible_alias = "del-addr", value_name = "CIDR")]
    del: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum NatCmd {
    /// Masquerade traffic from a prefix leaving this host (idempotent)
    Masquerade {
        /// The source prefix (IPv4)
        #[arg(long, value_name = "CIDR")]
        source: String,
        /// Only traffic leaving through this link
        #[arg(long, value_name = "IFACE")]
        out: Option<String>,
        /// Remove this rule instead of adding it
        #[arg(long)]
        delete: bool,
    },
    /// Forward a port of this host to IP:PORT (idempotent)
    Forward {
        /// tcp or udp
        #[arg(long, value_name = "PROTO")]
        proto: String,
        /// The port on this host
        #[arg(long, value_name = "P", allow_hyphen_values = true)]
        port: String,
        /// Where to send it
        #[arg(long, value_name = "IP:PORT")]
        to: String,
        /// Only traffic arriving on this link
        #[arg(long = "in", value_name = "IFACE")]
        iface: Option<String>,
        /// Remove this rule instead of adding it
        #[arg(long)]
        delete: bool,
    },
    /// List the rules of the tool's table
    List,
    /// Remove the tool's table and all its rules
    Flush,
}

/// Where the commands come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One command from the command line.
    One(Command),
    /// A batch file (`-`: standard input).
    Batch(PathBuf),
}

/// Everything `run` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `-n NS`.
    pub netns: Option<String>,
    /// `--json`.
    pub json: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-4` / `-6`: only this family (true: IPv6).
    pub family: Option<bool>,
    /// `-d`, `-s`.
    pub show: crate::show::Opts,
    /// The command or batch.
    pub input: Input,
}

/// What `parse` found: a Config, or text to print (help, version).
pub type Parsed = common::cli::Parsed<Config>;

/// The clap command (for man pages).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parse the process's arguments (without argv[0]).
pub fn parse(args: &[OsString]) -> Result<Parsed, Error> {
    let argv = std::iter::once(OsString::from("netlink-tool")).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Parsed::Print(e.render().to_string()))
                }
                _ => Err(Error::Usage(common::cli::clap_message(&e))),
            };
        }
    };
    to_config(cli).map(Parsed::Run)
}

fn to_config(cli: Cli) -> Result<Config, Error> {
    let mut json = cli.json;
    let mut verbose = cli.verbose;
    let input = match (cli.batch, cli.object) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "--batch takes its commands from the file, not the command line".to_owned(),
            ));
        }
        (Some(f), None) => Input::Batch(f),
        (None, Some(o)) => Input::One(object(o, &mut json, &mut verbose)?),
        (None, None) => return Err(Error::Usage("no command given".to_owned())),
    };
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(false),
        (_, true) => Some(true),
        _ => None,
    };
    Ok(Config {
        netns: cli.netns.as_deref().map(parse::netns_spec).transpose()?,
        json,
        verbose,
        family,
        show: crate::show::Opts {
            details: cli.details,
            stats: cli.stats,
        },
        input,
    })
}

/// Parse one batch line's words (what follows `netlink-tool`): its own `-n` and
/// `--json` apply to that line only; `--batch` is refused.
pub fn parse_line(words: &[String]) -> Result<Config, Error> {
    let argv = std::iter::once("netlink-tool".to_owned()).chain(words.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| Error::Usage(common::cli::clap_message(&e)))?;
    if cli.batch.is_some() {
        return Err(Error::Usage("--batch inside a batch".to_owned()));
    }
    to_config(cli)
}

fn object(o: Object, json: &mut bool, verbose: &mut u8) -> Result<Command, Error> {
    match o {
        Object::Link(w) => iproute::link(&strip_globals(w.words, json, verbose)),
        Object::Addr(w) => iproute::addr(&strip_globals(w.words, json, verbose)),
        Object::Route(w) => iproute::route(&strip_globals(w.words, json, verbose)),
        Object::Netns(w) => iproute::netns(&strip_globals(w.words, json, verbose)),
        Object::Connect(c) => connect_spec(&c).map(|s| Command::Connect(Box::new(s))),
        Object::Disconnect(d) => Ok(Command::Disconnect {
            ns: parse::netns_spec(&d.ns)?,
            name: parse::exact_ifname(&d.name)?,
        }),
        Object::Readdr(r) => {
            let r = connect::Readdr {
                ns: parse::netns_spec(&r.ns)?,
                name: parse::exact_ifname(&r.name)?,
                add: r
                    .add
                    .iter()
                    .map(|a| parse::cidr(a))
                    .collect::<Result<_, _>>()?,
                del: r
                    .del
                    .iter()
                    .map(|a| parse::cidr(a))
                    .collect::<Result<_, _>>()?,
            };
            r.check()?;
            Ok(Command::Readdr(r))
        }
        Object::Nat(n) => nat(n),
    }
}

/// `--json`/`-j` and `-v` after the object words (`link show --json`) count as the
/// global flags.
fn strip_globals(words: Vec<String>, json: &mut bool, verbose: &mut u8) -> Vec<String> {
    words
        .into_iter()
        .filter(|w| match w.as_str() {
            "--json" | "-j" => {
                *json = true;
                false
            }
            "--verbose" => {
                *verbose += 1;
                false
            }
            v if v.len() > 1 && v.starts_with('-') && v[1..].bytes().all(|b| b == b'v') => {
                *verbose += (v.len() - 1) as u8;
                false
            }
            _ => true,
        })
        .collect()
}

fn connect_spec(c: &ConnectArgs) -> Result<Spec, Error> {
    let ty = connect::Type::parse(&c.ty).ok_or_else(|| {
        usage(format!(
            "connect: unknown --type '{}' (empty, veth, macvlan, vlan, phys, routed)",
            parse::shown(&c.ty)
        ))
    })?;
    let mut s = Spec::new(&parse::netns_spec(&c.ns)?, ty);
    s.link = c.link.as_deref().map(parse::exact_ifname).transpose()?;
    s.create_bridge = c.create_bridge;
    s.name = parse::exact_ifname(&c.name)?;
    s.addrs = c
        .addrs
        .iter()
        .map(|a| parse::cidr(a))
        .collect::<Result<_, _>>()?;
    s.gw = c.gw.as_deref().map(parse::ip).transpose()?;
    s.mtu = c.mtu.as_deref().map(parse::mtu).transpose()?;
    s.hwaddr = c.hwaddr.as_deref().map(parse::mac).transpose()?;
    s.host_name = c
        .host_name
        .as_deref()
        .map(parse::exact_ifname)
        .transpose()?;
    s.host_addrs = c
        .host_addrs
        .iter()
        .map(|a| parse::cidr(a))
        .collect::<Result<_, _>>()?;
    s.vlan_id = c.vlan_id.as_deref().map(parse::vlan_id).transpose()?;
    if let Some(m) = &c.macvlan_mode {
        if ty != connect::Type::Macvlan {
            return Err(usage("connect: --macvlan-mode goes with --type macvlan"));
        }
        s.macvlan_mode = MacvlanMode::parse(m).ok_or_else(|| {
            usage(format!(
                "connect: unknown --macvlan-mode '{}' (bridge, vepa, private, passthru)",
                parse::shown(m)
            ))
        })?;
    }
    s.dad = c.dad;
    s.check()?;
    Ok(s)
}

fn nat(n: NatCmd) -> Result<Command, Error> {
    Ok(match n {
        NatCmd::Masquerade {
            source,
            out,
            delete,
        } => Command::NatRule {
            rule: Rule::masquerade(
                parse::cidr(&source)?,
                out.as_deref().map(parse::exact_ifname).transpose()?,
            )?,
            delete,
        },
        NatCmd::Forward {
            proto,
            port,
            to,
            iface,
            delete,
        } => Command::NatRule {
            rule: Rule::Forward {
                proto: Proto::parse(&proto).ok_or_else(|| {
                    usage(format!(
                        "nat forward: unknown --proto '{}' (tcp, udp)",
                        parse::shown(&proto)
                    ))
                })?,
                port: parse::port(&port)?,
                to: parse::ipv4_port(&to)?,
                iface: iface.as_deref().map(parse::exact_ifname).transpose()?,
            },
            delete,
        },
        NatCmd::List => Command::NatList,
        NatCmd::Flush => Command::NatFlush,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Dest;

    fn cfg(line: &str) -> Result<Config, Error> {
        parse_line(&parse::split_line(line).unwrap())
    }

    fn cmd(line: &str) -> Command {
        match cfg(line).unwrap().input {
            Input::One(c) => c,
            i => panic!("{i:?}"),
        }
    }

    fn err(line: &str) -> String {
        common::exit::message(&cfg(line).unwrap_err())
    }

    #[test]
    fn clap_definition_is_valid() {
        command().debug_assert();
    }

    #[test]
    fn link_words() {
        assert_eq!(
            cmd("link add v0 type veth peer v1 peer-netns c1"),
            Command::LinkAdd {
                name: "v0".into(),
                kind: AddKind::Veth {
                    peer: "v1".into(),
                    peer_netns: Some("c1".into()),
                    peer_mtu: None,
                    peer_mac: None,
                    peer_up: false
                },
                mtu: None,
                mac: None,
                up: false
            }
        );
        assert_eq!(
            cmd("link add name v0 mtu 9000 up type veth peer name v1"),
            Command::LinkAdd {
                name: "v0".into(),
                kind: AddKind::Veth {
                    peer: "v1".into(),
                    peer_netns: None,
                    peer_mtu: None,
                    peer_mac: None,
                    peer_up: false
                },
                mtu: Some(9000),
                mac: None,
                up: true
            }
        );
        // As in ip, the words after `peer` are the peer's.
        assert_eq!(
            cmd(
                "link add v0 address 02:00:00:00:00:01 type veth peer name v1 address 02:00:00:00:00:02 mtu 1400 netns c1 up"
            ),
            Command::LinkAdd {
                name: "v0".into(),
                kind: AddKind::Veth {
                    peer: "v1".into(),
                    peer_netns: Some("c1".into()),
                    peer_mtu: Some(1400),
                    peer_mac: Some(parse::mac("02:00:00:00:00:02").unwrap()),
                    peer_up: true
                },
                mtu: None,
                mac: Some(parse::mac("02:00:00:00:00:01").unwrap()),
                up: false
            }
        );
        assert_eq!(
            cmd("link add mv0 type macvlan link eth0 mode vepa"),
            Command::LinkAdd {
                name: "mv0".into(),
                kind: AddKind::Macvlan {
                    link: "eth0".into(),
                    mode: MacvlanMode::Vepa
                },
                mtu: None,
                mac: None,
                up: false
            }
        );
        assert!(matches!(
            cmd("link add link eth0 name v100 type vlan id 100"),
            Command::LinkAdd {
                kind: AddKind::Vlan { id: 100, .. },
                ..
            }
        ));
        assert_eq!(
            cmd("link set v0 up mtu 1400 master br0"),
            Command::LinkSet {
                name: "v0".into(),
                up: Some(true),
                mtu: Some(1400),
                mac: None,
                master: Some(Master::Bridge("br0".into())),
                netns: None,
                rename: None
            }
        );
        assert!(matches!(
            cmd("link set dev v0 nomaster netns 1234 name eth1"),
            Command::LinkSet {
                master: Some(Master::None),
                netns: Some(_),
                rename: Some(_),
                ..
            }
        ));
        assert_eq!(cmd("link del v0"), Command::LinkDel("v0".into()));
        assert_eq!(cmd("link show"), Command::LinkShow(None));
        assert_eq!(cmd("link"), Command::LinkShow(None));
        assert_eq!(
            cmd("link show dev lo"),
            Command::LinkShow(Some("lo".into()))
        );
        assert!(cfg("link show --json").unwrap().json);
        assert!(cfg("--json link show").unwrap().json);
        assert_eq!(cfg("link show -vv").unwrap().verbose, 2);
    }

    #[test]
    fn link_words_refused() {
        assert_eq!(
            err("link add averyveryverylongname type bridge"),
            "invalid interface name 'averyveryverylongname': longer than 15 bytes"
        );
        assert_eq!(
            err("link add v0 type veth"),
            "link add: type veth needs 'peer PEER'"
        );
        assert_eq!(err("link add v0"), "link add: missing 'type KIND'");
        assert_eq!(
            err("link add v0 type dummy"),
            "link add: unsupported type 'dummy' (veth, bridge, macvlan, vlan)"
        );
        assert_eq!(
            err("link add v0 type vlan link e0"),
            "link add: type vlan needs 'id N'"
        );
        assert_eq!(
            err("link add v0 type vlan link e0 id 5000"),
            "invalid VLAN id '5000': not a number in 1-4094"
        );
        assert_eq!(err("link set v0"), "link set: nothing to change");
        assert_eq!(err("link set v0 mtu"), "link set: 'mtu' needs a value");
        assert_eq!(
            err("link set v0 address 01:00:00:00:00:01"),
            "invalid MAC address '01:00:00:00:00:01': a multicast address (lowest bit of the first octet set)"
        );
        assert_eq!(
            err("link frob"),
            "link: unknown command 'frob' (add, set, del, show)"
        );
        assert_eq!(err("link del a b"), "link del: unexpected word 'b'");
        assert_eq!(
            err("link add v0 type bridge peer x"),
            "link add: words of another link type (peer/link/mode/id) given"
        );
    }

    #[test]
    fn addr_route_netns_words() {
        assert_eq!(
            cmd("addr add fd00::1/64 dev v0 nodad"),
            Command::AddrAdd {
                cidr: parse::cidr("fd00::1/64").unwrap(),
                dev: "v0".into(),
                nodad: true
            }
        );
        assert_eq!(
            cmd("address del 10.0.0.1/24 dev v0"),
            Command::AddrDel {
                cidr: parse::cidr("10.0.0.1/24").unwrap(),
                dev: "v0".into()
            }
        );
        assert_eq!(
            cmd("addr show dev v0"),
            Command::AddrShow(Some("v0".into()))
        );
        assert_eq!(err("addr add 10.0.0.1/24"), "addr add: missing 'dev NAME'");
        assert_eq!(
            err("addr add 10.0.0.300/24 dev v0"),
            "invalid CIDR '10.0.0.300/24': '10.0.0.300' is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            cmd("route add default via 10.0.0.1"),
            Command::RouteAdd(RouteSpec {
                dest: Dest::Default,
                via: Some("10.0.0.1".parse().unwrap()),
                dev: None
            })
        );
        assert!(matches!(
            cmd("route del 10.1.0.0/16 dev v0"),
            Command::RouteDel(RouteSpec {
                dest: Dest::Prefix(_),
                via: None,
                dev: Some(_)
            })
        ));
        assert_eq!(
            err("route add default"),
            "route add: needs 'via GW' or 'dev NAME'"
        );
        assert_eq!(
            cmd("route del default"),
            Command::RouteDel(RouteSpec {
                dest: Dest::Default,
                via: None,
                dev: None
            })
        );
        assert_eq!(
            err("route add 10.1.2.3/16 via 10.0.0.1"),
            "invalid destination '10.1.2.3/16': host bits set (the prefix is 10.1.0.0/16)"
        );
        assert_eq!(
            err("route add fd00::/64 via 10.0.0.1"),
            "route add: fd00::/64 and gateway 10.0.0.1 are of different families"
        );
        assert_eq!(
            cmd("route show"),
            Command::RouteShow(RouteFilter::default())
        );
        assert_eq!(
            cmd("route show default dev eth0"),
            Command::RouteShow(RouteFilter {
                dest: Some(Dest::Default),
                dev: Some("eth0".into())
            })
        );
        assert_eq!(
            err("route flush"),
            "route flush: needs DEST or 'dev NAME' (as ip)"
        );
        assert_eq!(cmd("addr flush dev v0"), Command::AddrFlush("v0".into()));
        let c = cfg("-6 -d -s -s link show").unwrap();
        assert_eq!(
            (c.family, c.show.details, c.show.stats),
            (Some(true), true, 2)
        );
        assert!(cfg("-4 -6 route show").is_err());
        assert_eq!(cmd("netns add c1"), Command::NetnsAdd("c1".into()));
        assert_eq!(cmd("netns del c1"), Command::NetnsDel("c1".into()));
        assert_eq!(cmd("netns list"), Command::NetnsList);
        assert!(err("netns add a/b").contains("invalid namespace name 'a/b'"));
    }

    #[test]
    fn connect_options() {
        let Command::Connect(s) = cmd(
            "connect c1 --type veth --link br0 --addr 10.0.3.2/24 --addr fd00::2/64 --gw 10.0.3.1 --mtu 1400 --hwaddr 02:00:00:00:00:02",
        ) else {
            panic!()
        };
        assert_eq!(s.ty, connect::Type::Veth);
        assert_eq!(s.name, "eth0");
        assert_eq!(s.addrs.len(), 2);
        assert_eq!(s.mtu, Some(1400));
        assert_eq!(
            err("connect c1 --type ipvlan"),
            "connect: unknown --type 'ipvlan' (empty, veth, macvlan, vlan, phys, routed)"
        );
        assert_eq!(
            err("connect c1 --type veth --addr 10.0.3.2/99"),
            "invalid CIDR '10.0.3.2/99': prefix /99 is longer than 32 bits"
        );
        assert_eq!(
            err("connect c1 --type veth --name 'eth 0'"),
            "invalid interface name 'eth 0': contains a space or a control character"
        );
        // A name template would let the kernel pick the name connect then cannot find.
        for o in ["--name", "--host-name", "--link"] {
            assert_eq!(
                err(&format!("connect c1 --type veth {o} eth%d")),
                "invalid interface name 'eth%d': contains '%' (a name template: the kernel would choose the name)",
                "{o}"
            );
        }
        assert!(err("disconnect c1 --name eth%d").contains("contains '%'"));
        assert!(err("nat masquerade --source 10.0.0.0/8 --out eth%d").contains("contains '%'"));
        // ip's templates stay available where the kernel's choice is the point.
        assert!(matches!(
            cmd("link add v%d type bridge"),
            Command::LinkAdd { .. }
        ));
        assert_eq!(
            err("connect c1 --type veth --macvlan-mode vepa"),
            "connect: --macvlan-mode goes with --type macvlan"
        );
        assert_eq!(
            cmd("disconnect c1 --name eth1"),
            Command::Disconnect {
                ns: "c1".into(),
                name: "eth1".into()
            }
        );
    }

    #[test]
    fn nat_options() {
        assert_eq!(
            cmd("nat masquerade --source 10.0.3.9/24 --out eth0"),
            Command::NatRule {
                rule: Rule::masquerade(parse::cidr("10.0.3.0/24").unwrap(), Some("eth0".into()))
                    .unwrap(),
                delete: false
            }
        );
        assert!(matches!(
            cmd("nat forward --proto tcp --port 8080 --to 10.0.3.2:80 --delete"),
            Command::NatRule { delete: true, .. }
        ));
        assert_eq!(
            err("nat forward --proto sctp --port 1 --to 10.0.0.1:1"),
            "nat forward: unknown --proto 'sctp' (tcp, udp)"
        );
        assert!(cfg("nat list --json").unwrap().json);
        assert_eq!(cmd("nat flush"), Command::NatFlush);
    }

    #[test]
    fn globals_and_batch() {
        let c = cfg("-n host1 link show").unwrap();
        assert_eq!(c.netns.as_deref(), Some("host1"));
        let c = parse(&["--batch".into(), "-".into()]).unwrap();
        let Parsed::Run(c) = c else { panic!() };
        assert_eq!(c.input, Input::Batch("-".into()));
        let e = parse(&["--batch".into(), "f".into(), "link".into(), "show".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--batch takes its commands from the file, not the command line"
        );
        assert_eq!(err("--batch x"), "--batch inside a batch");
        assert!(matches!(parse(&["--help".into()]), Ok(Parsed::Print(_))));
    }
}
