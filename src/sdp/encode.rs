//! The SDP encoders: the ICE-only layout (spec §4.1) and the WebRTC
//! data-channel layout (spec §4.2), CRLF line ends, values written verbatim.

use std::fmt::Write;

use super::{SessionDescription, Setup};
use crate::ice::Candidate;

/// The ICE parameters of a local description.
#[derive(Debug, Clone, Copy)]
pub struct IceParams<'a> {
    pub ufrag: &'a str,
    pub pwd: &'a str,
    pub candidates: &'a [Candidate],
    /// Adds `a=ice-options:trickle`.
    pub trickle: bool,
    /// Adds `a=end-of-candidates` after the candidates (the C encoders never
    /// do, as upstream).
    pub end_of_candidates: bool,
}

/// The parameters of a WebRTC data-channel description.
#[derive(Debug, Clone, Copy)]
pub struct WebRtcParams<'a> {
    pub ice: IceParams<'a>,
    /// The `a=fingerprint` value, written verbatim (for example
    /// [`Fingerprint::text`](super::Fingerprint::text)).
    pub fingerprint: &'a str,
    pub setup: Setup,
    pub mid: &'a str,
    pub sctp_port: u16,
    /// Adds `a=max-message-size:<n>` after `a=sctp-port` (RFC 8841). The C
    /// `xIceSdpEncodeWebRTC` passes `None` and keeps upstream's exact text.
    pub max_message_size: Option<u64>,
}

const SESSION_HEADER: &str = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";

/// The ICE-only description: `v=0`, `o=- 0 0 IN IP4 0.0.0.0`, `s=-`,
/// `t=0 0`, `m=application 9 UDP/ICE 0`, `c=IN IP4 0.0.0.0`,
/// `a=ice-ufrag`, `a=ice-pwd`, [`a=ice-options:trickle`], candidates,
/// [`a=end-of-candidates`].
#[cfg_attr(xp2p_device, optimize(size))]
pub fn encode_ice(p: &IceParams<'_>) -> String {
    let mut s = String::with_capacity(256 + 128 * p.candidates.len());
    s.push_str(SESSION_HEADER);
    s.push_str("m=application 9 UDP/ICE 0\r\nc=IN IP4 0.0.0.0\r\n");
    push_credentials(&mut s, p);
    if p.trickle {
        s.push_str("a=ice-options:trickle\r\n");
    }
    push_candidates(&mut s, p);
    s
}

/// The WebRTC description: `v=0`, `o=- 0 0 IN IP4 0.0.0.0`, `s=-`, `t=0 0`,
/// `a=group:BUNDLE <mid>`, `m=application 9 UDP/DTLS/SCTP webrtc-datachannel`,
/// `c=IN IP4 0.0.0.0`, `a=mid`, `a=ice-ufrag`, `a=ice-pwd`, `a=fingerprint`,
/// `a=setup`, `a=sctp-port`, [`a=max-message-size`],
/// [`a=ice-options:trickle`], candidates, [`a=end-of-candidates`].
#[cfg_attr(xp2p_device, optimize(size))]
pub fn encode_webrtc(p: &WebRtcParams<'_>) -> String {
    let mut s = String::with_capacity(512 + 128 * p.ice.candidates.len());
    s.push_str(SESSION_HEADER);
    let _ = write!(s, "a=group:BUNDLE {}\r\n", p.mid);
    push_datachannel_section(&mut s, p, Some(p.mid));
    s
}

/// The answer to `offer` (RFC 3264 §6, RFC 8843): one section per offered
/// section, in the same order, with the same mids. The selected
/// data-channel section is accepted with the layout of [`encode_webrtc`]
/// and the offer's mid (`p.mid` is not used); every other section is
/// rejected: port 0, its offered protocol and formats, its mid and
/// `a=inactive`. When the offer bundled the data-channel section, the
/// answer's `a=group:BUNDLE` holds its mid alone (rejected sections leave
/// the group); without an offered group the answer has none. An offer
/// without media sections gets the layout of [`encode_webrtc`].
#[cfg_attr(xp2p_device, optimize(size))]
pub fn encode_webrtc_answer(p: &WebRtcParams<'_>, offer: &SessionDescription) -> String {
    let Some(selected) = offer.selected.filter(|&i| i < offer.media.len()) else {
        return encode_webrtc(p);
    };
    let mut s = String::with_capacity(512 + 128 * p.ice.candidates.len());
    s.push_str(SESSION_HEADER);
    let accepted_mid = offer.media[selected].mid.as_deref();
    if let Some(mid) = accepted_mid.filter(|m| offer.bundle.iter().any(|b| b == m)) {
        let _ = write!(s, "a=group:BUNDLE {mid}\r\n");
    }
    for (i, m) in offer.media.iter().enumerate() {
        if i == selected {
            push_datachannel_section(&mut s, p, accepted_mid);
            continue;
        }
        let _ = write!(s, "m={} 0 {}", m.kind, m.proto);
        if !m.formats.is_empty() {
            let _ = write!(s, " {}", m.formats);
        }
        s.push_str("\r\nc=IN IP4 0.0.0.0\r\n");
        if let Some(mid) = &m.mid {
            let _ = write!(s, "a=mid:{mid}\r\n");
        }
        s.push_str("a=inactive\r\n");
    }
    s
}

