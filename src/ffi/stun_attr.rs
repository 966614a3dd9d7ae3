//! `stun_attr.h`: STUN attribute writers, iterator, decoders and the
//! MESSAGE-INTEGRITY / FINGERPRINT checks, over `crate::stun`.
//!
//! Writer contract (xKit's): the writer buffer starts right after the
//! 20-byte header; writers never touch the header. MESSAGE-INTEGRITY and
//! FINGERPRINT read the header from `msg_buf` and hash it with its length
//! set as if the message ended with the attribute being written, without
//! modifying `msg_buf`.

use super::boundary::{bytes, cstr_bytes, ffi_boundary, opt_mut, opt_ref, sockaddr_to_std};
use super::boundary::{empty_storage, std_to_storage};
use super::ice_private::*;
use super::stun_msg::xStunMsg;
use crate::stun::{
    attr_at, attr_type, compute_fingerprint, compute_integrity, decode_address_prefix, pad4,
    write_attr, write_raw_attr, write_raw_attr_parts, Attribute, StunError, TransactionId,
};
use libc::{c_char, c_int, sockaddr, sockaddr_storage};
use std::net::SocketAddr;
use xbase::types::{xErrno, xErrno_InvalidArg, xErrno_NoMemory, xErrno_Ok, xErrno_Unknown};

/// Longest USERNAME value `xStunAttrWriteUsername` writes.
const MAX_USERNAME: usize = 256;

/// Appends attributes to a buffer that starts after the STUN header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct xStunAttrWriter {
    pub buf: *mut u8,
    pub cap: usize,
    /// Bytes written so far (store it as the header length).
    pub pos: usize,
}

/// Walks the attributes of a decoded message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct xStunAttrIter {
    pub data: *const u8,
    pub len: usize,
    pub pos: usize,
}

/// One attribute: type, value length (without padding) and value pointer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct xStunAttr {
    pub r#type: xStunAttrType,
    pub length: u16,
    pub value: *const u8,
}

#[cfg_attr(xp2p_device, optimize(size))]
fn errno(e: StunError) -> xErrno {
    match e {
        StunError::BufferTooSmall => xErrno_NoMemory,
        _ => xErrno_InvalidArg,
    }
}

/// The free space of a writer; `None` for NULL or a corrupt writer.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn free_space<'a>(w: &xStunAttrWriter) -> Option<&'a mut [u8]> {
    // SAFETY: a writer's `buf` holds `cap` bytes (the `xStunAttrWriterInit` contract the caller of
    // a writer function upholds); `buf` is non-NULL and `pos <= cap` were checked just above, so
    // `buf + pos .. buf + cap` is in bounds.
    unsafe {
        if w.buf.is_null() || w.pos > w.cap {
            return None;
        }
        Some(std::slice::from_raw_parts_mut(
            w.buf.add(w.pos),
            w.cap - w.pos,
        ))
    }
}

/// Runs `write` on the free space of `w` and advances `pos`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn append(
    w: *mut xStunAttrWriter,
    write: impl FnOnce(&mut [u8]) -> Result<usize, StunError>,
) -> xErrno {
    // SAFETY: `w` is NULL or a writer initialised over `cap` valid bytes, as the public writer
    // functions require of their caller; NULL is rejected by `opt_mut`.
    unsafe {
        let Some(w) = opt_mut(w) else {
            return xErrno_InvalidArg;
        };
        let Some(out) = free_space(w) else {
            return if w.buf.is_null() {
                xErrno_InvalidArg
            } else {
                xErrno_NoMemory
            };
        };
        match write(out) {
            Ok(n) => {
                w.pos += n;
                xErrno_Ok
            }
            Err(e) => errno(e),
        }
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn append_attr(w: *mut xStunAttrWriter, attr: &Attribute<'_>, id: &TransactionId) -> xErrno {
    // SAFETY: `w` is NULL or a valid writer, passed through from a public writer function whose
    // caller guarantees it.
    unsafe { append(w, |out| write_attr(out, attr, id)) }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn append_raw(w: *mut xStunAttrWriter, typ: xStunAttrType, value: &[u8]) -> xErrno {
    // SAFETY: `w` is NULL or a valid writer, passed through from a public writer function whose
    // caller guarantees it.
    unsafe { append(w, |out| write_raw_attr(out, typ as u16, value)) }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn txn_id(p: *const u8) -> Option<TransactionId> {
    // SAFETY: `p` is NULL or points to a 12-byte transaction id, as the public functions taking
    // `txn_id` require of their caller.
    unsafe { bytes(p, XSTUN_TXN_ID_SIZE)?.try_into().ok() }
}

/// Sets up `w` over `cap` bytes at `buf`, with nothing written.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriterInit(w: *mut xStunAttrWriter, buf: *mut u8, cap: usize) {
    ffi_boundary!((), {
        // SAFETY: `w` and `buf` are NULL or valid for this call, as `stun_attr.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let Some(w) = opt_mut(w) {
                *w = xStunAttrWriter { buf, cap, pos: 0 };
            }
        }
    })
}

unsafe fn write_address(
    w: *mut xStunAttrWriter,
    addr: *const sockaddr,
    id: *const u8,
    make: fn(SocketAddr) -> Attribute<'static>,
    xor: bool,
) -> xErrno {
    // SAFETY: `w`, `addr` and `id` come from the public writer functions, whose caller guarantees
    // each is NULL or valid (`addr` of its family's size, `id` 12 bytes).
    unsafe {
        let Some(a) = sockaddr_to_std(addr) else {
            return xErrno_InvalidArg;
        };
        let id = match (xor, txn_id(id)) {
            (false, _) => [0; XSTUN_TXN_ID_SIZE],
            (true, Some(id)) => id,
            (true, None) => return xErrno_InvalidArg,
        };
        append_attr(w, &make(a), &id)
    }
}

/// XOR-MAPPED-ADDRESS for an IPv4 or IPv6 `addr`. InvalidArg for NULL
/// arguments or another family; NoMemory when it does not fit.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteXorMappedAddress(
    w: *mut xStunAttrWriter,
    addr: *const sockaddr,
    txn_id: *const u8,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w`, `addr` and `txn_id` are NULL or valid for this call, as `stun_attr.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_address(w, addr, txn_id, Attribute::XorMappedAddress, true) }
    })
}

