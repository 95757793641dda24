//! An HTTP forward proxy listening inside a network namespace a test made, forwarding to
//! the real network from this process's own namespace: how a container reaches the
//! Debian mirror in a test without any change to the machine's network (the namespace
//! playing "the internet" holds the proxy; the host namespace between it and the
//! container masquerades).
//!
//! A network namespace is a per-thread attribute: the listening socket is made by a
//! thread that entered the namespace, and each accepted connection is handed to a thread
//! that stayed in ours, which opens the upstream connection. `GET http://…` (absolute
//! URI, answered with `Connection: close`) and `CONNECT host:port` are understood; the
//! peers seen are recorded, so a test can tell which address the container came from.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A running proxy; it stops accepting when dropped (its threads end with the process
/// or when their connection ends).
#[derive(Debug)]
pub struct Proxy {
    /// Where it listens (inside the namespace).
    pub addr: SocketAddr,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    /// Listen on `addr` inside the network namespace file `netns` (`/run/netns/NAME`).
    pub fn start(netns: &str, addr: SocketAddr) -> Proxy {
        let peers = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<TcpStream>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let ns_path = netns.to_owned();
        let stop_l = Arc::clone(&stop);
        // The listener: enters the namespace, binds, hands connections over.
        thread::spawn(move || {
            let entered = std::fs::File::open(&ns_path)
                .map_err(|e| format!("open {ns_path}: {e}"))
                .and_then(|f| {
                    nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| format!("setns {ns_path}: {e}"))
                });
            let listener = entered
                .and_then(|()| TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}")));
            let listener = match listener {
                Ok(l) => {
                    let _ = ready_tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            while !stop_l.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).expect("blocking stream");
                        if tx.send(s).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => return,
                }
            }
        });
        ready_rx
            .recv()
            .expect("the proxy's listener thread")
            .unwrap_or_else(|e| panic!("proxy: {e}"));
        // The dispatcher: in our namespace; each connection gets a thread of its own.
        let (peers_d, requests_d) = (Arc::clone(&peers), Arc::clone(&requests));
        thread::spawn(move || {
            for s in rx {
                if let Ok(p) = s.peer_addr() {
                    peers_d.lock().unwrap().push(p);
                }
                let requests = Arc::clone(&requests_d);
                thread::spawn(move || {
                    let _ = serve(s, &requests);
                });
            }
        });
        Proxy {
            addr,
            peers,
            requests,
            stop,
        }
    }

    /// The addresses connections came from.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap().clone()
    }

    /// The request lines served (`GET http://…`, `CONNECT …`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One client connection: one request (`Connection: close`), or a CONNECT tunnel.
fn serve(client: TcpStream, requests: &Mutex<Vec<String>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        if h == "\r\n" || h == "\n" {
            break;
        }
        headers.push(h);
    }
    requests.lock().unwrap().push(request.clone());
    let mut words = request.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut client = client;
    if method == "CONNECT" {
        let Ok(upstream) = TcpStream::connect(target) else {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        };
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        // What the client sent after its headers is already in `reader`'s buffer.
        let early = reader.buffer().to_vec();
        let mut up = upstream.try_clone()?;
        up.write_all(&early)?;
        return relay(reader.into_inner(), upstream);
    }
    let Some(rest) = target.strip_prefix("http://") else {
        client.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let hostport = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let Ok(mut upstream) = TcpStream::connect(&hostport) else {
        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for h in &headers {
        let name = h.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name == "connection" || name == "proxy-connection" || name == "keep-alive" {
            continue;
        }
        head.push_str(h);
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    let body = reader.buffer().to_vec();
    upstream.write_all(&body)?;
    std::io::copy(&mut upstream, &mut client)?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

/// Copy both ways until either side ends.
fn relay(a: TcpStream, b: TcpStream) -> std::io::Result<()> {
    let (mut a2, mut b2) = (a.try_clone()?, b.try_clone()?);
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut b2, &mut a2);
        let _ = a2.shutdown(Shutdown::Write);
    });
    let (mut a1, mut b1) = (a, b);
    let _ = std::io::copy(&mut a1, &mut b1);
    let _ = b1.shutdown(Shutdown::Write);
    let _ = t.join();
    let _ = a1.read(&mut [0u8; 1]);
    Ok(())
}
