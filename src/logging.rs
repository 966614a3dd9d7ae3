//! Logging: the [`log`] facade inside the crate, with libxp2p's sink behind
//! it.
//!
//! Protocol layers log through `log::debug!(target: "ice", …)` and friends;
//! the target is the *component*: `pc` (the PeerConnection), `ice`, `turn`,
//! `dtls`, `sctp`, `dc` (data channels), `mdns`, `io` (the I/O thread).
//!
//! * Off unless enabled. The filter is read from `XP2P_LOG` once, at the
//!   first use of the library (the first ICE agent, DTLS session, SCTP
//!   association or logging call), and can be replaced at any time with
//!   [`set_filter`] / [`set_level`]. `XP2P_LOG=debug` enables every
//!   component at debug; `XP2P_LOG=ice=trace,sctp=info` enables only those
//!   two; `XP2P_LOG=info,ice=trace` both.
//! * With logging off, a log statement costs the facade's one comparison
//!   against the global maximum level: no formatting, no lock.
//! * The sink is stderr (monotonic timestamp in seconds, level, component,
//!   message, one line each) unless [`set_sink`] installs a function. The
//!   sink runs on whichever library thread logs (the I/O thread, or the
//!   caller's thread inside an API call), with no library lock held by this
//!   module.
//! * If the program (a Rust user of the rlib) installed its own `log`
//!   logger first, that logger receives the records and this module's
//!   filter and sink have no effect.
//!
//! Nothing on the per-packet path logs at info or above.

use log::{Level, LevelFilter, Log, Metadata, Record};
use parking_lot::{const_mutex, Mutex};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::sync::{PoisonError, RwLock};

/// The components, as written in filters and passed to sinks.
pub const COMPONENTS: &[&str] = &["pc", "ice", "turn", "dtls", "sctp", "dc", "mdns", "io"];

/// A function receiving every enabled record: level, component, message.
pub type Sink = Arc<dyn Fn(Level, &str, &str) + Send + Sync>;

/// A filter string that does not parse; the text names the bad item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad log filter item `{}`", self.0)
    }
}

impl std::error::Error for FilterError {}

/// Per-component levels over a default level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub default: LevelFilter,
    /// `(component, level)`; a component's entry overrides the default.
    pub components: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Everything off.
    pub const fn off() -> Filter {
        Filter {
            default: LevelFilter::Off,
            components: Vec::new(),
        }
    }

    /// Parses `level`, `component=level` items separated by commas (spaces
    /// around items are ignored; levels are `off`, `error`, `warn`, `info`,
    /// `debug`, `trace`, any case). An empty string is everything off.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(spec: &str) -> Result<Filter, FilterError> {
        let mut f = Filter::off();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                None => f.default = parse_level(item)?,
                Some((comp, level)) => {
                    let comp = comp.trim();
                    if comp.is_empty() || !comp.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return Err(FilterError(item.to_string()));
                    }
                    let level = parse_level(level.trim()).map_err(|_| FilterError(item.into()))?;
                    let comp = comp.to_ascii_lowercase();
                    f.components.retain(|(c, _)| *c != comp);
                    f.components.push((comp, level));
                }
            }
        }
        Ok(f)
    }

    /// The level in effect for `component`.
    pub fn level_of(&self, component: &str) -> LevelFilter {
        self.components
            .iter()
            .find(|(c, _)| c == component)
            .map_or(self.default, |(_, l)| *l)
    }

    /// The most verbose level of any component.
    pub fn max(&self) -> LevelFilter {
        self.components
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, std::cmp::max)
    }
}

#[cfg_attr(xp2p_device, optimize(size))]
fn parse_level(s: &str) -> Result<LevelFilter, FilterError> {
    match s.to_ascii_lowercase().as_str() {
        "off" | "none" => Ok(LevelFilter::Off),
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err(FilterError(s.to_string())),
    }
}

/// The standard library's lock, as for the handle table (`object/handle.rs`).
static FILTER: RwLock<Filter> = RwLock::new(Filter::off());
static SINK: Mutex<Option<Sink>> = const_mutex(None);
static INIT: Once = Once::new();
/// Whether our logger is the `log` crate's logger.
static OURS: AtomicBool = AtomicBool::new(false);

struct Logger;
static LOGGER: Logger = Logger;

/// The component of a record's target: the target itself, or for a module
/// path (`xp2p::ice::agent`) its second segment.
#[cfg_attr(xp2p_device, optimize(size))]
fn component_of(target: &str) -> &str {
    match target.strip_prefix("xp2p::") {
        Some(rest) => rest.split("::").next().unwrap_or(rest),
        None => target,
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level()
            <= FILTER
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .level_of(component_of(m.target()))
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let component = component_of(record.target());
        let sink = SINK.lock().clone();
        MESSAGE.with(|buf| {
            // A sink that logs from inside itself gets a fresh buffer.
            let Ok(mut buf) = buf.try_borrow_mut() else {
                let text = record.args().to_string();
                emit(sink.as_ref(), record.level(), component, &text);
                return;
            };
            buf.clear();
            let _ = write!(buf, "{}", record.args());
            emit(sink.as_ref(), record.level(), component, &buf);
        });
    }

    fn flush(&self) {}
}

