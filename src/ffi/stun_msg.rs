//! `stun_msg.h`: the STUN message header as a C struct, with the lenient
//! acceptance rules of xKit's decoder (see `stun::Header`). The class
//! predicates are `static inline` C text in `cbindgen/xp2p/stun_msg.toml`.

use super::boundary::{bytes, ffi_boundary, opt_mut, opt_ref};
use super::ice_private::{xStunMsgType, XSTUN_HEADER_SIZE, XSTUN_TXN_ID_SIZE};
use crate::stun::{looks_like_stun, Header};
use libc::c_int;
use xbase::types::{xErrno, xErrno_InvalidArg, xErrno_Ok, xErrno_Unknown};

/// A STUN message header plus a view of its attribute bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct xStunMsg {
    /// Message type (method and class bits).
    pub r#type: xStunMsgType,
    /// Length field of a decoded message (ignored by `xStunMsgEncode`).
    pub length: u16,
    pub txn_id: [u8; XSTUN_TXN_ID_SIZE],
    /// Attribute bytes (after the header); NULL when there are none.
    pub attrs: *const u8,
    pub attrs_len: u16,
}

/// Zeroes `msg`, then sets its type and copies the 12-byte transaction id
/// (left zero when `txn_id` is NULL). NULL `msg`: nothing happens.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunMsgInit(msg: *mut xStunMsg, r#type: xStunMsgType, txn_id: *const u8) {
    ffi_boundary!((), {
        // SAFETY: `msg` and `txn_id` are NULL or valid for this call, as `stun_msg.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let Some(m) = opt_mut(msg) {
                *m = xStunMsg {
                    r#type,
                    length: 0,
                    txn_id: [0; XSTUN_TXN_ID_SIZE],
                    attrs: std::ptr::null(),
                    attrs_len: 0,
                };
                if let Some(id) = bytes(txn_id, XSTUN_TXN_ID_SIZE) {
                    m.txn_id.copy_from_slice(id);
                }
            }
        }
    })
}

/// Writes the header (type, length = `attrs_len`, magic cookie, txn id)
/// and the attribute bytes into `buf`. Returns the bytes written
/// (20 + `attrs_len`), or -1 for NULL `msg`/`buf` or a buffer shorter than
/// that. With NULL `attrs` only the header is written, so attributes
/// already built in place at `buf + 20` are kept.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunMsgEncode(
    msg: *const xStunMsg,
    buf: *mut u8,
    buf_len: usize,
) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: `msg` and `buf` are NULL or valid for this call, as `stun_msg.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(m) = opt_ref(msg) else { return -1 };
            let total = XSTUN_HEADER_SIZE + usize::from(m.attrs_len);
            if buf.is_null() || buf_len < total {
                return -1;
            }
            if !m.attrs.is_null() {
                // Raw copy: `attrs` may already sit in `buf` after the header.
                std::ptr::copy(
                    m.attrs,
                    buf.add(XSTUN_HEADER_SIZE),
                    usize::from(m.attrs_len),
                );
            }
            let mut head = [0u8; XSTUN_HEADER_SIZE];
            Header {
                typ: m.r#type as u16,
                length: m.attrs_len,
                txn_id: m.txn_id,
            }
            .write(&mut head);
            std::ptr::copy_nonoverlapping(head.as_ptr(), buf, XSTUN_HEADER_SIZE);
            total as c_int
        }
    })
}

/// Reads the header of `buf` into `msg`; `attrs` points into `buf` (NULL
/// when the length is 0). InvalidArg for NULL arguments, fewer than 20
/// bytes, a top bit set, a wrong magic cookie or a length running past
/// `buf_len`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunMsgDecode(
    msg: *mut xStunMsg,
    buf: *const u8,
    buf_len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `msg` and `buf` are NULL or valid for this call, as `stun_msg.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(m), false) = (opt_mut(msg), buf.is_null()) else {
                return xErrno_InvalidArg;
            };
            let Some(h) = bytes(buf, buf_len).and_then(Header::parse) else {
                return xErrno_InvalidArg;
            };
            *m = xStunMsg {
                r#type: xStunMsgType::from(h.typ),
                length: h.length,
                txn_id: h.txn_id,
                attrs: if h.length == 0 {
                    std::ptr::null()
                } else {
                    buf.add(XSTUN_HEADER_SIZE)
                },
                attrs_len: h.length,
            };
            xErrno_Ok
        }
    })
}

