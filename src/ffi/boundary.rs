//! The one FFI boundary: every `extern "C"` body runs inside `ffi_boundary!`,
//! and the helpers here turn C pointers into checked Rust values.

use libc::{c_char, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage};
use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Runs an `extern "C"` body behind `catch_unwind` (the macro libxbase
/// uses too): a panic returns the given fallback instead of unwinding into
/// C. `tests/ffi_boundary.rs` checks that every exported function starts
/// with it.
pub(crate) use xbase::ffi_boundary;

/// A shared reference from a C pointer, `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a valid `T` for `'a`.
pub(crate) unsafe fn opt_ref<'a, T>(p: *const T) -> Option<&'a T> {
    // SAFETY: the caller guarantees (# Safety) that a non-NULL `p` points to a valid `T` for `'a`;
    // `as_ref` maps NULL to `None`.
    unsafe { p.as_ref() }
}

/// A mutable reference from a C pointer, `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a valid, unaliased `T` for `'a`.
pub(crate) unsafe fn opt_mut<'a, T>(p: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller guarantees (# Safety) that a non-NULL `p` points to a valid, unaliased `T`
    // for `'a`; `as_mut` maps NULL to `None`.
    unsafe { p.as_mut() }
}

/// A byte slice from a C pointer and length: empty for length 0 (any
/// pointer), `None` for NULL with a non-zero length.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    // SAFETY: `p` is non-NULL here and `len` > 0, and the caller guarantees (# Safety) `len`
    // readable bytes at `p` for `'a`.
    unsafe {
        if len == 0 {
            Some(&[])
        } else if p.is_null() {
            None
        } else {
            Some(std::slice::from_raw_parts(p, len))
        }
    }
}

/// A C string as bytes (without the NUL), `None` for NULL.
///
/// # Safety
/// A non-NULL `p` must point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn cstr_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: `p` is non-NULL here, and the caller guarantees (# Safety) a NUL-terminated string at
    // `p` valid for `'a`.
    unsafe {
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_bytes())
        }
    }
}

/// Copies `src` into a fixed C char array, truncating to leave room for the
/// NUL, and zero-fills the rest.
pub(crate) fn copy_to_c_array(dst: &mut [c_char], src: &[u8]) {
    let n = src.len().min(dst.len().saturating_sub(1));
    for (d, s) in dst.iter_mut().zip(&src[..n]) {
        *d = *s as c_char;
    }
    for d in dst.iter_mut().skip(n) {
        *d = 0;
    }
}

/// The bytes of a NUL-terminated C char array (up to the first NUL or the end).
pub(crate) fn c_array_bytes(src: &[c_char]) -> &[u8] {
    let n = src.iter().position(|&c| c == 0).unwrap_or(src.len());
    // SAFETY: c_char and u8 have the same size and alignment.
    unsafe { std::slice::from_raw_parts(src.as_ptr().cast::<u8>(), n) }
}

/// Copies `text` into a `malloc`ed C string the caller frees with `free()`;
/// NULL when allocation fails.
pub(crate) fn malloc_string(text: &str) -> *mut c_char {
    // SAFETY: plain allocation, filled and terminated below.
    let p = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: p has text.len() + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
            *p.add(text.len()) = 0;
        }
    }
    p.cast()
}

/// Reads an IPv4 or IPv6 socket address; `None` for NULL or another family.
///
/// # Safety
/// A non-NULL `sa` must point to a socket address of its family's size.
pub(crate) unsafe fn sockaddr_to_std(sa: *const sockaddr) -> Option<SocketAddr> {
    // SAFETY: the caller guarantees (# Safety) that a non-NULL `sa` holds an address of its
    // family's size, so reading it as `sockaddr_in`/`sockaddr_in6` after checking `sa_family` stays
    // in bounds.
    unsafe {
        let family = opt_ref(sa)?.sa_family as i32;
        match family {
            libc::AF_INET => {
                let sin = &*(sa as *const sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const sockaddr_in6);
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
}

/// Reads a `sockaddr_storage` holding an IPv4 or IPv6 address.
pub(crate) fn storage_to_std(ss: &sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: a sockaddr_storage is large enough for either family.
    unsafe { sockaddr_to_std((ss as *const sockaddr_storage).cast()) }
}

/// A zeroed `sockaddr_storage` (family `AF_UNSPEC`).
pub(crate) fn empty_storage() -> sockaddr_storage {
    // SAFETY: all-zero is a valid sockaddr_storage.
    unsafe { std::mem::zeroed() }
}

/// Writes a Rust socket address as a C `sockaddr_storage`.
pub(crate) fn std_to_storage(addr: &SocketAddr) -> sockaddr_storage {
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
        // SAFETY: NULL is allowed and yields None.
        assert_eq!(unsafe { sockaddr_to_std(std::ptr::null()) }, None);
    }

    #[test]
    fn c_array_copy_truncates_and_terminates() {
        let mut arr = [1 as c_char; 4];
        copy_to_c_array(&mut arr, b"abcdef");
        assert_eq!(c_array_bytes(&arr), b"abc");
        assert_eq!(arr[3], 0);
        copy_to_c_array(&mut arr, b"");
        assert_eq!(c_array_bytes(&arr), b"");
    }

    #[test]
    fn boundary_turns_panic_into_fallback() {
        let r: i32 = ffi_boundary!(-1, {
            if c_array_bytes(&[0]).is_empty() {
                panic!("boom");
            }
            0
        });
        assert_eq!(r, -1);
    }
}
