//! The SDP decoder: what the ICE agent and the PeerConnection need from a
//! remote offer or answer.

use super::{Fingerprint, SdpError, Setup};
use crate::ice::{Candidate, Transport};

/// The ICE and data-channel parameters of a session description.
///
/// Which media section is read: the first data-channel section
/// (`m=application … UDP/DTLS/SCTP webrtc-datachannel`, or the older
/// `DTLS/SCTP <port>` form), else the first `UDP/ICE` section, else the first
/// section. If that section is in a BUNDLE group, its transport attributes
/// come from the group's first (tagged) section. Each ICE/DTLS attribute is
/// taken from that transport section, then the selected section, then the
/// session level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDescription {
    pub ufrag: String,
    pub pwd: String,
    /// The `a=ice-options` tokens (for example `trickle`, `ice2`), split on
    /// spaces and commas.
    pub ice_options: Vec<String>,
    /// `a=ice-lite` is present.
    pub ice_lite: bool,
    /// `a=end-of-candidates` is present.
    pub end_of_candidates: bool,
    /// Every parseable `a=fingerprint` of the transport (browsers send one).
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup`, `None` when absent or not a DTLS role.
    pub setup: Option<Setup>,
    /// `a=mid` of the selected section.
    pub mid: Option<String>,
    /// `a=sctp-port`, or the port of the older `a=sctpmap` / `DTLS/SCTP` form.
    pub sctp_port: Option<u16>,
    /// `a=max-message-size` (0 means no limit, RFC 8841 §6).
    pub max_message_size: Option<u64>,
    /// The selected section is a data-channel (DTLS/SCTP) section.
    pub is_webrtc: bool,
    /// The UDP candidates (IP literals and mDNS names), in order.
    pub candidates: Vec<Candidate>,
    /// TCP candidates that were left out.
    pub skipped_tcp_candidates: usize,
    /// Candidate lines that did not parse and were left out.
    pub skipped_invalid_candidates: usize,
    /// Every media section, in order (what an answer must mirror, RFC 3264
    /// §6: one answer section per offered one, same order).
    pub media: Vec<MediaSection>,
    /// The index in [`media`](Self::media) of the selected section.
    pub selected: Option<usize>,
    /// The mids of the `a=group:BUNDLE` group that holds the selected
    /// section, in the order written; empty when it is in none.
    pub bundle: Vec<String>,
    /// Attributes of the selected section that are present with an illegal
    /// value (`sctp-port` outside 1–65535, `max-message-size` not a
    /// non-negative integer, RFC 8841): left out of the fields above and
    /// named here, so that a PeerConnection can refuse the description as
    /// browsers do.
    pub invalid_attributes: Vec<&'static str>,
}

/// One media section of a description, as an answer has to mirror it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaSection {
    /// `audio`, `video`, `application`, …
    pub kind: String,
    /// The transport protocol (`UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`, …).
    pub proto: String,
    /// The formats of the `m=` line, space-separated as written.
    pub formats: String,
    /// `a=mid`, when present.
    pub mid: Option<String>,
}

impl SessionDescription {
    /// Decodes a session description. Errors: no ufrag, no pwd, or a
    /// data-channel description without a fingerprint. Unknown lines and
    /// attributes are skipped, bad candidate lines are counted and skipped.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn decode(text: &str) -> Result<Self, SdpError> {
        let (session, media) = split_sections(text);

        let selected = media
            .iter()
            .position(Section::is_datachannel)
            .or_else(|| media.iter().position(Section::is_ice_only))
            .or(if media.is_empty() { None } else { Some(0) });
        let transport = selected.map(|i| bundle_tag(&session, &media, i).unwrap_or(i));

        let mut levels: Vec<&Section> = Vec::with_capacity(3);
        levels.extend(transport.map(|i| &media[i]));
        if selected != transport {
            levels.extend(selected.map(|i| &media[i]));
        }
        levels.push(&session);
        let first = |name: &str| {
            levels
                .iter()
                .find_map(|s| s.values(name).map(str::trim).find(|v| !v.is_empty()))
        };

        let ufrag = first("ice-ufrag")
            .ok_or(SdpError::MissingUfrag)?
            .to_string();
        let pwd = first("ice-pwd").ok_or(SdpError::MissingPwd)?.to_string();
        let ice_options = first("ice-options")
            .map(|v| {
                // RFC 8839 separates options by spaces; libdatachannel writes
                // `ice2,trickle`.
                v.split(|c: char| c.is_ascii_whitespace() || c == ',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let fingerprints = levels
            .iter()
            .map(|s| {
                s.values("fingerprint")
                    .filter_map(|v| Fingerprint::parse(v).ok())
                    .collect::<Vec<_>>()
            })
            .find(|f| !f.is_empty())
            .unwrap_or_default();
        let setup = first("setup").and_then(|v| v.parse().ok());

        let mut out = SessionDescription {
            ufrag,
            pwd,
            ice_options,
            ice_lite: levels.iter().any(|s| s.has("ice-lite")),
            end_of_candidates: levels.iter().any(|s| s.has("end-of-candidates")),
            fingerprints,
            setup,
            ..Default::default()
        };

        out.media = media
            .iter()
            .map(|m| {
                let line = m.media.as_ref();
                MediaSection {
                    kind: line.map_or("", |l| l.media).to_string(),
                    proto: line.map_or("", |l| l.proto).to_string(),
                    formats: line.map_or(String::new(), |l| l.fmts.join(" ")),
                    mid: m.mid().map(str::to_string),
                }
            })
            .collect();
        out.selected = selected;
        out.bundle = selected
            .and_then(|i| bundle_group(&session, &media[i]))
            .unwrap_or_default();
        if let Some(sel) = selected.map(|i| &media[i]) {
            out.is_webrtc = sel.is_datachannel();
            out.mid = sel.mid().map(str::to_string);
            out.sctp_port = match sel.value("sctp-port").map(str::trim) {
                Some(v) => match v.parse::<u16>() {
                    Ok(p) if p != 0 => Some(p),
                    _ => {
                        out.invalid_attributes.push("sctp-port");
                        None
                    }
                },
                None => sel.legacy_sctp_port(),
            };
            out.max_message_size = match sel.value("max-message-size").map(str::trim) {
                // RFC 8841: 1*DIGIT, 0 = no limit; beyond u64 is no limit
                // in practice.
                Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(v.parse().unwrap_or(u64::MAX))
                }
                Some(_) => {
                    out.invalid_attributes.push("max-message-size");
                    None
                }
                None => None,
            };
        }
        if out.is_webrtc && out.fingerprints.is_empty() {
            return Err(SdpError::MissingFingerprint);
        }

        // Candidates: session level, then the transport section (or the
        // selected one if the transport section carries none).
        let cand_section = match (transport, selected) {
            (Some(t), Some(s)) if t != s && !media[t].has("candidate") => Some(s),
            (t, _) => t,
        };
        let sources = std::iter::once(&session).chain(cand_section.map(|i| &media[i]));
        for line in sources.flat_map(|s| s.values("candidate")) {
            match Candidate::parse(line) {
                Ok(c) if c.transport == Transport::Tcp => out.skipped_tcp_candidates += 1,
                Ok(c) => out.candidates.push(c),
                Err(_) => out.skipped_invalid_candidates += 1,
            }
        }
        Ok(out)
    }

    /// `a=ice-options` includes `trickle`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn trickle(&self) -> bool {
        self.ice_options.iter().any(|o| o == "trickle")
    }

    /// The fingerprint to verify the DTLS certificate with: the first
    /// `sha-256` one, else the first one.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        self.fingerprints
            .iter()
            .find(|f| f.algorithm == "sha-256")
            .or_else(|| self.fingerprints.first())
    }
}

/// An `m=` line: media, port, proto and formats.
#[derive(Default)]
struct MediaLine<'a> {
    media: &'a str,
    proto: &'a str,
    fmts: Vec<&'a str>,
}

/// The session level (no media line) or one media section.
#[derive(Default)]
struct Section<'a> {
    media: Option<MediaLine<'a>>,
    /// `a=<name>[:<value>]` in order.
    attrs: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Section<'a> {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.attrs
            .iter()
            .filter(move |(n, _)| *n == name)
            .filter_map(|(_, v)| *v)
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn value(&self, name: &str) -> Option<&'a str> {
        self.values(name).next()
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| *n == name)
    }

    /// `a=mid`, trimmed; `None` when absent or empty.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn mid(&self) -> Option<&'a str> {
        self.value("mid").map(str::trim).filter(|v| !v.is_empty())
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn is_datachannel(&self) -> bool {
        self.media.as_ref().is_some_and(|m| {
            m.media == "application"
                && (m.proto.to_ascii_uppercase().ends_with("DTLS/SCTP")
                    || m.fmts.contains(&"webrtc-datachannel"))
        })
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    fn is_ice_only(&self) -> bool {
        self.media
            .as_ref()
            .is_some_and(|m| m.proto.eq_ignore_ascii_case("UDP/ICE"))
    }

    /// The port of the pre-RFC 8841 forms, for a section without
    /// `a=sctp-port`: `a=sctpmap:5000 webrtc-datachannel 1024`, or the
    /// format of an `m=application … DTLS/SCTP 5000` line.
    #[cfg_attr(xp2p_device, optimize(size))]
    fn legacy_sctp_port(&self) -> Option<u16> {
        let from_map = self.values("sctpmap").find_map(|v| {
            let mut t = v.split_ascii_whitespace();
            let port = t.next()?.parse().ok()?;
            (t.next()? == "webrtc-datachannel").then_some(port)
        });
        from_map.or_else(|| {
            let m = self.media.as_ref()?;
            if m.proto.eq_ignore_ascii_case("DTLS/SCTP") {
                m.fmts.first()?.parse().ok()
            } else {
                None
            }
        })
    }
}

/// Splits the text into the session level and the media sections. Lines
/// may end in CRLF or LF; lines that are not `<letter>=…` are ignored.
#[cfg_attr(xp2p_device, optimize(size))]
fn split_sections(text: &str) -> (Section<'_>, Vec<Section<'_>>) {
    let mut session = Section::default();
    let mut media: Vec<Section<'_>> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.trim();
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' {
            continue;
        }
        // b[1] is ASCII, so b[0] is ASCII too and index 2 is a char boundary.
        let value = &line[2..];
        match b[0] {
            b'm' => {
                let mut t = value.split_ascii_whitespace();
                let media_type = t.next().unwrap_or("");
                let _port = t.next();
                let proto = t.next().unwrap_or("");
                media.push(Section {
                    media: Some(MediaLine {
                        media: media_type,
                        proto,
                        fmts: t.collect(),
                    }),
                    attrs: Vec::new(),
                });
            }
            b'a' => {
                let attr = match value.split_once(':') {
                    Some((n, v)) => (n, Some(v)),
                    None => (value, None),
                };
                media.last_mut().unwrap_or(&mut session).attrs.push(attr);
            }
            _ => {}
        }
    }
    (session, media)
}

/// The mids of the BUNDLE group that holds `section`, if any.
#[cfg_attr(xp2p_device, optimize(size))]
fn bundle_group(session: &Section<'_>, section: &Section<'_>) -> Option<Vec<String>> {
    let mid = section.mid()?;
    session.values("group").find_map(|g| {
        let mut t = g.split_ascii_whitespace();
        if t.next()? != "BUNDLE" {
            return None;
        }
        let mids: Vec<&str> = t.collect();
        mids.contains(&mid)
            .then(|| mids.iter().map(|m| m.to_string()).collect())
    })
}

/// The index of the BUNDLE-tagged section (the first mid of the group)
/// when section `i` is in a BUNDLE group.
#[cfg_attr(xp2p_device, optimize(size))]
fn bundle_tag(session: &Section<'_>, media: &[Section<'_>], i: usize) -> Option<usize> {
    let group = bundle_group(session, &media[i])?;
    let tag = group.first()?;
    media.iter().position(|s| s.mid() == Some(tag.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ice::{CandidateAddress, CandidateKind};

    const CHROME_LIKE: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1\r\n\
a=candidate:1 1 udp 2122194687 0c6a4a5e-1a2b-4c3d-8e9f-0123456789ab.local 50000 typ host generation 0\r\n\
a=candidate:3 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0\r\n\
a=candidate:bogus\r\n\
a=ice-ufrag:F7gI\r\n\
a=ice-pwd:x9cml/YzichV2+XlhiMu8g1a\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D4:E5:4A:2F:7A:A6:2C:1F:D9:3B:5C:4A:58:4C:C9:12:0F:12:55:0B:21:8A:9E:27:9B:33:94:6D:8F:2A:6E:1D\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n";

    #[test]
    fn decodes_browser_offer() {
        let d = SessionDescription::decode(CHROME_LIKE).unwrap();
        assert_eq!(d.ufrag, "F7gI");
        assert_eq!(d.pwd, "x9cml/YzichV2+XlhiMu8g1a");
        assert!(d.trickle());
        assert!(d.is_webrtc);
        assert_eq!(d.setup, Some(Setup::Actpass));
        assert_eq!(d.mid.as_deref(), Some("0"));
        assert_eq!(d.sctp_port, Some(5000));
        assert_eq!(d.max_message_size, Some(262_144));
        let fp = d.fingerprint().unwrap();
        assert_eq!(fp.algorithm, "sha-256");
        assert_eq!(fp.bytes.len(), 32);
        assert_eq!(fp.bytes[0], 0xD4);
        assert_eq!(d.candidates.len(), 2);
        assert!(d.candidates[1].address.is_mdns());
        assert_eq!(d.skipped_tcp_candidates, 1);
        assert_eq!(d.skipped_invalid_candidates, 1);
        assert!(!d.end_of_candidates);
        assert!(!d.ice_lite);
        assert!(d.invalid_attributes.is_empty());
    }

    #[test]
    fn illegal_sctp_port_and_max_message_size_are_named() {
        for (port, mms, invalid) in [
            ("0", "262144", vec!["sctp-port"]),
            ("70000", "262144", vec!["sctp-port"]),
            ("x", "262144", vec!["sctp-port"]),
            ("5000", "-1", vec!["max-message-size"]),
            ("5000", "", vec!["max-message-size"]),
            ("5000", "1e6", vec!["max-message-size"]),
            ("0", "-5", vec!["sctp-port", "max-message-size"]),
            ("65535", "0", vec![]),
            ("1", "99999999999999999999999", vec![]),
        ] {
            let sdp = CHROME_LIKE
                .replace("a=sctp-port:5000", &format!("a=sctp-port:{port}"))
                .replace(
                    "a=max-message-size:262144",
                    &format!("a=max-message-size:{mms}"),
                );
            let d = SessionDescription::decode(&sdp).unwrap();
            assert_eq!(d.invalid_attributes, invalid, "{port} {mms}");
            if invalid.is_empty() {
                assert_eq!(d.sctp_port, Some(port.parse().unwrap()));
                assert!(d.max_message_size.is_some());
            }
        }
        assert_eq!(
            SessionDescription::decode(
                &CHROME_LIKE.replace("a=max-message-size:262144", "a=max-message-size:0")
            )
            .unwrap()
            .max_message_size,
            Some(0)
        );
    }

    #[test]
    fn lf_only_equals_crlf() {
        let lf = CHROME_LIKE.replace("\r\n", "\n");
        assert_eq!(
            SessionDescription::decode(&lf).unwrap(),
            SessionDescription::decode(CHROME_LIKE).unwrap()
        );
    }

    #[test]
    fn session_level_attributes_and_media_override() {
        let sdp = "v=0\na=ice-ufrag:sess\na=ice-pwd:sessionpasswordsessionpw\n\
a=fingerprint:sha-256 AA:BB\na=setup:passive\na=ice-lite\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=ice-ufrag:media\na=mid:data\n\
a=candidate:1 1 UDP 100 10.0.0.1 5000 typ host\na=end-of-candidates\n";
        let d = SessionDescription::decode(sdp).unwrap();
        assert_eq!(d.ufrag, "media");
        assert_eq!(d.pwd, "sessionpasswordsessionpw");
        assert_eq!(d.setup, Some(Setup::Passive));
        assert_eq!(d.fingerprints[0].bytes, [0xAA, 0xBB]);
        assert!(d.ice_lite);
        assert!(d.end_of_candidates);
        assert_eq!(d.mid.as_deref(), Some("data"));
        assert_eq!(d.sctp_port, None);
        assert_eq!(d.candidates.len(), 1);
    }

    #[test]
    fn picks_data_section_and_bundle_transport() {
        // Audio first (the BUNDLE tag, carrying the transport), data second.
        let sdp = "v=0\r\na=group:BUNDLE a d\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:a\r\na=ice-ufrag:audi\r\n\
a=ice-pwd:audiopasswordaudiopassw\r\na=fingerprint:sha-256 01:02\r\na=setup:active\r\n\
a=candidate:1 1 udp 2122260223 10.0.0.1 4000 typ host\r\n\
m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=bundle-only\r\na=mid:d\r\n\
a=sctp-port:5001\r\n";
        let d = SessionDescription::decode(sdp).unwrap();
        assert!(d.is_webrtc);
        assert_eq!(d.mid.as_deref(), Some("d"));
        assert_eq!(d.ufrag, "audi");
        assert_eq!(d.setup, Some(Setup::Active));
        assert_eq!(d.sctp_port, Some(5001));
        assert_eq!(d.candidates.len(), 1);
        assert_eq!(
            d.candidates[0].address,
            CandidateAddress::Ip("10.0.0.1:4000".parse().unwrap())
        );
    }

    #[test]
    fn comma_separated_ice_options() {
        let sdp = "a=ice-ufrag:abcd\na=ice-pwd:efgh\na=ice-options:ice2,trickle\n";
        let d = SessionDescription::decode(sdp).unwrap();
        assert_eq!(d.ice_options, ["ice2", "trickle"]);
        assert!(d.trickle());
    }

    #[test]
    fn old_sctpmap_form() {
        let sdp = "v=0\r\nm=application 9 DTLS/SCTP 5000\r\na=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-1 00:11\r\n\
a=sctpmap:5000 webrtc-datachannel 1024\r\n";
        let d = SessionDescription::decode(sdp).unwrap();
        assert!(d.is_webrtc);
        assert_eq!(d.sctp_port, Some(5000));
        assert_eq!(d.fingerprint().unwrap().algorithm, "sha-1");
        let no_map = sdp.replace("a=sctpmap:5000 webrtc-datachannel 1024\r\n", "");
        assert_eq!(
            SessionDescription::decode(&no_map).unwrap().sctp_port,
            Some(5000)
        );
    }

    #[test]
    fn ice_only_section_is_not_webrtc() {
        let sdp = "v=0\r\nm=application 9 UDP/ICE 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:efgh\r\n\
a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n";
        let d = SessionDescription::decode(sdp).unwrap();
        assert!(!d.is_webrtc);
        assert!(!d.trickle());
        assert_eq!(d.candidates[0].kind, CandidateKind::Host);
        assert_eq!(d.setup, None);
    }

    #[test]
    fn errors() {
        assert_eq!(
            SessionDescription::decode("garbage"),
            Err(SdpError::MissingUfrag)
        );
        assert_eq!(
            SessionDescription::decode("a=ice-ufrag:abcd\r\n"),
            Err(SdpError::MissingPwd)
        );
        assert_eq!(
            SessionDescription::decode("a=ice-ufrag:\r\na=ice-pwd:x\r\n"),
            Err(SdpError::MissingUfrag)
        );
        let no_fp = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:abcd\r\n\
a=ice-pwd:efgh\r\n";
        assert_eq!(
            SessionDescription::decode(no_fp),
            Err(SdpError::MissingFingerprint)
        );
        let bad_fp = format!("{no_fp}a=fingerprint:sha-256 nothex\r\n");
        assert_eq!(
            SessionDescription::decode(&bad_fp),
            Err(SdpError::MissingFingerprint)
        );
    }
}
