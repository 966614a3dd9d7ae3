//! The library's one I/O thread: it owns the UDP sockets, reads the clock,
//! fires timers and drives every registered endpoint (a sans-IO state
//! machine behind a lock). It is started on first use and stopped when the
//! last endpoint is unregistered. It never calls user code: endpoints post
//! their events to the caller's loop through `LoopQueue`. It also holds the
//! TCP/TLS connections to TURN servers (`turn_stream`), which endpoints
//! see as one more local address carrying whole messages.

use crate::idhash::{IdMap, IdSet};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::batch::{self, RecvBatch};
use super::turn_stream::{OnOpen, TurnStream};
use crate::turn::stream::StreamFailure;
use crate::turn::tls::TlsClient;

pub use crate::datagram::Transmit;

/// What the I/O thread drives. Implementations are sans-IO state machines
/// plus the glue that posts their events to the caller's loop.
pub trait Endpoint: Send {
    /// A datagram arrived on the socket bound to `local`.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]);
    /// The deadline returned by `poll_timeout` has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The earliest deadline, if any.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Posts the events produced so far to the caller's loop.
    fn dispatch_events(&mut self);
    /// The TCP/TLS connection to a TURN server whose local address is
    /// `link` (see [`open_turn_stream`]) failed or was lost; nothing more
    /// arrives on `link`. Endpoints that open no such connection never get
    /// this call.
    fn handle_link_failed(&mut self, now: Instant, link: SocketAddr, why: StreamFailure) {
        let _ = (now, link, why);
    }
}

/// A registered endpoint, shared between API calls (which lock it) and the
/// I/O thread.
pub type SharedEndpoint = Arc<Mutex<dyn Endpoint>>;

/// Identifies a registered endpoint.
pub type EndpointId = u64;

enum Command {
    Register {
        id: EndpointId,
        endpoint: SharedEndpoint,
        sockets: Vec<std::net::UdpSocket>,
        direct: Arc<Direct>,
    },
    Unregister(EndpointId),
    OpenStream {
        id: EndpointId,
        server: SocketAddr,
        tls: Option<Box<TlsClient>>,
        done: OnOpen,
    },
    Shutdown,
}

struct Shared {
    commands: Mutex<VecDeque<Command>>,
    /// Endpoints an API call changed since the thread last looked; a set,
    /// so a burst of calls costs one flush and one wake-up.
    kicked: Mutex<IdSet<EndpointId>>,
    waker: Waker,
}

