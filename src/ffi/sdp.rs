//! `sdp.h`: the C session-description struct and the five SDP functions,
//! over `crate::sdp` and `crate::ice::candidate`.
//!
//! Differences from upstream xKit, all in what is accepted: `xIceSdpDecode`
//! also splits on LF-only line ends, reads BUNDLE/session-level attributes
//! like the Rust decoder, skips TCP and mDNS candidates (which the struct
//! cannot hold) and cuts foundations longer than 31 characters instead of
//! dropping the candidate. The encoders write upstream's exact text.

use libc::{c_char, c_int};

use super::boundary::{copy_to_c_array, cstr_bytes, ffi_boundary, opt_mut, opt_ref};
use super::ice_candidate::{xIceCandidate, XICE_MAX_CANDIDATES};
use super::ice_private::{XICE_PWD_MAX_LEN, XICE_UFRAG_MAX_LEN};
use crate::ice::Candidate;
use crate::sdp::{encode_ice, encode_webrtc, IceParams, SessionDescription, Setup, WebRtcParams};
use xbase::types::{xErrno, xErrno_InvalidArg, xErrno_Ok, xErrno_Unknown};

/// Size of the buffer the ICE agent encodes its descriptions into.
pub const XSDP_MAX_SIZE: usize = 4096;
pub const XSDP_MAX_FINGERPRINT_LEN: usize = 128;
pub const XSDP_MAX_SETUP_LEN: usize = 16;
pub const XSDP_MAX_MID_LEN: usize = 32;

/// `xIceSdpSetup` (`XDEF_ENUM`; the C text is in `cbindgen/xp2p/sdp.toml`).
pub type xIceSdpSetup = c_int;
pub const xIceSdpSetup_Active: xIceSdpSetup = 0;
pub const xIceSdpSetup_Passive: xIceSdpSetup = 1;
pub const xIceSdpSetup_Actpass: xIceSdpSetup = 2;

/// A decoded session description (14456 bytes with 32 candidates).
#[repr(C)]
pub struct xIceSdp {
    pub ice_ufrag: [c_char; XICE_UFRAG_MAX_LEN],
    pub ice_pwd: [c_char; XICE_PWD_MAX_LEN],
    pub trickle: bool,
    pub end_of_candidates: bool,
    pub candidates: [xIceCandidate; XICE_MAX_CANDIDATES],
    pub candidate_count: c_int,
    pub is_webrtc: bool,
    pub fingerprint: [c_char; XSDP_MAX_FINGERPRINT_LEN],
    pub setup: xIceSdpSetup,
    pub mid: [c_char; XSDP_MAX_MID_LEN],
    pub sctp_port: u16,
}

/// Copies `text` and a NUL into `out`; its length, or -1 (and an empty
/// string when `cap > 0`) if it does not fit.
unsafe fn write_out(text: &str, out: *mut c_char, cap: usize) -> c_int {
    // SAFETY: `out` is non-NULL (checked) and holds `cap` bytes (the caller's contract for the
    // encoders); at most `text.len() + 1 < cap` bytes are written.
    unsafe {
        if out.is_null() {
            return -1;
        }
        let Ok(n) = c_int::try_from(text.len()) else {
            return -1;
        };
        if text.len() >= cap {
            if cap > 0 {
                *out = 0;
            }
            return -1;
        }
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), out, text.len());
        *out.add(text.len()) = 0;
        n
    }
}

