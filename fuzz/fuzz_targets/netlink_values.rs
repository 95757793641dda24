//! netlink-tool: the values users type (interface names, CIDRs, destinations, MACs,
//! MTUs, ports, `IP:PORT`, VLAN ids, link types), a whole `--batch` (`split_line`,
//! each line's command line through `cli::parse_line` and iproute2's word language),
//! the host-side connection record's text codec (`connect::record::Record`), the NAT
//! rules' comments (`nat::Rule::parse_comment`, `nat::rule_comment`), and the kernel's
//! netlink messages (`nl::frames`, `nl::parse_error`, rtnetlink link/address/route
//! messages into `msg::link_from`/`addr_from`/`route_from` and `show`'s text).
//!
//! The first byte picks the parser, the rest is its input: `c` CIDR/address/destination,
//! `m` MAC, `i` interface name and other words, `n` numbers, `r` a record file, `f` a NAT
//! comment, `u` an nftables rule payload, `b` a batch, `k` a netlink datagram.
#![no_main]

use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_tool::connect::record::{self, Record};
use netlink_tool::nat::{Proto, Rule};
use netlink_tool::{connect, msg, nat, nl, parse, show};
use toolkit_fuzz::{mode, text};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'c' => cidrs(rest),
        b'm' => macs(rest),
        b'i' => words(rest),
        b'n' => numbers(rest),
        b'r' => records(rest),
        b'f' => nat_comment(rest),
        b'u' => {
            let _ = nat::rule_comment(rest);
        }
        b'b' => batch(rest),
        b'k' => kernel(rest),
        _ => {}
    }
});

fn cidrs(rest: &[u8]) {
    let t = text(rest);
    if let Ok(c) = parse::cidr(&t) {
        assert!(c.prefix <= c.bits());
        assert_eq!(parse::cidr(&c.to_string()), Ok(c), "{t:?}");
        assert!(c.contains(c.addr));
        assert!(c.contains(c.network()));
        let net = parse::Cidr {
            addr: c.network(),
            prefix: c.prefix,
        };
        // The network of a prefix is a valid destination.
        assert_eq!(parse::dest(&net.to_string()), Ok(parse::Dest::Prefix(net)));
        if let Ok(r) = Rule::masquerade(c, None) {
            assert_eq!(Rule::parse_comment(&r.comment()), Some(r));
        }
    }
    if let Ok(parse::Dest::Prefix(d)) = parse::dest(&t) {
        assert_eq!(d.network(), d.addr);
    }
    if let Ok(a) = parse::ip(&t) {
        assert_eq!(parse::ip(&a.to_string()), Ok(a));
        let _: IpAddr = a;
    }
}

fn macs(rest: &[u8]) {
    let t = text(rest);
    if let Ok(m) = parse::mac(&t) {
        assert_eq!(parse::mac(&m.to_string()), Ok(m), "{t:?}");
        assert_eq!(parse::format_hw(&m.0), m.to_string());
        assert_eq!(m.0[0] & 1, 0);
    }
    let _ = parse::format_hw(rest);
}

fn words(rest: &[u8]) {
    let t = text(rest);
    let shown = parse::shown(&t);
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    if let Ok(n) = parse::ifname(&t) {
        assert!(!n.is_empty() && n.len() <= parse::IFNAME_MAX);
        assert!(!n.contains(['/', ':']) && n != "." && n != "..");
    }
    if let Ok(n) = parse::exact_ifname(&t) {
        assert!(!n.contains('%'));
    }
    let _ = parse::netns_spec(&t);
    if let Some(ty) = connect::Type::parse(&t) {
        assert_eq!(connect::Type::parse(ty.name()), Some(ty));
    }
    let _ = Proto::parse(&t);
    let _ = record::is_v1_alias(&t);
    let _ = msg::MacvlanMode::parse(&t);
}

fn numbers(rest: &[u8]) {
    let t = text(rest);
    if let Ok(m) = parse::mtu(&t) {
        assert!((68..=65535).contains(&m));
    }
    if let Ok(p) = parse::port(&t) {
        assert!(p > 0);
    }
    if let Ok(a) = parse::ipv4_port(&t) {
        assert_eq!(parse::ipv4_port(&a.to_string()), Ok(a));
    }
    if let Ok(v) = parse::vlan_id(&t) {
        assert!((1..=4094).contains(&v));
    }
}

/// The record codec: what parses, written and read again, is the same record, and its
/// text is then a fixed point.
fn records(rest: &[u8]) {
    let t = text(rest);
    let Ok(r) = Record::parse(&t) else { return };
    let written = r.to_text();
    let again = Record::parse(&written).unwrap_or_else(|e| panic!("{written:?}: {e}"));
    assert_eq!(again, r, "{t:?}");
    assert_eq!(again.to_text(), written);
    assert!(written.starts_with(record::VERSION_LINE));
}

fn nat_comment(rest: &[u8]) {
    let t = text(rest);
    if let Some(r) = Rule::parse_comment(&t) {
        let c = r.comment();
        assert_eq!(Rule::parse_comment(&c), Some(r.clone()), "{t:?}");
        assert_eq!(r.to_string(), c);
    }
}

fn batch(rest: &[u8]) {
    if let Ok(lines) = netlink_tool::parse_batch_lines(rest, Path::new("batch")) {
        let mut last = 0;
        for (n, _) in &lines {
            assert!(*n > last);
            last = *n;
        }
    }
}

/// A datagram from the kernel, as `Sock` reads answers: framing, errors and their
/// extended-ack text, and the rtnetlink messages `show` prints.
fn kernel(rest: &[u8]) {
    let Ok(frames) = nl::frames(rest) else { return };
    for f in frames {
        assert_eq!(f.bytes.len(), f.payload.len() + 16);
        match f.ty {
            2 | 3 => {
                if let Err(e) = nl::parse_error(f.flags, f.payload) {
                    let _ = e.to_string();
                }
            }
            _ => {
                let _ = nl::attr(f.payload, 1);
                let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(f.bytes) else {
                    continue;
                };
                let NetlinkPayload::InnerMessage(inner) = m.payload else {
                    continue;
                };
                let _ = nl::rtm_name(&inner);
                match &inner {
                    RouteNetlinkMessage::NewLink(l) => {
                        let link = msg::link_from(l);
                        for details in [false, true] {
                            for stats in 0..2 {
                                let _ = show::link_text(&link, show::Opts { details, stats });
                            }
                        }
                    }
                    RouteNetlinkMessage::NewAddress(a) => {
                        let _ = msg::addr_from(a);
                    }
                    RouteNetlinkMessage::NewRoute(r) => {
                        if let Some(e) = msg::route_from(r) {
                            let _ = show::route_text(&e, false);
                            let _ = show::route_text(&e, true);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
