//! STUN and TURN server names, resolved off the caller's loop thread.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::io::{self, EndpointId};
use crate::ice::agent::RelayFailure;
use crate::turn::client::TurnConfig;
use crate::turn::stream::STREAM_RETRANSMIT;
use crate::turn::tls::{TlsClient, TlsConfig, TlsError, CA_FILE_ENV};
use crate::turn::uri::{TurnTransport, TurnUri, UriError};

/// A resolved TURN server: the client configuration and, over TCP or TLS,
/// the link (the local address of the I/O thread's connection to it);
/// over UDP no link (the agent picks a host socket). Or why there is none.
pub type TurnResolved = Result<(TurnConfig, Option<SocketAddr>), RelayFailure>;

/// Resolves `host:port[,host:port…]` to the first IPv4 address of each
/// entry (as upstream); unresolvable entries are left out. May block.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn stun_servers(list: &str) -> Vec<SocketAddr> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let found = s
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.find(SocketAddr::is_ipv4));
            match found {
                Some(a) => log::debug!(target: "ice", "STUN server {s} resolved to {a}"),
                None => log::warn!(target: "ice", "STUN server {s} did not resolve to an IPv4 address (DNS)"),
            }
            found
        })
        .collect()
}

/// Resolves `list` on a short-lived thread (name resolution may block; the
/// loop thread never does) and hands the result to `done` there. If no
/// thread can be started, `done` never runs: gathering then completes at
/// its timeout with host candidates only.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn stun_servers_in_background(
    list: String,
    done: impl FnOnce(Vec<SocketAddr>) + Send + 'static,
) {
    spawn_stun_resolution(list, Box::new(done));
}

/// One copy of the thread start for every caller's callback type.
#[cfg_attr(xp2p_device, optimize(size))]
fn spawn_stun_resolution(list: String, done: Box<dyn FnOnce(Vec<SocketAddr>) + Send>) {
    let _ = std::thread::Builder::new()
        .name("xp2p-resolve".into())
        .spawn(move || done(stun_servers(&list)));
}

/// The TURN server of a C configuration (`turn_server`, `turn_username`,
/// `turn_password`), before its name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnSetting {
    pub uri: Result<TurnUri, UriError>,
    pub username: String,
    pub password: String,
    /// A CA file (PEM) trusted for `turns:` besides the system store:
    /// `XP2P_TURN_CA_FILE` when the setting was made.
    pub ca_file: Option<PathBuf>,
}