struct Runtime {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    endpoints: usize,
    next_id: EndpointId,
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// What an API thread needs to send an endpoint's datagrams itself (see
/// [`send_now`]): the endpoint's UDP sockets (duplicated descriptors of
/// the I/O thread's), the datagrams it could not send, which the I/O
/// thread sends before anything else of the endpoint, and whether the I/O
/// thread holds datagrams of the endpoint back (a full socket buffer), in
/// which case nothing may overtake them.
pub struct Direct {
    sockets: Vec<(SocketAddr, std::net::UdpSocket)>,
    spill: Mutex<VecDeque<Transmit>>,
    held: AtomicBool,
    /// The endpoint's deadline as the I/O thread last saw it.
    deadline: Mutex<Option<Instant>>,
}

static DIRECT: Mutex<Option<IdMap<EndpointId, Arc<Direct>>>> = Mutex::new(None);

/// Whether the I/O thread advances usrsctp's timers at the busy interval
/// (a message moved recently): a datagram sent by [`send_now`] then needs
/// no wake-up for its retransmission timer to be served in time.
static SCTP_BUSY: AtomicBool = AtomicBool::new(false);

/// Datagrams the kernel refused as too large (`EMSGSIZE`).
static TOO_LARGE: AtomicU64 = AtomicU64::new(0);
/// Datagrams dropped on another send error.
static SEND_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Datagrams refused by the kernel with `EMSGSIZE` since the process
/// started: larger than the interface MTU on a socket that may not
/// fragment (a path MTU probe that cannot leave this host, or a datagram
/// beyond the UDP limit). Each is dropped, like a datagram lost on the
/// path; the socket and its endpoint carry on.
pub fn datagrams_too_large() -> u64 {
    TOO_LARGE.load(Ordering::Relaxed)
}

/// Datagrams dropped on other send errors (unreachable peer, ...) since
/// the process started.
pub fn send_errors() -> u64 {
    SEND_ERRORS.load(Ordering::Relaxed)
}

const WAKER: Token = Token(0);
/// Datagrams read from one socket per loop turn before moving on.
const MAX_READS_PER_TURN: usize = 64;
/// Datagrams one endpoint sends per loop turn before others get a turn.
const MAX_SENDS_PER_TURN: usize = 64;
const RECV_BUF: usize = 65536;
/// How often usrsctp's timers are advanced while messages move (its
/// delayed SACK timer is 20 ms).
const SCTP_TICK: Duration = Duration::from_millis(10);
/// How often while no association sent or received a message for
/// [`SCTP_BUSY_FOR`]: only heartbeats (30 s) and housekeeping timers are
/// pending then, and each advance walks every timer of every association.
const SCTP_IDLE_TICK: Duration = Duration::from_millis(100);
const SCTP_BUSY_FOR: Duration = Duration::from_millis(500);
/// Requested socket buffer sizes (the kernel caps them at its maximum).
const SOCKET_BUFFER: libc::c_int = 4 << 20;

/// Registers an endpoint with its bound sockets and returns its id. Starts
/// the I/O thread if it isn't running.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn register(
    endpoint: SharedEndpoint,
    sockets: Vec<std::net::UdpSocket>,
) -> io::Result<EndpointId> {
    let mut rt = RUNTIME.lock();
    if rt.is_none() {
        *rt = Some(start()?);
    }
    let rt = rt.as_mut().expect("runtime started above");
    rt.next_id += 1;
    rt.endpoints += 1;
    let id = rt.next_id;
    let mut direct_sockets = Vec::with_capacity(sockets.len());
    for sock in &sockets {
        let (Ok(local), Ok(dup)) = (sock.local_addr(), sock.try_clone()) else {
            continue;
        };
        // O_NONBLOCK belongs to the open file both descriptors share.
        if dup.set_nonblocking(true).is_ok() {
            direct_sockets.push((local, dup));
        }
    }
    let direct = Arc::new(Direct {
        sockets: direct_sockets,
        spill: Mutex::new(VecDeque::new()),
        held: AtomicBool::new(false),
        deadline: Mutex::new(None),
    });
    DIRECT
        .lock()
        .get_or_insert_with(IdMap::default)
        .insert(id, direct.clone());
    send(
        &rt.shared,
        Command::Register {
            id,
            endpoint,
            sockets,
            direct,
        },
    );
    Ok(id)
}

