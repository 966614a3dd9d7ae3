//! Multicast DNS (RFC 6762) resolution of `.local` names, sans-IO.
//!
//! Browsers hide their host addresses behind random `<uuid>.local` names
//! in ICE candidates and answer mDNS queries for them on the local link.
//! This module builds the queries (one question each, A or AAAA: Chromium's
//! responder reads only the first question of a query), parses responses
//! (name compression included; every malformed packet is an error, never a
//! panic) and runs the lookups: [`Resolver`] sends a query for A and one for
//! AAAA, repeats them every second, and gives up after five seconds. Answers
//! from the answer and additional sections both count (Chromium answers an
//! AAAA query for an IPv4-only name with an NSEC record and the A record as
//! additional data). TTLs are ignored beyond the lookup: a resolved name
//! stays cached in its resolver, which lives as long as its PeerConnection.
//!
//! The driver (`driver::mdns`) owns the sockets: it sends what
//! [`Resolver::poll_transmit`] returns to 224.0.0.251:5353 and feeds every
//! datagram received on port 5353 to [`Resolver::handle_datagram`].

mod candidates;

pub use candidates::{PendingCandidates, Released};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The mDNS port.
pub const PORT: u16 = 5353;
/// The IPv4 mDNS group, 224.0.0.251.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The IPv6 mDNS group, ff02::fb.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
/// Where queries go over IPv4.
pub const DEST_V4: SocketAddr = SocketAddr::new(IpAddr::V4(GROUP_V4), PORT);

/// DNS record type A.
pub const TYPE_A: u16 = 1;
/// DNS record type AAAA.
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;
/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed per name before giving up.
const MAX_POINTERS: usize = 32;

/// What is wrong with a name or a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MdnsError {
    /// The packet ends inside a header, name or record.
    Truncated,
    /// The packet is a query, or a response of another opcode or with a
    /// non-zero response code (RFC 6762 §18: ignored).
    NotAResponse,
    /// A label type other than plain or pointer, a pointer that does not
    /// point backwards, or too many pointers.
    BadName,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// The name to look up is not a valid `.local` host name.
    InvalidName,
    /// Too many lookups running at once.
    TooManyLookups,
}

impl fmt::Display for MdnsError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MdnsError::Truncated => "truncated packet",
            MdnsError::NotAResponse => "not an mDNS response",
            MdnsError::BadName => "malformed name",
            MdnsError::NameTooLong => "name too long",
            MdnsError::InvalidName => "not a .local host name",
            MdnsError::TooManyLookups => "too many lookups",
        })
    }
}

impl std::error::Error for MdnsError {}

/// Whether `name` is a host name under `.local` that a query can carry:
/// LDH labels of 1 to 63 bytes, at most 253 bytes in all.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let lower = name.to_ascii_lowercase();
    let Some(stem) = lower.strip_suffix(".local") else {
        return false;
    };
    name.len() <= 253
        && !stem.is_empty()
        && stem.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The form names are compared in: lower case, no trailing dot.
