//! Fault injection: netlink-tool killed with SIGINT, SIGTERM and SIGKILL at moments
//! spread over its run (when the Nth line of its `-v` trace appears, N from 0 to the
//! length of a whole run), for connect (veth on a bridge with an address and a gateway;
//! routed; macvlan), disconnect and nat. After each run the namespaces the test made
//! (links, addresses, routes, the nftables ruleset, the /run/netns files) are compared
//! with the state before (or, for a run that finished, with the finished state); then
//! the documented cleanup runs (`disconnect` when a connection record is left; `nat
//! … --delete`), the namespaces must be as before, and the command run again must work.
//! The figures are printed: runs, finished, rolled back, leftovers before and after the
//! cleanup (the goal after is 0, and 0 runs that look finished but are not).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use integration::netns::Netns;
use integration::{Output, bin, cmd, require_root, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Runs per kind of command and signal.
const RUNS: usize = 20;

fn state_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netlink-tool-faults")
}

fn nt(args: &[String]) -> Output {
    run(cmd(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .args(args))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// What a comparison looks at in one namespace.
fn state(ns: &Netns) -> Value {
    let addrs = run(cmd("ip").args(["-n", &ns.name, "-j", "addr", "show"]));
    let mut a: Value = serde_json::from_str(&addrs.stdout).unwrap_or(Value::Null);
    for l in a.as_array_mut().into_iter().flatten() {
        if let Some(v) = l.get_mut("addr_info").and_then(Value::as_array_mut) {
            for i in v.iter_mut() {
                let o = i.as_object_mut().unwrap();
                o.retain(|k, _| ["family", "local", "prefixlen"].contains(&k.as_str()));
            }
            // Link-local addresses come and go with carrier.
            v.retain(|i| !i["local"].as_str().is_some_and(|x| x.starts_with("fe80")));
        }
        l.as_object_mut()
            .unwrap()
            .retain(|k, _| ["ifname", "addr_info"].contains(&k.as_str()));
    }
    let mut routes = ns.routes();
    for r in routes.as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("flags");
    }
    routes
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["dst"].as_str().is_some_and(|d| d.starts_with("fe80")));
    let mut links = ns.links();
    for l in links.as_array_mut().unwrap() {
        // MACs: random for each new veth; a bridge's follows its ports.
        l.as_object_mut().unwrap().remove("address");
    }
    serde_json::json!({"links": links, "addrs": a, "routes": routes})
}

/// The nftables ruleset of a namespace without handles (a rewrite of the tool's table
/// gives it new ones).
fn ruleset(ns: &Netns) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("handle");
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut r = ns.ruleset();
    strip(&mut r);
    r
}

/// The namespace files of these namespaces are still there (netlink-tool neither made
/// nor removed one; other tests make and remove their own meanwhile).
fn netns_files_kept(names: &[&Netns]) {
    for n in names {
        assert!(
            std::path::Path::new("/run/netns").join(&n.name).exists(),
            "{} lost",
            n.name
        );
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Exit 0: finished.
    Done,
    /// Exit 128+N after rolling back (SIGINT, SIGTERM).
    RolledBack,
    /// Died of the signal (SIGKILL, or a signal before the handlers were in place).
    Killed,
    /// Anything else (a failure of its own).
    Other(i32),
}

/// Run netlink-tool with `-v`, send `sig` when the `nth` trace line appears (0: at
/// once), and say how it ended. Returns also the number of trace lines seen.
fn run_killed(args: &[String], sig: Signal, nth: usize) -> (End, usize, String) {
    let mut child = Command::new(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .arg("-v")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netlink-tool");
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut sent = nth == 0;
    if sent {
        // Our own child, by its PID (not reaped yet, so not reused).
        let _ = kill(pid, sig);
    }
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        seen.push(line);
        if !sent && seen.len() == nth {
            let _ = kill(pid, sig);
            sent = true;
        }
    }
    let status = child.wait().expect("wait");
    reader.join().unwrap();
    use std::os::unix::process::ExitStatusExt;
    let end = match (status.code(), status.signal()) {
        (Some(0), _) => End::Done,
        (Some(c), _) if c == 128 + sig as i32 && sig != Signal::SIGKILL => End::RolledBack,
        (_, Some(_)) => End::Killed,
        (Some(c), _) => End::Other(c),
        (None, None) => End::Other(-1),
    };
    (end, seen.len(), seen.join("\n"))
}

/// The figures of one kind of command.
#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    done: usize,
    rolled_back: usize,
    killed: usize,
    leftovers_before_cleanup: usize,
    half_made_looking_finished: usize,
    leftovers_after_cleanup: usize,
    reruns_failed: usize,
}

