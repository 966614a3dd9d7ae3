//! The device build optimizes the library's cold code for size and keeps
//! its per-message code at full speed (README, "Building for a device").
//! `.cargo/device.toml` sets `--cfg xp2p_device`, and a cold function
//! carries `#[cfg_attr(xp2p_device, optimize(size))]`: setup and teardown,
//! signaling, SDP, ICE checks, STUN and TURN control, the C API's
//! configuration and statistics calls. This test keeps that split as
//! written down here:
//! - every function of a file in `COLD_FILES` carries the attribute, except
//!   those named for per-message work (`is_hot`);
//! - the functions named in `COLD_FNS` carry it in their files;
//! - no other function in `src/` does.
//!
//! Unit tests (`#[cfg(test)]` or `#[cfg(all(test, …))]` to the end of a
//! file), declarations without
//! a body, `const fn` and items of `extern "C" {}` blocks are left out.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const ATTR: &str = "#[cfg_attr(xp2p_device, optimize(size))]";

/// Files whose every function is cold, but for the per-message ones.
const COLD_FILES: &[&str] = &[
    "sdp/mod.rs",
    "sdp/encode.rs",
    "sdp/decode.rs",
    "mdns/mod.rs",
    "mdns/candidates.rs",
    "driver/netif.rs",
    "driver/resolve.rs",
    "driver/mdns.rs",
    "driver/turn_stream.rs",
    "turn/uri.rs",
    "turn/tls.rs",
    "turn/tls_openssl.rs",
    "turn/stream.rs",
    "turn/client.rs",
    "turn/mod.rs",
    "stun/txn.rs",
    "stun/attr.rs",
    "stun/msg.rs",
    "stun/mod.rs",
    "ice/candidate.rs",
    "ice/pair.rs",
    "ice/mod.rs",
    "ice/agent/gather.rs",
    "ice/agent/consent.rs",
    "ice/agent/checklist.rs",
    "ice/agent/inbound.rs",
    "ice/agent/mtu_probe.rs",
    "ice/agent/types.rs",
    "ice/agent/stun_io.rs",
    "dcep/mod.rs",
    "ffi/ice_crypto.rs",
    "ffi/ice_pair.rs",
    "ffi/ice_private.rs",
    "ffi/log.rs",
    "ffi/stun_msg.rs",
    "ffi/dtls_backend.rs",
    "ffi/peer_connection.rs",
    "ffi/ice_candidate.rs",
    "ffi/stats.rs",
    "ffi/sdp.rs",
    "ffi/stun_txn.rs",
    "ffi/turn_client.rs",
    "ffi/stun_attr.rs",
    "ffi/datachannel.rs",
    "ffi/sctp_transport.rs",
    "ffi/dtls_transport.rs",
    "ffi/ice_agent.rs",
    "ffi/flow.rs",
    "peer/mod.rs",
    "peer/connection/signaling.rs",
    "dtls/cert.rs",
    "dtls/mbed/cert.rs",
    "dtls/fingerprint.rs",
];

