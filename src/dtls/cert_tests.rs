//! The certificate every backend generates, read back with OpenSSL (a
//! dev-dependency of the mbedTLS build too).

use openssl::nid::Nid;
use openssl::x509::X509;

use super::{Certificate, CERT_COMMON_NAME, CERT_VALIDITY_DAYS};

/// Self-signed ECDSA P-256 with SHA-256, our common name, version 3, valid
/// for [`CERT_VALIDITY_DAYS`], fingerprinted over its DER.
#[test]
fn generated_certificate_shape() {
    let c = Certificate::generate().unwrap();
    let der = c.to_der().unwrap();
    let x = X509::from_der(&der).unwrap();
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
    assert_eq!(c.fingerprint().0, openssl::sha::sha256(&der));
    assert!(x.serial_number().to_bn().unwrap().num_bits() > 0);
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