/// The Rust candidates of a C array; `None` for a negative count, a NULL
/// array with a positive count, or a candidate that cannot be written.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn c_candidates(cands: *const xIceCandidate, count: c_int) -> Option<Vec<Candidate>> {
    // SAFETY: `cands` is non-NULL (checked) and, per the encoders' contract, points to `count`
    // candidates; `count` is non-negative here.
    unsafe {
        let n = usize::try_from(count).ok()?;
        if n == 0 {
            return Some(Vec::new());
        }
        if cands.is_null() {
            return None;
        }
        std::slice::from_raw_parts(cands, n)
            .iter()
            .map(xIceCandidate::rust_candidate)
            .collect()
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn c_text(p: *const c_char) -> Option<String> {
    // SAFETY: `p` is NULL or a NUL-terminated string, per the contract of the public function that
    // passes it on.
    unsafe { cstr_bytes(p).map(|b| String::from_utf8_lossy(b).into_owned()) }
}

/// Writes the ICE-only description (spec section 4.1) into `out`: the number of
/// bytes written (without the NUL), or -1 for NULL `ufrag`/`pwd`/`out`, a
/// negative `cand_count`, NULL `candidates` with a positive count, an
/// unwritable candidate, or a result that does not fit in `out_cap`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSdpEncode(
    ufrag: *const c_char,
    pwd: *const c_char,
    candidates: *const xIceCandidate,
    cand_count: c_int,
    trickle: bool,
    out: *mut c_char,
    out_cap: usize,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `ufrag`, `pwd`, `candidates` and `out` are NULL or valid for this call, as
        // `sdp.h` requires of its caller; the boundary helpers turn NULL into an error before any
        // access.
        unsafe {
            let (Some(ufrag), Some(pwd), Some(cands)) = (
                c_text(ufrag),
                c_text(pwd),
                c_candidates(candidates, cand_count),
            ) else {
                return -1;
            };
            let text = encode_ice(&IceParams {
                ufrag: &ufrag,
                pwd: &pwd,
                candidates: &cands,
                trickle,
                end_of_candidates: false,
            });
            write_out(&text, out, out_cap)
        }
    })
}

/// Decodes `sdp_len` bytes of SDP (CRLF or LF line ends; stops at a NUL)
/// into `*out`, which is zeroed first. Keeps the first 32 candidates that
/// have an IP address (TCP and mDNS ones are skipped); `setup` is Active
/// and `sctp_port` 0 when absent. InvalidArg for NULL arguments, a missing
/// ufrag or pwd, or a data-channel description without a fingerprint.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSdpDecode(
    sdp_str: *const c_char,
    sdp_len: usize,
    out: *mut xIceSdp,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `sdp_str` and `out` are NULL or valid for this call, as `sdp.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if sdp_str.is_null() || out.is_null() {
                return xErrno_InvalidArg;
            }
            std::ptr::write_bytes(out, 0, 1);
            let out = &mut *out;
            // C string semantics: the text ends at a NUL within `sdp_len`.
            let len = libc::strnlen(sdp_str, sdp_len);
            let raw = std::slice::from_raw_parts(sdp_str.cast::<u8>(), len);
            let Ok(d) = SessionDescription::decode(&String::from_utf8_lossy(raw)) else {
                return xErrno_InvalidArg;
            };
            copy_to_c_array(&mut out.ice_ufrag, d.ufrag.as_bytes());
            copy_to_c_array(&mut out.ice_pwd, d.pwd.as_bytes());
            out.trickle = d.trickle();
            out.end_of_candidates = d.end_of_candidates;
            let kept = d
                .candidates
                .iter()
                .filter_map(xIceCandidate::from_candidate);
            for (slot, c) in out.candidates.iter_mut().zip(kept) {
                *slot = c;
                out.candidate_count += 1;
            }
            out.is_webrtc = d.is_webrtc;
            if let Some(fp) = d.fingerprint() {
                copy_to_c_array(&mut out.fingerprint, fp.text.as_bytes());
            }
            out.setup = d.setup.map_or(xIceSdpSetup_Active, Setup::code);
            if let Some(mid) = &d.mid {
                copy_to_c_array(&mut out.mid, mid.as_bytes());
            }
            out.sctp_port = d.sctp_port.unwrap_or(0);
            xErrno_Ok
        }
    })
}

/// Writes one candidate line, `a=candidate:<foundation> <component> UDP
/// <priority> <ip> <port> typ <type>[ raddr <ip> rport <port>]\r\n` (the
/// related address for srflx/prflx/relay, `0.0.0.0 0` when unset). Returns
/// the length, or -1 for NULL arguments, an unknown type, a component
/// outside 0-65535, an address that is not IPv4/IPv6, or a too-small `cap`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSdpEncodeCandidate(
    cand: *const xIceCandidate,
    out: *mut c_char,
    cap: usize,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `cand` and `out` are NULL or valid for this call, as `sdp.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(c) = opt_ref(cand).and_then(xIceCandidate::rust_candidate) else {
                return -1;
            };
            write_out(&format!("a={c}\r\n"), out, cap)
        }
    })
}

/// Parses one candidate line (`a=candidate:`, `candidate:` or bare) into
/// `*cand`, which is zeroed first; `base_addr` and `sock` stay zero,
/// `transport` is 0 for UDP and 1 for TCP. InvalidArg for NULL arguments,
/// a malformed line, or an address that is not an IP literal (mDNS).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSdpDecodeCandidate(
    line: *const c_char,
    cand: *mut xIceCandidate,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `line` and `cand` are NULL or valid for this call, as `sdp.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(line), Some(cand)) = (c_text(line), opt_mut(cand)) else {
                return xErrno_InvalidArg;
            };
            *cand = xIceCandidate::zeroed();
            match Candidate::parse(&line)
                .ok()
                .as_ref()
                .and_then(xIceCandidate::from_candidate)
            {
                Some(c) => {
                    *cand = c;
                    xErrno_Ok
                }
                None => xErrno_InvalidArg,
            }
        }
    })
}

