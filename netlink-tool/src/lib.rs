//! netlink-tool: container networking over rtnetlink and nftables. Linux only.
//!
//! [`cli`] turns the command line (or a batch line) into a checked [`Config`]; [`run`]
//! executes it over one synchronous netlink socket per namespace ([`ns`], [`nl`]), with
//! requests built in [`msg`] and small shared operations in [`ops`]. [`connect`] holds
//! LXC's link types with rollback; [`nat`] the nftables table the tool owns. Output goes
//! to the writer `run` is given: text like `ip`'s, or JSON lines with `--json`.

pub mod cli;
pub mod command;
pub mod connect;
pub mod error;
#[cfg(test)]
mod fake;
pub mod interrupt;
pub mod iproute;
pub mod msg;
pub mod nat;
pub mod nl;
pub mod ns;
pub mod ops;
pub mod parse;
pub mod show;
pub mod sys;

use std::io::{self, BufRead, Write};

use netlink_packet_route::RouteNetlinkMessage as M;
use serde::Serialize;

pub use cli::Config;
use cli::{AddKind, Command, Input, Master, RouteSpec};
pub use error::Error;
use error::kernel;
use msg::{Kind, NewLink, SetLink};
use nl::CREATE_EXCL;
use ns::{Net, NetNs};
use parse::Dest;

/// Run the command or the batch of `cfg`, writing show/list output to `out`.
pub fn run(cfg: &Config, out: &mut dyn Write) -> Result<(), Error> {
    let mut net = Net::new(cfg.netns.as_deref())?;
    match &cfg.input {
        Input::One(c) => execute(&mut net, c, &View::of(cfg), out),
        Input::Batch(path) => batch(&mut net, cfg, path, out),
    }
}

/// Run a batch: one command per line, in this one process, one socket per namespace.
/// Every line is read and parsed first: a bad line stops the batch before anything is
/// run. The first line that fails when run stops it (earlier lines stay done, as with
/// `ip -batch`; each line's own work is rolled back by the line itself), and the error
/// says which lines were applied.
fn batch(
    net: &mut Net,
    cfg: &Config,
    path: &std::path::Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let lines = parse_batch(path)?;
    let mut applied: Option<(usize, usize)> = None;
    for (n, line_cfg) in &lines {
        let n = *n;
        let at = |e: Error| {
            let done = match applied {
                None => "nothing applied".to_owned(),
                Some((a, b)) if a == b => format!("applied: line {a}"),
                Some((a, b)) => format!("applied: lines {a}-{b}"),
            };
            e.context(format!("line {n}"))
                .context_after(format!(" ({done})"))
        };
        interrupt::check().map_err(at)?;
        let Input::One(cmd) = &line_cfg.input else {
            unreachable!("checked by parse_batch");
        };
        let own_host = line_cfg.netns.is_some();
        if own_host {
            net.set_host(line_cfg.netns.as_deref()).map_err(at)?;
        }
        let mut view = View::of(line_cfg);
        view.json |= cfg.json;
        view.family = view.family.or(cfg.family);
        view.show.details |= cfg.show.details;
        view.show.stats = view.show.stats.max(cfg.show.stats);
        let r = execute(net, cmd, &view, out);
        if own_host {
            net.set_host(cfg.netns.as_deref()).map_err(at)?;
        }
        r.map_err(at)?;
        applied = Some((applied.map_or(n, |(a, _)| a), n));
    }
    Ok(())
}

/// Read and parse a whole batch (`-`: standard input): its commands with their line
/// numbers. Nothing is run before every line parsed.
fn parse_batch(path: &std::path::Path) -> Result<Vec<(usize, Config)>, Error> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let f = std::fs::File::open(path).map_err(|source| Error::File {
            context: "cannot open batch file",
            path: path.to_owned(),
            source,
        })?;
        Box::new(io::BufReader::new(f))
    };
    parse_batch_lines(reader, path)
}

