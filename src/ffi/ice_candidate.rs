//! `ice_candidate.h`: the C candidate struct, priorities, foundations, type
//! names and socket-address helpers, over `crate::ice::candidate`.

use libc::{c_char, c_int, sockaddr, sockaddr_storage};
use std::net::SocketAddr;

use super::boundary::{
    c_array_bytes, copy_to_c_array, cstr_bytes, empty_storage, ffi_boundary, opt_mut, opt_ref,
    sockaddr_to_std, std_to_storage, storage_to_std,
};
use super::ice_private::{xIceCandidateType, XICE_FOUNDATION_MAX_LEN};
use crate::ice::{
    candidate_priority, foundation_from_parts, Candidate, CandidateAddress, CandidateKind,
};
use xbase::types::{xErrno, xErrno_InvalidArg, xErrno_Ok, xSocket};

/// Most candidates kept per side and per SDP.
pub const XICE_MAX_CANDIDATES: usize = 32;

/// One ICE candidate (440 bytes). `transport` is 0 for UDP; the SDP decoders
/// of this library also write 1 for a TCP candidate line.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct xIceCandidate {
    pub foundation: [c_char; XICE_FOUNDATION_MAX_LEN],
    pub component_id: c_int,
    pub transport: c_int,
    pub priority: u32,
    pub r#type: xIceCandidateType,
    pub addr: sockaddr_storage,
    pub base_addr: sockaddr_storage,
    pub rel_addr: sockaddr_storage,
    pub sock: xSocket,
}

impl xIceCandidate {
    /// An all-zero candidate (host, UDP, AF_UNSPEC addresses, no socket).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn zeroed() -> Self {
        xIceCandidate {
            foundation: [0; XICE_FOUNDATION_MAX_LEN],
            component_id: 0,
            transport: 0,
            priority: 0,
            r#type: 0,
            addr: empty_storage(),
            base_addr: empty_storage(),
            rel_addr: empty_storage(),
            sock: std::ptr::null_mut(),
        }
    }

    /// The C view of a candidate with an IP address; `None` for an mDNS
    /// address (not representable in `sockaddr_storage`). The foundation is
    /// cut to 31 characters; an mDNS related address is left unset.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn from_candidate(c: &Candidate) -> Option<Self> {
        let addr = c.address.socket_addr()?;
        let mut out = Self::zeroed();
        copy_to_c_array(&mut out.foundation, c.foundation.as_bytes());
        out.component_id = c_int::from(c.component);
        out.transport = match c.transport {
            crate::ice::Transport::Udp => 0,
            crate::ice::Transport::Tcp => 1,
        };
        out.priority = c.priority;
        out.r#type = xIceCandidateType::from(c.kind.code());
        out.addr = std_to_storage(&addr);
        if let Some(r) = c.related.as_ref().and_then(CandidateAddress::socket_addr) {
            out.rel_addr = std_to_storage(&r);
        }
        Some(out)
    }

    /// The Rust candidate written by the C encoders: UDP, no extensions;
    /// host candidates carry no related address, the others always do
    /// (`0.0.0.0 0` when `rel_addr` is unset). `None` when the type,
    /// component or address cannot be written.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn rust_candidate(&self) -> Option<Candidate> {
        let kind = CandidateKind::from_code(i64::from(self.r#type))?;
        let addr = storage_to_std(&self.addr)?;
        let related = match kind {
            CandidateKind::Host => None,
            _ => Some(CandidateAddress::Ip(
                storage_to_std(&self.rel_addr).unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            )),
        };
        Some(Candidate {
            foundation: String::from_utf8_lossy(c_array_bytes(&self.foundation)).into_owned(),
            component: u16::try_from(self.component_id).ok()?,
            transport: crate::ice::Transport::Udp,
            priority: self.priority,
            kind,
            address: CandidateAddress::Ip(addr),
            related,
            tcp_type: None,
            extensions: Vec::new(),
        })
    }
}

