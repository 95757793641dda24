//! NAT through nftables: the tool owns one table, `ip netlink_tool`, and nothing else.
//!
//! Every change rewrites the whole table in one nftables transaction (add table, delete
//! table, add table, chains, rules: the kernel commits all or nothing), so re-running a
//! command is idempotent and a failure leaves the previous table untouched. The
//! transaction carries the ruleset generation the table was read at, so a concurrent
//! writer's commit makes the kernel refuse ours (ERESTART) and the change is redone on
//! the new table instead of overwriting it. The rules
//! are read back from the kernel: each carries its own description in its comment
//! (`masquerade source 10.0.3.0/24 out eth0`), which `nat list` shows and the next change
//! rebuilds from. Rules in other tables, and iptables-legacy rules (another subsystem),
//! are someone else's and are never touched.
//!
//! Rules are built with `nftnl` (payload + bitwise + cmp, as nft itself encodes
//! `ip saddr 10.0.3.0/24`); integers in `cmp` and `immediate` data are in network byte
//! order, which `nftnl` leaves to us.

use std::ffi::CString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use nftnl::expr::{Immediate, InterfaceName, Nat, NatType, Register};
use nftnl::{Batch, Chain, ChainType, Hook, MsgType, ProtoFamily, Rule as NfRule, Table, nft_expr};
use nix::errno::Errno;
use serde::Serialize;

use crate::error::{Error, KernelError};
use crate::nl::{self, Sock};
use crate::parse::{self, Cidr};

