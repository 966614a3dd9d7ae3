//! The per-connection certificate and its SHA-256 fingerprint.
//!
//! Every DTLS transport gets a fresh self-signed ECDSA P-256 certificate.
//! Trust does not come from a CA: each side learns the other's SHA-256
//! fingerprint out of band (SDP `a=fingerprint`) and pins the certificate
//! presented in the handshake to it.

use std::fmt;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509NameBuilder, X509Ref, X509};

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
    /// SHA-256 over the DER encoding of `cert`.
    pub fn of(cert: &X509Ref) -> Result<Fingerprint, DtlsError> {
        let digest = cert
            .digest(MessageDigest::sha256())
            .map_err(|e| DtlsError::Crypto(e.to_string()))?;
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&digest);
        Ok(Fingerprint(out))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.0
    }

    /// Uppercase colon-separated hex, `AA:BB:…` (95 characters).
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
    pub fn to_sdp(&self) -> String {
        format!("sha-256 {}", self.to_hex())
    }

    /// Parses hex digits, upper or lower case, skipping `:`. Any other
    /// character or an odd trailing nibble is an error; input after the
    /// 32nd byte is ignored; fewer than 32 bytes is an error.
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sdp())
    }
}

impl From<[u8; FINGERPRINT_LEN]> for Fingerprint {
    fn from(b: [u8; FINGERPRINT_LEN]) -> Self {
        Fingerprint(b)
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A self-signed ECDSA P-256 certificate with its private key.
///
/// Cloning is cheap (OpenSSL reference counts); clones share the key and
/// have the same fingerprint, so one certificate can serve several sessions
/// (for example the rebuilt context after a role change).
#[derive(Clone)]
pub struct Certificate {
    cert: X509,
    key: PKey<Private>,
    fingerprint: Fingerprint,
}

impl Certificate {
    /// Generates a fresh key pair and a self-signed certificate: X.509 v3,
    /// random 64-bit serial, subject and issuer CN [`CERT_COMMON_NAME`],
    /// valid from now for [`CERT_VALIDITY_DAYS`], signed with ECDSA-SHA256.
    ///
    /// The serial is random rather than a constant so that peers which cache
    /// certificates by issuer and serial never see two different keys under
    /// the same pair.
    pub fn generate() -> Result<Certificate, DtlsError> {
        Self::build().map_err(|e| DtlsError::Crypto(e.to_string()))
    }

    fn build() -> Result<Certificate, openssl::error::ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let ec = EcKey::generate(&group)?;
        let key = PKey::from_ec_key(ec)?;

        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, CERT_COMMON_NAME)?;
        let name = name.build();

        let mut serial = BigNum::new()?;
        serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
        // A zero serial is not allowed; the odds are negligible but cheap to rule out.
        if serial.num_bits() == 0 {
            serial = BigNum::from_u32(1)?;
        }
        let serial = serial.to_asn1_integer()?;

        let mut b = X509::builder()?;
        b.set_version(2)?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let not_before = Asn1Time::days_from_now(0)?;
        let not_after = Asn1Time::days_from_now(CERT_VALIDITY_DAYS)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.sign(&key, MessageDigest::sha256())?;
        let cert = b.build();

        let digest = cert.digest(MessageDigest::sha256())?;
        let mut fp = [0u8; FINGERPRINT_LEN];
        fp.copy_from_slice(&digest);
        Ok(Certificate {
            cert,
            key,
            fingerprint: Fingerprint(fp),
        })
    }

    /// The SHA-256 fingerprint of the certificate (DER).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// `sha-256 AA:BB:…`, ready for an SDP `a=fingerprint` line.
    pub fn fingerprint_text(&self) -> String {
        self.fingerprint.to_sdp()
    }

    /// The certificate.
    pub fn x509(&self) -> &X509Ref {
        &self.cert
    }

    /// The DER encoding of the certificate.
    pub fn to_der(&self) -> Result<Vec<u8>, DtlsError> {
        self.cert
            .to_der()
            .map_err(|e| DtlsError::Crypto(e.to_string()))
    }

    pub(crate) fn private_key(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_shape() {
        let c = Certificate::generate().unwrap();
        let x = c.x509();
        let cn = x
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .unwrap()
            .data()
            .to_string()
            .unwrap();
        assert_eq!(cn, CERT_COMMON_NAME);
        assert_eq!(x.version(), 2);
        let pk = x.public_key().unwrap();
        let ec = pk.ec_key().unwrap();
        assert_eq!(ec.group().curve_name(), Some(Nid::X9_62_PRIME256V1));
        assert_eq!(
            x.signature_algorithm().object().nid(),
            Nid::ECDSA_WITH_SHA256
        );
        assert!(x.verify(&pk).unwrap(), "self-signed");
        let der = c.to_der().unwrap();
        let fp = openssl::sha::sha256(&der);
        assert_eq!(c.fingerprint().0, fp);
        // Validity roughly one year.
        let days = x.not_before().diff(x.not_after()).unwrap().days;
        assert_eq!(days, CERT_VALIDITY_DAYS as i32);
    }

    #[test]
    fn certificates_differ() {
        let a = Certificate::generate().unwrap();
        let b = Certificate::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.clone().fingerprint(), a.fingerprint());
    }

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