fn report(kind: &str, sig: Signal, f: &Figures) {
    // Straight to stderr: the figures are the test's output, not captured.
    let _ = writeln!(
        std::io::stderr(),
        "netlink faults: {kind:<28} {sig:<7} runs {:>3}  finished {:>3}  rolled back {:>3}  killed {:>3}  \
         leftovers before cleanup {:>3}  after {:>2}  half-made-looking-finished {}  failed reruns {}",
        f.runs,
        f.done,
        f.rolled_back,
        f.killed,
        f.leftovers_before_cleanup,
        f.leftovers_after_cleanup,
        f.half_made_looking_finished,
        f.reruns_failed
    );
}

/// The record file of a container link, if there is one.
fn record(c: &Netns, name: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/run/netns/{}", c.name)).ok()?;
    let path = state_dir().join(format!("{}:{}:{name}", m.dev(), m.ino()));
    std::fs::read_to_string(path).ok()
}

/// One connect scenario, killed at every moment with every signal.
fn connect_faults(kind: &str, h: &Netns, c: &Netns, connect: &str) {
    let connect_args = words(&format!("-n {} connect {} {connect}", h.name, c.name));
    let disconnect_args = words(&format!("-n {} disconnect {}", h.name, c.name));
    // Warm up (a bridge's first port gives it carrier and link-local state), then the
    // state every run must return to.
    nt(&connect_args).ok();
    nt(&disconnect_args).ok();
    let before = (state(h), state(c));
    let (_, total, _) = run_killed(&connect_args, Signal::SIGCONT, usize::MAX);
    nt(&disconnect_args).ok();
    assert!(total > 3, "a connect traces its steps");
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        let mut f = Figures::default();
        for i in 0..RUNS {
            let nth = i * (total + 1) / RUNS;
            let (end, _, trace) = run_killed(&connect_args, sig, nth);
            f.runs += 1;
            let now = (state(h), state(c));
            let rec = record(c, "eth0");
            match end {
                End::Done => {
                    f.done += 1;
                    // Finished: connected, recorded as such, eth0 up with its address.
                    let ok = rec
                        .as_deref()
                        .is_some_and(|r| r.contains("state connected"))
                        && now.1.to_string().contains("10.0.");
                    if !ok {
                        f.half_made_looking_finished += 1;
                    }
                }
                End::RolledBack => {
                    f.rolled_back += 1;
                    if now != before || rec.is_some() {
                        f.leftovers_before_cleanup += 1;
                    }
                }
                End::Killed => {
                    f.killed += 1;
                    // Killed after it finished (while exiting): a whole connection.
                    let finished = rec
                        .as_deref()
                        .is_some_and(|r| r.contains("state connected"));
                    if finished {
                        let whole = nt(&words(&format!("-n {} -j addr show dev eth0", c.name)));
                        if !whole.stdout.contains("\"local\":\"10.0.") {
                            // Never a half-made connection that looks finished.
                            f.half_made_looking_finished += 1;
                        }
                    } else if now != before {
                        f.leftovers_before_cleanup += 1;
                    }
                }
                End::Other(code) => panic!("{kind} {sig} at line {nth}: exit {code}\n{trace}"),
            }
            // The documented cleanup: disconnect undoes a connection or what an
            // interrupted connect left; connect itself says so when one is left.
            if rec.is_some() {
                let out = nt(&disconnect_args);
                assert!(
                    out.code == 0 || out.stderr.contains("not connected"),
                    "{out}"
                );
            }
            if (state(h), state(c)) != before || record(c, "eth0").is_some() {
                f.leftovers_after_cleanup += 1;
            }
            if nt(&connect_args).code != 0 {
                f.reruns_failed += 1;
            }
            nt(&disconnect_args).ok();
        }
        report(kind, sig, &f);
        assert_eq!(f.leftovers_after_cleanup, 0, "{kind} {sig}: {f:?}");
        assert_eq!(f.half_made_looking_finished, 0, "{kind} {sig}: {f:?}");
        assert_eq!(f.reruns_failed, 0, "{kind} {sig}: {f:?}");
        if sig != Signal::SIGKILL {
            assert_eq!(f.leftovers_before_cleanup, 0, "{kind} {sig}: {f:?}");
        }
    }
    // connect never touches nftables.
    assert_eq!(h.ruleset(), Value::Array(Vec::new()));
    assert_eq!(c.ruleset(), Value::Array(Vec::new()));
    netns_files_kept(&[h, c]);
}