#[cfg_attr(xp2p_device, optimize(size))]
fn canonical(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Encodes a one-question query for `name` (a `.local` host name) and
/// record type `qtype` ([`TYPE_A`] or [`TYPE_AAAA`]), class IN, asking for a
/// multicast answer. The ID is 0, as RFC 6762 §18.1 asks for multicast
/// queries.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn encode_query(name: &str, qtype: u16) -> Result<Vec<u8>, MdnsError> {
    if !is_local_name(name) {
        return Err(MdnsError::InvalidName);
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// One address record of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    /// The owner name, lower case, labels joined with `.`, no trailing dot.
    /// Bytes other than printable ASCII (which no `.local` host name has)
    /// read as `?`.
    pub name: String,
    pub addr: IpAddr,
    /// Seconds; 0 is a goodbye (the record is withdrawn).
    pub ttl: u32,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MdnsError> {
        let end = self.pos.checked_add(n).ok_or(MdnsError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(MdnsError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn u16(&mut self) -> Result<u16, MdnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn u32(&mut self) -> Result<u32, MdnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a possibly compressed name at the cursor; the cursor ends
    /// after its in-place part.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn name(&mut self) -> Result<String, MdnsError> {
        let data = self.data;
        let mut out = String::new();
        let mut wire_len = 1; // the root label
        let mut pos = self.pos;
        let mut resume: Option<usize> = None;
        let mut pointers = 0;
        // A pointer must go strictly before the start of the name part
        // that holds it, so every jump goes backwards and the walk ends.
        let mut limit = self.pos;
        loop {
            let len = *data.get(pos).ok_or(MdnsError::Truncated)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    pos += 1;
                    break;
                }
                0x00 => {
                    let len = usize::from(len);
                    let label = data
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(MdnsError::Truncated)?;
                    wire_len += len + 1;
                    if wire_len > MAX_NAME_LEN {
                        return Err(MdnsError::NameTooLong);
                    }
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.extend(label.iter().map(|&b| match b {
                        b'A'..=b'Z' => char::from(b.to_ascii_lowercase()),
                        0x21..=0x7e if b != b'.' => char::from(b),
                        _ => '?',
                    }));
                    pos += 1 + len;
                }
                0xc0 => {
                    let lo = *data.get(pos + 1).ok_or(MdnsError::Truncated)?;
                    let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                    pointers += 1;
                    if target >= limit || pointers > MAX_POINTERS {
                        return Err(MdnsError::BadName);
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    limit = target;
                    pos = target;
                }
                _ => return Err(MdnsError::BadName),
            }
        }
        self.pos = resume.unwrap_or(pos);
        Ok(out)
    }
}

/// Parses an mDNS response and returns its A and AAAA records (class IN,
/// cache-flush bit ignored) from the answer, authority and additional
/// sections; other records are skipped. Queries, other opcodes and
/// non-zero response codes are [`MdnsError::NotAResponse`]; any structural
/// fault is an error (never a panic). An A or AAAA record whose data has
/// the wrong length is skipped.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn parse_response(data: &[u8]) -> Result<Vec<AddressRecord>, MdnsError> {
    let mut r = Reader { data, pos: 0 };
    let _id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 || (flags >> 11) & 0xf != 0 || flags & 0xf != 0 {
        return Err(MdnsError::NotAResponse);
    }
    let qd = r.u16()?;
    let records = [r.u16()?, r.u16()?, r.u16()?]
        .iter()
        .map(|&n| usize::from(n))
        .sum::<usize>();
    for _ in 0..qd {
        r.name()?;
        r.take(4)?;
    }
    let mut out = Vec::new();
    for _ in 0..records {
        let name = r.name()?;
        let rtype = r.u16()?;
        let class = r.u16()? & 0x7fff;
        let ttl = r.u32()?;
        let len = usize::from(r.u16()?);
        let rdata = r.take(len)?;
        if class != CLASS_IN {
            continue;
        }
        let addr = match (rtype, rdata.len()) {
            (TYPE_A, 4) => IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => continue,
        };
        out.push(AddressRecord { name, addr, ttl });
    }
    Ok(out)
}

/// Timing and limits of a [`Resolver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// A lookup without an answer this long after it started fails.
    pub timeout: Duration,
    /// Queries are sent again at this interval until answered.
    pub retry_interval: Duration,
    /// Lookups running at once; more are refused.
    pub max_lookups: usize,
    /// Resolved names kept; the oldest goes first beyond it.
    pub max_cached: usize,
}

impl Default for ResolverConfig {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        ResolverConfig {
            timeout: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
            max_lookups: 64,
            max_cached: 256,
        }
    }
}

/// The outcome of a lookup: the address, or `None` after the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The name as asked (canonical form: lower case, no trailing dot).
    pub name: String,
    pub addr: Option<IpAddr>,
}

/// Counters of a [`Resolver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResolverStats {
    pub queries_sent: u64,
    pub resolved: u64,
    pub timed_out: u64,
    /// Received packets that did not parse as a response.
    pub malformed: u64,
    /// Address records for names nobody asked about (other hosts' traffic).
    pub unmatched: u64,
    /// Lookups answered from the cache.
    pub cache_hits: u64,
}

struct Lookup {
    name: String,
    deadline: Instant,
    next_send: Instant,
}

/// One-shot lookups of `.local` names with retries, a timeout and a cache.
pub struct Resolver {
    cfg: ResolverConfig,
    lookups: Vec<Lookup>,
    cache: HashMap<String, IpAddr>,
    cache_order: VecDeque<String>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Resolution>,
    stats: ResolverStats,
}