/// Unregisters an endpoint (its sockets close). The last one stops the thread.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn unregister(id: EndpointId) {
    if let Some(map) = DIRECT.lock().as_mut() {
        map.remove(&id);
    }
    let mut guard = RUNTIME.lock();
    let Some(rt) = guard.as_mut() else { return };
    send(&rt.shared, Command::Unregister(id));
    rt.endpoints = rt.endpoints.saturating_sub(1);
    if rt.endpoints == 0 {
        let mut rt = guard.take().expect("checked above");
        drop(guard);
        send(&rt.shared, Command::Shutdown);
        if let Some(t) = rt.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// Asks the I/O thread to re-poll `id` (transmits, timers, events) after an
/// API call changed its state.
pub fn kick(id: EndpointId) {
    if let Some(rt) = RUNTIME.lock().as_ref() {
        if rt.shared.kicked.lock().insert(id) {
            let _ = rt.shared.waker.wake();
        }
    }
}

/// What an API thread needs to send for endpoint `id` itself ([`send_now`]);
/// looked up once, at registration, and kept by the endpoint's owner.
pub fn direct(id: EndpointId) -> Option<Arc<Direct>> {
    DIRECT.lock().as_ref().and_then(|m| m.get(&id).cloned())
}

/// Sends what an endpoint has to send from the calling thread, which
/// holds the endpoint's lock (as the I/O thread does when it sends, so the
/// two never interleave one endpoint's datagrams). Used for a message that
/// goes out alone: it reaches the socket inside the API call, with no
/// wake-up of the I/O thread on its way. Returns false when the I/O thread
/// must still run for the endpoint: it holds datagrams back, a datagram
/// needs a TURN server connection or met a full socket buffer (those wait
/// in the spill, sent first by the I/O thread), the endpoint's deadline
/// moved earlier than the I/O thread knows, or usrsctp's timers are on
/// the idle interval.
pub fn send_now(direct: &Direct, ep: &mut dyn Endpoint) -> bool {
    if direct.held.load(Ordering::Acquire) {
        return false;
    }
    for _ in 0..MAX_SENDS_PER_TURN {
        let Some(t) = ep.poll_transmit() else {
            ep.dispatch_events();
            let known = *direct.deadline.lock();
            let sooner = match (ep.poll_timeout(), known) {
                (Some(d), Some(k)) => d < k,
                (Some(_), None) => true,
                (None, _) => false,
            };
            return !sooner && SCTP_BUSY.load(Ordering::Relaxed);
        };
        let Some((_, sock)) = direct.sockets.iter().find(|(local, _)| *local == t.local) else {
            direct.spill.lock().push_back(t);
            return false;
        };
        match sock.send_to(&t.data, t.dest) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                direct.spill.lock().push_back(t);
                return false;
            }
            Err(e) => {
                let counter = if e.raw_os_error() == Some(libc::EMSGSIZE) {
                    &TOO_LARGE
                } else {
                    &SEND_ERRORS
                };
                counter.fetch_add(1, Ordering::Relaxed);
                log::debug!(target: "io", "datagram not sent: {e}");
            }
        }
    }
    false
}

/// Opens a TCP connection (TLS over it with `tls`) from the I/O thread to
/// the TURN server `server` for endpoint `id`. `done` runs on the I/O
/// thread with the connection's local address (the link the endpoint sends
/// the server's messages from and receives them on) as soon as the connect
/// has started, before the endpoint is next flushed, or with why it could
/// not start. Messages sent on the link before the connection is up wait
/// for it; a failure later, including no connection (and handshake)
/// within 5 s, comes as [`Endpoint::handle_link_failed`]. The connection
/// closes with the endpoint, after its last messages.
pub fn open_turn_stream(
    id: EndpointId,
    server: SocketAddr,
    tls: Option<Box<TlsClient>>,
    done: OnOpen,
) {
    let rt = RUNTIME.lock();
    match rt.as_ref() {
        Some(rt) => send(
            &rt.shared,
            Command::OpenStream {
                id,
                server,
                tls,
                done,
            },
        ),
        None => {
            drop(rt);
            done(Err(StreamFailure::ConnectFailed));
        }
    }
}

/// Whether the I/O thread is running (for tests of the start/stop contract).
pub fn is_running() -> bool {
    RUNTIME.lock().is_some()
}

fn send(shared: &Shared, cmd: Command) {
    shared.commands.lock().push_back(cmd);
    let _ = shared.waker.wake();
}

#[cfg_attr(xp2p_device, optimize(size))]
fn start() -> io::Result<Runtime> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let shared = Arc::new(Shared {
        commands: Mutex::new(VecDeque::new()),
        kicked: Mutex::new(IdSet::default()),
        waker,
    });
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("xp2p-io".into())
        .spawn(move || IoThread::new(poll, thread_shared).run())?;
    Ok(Runtime {
        shared,
        thread: Some(thread),
        endpoints: 0,
        next_id: 0,
    })
}

struct Sock {
    local: SocketAddr,
    token: Token,
    sock: UdpSocket,
    /// A send hit a full buffer: waiting for writability.
    blocked: bool,
    /// UDP GSO may be tried (cleared for good when the kernel refuses it).
    gso: bool,
}