/// MAPPED-ADDRESS for an IPv4 or IPv6 `addr`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteMappedAddress(
    w: *mut xStunAttrWriter,
    addr: *const sockaddr,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `addr` are NULL or valid for this call, as `stun_attr.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_address(w, addr, std::ptr::null(), Attribute::MappedAddress, false) }
    })
}

/// USERNAME `remote_ufrag ":" local_ufrag`. InvalidArg for a NULL part,
/// NoMemory above 256 bytes or when it does not fit.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteUsername(
    w: *mut xStunAttrWriter,
    remote_ufrag: *const c_char,
    local_ufrag: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w`, `remote_ufrag` and `local_ufrag` are NULL or valid for this call, as
        // `stun_attr.h` requires of its caller; the boundary helpers turn NULL into an error before
        // any access.
        unsafe {
            let (Some(r), Some(l)) = (cstr_bytes(remote_ufrag), cstr_bytes(local_ufrag)) else {
                return xErrno_InvalidArg;
            };
            if r.len() + 1 + l.len() > MAX_USERNAME {
                return xErrno_NoMemory;
            }
            append(w, |out| {
                write_raw_attr_parts(out, xStunAttrType_Username as u16, &[r, b":", l])
            })
        }
    })
}

/// The header of the message being built, read from `msg_buf`.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn header(msg_buf: *const u8) -> Option<[u8; XSTUN_HEADER_SIZE]> {
    // SAFETY: `msg_buf` is NULL or the message buffer the writer belongs to, which starts with the
    // 20-byte header (the caller's contract for the MESSAGE-INTEGRITY/FINGERPRINT writers).
    unsafe { bytes(msg_buf, XSTUN_HEADER_SIZE)?.try_into().ok() }
}

/// Appends an attribute whose value is computed from the header and the
/// attributes written so far.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn append_check<const N: usize>(
    w: *mut xStunAttrWriter,
    msg_buf: *const u8,
    typ: xStunAttrType,
    compute: impl FnOnce(&[u8; XSTUN_HEADER_SIZE], &[u8]) -> [u8; N],
) -> xErrno {
    // SAFETY: `w` and `msg_buf` come from the MESSAGE-INTEGRITY/FINGERPRINT writers, whose caller
    // guarantees a writer over `cap` valid bytes right after the header in `msg_buf`; NULL and `pos
    // > cap` are rejected before the slices are made.
    unsafe {
        let (Some(wr), Some(head)) = (opt_ref(w), header(msg_buf)) else {
            return xErrno_InvalidArg;
        };
        if wr.buf.is_null() || wr.pos > wr.cap {
            return xErrno_InvalidArg;
        }
        if wr.cap - wr.pos < XSTUN_ATTR_HEADER_SIZE + N {
            return xErrno_NoMemory;
        }
        // Hash first with shared borrows only, then write.
        let value = compute(&head, std::slice::from_raw_parts(wr.buf, wr.pos));
        append_raw(w, typ, &value)
    }
}

