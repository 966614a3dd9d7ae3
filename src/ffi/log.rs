//! `log.h` (libxp2p extension): what the library logs, where it goes.
//!
//! Logging is off unless enabled, by the `XP2P_LOG` environment variable
//! (read once, at the first use of the library) or by
//! `xP2PLogSetFilter`/`xP2PLogSetLevel`. Records go to stderr, one line
//! each (`[monotonic seconds] LEVEL component: message`), or to the
//! function given to `xP2PLogSetCallback`.
//!
//! Components: `pc` (PeerConnection), `ice`, `turn`, `dtls`, `sctp`, `dc`
//! (data channels), `mdns`, `io` (the library's I/O thread).

use super::boundary::{cstr_bytes, ffi_boundary};
use ::log::{Level, LevelFilter};
use libc::{c_char, c_int, c_void};
use std::ffi::CString;
use std::sync::Arc;
use xbase::types::*;

/// `xP2PLogLevel` (`XDEF_ENUM`): `Off` (0) to `Trace` (5).
pub type xP2PLogLevel = c_int;
pub const xP2PLogLevel_Off: xP2PLogLevel = 0;
pub const xP2PLogLevel_Error: xP2PLogLevel = 1;
pub const xP2PLogLevel_Warn: xP2PLogLevel = 2;
pub const xP2PLogLevel_Info: xP2PLogLevel = 3;
pub const xP2PLogLevel_Debug: xP2PLogLevel = 4;
pub const xP2PLogLevel_Trace: xP2PLogLevel = 5;

/// Receives one log record: its level (Error..Trace), component (`"ice"`,
/// `"dtls"`…) and message, both NUL-terminated and valid only during the
/// call, and the `ctx` given to `xP2PLogSetCallback`.
///
/// It is called on whichever library thread logs: the library's I/O
/// thread, or the caller's thread inside an API call, possibly several at
/// once. It must be thread-safe, should return quickly, and must not call
/// back into libxp2p except the `xP2PLog*` functions.
pub type xP2PLogCallback = Option<
    unsafe extern "C" fn(
        level: xP2PLogLevel,
        component: *const c_char,
        message: *const c_char,
        ctx: *mut c_void,
    ),
>;

#[cfg_attr(xp2p_device, optimize(size))]
fn level_code(l: Level) -> xP2PLogLevel {
    match l {
        Level::Error => xP2PLogLevel_Error,
        Level::Warn => xP2PLogLevel_Warn,
        Level::Info => xP2PLogLevel_Info,
        Level::Debug => xP2PLogLevel_Debug,
        Level::Trace => xP2PLogLevel_Trace,
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn level_filter(l: xP2PLogLevel) -> Option<LevelFilter> {
    Some(match l {
        xP2PLogLevel_Off => LevelFilter::Off,
        xP2PLogLevel_Error => LevelFilter::Error,
        xP2PLogLevel_Warn => LevelFilter::Warn,
        xP2PLogLevel_Info => LevelFilter::Info,
        xP2PLogLevel_Debug => LevelFilter::Debug,
        xP2PLogLevel_Trace => LevelFilter::Trace,
        _ => return None,
    })
}

/// A text as a C string; interior NULs become spaces.
#[cfg_attr(xp2p_device, optimize(size))]
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Routes every record to `cb` with `ctx`; NULL `cb` restores the default
/// sink (stderr). The filter is unchanged: records reach `cb` only for the
/// levels and components enabled (`XP2P_LOG`, `xP2PLogSetFilter`).
/// Returns `xErrno_Ok`.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xP2PLogSetCallback(cb: xP2PLogCallback, ctx: *mut c_void) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        let ctx = ctx as usize;
        let sink: Option<crate::logging::Sink> = cb.map(|f| {
            let s: crate::logging::Sink = Arc::new(move |level: Level, comp: &str, msg: &str| {
                let (comp, msg) = (c_text(comp), c_text(msg));
                let _: () = ffi_boundary!((), {
                    // SAFETY: the user's callback, with the user's ctx.
                    unsafe {
                        f(
                            level_code(level),
                            comp.as_ptr(),
                            msg.as_ptr(),
                            ctx as *mut c_void,
                        )
                    }
                });
            });
            s
        });
        crate::logging::set_sink(sink);
        xErrno_Ok
    })
}

/// Sets the levels from a filter string, as `XP2P_LOG` takes it:
/// comma-separated `LEVEL` (every component) and `COMPONENT=LEVEL` items,
/// levels `off`, `error`, `warn`, `info`, `debug`, `trace`: `"debug"`,
/// `"ice=trace,sctp=info"`, `"info,dtls=debug"`. NULL or `""` turns
/// logging off. `xErrno_InvalidArg` (nothing changed) for a string that
/// does not parse.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xP2PLogSetFilter(spec: *const c_char) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        // SAFETY: `spec` is NULL or valid for this call, as `log.h` requires of its caller; the
        // boundary helpers turn NULL into an error before any access.
        unsafe {
            let spec = cstr_bytes(spec).unwrap_or(b"");
            let Ok(spec) = std::str::from_utf8(spec) else {
                return xErrno_InvalidArg;
            };
            match crate::logging::set_filter(spec) {
                Ok(()) => xErrno_Ok,
                Err(_) => xErrno_InvalidArg,
            }
        }
    })
}

/// One level for every component (`xP2PLogLevel_Off` turns logging off).
/// `xErrno_InvalidArg` for a value outside Off..Trace.
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xP2PLogSetLevel(level: xP2PLogLevel) -> xErrno {
    ffi_boundary!(xErrno_Unknown, {
        match level_filter(level) {
            Some(l) => {
                crate::logging::set_level(l);
                xErrno_Ok
            }
            None => xErrno_InvalidArg,
        }
    })
}

/// The level in effect for `component` (NULL: the default of components
/// the filter does not name).
#[no_mangle]
#[cfg_attr(xp2p_device, optimize(size))]
pub unsafe extern "C" fn xP2PLogGetLevel(component: *const c_char) -> xP2PLogLevel {
    ffi_boundary!(xP2PLogLevel_Off, {
        // SAFETY: `component` is NULL or valid for this call, as `log.h` requires of its caller;
        // the boundary helpers turn NULL into an error before any access.
        unsafe {
            let f = crate::logging::filter();
            let l = match cstr_bytes(component).and_then(|b| std::str::from_utf8(b).ok()) {
                Some(c) => f.level_of(c),
                None => f.default,
            };
            l.to_level().map_or(xP2PLogLevel_Off, level_code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_both_ways() {
        for c in xP2PLogLevel_Error..=xP2PLogLevel_Trace {
            let l = level_filter(c).and_then(|f| f.to_level()).unwrap();
            assert_eq!(level_code(l), c);
        }
        assert_eq!(level_filter(xP2PLogLevel_Off), Some(LevelFilter::Off));
        assert_eq!(level_filter(6), None);
        assert_eq!(level_filter(-1), None);
    }
}
