//! The mDNS client on the I/O thread against a responder on loopback
//! (multicast to 224.0.0.251 on `lo`, which Linux delivers locally):
//! answers sent to the group and by unicast both resolve, the cache answers
//! without a query, and a name nobody answers fails after the timeout.
//! Real time: the timeout case takes 5 s.
#![cfg(feature = "mdns")]

mod mdns_support;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use mdns_support::response;
use xp2p::driver::mdns::MdnsClient;
use xp2p::mdns::{encode_query, Resolution, GROUP_V4, PORT, TYPE_A};

/// A UDP socket on 0.0.0.0:5353 with address reuse, joined to the group
/// on loopback.
fn responder_socket() -> UdpSocket {
    // SAFETY: plain socket calls on a fresh fd owned by the UdpSocket.
    let sock = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let one: libc::c_int = 1;
        for opt in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: PORT.to_be(),
            sin_addr: libc::in_addr { s_addr: 0 },
            sin_zero: [0; 8],
        };
        let r = libc::bind(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "bind 0.0.0.0:5353");
        UdpSocket::from_raw_fd(fd)
    };
    sock.join_multicast_v4(&GROUP_V4, &Ipv4Addr::LOCALHOST)
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    sock
}

#[test]
fn names_resolve_by_group_and_unicast_answers_cache_and_time_out() {
    std::env::set_var("XP2P_INTERFACES", "lo");
    let group_name = "1b6e8c1e-0000-4000-8000-000000000001.local";
    let unicast_name = "1b6e8c1e-0000-4000-8000-000000000002.local";
    let silent_name = "1b6e8c1e-0000-4000-8000-000000000003.local";
    let group_ip = Ipv4Addr::new(127, 0, 0, 11);
    let unicast_ip = Ipv4Addr::new(127, 0, 0, 12);

    // The responder: answers the first name to the group (as Chromium
    // does), the second by unicast to the query's source (a legacy
    // responder), never the third; counts the A queries for the first.
    let stop = Arc::new(AtomicBool::new(false));
    let group_queries = Arc::new(AtomicUsize::new(0));
    let sock = responder_socket();
    let (stop2, count2) = (stop.clone(), group_queries.clone());
    let q_group = encode_query(group_name, TYPE_A).unwrap();
    let q_unicast = encode_query(unicast_name, TYPE_A).unwrap();
    let responder = std::thread::spawn(move || {
        let out = UdpSocket::bind("127.0.0.1:0").unwrap();
        multicast_out_of_loopback(&out);
        let mut buf = [0u8; 1500];
        while !stop2.load(Ordering::SeqCst) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if buf[..n] == q_group[..] {
                count2.fetch_add(1, Ordering::SeqCst);
                let dest = SocketAddr::from((GROUP_V4, PORT));
                out.send_to(&response(group_name, group_ip), dest).unwrap();
            } else if buf[..n] == q_unicast[..] {
                out.send_to(&response(unicast_name, unicast_ip), from)
                    .unwrap();
            }
        }
    });

    let (tx, rx) = mpsc::channel::<Resolution>();
    let client = MdnsClient::start(move |r| {
        let _ = tx.send(r);
    })
    .expect("mDNS sockets on lo");
    for name in [group_name, unicast_name, silent_name] {
        client.resolve(name).unwrap();
    }
    assert!(client.resolve("not-a-local-name.example").is_err());

    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(
            rx.recv_timeout(Duration::from_secs(60))
                .expect("every lookup ends (its timeout is 5 s)"),
        );
    }
    let find = |name: &str| got.iter().find(|r| r.name == name).unwrap().addr;
    assert_eq!(find(group_name), Some(group_ip.into()));
    assert_eq!(find(unicast_name), Some(unicast_ip.into()));
    assert_eq!(find(silent_name), None);
    // The two answered names resolved before the silent one timed out.
    assert_eq!(got[2].name, silent_name);
    let stats = client.stats();
    assert_eq!((stats.resolved, stats.timed_out), (2, 1));

    // Cached: resolves again without another query.
    let before = group_queries.load(Ordering::SeqCst);
    client.resolve(&group_name.to_uppercase()).unwrap();
    let again = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(again.addr, Some(group_ip.into()));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(group_queries.load(Ordering::SeqCst), before);
    assert_eq!(client.stats().cache_hits, 1);

    // After the client is dropped, nothing more is delivered (its sink,
    // and the sender in it, are gone).
    client.resolve(silent_name).unwrap();
    drop(client);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );

    stop.store(true, Ordering::SeqCst);
    responder.join().unwrap();
}

/// Multicast from `sock` leaves through loopback.
fn multicast_out_of_loopback(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let addr = libc::in_addr {
        s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
    };
    // SAFETY: IP_MULTICAST_IF with an in_addr on a valid fd.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&addr as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}
