//! Network namespaces for the networking tests: each test makes its own (one plays the
//! host, others the containers and an "outside" host), with unique pid-based names,
//! deleted by a guard on drop (panic or not). Nothing here touches the machine's own
//! network namespace; traffic stays inside the namespaces a test made.
//!
//! The set-up uses iproute2 and nftables only to *observe* (`ip -j`, `nft -j`) and to
//! run programs inside a namespace (`ip netns exec`); the tool under test does the rest.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::run::{Output, cmd, run, run_with_timeout};

/// A network namespace under /run/netns, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// Its name (`ip netns` name).
    pub name: String,
}

impl Netns {
    /// Make a fresh namespace named `prefix` + pid + counter (prefix ≤ 4 bytes), with
    /// `lo` left down as the kernel makes it.
    pub fn new(prefix: &str) -> Netns {
        let name = crate::unique_name(prefix);
        let ns = Netns { name };
        run(cmd("ip").args(["netns", "add", &ns.name])).ok();
        ns
    }

    /// Run `program args…` inside this namespace.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        run(cmd("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args))
    }

    /// `ping -c1` from this namespace (up to 3 tries of 2 s: the first packet may wait
    /// for neighbour resolution); true when a reply came.
    pub fn ping(&self, addr: &str) -> bool {
        let v6 = addr.contains(':');
        let mut args = vec!["-c1", "-W2"];
        if v6 {
            args.insert(0, "-6");
        }
        args.push(addr);
        (0..3).any(|_| self.exec("ping", &args).code == 0)
    }

    /// `ip -j link` of this namespace, reduced to what a test compares: name, kind,
    /// flags, MTU, master, address, alias.
    pub fn links(&self) -> Value {
        let v = json_of(&run(
            cmd("ip").args(["-n", &self.name, "-j", "-d", "link", "show"])
        ));
        let keep = [
            "ifname",
            "flags",
            "mtu",
            "master",
            "address",
            "ifalias",
            "link_type",
        ];
        let mut links = v.as_array().cloned().unwrap_or_default();
        links.sort_by_key(|l| l["ifname"].to_string());
        Value::Array(
            links
                .into_iter()
                .map(|l| {
                    let mut o = serde_json::Map::new();
                    for k in keep {
                        if let Some(x) = l.get(k) {
                            o.insert(k.to_owned(), x.clone());
                        }
                    }
                    // Carrier flags follow the peer asynchronously: compare configuration.
                    if let Some(Value::Array(f)) = o.get_mut("flags") {
                        f.retain(|x| {
                            !matches!(x.as_str(), Some("NO-CARRIER" | "LOWER_UP" | "M-DOWN"))
                        });
                    }
                    if let Some(k) = l.pointer("/linkinfo/info_kind") {
                        o.insert("kind".to_owned(), k.clone());
                    }
                    Value::Object(o)
                })
                .collect(),
        )
    }

    /// One link of `ip -j -d link`, in full (`None` when absent).
    pub fn link(&self, name: &str) -> Option<Value> {
        let out = run(cmd("ip").args(["-n", &self.name, "-j", "-d", "link", "show", "dev", name]));
        if out.code != 0 {
            return None;
        }
        let v: Value = serde_json::from_str(&out.stdout).ok()?;
        v.as_array()?.first().cloned()
    }

    /// `ip -j route` (IPv4 and IPv6, main table).
    pub fn routes(&self) -> Value {
        let mut all = Vec::new();
        for fam in ["-4", "-6"] {
            let out = run(cmd("ip").args(["-n", &self.name, "-j", fam, "route", "show"]));
            if let Value::Array(a) = json_of(&out) {
                all.extend(a);
            }
        }
        // The kernel's order of equal-prefix routes is not stable: sort.
        all.sort_by_key(Value::to_string);
        Value::Array(all)
    }

    /// `nft -j list ruleset` of this namespace (the metainfo entry dropped).
    pub fn ruleset(&self) -> Value {
        let out =
            run(cmd("ip").args(["netns", "exec", &self.name, "nft", "-j", "list", "ruleset"]));
        let v = json_of(&out);
        let items = v
            .get("nftables")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Value::Array(
            items
                .into_iter()
                .filter(|i| i.get("metainfo").is_none())
                .collect(),
        )
    }

    /// Links, routes and ruleset together: what "leaves nothing behind" compares.
    pub fn snapshot(&self) -> Value {
        serde_json::json!({
            "links": self.links(),
            "routes": self.routes(),
            "ruleset": self.ruleset(),
        })
    }

    /// Set a sysctl inside this namespace only (`net.ipv4.ip_forward=1`).
    pub fn sysctl(&self, assignment: &str) {
        self.exec("sysctl", &["-qw", assignment]).ok();
    }
}

/// The JSON a successful observation printed. A failed one (a missing namespace, no
/// `nft`) panics rather than read as an empty state, which would make every "nothing
/// left behind" comparison pass vacuously.
fn json_of(out: &Output) -> Value {
    assert_eq!(out.code, 0, "observing a namespace failed: {out}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(cmd("ip").args(["netns", "del", &self.name]));
    }
}

/// A TCP listener in a namespace (python3) that accepts one connection and reports the
/// peer's address and the first bytes it sent. Killed (by PID) on drop.
#[derive(Debug)]
pub struct Listener {
    child: Child,
    lines: BufReader<std::process::ChildStdout>,
}

const LISTENER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
s.settimeout(20)
c, a = s.accept()
c.settimeout(5)
data = c.recv(64).decode(errors="replace")
print(a[0], data, flush=True)
"#;

impl Listener {
    /// Listen on `addr:port` inside `ns`; returns once the socket listens.
    pub fn start(ns: &Netns, addr: &str, port: u16) -> Listener {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "python3", "-c", LISTENER, addr])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python3 listener");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        lines.read_line(&mut first).expect("listener output");
        assert_eq!(first.trim(), "listening", "listener did not start");
        Listener { child, lines }
    }

    /// The peer address and data of the one connection (waits for it).
    pub fn peer(mut self) -> (String, String) {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("listener output");
        let mut it = line.trim().splitn(2, ' ');
        let peer = it.next().unwrap_or_default().to_owned();
        let data = it.next().unwrap_or_default().to_owned();
        (peer, data)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Our own child, by PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connect over TCP from `ns` to `addr:port` and send `data` (python3); the output's
/// code is 0 when the connection was made.
pub fn connect_tcp(ns: &Netns, addr: &str, port: u16, data: &str) -> Output {
    run_with_timeout(
        cmd("ip").args([
            "netns",
            "exec",
            &ns.name,
            "python3",
            "-c",
            "import socket,sys; c=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); c.sendall(sys.argv[3].encode()); c.close()",
            addr,
            &port.to_string(),
            data,
        ]),
        Duration::from_secs(20),
    )
}

/// True when nothing is left in /run/netns with this process's test prefix.
pub fn leftover_netns(prefix: &str) -> Vec<String> {
    let me = format!("{prefix}{}x", std::process::id());
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&me))
                .collect()
        })
        .unwrap_or_default()
}