/// `(type_pref << 24) | (local_pref << 8) | (256 - component_id)`; an
/// unknown type has preference 0.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCandidatePriority(
    r#type: xIceCandidateType,
    local_pref: u16,
    component_id: c_int,
) -> u32 {
    ffi_boundary!(0, {
        candidate_priority(type_pref(r#type), local_pref, component_id)
    })
}

/// Host 126, srflx 100, prflx 110, relay 0; 0 for an unknown type.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCandidateTypePref(r#type: xIceCandidateType) -> c_int {
    ffi_boundary!(0, { type_pref(r#type) as c_int })
}

#[cfg_attr(xp2p_device, optimize(size))]
fn type_pref(t: xIceCandidateType) -> u32 {
    CandidateKind::from_code(i64::from(t)).map_or(0, CandidateKind::type_preference)
}

/// Writes `cand->foundation`: the decimal CRC-32 of the type byte, the
/// `base_addr` bytes (4 or 16, none if unset) and, if `stun_server` is an
/// IPv4/IPv6 address, its address and port bytes. NULL `cand`: nothing.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCandidateFoundation(
    cand: *mut xIceCandidate,
    stun_server: *const sockaddr,
) {
    ffi_boundary!((), {
        // SAFETY: `cand` and `stun_server` are NULL or valid for this call, as `ice_candidate.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let Some(c) = opt_mut(cand) {
                let base = storage_to_std(&c.base_addr).map(|a| a.ip());
                let text =
                    foundation_from_parts(c.r#type as u8, base, sockaddr_to_std(stun_server));
                copy_to_c_array(&mut c.foundation, text.as_bytes());
            }
        }
    })
}

/// "host", "srflx", "prflx", "relay", or "unknown" (static strings).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCandidateTypeStr(r#type: xIceCandidateType) -> *const c_char {
    ffi_boundary!(c"unknown".as_ptr(), {
        let s = match CandidateKind::from_code(i64::from(r#type)) {
            Some(CandidateKind::Host) => c"host",
            Some(CandidateKind::Srflx) => c"srflx",
            Some(CandidateKind::Prflx) => c"prflx",
            Some(CandidateKind::Relay) => c"relay",
            None => c"unknown",
        };
        s.as_ptr()
    })
}

/// Exact lowercase type name to `*type`; InvalidArg for NULL arguments or
/// any other string.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceCandidateTypeFromStr(
    str: *const c_char,
    r#type: *mut xIceCandidateType,
) -> xErrno {
    ffi_boundary!(xbase::types::xErrno_Unknown, {
        // SAFETY: `str` and `type` are NULL or valid for this call, as `ice_candidate.h` requires
        // of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(s), Some(out)) = (cstr_bytes(str), opt_mut(r#type)) else {
                return xErrno_InvalidArg;
            };
            match std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.parse::<CandidateKind>().ok())
            {
                Some(kind) => {
                    *out = xIceCandidateType::from(kind.code());
                    xErrno_Ok
                }
                None => xErrno_InvalidArg,
            }
        }
    })
}

/// The host-order port of an AF_INET/AF_INET6 address; 0 for NULL or any
/// other family.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSockaddrPort(addr: *const sockaddr) -> u16 {
    ffi_boundary!(0, {
        // SAFETY: `addr` is NULL or valid for this call, as `ice_candidate.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe { sockaddr_to_std(addr).map_or(0, |a| a.port()) }
    })
}

/// `inet_ntop` text of an AF_INET/AF_INET6 address into `buf`; returns
/// `buf`, or NULL for NULL arguments, another family or a too-small buffer.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xSockaddrIP(
    addr: *const sockaddr,
    buf: *mut c_char,
    len: usize,
) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: `addr` and `buf` are NULL or valid for this call, as `ice_candidate.h` requires
        // of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(a) = opt_ref(addr) else {
                return std::ptr::null();
            };
            if buf.is_null() || len == 0 {
                return std::ptr::null();
            }
            let src: *const libc::c_void = match a.sa_family as c_int {
                libc::AF_INET => {
                    let sin = addr.cast::<libc::sockaddr_in>();
                    std::ptr::addr_of!((*sin).sin_addr).cast()
                }
                libc::AF_INET6 => {
                    let sin6 = addr.cast::<libc::sockaddr_in6>();
                    std::ptr::addr_of!((*sin6).sin6_addr).cast()
                }
                _ => return std::ptr::null(),
            };
            let cap = libc::socklen_t::try_from(len).unwrap_or(libc::socklen_t::MAX);
            let r = inet_ntop(c_int::from(a.sa_family), src, buf, cap);
            if r.is_null() {
                std::ptr::null()
            } else {
                buf.cast_const()
            }
        }
    })
}

