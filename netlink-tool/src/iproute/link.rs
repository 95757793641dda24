//! `link add|set|del|show`.

use crate::command::{AddKind, Command, Master};
use crate::error::Error;
use crate::msg::MacvlanMode;
use crate::parse;

use super::{W, usage};

/// Parse the words after `link`.
pub fn link(words: &[String]) -> Result<Command, Error> {
    let (cmd, mut w) = W::new("link", words);
    match cmd {
        Some("add") => {
            let mut name = None;
            let mut kind_word = None;
            let (mut peer, mut peer_netns, mut parent, mut mode, mut id) =
                (None, None, None, None, None);
            let (mut mtu, mut mac, mut up) = (None, None, false);
            let (mut peer_mtu, mut peer_mac, mut peer_up) = (None, None, false);
            while let Some(x) = w.next() {
                // After `peer P` the words describe the peer (ip's syntax).
                let of_peer = peer.is_some();
                match x {
                    "mtu" if of_peer => peer_mtu = Some(parse::mtu(w.value(x)?)?),
                    "address" if of_peer => peer_mac = Some(parse::mac(w.value(x)?)?),
                    "up" if of_peer => peer_up = true,
                    "netns" if of_peer => peer_netns = Some(parse::netns_spec(w.value(x)?)?),
                    "name" | "dev" if of_peer => peer = Some(parse::ifname(w.value(x)?)?),
                    "name" | "dev" => name = Some(parse::ifname(w.value(x)?)?),
                    "type" => kind_word = Some(w.value(x)?),
                    "peer" => {
                        let mut p = w.value(x)?;
                        if p == "name" {
                            p = w.value("peer name")?;
                        }
                        peer = Some(parse::ifname(p)?);
                    }
                    "peer-netns" => peer_netns = Some(parse::netns_spec(w.value(x)?)?),
                    "link" => parent = Some(parse::ifname(w.value(x)?)?),
                    "mode" => {
                        let m = w.value(x)?;
                        mode = Some(MacvlanMode::parse(m).ok_or_else(|| {
                            usage(format!(
                                "link add: unknown macvlan mode '{}' (bridge, vepa, private, passthru)",
                                crate::parse::shown(m)
                            ))
                        })?);
                    }
                    "id" => id = Some(parse::vlan_id(w.value(x)?)?),
                    "mtu" => mtu = Some(parse::mtu(w.value(x)?)?),
                    "address" => mac = Some(parse::mac(w.value(x)?)?),
                    "up" => up = true,
                    x if name.is_none() && !x.starts_with('-') => name = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            let name = name.ok_or_else(|| usage("link add: missing NAME"))?;
            let kind = match kind_word {
                Some("veth") => AddKind::Veth {
                    peer: peer
                        .clone()
                        .ok_or_else(|| usage("link add: type veth needs 'peer PEER'"))?,
                    peer_netns,
                    peer_mtu,
                    peer_mac,
                    peer_up,
                },
                Some("bridge") => AddKind::Bridge,
                Some("macvlan") => AddKind::Macvlan {
                    link: parent
                        .clone()
                        .ok_or_else(|| usage("link add: type macvlan needs 'link PARENT'"))?,
                    mode: mode.unwrap_or(MacvlanMode::Bridge),
                },
                Some("vlan") => AddKind::Vlan {
                    link: parent
                        .clone()
                        .ok_or_else(|| usage("link add: type vlan needs 'link PARENT'"))?,
                    id: id.ok_or_else(|| usage("link add: type vlan needs 'id N'"))?,
                },
                Some(k) => {
                    return Err(usage(format!(
                        "link add: unsupported type '{k}' (veth, bridge, macvlan, vlan)"
                    )));
                }
                None => return Err(usage("link add: missing 'type KIND'")),
            };
            let stray = match &kind {
                AddKind::Veth { .. } => parent.is_some() || mode.is_some() || id.is_some(),
                AddKind::Bridge => {
                    peer.is_some() || parent.is_some() || mode.is_some() || id.is_some()
                }
                AddKind::Macvlan { .. } => peer.is_some() || id.is_some(),
                AddKind::Vlan { .. } => peer.is_some() || mode.is_some(),
            };
            if stray {
                return Err(usage(
                    "link add: words of another link type (peer/link/mode/id) given",
                ));
            }
            Ok(Command::LinkAdd {
                name,
                kind,
                mtu,
                mac,
                up,
            })
        }
        Some("set") => {
            let mut name = None;
            let (mut up, mut mtu, mut mac, mut master, mut netns, mut rename) =
                (None, None, None, None, None, None);
            while let Some(x) = w.next() {
                match x {
                    "dev" => name = Some(parse::ifname(w.value(x)?)?),
                    "up" => up = Some(true),
                    "down" => up = Some(false),
                    "mtu" => mtu = Some(parse::mtu(w.value(x)?)?),
                    "address" => mac = Some(parse::mac(w.value(x)?)?),
                    "master" => master = Some(Master::Bridge(parse::ifname(w.value(x)?)?)),
                    "nomaster" => master = Some(Master::None),
                    "netns" => netns = Some(parse::netns_spec(w.value(x)?)?),
                    "name" => rename = Some(parse::ifname(w.value(x)?)?),
                    x if name.is_none() && !x.starts_with('-') => name = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            let name = name.ok_or_else(|| usage("link set: missing NAME"))?;
            if up.is_none()
                && mtu.is_none()
                && mac.is_none()
                && master.is_none()
                && netns.is_none()
                && rename.is_none()
            {
                return Err(usage("link set: nothing to change"));
            }
            Ok(Command::LinkSet {
                name,
                up,
                mtu,
                mac,
                master,
                netns,
                rename,
            })
        }
        Some("del" | "delete") => {
            let mut name = None;
            while let Some(x) = w.next() {
                match x {
                    "dev" => name = Some(parse::ifname(w.value(x)?)?),
                    x if name.is_none() => name = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            Ok(Command::LinkDel(
                name.ok_or_else(|| usage("link del: missing NAME"))?,
            ))
        }
        Some("show" | "list" | "ls") | None => {
            let mut name = None;
            while let Some(x) = w.next() {
                match x {
                    "dev" => name = Some(parse::ifname(w.value(x)?)?),
                    x if name.is_none() => name = Some(parse::ifname(x)?),
                    x => return Err(w.unknown(x)),
                }
            }
            Ok(Command::LinkShow(name))
        }
        Some(c) => Err(usage(format!(
            "link: unknown command '{}' (add, set, del, show)",
            crate::parse::shown(c)
        ))),
    }
}