/// The table the tool owns.
pub const TABLE: &str = "netlink_tool";
const POSTROUTING: &str = "postrouting";
const PREROUTING: &str = "prerouting";

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_BATCH_GENID: u16 = 1;
/// How often a change is re-read and re-sent when another writer changed the ruleset
/// between our read and our commit (the kernel answers ERESTART).
const COMMIT_RETRIES: usize = 100;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;
const NFPROTO_IPV4: u8 = 2;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// Parse `tcp|udp`.
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }

    fn number(self) -> u8 {
        match self {
            Proto::Tcp => libc::IPPROTO_TCP as u8,
            Proto::Udp => libc::IPPROTO_UDP as u8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One NAT rule of the tool's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Rule {
    /// Source NAT to the outgoing link's address for traffic from `source` that leaves
    /// it (not for traffic to the same prefix).
    Masquerade {
        /// The prefix (network address and length).
        source: Cidr,
        /// Only when leaving through this link.
        #[serde(skip_serializing_if = "Option::is_none")]
        out: Option<String>,
    },
    /// Destination NAT of a port to `to`.
    Forward {
        /// tcp or udp.
        proto: Proto,
        /// The port on this host.
        port: u16,
        /// Where it goes.
        #[serde(serialize_with = "ser_display")]
        to: SocketAddrV4,
        /// Only when arriving on this link.
        #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
        iface: Option<String>,
    },
}

fn ser_display<S: serde::Serializer>(v: &SocketAddrV4, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Rule {
    /// A masquerade rule, the prefix normalised to its network (IPv4 only).
    pub fn masquerade(source: Cidr, out: Option<String>) -> Result<Rule, Error> {
        if source.is_v6() {
            return Err(Error::Usage(format!(
                "nat masquerade: --source {source}: the tool's NAT table is IPv4 (family ip)"
            )));
        }
        Ok(Rule::Masquerade {
            source: Cidr {
                addr: source.network(),
                prefix: source.prefix,
            },
            out,
        })
    }

    /// The rule's comment, which is also how it reads back.
    pub fn comment(&self) -> String {
        match self {
            Rule::Masquerade { source, out } => {
                let mut s = format!("masquerade source {source}");
                if let Some(o) = out {
                    s.push_str(&format!(" out {o}"));
                }
                s
            }
            Rule::Forward {
                proto,
                port,
                to,
                iface,
            } => {
                let mut s = format!("forward {} {port} to {to}", proto.name());
                if let Some(i) = iface {
                    s.push_str(&format!(" in {i}"));
                }
                s
            }
        }
    }

    /// Read a comment back (`None` for a comment the tool did not write).
    pub fn parse_comment(c: &str) -> Option<Rule> {
        let w: Vec<&str> = c.split_whitespace().collect();
        match w.as_slice() {
            ["masquerade", "source", src, rest @ ..] => {
                let out = match rest {
                    [] => None,
                    ["out", o] => Some(parse::ifname(o).ok()?),
                    _ => return None,
                };
                Some(Rule::Masquerade {
                    source: parse::cidr(src).ok()?,
                    out,
                })
            }
            ["forward", proto, port, "to", to, rest @ ..] => {
                let iface = match rest {
                    [] => None,
                    ["in", i] => Some(parse::ifname(i).ok()?),
                    _ => return None,
                };
                Some(Rule::Forward {
                    proto: Proto::parse(proto)?,
                    port: parse::port(port).ok()?,
                    to: parse::ipv4_port(to).ok()?,
                    iface,
                })
            }
            _ => None,
        }
    }

    fn chain(&self) -> &'static str {
        match self {
            Rule::Masquerade { .. } => POSTROUTING,
            Rule::Forward { .. } => PREROUTING,
        }
    }

    /// Add this rule's expressions to an nftnl rule.
    fn build(&self, r: &mut NfRule<'_>) {
        match self {
            Rule::Masquerade { source, out } => {
                let net = match source.network() {
                    std::net::IpAddr::V4(a) => a,
                    std::net::IpAddr::V6(_) => unreachable!("checked IPv4"),
                };
                let mask = Ipv4Addr::from(parse::v4_mask(source.prefix));
                if let Some(o) = out {
                    r.add_expr(&nft_expr!(meta oifname));
                    r.add_expr(&nft_expr!(cmp == InterfaceName::Exact(cstr(o))));
                }
                if source.prefix > 0 {
                    // ip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24
                    r.add_expr(&nft_expr!(payload ipv4 saddr));
                    r.add_expr(&nft_expr!(bitwise mask mask, xor Ipv4Addr::UNSPECIFIED));
                    r.add_expr(&nft_expr!(cmp == net));
                    r.add_expr(&nft_expr!(payload ipv4 daddr));
                    r.add_expr(&nft_expr!(bitwise mask mask, xor Ipv4Addr::UNSPECIFIED));
                    r.add_expr(&nft_expr!(cmp != net));
                }
                r.add_expr(&nft_expr!(counter));
                r.add_expr(&nft_expr!(masquerade));
            }
            Rule::Forward {
                proto,
                port,
                to,
                iface,
            } => {
                if let Some(i) = iface {
                    r.add_expr(&nft_expr!(meta iifname));
                    r.add_expr(&nft_expr!(cmp == InterfaceName::Exact(cstr(i))));
                }
                r.add_expr(&nft_expr!(meta l4proto));
                r.add_expr(&nft_expr!(cmp == proto.number()));
                match proto {
                    Proto::Tcp => r.add_expr(&nft_expr!(payload tcp dport)),
                    Proto::Udp => r.add_expr(&nft_expr!(payload udp dport)),
                }
                // cmp data is native-endian bytes of the value: pass the port swapped.
                r.add_expr(&nft_expr!(cmp == port.to_be()));
                r.add_expr(&nft_expr!(counter));
                r.add_expr(&Immediate::new(to.ip().octets(), Register::Reg1));
                r.add_expr(&Immediate::new(to.port().to_be_bytes(), Register::Reg2));
                r.add_expr(&Nat {
                    nat_type: NatType::DNat,
                    family: ProtoFamily::Ipv4,
                    ip_register: Register::Reg1,
                    port_register: Some(Register::Reg2),
                });
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.comment())
    }
}

fn cstr(s: &str) -> CString {
    // Interface names were checked (no NUL possible in a checked name).
    CString::new(s).unwrap_or_default()
}

/// The nftables transaction that makes the table hold exactly `rules` (none: the table
/// is removed), valid only while the ruleset is at generation `genid` (0: whatever the
/// generation). Every message gets a fresh sequence number from `next_seq`. Returns the
/// bytes and a description of each message, in order.
pub fn transaction(
    rules: &[Rule],
    genid: u32,
    next_seq: &mut dyn FnMut() -> u32,
) -> (Vec<u8>, Vec<String>) {
    let table_name = cstr(TABLE);
    let table = Table::new(&table_name, ProtoFamily::Ipv4);
    let mut batch = Batch::new();
    let mut what = vec!["begin the transaction".to_owned()];
    // Adding first makes the delete valid whether or not the table existed.
    batch.add(&table, MsgType::Add);
    what.push(format!("add table ip {TABLE}"));
    batch.add(&table, MsgType::Del);
    what.push(format!("delete table ip {TABLE}"));
    if !rules.is_empty() {
        batch.add(&table, MsgType::Add);
        what.push(format!("add table ip {TABLE}"));
        let post_name = cstr(POSTROUTING);
        let pre_name = cstr(PREROUTING);
        let mut post = Chain::new(&post_name, &table);
        post.set_hook(Hook::PostRouting, 100);
        post.set_type(ChainType::Nat);
        let mut pre = Chain::new(&pre_name, &table);
        pre.set_hook(Hook::PreRouting, -100);
        pre.set_type(ChainType::Nat);
        batch.add(&post, MsgType::Add);
        what.push(format!(
            "add chain {POSTROUTING} (nat hook postrouting priority 100)"
        ));
        batch.add(&pre, MsgType::Add);
        what.push(format!(
            "add chain {PREROUTING} (nat hook prerouting priority -100)"
        ));
        for rule in rules {
            let chain = if rule.chain() == POSTROUTING {
                &post
            } else {
                &pre
            };
            let mut r = NfRule::new(chain);
            rule.build(&mut r);
            // Comments are short (< 128 bytes: names are at most 15 bytes).
            let _ = r.set_comment(cstr(&rule.comment()));
            batch.add(&r, MsgType::Add);
            what.push(format!("add rule '{rule}'"));
        }
    }
    let fin = batch.finalize();
    let mut raw = Vec::new();
    for part in &fin {
        raw.extend_from_slice(part);
    }
    what.push("commit the transaction".to_owned());
    // nftnl numbers every batch 1, 2, 3…: give the messages fresh numbers, so that a
    // late answer to an earlier batch on this socket cannot pass for one of these; and
    // put the generation id into the begin message.
    let mut bytes = Vec::with_capacity(raw.len() + 8);
    for (i, f) in nl::frames(&raw)
        .expect("nftnl builds well-formed messages")
        .iter()
        .enumerate()
    {
        let start = bytes.len();
        if i == 0 && genid != 0 {
            bytes.extend_from_slice(&batch_begin(f.flags, genid));
        } else {
            bytes.extend_from_slice(f.bytes);
            // Keep each message 4-byte aligned, as it was in the batch.
            bytes.resize(start + ((f.bytes.len() + 3) & !3), 0);
        }
        bytes[start + 8..start + 12].copy_from_slice(&next_seq().to_ne_bytes());
    }
    (bytes, what)
}

/// NFNL_MSG_BATCH_BEGIN for the nftables subsystem with NFNL_BATCH_GENID: the kernel
/// refuses the whole batch with ERESTART when the ruleset is no longer at `genid` (what
/// `nft` does to make its read-modify-write safe). `flags` are those nftnl chose (an ACK
/// is asked for on kernels that send one).
fn batch_begin(flags: u16, genid: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(28);
    b.extend_from_slice(&28u32.to_ne_bytes());
    b.extend_from_slice(&NFNL_MSG_BATCH_BEGIN.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // seq, set by the caller
    b.extend_from_slice(&0u32.to_ne_bytes()); // port id
    // struct nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id = subsystem (big endian).
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&NFNL_SUBSYS_NFTABLES.to_be_bytes());
    b.extend_from_slice(&8u16.to_ne_bytes());
    b.extend_from_slice(&NFNL_BATCH_GENID.to_ne_bytes());
    b.extend_from_slice(&genid.to_be_bytes());
    b
}

/// The ruleset's generation id (NFT_MSG_GETGEN): it changes with every committed
/// nftables transaction, by anyone.
fn generation(sock: &mut Sock, context: &str) -> Result<u32, Error> {
    let seq = sock.seq();
    let mut req = Vec::with_capacity(20);
    req.extend_from_slice(&20u32.to_ne_bytes());
    req.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN).to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK;
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[0, 0, 0, 0]); // nfgenmsg: AF_UNSPEC, v0, res_id 0
    let mut genid = None;
    let r = sock.raw_request(&req, seq, &mut |f| {
        if f.ty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
            genid = gen_id(f.payload);
        }
        Ok(())
    });
    common::trace::syscall_at(
        2,
        format_args!("NFT_MSG_GETGEN() in {}", sock.label),
        &r.as_ref()
            .map(|()| genid.unwrap_or(0))
            .map_err(Clone::clone),
    );
    r.map_err(|source| Error::Kernel {
        context: format!("{context}: read the ruleset generation"),
        source,
    })?;
    genid.ok_or_else(|| Error::Protocol {
        context: context.to_owned(),
        why: "no generation id in the NFT_MSG_NEWGEN reply".to_owned(),
    })
}

