//! The per-connection certificate over OpenSSL.
//!
//! Every DTLS transport gets a fresh self-signed ECDSA P-256 certificate;
//! see [`super::fingerprint`] for how it is trusted.

use std::fmt;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509NameBuilder, X509Ref, X509};

use super::fingerprint::{CERT_COMMON_NAME, CERT_VALIDITY_DAYS, FINGERPRINT_LEN};
use super::{DtlsError, Fingerprint};

impl Fingerprint {
    /// SHA-256 over the DER encoding of `cert`.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn of(cert: &X509Ref) -> Result<Fingerprint, DtlsError> {
        let digest = cert
            .digest(MessageDigest::sha256())
            .map_err(|e| DtlsError::Crypto(e.to_string()))?;
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&digest);
        Ok(Fingerprint(out))
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn generate() -> Result<Certificate, DtlsError> {
        Self::build().map_err(|e| DtlsError::Crypto(e.to_string()))
    }

    #[cfg_attr(xp2p_device, optimize(size))]
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
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// `sha-256 AA:BB:…`, ready for an SDP `a=fingerprint` line.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint_text(&self) -> String {
        self.fingerprint.to_sdp()
    }

    /// The certificate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn x509(&self) -> &X509Ref {
        &self.cert
    }

    /// The DER encoding of the certificate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_der(&self) -> Result<Vec<u8>, DtlsError> {
        self.cert
            .to_der()
            .map_err(|e| DtlsError::Crypto(e.to_string()))
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn private_key(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for Certificate {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}