/// MESSAGE-INTEGRITY: HMAC-SHA1 under `key` over the header in `msg_buf`
/// (length counting through this attribute) and the attributes written so
/// far. InvalidArg for NULL `w`, `msg_buf` or `key`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteMessageIntegrity(
    w: *mut xStunAttrWriter,
    msg_buf: *mut u8,
    key: *const u8,
    key_len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w`, `msg_buf` and `key` are NULL or valid for this call, as `stun_attr.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some(key) = bytes(key, key_len).filter(|_| !key.is_null()) else {
                return xErrno_InvalidArg;
            };
            append_check(w, msg_buf, xStunAttrType_MessageIntegrity, |h, body| {
                compute_integrity(h, body, key)
            })
        }
    })
}

/// FINGERPRINT: CRC-32 of the header in `msg_buf` (length counting
/// through this attribute) and the attributes written so far, XOR
/// 0x5354554E. InvalidArg for NULL `w` or `msg_buf`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteFingerprint(
    w: *mut xStunAttrWriter,
    msg_buf: *mut u8,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `msg_buf` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            append_check(w, msg_buf, xStunAttrType_Fingerprint, |h, body| {
                compute_fingerprint(h, body).to_be_bytes()
            })
        }
    })
}

/// PRIORITY (4 bytes).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWritePriority(w: *mut xStunAttrWriter, priority: u32) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { append_raw(w, xStunAttrType_Priority, &priority.to_be_bytes()) }
    })
}

/// USE-CANDIDATE (empty).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteUseCandidate(w: *mut xStunAttrWriter) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { append_raw(w, xStunAttrType_UseCandidate, &[]) }
    })
}

/// ICE-CONTROLLING with a 64-bit tie-breaker.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteIceControlling(
    w: *mut xStunAttrWriter,
    tie_breaker: u64,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { append_raw(w, xStunAttrType_IceControlling, &tie_breaker.to_be_bytes()) }
    })
}

/// ICE-CONTROLLED with a 64-bit tie-breaker.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteIceControlled(
    w: *mut xStunAttrWriter,
    tie_breaker: u64,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { append_raw(w, xStunAttrType_IceControlled, &tie_breaker.to_be_bytes()) }
    })
}

/// ERROR-CODE: `code` 300..=699 (else InvalidArg) and the reason phrase
/// (NULL = none).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteErrorCode(
    w: *mut xStunAttrWriter,
    code: c_int,
    reason: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `reason` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if !(300..=699).contains(&code) {
                return xErrno_InvalidArg;
            }
            let reason = cstr_bytes(reason).unwrap_or_default();
            let head = [0, 0, (code / 100) as u8, (code % 100) as u8];
            append(w, |out| {
                write_raw_attr_parts(out, xStunAttrType_ErrorCode as u16, &[&head, reason])
            })
        }
    })
}

unsafe fn write_text(w: *mut xStunAttrWriter, typ: xStunAttrType, s: *const c_char) -> xErrno {
    // SAFETY: `w` and `s` come from a public writer function whose caller guarantees a valid writer
    // (or NULL) and a NUL-terminated string (or NULL).
    unsafe {
        match cstr_bytes(s) {
            Some(v) => append_raw(w, typ, v),
            None => xErrno_InvalidArg,
        }
    }
}

/// REALM (string without its NUL; NULL → InvalidArg).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteRealm(
    w: *mut xStunAttrWriter,
    realm: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `realm` are NULL or valid for this call, as `stun_attr.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_text(w, xStunAttrType_Realm, realm) }
    })
}

/// NONCE (string without its NUL; NULL → InvalidArg).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteNonce(
    w: *mut xStunAttrWriter,
    nonce: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `nonce` are NULL or valid for this call, as `stun_attr.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_text(w, xStunAttrType_Nonce, nonce) }
    })
}

/// LIFETIME in seconds (4 bytes).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteLifetime(w: *mut xStunAttrWriter, lifetime: u32) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe { append_raw(w, xStunAttrType_Lifetime, &lifetime.to_be_bytes()) }
    })
}

/// REQUESTED-TRANSPORT, the 4-byte value as given (`XTURN_TRANSPORT_UDP`).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteRequestedTransport(
    w: *mut xStunAttrWriter,
    transport: u32,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe {
            append_raw(
                w,
                xStunAttrType_RequestedTransport,
                &transport.to_be_bytes(),
            )
        }
    })
}

