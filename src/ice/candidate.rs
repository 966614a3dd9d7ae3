//! ICE candidates (RFC 8445 §5.1): priorities, foundations and the SDP
//! candidate attribute (RFC 8839 §5.1), read as real peers write it.
//!
//! A candidate line is
//! `candidate:<foundation> <component> <transport> <priority> <address> <port>
//! typ <type> [raddr <address> rport <port>] *(<name> <value>)`, with or
//! without the `a=` prefix. Addresses are IPv4 or IPv6 literals, or mDNS
//! hostnames (`<uuid>.local`, RFC 8839 §5.1 / draft-ietf-mmusic-mdns-ice-candidates)
//! which are kept as names for the agent to resolve. TCP candidates (RFC 6544)
//! parse, with their `tcptype`, so that callers can count and skip them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::IceError;

/// Type preference of host candidates (RFC 8445 §5.1.2.2).
pub const TYPE_PREF_HOST: u32 = 126;
/// Type preference of peer-reflexive candidates.
pub const TYPE_PREF_PRFLX: u32 = 110;
/// Type preference of server-reflexive candidates.
pub const TYPE_PREF_SRFLX: u32 = 100;
/// Type preference of relayed candidates (xKit uses 0, the lowest).
pub const TYPE_PREF_RELAY: u32 = 0;

/// Longest foundation RFC 8445 allows (1 to 32 `ice-char`s).
pub const MAX_FOUNDATION_LEN: usize = 32;

/// The candidate type (`typ` in SDP). The discriminants are the C
/// `xIceCandidateType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    Host = 0,
    Srflx = 1,
    Prflx = 2,
    Relay = 3,
}

impl CandidateKind {
    /// All four types, in C enum order.
    pub const ALL: [CandidateKind; 4] = [
        CandidateKind::Host,
        CandidateKind::Srflx,
        CandidateKind::Prflx,
        CandidateKind::Relay,
    ];

    /// The SDP token: `host`, `srflx`, `prflx` or `relay`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::Srflx => "srflx",
            CandidateKind::Prflx => "prflx",
            CandidateKind::Relay => "relay",
        }
    }

    /// The type preference: host 126, prflx 110, srflx 100, relay 0.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => TYPE_PREF_HOST,
            CandidateKind::Srflx => TYPE_PREF_SRFLX,
            CandidateKind::Prflx => TYPE_PREF_PRFLX,
            CandidateKind::Relay => TYPE_PREF_RELAY,
        }
    }

    /// The C enum value (0–3).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type of a C enum value, `None` outside 0–3.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(CandidateKind::Host),
            1 => Some(CandidateKind::Srflx),
            2 => Some(CandidateKind::Prflx),
            3 => Some(CandidateKind::Relay),
            _ => None,
        }
    }

    /// The candidate priority of this type (see [`candidate_priority`]).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn priority(self, local_pref: u16, component: u16) -> u32 {
        candidate_priority(self.type_preference(), local_pref, i32::from(component))
    }
}

impl fmt::Display for CandidateKind {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CandidateKind {
    type Err = IceError;

    /// Exact lowercase tokens only, as RFC 8839 writes them.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_str(s: &str) -> Result<Self, IceError> {
        match s {
            "host" => Ok(CandidateKind::Host),
            "srflx" => Ok(CandidateKind::Srflx),
            "prflx" => Ok(CandidateKind::Prflx),
            "relay" => Ok(CandidateKind::Relay),
            _ => Err(IceError::InvalidField("type")),
        }
    }
}

/// `(type_pref << 24) | (local_pref << 8) | (256 − component)` (RFC 8445
/// §5.1.2.1), computed with 32-bit wrap-around exactly as the C API does, so
/// out-of-range inputs give the same bits there and here.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn candidate_priority(type_pref: u32, local_pref: u16, component: i32) -> u32 {
    (type_pref << 24) | (u32::from(local_pref) << 8) | (256i32.wrapping_sub(component) as u32)
}

