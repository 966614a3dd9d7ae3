//! STUN server names, resolved off the caller's loop thread.

use std::net::{SocketAddr, ToSocketAddrs};

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

#[cfg(test)]
mod tests {
    use super::*;

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