thread_local! {
    static MESSAGE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn emit(sink: Option<&Sink>, level: Level, component: &str, message: &str) {
    match sink {
        Some(f) => f(level, component, message),
        None => {
            let (secs, micros) = monotonic_time();
            // "[    3.000125]": the seconds right-aligned in five columns
            // and six digits of microseconds, formatted from integers (no
            // float formatting code in the library).
            let line = format!(
                "[{secs:>5}.{micros:06}] {:<5} {}: {}\n",
                level, component, message
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// CLOCK_MONOTONIC as whole seconds and microseconds (rounded to the
/// nearest): comparable between the processes of one machine (and with
/// `chat --stats` output).
pub fn monotonic_time() -> (u64, u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    seconds_micros(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Seconds and nanoseconds as seconds and microseconds, rounded to the
/// nearest microsecond.
fn seconds_micros(secs: u64, nanos: u32) -> (u64, u32) {
    let micros = (nanos + 500) / 1000;
    if micros >= 1_000_000 {
        (secs + 1, micros - 1_000_000)
    } else {
        (secs, micros)
    }
}

/// Installs the logger and reads `XP2P_LOG`, once; later calls return at
/// once. Called by the layers' constructors and every logging call.
#[cfg_attr(xp2p_device, optimize(size))]
pub fn init() {
    INIT.call_once(|| {
        if log::set_logger(&LOGGER).is_err() {
            return; // the program has its own logger
        }
        OURS.store(true, Ordering::Release);
        let filter = std::env::var("XP2P_LOG")
            .ok()
            .and_then(|spec| match Filter::parse(&spec) {
                Ok(f) => Some(f),
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "libxp2p: XP2P_LOG ignored: {e}");
                    None
                }
            })
            .unwrap_or(Filter::off());
        apply(filter);
    });
}

fn apply(filter: Filter) {
    let max = filter.max();
    *FILTER.write().unwrap_or_else(PoisonError::into_inner) = filter;
    if OURS.load(Ordering::Acquire) {
        log::set_max_level(max);
    }
}

/// Replaces the filter (see [`Filter::parse`] for the syntax).
pub fn set_filter(spec: &str) -> Result<(), FilterError> {
    init();
    let f = Filter::parse(spec)?;
    apply(f);
    Ok(())
}

/// One level for every component.
pub fn set_level(level: LevelFilter) {
    init();
    apply(Filter {
        default: level,
        components: Vec::new(),
    });
}

/// The filter in effect.
pub fn filter() -> Filter {
    init();
    FILTER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Routes records to `sink`, or back to stderr with `None`.
pub fn set_sink(sink: Option<Sink>) {
    init();
    *SINK.lock() = sink;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_syntax() {
        let f = Filter::parse("debug").unwrap();
        assert_eq!(f.level_of("ice"), LevelFilter::Debug);
        assert_eq!(f.max(), LevelFilter::Debug);
        let f = Filter::parse(" ice=trace , sctp=INFO").unwrap();
        assert_eq!(f.level_of("ice"), LevelFilter::Trace);
        assert_eq!(f.level_of("sctp"), LevelFilter::Info);
        assert_eq!(f.level_of("dtls"), LevelFilter::Off);
        assert_eq!(f.max(), LevelFilter::Trace);
        let f = Filter::parse("warn,dtls=off").unwrap();
        assert_eq!(f.level_of("dtls"), LevelFilter::Off);
        assert_eq!(f.level_of("pc"), LevelFilter::Warn);
        assert_eq!(Filter::parse("").unwrap(), Filter::off());
        assert!(Filter::parse("loud").is_err());
        assert!(Filter::parse("ice=").is_err());
        assert!(Filter::parse("=debug").is_err());
        assert!(Filter::parse("i ce=debug").is_err());
    }

    #[test]
    fn time_stamp_from_integers() {
        assert_eq!(seconds_micros(3, 0), (3, 0));
        assert_eq!(seconds_micros(3, 125_499), (3, 125));
        assert_eq!(seconds_micros(3, 125_500), (3, 126));
        assert_eq!(seconds_micros(3, 999_999_499), (3, 999_999));
        assert_eq!(seconds_micros(3, 999_999_500), (4, 0));
        let (secs, micros) = (3u64, 125u32);
        assert_eq!(format!("[{secs:>5}.{micros:06}]"), "[    3.000125]");
        assert_eq!(format!("[{:>12.6}]", 3.000125f64), "[    3.000125]");
        let (s1, m1) = monotonic_time();
        let (s2, m2) = monotonic_time();
        assert!(m1 < 1_000_000 && m2 < 1_000_000);
        assert!((s2, m2) >= (s1, m1));
    }

    #[test]
    fn component_of_target() {
        assert_eq!(component_of("ice"), "ice");
        assert_eq!(component_of("xp2p::sctp::stack"), "sctp");
        assert_eq!(component_of("other::thing"), "other::thing");
    }
}