/// Cold functions in files whose other functions are on the per-message
/// path.
const COLD_FNS: &[(&str, &[&str])] = &[
    (
        "driver/io.rs",
        &[
            "register",
            "unregister",
            "start",
            "add",
            "remove",
            "open_stream",
            "fail_stream",
        ],
    ),
    ("sctp/mod.rs", &["new", "start"]),
    (
        "channel/manager.rs",
        &[
            "create_channel",
            "association_up",
            "association_lost",
            "close",
        ],
    ),
    (
        "dtls/mbed/session.rs",
        &["new", "close", "after_handshake_step"],
    ),
    ("dtls/session.rs", &["new", "close", "after_handshake_step"]),
    ("object/handle.rs", &["remove"]),
    ("object/callbacks.rs", &["register"]),
    ("object/backend.rs", &["create"]),
    (
        "logging.rs",
        &["parse", "parse_level", "component_of", "init"],
    ),
    (
        "ice/agent/timers.rs",
        &[
            "nominate",
            "fail_pair",
            "decide_nomination",
            "check_failure",
            "build_request",
        ],
    ),
    (
        "object/pc.rs",
        &[
            "handle_link_failed",
            "ensure_gathering",
            "description",
            "create",
            "destroy",
            "apply_text",
            "create_channel",
            "close_channel",
            "post_state",
            "post_candidate",
            "remote_channel",
        ],
    ),
    (
        "object/mgr.rs",
        &[
            "create",
            "destroy",
            "create_channel",
            "close",
            "post_error",
            "on_stream_close",
        ],
    ),
    (
        "object/sctp.rs",
        &[
            "create",
            "destroy",
            "start",
            "reset_stream",
            "add_listener",
            "remove_listener",
            "post_state",
            "post_stream_close",
            "end",
            "link",
        ],
    ),
    (
        "object/dtls.rs",
        &[
            "create",
            "destroy",
            "start",
            "finish",
            "release",
            "attach_consumer",
            "detach_consumer",
        ],
    ),
    (
        "object/ice.rs",
        &[
            "ice_description",
            "remote_candidate",
            "remote_end_of_candidates",
            "apply_resolutions",
            "post_state",
            "post_candidate",
            "handle_link_failed",
            "candidate_line",
            "errno",
            "description",
            "create",
            "destroy",
            "gather",
            "offer",
            "set_remote_description",
            "add_remote_candidate",
            "after_remote",
            "set_dtls_hook",
            "set_role",
        ],
    ),
    (
        "peer/connection.rs",
        &[
            "fmt",
            "dtls_to_channel_role",
            "new",
            "set_recv_buffer_limit",
            "local_fingerprint",
            "certificate",
            "stats",
            "add_host_candidate",
            "expect_stun_servers",
            "add_stun_servers",
            "expect_turn_servers",
            "expect_stream_turn_server",
            "turn_server_resolved",
            "turn_link_failed",
            "gather",
            "create_data_channel",
            "close_channel",
            "fuzz_sctp_packet",
            "close",
            "release_ice",
            "set_state",
            "fail",
            "apply_path_mtu",
            "on_ice_event",
            "start_dtls",
            "start_sctp",
        ],
    ),
    (
        "ice/agent/mod.rs",
        &[
            "new",
            "random_ice_string",
            "valid_ice_string",
            "is_valid_ufrag",
            "is_valid_pwd",
            "local_pref_of",
            "log_event",
            "local_credentials",
            "local_candidates",
            "remote_candidates",
            "add_host_candidate",
            "gather",
            "expect_stun_servers",
            "add_stun_servers",
            "expect_turn_servers",
            "expect_stream_turn_server",
            "add_turn_server",
            "turn_server_unavailable",
            "turn_server_resolved",
            "set_remote_credentials",
            "add_remote_candidate",
            "remote_end_of_candidates",
            "set_role",
            "close",
            "set_state",
            "queue_server_requests",
            "queue_server_requests_to",
            "stats",
        ],
    ),
    (
        "ice/agent/relay.rs",
        &[
            "new",
            "add",
            "start_all",
            "start",
            "close",
            "gather_timed_out",
            "link_failed",
            "bind_channel",
            "allocated",
            "failed",
            "bind_selected_channel",
            "first_hosts",
            "on_relay_events",
            "fail_pairs_of_local",
            "turn_link_failed",
            "unavailable",
            "fail",
            "too_late",
            "expect",
            "expect_stream",
            "set_local",
        ],
    ),
];

/// Per-message work by its name: what a datagram, a message or a loop
/// turn runs through stays at full speed even in a cold file. Each rule
/// names functions that exist in the cold files.
fn is_hot(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "handle_timeout",
        "dispatch_events",
        "timers",
        "handle_input",
        "demux",
        "on_sent",
    ];
    const PREFIXES: &[&str] = &[
        "handle_datagram",
        "poll",
        "next_",
        "flush",
        "send",
        "deliver",
        "recv",
        "read",
        "write",
        "take",
        "get",
        "lookup",
        "push_",
    ];
    const INFIXES: &[&str] = &["Send", "OnData", "OnMessage", "Buffered"];
    EXACT.contains(&name)
        || PREFIXES.iter().any(|p| name.starts_with(p))
        || INFIXES.iter().any(|i| name.contains(i))
}