/// Parse the lines of a batch read from `reader` (the file `path`, named in errors): its
/// commands with their line numbers. A blank or comment line is skipped; a nested
/// `--batch` is refused.
pub fn parse_batch_lines(
    reader: impl BufRead,
    path: &std::path::Path,
) -> Result<Vec<(usize, Config)>, Error> {
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|source| Error::File {
            context: "cannot read batch file",
            path: path.to_owned(),
            source,
        })?;
        let at = |e: Error| e.context(format!("line {n}"));
        let words = parse::split_line(&line).map_err(|e| at(e.into()))?;
        if words.is_empty() {
            continue;
        }
        let line_cfg = cli::parse_line(&words).map_err(at)?;
        if !matches!(line_cfg.input, Input::One(_)) {
            return Err(at(Error::Usage("--batch inside a batch".to_owned())));
        }
        out.push((n, line_cfg));
    }
    Ok(out)
}

fn emit<T: Serialize>(out: &mut dyn Write, json: bool, v: &T, text: &str) -> Result<(), Error> {
    let r = if json {
        common::json::write_line(out, v)
    } else {
        writeln!(out, "{text}")
    };
    r.map_err(Error::Stdout)
}

/// How `show` and `flush` commands print and select.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    /// JSON lines.
    pub json: bool,
    /// `-4` / `-6` (true: IPv6).
    pub family: Option<bool>,
    /// `-d`, `-s`.
    pub show: show::Opts,
}

impl View {
    /// The view a configuration asks for.
    pub fn of(cfg: &Config) -> View {
        View {
            json: cfg.json,
            family: cfg.family,
            show: cfg.show,
        }
    }

    fn family_ok(&self, v6: bool) -> bool {
        self.family.is_none_or(|f| f == v6)
    }
}