/// The foundation as decimal text: CRC-32 over the type byte, the base
/// address bytes (4 or 16) and, when the candidate came from a STUN or TURN
/// server, that server's address bytes and port (big-endian). Candidates of
/// the same type, base and server share a foundation.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn foundation_from_parts(
    type_byte: u8,
    base: Option<IpAddr>,
    server: Option<SocketAddr>,
) -> String {
    let base_bytes = base.map(ip_bytes);
    let server_bytes = server.map(|s| (ip_bytes(s.ip()), s.port().to_be_bytes()));
    let mut parts: Vec<&[u8]> = vec![std::slice::from_ref(&type_byte)];
    if let Some(b) = &base_bytes {
        parts.push(b.as_slice());
    }
    if let Some((ip, port)) = &server_bytes {
        parts.push(ip.as_slice());
        parts.push(port.as_slice());
    }
    crate::crypto::crc32_parts(&parts).to_string()
}

#[cfg_attr(xp2p_device, optimize(size))]
fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The transport of a candidate. Only UDP candidates are used by this stack;
/// TCP ones (RFC 6544) are parsed so they can be recognised and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

impl fmt::Display for Transport {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = IceError;

    /// `UDP` or `TCP` in any letter case (Chromium writes `udp`).
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_str(s: &str) -> Result<Self, IceError> {
        if s.eq_ignore_ascii_case("udp") {
            Ok(Transport::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Ok(Transport::Tcp)
        } else {
            Err(IceError::InvalidField("transport"))
        }
    }
}

/// The `tcptype` of a TCP candidate (RFC 6544 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpType {
    Active,
    Passive,
    So,
}

impl TcpType {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::So => "so",
        }
    }
}

impl fmt::Display for TcpType {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TcpType {
    type Err = IceError;

    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_str(s: &str) -> Result<Self, IceError> {
        match s {
            "active" => Ok(TcpType::Active),
            "passive" => Ok(TcpType::Passive),
            "so" => Ok(TcpType::So),
            _ => Err(IceError::InvalidField("tcptype")),
        }
    }
}

/// Where a candidate is: an IP address and port, or an mDNS hostname
/// (`<uuid>.local`) and port that the agent resolves before use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateAddress {
    Ip(SocketAddr),
    Mdns { hostname: String, port: u16 },
}

impl CandidateAddress {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn port(&self) -> u16 {
        match self {
            CandidateAddress::Ip(a) => a.port(),
            CandidateAddress::Mdns { port, .. } => *port,
        }
    }

    /// The socket address, `None` for an unresolved mDNS name.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            CandidateAddress::Ip(a) => Some(*a),
            CandidateAddress::Mdns { .. } => None,
        }
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn is_mdns(&self) -> bool {
        matches!(self, CandidateAddress::Mdns { .. })
    }

    /// Why a remote candidate at this address can never be reached, as
    /// browsers judge it: port 0, or an unspecified (`0.0.0.0`, `::`),
    /// broadcast (`255.255.255.255`) or multicast address (IPv4-mapped
    /// IPv6 forms included). `None` when it may work.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn unreachable_reason(&self) -> Option<&'static str> {
        if self.port() == 0 {
            return Some("port");
        }
        let CandidateAddress::Ip(a) = self else {
            return None;
        };
        let ip = a.ip().to_canonical();
        let bad = ip.is_unspecified()
            || ip.is_multicast()
            || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        bad.then_some("address")
    }

    /// Parses the address token of a candidate line (an IP literal, IPv6
    /// optionally in brackets, or an mDNS `.local` name) with its port.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(host: &str, port: u16) -> Result<Self, IceError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(CandidateAddress::Ip(SocketAddr::new(ip, port)));
        }
        if is_mdns_hostname(host) {
            return Ok(CandidateAddress::Mdns {
                hostname: host.to_string(),
                port,
            });
        }
        Err(IceError::InvalidField("address"))
    }

    /// The host part as written in SDP (IPv6 without brackets).
    fn write_host(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateAddress::Ip(a) => write!(f, "{}", a.ip()),
            CandidateAddress::Mdns { hostname, .. } => f.write_str(hostname),
        }
    }
}