/// NFTA_GEN_ID of an NFT_MSG_NEWGEN payload (after the nfgenmsg header).
fn gen_id(payload: &[u8]) -> Option<u32> {
    let v = nl::attr(payload.get(4..)?, NFTA_GEN_ID)?;
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

/// Send a transaction (valid at generation `genid`, 0: any) and wait for the kernel's
/// verdict on every message that asks for one; an error names the object that failed.
pub fn commit(sock: &mut Sock, rules: &[Rule], genid: u32, context: &str) -> Result<(), Error> {
    let (bytes, what) = transaction(rules, genid, &mut || sock.seq());
    let frames = nl::frames(&bytes).map_err(|why| Error::Protocol {
        context: context.to_owned(),
        why,
    })?;
    // Messages asking for an ACK.
    let acked: Vec<u32> = frames
        .iter()
        .filter(|f| f.flags & NLM_F_ACK != 0)
        .map(|f| f.seq)
        .collect();
    let seqs: Vec<u32> = frames.iter().map(|f| f.seq).collect();
    let r = sock.raw_batch(&bytes, &acked, seqs[0]);
    common::trace::syscall(
        format_args!(
            "nftables transaction ({} messages: table ip {TABLE}, {} rules, generation {genid}) in {}",
            frames.len(),
            rules.len(),
            sock.label
        ),
        &r.as_ref().copied().map_err(|(_, e)| e.clone()),
    );
    r.map_err(|(seq, e)| {
        let obj = seq
            .and_then(|s| seqs.iter().position(|x| *x == s))
            .and_then(|i| what.get(i).cloned())
            .unwrap_or_else(|| "send the transaction".to_owned());
        let e = match e.errno {
            Errno::EOPNOTSUPP | Errno::ENOENT if e.extack.is_none() => {
                e.with_hint("kernel lacks nftables NAT support: CONFIG_NFT_NAT, CONFIG_NFT_MASQ")
            }
            _ => e,
        };
        Error::Kernel {
            context: format!("{context}: {obj}"),
            source: e,
        }
    })
}

/// Read the table, let `change` edit its rules (it returns false for "nothing to do"),
/// and commit the result, all at one ruleset generation: when another writer (another
/// netlink-tool, nft) commits in between, the kernel refuses the batch and the change
/// is made again on what is there now, so no one's rule is lost.
fn read_modify_write(
    sock: &mut Sock,
    context: &str,
    change: &dyn Fn(&mut Vec<Rule>) -> Result<bool, Error>,
) -> Result<(), Error> {
    let mut tries = 0;
    loop {
        let genid = generation(sock, context)?;
        let mut rules = read(sock, context)?;
        if !change(&mut rules)? {
            return Ok(());
        }
        // The one transaction is all or nothing: a stopping signal before it leaves the
        // table as it was; once sent, the change is made.
        crate::interrupt::check().map_err(|e| e.context(context))?;
        match commit(sock, &rules, genid, context) {
            Err(e) if e.errno() == Some(Errno::ERESTART) && tries < COMMIT_RETRIES => {
                tries += 1;
            }
            r => return r,
        }
    }
}

/// The dump request for the rules of the tool's table.
fn getrule_request(seq: u32) -> Vec<u8> {
    let mut attr = Vec::new();
    let name = format!("{TABLE}\0");
    let len = (4 + name.len()) as u16;
    attr.extend_from_slice(&len.to_ne_bytes());
    attr.extend_from_slice(&NFTA_RULE_TABLE.to_ne_bytes());
    attr.extend_from_slice(name.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let total = (16 + 4 + attr.len()) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&total.to_ne_bytes());
    b.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE).to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // struct nfgenmsg: family, version, res_id (big endian).
    b.extend_from_slice(&[NFPROTO_IPV4, 0, 0, 0]);
    b.extend_from_slice(&attr);
    b
}

