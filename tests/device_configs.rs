//! The two device builds' cargo settings stay one build apart (README, "A
//! panic aborts: XP2P_DEVICE_ABORT"): `.cargo/device-abort.toml` is
//! `.cargo/device.toml` with exactly three changes (std's abort runtime, no
//! unwind tables, immediate abort), so a change to the device build lands in
//! both files or this test fails.

use std::fs;
use std::path::Path;

/// The settings of a cargo config file: its lines without comments and
/// blank lines.
fn settings(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".cargo")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// `device.toml`'s settings with the abort build's three changes applied;
/// `None` when a line a change applies to is not there.
fn with_abort_changes(device: &[String]) -> Option<Vec<String>> {
    const NO_TABLES: &str = r#""-Cforce-unwind-tables=no""#;
    const IMMEDIATE: &str = r#""-Zunstable-options", "-Cpanic=immediate-abort""#;
    let mut out = Vec::with_capacity(device.len());
    let (mut runtime, mut features, mut flags) = (0, 0, 0);
    for line in device {
        let changed = if line == r#"build-std = ["std", "panic_unwind"]"# {
            runtime += 1;
            r#"build-std = ["std", "panic_abort"]"#.to_string()
        } else if line.starts_with("build-std-features = [") {
            features += 1;
            line.replacen(r#""panic-unwind", "#, "", 1)
        } else if line.starts_with("rustflags = [") {
            flags += 1;
            let shallow = r#""-Zfmt-debug=shallow""#;
            line.replacen(shallow, &format!("{shallow}, {NO_TABLES}, {IMMEDIATE}"), 1)
        } else {
            line.clone()
        };
        out.push(changed);
    }
    (runtime == 1 && features == 1 && flags == 2).then_some(out)
}

#[test]
fn device_abort_config_is_the_device_config_with_three_changes() {
    let device = settings("device.toml");
    let expected = with_abort_changes(&device).expect(
        "device.toml lacks a line the abort build changes (build-std, its features, rustflags)",
    );
    assert_eq!(settings("device-abort.toml"), expected);
}

#[test]
fn the_changes_apply_only_where_they_belong() {
    // A config whose lines differ fails either way: no line to change, or a
    // different result.
    let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(with_abort_changes(&lines(&[
        "[build]",
        "rustflags = [\"-Zfmt-debug=shallow\"]"
    ]))
    .is_none());
    let device = lines(&[
        r#"build-std = ["std", "panic_unwind"]"#,
        r#"build-std-features = ["panic-unwind", "x"]"#,
        r#"rustflags = ["-Zfmt-debug=shallow"]"#,
        r#"rustflags = ["-Zfmt-debug=shallow", "y"]"#,
    ]);
    let changed = with_abort_changes(&device).unwrap();
    assert_eq!(changed[0], r#"build-std = ["std", "panic_abort"]"#);
    assert_eq!(changed[1], r#"build-std-features = ["x"]"#);
    assert_eq!(
        changed[3],
        r#"rustflags = ["-Zfmt-debug=shallow", "-Cforce-unwind-tables=no", "-Zunstable-options", "-Cpanic=immediate-abort", "y"]"#
    );
}
