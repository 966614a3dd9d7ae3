//! The C side of the objects: the signatures of the user callbacks they
//! call and the C values they pass. The function pointer types here are the
//! same types as the callback typedefs of the headers in `crate::ffi`
//! (which convert nothing: `ffi` checks them with a compile-time
//! assignment), and the codes equal the header enum values (checked by the
//! tests of each header module).

use libc::{c_char, c_int, c_void, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use xbase::types::xErrno;

/// `(handle, ctx)`: a channel's `on_open`, `on_close`,
/// `on_buffered_amount_low`.
pub type ChannelFn = unsafe extern "C" fn(*mut c_void, *mut c_void);
/// `(channel, type, data, len, ctx)`: a channel's `on_message`.
pub type MessageFn = unsafe extern "C" fn(*mut c_void, c_int, *const u8, usize, *mut c_void);
/// `(channel, err, ctx)`: a channel's `on_error`.
pub type ErrorFn = unsafe extern "C" fn(*mut c_void, xErrno, *mut c_void);
/// `(handle, state, ctx)`: the `on_state_change` of a PeerConnection, an
/// ICE agent or a DTLS transport.
pub type StateFn = unsafe extern "C" fn(*mut c_void, c_int, *mut c_void);
/// `(handle, text or NULL, ctx)`: `on_ice_candidate` / `on_candidate`.
pub type TextFn = unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_void);
/// `(handle, data, len, ctx)`: the `on_data` of an agent or DTLS transport.
pub type DataFn = unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut c_void);
/// `(pc or manager, channel, ctx)`: `on_datachannel` / `on_remote_open`.
pub type NewChannelFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void);
/// `(data, len, arg)`: a DTLS transport's `send_fn`.
pub type SendFn = unsafe extern "C" fn(*const u8, usize, *mut c_void) -> xErrno;
/// `(data, len, from, arg)`: an agent's DTLS input hook.
pub type DtlsInputFn = unsafe extern "C" fn(*const u8, usize, *const sockaddr, *mut c_void);
/// `(transport, connected, ctx)`: an SCTP transport's `on_state_change`.
pub type SctpStateFn = unsafe extern "C" fn(*mut c_void, bool, *mut c_void);
/// `(transport, stream, ppid, data, len, ctx)`: an SCTP transport's `on_data`.
pub type SctpDataFn = unsafe extern "C" fn(*mut c_void, u16, u32, *const u8, usize, *mut c_void);
/// `(transport, stream, ctx)`: an SCTP transport's `on_stream_close`.
pub type SctpStreamFn = unsafe extern "C" fn(*mut c_void, u16, *mut c_void);
/// `(transport, ctx)`: an SCTP transport's `on_buffered_amount_low`.
pub type SctpLowFn = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// `xDataChannelMsgType_String` and `…_Binary`.
pub const MSG_STRING: c_int = 0;
pub const MSG_BINARY: c_int = 1;

/// `xDtlsState` values.
pub const DTLS_CONNECTING: c_int = 1;
pub const DTLS_CONNECTED: c_int = 2;
pub const DTLS_FAILED: c_int = 3;
pub const DTLS_CLOSED: c_int = 4;

/// Reads an IPv4 or IPv6 socket address; `None` for NULL or another family.
///
/// # Safety
/// A non-NULL `sa` must point to a socket address of its family's size.
pub unsafe fn sockaddr_to_std(sa: *const sockaddr) -> Option<SocketAddr> {
    // SAFETY: a non-NULL `sa` points to a valid sockaddr (caller contract).
    let family = unsafe { sa.as_ref() }?.sa_family as i32;
    match family {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in (caller contract).
            let sin = unsafe { &*(sa as *const sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6 (caller contract).
            let sin6 = unsafe { &*(sa as *const sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Reads a `sockaddr_storage` holding an IPv4 or IPv6 address.
pub fn storage_to_std(ss: &sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: a sockaddr_storage is large enough for either family.
    unsafe { sockaddr_to_std((ss as *const sockaddr_storage).cast()) }
}

/// A zeroed `sockaddr_storage` (family `AF_UNSPEC`).
pub fn empty_storage() -> sockaddr_storage {
    // SAFETY: all-zero is a valid sockaddr_storage.
    unsafe { std::mem::zeroed() }
}

/// Writes a Rust socket address as a C `sockaddr_storage`.
pub fn std_to_storage(addr: &SocketAddr) -> sockaddr_storage {
    let mut ss = empty_storage();
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut sockaddr_storage).cast::<sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut sockaddr_storage).cast::<sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
        }
    }
    ss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip_v4_v6() {
        for text in ["10.0.0.1:12345", "[2001:db8::1]:443", "0.0.0.0:0"] {
            let addr: SocketAddr = text.parse().unwrap();
            let ss = std_to_storage(&addr);
            assert_eq!(storage_to_std(&ss), Some(addr));
        }
        assert_eq!(storage_to_std(&empty_storage()), None);
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { sockaddr_to_std(std::ptr::null()) }, None);
    }
}