struct Registered {
    endpoint: SharedEndpoint,
    sockets: Vec<Sock>,
    deadline: Option<Instant>,
    /// Transmits that met a full socket buffer, sent first when writable.
    pending: VecDeque<Transmit>,
    /// Shared with API threads that send for the endpoint ([`send_now`]).
    direct: Arc<Direct>,
}

struct IoThread {
    poll: Poll,
    shared: Arc<Shared>,
    endpoints: IdMap<EndpointId, Registered>,
    /// TURN server connections by token, with the endpoint each serves.
    streams: IdMap<Token, (EndpointId, TurnStream)>,
    /// Socket token → (endpoint, index into its sockets).
    tokens: IdMap<Token, (EndpointId, usize)>,
    next_token: usize,
    /// Endpoints with work left for the next turn (sends over budget,
    /// sockets with more to read).
    backlog: IdSet<EndpointId>,
    unread: IdSet<Token>,
    /// Read buffer of the TURN server connections.
    buf: Vec<u8>,
    /// Datagrams read from a UDP socket with one system call.
    recv: RecvBatch,
    /// A turn's transmits of one endpoint (kept to reuse its allocation).
    out: Vec<(usize, Transmit)>,
    /// When usrsctp's timers are next advanced (while any association is
    /// driven by this thread).
    sctp_tick: Instant,
    /// Until when usrsctp's timers are advanced at the fast interval
    /// (messages moved recently).
    sctp_busy_until: Instant,
    sctp_last_tick: Instant,
}

