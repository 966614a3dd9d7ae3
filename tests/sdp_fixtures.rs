//! Real offers and answers captured from browsers and other stacks
//! (`tests/fixtures/sdp/*.sdp`, see the README there), each checked against
//! a hand-written `<name>.expect` file beside it.
//!
//! An `.expect` file holds `key=value` lines (`#` starts a comment). Either
//! `error=<MissingUfrag|MissingPwd|MissingFingerprint>` for a description
//! that must be refused, or at least these keys (`none` = absent):
//!
//! | key | compared with |
//! | --- | --- |
//! | `ufrag`, `pwd` | the ICE credentials |
//! | `fingerprint` | the chosen `a=fingerprint` value, as written |
//! | `setup` | `active`, `passive`, `actpass` or `none` |
//! | `mid` | `a=mid` of the selected section |
//! | `sctp_port`, `max_message_size` | numbers or `none` |
//! | `candidates` | number of UDP candidates kept (IP and mDNS) |
//!
//! Optional keys: `mdns_candidates`, `ip_candidates`, `tcp_skipped`,
//! `invalid_skipped`, `is_webrtc`, `trickle`, `end_of_candidates`,
//! `ice_lite`, `fingerprint_algorithm`, `fingerprint_len` (digest bytes).
//! Unknown keys fail the test, as does a fixture without an `.expect` file.
//!
//! Every candidate kept must format back to a line that parses to the same
//! candidate. Each fixture also goes through the C decoder `xIceSdpDecode`, which must
//! agree (accept/refuse, credentials, mid, port, setup, and
//! min(32, IP candidates) candidates).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use xp2p::ffi::sdp::{xIceSdp, xIceSdpDecode};
use xp2p::ice::Candidate;
use xp2p::sdp::{SdpError, SessionDescription, Setup};

const REQUIRED: [&str; 8] = [
    "ufrag",
    "pwd",
    "fingerprint",
    "setup",
    "mid",
    "sctp_port",
    "max_message_size",
    "candidates",
];
const OPTIONAL: [&str; 10] = [
    "mdns_candidates",
    "ip_candidates",
    "tcp_skipped",
    "invalid_skipped",
    "is_webrtc",
    "trickle",
    "end_of_candidates",
    "ice_lite",
    "fingerprint_algorithm",
    "fingerprint_len",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdp")
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    v.sort();
    v
}

fn parse_expect(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{}:{}: not key=value", path.display(), i + 1))?;
        let k = k.trim().to_string();
        if map.insert(k.clone(), v.trim().to_string()).is_some() {
            return Err(format!("{}: key {k} twice", path.display()));
        }
    }
    Ok(map)
}

fn opt_text<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_string(), |x| x.to_string())
}