/// One command. A stopping signal that arrived before it stops it here; commands that
/// make several changes (connect, disconnect, readdr, nat) check again between them.
pub fn execute(
    net: &mut Net,
    cmd: &Command,
    view: &View,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let json = view.json;
    interrupt::check()?;
    match cmd {
        Command::LinkAdd {
            name,
            kind,
            mtu,
            mac,
            up,
        } => link_add(net, name, kind, *mtu, *mac, *up),
        Command::LinkSet {
            name,
            up,
            mtu,
            mac,
            master,
            netns,
            rename,
        } => {
            let what = format!("link set {name}");
            let target = netns.as_deref().map(NetNs::open).transpose()?;
            let s = net.route_host()?;
            let l = ops::need_link(s, name, &what)?;
            let master = match master {
                Some(Master::Bridge(b)) => Some(ops::need_link(s, b, &what)?.ifindex),
                Some(Master::None) => Some(0),
                None => None,
            };
            let set = SetLink {
                index: l.ifindex,
                up: *up,
                mtu: *mtu,
                mac: *mac,
                master,
                netns: target.as_ref().map(NetNs::raw_fd),
                rename: rename.clone(),
                ..SetLink::default()
            };
            ops::set_link(
                s,
                &set,
                format_args!("{name:?} {}", msg::describe_set(&set)),
            )
            .map_err(kernel(what))
        }
        Command::LinkDel(name) => {
            let what = format!("link del {name}");
            let s = net.route_host()?;
            let l = ops::need_link(s, name, &what)?;
            ops::del_link(s, l.ifindex, name).map_err(kernel(what))
        }
        Command::LinkShow(name) => {
            let s = net.route_host()?;
            let mut links = ops::links(s).map_err(kernel("link show"))?;
            if let Some(n) = name {
                links.retain(|l| &l.ifname == n);
                if links.is_empty() {
                    return Err(Error::Refused(format!(
                        "link show: no link '{n}' in network namespace {}",
                        net.host.label
                    )));
                }
            }
            if !json && links.iter().any(|l| l.link_netnsid.is_some()) {
                let names = ns::nsid_names(net)?;
                for l in &mut links {
                    l.more.link_netns = l.link_netnsid.and_then(|i| {
                        names
                            .iter()
                            .find(|(id, _)| *id == i)
                            .map(|(_, n)| n.clone())
                    });
                }
            }
            for l in &links {
                interrupt::check()?;
                emit(out, json, l, &show::link_text(l, view.show))?;
            }
            Ok(())
        }
        Command::AddrAdd { cidr, dev, nodad } => {
            let what = format!("addr add {cidr} dev {dev}");
            let s = net.route_host()?;
            let l = ops::need_link(s, dev, &what)?;
            s.request(
                M::NewAddress(msg::addr(l.ifindex, cidr, *nodad)),
                CREATE_EXCL,
                format_args!("{cidr} dev {dev:?}{}", if *nodad { " nodad" } else { "" }),
            )
            .map_err(kernel(what))
        }
        Command::AddrDel { cidr, dev } => {
            let what = format!("addr del {cidr} dev {dev}");
            let s = net.route_host()?;
            let l = ops::need_link(s, dev, &what)?;
            s.request(
                M::DelAddress(msg::addr(l.ifindex, cidr, false)),
                0,
                format_args!("{cidr} dev {dev:?}"),
            )
            .map_err(kernel(what))
        }
        Command::AddrShow(dev) => {
            let s = net.route_host()?;
            if let Some(d) = dev {
                ops::need_link(s, d, "addr show")?;
            }
            for a in ops::addrs(s).map_err(kernel("addr show"))? {
                if dev.as_ref().is_none_or(|d| &a.ifname == d) && view.family_ok(a.local.is_ipv6())
                {
                    let text = format!(
                        "{}: {} {} {}/{} scope {}{}",
                        a.ifindex,
                        a.ifname,
                        a.family,
                        a.local,
                        a.prefixlen,
                        a.scope,
                        if a.tentative { " tentative" } else { "" }
                    );
                    emit(out, json, &a, &text)?;
                }
            }
            Ok(())
        }
        Command::AddrFlush(dev) => {
            let what = format!("addr flush dev {dev}");
            let s = net.route_host()?;
            let l = ops::need_link(s, dev, &what)?;
            for a in ops::addrs(s).map_err(kernel(what.clone()))? {
                if a.ifindex != l.ifindex || !view.family_ok(a.local.is_ipv6()) {
                    continue;
                }
                let c = parse::Cidr {
                    addr: a.local,
                    prefix: a.prefixlen,
                };
                interrupt::check()?;
                match s.request(
                    M::DelAddress(msg::addr(l.ifindex, &c, false)),
                    0,
                    format_args!("{c} dev {dev:?}"),
                ) {
                    // Deleting a primary IPv4 address takes its secondaries with it.
                    Err(e) if e.errno == nix::errno::Errno::EADDRNOTAVAIL => {}
                    r => r.map_err(kernel(what.clone()))?,
                }
            }
            Ok(())
        }
        Command::RouteAdd(r) => route_change(net, r, true),
        Command::RouteDel(r) => route_change(net, r, false),
        Command::RouteShow(f) => {
            let s = net.route_host()?;
            for r in selected_routes(s, f, view, "route show")? {
                interrupt::check()?;
                emit(out, json, &r, &show::route_text(&r, f.dev.is_some()))?;
            }
            Ok(())
        }
        Command::RouteFlush(f) => {
            let s = net.route_host()?;
            for r in selected_routes(s, f, view, "route flush")? {
                interrupt::check()?;
                let dest = match r.dst.as_str() {
                    "default" => None,
                    d => Some(parse::cidr(d)?),
                };
                let m = msg::Route {
                    dest,
                    v6: r.family == "inet6",
                    via: r.gateway,
                    dev: r.oif,
                };
                match s.request(
                    M::DelRoute(msg::route_delete(&m)),
                    0,
                    format_args!("{}", show::route_text(&r, false)),
                ) {
                    // Gone with an earlier one (a link route with its address).
                    Err(e) if e.errno == nix::errno::Errno::ESRCH => {}
                    res => res.map_err(kernel(format!("route flush: {}", r.dst)))?,
                }
            }
            Ok(())
        }
        Command::NetnsAdd(name) => ns::add(net, name),
        Command::NetnsDel(name) => ns::del(net, name),
        Command::NetnsList => {
            #[derive(Serialize)]
            struct N<'a> {
                name: &'a str,
            }
            for n in ns::list()? {
                emit(out, json, &N { name: &n }, &n)?;
            }
            Ok(())
        }
        Command::Connect(spec) => connect::connect(net, spec),
        Command::Disconnect { ns, name } => connect::disconnect(net, ns, name),
        Command::Readdr(r) => connect::readdr(net, r),
        Command::NatRule { rule, delete } => {
            let what = if *delete {
                format!("nat {rule} --delete")
            } else {
                format!("nat {rule}")
            };
            let mut s = net.netfilter_host()?;
            if *delete {
                nat::remove(&mut s, rule, &what)
            } else {
                nat::add(&mut s, rule, &what)
            }
        }
        Command::NatList => {
            let mut s = net.netfilter_host()?;
            for r in nat::read(&mut s, "nat list")? {
                emit(out, json, &r, &r.comment())?;
            }
            Ok(())
        }
        Command::NatFlush => {
            let mut s = net.netfilter_host()?;
            nat::flush(&mut s, "nat flush")
        }
    }
}

