//! Every exported function of libxbase runs its body inside `ffi_boundary!`
//! (so a panic never unwinds into C), and the exported set is exactly the
//! one the headers declare.
#![cfg(feature = "abi")]

const SOURCES: [(&str, &str); 6] = [
    ("base", include_str!("../src/ffi/base.rs")),
    ("error", include_str!("../src/ffi/error.rs")),
    ("event", include_str!("../src/ffi/event.rs")),
    ("socket", include_str!("../src/ffi/socket.rs")),
    ("task", include_str!("../src/ffi/task.rs")),
    ("time", include_str!("../src/ffi/time.rs")),
];

/// (function name, whether its body starts with the boundary macro).
fn exported(src: &str) -> Vec<(String, bool)> {
    src.split("#[no_mangle]")
        .skip(1)
        .map(|chunk| {
            let sig_start = chunk
                .find("extern \"C\" fn ")
                .expect("an extern fn after #[no_mangle]");
            let after = &chunk[sig_start + "extern \"C\" fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let body = &after[after.find('{').expect("a body") + 1..];
            (name, body.trim_start().starts_with("ffi_boundary!("))
        })
        .collect()
}

#[test]
fn every_export_is_wrapped() {
    let mut names = Vec::new();
    for (file, src) in SOURCES {
        for (name, wrapped) in exported(src) {
            assert!(
                wrapped,
                "{file}.rs: {name} does not start with ffi_boundary!"
            );
            names.push(name);
        }
    }
    names.sort();
    let mut expected = vec![
        "xstrerror",
        "xMonoMs",
        "xWallMs",
        "xEventLoopCreate",
        "xEventLoopDestroy",
        "xEventAdd",
        "xEventMod",
        "xEventDel",
        "xEventWait",
        "xEventWake",
        "xEventLoopTimerAfter",
        "xEventLoopTimerAt",
        "xEventLoopTimerCancel",
        "xEventLoopPost",
        "xEventLoopRun",
        "xEventLoopStop",
        "xEventLoopWait",
        "xEventLoopSignalWatch",
        "xEventLoopNowMs",
        "xSocketCreate",
        "xSocketCreateFromFd",
        "xSocketDestroy",
        "xSocketSetMask",
        "xSocketSetTimeout",
        "xSocketFd",
        "xSocketMask",
    ];
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn every_export_is_declared_in_its_header() {
    let headers = [
        ("error", include_str!("../../../include/xbase/error.h")),
        ("event", include_str!("../../../include/xbase/event.h")),
        ("socket", include_str!("../../../include/xbase/socket.h")),
        ("time", include_str!("../../../include/xbase/time.h")),
    ];
    for (file, src) in SOURCES {
        let header = headers
            .iter()
            .find(|(h, _)| *h == file)
            .map(|(_, text)| *text)
            .unwrap_or("");
        for (name, _) in exported(src) {
            assert!(
                (header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}("))),
                "{name} missing from xbase/{file}.h"
            );
        }
    }
}