fn c_str(a: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = a
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Checks one fixture; returns the list of mismatches.
fn check_fixture(sdp_path: &Path, expect: &BTreeMap<String, String>) -> Vec<String> {
    let mut errs = Vec::new();
    let text = match fs::read(sdp_path) {
        Ok(b) => b,
        Err(e) => return vec![format!("read: {e}")],
    };
    let text_str = String::from_utf8_lossy(&text);
    let decoded = SessionDescription::decode(&text_str);

    // The C decoder must agree on accept/refuse.
    // SAFETY: xIceSdp is a plain C struct for which all-zero is valid.
    let mut c_sdp: Box<xIceSdp> = unsafe { Box::new(std::mem::zeroed()) };
    // SAFETY: `text` has the length passed and `c_sdp` is a live, writable xIceSdp.
    let c_rc = unsafe { xIceSdpDecode(text.as_ptr().cast(), text.len(), &mut *c_sdp) };

    if let Some(want) = expect.get("error") {
        for k in expect.keys().filter(|k| *k != "error") {
            errs.push(format!("key {k} given together with error="));
        }
        let got = match &decoded {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        };
        if &got != want {
            errs.push(format!("error: expected {want}, decoded {got}"));
        }
        if c_rc == xbase::types::xErrno_Ok {
            errs.push("C decoder accepted a description the expectations refuse".into());
        }
        return errs;
    }

    for k in REQUIRED {
        if !expect.contains_key(k) {
            errs.push(format!("required key {k} missing from the .expect file"));
        }
    }
    for k in expect.keys() {
        if !REQUIRED.contains(&k.as_str()) && !OPTIONAL.contains(&k.as_str()) {
            errs.push(format!("unknown key {k}"));
        }
    }
    let d = match decoded {
        Ok(d) => d,
        Err(e) => {
            errs.push(format!("decode failed: {e:?}"));
            return errs;
        }
    };

    for c in &d.candidates {
        if Candidate::parse(&c.to_string()).as_ref() != Ok(c) {
            errs.push(format!("candidate does not round-trip: {c}"));
        }
    }
    let fp = d.fingerprint();
    let mdns = d.candidates.iter().filter(|c| c.address.is_mdns()).count();
    let ip = d.candidates.len() - mdns;
    let got: BTreeMap<&str, String> = [
        ("ufrag", d.ufrag.clone()),
        ("pwd", d.pwd.clone()),
        ("fingerprint", opt_text(fp.map(|f| f.text.clone()))),
        ("setup", opt_text(d.setup)),
        ("mid", opt_text(d.mid.clone())),
        ("sctp_port", opt_text(d.sctp_port)),
        ("max_message_size", opt_text(d.max_message_size)),
        ("candidates", d.candidates.len().to_string()),
        ("mdns_candidates", mdns.to_string()),
        ("ip_candidates", ip.to_string()),
        ("tcp_skipped", d.skipped_tcp_candidates.to_string()),
        ("invalid_skipped", d.skipped_invalid_candidates.to_string()),
        ("is_webrtc", d.is_webrtc.to_string()),
        ("trickle", d.trickle().to_string()),
        ("end_of_candidates", d.end_of_candidates.to_string()),
        ("ice_lite", d.ice_lite.to_string()),
        (
            "fingerprint_algorithm",
            opt_text(fp.map(|f| f.algorithm.clone())),
        ),
        ("fingerprint_len", opt_text(fp.map(|f| f.bytes.len()))),
    ]
    .into_iter()
    .collect();
    for (k, want) in expect {
        if let Some(have) = got.get(k.as_str()) {
            if have != want {
                errs.push(format!("{k}: expected {want:?}, decoded {have:?}"));
            }
        }
    }

    // The C view.
    if c_rc != xbase::types::xErrno_Ok {
        errs.push(format!("C decoder refused it ({c_rc})"));
        return errs;
    }
    let trunc = |s: &str, cap: usize| s.chars().take(cap - 1).collect::<String>();
    if c_str(&c_sdp.ice_ufrag) != trunc(&d.ufrag, 64) {
        errs.push("C ufrag differs".into());
    }
    if c_str(&c_sdp.ice_pwd) != trunc(&d.pwd, 128) {
        errs.push("C pwd differs".into());
    }
    if c_str(&c_sdp.mid) != d.mid.as_deref().map_or(String::new(), |m| trunc(m, 32)) {
        errs.push("C mid differs".into());
    }
    if c_sdp.sctp_port != d.sctp_port.unwrap_or(0) {
        errs.push("C sctp_port differs".into());
    }
    if c_sdp.setup != d.setup.map_or(0, Setup::code) {
        errs.push("C setup differs".into());
    }
    if c_sdp.is_webrtc != d.is_webrtc || c_sdp.trickle != d.trickle() {
        errs.push("C is_webrtc/trickle differ".into());
    }
    if c_sdp.candidate_count as usize != ip.min(32) {
        errs.push(format!(
            "C candidate_count {} != {}",
            c_sdp.candidate_count,
            ip.min(32)
        ));
    }
    errs
}

#[test]
fn every_fixture_matches_its_expectations() {
    let dir = fixture_dir();
    let sdps = files_with_ext(&dir, "sdp");
    let mut failures = Vec::new();
    for sdp in &sdps {
        let expect_path = sdp.with_extension("expect");
        let name = sdp.file_name().unwrap().to_string_lossy().into_owned();
        if !expect_path.exists() {
            failures.push(format!("{name}: no {} file", expect_path.display()));
            continue;
        }
        match parse_expect(&expect_path) {
            Ok(expect) => {
                for e in check_fixture(sdp, &expect) {
                    failures.push(format!("{name}: {e}"));
                }
            }
            Err(e) => failures.push(e),
        }
    }
    for exp in files_with_ext(&dir, "expect") {
        if !exp.with_extension("sdp").exists() {
            failures.push(format!("{}: no matching .sdp fixture", exp.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "SDP fixture mismatches:\n{}",
        failures.join("\n")
    );
    eprintln!("{} SDP fixtures checked", sdps.len());
}

#[test]
fn checker_catches_mismatches() {
    // A self-test of the checker on a description written here.
    let dir = std::env::temp_dir().join(format!("xp2p-sdp-fixture-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let sdp = dir.join("t.sdp");
    fs::write(
        &sdp,
        "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:abcd\n\
         a=ice-pwd:0123456789abcdefghijklmn\na=fingerprint:sha-256 AA:BB\na=setup:active\n\
         a=mid:0\na=sctp-port:5000\na=candidate:1 1 udp 1 x.local 9 typ host\n\
         a=candidate:2 1 udp 1 10.0.0.1 9 typ host\n",
    )
    .unwrap();
    let mut expect: BTreeMap<String, String> = [
        ("ufrag", "abcd"),
        ("pwd", "0123456789abcdefghijklmn"),
        ("fingerprint", "sha-256 AA:BB"),
        ("setup", "active"),
        ("mid", "0"),
        ("sctp_port", "5000"),
        ("max_message_size", "none"),
        ("candidates", "2"),
        ("mdns_candidates", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(check_fixture(&sdp, &expect), Vec::<String>::new());
    expect.insert("candidates".into(), "3".into());
    expect.insert("bogus".into(), "1".into());
    expect.remove("mid");
    assert_eq!(check_fixture(&sdp, &expect).len(), 3);
    let refuse: BTreeMap<String, String> =
        [("error".to_string(), format!("{:?}", SdpError::MissingUfrag))]
            .into_iter()
            .collect();
    assert_eq!(check_fixture(&sdp, &refuse).len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}