impl Default for Resolver {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn default() -> Self {
        Resolver::new(ResolverConfig::default())
    }
}

impl Resolver {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(cfg: ResolverConfig) -> Self {
        Resolver {
            cfg,
            lookups: Vec::new(),
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: ResolverStats::default(),
        }
    }

    /// Starts looking `name` up. A cached name resolves at once (the
    /// [`Resolution`] is ready from [`Resolver::poll_event`]); a name
    /// already being looked up is not asked twice (one resolution comes).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn resolve(&mut self, now: Instant, name: &str) -> Result<(), MdnsError> {
        if !is_local_name(name) {
            return Err(MdnsError::InvalidName);
        }
        let name = canonical(name);
        if let Some(&addr) = self.cache.get(&name) {
            self.stats.cache_hits += 1;
            self.events.push_back(Resolution {
                name,
                addr: Some(addr),
            });
            return Ok(());
        }
        if self.lookups.iter().any(|l| l.name == name) {
            return Ok(());
        }
        if self.lookups.len() >= self.cfg.max_lookups {
            return Err(MdnsError::TooManyLookups);
        }
        self.lookups.push(Lookup {
            name,
            deadline: now + self.cfg.timeout,
            next_send: now,
        });
        self.handle_timeout(now);
        Ok(())
    }

    /// The resolved address of `name`, if cached.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn cached(&self, name: &str) -> Option<IpAddr> {
        self.cache.get(&canonical(name)).copied()
    }

    /// Feeds a datagram received on the mDNS port. Anything that is not a
    /// well-formed response is counted and dropped.
    pub fn handle_datagram(&mut self, _now: Instant, data: &[u8]) {
        let records = match parse_response(data) {
            Ok(r) => r,
            Err(MdnsError::NotAResponse) => return, // queries of other hosts
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        for rec in records {
            if rec.ttl == 0 {
                continue; // a goodbye: nothing to learn
            }
            let Some(i) = self.lookups.iter().position(|l| l.name == rec.name) else {
                self.stats.unmatched += 1;
                continue;
            };
            let lookup = self.lookups.swap_remove(i);
            self.stats.resolved += 1;
            self.remember(&lookup.name, rec.addr);
            self.events.push_back(Resolution {
                name: lookup.name,
                addr: Some(rec.addr),
            });
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn remember(&mut self, name: &str, addr: IpAddr) {
        if self.cache.insert(name.to_owned(), addr).is_none() {
            self.cache_order.push_back(name.to_owned());
            while self.cache_order.len() > self.cfg.max_cached {
                if let Some(old) = self.cache_order.pop_front() {
                    self.cache.remove(&old);
                }
            }
        }
    }

    /// Sends due queries again and fails lookups past their deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.lookups.len() {
            let l = &mut self.lookups[i];
            if now >= l.deadline {
                let l = self.lookups.swap_remove(i);
                self.stats.timed_out += 1;
                self.events.push_back(Resolution {
                    name: l.name,
                    addr: None,
                });
                continue;
            }
            if now >= l.next_send {
                l.next_send = now + self.cfg.retry_interval;
                for qtype in [TYPE_A, TYPE_AAAA] {
                    if let Ok(q) = encode_query(&l.name, qtype) {
                        self.out.push_back(q);
                        self.stats.queries_sent += 1;
                    }
                }
            }
            i += 1;
        }
    }

    /// The next query to send to the mDNS group.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next resolution (or failure).
    pub fn poll_event(&mut self) -> Option<Resolution> {
        self.events.pop_front()
    }

    /// When [`Resolver::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lookups
            .iter()
            .map(|l| l.next_send.min(l.deadline))
            .min()
    }

    /// Lookups still running.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn pending(&self) -> usize {
        self.lookups.len()
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn stats(&self) -> ResolverStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = encode_query("Ab-1.local", TYPE_AAAA).unwrap();
        assert_eq!(&q[..12], &[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], b"\x04Ab-1\x05local\x00\x00\x1c\x00\x01");
        assert_eq!(
            encode_query("x.example", TYPE_A),
            Err(MdnsError::InvalidName)
        );
        assert_eq!(encode_query(".local", TYPE_A), Err(MdnsError::InvalidName));
    }
}
