//! SDP for ICE-only and WebRTC data-channel sessions, as real peers write it.
//!
//! [`SessionDescription::decode`] reads offers and answers from browsers and
//! other stacks (CRLF or LF line ends, session- or media-level attributes,
//! BUNDLE, mDNS candidates, unknown attributes) with no limit on the number
//! of candidates. [`encode_ice`] and [`encode_webrtc`] write the two layouts
//! of the C API (spec §4.1 and §4.2) line for line; the Rust callers may add
//! `a=max-message-size` and `a=end-of-candidates`.

mod decode;
mod encode;

pub use decode::{MediaSection, SessionDescription};
pub use encode::{encode_ice, encode_webrtc, encode_webrtc_answer, IceParams, WebRtcParams};

use std::fmt;
use std::str::FromStr;

/// Errors of the SDP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    /// The bytes are not a well-formed session description.
    Malformed,
    /// No `a=ice-ufrag` (or an empty one).
    MissingUfrag,
    /// No `a=ice-pwd` (or an empty one).
    MissingPwd,
    /// A WebRTC (DTLS/SCTP) description without a usable `a=fingerprint`.
    MissingFingerprint,
}

impl fmt::Display for SdpError {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::Malformed => f.write_str("malformed SDP"),
            SdpError::MissingUfrag => f.write_str("SDP has no a=ice-ufrag"),
            SdpError::MissingPwd => f.write_str("SDP has no a=ice-pwd"),
            SdpError::MissingFingerprint => f.write_str("WebRTC SDP has no a=fingerprint"),
        }
    }
}

impl std::error::Error for SdpError {}

/// The DTLS role attribute `a=setup` (RFC 4145 / RFC 5763). The
/// discriminants are the C `xIceSdpSetup` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    Active = 0,
    Passive = 1,
    Actpass = 2,
}

impl Setup {
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::Actpass => "actpass",
        }
    }

    /// The C enum value.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The setup of a C enum value, `None` outside 0–2.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Setup::Active),
            1 => Some(Setup::Passive),
            2 => Some(Setup::Actpass),
            _ => None,
        }
    }
}

impl fmt::Display for Setup {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Setup {
    type Err = SdpError;

    /// `active`, `passive` or `actpass` in any letter case (`holdconn` and
    /// anything else is not a role).
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from_str(s: &str) -> Result<Self, SdpError> {
        [Setup::Active, Setup::Passive, Setup::Actpass]
            .into_iter()
            .find(|v| s.eq_ignore_ascii_case(v.as_str()))
            .ok_or(SdpError::Malformed)
    }
}

/// A certificate fingerprint `a=fingerprint:<hash-func> <XX:XX:…>` (RFC 8122).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The hash function, lowercased (`sha-256`, `sha-1`, …).
    pub algorithm: String,
    /// The digest bytes.
    pub bytes: Vec<u8>,
    /// The attribute value as written (for a fingerprint built with
    /// [`Fingerprint::new`], the canonical uppercase form).
    pub text: String,
}

impl Fingerprint {
    /// A fingerprint from an algorithm and digest; `text` is the canonical
    /// `alg XX:XX:…` form with uppercase hex.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn new(algorithm: &str, bytes: &[u8]) -> Self {
        let algorithm = algorithm.to_ascii_lowercase();
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let text = format!("{algorithm} {}", hex.join(":"));
        Fingerprint {
            algorithm,
            bytes: bytes.to_vec(),
            text,
        }
    }

    /// Parses an attribute value such as `sha-256 AB:CD:…` (hex in either
    /// case, two digits per byte, colon-separated).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn parse(value: &str) -> Result<Self, SdpError> {
        let text = value.trim_matches(|c: char| c.is_ascii_whitespace());
        let mut parts = text.split_ascii_whitespace();
        let (Some(alg), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SdpError::Malformed);
        };
        let bytes = hex
            .split(':')
            .map(|h| {
                if h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    u8::from_str_radix(h, 16).map_err(|_| SdpError::Malformed)
                } else {
                    Err(SdpError::Malformed)
                }
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(Fingerprint {
            algorithm: alg.to_ascii_lowercase(),
            bytes,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Fingerprint {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parse_and_format() {
        let f = Fingerprint::parse("SHA-256 ab:CD:0f").unwrap();
        assert_eq!(f.algorithm, "sha-256");
        assert_eq!(f.bytes, [0xab, 0xcd, 0x0f]);
        assert_eq!(f.text, "SHA-256 ab:CD:0f");
        let n = Fingerprint::new("sha-256", &[0xab, 0xcd, 0x0f]);
        assert_eq!(n.text, "sha-256 AB:CD:0F");
        assert_eq!(Fingerprint::parse(&n.text).unwrap(), n);
        for bad in [
            "",
            "sha-256",
            "sha-256 A:BC",
            "sha-256 GG",
            "sha-256 AB::CD",
            "a b c",
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn setup_tokens() {
        assert_eq!("ACTPASS".parse::<Setup>(), Ok(Setup::Actpass));
        assert_eq!("passive".parse::<Setup>(), Ok(Setup::Passive));
        assert!("holdconn".parse::<Setup>().is_err());
        for c in 0..3 {
            assert_eq!(Setup::from_code(c).unwrap().code() as i64, c);
        }
        assert_eq!(Setup::from_code(3), None);
    }
}