impl From<SocketAddr> for CandidateAddress {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(a: SocketAddr) -> Self {
        CandidateAddress::Ip(a)
    }
}

/// A DNS name under `.local` made of letters, digits, `-` and `.` labels.
#[cfg_attr(xp2p_device, optimize(size))]
fn is_mdns_hostname(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let Some(stem) = lower.strip_suffix(".local") else {
        return false;
    };
    name.len() <= 253
        && !stem.is_empty()
        && stem.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// One ICE candidate as exchanged in SDP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// 1 to 32 visible characters (RFC 8445 allows `ALPHA / DIGIT / + /`;
    /// other visible characters are tolerated on input).
    pub foundation: String,
    /// 1 to 256 (1 = RTP, the only component a data channel uses).
    pub component: u16,
    pub transport: Transport,
    pub priority: u32,
    pub kind: CandidateKind,
    pub address: CandidateAddress,
    /// `raddr`/`rport`: the base or mapped address a reflexive or relayed
    /// candidate was derived from (browsers may write `0.0.0.0 0`).
    pub related: Option<CandidateAddress>,
    /// `tcptype` of a TCP candidate.
    pub tcp_type: Option<TcpType>,
    /// The remaining `name value` extension pairs, in order (for example
    /// `generation 0`, `ufrag …`, `network-id 1`, `network-cost 10`).
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    /// A host candidate on `addr`; its base is `addr` itself.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn host(addr: SocketAddr, component: u16, local_pref: u16) -> Self {
        Self::build(
            CandidateKind::Host,
            addr,
            addr.ip(),
            None,
            None,
            component,
            local_pref,
        )
    }

    /// A server-reflexive candidate: `mapped` as seen by the STUN `server`
    /// from the local `base`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn srflx(
        mapped: SocketAddr,
        base: SocketAddr,
        server: SocketAddr,
        component: u16,
        local_pref: u16,
    ) -> Self {
        let kind = CandidateKind::Srflx;
        Self::build(
            kind,
            mapped,
            base.ip(),
            Some(base),
            Some(server),
            component,
            local_pref,
        )
    }

    /// A peer-reflexive candidate learned from a check that arrived from
    /// `addr` on the local `base`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn prflx(addr: SocketAddr, base: SocketAddr, component: u16, local_pref: u16) -> Self {
        let kind = CandidateKind::Prflx;
        Self::build(
            kind,
            addr,
            base.ip(),
            Some(base),
            None,
            component,
            local_pref,
        )
    }

    /// A relayed candidate allocated on the TURN `server`; `mapped` is the
    /// server-reflexive address the server reported (the related address).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn relay(
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: SocketAddr,
        component: u16,
        local_pref: u16,
    ) -> Self {
        let kind = CandidateKind::Relay;
        Self::build(
            kind,
            relayed,
            relayed.ip(),
            Some(mapped),
            Some(server),
            component,
            local_pref,
        )
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn build(
        kind: CandidateKind,
        addr: SocketAddr,
        base: IpAddr,
        related: Option<SocketAddr>,
        server: Option<SocketAddr>,
        component: u16,
        local_pref: u16,
    ) -> Self {
        Candidate {
            foundation: foundation_from_parts(kind.code(), Some(base), server),
            component,
            transport: Transport::Udp,
            priority: kind.priority(local_pref, component),
            kind,
            address: CandidateAddress::Ip(addr),
            related: related.map(CandidateAddress::Ip),
            tcp_type: None,
            extensions: Vec::new(),
        }
    }

    /// Parses a candidate line: `a=candidate:…`, `candidate:…` or the bare
    /// attribute value. Surrounding ASCII whitespace and line ends are
    /// ignored; tokens are separated by ASCII whitespace. Other characters
    /// (vertical tab, no-break space) are part of a token, at the ends of
    /// the line too, so that whatever parses formats to a line that parses
    /// back to the same candidate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(line: &str) -> Result<Self, IceError> {
        let s = line.trim_matches(|c: char| c.is_ascii_whitespace());
        let s = s
            .strip_prefix("a=candidate:")
            .or_else(|| s.strip_prefix("candidate:"))
            .unwrap_or(s);
        let mut tok = s.split_ascii_whitespace();
        let mut next = |what: &'static str| tok.next().ok_or(IceError::InvalidField(what));

        let foundation = next("foundation")?;
        if foundation.len() > MAX_FOUNDATION_LEN
            || !foundation.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(IceError::InvalidField("foundation"));
        }
        let component = parse_digits(next("component")?, 3, "component")?;
        if !(1..=256).contains(&component) {
            return Err(IceError::InvalidField("component"));
        }
        let transport: Transport = next("transport")?.parse()?;
        let priority = parse_digits(next("priority")?, 10, "priority")?;
        let priority = u32::try_from(priority).map_err(|_| IceError::InvalidField("priority"))?;
        let host = next("address")?;
        let port = parse_port(next("port")?)?;
        let address = CandidateAddress::parse(host, port)?;
        if next("typ")? != "typ" {
            return Err(IceError::InvalidField("typ"));
        }
        let kind: CandidateKind = next("type")?.parse()?;

        let mut raddr = None;
        let mut rport = None;
        let mut tcp_type = None;
        let mut extensions = Vec::new();
        let rest: Vec<&str> = tok.collect();
        if rest.len() % 2 != 0 {
            return Err(IceError::InvalidField("extension"));
        }
        for pair in rest.chunks_exact(2) {
            let (name, value) = (pair[0], pair[1]);
            match name {
                "raddr" => raddr = Some(value),
                "rport" => rport = Some(parse_port(value)?),
                "tcptype" => tcp_type = Some(value.parse()?),
                _ => extensions.push((name.to_string(), value.to_string())),
            }
        }
        let related = raddr
            .map(|h| CandidateAddress::parse(h, rport.unwrap_or(0)))
            .transpose()?;

        Ok(Candidate {
            foundation: foundation.to_string(),
            component: component as u16,
            transport,
            priority,
            kind,
            address,
            related,
            tcp_type,
            extensions,
        })
    }

    /// The SDP attribute line without line end: `a=candidate:…`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_sdp_attribute(&self) -> String {
        format!("a={self}")
    }

    /// The value of one extension pair (for example `ufrag`), if present.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromStr for Candidate {
    type Err = IceError;

    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_str(s: &str) -> Result<Self, IceError> {
        Candidate::parse(s)
    }
}