/// The data-channel media section of [`encode_webrtc`], with `mid` (none
/// when `None`).
fn push_datachannel_section(s: &mut String, p: &WebRtcParams<'_>, mid: Option<&str>) {
    s.push_str("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n");
    if let Some(mid) = mid {
        let _ = write!(s, "a=mid:{mid}\r\n");
    }
    push_credentials(s, &p.ice);
    let _ = write!(s, "a=fingerprint:{}\r\n", p.fingerprint);
    let _ = write!(s, "a=setup:{}\r\n", p.setup);
    let _ = write!(s, "a=sctp-port:{}\r\n", p.sctp_port);
    if let Some(n) = p.max_message_size {
        let _ = write!(s, "a=max-message-size:{n}\r\n");
    }
    if p.ice.trickle {
        s.push_str("a=ice-options:trickle\r\n");
    }
    push_candidates(s, &p.ice);
}

fn push_credentials(s: &mut String, p: &IceParams<'_>) {
    let _ = write!(s, "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n", p.ufrag, p.pwd);
}

fn push_candidates(s: &mut String, p: &IceParams<'_>) {
    for c in p.candidates {
        let _ = write!(s, "a={c}\r\n");
    }
    if p.end_of_candidates {
        s.push_str("a=end-of-candidates\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::super::SessionDescription;
    use super::*;

    fn cands() -> Vec<Candidate> {
        vec![
            Candidate::host("192.168.1.2:5000".parse().unwrap(), 1, 65535),
            Candidate::srflx(
                "203.0.113.1:6000".parse().unwrap(),
                "192.168.1.2:5000".parse().unwrap(),
                "198.51.100.1:3478".parse().unwrap(),
                1,
                65535,
            ),
        ]
    }

    #[test]
    fn ice_layout_is_exact() {
        let c = cands();
        let ice = IceParams {
            ufrag: "abcd1234",
            pwd: "pwdpwdpwdpwdpwdpwdpwdpwd",
            candidates: &c[..1],
            trickle: true,
            end_of_candidates: false,
        };
        let text = encode_ice(&ice);
        let expect = format!(
            "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/ICE 0\r\n\
c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd1234\r\na=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd\r\n\
a=ice-options:trickle\r\na=candidate:{} 1 UDP 2130706431 192.168.1.2 5000 typ host\r\n",
            c[0].foundation
        );
        assert_eq!(text, expect);
        let d = SessionDescription::decode(&text).unwrap();
        assert_eq!(d.candidates, &c[..1]);
        assert!(!d.is_webrtc);
    }

    #[test]
    fn webrtc_layout_is_exact_and_round_trips() {
        let c = cands();
        let p = WebRtcParams {
            ice: IceParams {
                ufrag: "abcd1234",
                pwd: "pwdpwdpwdpwdpwdpwdpwdpwd",
                candidates: &c,
                trickle: false,
                end_of_candidates: true,
            },
            fingerprint: "sha-256 AA:BB:CC",
            setup: Setup::Passive,
            mid: "data",
            sctp_port: 5000,
            max_message_size: Some(262_144),
        };
        let text = encode_webrtc(&p);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            &lines[..14],
            [
                "v=0",
                "o=- 0 0 IN IP4 0.0.0.0",
                "s=-",
                "t=0 0",
                "a=group:BUNDLE data",
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                "c=IN IP4 0.0.0.0",
                "a=mid:data",
                "a=ice-ufrag:abcd1234",
                "a=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd",
                "a=fingerprint:sha-256 AA:BB:CC",
                "a=setup:passive",
                "a=sctp-port:5000",
                "a=max-message-size:262144",
            ]
        );
        assert!(lines[14].starts_with("a=candidate:"));
        assert!(lines[15].contains(" typ srflx raddr 192.168.1.2 rport 5000"));
        assert_eq!(lines[16], "a=end-of-candidates");
        assert_eq!(lines[17], "");
        let d = SessionDescription::decode(&text).unwrap();
        assert!(d.is_webrtc && d.end_of_candidates && !d.trickle());
        assert_eq!(d.setup, Some(Setup::Passive));
        assert_eq!(d.max_message_size, Some(262_144));
        assert_eq!(d.candidates, c);
        assert_eq!(d.fingerprint().unwrap().text, "sha-256 AA:BB:CC");
    }
}
