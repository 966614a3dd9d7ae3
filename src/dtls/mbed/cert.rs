//! The per-connection certificate over mbedTLS.
//!
//! The certificate and its key are kept as DER bytes; every session parses
//! its own copies into its own mbedTLS contexts, so no mbedTLS object is
//! shared between threads.

use std::fmt;
use std::sync::Arc;

use super::error_text;
use crate::dtls::fingerprint::{CERT_COMMON_NAME, CERT_VALIDITY_DAYS, FINGERPRINT_LEN};
use crate::dtls::{DtlsError, Fingerprint};

/// Room for the DER of a P-256 certificate (about 300 bytes) and key.
const DER_BUF: usize = 1024;

impl Fingerprint {
    /// SHA-256 over the DER encoding of a certificate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn of_der(der: &[u8]) -> Fingerprint {
        let mut out = [0u8; FINGERPRINT_LEN];
        // SAFETY: `der` is readable for its length, `out` writable for 32.
        unsafe { xp2p_mbedtls::xm_sha256(der.as_ptr(), der.len(), out.as_mut_ptr()) };
        Fingerprint(out)
    }
}

struct Inner {
    der: Vec<u8>,
    key: Vec<u8>,
    fingerprint: Fingerprint,
}

impl Drop for Inner {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn drop(&mut self) {
        for b in self.key.iter_mut() {
            // SAFETY: `b` is a valid, aligned byte of the vector.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// A self-signed ECDSA P-256 certificate with its private key.
///
/// Cloning is cheap (shared); clones have the same fingerprint, so one
/// certificate can serve several sessions.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

impl Certificate {
    /// Generates a fresh key pair and a self-signed certificate: X.509 v3,
    /// random 64-bit serial, subject and issuer CN [`CERT_COMMON_NAME`],
    /// valid from now for [`CERT_VALIDITY_DAYS`], signed with ECDSA-SHA256.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn generate() -> Result<Certificate, DtlsError> {
        let mut der = vec![0u8; DER_BUF];
        let mut key = vec![0u8; DER_BUF];
        let mut der_len = der.len();
        let mut key_len = key.len();
        let cn = std::ffi::CString::new(CERT_COMMON_NAME)
            .map_err(|_| DtlsError::Crypto("common name".into()))?;
        // SAFETY: both buffers are writable for the lengths passed; the
        // shim writes the actual lengths back.
        let r = unsafe {
            xp2p_mbedtls::xm_cert_generate(
                cn.as_ptr(),
                CERT_VALIDITY_DAYS,
                der.as_mut_ptr(),
                &mut der_len,
                key.as_mut_ptr(),
                &mut key_len,
            )
        };
        if r != 0 {
            return Err(DtlsError::Crypto(error_text(r)));
        }
        der.truncate(der_len);
        key.truncate(key_len);
        let fingerprint = Fingerprint::of_der(&der);
        Ok(Certificate {
            inner: Arc::new(Inner {
                der,
                key,
                fingerprint,
            }),
        })
    }

    /// The SHA-256 fingerprint of the certificate (DER).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.fingerprint
    }

    /// `sha-256 AA:BB:…`, ready for an SDP `a=fingerprint` line.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn fingerprint_text(&self) -> String {
        self.inner.fingerprint.to_sdp()
    }

    /// The DER encoding of the certificate.
    #[cfg_attr(xp2p_device, optimize(size))]
    pub fn to_der(&self) -> Result<Vec<u8>, DtlsError> {
        Ok(self.inner.der.clone())
    }

    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The private key, DER (RFC 5915 EC key).
    #[cfg_attr(xp2p_device, optimize(size))]
    pub(crate) fn key_der(&self) -> &[u8] {
        &self.inner.key
    }
}

impl fmt::Debug for Certificate {
    #[cfg_attr(xp2p_device, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // What mbedTLS writes beyond the shape every backend's certificate has
    // (dtls/cert_tests.rs).
    #[test]
    fn signature_algorithm_without_parameters_and_key_matches() {
        let c = Certificate::generate().unwrap();
        let der = c.to_der().unwrap();
        // ecdsa-with-SHA256 without parameters (RFC 5758 §3.2), as strict
        // parsers require: in the certificate and in its TBS part.
        let alg = [
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ];
        let count = der.windows(alg.len()).filter(|w| *w == alg).count();
        assert_eq!(count, 2, "{der:02x?}");
        let x = openssl::x509::X509::from_der(&der).unwrap();
        let pk = x.public_key().unwrap();
        let key = openssl::pkey::PKey::private_key_from_der(c.key_der()).unwrap();
        assert!(key.public_eq(&pk), "key matches certificate");
    }
}