/// `candidate:<foundation> <component> <UDP|TCP> <priority> <address> <port>
/// typ <type>[ raddr <address> rport <port>][ tcptype <t>][ <name> <value>]…`
impl fmt::Display for Candidate {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} {} {} ",
            self.foundation, self.component, self.transport, self.priority
        )?;
        self.address.write_host(f)?;
        write!(f, " {} typ {}", self.address.port(), self.kind)?;
        if let Some(r) = &self.related {
            f.write_str(" raddr ")?;
            r.write_host(f)?;
            write!(f, " rport {}", r.port())?;
        }
        if let Some(t) = self.tcp_type {
            write!(f, " tcptype {t}")?;
        }
        for (name, value) in &self.extensions {
            write!(f, " {name} {value}")?;
        }
        Ok(())
    }
}

/// 1 to `max_len` ASCII digits.
#[cfg_attr(xp2p_device, optimize(size))]
fn parse_digits(s: &str, max_len: usize, what: &'static str) -> Result<u64, IceError> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IceError::InvalidField(what));
    }
    s.parse().map_err(|_| IceError::InvalidField(what))
}

#[cfg_attr(xp2p_device, optimize(size))]
fn parse_port(s: &str) -> Result<u16, IceError> {
    let p = parse_digits(s, 5, "port")?;
    u16::try_from(p).map_err(|_| IceError::InvalidField("port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn priorities_match_the_formula() {
        assert_eq!(CandidateKind::Host.priority(65535, 1), 2_130_706_431);
        assert_eq!(CandidateKind::Srflx.priority(65535, 1), 1_694_498_815);
        assert_eq!(CandidateKind::Relay.priority(65535, 1), 16_777_215);
        let prio = |k: CandidateKind| k.priority(65535, 1);
        assert!(prio(CandidateKind::Host) > prio(CandidateKind::Prflx));
        assert!(prio(CandidateKind::Prflx) > prio(CandidateKind::Srflx));
        assert!(prio(CandidateKind::Srflx) > prio(CandidateKind::Relay));
        assert!(CandidateKind::Host.priority(65535, 1) > CandidateKind::Host.priority(65535, 2));
        // Out-of-range components wrap exactly like the C arithmetic.
        assert_eq!(candidate_priority(0, 0, 257), u32::MAX);
        assert_eq!(candidate_priority(0, 0, 0), 256);
    }

    #[test]
    fn foundation_depends_on_type_base_and_server() {
        let base: IpAddr = "192.168.1.10".parse().unwrap();
        let a = foundation_from_parts(0, Some(base), None);
        assert_eq!(a, foundation_from_parts(0, Some(base), None));
        assert_ne!(a, foundation_from_parts(1, Some(base), None));
        assert_ne!(
            a,
            foundation_from_parts(0, Some("192.168.1.11".parse().unwrap()), None)
        );
        let s1 = foundation_from_parts(1, Some(base), Some(sa("1.2.3.4:3478")));
        let s2 = foundation_from_parts(1, Some(base), Some(sa("1.2.3.4:3479")));
        assert_ne!(s1, s2);
        // The documented byte layout.
        let expect = crate::crypto::crc32(&[1, 192, 168, 1, 10, 1, 2, 3, 4, 0x0d, 0x96]);
        assert_eq!(s1, expect.to_string());
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn parses_chromium_host_line() {
        let c = Candidate::parse(
            "a=candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.5 \
             rport 61665 generation 0 ufrag EsAw network-id 1 network-cost 10\r\n",
        )
        .unwrap();
        assert_eq!(c.foundation, "842163049");
        assert_eq!(c.component, 1);
        assert_eq!(c.transport, Transport::Udp);
        assert_eq!(c.priority, 1_677_729_535);
        assert_eq!(c.kind, CandidateKind::Srflx);
        assert_eq!(c.address, CandidateAddress::Ip(sa("203.0.113.7:61665")));
        assert_eq!(c.related, Some(CandidateAddress::Ip(sa("10.0.0.5:61665"))));
        assert_eq!(c.extension("ufrag"), Some("EsAw"));
        assert_eq!(c.extension("network-cost"), Some("10"));
        assert_eq!(c.extensions.len(), 4);
    }

    #[test]
    fn parses_mdns_ipv6_and_tcp() {
        let m = Candidate::parse(
            "candidate:1 1 udp 2122260223 9b36eaac-bb2e-49bb-bb78-21c41c499900.local 50000 typ host",
        )
        .unwrap();
        assert!(m.address.is_mdns());
        assert_eq!(m.address.port(), 50000);
        assert_eq!(m.address.socket_addr(), None);

        let v6 = Candidate::parse("1 1 UDP 2122262783 2001:db8::1 40000 typ host").unwrap();
        assert_eq!(v6.address, CandidateAddress::Ip(sa("[2001:db8::1]:40000")));
        assert_eq!(
            v6.to_string(),
            "candidate:1 1 UDP 2122262783 2001:db8::1 40000 typ host"
        );

        let t = Candidate::parse(
            "candidate:3 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0",
        )
        .unwrap();
        assert_eq!(t.transport, Transport::Tcp);
        assert_eq!(t.tcp_type, Some(TcpType::Active));
        assert_eq!(
            t.extensions,
            vec![("generation".to_string(), "0".to_string())]
        );
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "",
            "garbage",
            "candidate:",
            "candidate:1 1 UDP 100 10.0.0.1 5000",
            "candidate:1 1 UDP 100 10.0.0.1 5000 typ",
            "candidate:1 1 UDP 100 10.0.0.1 5000 typ bogus",
            "candidate:1 1 UDP 100 10.0.0.1 5000 tip host",
            "candidate:1 0 UDP 100 10.0.0.1 5000 typ host",
            "candidate:1 257 UDP 100 10.0.0.1 5000 typ host",
            "candidate:1 1 SCTP 100 10.0.0.1 5000 typ host",
            "candidate:1 1 UDP 4294967296 10.0.0.1 5000 typ host",
            "candidate:1 1 UDP -1 10.0.0.1 5000 typ host",
            "candidate:1 1 UDP 100 10.0.0.1 65536 typ host",
            "candidate:1 1 UDP 100 10.0.0.999 5000 typ host",
            "candidate:1 1 UDP 100 example.com 5000 typ host",
            "candidate:1 1 UDP 100 10.0.0.1 5000 typ srflx raddr",
            "candidate:1 1 UDP 100 10.0.0.1 5000 typ srflx raddr x.y rport 1",
            "candidate:1 1 UDP 100 10.0.0.1 5000 typ host tcptype sideways",
            "candidate:123456789012345678901234567890123 1 UDP 100 10.0.0.1 5000 typ host",
        ] {
            assert!(Candidate::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn trims_and_splits_on_the_same_whitespace() {
        // Found by fuzzing: `str::trim` stripped the trailing \v that
        // `split_ascii_whitespace` had kept as a token, so the formatted
        // line no longer parsed.
        let line = "i 1 TCP 3 3.local 9 typ host\to\t\u{b}\trport\t1";
        let c = Candidate::parse(line).unwrap();
        assert_eq!(c.extensions, vec![("o".to_string(), "\u{b}".to_string())]);
        assert_eq!(Candidate::parse(&c.to_string()), Ok(c));
        // A no-break space at the end is part of the last token too.
        let nbsp = Candidate::parse("1 1 UDP 1 10.0.0.1 5 typ host x y\u{a0}").unwrap();
        assert_eq!(nbsp.extension("x"), Some("y\u{a0}"));
        assert_eq!(Candidate::parse(&nbsp.to_string()), Ok(nbsp));
        // ASCII whitespace around the line is still ignored.
        let c = Candidate::parse("\t\x0c 1 1 UDP 1 10.0.0.1 5 typ host \r\n").unwrap();
        assert_eq!(c.address.port(), 5);
    }

    #[test]
    fn constructors_fill_priority_and_foundation() {
        let base = sa("192.168.1.2:5000");
        let h = Candidate::host(base, 1, 65535);
        assert_eq!(h.priority, 2_130_706_431);
        assert_eq!(
            h.foundation,
            foundation_from_parts(0, Some(base.ip()), None)
        );
        let s = Candidate::srflx(
            sa("203.0.113.1:6000"),
            base,
            sa("198.51.100.1:3478"),
            1,
            65535,
        );
        assert_eq!(s.related, Some(CandidateAddress::Ip(base)));
        assert_ne!(s.foundation, h.foundation);
        let round = Candidate::parse(&s.to_sdp_attribute()).unwrap();
        assert_eq!(round, s);
        let r = Candidate::relay(
            sa("198.51.100.1:50000"),
            sa("203.0.113.1:6000"),
            sa("198.51.100.1:3478"),
            1,
            65535,
        );
        assert_eq!(r.priority, 16_777_215);
        let p = Candidate::prflx(sa("203.0.113.9:7000"), base, 1, 65535);
        assert_eq!(p.kind, CandidateKind::Prflx);
    }
}