extern "C" {
    // POSIX, in the C library; the libc crate does not declare it.
    fn inet_ntop(
        af: c_int,
        src: *const libc::c_void,
        dst: *mut c_char,
        size: libc::socklen_t,
    ) -> *const c_char;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_the_spec() {
        assert_eq!(size_of::<xIceCandidate>(), 440);
        assert_eq!(offset_of!(xIceCandidate, component_id), 32);
        assert_eq!(offset_of!(xIceCandidate, transport), 36);
        assert_eq!(offset_of!(xIceCandidate, priority), 40);
        assert_eq!(offset_of!(xIceCandidate, r#type), 44);
        assert_eq!(offset_of!(xIceCandidate, addr), 48);
        assert_eq!(offset_of!(xIceCandidate, base_addr), 176);
        assert_eq!(offset_of!(xIceCandidate, rel_addr), 304);
        assert_eq!(offset_of!(xIceCandidate, sock), 432);
    }

    #[test]
    fn priorities_and_type_names() {
        // SAFETY: the functions take plain integers and NUL-terminated literals.
        unsafe {
            assert_eq!(xIceCandidatePriority(0, 65535, 1), 2_130_706_431);
            assert_eq!(xIceCandidatePriority(1, 65535, 1), 1_694_498_815);
            assert_eq!(xIceCandidatePriority(3, 65535, 1), 16_777_215);
            assert_eq!(xIceCandidatePriority(9, 65535, 1), 16_777_215);
            assert_eq!(xIceCandidateTypePref(2), 110);
            assert_eq!(xIceCandidateTypePref(-1), 0);
            for t in 0..4 {
                let name = xIceCandidateTypeStr(t);
                let mut back = -1;
                assert_eq!(xIceCandidateTypeFromStr(name, &mut back), xErrno_Ok);
                assert_eq!(back, t);
            }
            let unknown = std::ffi::CStr::from_ptr(xIceCandidateTypeStr(4));
            assert_eq!(unknown.to_bytes(), b"unknown");
            let mut t = 0;
            assert_eq!(
                xIceCandidateTypeFromStr(c"HOST".as_ptr(), &mut t),
                xErrno_InvalidArg
            );
            assert_eq!(
                xIceCandidateTypeFromStr(std::ptr::null(), &mut t),
                xErrno_InvalidArg
            );
            assert_eq!(
                xIceCandidateTypeFromStr(c"host".as_ptr(), std::ptr::null_mut()),
                xErrno_InvalidArg
            );
        }
    }

    #[test]
    fn sockaddr_helpers() {
        let v4 = std_to_storage(&"10.0.0.1:12345".parse().unwrap());
        let v6 = std_to_storage(&"[2001:db8::1]:443".parse().unwrap());
        let p4 = (&v4 as *const sockaddr_storage).cast::<sockaddr>();
        let p6 = (&v6 as *const sockaddr_storage).cast::<sockaddr>();
        let mut buf = [0 as c_char; 64];
        // SAFETY: `p4`/`p6` point to live sockaddr_storage locals and `buf` has the length passed.
        unsafe {
            assert_eq!(xSockaddrPort(p4), 12345);
            assert_eq!(xSockaddrPort(p6), 443);
            assert_eq!(xSockaddrPort(std::ptr::null()), 0);
            let r = xSockaddrIP(p4, buf.as_mut_ptr(), buf.len());
            assert_eq!(r, buf.as_ptr());
            assert_eq!(c_array_bytes(&buf), b"10.0.0.1");
            xSockaddrIP(p6, buf.as_mut_ptr(), buf.len());
            assert_eq!(c_array_bytes(&buf), b"2001:db8::1");
            assert!(xSockaddrIP(p4, buf.as_mut_ptr(), 4).is_null());
            assert!(xSockaddrIP(p4, std::ptr::null_mut(), 64).is_null());
            assert!(xSockaddrIP(std::ptr::null(), buf.as_mut_ptr(), 64).is_null());
            let empty = empty_storage();
            let pe = (&empty as *const sockaddr_storage).cast::<sockaddr>();
            assert!(xSockaddrIP(pe, buf.as_mut_ptr(), 64).is_null());
            assert_eq!(xSockaddrPort(pe), 0);
        }
    }

    #[test]
    fn foundation_matches_rust_and_ignores_null() {
        let mut c = xIceCandidate::zeroed();
        c.r#type = 1;
        c.base_addr = std_to_storage(&"192.168.1.10:5000".parse().unwrap());
        let server = std_to_storage(&"1.2.3.4:3478".parse().unwrap());
        // SAFETY: `c` and `server` are live locals of the types the functions expect.
        unsafe {
            xIceCandidateFoundation(&mut c, (&server as *const sockaddr_storage).cast());
            let expect = foundation_from_parts(
                1,
                Some("192.168.1.10".parse().unwrap()),
                Some("1.2.3.4:3478".parse().unwrap()),
            );
            assert_eq!(c_array_bytes(&c.foundation), expect.as_bytes());
            xIceCandidateFoundation(std::ptr::null_mut(), std::ptr::null());
        }
    }
}