/// One function definition: its name, line and whether the size attribute
/// is among the attributes right above it.
struct FnDef {
    name: String,
    line: usize,
    attributed: bool,
}

/// The name of the function a line defines, if it starts one.
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for q in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(q).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Whether the definition starting at `lines[i]` has a body: a `{` before
/// any `;` outside brackets (`-> [u8; 4]` is not the end).
fn has_body(lines: &[&str], i: usize) -> bool {
    let mut depth = 0i32;
    for c in lines[i..].iter().flat_map(|l| l.chars()) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' => return true,
            ';' if depth == 0 => return false,
            _ => {}
        }
    }
    false
}

fn fn_defs(src: &str) -> Vec<FnDef> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut in_extern = false;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
            break;
        }
        if t.starts_with("extern \"C\" {") || t.starts_with("unsafe extern \"C\" {") {
            in_extern = true;
        }
        if in_extern {
            if line.starts_with('}') {
                in_extern = false;
            }
            continue;
        }
        let Some(name) = fn_name(line) else { continue };
        if t.contains("const fn") || !has_body(&lines, i) {
            continue;
        }
        let mut attributed = false;
        for above in lines[..i].iter().rev() {
            let a = above.trim();
            if a == ATTR {
                attributed = true;
            } else if !(a.starts_with("#[") || a.starts_with("///")) {
                break;
            }
        }
        out.push(FnDef {
            name: name.to_string(),
            line: i + 1,
            attributed,
        });
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// What is wrong with the attributes of one file (`rel` relative to `src/`).
fn check_file(rel: &str, src: &str) -> Vec<String> {
    let cold_file = COLD_FILES.contains(&rel);
    let cold_fns: BTreeSet<&str> = COLD_FNS
        .iter()
        .filter(|(f, _)| *f == rel)
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    let defs = fn_defs(src);
    let mut errors = Vec::new();
    for d in &defs {
        let want = if cold_file {
            !is_hot(&d.name)
        } else {
            cold_fns.contains(d.name.as_str())
        };
        if want != d.attributed {
            errors.push(format!(
                "src/{rel}:{} fn {}: {}",
                d.line,
                d.name,
                if want {
                    "cold, lacks the size attribute"
                } else {
                    "has the size attribute but is not listed as cold"
                }
            ));
        }
    }
    for name in &cold_fns {
        if !defs.iter().any(|d| d.name == *name) {
            errors.push(format!("src/{rel}: listed cold fn {name} not found"));
        }
    }
    errors
}

#[test]
fn cold_code_and_only_cold_code_is_optimized_for_size() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    let mut attributed = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let src = fs::read_to_string(path).unwrap();
        attributed += fn_defs(&src).iter().filter(|d| d.attributed).count();
        errors.extend(check_file(&rel, &src));
        seen.insert(rel);
    }
    for f in COLD_FILES.iter().chain(COLD_FNS.iter().map(|(f, _)| f)) {
        if !seen.contains(*f) {
            errors.push(format!("src/{f}: listed but missing"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(attributed > 500, "only {attributed} cold functions found");
}

#[test]
fn the_check_catches_both_mistakes() {
    let unmarked = "pub fn decode(b: &[u8]) -> u8 {\n    b[0]\n}\n";
    assert_eq!(check_file("sdp/decode.rs", unmarked).len(), 1);
    let marked = format!("{ATTR}\npub fn decode(b: &[u8]) -> u8 {{\n    b[0]\n}}\n");
    assert!(check_file("sdp/decode.rs", &marked).is_empty());
    let hot_marked = format!("{ATTR}\nfn send_now(b: &[u8]) -> u8 {{\n    b[0]\n}}\n");
    assert_eq!(check_file("sdp/decode.rs", &hot_marked).len(), 1);
    assert_eq!(check_file("sctp/mod.rs", &marked).len(), 3);
    let declaration = "trait T {\n    fn decode(&self);\n}\n";
    assert!(check_file("sdp/decode.rs", declaration).is_empty());
    let tests = "#[cfg(test)]\nmod tests {\n    fn decode() {}\n}\n";
    assert!(check_file("sdp/decode.rs", tests).is_empty());
}
