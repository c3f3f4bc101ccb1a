//! The one impairment proxy every test shares: a userspace TCP forwarder standing in
//! for the network between two programs (this kernel has no `tc netem`).
//!
//! Per direction it delays each chunk by a latency plus uniform jitter (order kept, as
//! on one TCP path), and caps the rate (a 16 KiB chunk leaves no earlier than the
//! previous one's last bit at that rate). The link as a whole can be [`LinkState::Up`],
//! `Stalled` (bytes held, none lost: a short outage TCP would ride out), `Blackhole`
//! (bytes silently dropped, new connections accepted and swallowed: a half-open link)
//! or `Refusing` (new connections reset). [`Proxy::cut`] ends every open connection
//! with a FIN, [`Proxy::reset`] with an RST.
//!
//! Limits, by design of a userspace proxy (toxiproxy has the same): the proxy ends
//! each TCP connection itself, so a sender's window never waits on the far end's
//! acks; backpressure comes from the bounded queue per direction
//! ([`Impairment::queue_bytes`], a router's buffer). Bytes dropped by a `Blackhole`
//! cannot be retransmitted, so when the link comes back up every connection that lost
//! bytes is reset, as a peer does on the first packet of a connection it gave up on.
//!
//! Threads only (no async runtime): usable from sync and tokio tests alike. With
//! [`ProxyConfig::netns`] the proxy's sockets live in that network namespace.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes read at a time, so a rate cap and a stall act within one chunk.
const CHUNK: usize = 16 * 1024;
/// How often a stalled pump looks again.
const STALL_POLL: Duration = Duration::from_millis(5);

/// What one direction of the link does to its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// One-way delay added to every chunk.
    pub latency: Duration,
    /// Uniform extra delay in [-jitter, +jitter] (never below zero, never reordering).
    pub jitter: Duration,
    /// Rate cap in bits per second; `None` is as fast as the host.
    pub rate_bps: Option<u64>,
    /// Bytes the proxy holds in this direction before the sender feels backpressure.
    pub queue_bytes: usize,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_bps: None,
            queue_bytes: 256 * 1024,
        }
    }
}

impl Impairment {
    /// `latency` ± `jitter`, no rate cap.
    pub fn delay(latency: Duration, jitter: Duration) -> Impairment {
        Impairment {
            latency,
            jitter,
            ..Impairment::default()
        }
    }

    /// The same with a rate cap of `mbit_s` megabits per second.
    pub fn with_rate_mbit(self, mbit_s: f64) -> Impairment {
        Impairment {
            rate_bps: Some((mbit_s * 1e6) as u64),
            ..self
        }
    }
}

/// The state of the whole link (every connection through the proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Up = 0,
    /// Nothing moves, nothing is lost; the sender's writes block once the queue is full.
    Stalled = 1,
    /// Everything is read and silently dropped; new connections are accepted and
    /// swallowed (no SYN-ACK is ever missing in userspace, but no byte gets through).
    Blackhole = 2,
    /// New connections are reset at once (host up, port closed); open ones carry on.
    Refusing = 3,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            1 => LinkState::Stalled,
            2 => LinkState::Blackhole,
            3 => LinkState::Refusing,
            _ => LinkState::Up,
        }
    }
}

/// Where the proxy listens and forwards, and what it does on the way.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Address to listen on (port 0 for any).
    pub listen: SocketAddr,
    pub target: SocketAddr,
    /// Client to target (e.g. streamer to analyser: the upload).
    pub to_target: Impairment,
    /// Target to client.
    pub to_client: Impairment,
    /// A network namespace file (`/run/netns/NAME`) the proxy's sockets are made in.
    pub netns: Option<PathBuf>,
}

impl ProxyConfig {
    /// A plain forwarder on 127.0.0.1:0 to `target`.
    pub fn local(target: SocketAddr) -> ProxyConfig {
        ProxyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            target,
            to_target: Impairment::default(),
            to_client: Impairment::default(),
            netns: None,
        }
    }
}

/// One connection through the proxy: both sockets, and whether it lost bytes.
struct Conn {
    client: TcpStream,
    server: Option<TcpStream>,
    lost: AtomicBool,
    /// Ended with an RST: the pumps must not send a FIN on their way out.
    reset: AtomicBool,
    /// Its path died ([`Proxy::silence_open`]): its bytes and its close are dropped.
    silenced: AtomicBool,
}

