//! The FFI boundary: every `extern "C"` body runs inside `ffi_boundary!`,
//! so a panic never unwinds into C. Exported (`xbase::ffi_boundary`) so
//! libxp2p uses the same macro.

/// Runs an `extern "C"` body behind `catch_unwind`. A panic returns
/// `$on_panic` (NULL, -1, `xErrno_Unknown` or the function's neutral value)
/// instead of unwinding into the C caller. `tests/boundary.rs` checks that
/// every exported function body starts with it.
#[macro_export]
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $on_panic,
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn panic_becomes_fallback_value() {
        let r: i32 = ffi_boundary!(-1, {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            0
        });
        assert_eq!(r, -1);
        let ok: i32 = ffi_boundary!(-1, { 7 });
        assert_eq!(ok, 7);
    }
}
