//! SHA-256 certificate fingerprints, as SDP `a=fingerprint` carries them.
//!
//! Every DTLS transport gets a fresh self-signed certificate. Trust does not
//! come from a CA: each side learns the other's SHA-256 fingerprint out of
//! band and pins the certificate presented in the handshake to it.

use std::fmt;

use super::DtlsError;

/// Subject and issuer common name of the generated certificates.
pub const CERT_COMMON_NAME: &str = "xp2p";

/// Validity of a generated certificate, in days from its creation.
pub const CERT_VALIDITY_DAYS: u32 = 365;

/// Length of a SHA-256 fingerprint in bytes.
pub const FINGERPRINT_LEN: usize = 32;

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// The raw 32 bytes.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn as_bytes(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.0
    }

    /// Uppercase colon-separated hex, `AA:BB:…` (95 characters).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(FINGERPRINT_LEN * 3);
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            s.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            s.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
        s
    }

    /// The SDP attribute value form, `sha-256 AA:BB:…`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_sdp(&self) -> String {
        format!("sha-256 {}", self.to_hex())
    }

    /// Parses hex digits, upper or lower case, skipping `:`. Any other
    /// character or an odd trailing nibble is an error; input after the
    /// 32nd byte is ignored; fewer than 32 bytes is an error.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_hex(text: &str) -> Result<Fingerprint, DtlsError> {
        let mut out = [0u8; FINGERPRINT_LEN];
        let mut filled = 0usize;
        let mut high: Option<u8> = None;
        for c in text.bytes() {
            if filled == FINGERPRINT_LEN {
                break;
            }
            if c == b':' {
                continue;
            }
            let v = hex_value(c).ok_or(DtlsError::InvalidFingerprint)?;
            match high.take() {
                None => high = Some(v),
                Some(h) => {
                    out[filled] = (h << 4) | v;
                    filled += 1;
                }
            }
        }
        if filled < FINGERPRINT_LEN {
            return Err(DtlsError::InvalidFingerprint);
        }
        Ok(Fingerprint(out))
    }

    /// Parses the SDP attribute value `sha-256 AA:BB:…` (hash name case
    /// insensitive). Other hash functions are not supported.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn from_sdp(value: &str) -> Result<Fingerprint, DtlsError> {
        let mut parts = value.split_ascii_whitespace();
        let (Some(hash), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DtlsError::InvalidFingerprint);
        };
        if !hash.eq_ignore_ascii_case("sha-256") {
            return Err(DtlsError::InvalidFingerprint);
        }
        // The SDP form has exactly 32 colon-separated pairs.
        if hex.len() != FINGERPRINT_LEN * 3 - 1 {
            return Err(DtlsError::InvalidFingerprint);
        }
        Fingerprint::from_hex(hex)
    }
}

impl fmt::Debug for Fingerprint {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sdp())
    }
}

impl From<[u8; FINGERPRINT_LEN]> for Fingerprint {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn from(b: [u8; FINGERPRINT_LEN]) -> Self {
        Fingerprint(b)
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

#[cfg_attr(xp2p_device, optimize(size))]
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_text_forms() {
        let mut raw = [0u8; 32];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(0xa0);
        }
        let fp = Fingerprint(raw);
        let hex = fp.to_hex();
        assert_eq!(hex.len(), 95);
        assert!(hex.starts_with("A0:A7:AE:B5"));
        assert_eq!(fp.to_sdp(), format!("sha-256 {hex}"));
        assert_eq!(Fingerprint::from_hex(&hex).unwrap(), fp);
        assert_eq!(Fingerprint::from_hex(&hex.to_lowercase()).unwrap(), fp);
        assert_eq!(Fingerprint::from_sdp(&fp.to_sdp()).unwrap(), fp);
        assert_eq!(
            Fingerprint::from_sdp(&format!("SHA-256 {hex}")).unwrap(),
            fp
        );
        // No colons at all is accepted by the hex parser.
        assert_eq!(Fingerprint::from_hex(&hex.replace(':', "")).unwrap(), fp);
        // Extra input after 32 bytes is ignored.
        assert_eq!(Fingerprint::from_hex(&format!("{hex}:FF:zz")).unwrap(), fp);
    }

    #[test]
    fn fingerprint_parse_errors() {
        let good = Fingerprint([0xab; 32]).to_hex();
        assert_eq!(
            Fingerprint::from_hex(&good[..94]),
            Err(DtlsError::InvalidFingerprint),
            "odd trailing nibble"
        );
        assert_eq!(
            Fingerprint::from_hex(&good[..92]),
            Err(DtlsError::InvalidFingerprint),
            "31 bytes"
        );
        assert_eq!(
            Fingerprint::from_hex(&good.replacen("AB", "AG", 1)),
            Err(DtlsError::InvalidFingerprint)
        );
        assert_eq!(
            Fingerprint::from_hex(""),
            Err(DtlsError::InvalidFingerprint)
        );
        assert_eq!(
            Fingerprint::from_sdp(&format!("sha-1 {good}")),
            Err(DtlsError::InvalidFingerprint)
        );
        assert_eq!(
            Fingerprint::from_sdp(&good),
            Err(DtlsError::InvalidFingerprint)
        );
        assert_eq!(
            Fingerprint::from_sdp(&format!("sha-256 {good}:AB")),
            Err(DtlsError::InvalidFingerprint)
        );
    }
}