fn host() -> Netns {
    let h = Netns::new("nfh");
    for a in [
        "link set lo up",
        "link add br0 type bridge",
        "link set br0 up",
        "addr add 10.0.3.1/24 dev br0",
        "link add up0 type veth peer up1",
        "link set up0 up",
        "link set up1 up",
    ] {
        run(cmd("ip").args(["-n", &h.name]).args(a.split(' '))).ok();
    }
    h
}

#[test]
fn connect_veth_on_a_bridge_killed_at_every_step() {
    if !require_root("netlink-tool fault injection, veth") {
        return;
    }
    let (h, c) = (host(), Netns::new("nfc"));
    connect_faults(
        "connect veth bridge+addr+gw",
        &h,
        &c,
        "--type veth --link br0 --addr 10.0.3.2/24 --gw 10.0.3.1",
    );
}

#[test]
fn connect_routed_killed_at_every_step() {
    if !require_root("netlink-tool fault injection, routed") {
        return;
    }
    let (h, c) = (host(), Netns::new("nfc"));
    connect_faults("connect routed", &h, &c, "--type routed --addr 10.0.4.2/32");
}

#[test]
fn connect_macvlan_killed_at_every_step() {
    if !require_root("netlink-tool fault injection, macvlan") {
        return;
    }
    let (h, c) = (host(), Netns::new("nfc"));
    connect_faults(
        "connect macvlan",
        &h,
        &c,
        "--type macvlan --link up0 --addr 10.0.6.2/24",
    );
}

#[test]
fn disconnect_killed_at_every_step() {
    if !require_root("netlink-tool fault injection, disconnect") {
        return;
    }
    let (h, c) = (host(), Netns::new("nfc"));
    let connect_args = words(&format!(
        "-n {} connect {} --type veth --link br0 --addr 10.0.3.2/24 --gw 10.0.3.1",
        h.name, c.name
    ));
    let disconnect_args = words(&format!("-n {} disconnect {}", h.name, c.name));
    nt(&connect_args).ok();
    nt(&disconnect_args).ok();
    let before = (state(&h), state(&c));
    nt(&connect_args).ok();
    let connected = (state(&h), state(&c));
    let (_, total, _) = run_killed(&disconnect_args, Signal::SIGCONT, usize::MAX);
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        let mut f = Figures::default();
        for i in 0..RUNS {
            nt(&connect_args).ok();
            let nth = i * (total + 1) / RUNS;
            let (end, _, trace) = run_killed(&disconnect_args, sig, nth);
            f.runs += 1;
            let now = (state(&h), state(&c));
            match end {
                End::Done => {
                    f.done += 1;
                    if now != before || record(&c, "eth0").is_some() {
                        f.half_made_looking_finished += 1;
                    }
                }
                End::RolledBack => {
                    f.rolled_back += 1;
                    // Stopped before it began: still connected, as recorded.
                    if now != connected {
                        f.leftovers_before_cleanup += 1;
                    }
                }
                End::Killed => {
                    f.killed += 1;
                    if now != connected && now != before {
                        f.leftovers_before_cleanup += 1;
                    }
                }
                End::Other(code) => panic!("disconnect {sig} at line {nth}: exit {code}\n{trace}"),
            }
            // The documented cleanup: disconnect again.
            if record(&c, "eth0").is_some() {
                nt(&disconnect_args).ok();
            }
            if (state(&h), state(&c)) != before {
                f.leftovers_after_cleanup += 1;
            }
            if nt(&connect_args).code != 0 {
                f.reruns_failed += 1;
            }
            nt(&disconnect_args).ok();
        }
        report("disconnect veth", sig, &f);
        assert_eq!(f.leftovers_after_cleanup, 0, "{sig}: {f:?}");
        assert_eq!(f.reruns_failed, 0, "{sig}: {f:?}");
        assert_eq!(f.half_made_looking_finished, 0, "{sig}: {f:?}");
        if sig != Signal::SIGKILL {
            assert_eq!(f.leftovers_before_cleanup, 0, "{sig}: {f:?}");
        }
    }
}

