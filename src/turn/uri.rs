//! TURN server URIs (RFC 7065) as the configurations give them.
//!
//! Accepted forms: `host:port`, `turn:host:port`, `turn:host`,
//! `turn:host:port?transport=udp`, `turn:host:port?transport=tcp` (TURN
//! over TCP), `turns:host:port` and `turns:host` (TURN over TLS;
//! `?transport=tcp` allowed), with IPv6 literals in brackets
//! (`turn:[::1]:3478`). The port defaults to 3478 (5349 for `turns:`).

use std::fmt;

/// The default port of `turn:` (RFC 7065 §3).
pub const DEFAULT_PORT: u16 = 3478;
/// The default port of `turns:`.
pub const DEFAULT_TLS_PORT: u16 = 5349;

/// How TURN messages travel to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// One message per UDP datagram.
    Udp,
    /// RFC 5766 §2.1 framing over TCP.
    Tcp,
    /// The same framing over TLS (`turns:`).
    Tls,
}

impl TurnTransport {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_str(self) -> &'static str {
        match self {
            TurnTransport::Udp => "udp",
            TurnTransport::Tcp => "tcp",
            TurnTransport::Tls => "tls",
        }
    }
}

/// A parsed TURN server URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnUri {
    /// Host name or IP literal (without brackets).
    pub host: String,
    pub port: u16,
    pub transport: TurnTransport,
}

/// Why a TURN URI is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// Empty, a bad port, a bad bracketed address, an unknown scheme or
    /// query.
    Malformed(&'static str),
}

impl fmt::Display for UriError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::Malformed(why) => write!(f, "malformed TURN server: {why}"),
        }
    }
}

impl std::error::Error for UriError {}

impl TurnUri {
    /// Parses `s` (surrounding whitespace ignored).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(s: &str) -> Result<TurnUri, UriError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once(':') {
            Some((sch, rest)) if sch.eq_ignore_ascii_case("turn") => (Some(false), rest),
            Some((sch, rest)) if sch.eq_ignore_ascii_case("turns") => (Some(true), rest),
            _ => (None, s),
        };
        let (hostport, query) = match rest.split_once('?') {
            Some((hp, q)) => (hp, Some(q)),
            None => (rest, None),
        };
        if scheme.is_none() && query.is_some() {
            return Err(UriError::Malformed("a query needs the turn: scheme"));
        }
        let secure = scheme == Some(true);
        let mut transport = if secure {
            TurnTransport::Tls
        } else {
            TurnTransport::Udp
        };
        if let Some(q) = query {
            let value = q
                .strip_prefix("transport=")
                .ok_or(UriError::Malformed("unknown query"))?;
            transport = match (value.to_ascii_lowercase().as_str(), secure) {
                ("udp", false) => TurnTransport::Udp,
                ("tcp", false) => TurnTransport::Tcp,
                ("tcp", true) => TurnTransport::Tls,
                ("udp", true) => return Err(UriError::Malformed("turns: over udp")),
                _ => return Err(UriError::Malformed("unknown transport")),
            };
        }
        let default_port = if secure {
            DEFAULT_TLS_PORT
        } else {
            DEFAULT_PORT
        };
        let (host, port) = split_host_port(hostport, scheme.is_some(), default_port)?;
        Ok(TurnUri {
            host,
            port,
            transport,
        })
    }

    /// `host:port`, with brackets around an IPv6 literal, for name
    /// resolution.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host[:port]`; the port is required without a scheme.
#[cfg_attr(xp2p_device, optimize(size))]
fn split_host_port(
    s: &str,
    port_optional: bool,
    default_port: u16,
) -> Result<(String, u16), UriError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or(UriError::Malformed("unclosed ["))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UriError::Malformed("bad IPv6 literal"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(UriError::Malformed("junk after ]"))?,
            ),
        };
        (h, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(UriError::Malformed("IPv6 literals need brackets"))
            }
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(UriError::Malformed("no host"));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
        return Err(UriError::Malformed("bad host"));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(UriError::Malformed("bad port")),
        },
        None if port_optional => default_port,
        None => return Err(UriError::Malformed("no port")),
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> TurnUri {
        TurnUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepted_forms() {
        let u = ok("127.0.0.1:3479");
        assert_eq!(
            (u.host.as_str(), u.port, u.transport),
            ("127.0.0.1", 3479, TurnTransport::Udp)
        );
        let u = ok("turn:turn.example.org:3480");
        assert_eq!((u.host.as_str(), u.port), ("turn.example.org", 3480));
        assert_eq!(ok("turn:example.org").port, DEFAULT_PORT);
        let u = ok(" TURN:10.0.0.1:9?transport=udp ");
        assert_eq!((u.port, u.transport), (9, TurnTransport::Udp));
        let u = ok("turn:[::1]:3478");
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:3478");
        assert_eq!(ok("[2001:db8::1]:5000").port, 5000);
    }

    #[test]
    fn stream_transports() {
        let u = ok("turn:h:3478?transport=tcp");
        assert_eq!((u.port, u.transport), (3478, TurnTransport::Tcp));
        let u = ok("turn:h?transport=TCP");
        assert_eq!((u.port, u.transport), (DEFAULT_PORT, TurnTransport::Tcp));
        let u = ok("turns:h");
        assert_eq!(
            (u.port, u.transport),
            (DEFAULT_TLS_PORT, TurnTransport::Tls)
        );
        assert_eq!(
            ok("turns:h:443?transport=tcp").transport,
            TurnTransport::Tls
        );
        let u = ok("turns:[::1]:5350");
        assert_eq!((u.host.as_str(), u.port), ("::1", 5350));
    }

    #[test]
    fn malformed_forms_are_refused() {
        for s in [
            "",
            "host",
            "host:",
            "host:0",
            "host:70000",
            ":3478",
            "turn:",
            "turn:h:x",
            "turn:h?transport=sctp",
            "turn:h?foo=bar",
            "turns:h?transport=udp",
            "h:1?transport=udp",
            "::1:3478",
            "[::1",
            "[nothex]:1",
            "[::1]x",
            "turn:user@h:1",
        ] {
            assert!(
                matches!(TurnUri::parse(s), Err(UriError::Malformed(_))),
                "{s:?} accepted"
            );
        }
    }
}
