//! STUN and TURN server names, resolved off the caller's loop thread.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::ice::agent::RelayFailure;
use crate::turn::client::TurnConfig;
use crate::turn::uri::{TurnUri, UriError};

/// Resolves `host:port[,host:port…]` to the first IPv4 address of each
/// entry (as upstream); unresolvable entries are left out. May block.
pub fn stun_servers(list: &str) -> Vec<SocketAddr> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.to_socket_addrs().ok()?.find(SocketAddr::is_ipv4))
        .collect()
}

/// Resolves `list` on a short-lived thread (name resolution may block; the
/// loop thread never does) and hands the result to `done` there. If no
/// thread can be started, `done` never runs: gathering then completes at
/// its timeout with host candidates only.
pub fn stun_servers_in_background(
    list: String,
    done: impl FnOnce(Vec<SocketAddr>) + Send + 'static,
) {
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
}

impl TurnSetting {
    /// A setting when the server and both credentials are given (and the
    /// server is not empty); otherwise TURN is not used, as upstream.
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
        })
    }

    /// The client configuration for the server, or why there is none:
    /// a malformed or unsupported URI, or a name that does not resolve
    /// (the first IPv4 address is used, else the first address). May
    /// block on name resolution.
    pub fn resolve(&self) -> Result<TurnConfig, RelayFailure> {
        let uri = match &self.uri {
            Ok(u) => u,
            Err(UriError::Malformed(_)) => {
                return Err(RelayFailure::Unusable("malformed TURN server"))
            }
            Err(UriError::Unsupported(_)) => {
                return Err(RelayFailure::Unusable("TURN transport not supported yet"))
            }
        };
        if uri.check_supported().is_err() {
            return Err(RelayFailure::Unusable(
                "TURN over TCP or TLS is not supported yet",
            ));
        }
        let addrs: Vec<SocketAddr> = uri
            .authority()
            .to_socket_addrs()
            .map_err(|_| RelayFailure::Unresolved)?
            .collect();
        let server = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or(RelayFailure::Unresolved)?;
        Ok(TurnConfig::new(server, &self.username, &self.password))
    }

    /// Resolves on a short-lived thread and hands the result to `done`
    /// there. If no thread can be started, `done` never runs: gathering
    /// then completes at its timeout without the relayed candidate.
    pub fn resolve_in_background(
        self,
        done: impl FnOnce(Result<TurnConfig, RelayFailure>) + Send + 'static,
    ) {
        let _ = std::thread::Builder::new()
            .name("xp2p-resolve".into())
            .spawn(move || done(self.resolve()));
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
        for s in ["turn:127.0.0.1:3478?transport=tcp", "turns:127.0.0.1"] {
            let t = TurnSetting::from_conf(Some(s), Some("u"), Some("p")).unwrap();
            assert!(matches!(t.resolve(), Err(RelayFailure::Unusable(_))), "{s}");
        }
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