impl TurnSetting {
    /// Whether the server is reached over TCP or TLS.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn over_stream(&self) -> bool {
        matches!(&self.uri, Ok(u) if u.transport != TurnTransport::Udp)
    }

    /// A setting when the server and both credentials are given (and the
    /// server is not empty); otherwise TURN is not used, as upstream.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_conf(
        server: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Option<TurnSetting> {
        let server = server.map(str::trim).filter(|s| !s.is_empty())?;
        Some(TurnSetting {
            uri: TurnUri::parse(server),
            username: username?.to_owned(),
            password: password?.to_owned(),
            ca_file: std::env::var_os(CA_FILE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        })
    }

    /// The client configuration for the server, or why there is none:
    /// a malformed or unsupported URI, or a name that does not resolve
    /// (the first IPv4 address is used, else the first address). Over TCP
    /// and TLS requests are not retransmitted ([`STREAM_RETRANSMIT`]). May
    /// block on name resolution.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn resolve(&self) -> Result<TurnConfig, RelayFailure> {
        let uri = match &self.uri {
            Ok(u) => u,
            Err(UriError::Malformed(_)) => {
                return Err(RelayFailure::Unusable("malformed TURN server"))
            }
        };
        let addrs: Vec<SocketAddr> = match uri.authority().to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                log::warn!(target: "turn", "TURN server {} did not resolve (DNS): {e}", uri.authority());
                return Err(RelayFailure::Unresolved);
            }
        };
        let server = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or(RelayFailure::Unresolved)?;
        log::debug!(target: "turn", "TURN server {} resolved to {server}", uri.authority());
        let mut cfg = TurnConfig::new(server, &self.username, &self.password);
        if uri.transport != TurnTransport::Udp {
            cfg.retransmit = STREAM_RETRANSMIT;
        }
        Ok(cfg)
    }

    /// The TLS client for a `turns:` server: the system store plus
    /// [`TurnSetting::ca_file`], the certificate checked against the host
    /// of the URI (also sent as SNI). Reads the CA files (may block).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn tls_client(&self) -> Result<TlsClient, TlsError> {
        let host = match &self.uri {
            Ok(u) => u.host.as_str(),
            Err(e) => return Err(TlsError::Config(e.to_string())),
        };
        let mut cfg = TlsConfig::new(host);
        cfg.extra_ca_file = self.ca_file.clone();
        TlsClient::new(&cfg)
    }

    /// Resolves on a short-lived thread; over TCP or TLS it then has the
    /// I/O thread connect for `endpoint` (the TLS settings are loaded on
    /// the short-lived thread). `done` gets the result on either thread,
    /// with the link of a stream connection, before the endpoint's next
    /// flush. If no thread can be started, `done` never runs: gathering
    /// then completes at its timeout without the relayed candidate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn resolve_in_background(
        self,
        endpoint: EndpointId,
        done: impl FnOnce(TurnResolved) + Send + 'static,
    ) {
        self.spawn_resolution(endpoint, Box::new(done));
    }

    /// One copy of the thread start for every caller's callback type.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn spawn_resolution(self, endpoint: EndpointId, done: Box<dyn FnOnce(TurnResolved) + Send>) {
        let _ = std::thread::Builder::new()
            .name("xp2p-resolve".into())
            .spawn(move || {
                let cfg = match self.resolve() {
                    Ok(cfg) => cfg,
                    Err(why) => return done(Err(why)),
                };
                let tls = match self.uri.as_ref().map(|u| u.transport) {
                    Ok(TurnTransport::Tcp) if cfg!(feature = "turn-tcp") => None,
                    Ok(TurnTransport::Tcp) => {
                        return done(Err(RelayFailure::Unusable(
                            "TURN over TCP is not in this build (feature turn-tcp)",
                        )))
                    }
                    Ok(TurnTransport::Tls) => match self.tls_client() {
                        Ok(t) => Some(Box::new(t)),
                        Err(_) if !cfg!(feature = "turn-tls") => {
                            return done(Err(RelayFailure::Unusable(
                                "TURN over TLS is not in this build (feature turn-tls)",
                            )))
                        }
                        Err(_) => {
                            return done(Err(RelayFailure::Unusable(
                                "TLS settings (CA file) unusable",
                            )))
                        }
                    },
                    _ => return done(Ok((cfg, None))),
                };
                let server = cfg.server;
                io::open_turn_stream(
                    endpoint,
                    server,
                    tls,
                    Box::new(move |r| {
                        done(
                            r.map(|link| (cfg, Some(link)))
                                .map_err(RelayFailure::Stream),
                        )
                    }),
                );
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_settings_need_server_and_credentials() {
        assert!(TurnSetting::from_conf(None, Some("u"), Some("p")).is_none());
        assert!(TurnSetting::from_conf(Some(" "), Some("u"), Some("p")).is_none());
        assert!(TurnSetting::from_conf(Some("127.0.0.1:3478"), None, Some("p")).is_none());
        assert!(TurnSetting::from_conf(Some("127.0.0.1:3478"), Some("u"), None).is_none());
        for s in [
            "127.0.0.1:3478",
            "turn:127.0.0.1:3478",
            "turn:127.0.0.1:3478?transport=udp",
            "turn:localhost:3478",
        ] {
            let t = TurnSetting::from_conf(Some(s), Some("u"), Some("p")).unwrap();
            let cfg = t.resolve().unwrap();
            assert_eq!(cfg.server, "127.0.0.1:3478".parse().unwrap(), "{s}");
            assert_eq!((cfg.username.as_str(), cfg.password.as_str()), ("u", "p"));
        }
        for (s, port) in [
            ("turn:127.0.0.1:3478?transport=tcp", 3478),
            ("turns:127.0.0.1", 5349),
            ("turns:localhost:443", 443),
        ] {
            let t = TurnSetting::from_conf(Some(s), Some("u"), Some("p")).unwrap();
            let cfg = t.resolve().unwrap();
            assert_eq!(cfg.server, SocketAddr::from(([127, 0, 0, 1], port)), "{s}");
            assert_eq!(cfg.retransmit, STREAM_RETRANSMIT, "{s}: no retransmission");
        }
        let t = TurnSetting::from_conf(Some("turn:127.0.0.1"), Some("u"), Some("p")).unwrap();
        assert_ne!(t.resolve().unwrap().retransmit, STREAM_RETRANSMIT);
        let t = TurnSetting::from_conf(Some("turn:h:bad"), Some("u"), Some("p")).unwrap();
        assert!(matches!(t.resolve(), Err(RelayFailure::Unusable(_))));
        let t = TurnSetting::from_conf(Some("no-such-host.invalid:3478"), Some("u"), Some("p"))
            .unwrap();
        assert_eq!(t.resolve(), Err(RelayFailure::Unresolved));
    }

    #[test]
    fn literals_and_lists_resolve_and_bad_entries_are_left_out() {
        let got = stun_servers(" 127.0.0.1:3478, ,no-port, 192.0.2.9:19302 ");
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:3478".parse().unwrap(),
            "192.0.2.9:19302".parse().unwrap(),
        ];
        assert_eq!(got, want);
        assert!(stun_servers("").is_empty());
    }
}