/// Writes the WebRTC data-channel description (spec section 4.2) into `out`; an
/// unknown `setup` is written as actpass. Returns the length, or -1 for
/// NULL `ufrag`/`pwd`/`fingerprint`/`mid`/`out`, bad candidates (as for
/// `xIceSdpEncode`) or a result that does not fit in `out_cap`. No
/// `a=max-message-size` is written (the Rust encoder can add it).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xIceSdpEncodeWebRTC(
    ufrag: *const c_char,
    pwd: *const c_char,
    candidates: *const xIceCandidate,
    cand_count: c_int,
    trickle: bool,
    fingerprint: *const c_char,
    setup: xIceSdpSetup,
    mid: *const c_char,
    sctp_port: u16,
    out: *mut c_char,
    out_cap: usize,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `ufrag`, `pwd`, `candidates`, `fingerprint`, `mid` and `out` are NULL or valid
        // for this call, as `sdp.h` requires of its caller; the boundary helpers turn NULL into an
        // error before any access.
        unsafe {
            let (Some(ufrag), Some(pwd), Some(fingerprint), Some(mid), Some(cands)) = (
                c_text(ufrag),
                c_text(pwd),
                c_text(fingerprint),
                c_text(mid),
                c_candidates(candidates, cand_count),
            ) else {
                return -1;
            };
            let text = encode_webrtc(&WebRtcParams {
                ice: IceParams {
                    ufrag: &ufrag,
                    pwd: &pwd,
                    candidates: &cands,
                    trickle,
                    end_of_candidates: false,
                },
                fingerprint: &fingerprint,
                setup: Setup::from_code(i64::from(setup)).unwrap_or(Setup::Actpass),
                mid: &mid,
                sctp_port,
                max_message_size: None,
            });
            write_out(&text, out, out_cap)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::boundary::c_array_bytes;
    use crate::ffi::boundary::{std_to_storage, storage_to_std};
    use std::mem::{offset_of, size_of};

    /// The NUL-terminated text of a C char array.
    fn text(a: &[c_char]) -> &str {
        std::str::from_utf8(c_array_bytes(a)).unwrap()
    }

    fn zeroed_sdp() -> Box<xIceSdp> {
        // SAFETY: all-zero is a valid xIceSdp.
        unsafe { Box::new(std::mem::zeroed()) }
    }

    fn host(found: &str, ip: &str, prio: u32) -> xIceCandidate {
        let mut c = xIceCandidate::zeroed();
        copy_to_c_array(&mut c.foundation, found.as_bytes());
        c.component_id = 1;
        c.priority = prio;
        c.addr = std_to_storage(&ip.parse().unwrap());
        c
    }

    #[test]
    fn layout_matches_the_spec() {
        assert_eq!(size_of::<xIceSdp>(), 14456);
        assert_eq!(offset_of!(xIceSdp, ice_pwd), 64);
        assert_eq!(offset_of!(xIceSdp, trickle), 192);
        assert_eq!(offset_of!(xIceSdp, end_of_candidates), 193);
        assert_eq!(offset_of!(xIceSdp, candidates), 200);
        assert_eq!(offset_of!(xIceSdp, candidate_count), 14280);
        assert_eq!(offset_of!(xIceSdp, is_webrtc), 14284);
        assert_eq!(offset_of!(xIceSdp, fingerprint), 14285);
        assert_eq!(offset_of!(xIceSdp, setup), 14416);
        assert_eq!(offset_of!(xIceSdp, mid), 14420);
        assert_eq!(offset_of!(xIceSdp, sctp_port), 14452);
    }

    #[test]
    fn candidate_encode_decode() {
        let mut c = host("12345", "192.168.1.100:5000", 2_130_706_431);
        let mut buf = [0 as c_char; 256];
        // SAFETY: `c` is a live candidate and `buf` has the length passed.
        unsafe {
            let n = xIceSdpEncodeCandidate(&c, buf.as_mut_ptr(), buf.len());
            assert_eq!(
                text(&buf),
                "a=candidate:12345 1 UDP 2130706431 192.168.1.100 5000 typ host\r\n"
            );
            assert_eq!(n as usize, text(&buf).len());
            c.r#type = 1;
            xIceSdpEncodeCandidate(&c, buf.as_mut_ptr(), buf.len());
            assert!(text(&buf).ends_with(" typ srflx raddr 0.0.0.0 rport 0\r\n"));
            assert_eq!(xIceSdpEncodeCandidate(&c, buf.as_mut_ptr(), 10), -1);
            assert_eq!(buf[0], 0);
            assert_eq!(
                xIceSdpEncodeCandidate(std::ptr::null(), buf.as_mut_ptr(), 256),
                -1
            );
            assert_eq!(xIceSdpEncodeCandidate(&c, std::ptr::null_mut(), 256), -1);

            let mut d = xIceCandidate::zeroed();
            let line = c"candidate:1 1 udp 100 10.0.0.1 4000 typ relay raddr 1.2.3.4 rport 9";
            assert_eq!(xIceSdpDecodeCandidate(line.as_ptr(), &mut d), xErrno_Ok);
            assert_eq!(d.r#type, 3);
            assert_eq!(d.priority, 100);
            assert_eq!(
                storage_to_std(&d.rel_addr),
                Some("1.2.3.4:9".parse().unwrap())
            );
            let mdns = c"candidate:1 1 udp 100 abc.local 4000 typ host";
            assert_eq!(
                xIceSdpDecodeCandidate(mdns.as_ptr(), &mut d),
                xErrno_InvalidArg
            );
            assert_eq!(d.priority, 0);
            let tcp = c"candidate:1 1 TCP 100 10.0.0.1 9 typ host tcptype active";
            assert_eq!(xIceSdpDecodeCandidate(tcp.as_ptr(), &mut d), xErrno_Ok);
            assert_eq!(d.transport, 1);
            assert_eq!(
                xIceSdpDecodeCandidate(std::ptr::null(), &mut d),
                xErrno_InvalidArg
            );
            assert_eq!(
                xIceSdpDecodeCandidate(line.as_ptr(), std::ptr::null_mut()),
                xErrno_InvalidArg
            );
        }
    }

    #[test]
    fn full_round_trip_and_limits() {
        let cands: Vec<xIceCandidate> = (0..40)
            .map(|i| host(&i.to_string(), &format!("10.0.0.{i}:5000"), 100 + i))
            .collect();
        let mut buf = vec![0 as c_char; 16384];
        let mut sdp = zeroed_sdp();
        // SAFETY: every pointer is to a live local or a NUL-terminated literal, buffers of the
        // lengths passed.
        unsafe {
            let n = xIceSdpEncode(
                c"ufrag".as_ptr(),
                c"password".as_ptr(),
                cands.as_ptr(),
                40,
                true,
                buf.as_mut_ptr(),
                buf.len(),
            );
            assert!(n > 0);
            assert_eq!(
                xIceSdpDecode(buf.as_ptr(), n as usize, &mut *sdp),
                xErrno_Ok
            );
            assert_eq!(text(&sdp.ice_ufrag), "ufrag");
            assert_eq!(text(&sdp.ice_pwd), "password");
            assert!(sdp.trickle && !sdp.end_of_candidates && !sdp.is_webrtc);
            assert_eq!(sdp.candidate_count, 32);
            assert_eq!(text(&sdp.candidates[31].foundation), "31");
            // Too small, NULLs, negative counts.
            let small = xIceSdpEncode(
                c"u".as_ptr(),
                c"p".as_ptr(),
                cands.as_ptr(),
                40,
                true,
                buf.as_mut_ptr(),
                (n - 20) as usize,
            );
            assert_eq!(small, -1);
            assert_eq!(buf[0], 0);
            let args = |u: *const c_char, c: *const xIceCandidate, k: c_int, o: *mut c_char| {
                xIceSdpEncode(u, c"p".as_ptr(), c, k, false, o, 4096)
            };
            assert_eq!(
                args(std::ptr::null(), cands.as_ptr(), 1, buf.as_mut_ptr()),
                -1
            );
            assert_eq!(
                args(c"u".as_ptr(), std::ptr::null(), 1, buf.as_mut_ptr()),
                -1
            );
            assert_eq!(
                args(c"u".as_ptr(), cands.as_ptr(), -1, buf.as_mut_ptr()),
                -1
            );
            assert_eq!(
                args(c"u".as_ptr(), cands.as_ptr(), 1, std::ptr::null_mut()),
                -1
            );
            assert!(args(c"u".as_ptr(), std::ptr::null(), 0, buf.as_mut_ptr()) > 0);
            assert_eq!(
                xIceSdpDecode(std::ptr::null(), 10, &mut *sdp),
                xErrno_InvalidArg
            );
            assert_eq!(
                xIceSdpDecode(buf.as_ptr(), 10, std::ptr::null_mut()),
                xErrno_InvalidArg
            );
            let cut = b"a=ice-ufrag:abcd\r\n\0a=ice-pwd:efgh\r\n";
            assert_eq!(
                xIceSdpDecode(cut.as_ptr().cast(), cut.len(), &mut *sdp),
                xErrno_InvalidArg
            );
            let tail = b"a=ice-ufrag:abcd\r\na=ice-pwd:efgh\r\n\0\xff\xfe";
            assert_eq!(
                xIceSdpDecode(tail.as_ptr().cast(), tail.len(), &mut *sdp),
                xErrno_Ok
            );
            let garbage = c"garbage";
            assert_eq!(
                xIceSdpDecode(garbage.as_ptr(), 7, &mut *sdp),
                xErrno_InvalidArg
            );
        }
    }

    #[test]
    fn webrtc_encode_decode() {
        let mut buf = vec![0 as c_char; 4096];
        let mut sdp = zeroed_sdp();
        // SAFETY: every pointer is to a live local or a NUL-terminated literal, buffers of the
        // lengths passed.
        unsafe {
            let n = xIceSdpEncodeWebRTC(
                c"ufrag".as_ptr(),
                c"password".as_ptr(),
                std::ptr::null(),
                0,
                true,
                c"sha-256 AA:BB:CC".as_ptr(),
                7,
                c"0".as_ptr(),
                5000,
                buf.as_mut_ptr(),
                buf.len(),
            );
            assert!(n > 0);
            let t = text(&buf[..]);
            assert!(t.contains("a=group:BUNDLE 0\r\n"));
            assert!(t.contains("a=setup:actpass\r\n"));
            assert!(!t.contains("max-message-size"));
            assert_eq!(
                xIceSdpDecode(buf.as_ptr(), n as usize, &mut *sdp),
                xErrno_Ok
            );
            assert!(sdp.is_webrtc && sdp.trickle);
            assert_eq!(text(&sdp.fingerprint), "sha-256 AA:BB:CC");
            assert_eq!(sdp.setup, xIceSdpSetup_Actpass);
            assert_eq!(text(&sdp.mid), "0");
            assert_eq!(sdp.sctp_port, 5000);
            let null_fp = xIceSdpEncodeWebRTC(
                c"u".as_ptr(),
                c"p".as_ptr(),
                std::ptr::null(),
                0,
                false,
                std::ptr::null(),
                0,
                c"0".as_ptr(),
                5000,
                buf.as_mut_ptr(),
                buf.len(),
            );
            assert_eq!(null_fp, -1);
        }
    }
}