impl IoThread {
    fn new(poll: Poll, shared: Arc<Shared>) -> Self {
        IoThread {
            poll,
            shared,
            endpoints: IdMap::default(),
            streams: IdMap::default(),
            tokens: IdMap::default(),
            next_token: 1,
            backlog: IdSet::default(),
            unread: IdSet::default(),
            buf: vec![0; RECV_BUF],
            recv: RecvBatch::new(RECV_BUF),
            out: Vec::with_capacity(MAX_SENDS_PER_TURN),
            sctp_tick: super::clock::now(),
            sctp_busy_until: super::clock::now(),
            sctp_last_tick: super::clock::now(),
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            // mio rounds a timeout up to the next millisecond, so the
            // turn after the wait finds the deadline passed; no padding.
            let timeout = if self.backlog.is_empty() && self.unread.is_empty() {
                let sctp_tick = crate::sctp::has_ticked().then(|| self.next_sctp_tick());
                earliest(self.next_deadline(), sctp_tick)
                    .map(|d| d.saturating_duration_since(super::clock::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            let now = super::clock::now();
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                if self.streams.contains_key(&ev.token()) {
                    // Connect completion, writability, data or an error:
                    // one pass of the stream handles them all.
                    self.unread.insert(ev.token());
                    continue;
                }
                if ev.is_writable() {
                    self.on_writable(ev.token());
                }
                if ev.is_readable() {
                    self.unread.insert(ev.token());
                }
            }
            for token in std::mem::take(&mut self.unread) {
                if self.streams.contains_key(&token) {
                    self.service_stream(token, now);
                } else {
                    self.read_socket(token, now);
                }
            }
            if !self.run_commands() {
                return;
            }
            let kicked = std::mem::take(&mut *self.shared.kicked.lock());
            self.backlog.extend(kicked);
            self.fire_timers(now);
            self.tick_sctp(now);
            for id in std::mem::take(&mut self.backlog) {
                self.flush(id);
            }
        }
    }

    /// Advances usrsctp's timers for every association of the process
    /// once per interval, and runs the timeouts of the connections whose
    /// associations got something from usrsctp (from this or from any
    /// earlier call into it); every other connection stays asleep.
    fn tick_sctp(&mut self, now: Instant) {
        if now < self.next_sctp_tick() || !crate::sctp::has_ticked() {
            return;
        }
        crate::sctp::tick(now);
        self.sctp_last_tick = now;
        if crate::sctp::take_data_activity() {
            self.sctp_busy_until = now + SCTP_BUSY_FOR;
        }
        let busy = now < self.sctp_busy_until;
        SCTP_BUSY.store(busy, Ordering::Relaxed);
        let interval = if busy { SCTP_TICK } else { SCTP_IDLE_TICK };
        self.sctp_tick = now + interval;
        for id in crate::sctp::take_woken() {
            if let Some(reg) = self.endpoints.get(&id) {
                reg.endpoint.lock().handle_timeout(now);
                self.backlog.insert(id);
            }
        }
    }

    /// When usrsctp's timers are next advanced: at the idle interval, or
    /// the busy one as soon as a message moved.
    fn next_sctp_tick(&self) -> Instant {
        if crate::sctp::data_activity_pending() {
            self.sctp_tick.min(self.sctp_last_tick + SCTP_TICK)
        } else {
            self.sctp_tick
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let streams = self.streams.values().filter_map(|(_, s)| s.deadline());
        self.endpoints
            .values()
            .filter_map(|r| r.deadline)
            .chain(streams)
            .min()
    }

    /// Applies queued commands; false on shutdown. Not inlined: one call
    /// per loop turn, and `run` stays small.
    #[inline(never)]
    fn run_commands(&mut self) -> bool {
        loop {
            let cmd = self.shared.commands.lock().pop_front();
            match cmd {
                None => return true,
                Some(Command::Shutdown) => return false,
                Some(Command::Register {
                    id,
                    endpoint,
                    sockets,
                    direct,
                }) => {
                    self.add(id, endpoint, sockets, direct);
                    self.backlog.insert(id);
                }
                Some(Command::Unregister(id)) => self.remove(id),
                Some(Command::OpenStream {
                    id,
                    server,
                    tls,
                    done,
                }) => self.open_stream(id, server, tls, done),
            }
        }
    }

    // Cold: once per endpoint or connection, kept out of `run`'s loop.
    #[cold]
    #[inline(never)]
    #[cfg_attr(xp2p_device, optimize(size))]
    fn add(
        &mut self,
        id: EndpointId,
        endpoint: SharedEndpoint,
        sockets: Vec<std::net::UdpSocket>,
        direct: Arc<Direct>,
    ) {
        let mut reg = Registered {
            endpoint,
            sockets: Vec::new(),
            deadline: None,
            pending: VecDeque::new(),
            direct,
        };
        for std_sock in sockets {
            let Ok(local) = std_sock.local_addr() else {
                continue;
            };
            if std_sock.set_nonblocking(true).is_err() {
                continue;
            }
            set_buffer_sizes(&std_sock);
            let mut sock = UdpSocket::from_std(std_sock);
            let token = Token(self.next_token);
            self.next_token += 1;
            if self
                .poll
                .registry()
                .register(&mut sock, token, Interest::READABLE)
                .is_ok()
            {
                self.tokens.insert(token, (id, reg.sockets.len()));
                reg.sockets.push(Sock {
                    local,
                    token,
                    sock,
                    blocked: false,
                    gso: true,
                });
            }
        }
        self.endpoints.insert(id, reg);
    }

    // Cold: once per endpoint or connection, kept out of `run`'s loop.
    #[cold]
    #[inline(never)]
    #[cfg_attr(xp2p_device, optimize(size))]
    fn remove(&mut self, id: EndpointId) {
        if let Some(mut reg) = self.endpoints.remove(&id) {
            // Last words (a TURN deallocation, say): sent once, best effort.
            let mut ep = reg.endpoint.lock();
            for _ in 0..MAX_SENDS_PER_TURN {
                let Some(t) = reg.pending.pop_front().or_else(|| ep.poll_transmit()) else {
                    break;
                };
                if let Some(s) = reg.sockets.iter().find(|s| s.local == t.local) {
                    let _ = s.sock.send_to(&t.data, t.dest);
                } else if let Some((_, s)) = self
                    .streams
                    .values_mut()
                    .find(|(e, s)| *e == id && s.link == t.local)
                {
                    let _ = s.send(&t.data);
                }
            }
            drop(ep);
            let mine: Vec<Token> = self
                .streams
                .iter()
                .filter(|(_, (e, _))| *e == id)
                .map(|(t, _)| *t)
                .collect();
            for token in mine {
                if let Some((_, mut s)) = self.streams.remove(&token) {
                    s.close();
                    s.deregister(self.poll.registry());
                    self.unread.remove(&token);
                }
            }
            for s in reg.sockets.iter_mut() {
                let _ = self.poll.registry().deregister(&mut s.sock);
                self.tokens.remove(&s.token);
                self.unread.remove(&s.token);
            }
        }
        self.backlog.remove(&id);
    }

    fn read_socket(&mut self, token: Token, now: Instant) {
        use std::os::fd::AsRawFd;
        let Some(&(id, idx)) = self.tokens.get(&token) else {
            return;
        };
        let Some(reg) = self.endpoints.get(&id) else {
            return;
        };
        let s = &reg.sockets[idx];
        let fd = s.sock.as_raw_fd();
        let mut reads = 0;
        while reads < MAX_READS_PER_TURN {
            match self.recv.recv(fd, MAX_READS_PER_TURN - reads) {
                Ok(n) => {
                    reads += n;
                    let mut ep = reg.endpoint.lock();
                    for i in 0..n {
                        if let (Some(from), data) = self.recv.datagram(i) {
                            ep.handle_datagram(now, s.local, from, data);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if reads >= MAX_READS_PER_TURN {
            // Edge-triggered: no new event comes for what is still queued,
            // so read it next turn ourselves.
            self.unread.insert(token);
        }
        self.backlog.insert(id);
    }

    fn on_writable(&mut self, token: Token) {
        let Some(&(id, idx)) = self.tokens.get(&token) else {
            return;
        };
        let Some(reg) = self.endpoints.get_mut(&id) else {
            return;
        };
        let s = &mut reg.sockets[idx];
        if s.blocked {
            s.blocked = false;
            let _ = self
                .poll
                .registry()
                .reregister(&mut s.sock, token, Interest::READABLE);
        }
        self.backlog.insert(id);
    }

    fn fire_timers(&mut self, now: Instant) {
        let late: Vec<Token> = self
            .streams
            .iter()
            .filter(|(_, (_, s))| s.timed_out(now))
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            self.fail_stream(token, now, StreamFailure::ConnectTimeout);
        }
        for (id, reg) in self.endpoints.iter() {
            if reg.deadline.is_some_and(|d| d <= now) {
                reg.endpoint.lock().handle_timeout(now);
                self.backlog.insert(*id);
            }
        }
    }

    /// Sends up to a turn's budget of what the endpoint has queued (in as
    /// few system calls as the kernel allows: see [`batch::send_batch`]),
    /// posts its events and records its next deadline. Leftover work keeps
    /// it in the backlog; a full socket buffer parks it until writable.
    fn flush(&mut self, id: EndpointId) {
        let Some(reg) = self.endpoints.get_mut(&id) else {
            return;
        };
        let mut ep = reg.endpoint.lock();
        // What an API thread could not send goes first: it left the
        // endpoint before anything the endpoint still holds.
        reg.pending.extend(reg.direct.spill.lock().drain(..));
        let mut out = std::mem::take(&mut self.out);
        let mut taken = 0;
        let mut failed = Vec::new();
        let mut parked = false;
        while taken < MAX_SENDS_PER_TURN {
            let Some(t) = reg.pending.pop_front().or_else(|| ep.poll_transmit()) else {
                break;
            };
            taken += 1;
            if let Some(i) = reg.sockets.iter().position(|s| s.local == t.local) {
                out.push((i, t));
                continue;
            }
            // A TURN server connection, else no such socket (closed
            // meanwhile): nothing to send on.
            let stream = self
                .streams
                .iter_mut()
                .find(|(_, (e, s))| *e == id && s.link == t.local);
            if let Some((token, (_, s))) = stream {
                if let Err(why) = s.send(&t.data) {
                    failed.push((*token, why));
                }
            }
            crate::datagram::recycle(t.data);
        }
        let more = taken == MAX_SENDS_PER_TURN;
        // Runs of transmits from one socket, in order; once a socket's
        // buffer is full, everything not sent yet waits in `pending`.
        let mut k = 0;
        while k < out.len() && !parked {
            let i = out[k].0;
            let end = k + out[k..].iter().take_while(|(j, _)| *j == i).count();
            let s = &mut reg.sockets[i];
            let r = if s.blocked {
                batch::SendResult {
                    done: 0,
                    blocked: true,
                }
            } else {
                use std::os::fd::AsRawFd;
                batch::send_batch(
                    s.sock.as_raw_fd(),
                    &mut s.gso,
                    &out[k..end],
                    |(_, t)| (t.data.as_slice(), t.dest),
                    // EMSGSIZE (a probe larger than the interface allows)
                    // and other errors (unreachable peer, ...) drop the
                    // datagrams, which the protocols above treat as lost.
                    |e, n| {
                        let counter = if e.raw_os_error() == Some(libc::EMSGSIZE) {
                            &TOO_LARGE
                        } else {
                            &SEND_ERRORS
                        };
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        log::debug!(target: "io", "{n} datagram(s) not sent: {e}");
                    },
                )
            };
            if r.blocked {
                if !s.blocked {
                    s.blocked = true;
                    let _ = self.poll.registry().reregister(
                        &mut s.sock,
                        s.token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
                parked = true;
                k += r.done;
            } else {
                k = end;
            }
        }
        if parked {
            // Unsent transmits go back in front of what the endpoint still
            // holds, in their order.
            for (_, t) in out.drain(k..).rev() {
                reg.pending.push_front(t);
            }
        }
        // The kernel has the sent datagrams: their buffers serve the next.
        crate::datagram::recycle_all(out.drain(..).map(|(_, t)| t.data));
        self.out = out;
        reg.deadline = ep.poll_timeout();
        *reg.direct.deadline.lock() = reg.deadline;
        reg.direct
            .held
            .store(!reg.pending.is_empty(), Ordering::Release);
        ep.dispatch_events();
        drop(ep);
        if more && !parked {
            self.backlog.insert(id);
        }
        let now = super::clock::now();
        for (token, why) in failed {
            self.fail_stream(token, now, why);
        }
    }

    /// Starts a TURN server connection for endpoint `id` and tells the
    /// opener its link; the endpoint is flushed after, so what it queued
    /// for the link waits in the stream.
    // Cold: once per endpoint or connection, kept out of `run`'s loop.
    #[cold]
    #[inline(never)]
    #[cfg_attr(xp2p_device, optimize(size))]
    fn open_stream(
        &mut self,
        id: EndpointId,
        server: SocketAddr,
        tls: Option<Box<TlsClient>>,
        done: OnOpen,
    ) {
        if !self.endpoints.contains_key(&id) {
            done(Err(StreamFailure::ConnectFailed));
            return;
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        let now = super::clock::now();
        match TurnStream::open(self.poll.registry(), token, server, tls, now) {
            Ok(s) => {
                let link = s.link;
                self.streams.insert(token, (id, s));
                done(Ok(link));
            }
            Err(_) => done(Err(StreamFailure::ConnectFailed)),
        }
        self.backlog.insert(id);
    }

    /// Connects, writes, reads and delivers what a TURN server connection
    /// has; a failure ends it. Not inlined (TURN over TCP or TLS only).
    #[inline(never)]
    fn service_stream(&mut self, token: Token, now: Instant) {
        let Some((id, s)) = self.streams.get_mut(&token) else {
            return;
        };
        let id = *id;
        let mut msgs = Vec::new();
        let r = s.on_ready(&mut msgs, &mut self.buf);
        let (link, server) = (s.link, s.server);
        if !msgs.is_empty() {
            if let Some(reg) = self.endpoints.get(&id) {
                let mut ep = reg.endpoint.lock();
                for m in &msgs {
                    ep.handle_datagram(now, link, server, m);
                }
            }
        }
        match r {
            Ok(true) => {
                self.unread.insert(token);
            }
            Ok(false) => {}
            Err(why) => self.fail_stream(token, now, why),
        }
        self.backlog.insert(id);
    }

    /// Closes a TURN server connection that failed and tells its endpoint.
    #[cold]
    #[inline(never)]
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fail_stream(&mut self, token: Token, now: Instant, why: StreamFailure) {
        let Some((id, mut s)) = self.streams.remove(&token) else {
            return;
        };
        s.deregister(self.poll.registry());
        self.unread.remove(&token);
        if let Some(reg) = self.endpoints.get(&id) {
            reg.endpoint.lock().handle_link_failed(now, s.link, why);
        }
        self.backlog.insert(id);
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Asks for large socket buffers so bursts are not dropped by the kernel.
fn set_buffer_sizes(sock: &std::net::UdpSocket) {
    use std::os::fd::AsRawFd;
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: setsockopt with a valid fd and an int option value.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&SOCKET_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Echoes every datagram and counts one timeout 20 ms after each echo.
    struct Echo {
        out: VecDeque<Transmit>,
        deadline: Option<Instant>,
        timeouts: Arc<AtomicUsize>,
        dispatched: Arc<AtomicUsize>,
    }

    impl Endpoint for Echo {
        fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, d: &[u8]) {
            self.out.push_back(Transmit {
                local,
                dest: from,
                data: d.to_vec(),
            });
            self.deadline = Some(now + Duration::from_millis(20));
        }
        fn handle_timeout(&mut self, _now: Instant) {
            self.deadline = None;
            self.timeouts.fetch_add(1, Ordering::SeqCst);
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.out.pop_front()
        }
        fn poll_timeout(&mut self) -> Option<Instant> {
            self.deadline
        }
        fn dispatch_events(&mut self) {
            self.dispatched.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn thread_drives_sockets_and_timers_and_stops_with_last_endpoint() {
        let timeouts = Arc::new(AtomicUsize::new(0));
        let dispatched = Arc::new(AtomicUsize::new(0));
        let echo = Arc::new(Mutex::new(Echo {
            out: VecDeque::new(),
            deadline: None,
            timeouts: timeouts.clone(),
            dispatched: dispatched.clone(),
        }));
        let ep: SharedEndpoint = echo.clone();
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        let id = register(ep, vec![server]).unwrap();
        assert!(is_running());

        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 64];
        for i in 0..100u8 {
            client.send_to(&[i; 10], server_addr).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((n, from), (10, server_addr));
            assert_eq!(buf[..n], [i; 10]);
        }
        // The 20 ms timer after the last echo fires on the I/O thread.
        for _ in 0..200 {
            if timeouts.load(Ordering::SeqCst) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(timeouts.load(Ordering::SeqCst) >= 1);
        assert!(dispatched.load(Ordering::SeqCst) >= 100);

        // `send_now`: the API thread, holding the endpoint's lock (so the
        // I/O thread cannot send for it meanwhile), sends its datagram
        // itself; it arrives before the lock is released.
        {
            let mut guard = echo.lock();
            guard.out.push_back(Transmit {
                local: server_addr,
                dest: client.local_addr().unwrap(),
                data: b"direct".to_vec(),
            });
            let _ = send_now(&direct(id).unwrap(), &mut *guard);
            assert!(guard.out.is_empty(), "the datagram left the endpoint");
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"direct"[..], server_addr));
        }
        // A datagram for a socket the endpoint does not have waits for the
        // I/O thread, which sends it first; `send_now` says so.
        {
            let mut guard = echo.lock();
            guard.out.push_back(Transmit {
                local: "127.0.0.1:9".parse().unwrap(),
                dest: client.local_addr().unwrap(),
                data: b"nowhere".to_vec(),
            });
            assert!(!send_now(&direct(id).unwrap(), &mut *guard));
        }

        unregister(id);
        assert!(!is_running(), "the last unregister stops the thread");
        client
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let _ = client.send_to(b"gone", server_addr);
        assert!(
            client.recv_from(&mut buf).is_err(),
            "the socket closed with its endpoint: nothing echoes"
        );
    }
}
