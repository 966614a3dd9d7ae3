//! TURN over TCP and TLS on the I/O thread (RFC 8656 §3.1, RFC 6062 framing).
//!
//! One [`TurnStream`] is a non-blocking TCP connection to a TURN server,
//! opened by the I/O thread for an endpoint. Its local address is the
//! relay's *link*: the agent sends the server's messages "from" it and gets
//! the server's messages "on" it, whole, exactly as over UDP. Outgoing
//! messages are framed ([`encode_frame`]) and, for `turns:`, encrypted by
//! the sans-IO [`TlsClient`]; incoming bytes go through the
//! [`FrameDecoder`] (or the TLS client) back into whole messages. Anything
//! that ends the connection (refused, not connected and handshaken within
//! [`CONNECT_TIMEOUT`], reset, closed, a refused certificate, bytes that
//! are not TURN framing) is one [`StreamFailure`] for the endpoint.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::turn::stream::{encode_frame, FrameDecoder, StreamFailure, MAX_FEED};
use crate::turn::tls::{TlsClient, TlsState};

/// Time to connect (and finish the TLS handshake) before the relay fails:
/// a few round trips on a slow path, a slow handshake on a loaded device.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Unsent bytes beyond which further messages are dropped (as a full UDP
/// socket buffer would); whole messages only, so the framing stays intact.
const MAX_UNSENT: usize = 4 << 20;

/// Reads of one stream per loop turn before others get a turn.
const MAX_READS_PER_TURN: usize = 16;

/// What the opener learns: the link (the connection's local address), or
/// why no connection could even be started.
pub type OnOpen = Box<dyn FnOnce(Result<SocketAddr, StreamFailure>) + Send>;

enum Codec {
    Tcp(FrameDecoder),
    Tls(Box<TlsClient>),
}

/// One connection to a TURN server. See the module docs.
pub struct TurnStream {
    /// The connection's local address, which names it to the agent.
    pub link: SocketAddr,
    pub server: SocketAddr,
    sock: TcpStream,
    codec: Codec,
    /// Bytes to write, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    tcp_connected: bool,
    /// Until connected (and, over TLS, handshaken).
    deadline: Option<Instant>,
    /// Messages dropped on a full send buffer.
    pub dropped: u64,
}

impl TurnStream {
    /// Starts connecting to `server` (TLS when `tls` is given) and
    /// registers the socket for readiness under `token`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn open(
        registry: &Registry,
        token: Token,
        server: SocketAddr,
        tls: Option<Box<TlsClient>>,
        now: Instant,
    ) -> io::Result<TurnStream> {
        let mut sock = TcpStream::connect(server)?;
        let link = sock.local_addr()?;
        let _ = sock.set_nodelay(true);
        registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
        let mut s = TurnStream {
            link,
            server,
            sock,
            codec: match tls {
                Some(t) => Codec::Tls(t),
                None => Codec::Tcp(FrameDecoder::new()),
            },
            out: Vec::new(),
            sent: 0,
            tcp_connected: false,
            deadline: Some(now + CONNECT_TIMEOUT),
            dropped: 0,
        };
        s.take_ciphertext(); // the ClientHello
        Ok(s)
    }

    /// Stops readiness events (before the stream is dropped).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.sock);
    }

    /// The connect (and handshake) deadline while it runs.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the connect deadline has passed.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn timed_out(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| d <= now)
    }

    /// Queues one whole STUN or ChannelData message for the server and
    /// writes what the socket takes.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), StreamFailure> {
        if self.out.len() - self.sent > MAX_UNSENT {
            self.dropped += 1;
            return Ok(());
        }
        match &mut self.codec {
            Codec::Tcp(_) => {
                if encode_frame(msg, &mut self.out).is_err() {
                    // Not a TURN message: nothing the server could read.
                    self.dropped += 1;
                    return Ok(());
                }
            }
            Codec::Tls(t) => {
                if let Err(e) = t.send(msg) {
                    return Err(e.failure());
                }
                self.take_ciphertext();
            }
        }
        self.write()
    }

    /// Handles readiness: completes the connect, writes what waits, reads
    /// and decodes. Whole messages from the server are appended to `msgs`.
    /// `Ok(true)` when reads were cut short by the per-turn budget (call
    /// again next turn).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn on_ready(
        &mut self,
        msgs: &mut Vec<Vec<u8>>,
        buf: &mut [u8],
    ) -> Result<bool, StreamFailure> {
        if !self.tcp_connected {
            match self.sock.take_error() {
                Ok(None) => {}
                _ => return Err(StreamFailure::ConnectFailed),
            }
            match self.sock.peer_addr() {
                Ok(_) => {
                    self.tcp_connected = true;
                    if matches!(self.codec, Codec::Tcp(_)) {
                        self.deadline = None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(_) => return Err(StreamFailure::ConnectFailed),
            }
        }
        self.write()?;
        let chunk = buf.len().min(MAX_FEED);
        for _ in 0..MAX_READS_PER_TURN {
            match self.sock.read(&mut buf[..chunk]) {
                Ok(0) => return Err(StreamFailure::Closed),
                Ok(n) => self.decode(&buf[..n], msgs)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(StreamFailure::Closed),
            }
        }
        Ok(true)
    }

    /// Best-effort goodbye: writes what is queued (the deallocation), a TLS
    /// close_notify, and shuts the sending side; the socket closes when the
    /// stream is dropped.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn close(&mut self) {
        if let Codec::Tls(t) = &mut self.codec {
            t.close();
            self.take_ciphertext();
        }
        let _ = self.write();
        // Unread bytes at close would make the kernel reset the connection
        // and discard what is still queued: read them first.
        let mut buf = [0u8; 4096];
        while matches!(self.sock.read(&mut buf), Ok(n) if n > 0) {}
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn decode(&mut self, data: &[u8], msgs: &mut Vec<Vec<u8>>) -> Result<(), StreamFailure> {
        match &mut self.codec {
            Codec::Tcp(d) => {
                d.feed(data).map_err(|_| StreamFailure::Framing)?;
                while let Some(m) = d.poll().map_err(|_| StreamFailure::Framing)? {
                    msgs.push(m);
                }
            }
            Codec::Tls(t) => {
                t.feed_ciphertext(data).map_err(|e| e.failure())?;
                while let Some(m) = t.poll_message() {
                    msgs.push(m);
                }
                match t.state() {
                    TlsState::Established => self.deadline = None,
                    TlsState::Closed => return Err(StreamFailure::Closed),
                    TlsState::Handshaking | TlsState::Failed => {}
                }
                self.take_ciphertext();
                self.write()?;
            }
        }
        Ok(())
    }

    /// Moves the TLS client's output to the send buffer.
    fn take_ciphertext(&mut self) {
        if let Codec::Tls(t) = &mut self.codec {
            while let Some(c) = t.poll_ciphertext() {
                self.out.extend_from_slice(&c);
            }
        }
    }

    fn write(&mut self) -> Result<(), StreamFailure> {
        if !self.tcp_connected {
            return Ok(());
        }
        while self.sent < self.out.len() {
            match self.sock.write(&self.out[self.sent..]) {
                Ok(0) => return Err(StreamFailure::Closed),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(StreamFailure::Closed),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > MAX_UNSENT {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}
