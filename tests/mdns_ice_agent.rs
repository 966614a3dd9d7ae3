//! The ICE agent's C layer (`ice_agent.h`) with candidates that carry mDNS
//! `.local` names instead of addresses: the names are resolved on the I/O
//! thread (a responder on loopback answers them) and the agents connect.
//! The names are in the descriptions and in trickled lines
//! (`xIceAgentAddRemoteCandidate` takes them). Real time, bounded.
#![cfg(feature = "mdns")]

mod mdns_support;

use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libc::{c_char, c_void};
use mdns_support::response;
use xbase::ffi::event::{xEventLoopCreate, xEventLoopDestroy, xEventWait};
use xp2p::ffi::ice_agent::*;
use xp2p::mdns::{encode_query, GROUP_V4, PORT, TYPE_A};

const NAME_A: &str = "5e0b7c1a-0000-4000-8000-00000000000a.local";
const NAME_B: &str = "5e0b7c1a-0000-4000-8000-00000000000b.local";

fn setsockopt<T>(fd: i32, level: i32, opt: i32, v: &T) {
    // SAFETY: a valid fd and a value of the option's type.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// Answers A queries for both names with 127.0.0.1, to the group.
fn responder(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    // SAFETY: a fresh socket, owned by the UdpSocket.
    let sock = unsafe {
        UdpSocket::from_raw_fd(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))
    };
    let one: libc::c_int = 1;
    setsockopt(sock.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, &one);
    setsockopt(sock.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, &one);
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: PORT.to_be(),
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    };
    // SAFETY: binding a valid sockaddr_in.
    let r = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    sock.join_multicast_v4(&GROUP_V4, &Ipv4Addr::LOCALHOST)
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let lo = libc::in_addr {
        s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
    };
    setsockopt(
        out.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_IF,
        &lo,
    );
    let queries: Vec<(Vec<u8>, &str)> = [NAME_A, NAME_B]
        .iter()
        .map(|n| (encode_query(n, TYPE_A).unwrap(), *n))
        .collect();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::SeqCst) {
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if let Some((_, name)) = queries.iter().find(|(q, _)| q[..] == buf[..n]) {
                let dest = SocketAddr::from((GROUP_V4, PORT));
                out.send_to(&response(name, Ipv4Addr::LOCALHOST), dest)
                    .unwrap();
            }
        }
    })
}

struct Peer {
    state: AtomicI32,
    /// Trickled candidate lines, with our address replaced by our name.
    lines: std::sync::Mutex<Vec<String>>,
    name: &'static str,
}

unsafe extern "C" fn on_state(_a: xIceAgent, state: xIceState, arg: *mut c_void) {
    // SAFETY: arg is the Peer given at create time, alive for the test.
    let p = unsafe { &*(arg as *const Peer) };
    p.state.store(state, Ordering::SeqCst);
}

unsafe extern "C" fn on_candidate(_a: xIceAgent, line: *const c_char, arg: *mut c_void) {
    // SAFETY: as above; `line` is NULL or a C string for the call.
    let p = unsafe { &*(arg as *const Peer) };
    if line.is_null() {
        return;
    }
    // SAFETY: the agent passes a NUL-terminated candidate line valid during the callback.
    let text = unsafe { CStr::from_ptr(line) }.to_string_lossy();
    p.lines
        .lock()
        .unwrap()
        .push(text.trim_end().replace("127.0.0.1", p.name));
}

fn take_c_string(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a malloc'ed C string from the library, freed here.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: `p` is the NUL-terminated string the library malloc'ed for us; freed once, after the
    // copy.
    unsafe { libc::free(p.cast()) };
    s
}

#[test]
fn agents_connect_through_names_in_descriptions_and_trickled_lines() {
    std::env::set_var("XP2P_INTERFACES", "lo");
    let stop = Arc::new(AtomicBool::new(false));
    let resp = responder(stop.clone());

    let lp = xEventLoopCreate();
    assert!(!lp.is_null());
    let peers: Vec<Box<Peer>> = [NAME_A, NAME_B]
        .iter()
        .map(|n| {
            Box::new(Peer {
                state: AtomicI32::new(xIceState_New),
                lines: std::sync::Mutex::new(Vec::new()),
                name: n,
            })
        })
        .collect();
    let mut agents = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        let conf = xIceConf {
            role: if i == 0 {
                xIceRole_Controlling
            } else {
                xIceRole_Controlled
            },
            enable_ipv6: false,
            stun_server: std::ptr::null(),
            turn_server: std::ptr::null(),
            turn_username: std::ptr::null(),
            turn_password: std::ptr::null(),
            on_state_change: Some(on_state),
            on_candidate: Some(on_candidate),
            on_data: None,
            ctx: (&**p as *const Peer) as *mut c_void,
        };
        // SAFETY: valid loop and conf.
        let a = unsafe { xIceAgentCreate(lp, &conf) };
        assert!(!a.is_null());
        // SAFETY: a live agent.
        assert_eq!(unsafe { xIceAgentGather(a) }, 0);
        agents.push(a);
    }
    // Descriptions with the addresses hidden behind the names.
    // SAFETY: live agents; the strings are C strings.
    unsafe {
        let offer = take_c_string(xIceAgentCreateOffer(agents[0])).replace("127.0.0.1", NAME_A);
        let answer = take_c_string(xIceAgentCreateAnswer(agents[1])).replace("127.0.0.1", NAME_B);
        assert!(offer.contains(NAME_A) && answer.contains(NAME_B));
        let offer = CString::new(offer).unwrap();
        let answer = CString::new(answer).unwrap();
        assert_eq!(xIceAgentSetRemoteDescription(agents[1], offer.as_ptr()), 0);
        assert_eq!(xIceAgentSetRemoteDescription(agents[0], answer.as_ptr()), 0);
    }

    let connected = |s: i32| s == xIceState_Connected || s == xIceState_Completed;
    let mut trickled = 0;
    let mut ok = false;
    for _ in 0..1000 {
        xEventWait(lp, 10);
        for i in 0..2 {
            let lines: Vec<String> = std::mem::take(&mut *peers[i].lines.lock().unwrap());
            for l in lines {
                let c = CString::new(l).unwrap();
                // SAFETY: a live agent and a C string.
                assert_eq!(
                    // SAFETY: the agent handle is live and `c` is a NUL-terminated CString.
                    unsafe { xIceAgentAddRemoteCandidate(agents[1 - i], c.as_ptr()) },
                    0
                );
                trickled += 1;
            }
        }
        if peers
            .iter()
            .all(|p| connected(p.state.load(Ordering::SeqCst)))
        {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "states {:?}",
        peers
            .iter()
            .map(|p| p.state.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    );
    assert!(trickled >= 2, "host candidates are trickled too");
    let bad = CString::new("a=candidate:1 1 udp 1 bad_name.local 1 typ host").unwrap();
    // SAFETY: a live agent and a C string.
    assert_eq!(
        // SAFETY: the agent handle is live and `bad` is a NUL-terminated CString.
        unsafe { xIceAgentAddRemoteCandidate(agents[0], bad.as_ptr()) },
        xbase::types::xErrno_InvalidArg
    );
    for a in agents {
        // SAFETY: live agents, destroyed once.
        unsafe { xIceAgentDestroy(a) };
    }
    xEventLoopDestroy(lp);
    stop.store(true, Ordering::SeqCst);
    resp.join().unwrap();
}