/// The routes of the main table a filter selects.
fn selected_routes(
    s: &mut nl::Sock,
    f: &cli::RouteFilter,
    view: &View,
    what: &str,
) -> Result<Vec<msg::RouteEntry>, Error> {
    let dev = match &f.dev {
        Some(d) => Some(ops::need_link(s, d, what)?.ifindex),
        None => None,
    };
    let all = ops::routes(s).map_err(kernel(what))?;
    // As `ip route`: IPv4 unless -6.
    let v6 = view.family.unwrap_or(false);
    Ok(all
        .into_iter()
        .filter(|r| (r.family == "inet6") == v6)
        .filter(|r| dev.is_none_or(|d| r.oif == Some(d)))
        .filter(|r| match f.dest {
            None => true,
            Some(Dest::Default) => r.dst == "default",
            Some(Dest::Prefix(c)) => r.dst == c.to_string(),
        })
        .collect())
}

fn link_add(
    net: &mut Net,
    name: &str,
    kind: &AddKind,
    mtu: Option<u32>,
    mac: Option<parse::Mac>,
    up: bool,
) -> Result<(), Error> {
    let what = format!("link add {name}");
    let mut peer_ns = None;
    let k = match kind {
        AddKind::Veth {
            peer,
            peer_netns,
            peer_mtu,
            peer_mac,
            peer_up,
        } => {
            peer_ns = peer_netns.as_deref().map(NetNs::open).transpose()?;
            Kind::Veth {
                peer: peer.clone(),
                peer_netns: peer_ns.as_ref().map(NetNs::raw_fd),
                // Without its own `mtu`, the peer takes the link's (ip sets one end).
                peer_mtu: peer_mtu.or(mtu),
                peer_mac: *peer_mac,
                peer_up: *peer_up,
            }
        }
        AddKind::Bridge => Kind::Bridge,
        AddKind::Macvlan { link, mode } => {
            let p = ops::need_link(net.route_host()?, link, &what)?;
            Kind::Macvlan {
                parent: p.ifindex,
                mode: *mode,
            }
        }
        AddKind::Vlan { link, id } => {
            let p = ops::need_link(net.route_host()?, link, &what)?;
            Kind::Vlan {
                parent: p.ifindex,
                id: *id,
            }
        }
    };
    let kname = k.name();
    let mut l = NewLink::new(name, k);
    l.mtu = mtu;
    l.mac = mac;
    l.up = up;
    let r = net.route_host()?.request(
        M::NewLink(msg::new_link(&l)),
        CREATE_EXCL,
        format_args!("{name:?} type {kname}"),
    );
    drop(peer_ns);
    r.map_err(|e| {
        let e = if e.errno == nix::errno::Errno::EOPNOTSUPP {
            e.with_hint(msg::missing_kind_hint(kname))
        } else {
            e
        };
        kernel(what)(e)
    })
}

fn route_change(net: &mut Net, r: &RouteSpec, add: bool) -> Result<(), Error> {
    let verb = if add { "add" } else { "del" };
    let dest_text = match r.dest {
        Dest::Default => "default".to_owned(),
        Dest::Prefix(c) => c.to_string(),
    };
    let what = format!("route {verb} {dest_text}");
    let s = net.route_host()?;
    let dev = match &r.dev {
        Some(d) => Some(ops::need_link(s, d, &what)?.ifindex),
        None => None,
    };
    let m = msg::Route {
        dest: match r.dest {
            Dest::Default => None,
            Dest::Prefix(c) => Some(c),
        },
        v6: false,
        via: r.via,
        dev,
    };
    let mut shown = dest_text;
    if let Some(g) = r.via {
        shown.push_str(&format!(" via {g}"));
    }
    if let Some(d) = &r.dev {
        shown.push_str(&format!(" dev {d:?}"));
    }
    let (req, flags) = if add {
        (M::NewRoute(msg::route(&m)), CREATE_EXCL)
    } else {
        (M::DelRoute(msg::route_delete(&m)), 0)
    };
    s.request(req, flags, format_args!("{shown}"))
        .map_err(kernel(what))
}