#[test]
fn nat_killed_at_every_step() {
    if !require_root("netlink-tool fault injection, nat") {
        return;
    }
    let h = Netns::new("nfn");
    for (kind, rule) in [
        (
            "nat masquerade",
            "masquerade --source 10.0.3.0/24 --out br0",
        ),
        (
            "nat forward",
            "forward --proto tcp --port 8080 --to 10.0.3.2:80",
        ),
    ] {
        // Another rule stays all along: a change is a rewrite of the whole table.
        nt(&words(&format!(
            "-n {} nat forward --proto udp --port 53 --to 10.0.3.9:53",
            h.name
        )))
        .ok();
        let add = words(&format!("-n {} nat {rule}", h.name));
        let del = words(&format!("-n {} nat {rule} --delete", h.name));
        let before = ruleset(&h);
        nt(&add).ok();
        let after = ruleset(&h);
        nt(&del).ok();
        assert_eq!(ruleset(&h), before);
        let (_, total, _) = run_killed(&add, Signal::SIGCONT, usize::MAX);
        nt(&del).ok();
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
            let mut f = Figures::default();
            for i in 0..RUNS {
                let nth = i * (total + 1) / RUNS;
                let (end, _, trace) = run_killed(&add, sig, nth);
                f.runs += 1;
                let now = ruleset(&h);
                match end {
                    End::Done => {
                        f.done += 1;
                        if now != after {
                            f.half_made_looking_finished += 1;
                        }
                    }
                    End::RolledBack | End::Killed => {
                        if end == End::RolledBack {
                            f.rolled_back += 1;
                        } else {
                            f.killed += 1;
                        }
                        // One transaction: all or nothing, whenever the kill came.
                        if now != before && now != after {
                            f.leftovers_before_cleanup += 1;
                        }
                        if end == End::RolledBack && now != before {
                            f.leftovers_before_cleanup += 1;
                        }
                    }
                    End::Other(code) => panic!("{kind} {sig} at {nth}: exit {code}\n{trace}"),
                }
                // The documented cleanup: delete the rule if it is there.
                if ruleset(&h) == after {
                    nt(&del).ok();
                }
                if ruleset(&h) != before {
                    f.leftovers_after_cleanup += 1;
                }
                if nt(&add).code != 0 {
                    f.reruns_failed += 1;
                }
                nt(&del).ok();
            }
            report(kind, sig, &f);
            assert_eq!(f.leftovers_after_cleanup, 0, "{kind} {sig}: {f:?}");
            assert_eq!(f.leftovers_before_cleanup, 0, "{kind} {sig}: {f:?}");
            assert_eq!(f.half_made_looking_finished, 0, "{kind} {sig}: {f:?}");
            assert_eq!(f.reruns_failed, 0, "{kind} {sig}: {f:?}");
        }
        nt(&words(&format!("-n {} nat flush", h.name))).ok();
    }
}