/// XOR-PEER-ADDRESS for an IPv4 or IPv6 `addr`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteXorPeerAddress(
    w: *mut xStunAttrWriter,
    addr: *const sockaddr,
    txn_id: *const u8,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w`, `addr` and `txn_id` are NULL or valid for this call, as `stun_attr.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_address(w, addr, txn_id, Attribute::XorPeerAddress, true) }
    })
}

/// CHANNEL-NUMBER: the channel then two zero bytes.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteChannelNumber(
    w: *mut xStunAttrWriter,
    channel: u16,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` is NULL or valid for this call, as `stun_attr.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe {
            let c = channel.to_be_bytes();
            append_raw(w, xStunAttrType_ChannelNumber, &[c[0], c[1], 0, 0])
        }
    })
}

/// DATA: `len` raw bytes (InvalidArg for NULL `data` with a non-zero `len`).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteData(
    w: *mut xStunAttrWriter,
    data: *const u8,
    len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `data` are NULL or valid for this call, as `stun_attr.h` requires of its
        // caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            match bytes(data, len) {
                Some(v) => append_raw(w, xStunAttrType_Data, v),
                None => xErrno_InvalidArg,
            }
        }
    })
}

/// SOFTWARE (string without its NUL; NULL → InvalidArg).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrWriteSoftware(
    w: *mut xStunAttrWriter,
    software: *const c_char,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `w` and `software` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe { write_text(w, xStunAttrType_Software, software) }
    })
}

/// Points `iter` at the attributes of `msg` (none for NULL `msg`).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrIterInit(iter: *mut xStunAttrIter, msg: *const xStunMsg) {
    ffi_boundary!((), {
        // SAFETY: `iter` and `msg` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            if let Some(it) = opt_mut(iter) {
                *it = match opt_ref(msg) {
                    Some(m) if !m.attrs.is_null() => xStunAttrIter {
                        data: m.attrs,
                        len: usize::from(m.attrs_len),
                        pos: 0,
                    },
                    _ => xStunAttrIter {
                        data: std::ptr::null(),
                        len: 0,
                        pos: 0,
                    },
                };
            }
        }
    })
}

/// Stores the next attribute in `attr` and returns true; false at the end
/// (fewer than 4 bytes left, or a value running past the end) or for NULL
/// arguments.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrIterNext(iter: *mut xStunAttrIter, attr: *mut xStunAttr) -> bool {
    ffi_boundary!(false, {
        // SAFETY: `iter` and `attr` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some(it), Some(out)) = (opt_mut(iter), opt_mut(attr)) else {
                return false;
            };
            if it.data.is_null() || it.pos >= it.len {
                return false;
            }
            let data = std::slice::from_raw_parts(it.data, it.len);
            let Some(a) = attr_at(data, it.pos) else {
                it.pos = it.len;
                return false;
            };
            *out = xStunAttr {
                r#type: xStunAttrType::from(a.typ),
                length: a.value.len() as u16,
                value: a.value.as_ptr(),
            };
            it.pos = (a.offset + XSTUN_ATTR_HEADER_SIZE + pad4(a.value.len())).min(it.len);
            true
        }
    })
}

