//! Every function C can call (exported `extern "C"` functions and callbacks
//! handed to C: the caller's event loop, OpenSSL, mbedTLS, usrsctp) must run
//! its body inside `ffi_boundary!`, so no panic unwinds into C. This test
//! reads every Rust source of the workspace (`src/` and `crates/*/src/`,
//! test modules included) and lists offenders.

use std::fs;
use std::path::Path;

/// Names and bodies of the `extern "C" fn <name>` items of one source file.
fn extern_fns(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let pat = "extern \"C\" fn ";
    let mut rest = src;
    while let Some(i) = rest.find(pat) {
        rest = &rest[i + pat.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // a function pointer type, not a definition
        }
        let Some(open) = rest.find('{') else { break };
        // A declaration inside `extern "C" { ... }` ends with ';' before any '{'.
        if rest[..open].contains(';') {
            continue;
        }
        let body = rest[open + 1..].trim_start();
        out.push((name, body.chars().take(40).collect()));
    }
    out
}

fn scan(dir: &Path, offenders: &mut Vec<String>, seen: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            scan(&path, offenders, seen);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let src = fs::read_to_string(&path).expect("read source");
        for (name, body) in extern_fns(&src) {
            seen.push(name.clone());
            if !body.starts_with("ffi_boundary!(") {
                offenders.push(format!("{}: {name}", path.display()));
            }
        }
    }
}

/// Every Rust source directory of the workspace: this crate's `src/` and
/// each `crates/*/src/`.
fn source_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs = vec![root.join("src")];
    let mut crates: Vec<_> = fs::read_dir(root.join("crates"))
        .expect("crates dir")
        .map(|e| e.expect("dir entry").path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    dirs.extend(crates);
    dirs
}

#[test]
fn every_extern_c_function_runs_inside_the_boundary_macro() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    let mut seen = Vec::new();
    let dirs = source_dirs(root);
    assert!(
        dirs.len() >= 4,
        "expected src/ and three crates, found {dirs:?}"
    );
    for dir in &dirs {
        scan(dir, &mut offenders, &mut seen);
    }
    // 126 exported by libxp2p, the libxbase exports, and the callbacks
    // handed to the event loop, OpenSSL, mbedTLS and usrsctp.
    assert!(
        seen.len() >= 150,
        "found only {} extern \"C\" functions",
        seen.len()
    );
    for callback in [
        "timer_cb",      // OpenSSL DTLS timer (src/dtls/ossl.rs)
        "send_cb",       // mbedTLS shim output (src/dtls/mbed)
        "conn_output",   // usrsctp AF_CONN output (src/sctp/stack.rs)
        "socket_upcall", // usrsctp socket upcall (src/sctp/stack.rs)
        "on_wake",       // caller's loop wake-up (src/driver/loop_queue.rs)
        "xEventLoopCreate",
        "xPeerConnectionCreate",
    ] {
        assert!(
            seen.iter().any(|n| n == callback),
            "the scan missed `{callback}`"
        );
    }
    assert!(
        offenders.is_empty(),
        "extern \"C\" functions whose body is not `ffi_boundary!(...)`:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn scanner_sees_definitions_not_pointer_types_or_declarations() {
    let src = r#"
        pub type Cb = Option<unsafe extern "C" fn(x: i32)>;
        extern "C" { fn decl(x: i32); }
        #[no_mangle]
        pub unsafe extern "C" fn good(a: Cb) -> i32 { ffi_boundary!(0, { 1 }) }
        pub extern "C" fn bad() { let _ = 1; }
    "#;
    let fns = extern_fns(src);
    let names: Vec<_> = fns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["good", "bad"]);
    assert!(fns[0].1.starts_with("ffi_boundary!("));
    assert!(!fns[1].1.starts_with("ffi_boundary!("));
}