/// The comment of one NFT_MSG_NEWRULE payload (after the nfgenmsg header), if any.
pub fn rule_comment(payload: &[u8]) -> Option<String> {
    // Userdata is itself TLVs of (type u8, len u8, value).
    let ud = nl::attr(payload.get(4..)?, NFTA_RULE_USERDATA)?;
    let mut i = 0;
    while i + 2 <= ud.len() {
        let (t, l) = (ud[i], usize::from(ud[i + 1]));
        if i + 2 + l > ud.len() {
            return None;
        }
        if t == NFTNL_UDATA_RULE_COMMENT {
            let v = &ud[i + 2..i + 2 + l];
            let v = v.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        i += 2 + l;
    }
    None
}

/// The rules of the tool's table as the kernel holds them (none when there is no table).
/// A rule whose comment the tool did not write is an error: someone edited the table.
pub fn read(sock: &mut Sock, context: &str) -> Result<Vec<Rule>, Error> {
    let mut attempt = 0;
    let comments = loop {
        let seq = sock.seq();
        let req = getrule_request(seq);
        let mut comments: Vec<Option<String>> = Vec::new();
        let r = sock.raw_dump(&req, seq, &mut |f| {
            if f.ty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE {
                comments.push(rule_comment(f.payload));
            }
            Ok(())
        });
        common::trace::syscall_at(
            2,
            format_args!("NFT_MSG_GETRULE(table ip {TABLE}) in {}", sock.label),
            &r.as_ref().map(|_| comments.len()).map_err(Clone::clone),
        );
        let r = r.and_then(|interrupted| {
            if interrupted {
                nl::check_interrupted(attempt)?;
            }
            Ok(interrupted)
        });
        match r {
            Ok(false) => break comments,
            Ok(true) => attempt += 1,
            Err(KernelError {
                errno: Errno::ENOENT,
                ..
            }) => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Kernel {
                    context: format!("{context}: read table ip {TABLE}"),
                    source: e,
                });
            }
        }
    };
    comments
        .into_iter()
        .map(|c| {
            c.as_deref().and_then(Rule::parse_comment).ok_or_else(|| {
                Error::Refused(format!(
                    "{context}: table ip {TABLE} holds a rule netlink-tool did not write \
                     (comment {c:?}); run 'netlink-tool nat flush' to reset it"
                ))
            })
        })
        .collect()
}