/// The value of a C attribute; `None` for NULL or a NULL value with a
/// non-zero length.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn attr_value<'a>(attr: *const xStunAttr) -> Option<&'a [u8]> {
    // SAFETY: `attr` is NULL or an attribute filled by `xStunAttrIterNext`, whose `value` points to
    // `length` bytes of the message the caller keeps alive.
    unsafe {
        let a = opt_ref(attr)?;
        bytes(a.value, usize::from(a.length))
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn decode_address(
    attr: *const xStunAttr,
    id: Option<TransactionId>,
    out: *mut sockaddr_storage,
) -> xErrno {
    // SAFETY: `attr` and `out` come from the public decoders, whose caller guarantees each is NULL
    // or valid; NULL is rejected before any access.
    unsafe {
        let (Some(v), Some(out)) = (attr_value(attr), opt_mut(out)) else {
            return xErrno_InvalidArg;
        };
        match decode_address_prefix(v, id.as_ref()) {
            Ok(a) => {
                *out = std_to_storage(&a);
                xErrno_Ok
            }
            Err(_) => {
                *out = empty_storage();
                xErrno_InvalidArg
            }
        }
    }
}

/// Decodes an XOR-MAPPED-ADDRESS (or XOR-PEER/RELAYED-ADDRESS) value into
/// `out`. InvalidArg for NULL arguments, a short value (< 8 bytes IPv4,
/// < 20 IPv6) or an unknown family.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrDecodeXorMappedAddress(
    attr: *const xStunAttr,
    txn_id: *const u8,
    out: *mut sockaddr_storage,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `attr`, `txn_id` and `out` are NULL or valid for this call, as `stun_attr.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            match self::txn_id(txn_id) {
                Some(id) => decode_address(attr, Some(id), out),
                None => xErrno_InvalidArg,
            }
        }
    })
}

/// Decodes a MAPPED-ADDRESS value into `out`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrDecodeMappedAddress(
    attr: *const xStunAttr,
    out: *mut sockaddr_storage,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `attr` and `out` are NULL or valid for this call, as `stun_attr.h` requires of
        // its caller; the boundary helpers turn NULL into an error before any access.
        unsafe { decode_address(attr, None, out) }
    })
}

/// Decodes ERROR-CODE: `*code` = class·100 + number; `reason` and
/// `reason_len` (both optional) get the phrase, NULL/0 when there is none.
/// InvalidArg for NULL `attr`/`code` or a value shorter than 4 bytes.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrDecodeErrorCode(
    attr: *const xStunAttr,
    code: *mut c_int,
    reason: *mut *const c_char,
    reason_len: *mut usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `attr`, `code`, `reason` and `reason_len` are NULL or valid for this call, as
        // `stun_attr.h` requires of its caller; the boundary helpers turn NULL into an error before
        // any access.
        unsafe {
            let (Some(v), Some(code)) = (attr_value(attr), opt_mut(code)) else {
                return xErrno_InvalidArg;
            };
            if v.len() < 4 {
                return xErrno_InvalidArg;
            }
            *code = c_int::from(v[2] & 0x07) * 100 + c_int::from(v[3]);
            let phrase = &v[4..];
            if let Some(r) = opt_mut(reason) {
                *r = if phrase.is_empty() {
                    std::ptr::null()
                } else {
                    phrase.as_ptr().cast()
                };
            }
            if let Some(n) = opt_mut(reason_len) {
                *n = phrase.len();
            }
            xErrno_Ok
        }
    })
}

/// The message prefix before `attr` (which must lie inside the
/// `msg_len`-byte message at `msg_buf`, after the header) split into the
/// header and the attributes before it, with the attribute's value.
#[cfg_attr(xp2p_device, optimize(size))]
unsafe fn prefix_of<'a>(
    msg_buf: *const u8,
    msg_len: usize,
    attr: *const xStunAttr,
) -> Option<(&'a [u8; XSTUN_HEADER_SIZE], &'a [u8], &'a [u8])> {
    // SAFETY: `msg_buf` holds `msg_len` bytes and `attr.value` points into it (the verify
    // functions' contract); the offsets are checked against `msg_len` before the slices are made.
    unsafe {
        let a = opt_ref(attr)?;
        if msg_buf.is_null() || a.value.is_null() {
            return None;
        }
        let start = (a.value as usize).checked_sub(msg_buf as usize)?;
        let end = start.checked_add(usize::from(a.length))?;
        if start < XSTUN_HEADER_SIZE + XSTUN_ATTR_HEADER_SIZE || end > msg_len {
            return None;
        }
        let msg = std::slice::from_raw_parts(msg_buf, msg_len);
        let (head, rest) = msg.split_at(XSTUN_HEADER_SIZE);
        let body = &rest[..start - XSTUN_ATTR_HEADER_SIZE - XSTUN_HEADER_SIZE];
        Some((head.try_into().ok()?, body, &msg[start..end]))
    }
}

/// Checks a MESSAGE-INTEGRITY attribute found in the message at `msg_buf`
/// with `key`. Ok on match; InvalidArg on mismatch, a value that is not 20
/// bytes, NULL arguments, or an attribute outside the `msg_len`-byte
/// message.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrVerifyMessageIntegrity(
    msg_buf: *const u8,
    msg_len: usize,
    attr: *const xStunAttr,
    key: *const u8,
    key_len: usize,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `msg_buf`, `attr` and `key` are NULL or valid for this call, as `stun_attr.h`
        // requires of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let (Some((head, body, value)), Some(key)) = (
                prefix_of(msg_buf, msg_len, attr),
                bytes(key, key_len).filter(|_| !key.is_null()),
            ) else {
                return xErrno_InvalidArg;
            };
            if value.len() != XSTUN_SHA1_DIGEST_SIZE {
                return xErrno_InvalidArg;
            }
            let mac = compute_integrity(head, body, key);
            if mac.iter().zip(value).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0 {
                xErrno_Ok
            } else {
                xErrno_InvalidArg
            }
        }
    })
}

/// Checks a FINGERPRINT attribute found in the message at `msg_buf`. Ok on
/// match; InvalidArg on mismatch, a value that is not 4 bytes, NULL
/// arguments, or an attribute outside the `msg_len`-byte message.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xStunAttrVerifyFingerprint(
    msg_buf: *const u8,
    msg_len: usize,
    attr: *const xStunAttr,
) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `msg_buf` and `attr` are NULL or valid for this call, as `stun_attr.h` requires
        // of its caller; the boundary helpers turn NULL into an error before any access.
        unsafe {
            let Some((head, body, value)) = prefix_of(msg_buf, msg_len, attr) else {
                return xErrno_InvalidArg;
            };
            match <[u8; 4]>::try_from(value) {
                Ok(v) if u32::from_be_bytes(v) == compute_fingerprint(head, body) => xErrno_Ok,
                _ => xErrno_InvalidArg,
            }
        }
    })
}

// Keep the attribute-type numbers of the Rust codec and the C enum in step.
const _: () = {
    assert!(attr_type::FINGERPRINT as xStunAttrType == xStunAttrType_Fingerprint);
    assert!(attr_type::MESSAGE_INTEGRITY as xStunAttrType == xStunAttrType_MessageIntegrity);
    assert!(attr_type::XOR_MAPPED_ADDRESS as xStunAttrType == xStunAttrType_XorMappedAddress);
    assert!(attr_type::ICE_CONTROLLING as xStunAttrType == xStunAttrType_IceControlling);
    assert!(attr_type::REQUESTED_TRANSPORT as xStunAttrType == xStunAttrType_RequestedTransport);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::stun_msg::{xStunMsgDecode, xStunMsgEncode, xStunMsgInit};
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_the_spec() {
        assert_eq!(size_of::<xStunAttrWriter>(), 24);
        assert_eq!(size_of::<xStunAttrIter>(), 24);
        assert_eq!(size_of::<xStunAttr>(), 16);
        assert_eq!(offset_of!(xStunAttr, length), 4);
        assert_eq!(offset_of!(xStunAttr, value), 8);
    }

    /// Builds a Binding request with the given writers, in place after the
    /// header, and returns the whole message.
    unsafe fn build(f: impl FnOnce(*mut xStunAttrWriter, *mut u8)) -> Vec<u8> {
        // SAFETY: test helper: every pointer passed points into the local 512-byte buffer or to
        // locals that outlive the calls.
        unsafe {
            let mut buf = [0u8; 512];
            let id = [7u8; 12];
            let mut msg: xStunMsg = std::mem::zeroed();
            xStunMsgInit(&mut msg, xStunMsgType_BindingRequest, id.as_ptr());
            xStunMsgEncode(&msg, buf.as_mut_ptr(), buf.len());
            let mut w: xStunAttrWriter = std::mem::zeroed();
            xStunAttrWriterInit(&mut w, buf.as_mut_ptr().add(20), buf.len() - 20);
            f(&mut w, buf.as_mut_ptr());
            msg.attrs_len = w.pos as u16;
            let n = xStunMsgEncode(&msg, buf.as_mut_ptr(), buf.len());
            buf[..n as usize].to_vec()
        }
    }

    #[test]
    fn written_message_parses_and_verifies_in_rust() {
        // SAFETY: the writers get the writer and buffer `build` set up over its local buffer.
        unsafe {
            let bytes = build(|w, mb| {
                assert_eq!(xStunAttrWriteUsername(w, c"ab".as_ptr(), c"cd".as_ptr()), 0);
                assert_eq!((*w).pos, 12);
                assert_eq!(xStunAttrWritePriority(w, 0x6e0001ff), 0);
                assert_eq!(xStunAttrWriteIceControlling(w, 0x0102030405060708), 0);
                assert_eq!(xStunAttrWriteUseCandidate(w), 0);
                assert_eq!(xStunAttrWriteMessageIntegrity(w, mb, b"pw".as_ptr(), 2), 0);
                assert_eq!(xStunAttrWriteFingerprint(w, mb), 0);
            });
            let m = crate::stun::Message::parse(&bytes).unwrap();
            assert_eq!(m.verify_integrity(b"pw"), Ok(()));
            assert_eq!(m.verify_fingerprint(), Ok(()));
            let u = m.decode(attr_type::USERNAME).unwrap().unwrap();
            assert_eq!(u, Attribute::Username("ab:cd"));
            assert_eq!(
                m.decode(attr_type::ICE_CONTROLLING),
                Some(Ok(Attribute::IceControlling(0x0102030405060708)))
            );
        }
    }

    #[test]
    fn iterate_decode_and_verify_in_c() {
        // SAFETY: every pointer is to a live local buffer, message or address of the size the
        // callee expects.
        unsafe {
            let addr: SocketAddr = "[2001:db8::5]:4242".parse().unwrap();
            let ss = std_to_storage(&addr);
            let sa: *const sockaddr = std::ptr::addr_of!(ss).cast();
            let id = [7u8; 12];
            let bytes = build(|w, mb| {
                assert_eq!(xStunAttrWriteXorMappedAddress(w, sa, id.as_ptr()), 0);
                assert_eq!(xStunAttrWriteErrorCode(w, 401, c"Unauthorized".as_ptr()), 0);
                assert_eq!(xStunAttrWriteMessageIntegrity(w, mb, b"k".as_ptr(), 1), 0);
                assert_eq!(xStunAttrWriteFingerprint(w, mb), 0);
            });
            let mut msg: xStunMsg = std::mem::zeroed();
            assert_eq!(xStunMsgDecode(&mut msg, bytes.as_ptr(), bytes.len()), 0);
            let mut it: xStunAttrIter = std::mem::zeroed();
            xStunAttrIterInit(&mut it, &msg);
            let mut a: xStunAttr = std::mem::zeroed();
            let mut types = Vec::new();
            while xStunAttrIterNext(&mut it, &mut a) {
                types.push(a.r#type);
                match a.r#type {
                    xStunAttrType_XorMappedAddress => {
                        let mut out = empty_storage();
                        let rc = xStunAttrDecodeXorMappedAddress(&a, msg.txn_id.as_ptr(), &mut out);
                        assert_eq!(rc, xErrno_Ok);
                        assert_eq!(crate::ffi::boundary::storage_to_std(&out), Some(addr));
                    }
                    xStunAttrType_ErrorCode => {
                        let (mut code, mut r, mut n) = (0, std::ptr::null(), 0usize);
                        assert_eq!(xStunAttrDecodeErrorCode(&a, &mut code, &mut r, &mut n), 0);
                        assert_eq!(code, 401);
                        assert_eq!(
                            std::slice::from_raw_parts(r.cast::<u8>(), n),
                            b"Unauthorized"
                        );
                    }
                    xStunAttrType_MessageIntegrity => {
                        let p = bytes.as_ptr();
                        let n = bytes.len();
                        assert_eq!(
                            xStunAttrVerifyMessageIntegrity(p, n, &a, b"k".as_ptr(), 1),
                            0
                        );
                        assert_eq!(
                            xStunAttrVerifyMessageIntegrity(p, n, &a, b"x".as_ptr(), 1),
                            xErrno_InvalidArg
                        );
                        // An attribute outside the message is refused.
                        assert_eq!(
                            xStunAttrVerifyMessageIntegrity(p, 30, &a, b"k".as_ptr(), 1),
                            xErrno_InvalidArg
                        );
                    }
                    xStunAttrType_Fingerprint => {
                        let rc = xStunAttrVerifyFingerprint(bytes.as_ptr(), bytes.len(), &a);
                        assert_eq!(rc, xErrno_Ok);
                    }
                    t => panic!("unexpected attribute {t:#x}"),
                }
            }
            assert_eq!(types.len(), 4);
        }
    }

    #[test]
    fn writer_errors() {
        // SAFETY: every pointer is to a live local buffer of the capacity passed, or NULL where the
        // test checks NULL.
        unsafe {
            let mut small = [0u8; 8];
            let mut w: xStunAttrWriter = std::mem::zeroed();
            xStunAttrWriterInit(&mut w, small.as_mut_ptr(), small.len());
            assert_eq!(xStunAttrWritePriority(&mut w, 1), xErrno_Ok);
            assert_eq!(xStunAttrWritePriority(&mut w, 1), xErrno_NoMemory);
            assert_eq!(w.pos, 8);
            assert_eq!(
                xStunAttrWritePriority(std::ptr::null_mut(), 1),
                xErrno_InvalidArg
            );
            let long = std::ffi::CString::new(vec![b'a'; 200]).unwrap();
            let mut big = [0u8; 1024];
            xStunAttrWriterInit(&mut w, big.as_mut_ptr(), big.len());
            assert_eq!(
                xStunAttrWriteUsername(&mut w, long.as_ptr(), long.as_ptr()),
                xErrno_NoMemory
            );
            assert_eq!(
                xStunAttrWriteUsername(&mut w, std::ptr::null(), c"x".as_ptr()),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunAttrWriteErrorCode(&mut w, 299, std::ptr::null()),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunAttrWriteErrorCode(&mut w, 700, std::ptr::null()),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunAttrWriteRealm(&mut w, std::ptr::null()),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunAttrWriteMessageIntegrity(&mut w, big.as_mut_ptr(), std::ptr::null(), 0),
                xErrno_InvalidArg
            );
            assert_eq!(
                xStunAttrWriteFingerprint(&mut w, std::ptr::null_mut()),
                xErrno_InvalidArg
            );
            let unspec = empty_storage();
            let up = std::ptr::addr_of!(unspec).cast();
            assert_eq!(xStunAttrWriteMappedAddress(&mut w, up), xErrno_InvalidArg);
            assert_eq!(w.pos, 0);
            assert_eq!(xStunAttrWriteChannelNumber(&mut w, 0x4001), 0);
            assert_eq!(&big[..8], &[0, 0x0C, 0, 4, 0x40, 0x01, 0, 0]);
            assert_eq!(
                xStunAttrWriteRequestedTransport(&mut w, XTURN_TRANSPORT_UDP),
                0
            );
            assert_eq!(&big[8..16], &[0, 0x19, 0, 4, 0x11, 0, 0, 0]);
            assert_eq!(xStunAttrWriteData(&mut w, b"abcde".as_ptr(), 5), 0);
            assert_eq!(
                &big[16..28],
                &[0, 0x13, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]
            );
            assert_eq!(
                xStunAttrWriteData(&mut w, std::ptr::null(), 1),
                xErrno_InvalidArg
            );
        }
    }

    #[test]
    fn iterator_stops_on_truncation_and_decoders_check_lengths() {
        // SAFETY: the iterator and decoders read only the local message buffer of the length
        // passed.
        unsafe {
            // PRIORITY, then an attribute claiming 8 bytes with only 4 left.
            let body = [0u8, 0x24, 0, 4, 1, 2, 3, 4, 0x80, 0x22, 0, 8, 1, 2, 3, 4];
            let mut msg: xStunMsg = std::mem::zeroed();
            msg.attrs = body.as_ptr();
            msg.attrs_len = body.len() as u16;
            let mut it: xStunAttrIter = std::mem::zeroed();
            xStunAttrIterInit(&mut it, &msg);
            let mut a: xStunAttr = std::mem::zeroed();
            assert!(xStunAttrIterNext(&mut it, &mut a));
            assert_eq!((a.r#type, a.length), (xStunAttrType_Priority, 4));
            assert!(!xStunAttrIterNext(&mut it, &mut a));
            assert!(!xStunAttrIterNext(&mut it, &mut a));
            xStunAttrIterInit(&mut it, std::ptr::null());
            assert!(!xStunAttrIterNext(&mut it, &mut a));
            assert!(!xStunAttrIterNext(std::ptr::null_mut(), &mut a));
            let short = [0u8, 1, 0, 0, 1, 2, 3];
            let a = xStunAttr {
                r#type: xStunAttrType_MappedAddress,
                length: short.len() as u16,
                value: short.as_ptr(),
            };
            let mut out = empty_storage();
            assert_eq!(
                xStunAttrDecodeMappedAddress(&a, &mut out),
                xErrno_InvalidArg
            );
            let fam3 = [0u8, 3, 0, 0, 1, 2, 3, 4];
            let a = xStunAttr {
                length: 8,
                value: fam3.as_ptr(),
                ..a
            };
            assert_eq!(
                xStunAttrDecodeMappedAddress(&a, &mut out),
                xErrno_InvalidArg
            );
            // Longer than needed is accepted (lenient C rule).
            let v4 = [0u8, 1, 0x12, 0x34, 10, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF];
            let a = xStunAttr {
                length: 12,
                value: v4.as_ptr(),
                ..a
            };
            assert_eq!(xStunAttrDecodeMappedAddress(&a, &mut out), xErrno_Ok);
            let expect: SocketAddr = "10.0.0.1:4660".parse().unwrap();
            assert_eq!(crate::ffi::boundary::storage_to_std(&out), Some(expect));
            assert_eq!(
                xStunAttrDecodeMappedAddress(std::ptr::null(), &mut out),
                xErrno_InvalidArg
            );
            let mut code = 0;
            let e = [0u8, 0, 4];
            let a = xStunAttr {
                length: 3,
                value: e.as_ptr(),
                ..a
            };
            let np = std::ptr::null_mut();
            assert_eq!(
                xStunAttrDecodeErrorCode(&a, &mut code, np, np.cast()),
                xErrno_InvalidArg
            );
            let e = [0u8, 0, 4, 87];
            let a = xStunAttr {
                length: 4,
                value: e.as_ptr(),
                ..a
            };
            let mut r: *const c_char = c"x".as_ptr();
            let mut n = 9usize;
            assert_eq!(
                xStunAttrDecodeErrorCode(&a, &mut code, &mut r, &mut n),
                xErrno_Ok
            );
            assert_eq!((code, r.is_null(), n), (487, true, 0));
        }
    }
}