/// Whether `buf` starts with a STUN header: at least 20 bytes, top two bits
/// zero and the magic cookie. False for NULL.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunMsgIsStun(buf: *const u8, buf_len: usize) -> bool {
    ffi_boundary!(false, {
        // SAFETY: `buf` is NULL or valid for this call, as `stun_msg.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { !buf.is_null() && bytes(buf, buf_len).is_some_and(looks_like_stun) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::ice_private::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_the_spec() {
        assert_eq!(size_of::<xStunMsg>(), 40);
        assert_eq!(offset_of!(xStunMsg, r#type), 0);
        assert_eq!(offset_of!(xStunMsg, length), 4);
        assert_eq!(offset_of!(xStunMsg, txn_id), 6);
        assert_eq!(offset_of!(xStunMsg, attrs), 24);
        assert_eq!(offset_of!(xStunMsg, attrs_len), 32);
    }

    #[test]
    fn encode_decode_round_trip_with_payload() {
        // SAFETY: every pointer is to a live local buffer or message of the size passed.
        unsafe {
            let id: [u8; 12] = *b"abcdefghijkl";
            let mut m: xStunMsg = std::mem::zeroed();
            xStunMsgInit(&mut m, xStunMsgType_BindingRequest, id.as_ptr());
            let payload = [0u8, 0x24, 0, 4, 1, 2, 3, 4, 0, 0x25, 0, 0];
            m.attrs = payload.as_ptr();
            m.attrs_len = payload.len() as u16;
            let mut buf = [0u8; 64];
            assert_eq!(xStunMsgEncode(&m, buf.as_mut_ptr(), 31), -1);
            assert_eq!(xStunMsgEncode(&m, buf.as_mut_ptr(), buf.len()), 32);
            assert!(xStunMsgIsStun(buf.as_ptr(), 32));
            let mut d: xStunMsg = std::mem::zeroed();
            assert_eq!(xStunMsgDecode(&mut d, buf.as_ptr(), 32), xErrno_Ok);
            assert_eq!(d.r#type, xStunMsgType_BindingRequest);
            assert_eq!((d.length, d.attrs_len), (12, 12));
            assert_eq!(d.txn_id, id);
            assert_eq!(std::slice::from_raw_parts(d.attrs, 12), &payload);
            assert_eq!(xStunMsgDecode(&mut d, buf.as_ptr(), 31), xErrno_InvalidArg);
            assert_eq!(
                xStunMsgDecode(std::ptr::null_mut(), buf.as_ptr(), 32),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunMsgDecode(&mut d, std::ptr::null(), 32),
                xErrno_InvalidArg
            );
            assert_eq!(xStunMsgEncode(std::ptr::null(), buf.as_mut_ptr(), 64), -1);
            assert!(!xStunMsgIsStun(std::ptr::null(), 32));
            // Header only: attrs NULL.
            xStunMsgInit(&mut m, xStunMsgType_BindingResponse, std::ptr::null());
            assert_eq!(m.txn_id, [0; 12]);
            assert_eq!(xStunMsgEncode(&m, buf.as_mut_ptr(), 20), 20);
            assert_eq!(xStunMsgDecode(&mut d, buf.as_ptr(), 20), xErrno_Ok);
            assert!(d.attrs.is_null());
            assert_eq!(d.r#type, xStunMsgType_BindingResponse);
        }
    }
}