/// Add `rule` to the table (idempotent: a rule already there is not added twice).
pub fn add(sock: &mut Sock, rule: &Rule, context: &str) -> Result<(), Error> {
    read_modify_write(sock, context, &|rules| {
        if rules.contains(rule) {
            return Ok(false);
        }
        rules.push(rule.clone());
        Ok(true)
    })
}

/// Remove `rule` from the table; removing the last rule removes the table.
pub fn remove(sock: &mut Sock, rule: &Rule, context: &str) -> Result<(), Error> {
    read_modify_write(sock, context, &|rules| {
        let before = rules.len();
        rules.retain(|r| r != rule);
        if rules.len() == before {
            return Err(Error::Refused(format!(
                "{context}: no such rule in table ip {TABLE}"
            )));
        }
        Ok(true)
    })
}

/// Remove the tool's table and every rule in it (whatever the generation).
pub fn flush(sock: &mut Sock, context: &str) -> Result<(), Error> {
    crate::interrupt::check().map_err(|e| e.context(context))?;
    commit(sock, &[], 0, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masq(s: &str, out: Option<&str>) -> Rule {
        Rule::masquerade(parse::cidr(s).unwrap(), out.map(str::to_owned)).unwrap()
    }

    #[test]
    fn comments_round_trip() {
        let m = masq("10.0.3.7/24", Some("eth0"));
        assert_eq!(m.comment(), "masquerade source 10.0.3.0/24 out eth0");
        assert_eq!(Rule::parse_comment(&m.comment()), Some(m));
        let f = Rule::Forward {
            proto: Proto::Udp,
            port: 5353,
            to: "10.0.3.2:53".parse().unwrap(),
            iface: None,
        };
        assert_eq!(f.comment(), "forward udp 5353 to 10.0.3.2:53");
        assert_eq!(Rule::parse_comment(&f.comment()), Some(f));
        assert_eq!(Rule::parse_comment("allow ssh"), None);
        assert_eq!(Rule::parse_comment("forward sctp 1 to 10.0.0.1:1"), None);
        assert!(Rule::masquerade(parse::cidr("fd00::/64").unwrap(), None).is_err());
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(masq("10.0.3.0/24", None)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "masquerade", "source": "10.0.3.0/24"})
        );
        let f = Rule::Forward {
            proto: Proto::Tcp,
            port: 8080,
            to: "10.0.3.2:80".parse().unwrap(),
            iface: Some("eth0".into()),
        };
        let v = serde_json::to_value(f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "forward", "proto": "tcp", "port": 8080, "to": "10.0.3.2:80", "in": "eth0"})
        );
    }

    fn counter() -> impl FnMut() -> u32 {
        let mut n = 1000;
        move || {
            n += 1;
            n
        }
    }

    #[test]
    fn transaction_replaces_the_table_atomically() {
        let (bytes, what) = transaction(&[masq("10.0.3.0/24", None)], 0, &mut counter());
        let f = nl::frames(&bytes).unwrap();
        assert_eq!(f.len(), what.len());
        // begin, add table, delete table, add table, 2 chains, 1 rule, end
        assert_eq!(f.len(), 8);
        let ty = |i: usize| f[i].ty & 0xff;
        assert_eq!(f[0].ty, 0x10); // NFNL_MSG_BATCH_BEGIN
        assert_eq!(ty(1), 0); // NFT_MSG_NEWTABLE
        assert_eq!(ty(2), 2); // NFT_MSG_DELTABLE
        assert_eq!(ty(3), 0);
        assert_eq!(ty(4), 3); // NFT_MSG_NEWCHAIN
        assert_eq!(ty(6), NFT_MSG_NEWRULE);
        assert_eq!(f[7].ty, 0x11); // NFNL_MSG_BATCH_END
        // The rule's comment is in its userdata and reads back.
        assert_eq!(
            rule_comment(f[6].payload).as_deref(),
            Some("masquerade source 10.0.3.0/24")
        );
        // Flushing is add + delete of the table only.
        let (bytes, _) = transaction(&[], 0, &mut counter());
        assert_eq!(nl::frames(&bytes).unwrap().len(), 4);
    }

    #[test]
    fn transaction_is_tied_to_the_generation_it_was_read_at() {
        let rules = [masq("10.0.3.0/24", Some("eth0"))];
        let (plain, _) = transaction(&rules, 0, &mut counter());
        let (bytes, what) = transaction(&rules, 0x0102_0304, &mut counter());
        let f = nl::frames(&bytes).unwrap();
        assert_eq!(f.len(), what.len());
        // The begin message carries NFNL_BATCH_GENID, big-endian, for the nftables
        // subsystem; the rest of the batch is unchanged.
        assert_eq!(f[0].ty, NFNL_MSG_BATCH_BEGIN);
        assert_eq!(f[0].payload[2..4], NFNL_SUBSYS_NFTABLES.to_be_bytes());
        assert_eq!(f[0].payload[4..], [8, 0, 1, 0, 1, 2, 3, 4]);
        let p = nl::frames(&plain).unwrap();
        assert_eq!(p[0].payload.len(), 4, "no generation: no attribute");
        assert_eq!(p[0].flags, f[0].flags);
        // (Not byte for byte: libmnl 1.0.4 leaves attribute padding uninitialised.)
        for (a, b) in p.iter().zip(&f).skip(1) {
            assert_eq!(
                (a.ty, a.flags, a.payload.len()),
                (b.ty, b.flags, b.payload.len())
            );
        }
        // Fresh, distinct sequence numbers (nftnl's own start at 1 in every batch).
        let seqs: Vec<u32> = f.iter().map(|x| x.seq).collect();
        assert_eq!(seqs, (1001..=1008).collect::<Vec<_>>());
    }

    #[test]
    fn generation_id_reads_back() {
        // nfgenmsg, NFTA_GEN_ID (be32), NFTA_GEN_PROC_PID.
        let mut p = vec![0, 0, 0, 0];
        p.extend_from_slice(&[8, 0, 2, 0, 0, 0, 0, 9]);
        p.extend_from_slice(&[8, 0, 1, 0, 0, 0, 1, 2]);
        assert_eq!(gen_id(&p), Some(258));
        assert_eq!(gen_id(&p[..12]), None);
    }

    #[test]
    fn forward_rule_has_network_order_port_and_address() {
        let f = Rule::Forward {
            proto: Proto::Tcp,
            port: 8080,
            to: "10.0.3.2:80".parse().unwrap(),
            iface: None,
        };
        let (bytes, _) = transaction(&[f], 0, &mut counter());
        let fr = nl::frames(&bytes).unwrap();
        let rule = fr[6].payload;
        // Each value is an NFTA_DATA_VALUE attribute: length, type 1, the bytes as the
        // kernel compares or loads them (network order).
        let value = |data: &[u8]| {
            let mut tlv = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
            tlv.extend_from_slice(&1u16.to_ne_bytes());
            tlv.extend_from_slice(data);
            rule.windows(tlv.len()).any(|w| w == tlv.as_slice())
        };
        assert!(value(&[0x1f, 0x90]), "cmp tcp dport == 8080, big-endian");
        assert!(!value(&[0x90, 0x1f]), "8080 in host order");
        assert!(value(&[0, 80]), "dnat port 80, big-endian");
        assert!(!value(&[80, 0]), "80 in host order");
        assert!(value(&[10, 0, 3, 2]), "dnat address octets");
        assert!(value(&[6]), "meta l4proto == tcp");
    }

    #[test]
    fn getrule_asks_for_our_table() {
        let r = getrule_request(9);
        let f = nl::frames(&r).unwrap();
        assert_eq!(f[0].ty, 0x0a07);
        assert_eq!(f[0].seq, 9);
        assert_eq!(f[0].payload[0], NFPROTO_IPV4);
        assert!(r.windows(TABLE.len()).any(|w| w == TABLE.as_bytes()));
    }
}
