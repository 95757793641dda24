//! The record of what `connect` made, and its text form.

/// What `connect` made, kept in the container link's alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The type (its word).
    pub ty: String,
    /// The host end (veth, routed).
    pub host: Option<String>,
    /// The bridge connect created (deleted by disconnect when no port is left).
    pub created_bridge: Option<String>,
    /// The NIC's name on the host (phys).
    pub orig_name: Option<String>,
    /// The NIC's MTU on the host (phys).
    pub orig_mtu: Option<u32>,
    /// The NIC's MAC on the host when connect changed it (phys).
    pub orig_mac: Option<String>,
    /// The NIC was up on the host (phys): it comes back up.
    pub orig_up: bool,
    /// The NIC's own alias on the host (phys), which the record replaces meanwhile.
    pub orig_alias: Option<String>,
    /// The bridge the NIC was a port of on the host (phys): leaving the namespace took
    /// it out, coming back puts it in again.
    pub orig_master: Option<String>,
}

const RECORD_TAG: &str = "netlink-tool:v1";

/// The longest alias the kernel keeps (IFALIASZ - 1).
pub(super) const ALIAS_MAX: usize = 255;

/// A value of the record, as one word: bytes other than printable ASCII, `%` and `=`
/// as `%XX`.
fn encode_word(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_word`]; `None` for a malformed word.
fn decode_word(w: &str) -> Option<String> {
    let b = w.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Record {
    /// The alias text: `netlink-tool:v1 type=veth host=veth1a2b3c4d`.
    pub fn to_alias(&self) -> String {
        let mut s = format!("{RECORD_TAG} type={}", self.ty);
        let mut kv = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={v}"));
            }
        };
        kv("host", self.host.clone());
        kv("created-bridge", self.created_bridge.clone());
        kv("orig-name", self.orig_name.clone());
        kv("orig-mtu", self.orig_mtu.map(|m| m.to_string()));
        kv("orig-mac", self.orig_mac.clone());
        kv("orig-up", self.orig_up.then(|| "1".to_owned()));
        kv("orig-master", self.orig_master.clone());
        kv("orig-alias", self.orig_alias.as_deref().map(encode_word));
        s
    }

    /// Read an alias back; `None` when it is not netlink-tool's.
    pub fn parse(alias: &str) -> Option<Record> {
        let mut words = alias.split_whitespace();
        if words.next()? != RECORD_TAG {
            return None;
        }
        let mut r = Record::default();
        for w in words {
            let (k, v) = w.split_once('=')?;
            match k {
                "type" => r.ty = v.to_owned(),
                "host" => r.host = Some(v.to_owned()),
                "created-bridge" => r.created_bridge = Some(v.to_owned()),
                "orig-name" => r.orig_name = Some(v.to_owned()),
                "orig-mtu" => r.orig_mtu = Some(v.parse().ok()?),
                "orig-mac" => r.orig_mac = Some(v.to_owned()),
                "orig-up" => r.orig_up = v == "1",
                "orig-master" => r.orig_master = Some(v.to_owned()),
                "orig-alias" => r.orig_alias = Some(decode_word(v)?),
                _ => {}
            }
        }
        if r.ty.is_empty() { None } else { Some(r) }
    }
}