impl Conn {
    /// A client connection that is not forwarded (refused or swallowed).
    fn unforwarded(client: TcpStream) -> Conn {
        Conn {
            client,
            server: None,
            lost: AtomicBool::new(true),
            reset: AtomicBool::new(false),
            silenced: AtomicBool::new(false),
        }
    }

    fn sockets(&self) -> impl Iterator<Item = &TcpStream> {
        std::iter::once(&self.client).chain(self.server.as_ref())
    }
}

struct Shared {
    target: Mutex<SocketAddr>,
    to_target: Mutex<Impairment>,
    to_client: Mutex<Impairment>,
    state: AtomicU8,
    stop: AtomicBool,
    conns: Mutex<Vec<Arc<Conn>>>,
    bytes_to_target: AtomicU64,
    bytes_to_client: AtomicU64,
    accepted: AtomicU64,
    target_closed: AtomicU64,
}

impl Shared {
    fn state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::SeqCst))
    }
}

/// A running proxy; dropping it stops accepting and cuts every connection.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// The listening socket, to wake the accept loop when dropped.
    listener: TcpListener,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("state", &self.state())
            .finish()
    }
}

impl Proxy {
    /// A plain forwarder on 127.0.0.1:0 to `target` (panics if it cannot bind: tests).
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::with(ProxyConfig::local(target)).expect("the proxy binds 127.0.0.1:0")
    }

    /// A proxy as configured; fails when the namespace or the address is unusable.
    pub fn with(config: ProxyConfig) -> std::io::Result<Proxy> {
        let shared = Arc::new(Shared {
            target: Mutex::new(config.target),
            to_target: Mutex::new(config.to_target),
            to_client: Mutex::new(config.to_client),
            state: AtomicU8::new(LinkState::Up as u8),
            stop: AtomicBool::new(false),
            conns: Mutex::default(),
            bytes_to_target: AtomicU64::new(0),
            bytes_to_client: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            target_closed: AtomicU64::new(0),
        });
        let (tx, rx) = sync_channel(1);
        let s = shared.clone();
        // Threads inherit the namespace of the thread that starts them, so every
        // socket of this proxy is made in the namespace entered here.
        std::thread::spawn(move || {
            let bound =
                enter(config.netns.as_ref()).and_then(|()| TcpListener::bind(config.listen));
            let listener = match bound {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(
                listener
                    .local_addr()
                    .and_then(|a| Ok((a, listener.try_clone()?))),
            );
            accept_loop(listener, s);
        });
        let (addr, listener) = rx
            .recv()
            .map_err(|_| std::io::Error::other("proxy thread ended"))??;
        Ok(Proxy {
            addr,
            shared,
            listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Ends every open connection with a FIN both ways (new ones are still let through).
    pub fn cut(&self) {
        for conn in self.take_conns(|_| true) {
            for s in conn.sockets() {
                s.shutdown(Shutdown::Both).ok();
            }
        }
    }

    /// Ends every open connection with an RST both ways.
    pub fn reset(&self) {
        for conn in self.take_conns(|_| true) {
            reset_conn(&conn);
        }
    }

    /// Sets the link's state; back `Up`, connections that lost bytes are reset.
    pub fn set_state(&self, state: LinkState) {
        self.shared.state.store(state as u8, Ordering::SeqCst);
        if state == LinkState::Up {
            for conn in self.take_conns(|c| c.lost.load(Ordering::SeqCst)) {
                reset_conn(&conn);
            }
        }
    }

    pub fn state(&self) -> LinkState {
        self.shared.state()
    }

    /// A half-open link: the connections open now go silent for good (their bytes
    /// and their close are dropped, as when a NAT or firewall on the way forgets
    /// them), while new connections pass. Only the endpoints' own timeouts end them.
    pub fn silence_open(&self) {
        for conn in lock(&self.shared.conns).iter() {
            conn.silenced.store(true, Ordering::SeqCst);
        }
    }

    /// New connections go to `to` (open ones stay where they are).
    pub fn retarget(&self, to: SocketAddr) {
        *lock(&self.shared.target) = to;
    }

    /// Changes the impairments of both directions (open connections included).
    pub fn impair(&self, to_target: Impairment, to_client: Impairment) {
        *lock(&self.shared.to_target) = to_target;
        *lock(&self.shared.to_client) = to_client;
    }

    /// Bytes delivered so far: (client to target, target to client).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.shared.bytes_to_target.load(Ordering::SeqCst),
            self.shared.bytes_to_client.load(Ordering::SeqCst),
        )
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections the target ended (FIN or RST seen on its side).
    pub fn target_closed(&self) -> u64 {
        self.shared.target_closed.load(Ordering::SeqCst)
    }

    fn take_conns(&self, which: impl Fn(&Conn) -> bool) -> Vec<Arc<Conn>> {
        let mut conns = lock(&self.shared.conns);
        let (taken, kept) = conns.drain(..).partition(|c| which(c));
        *conns = kept;
        taken
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop (accept fails), which sees `stop` and ends.
        let _ =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(target_os = "linux")]
fn enter(netns: Option<&PathBuf>) -> std::io::Result<()> {
    let Some(path) = netns else { return Ok(()) };
    let file = std::fs::File::open(path)?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

fn reset_conn(conn: &Conn) {
    conn.reset.store(true, Ordering::SeqCst);
    for s in conn.sockets() {
        // SO_LINGER with a zero timeout: close() sends an RST instead of a FIN.
        let _ = nix::sys::socket::setsockopt(
            s,
            nix::sys::socket::sockopt::Linger,
            &nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            },
        );
        // The pumps hold clones of the descriptor: shutting the read side wakes them
        // without sending anything, and the last close then resets.
        s.shutdown(Shutdown::Read).ok();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        client.set_nodelay(true).ok();
        match shared.state() {
            LinkState::Refusing => {
                reset_conn(&Conn::unforwarded(client));
                continue;
            }
            LinkState::Blackhole => {
                // Accepted and swallowed: the client waits for an answer that never comes.
                let conn = Arc::new(Conn::unforwarded(client));
                lock(&shared.conns).push(conn.clone());
                std::thread::spawn(move || drain(&conn.client));
                continue;
            }
            LinkState::Up | LinkState::Stalled => {}
        }
        let to = *lock(&shared.target);
        let Ok(server) = TcpStream::connect(to) else {
            reset_conn(&Conn::unforwarded(client));
            continue;
        };
        server.set_nodelay(true).ok();
        let conn = Arc::new(Conn {
            client,
            server: Some(server),
            lost: AtomicBool::new(false),
            reset: AtomicBool::new(false),
            silenced: AtomicBool::new(false),
        });
        lock(&shared.conns).push(conn.clone());
        pump(&shared, &conn, true);
        pump(&shared, &conn, false);
    }
}

/// Reads and drops until the peer goes away.
fn drain(mut s: &TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// One direction of one connection: a reader thread stamps each chunk with the time it
/// may leave, a writer thread sends it then (rate cap, stall and blackhole applied).
fn pump(shared: &Arc<Shared>, conn: &Arc<Conn>, to_target: bool) {
    let server = conn.server.as_ref().expect("a forwarded connection");
    let (from, to) = if to_target {
        (&conn.client, server)
    } else {
        (server, &conn.client)
    };
    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let queue = lock(if to_target {
        &shared.to_target
    } else {
        &shared.to_client
    })
    .queue_bytes;
    let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>((queue / CHUNK).max(1));
    let (s, c) = (shared.clone(), conn.clone());
    std::thread::spawn(move || read_side(from, tx, &s, to_target));
    let s = shared.clone();
    std::thread::spawn(move || write_side(to, rx, &s, &c, to_target));
}

fn read_side(mut from: TcpStream, tx: SyncSender<(Instant, Vec<u8>)>, s: &Shared, to_target: bool) {
    let mut rng = Jitter::new(from.as_raw_fd() as u64);
    let mut last = Instant::now();
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = match from.read(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => break,
        };
        buf.truncate(n);
        let imp = *lock(if to_target {
            &s.to_target
        } else {
            &s.to_client
        });
        let at = Instant::now() + rng.delay(imp.latency, imp.jitter);
        // Never before the previous chunk: one TCP path does not reorder.
        last = last.max(at);
        if tx.send((last, buf)).is_err() {
            break;
        }
    }
    if !to_target {
        s.target_closed.fetch_add(1, Ordering::SeqCst);
    }
    // The writer sends what is queued, then ends the other side.
}

fn write_side(
    mut to: TcpStream,
    rx: Receiver<(Instant, Vec<u8>)>,
    s: &Shared,
    conn: &Conn,
    to_target: bool,
) {
    let mut next_free = Instant::now();
    let counter = if to_target {
        &s.bytes_to_target
    } else {
        &s.bytes_to_client
    };
    while let Ok((at, bytes)) = rx.recv() {
        while s.state() == LinkState::Stalled && !s.stop.load(Ordering::SeqCst) {
            std::thread::sleep(STALL_POLL);
        }
        if s.state() == LinkState::Blackhole || conn.silenced.load(Ordering::SeqCst) {
            conn.lost.store(true, Ordering::SeqCst);
            continue;
        }
        let imp = *lock(if to_target {
            &s.to_target
        } else {
            &s.to_client
        });
        let start = next_free.max(at);
        sleep_until(start);
        if to.write_all(&bytes).is_err() {
            break;
        }
        counter.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        next_free = match imp.rate_bps {
            Some(bps) if bps > 0 => {
                start + Duration::from_secs_f64(bytes.len() as f64 * 8.0 / bps as f64)
            }
            _ => start,
        };
    }
    if conn.reset.load(Ordering::SeqCst) {
        return;
    }
    if s.state() == LinkState::Blackhole || conn.silenced.load(Ordering::SeqCst) {
        // A close does not cross a dead link either: the other end finds out by
        // itself, or by a reset when the link is back.
        conn.lost.store(true, Ordering::SeqCst);
        return;
    }
    for s in conn.sockets() {
        s.shutdown(Shutdown::Both).ok();
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// xorshift64*: enough randomness for jitter without a dependency.
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Jitter((t ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn delay(&mut self, latency: Duration, jitter: Duration) -> Duration {
        let offset = (self.next_unit() * 2.0 - 1.0) * jitter.as_secs_f64();
        Duration::from_secs_f64((latency.as_secs_f64() + offset).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for s in l.incoming().map_while(Result::ok) {
                std::thread::spawn(move || {
                    let mut r = s.try_clone().expect("clone");
                    let mut w = s;
                    let _ = std::io::copy(&mut r, &mut w);
                });
            }
        });
        addr
    }

    fn round_trip(c: &mut TcpStream, n: usize) -> Vec<u8> {
        let sent: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        c.write_all(&sent).expect("write");
        let mut got = vec![0u8; n];
        c.read_exact(&mut got).expect("read back");
        assert_eq!(got, sent);
        got
    }

    #[test]
    fn forwards_with_latency_and_rate() {
        let proxy = Proxy::with(ProxyConfig {
            to_target: Impairment::delay(Duration::from_millis(30), Duration::from_millis(5))
                .with_rate_mbit(8.0),
            ..ProxyConfig::local(echo())
        })
        .expect("proxy");
        let mut c = TcpStream::connect(proxy.addr).expect("connect");
        let start = Instant::now();
        round_trip(&mut c, 10);
        assert!(
            start.elapsed() >= Duration::from_millis(25),
            "latency applied"
        );
        // 400 kB at 8 Mbit/s is 0.4 s at least.
        let start = Instant::now();
        round_trip(&mut c, 400_000);
        assert!(start.elapsed() >= Duration::from_millis(390), "rate capped");
        // The writer counts right after its write, which the echo may beat.
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.bytes() != (400_010, 400_010) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(proxy.bytes(), (400_010, 400_010));
    }

    #[test]
    fn stall_holds_bytes_and_blackhole_resets_on_return() {
        let proxy = Proxy::start(echo());
        let mut c = TcpStream::connect(proxy.addr).expect("connect");
        proxy.set_state(LinkState::Stalled);
        c.write_all(b"held").expect("write");
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 4];
        assert!(c.read_exact(&mut buf).is_err(), "nothing while stalled");
        proxy.set_state(LinkState::Up);
        c.set_read_timeout(None).expect("timeout");
        c.read_exact(&mut buf).expect("delivered after the stall");
        assert_eq!(&buf, b"held");

        proxy.set_state(LinkState::Blackhole);
        c.write_all(b"lost").expect("write");
        std::thread::sleep(Duration::from_millis(100));
        proxy.set_state(LinkState::Up);
        let err = c.read(&mut buf);
        assert!(
            matches!(&err, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{err:?}"
        );
    }

    #[test]
    fn cut_ends_connections_and_new_ones_pass() {
        let proxy = Proxy::start(echo());
        let mut c = TcpStream::connect(proxy.addr).expect("connect");
        round_trip(&mut c, 100);
        proxy.cut();
        let mut buf = [0u8; 1];
        assert_eq!(c.read(&mut buf).expect("eof"), 0);
        let mut again = TcpStream::connect(proxy.addr).expect("connect");
        round_trip(&mut again, 100);
        assert_eq!(proxy.accepted(), 2);
    }
}
