//! Every function C can call (exported `extern "C"` functions and callbacks
//! handed to C) must run its body inside `ffi_boundary!`, so no panic unwinds
//! into C. This test reads the sources of the C layer and lists offenders.

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

fn scan(dir: &Path, offenders: &mut Vec<String>, count: &mut usize) {
    for entry in fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            scan(&path, offenders, count);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let src = fs::read_to_string(&path).expect("read source");
        for (name, body) in extern_fns(&src) {
            *count += 1;
            if !body.starts_with("ffi_boundary!(") {
                offenders.push(format!("{}: {name}", path.display()));
            }
        }
    }
}

#[test]
fn every_extern_c_function_runs_inside_the_boundary_macro() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    let mut count = 0;
    for dir in [
        "src/ffi",
        "src/object",
        "src/driver",
        "src/sctp",
        "src/dtls",
    ] {
        scan(&root.join(dir), &mut offenders, &mut count);
    }
    assert!(count >= 4, "found only {count} extern \"C\" functions");
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
