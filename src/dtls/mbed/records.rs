//! Application-data records of the established epoch, protected here
//! rather than by mbedTLS.
//!
//! mbedTLS 2.28 runs AES-GCM block by block, and on a busy link that is
//! where the mbedTLS build spends its time (README, "Speed of the mbedTLS
//! build"). mbedTLS keeps the handshake, its retransmissions and every alert; once it is
//! over, it hands the key block over (its key-export callback, see
//! `xm_record_keys`) and this module seals and opens the application_data
//! records of that epoch with `ring`'s AES-GCM (the stitched AES-NI and
//! carry-less multiply assembly OpenSSL and BoringSSL use, chosen at run
//! time by CPU; portable code elsewhere), exactly as RFC 5288 and RFC 6347
//! lay them out:
//!
//! * record: type 23, version DTLS 1.2, epoch and 48-bit sequence number,
//!   length; body = 8-byte explicit nonce, ciphertext, 16-byte tag;
//! * nonce = 4-byte implicit IV of the writer || explicit nonce, which is
//!   the record's epoch || sequence number (as mbedTLS and OpenSSL write it);
//! * additional data = epoch || sequence || type || version || plaintext
//!   length.
//!
//! Sequence numbers are mbedTLS's own: every sealed record takes the next
//! number from the counter mbedTLS writes its records with, so an alert
//! mbedTLS sends later (close_notify) follows ours. Received records go
//! through mbedTLS's replay window (RFC 6347 §4.1.2.6), checked before and
//! updated only after a record authenticated, so a number is accepted once
//! whichever of the two read it. Only the AES-GCM suites are handled;
//! with ChaCha20-Poly1305 mbedTLS keeps every record.
//!
//! A build without `ring` (feature `dtls-mbedtls-base` alone) has no key
//! here: [`RecordProtection::take`] returns `None` and mbedTLS keeps every
//! record, as with ChaCha20-Poly1305.

#[cfg(feature = "dtls-mbedtls")]
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, AES_256_GCM};

use xp2p_mbedtls as sys;

use crate::dtls::common::{AEAD_TAG_LEN, GCM_EXPLICIT_NONCE_LEN, RECORD_HEADER_LEN};
use crate::dtls::DtlsRole;

/// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.
const SUITE_AES128_GCM: u16 = 0xC02B;
/// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384.
const SUITE_AES256_GCM: u16 = 0xC02C;
/// Record content type application_data.
const APPLICATION_DATA: u8 = 23;
/// DTLS 1.2 on the wire.
const DTLS12: [u8; 2] = [0xfe, 0xfd];
/// Implicit part of the GCM nonce (RFC 5288 §3).
const IMPLICIT_IV_LEN: usize = 4;
/// Sequence number bits of a record number (the rest is the epoch).
const SEQ_MASK: u64 = 0xffff_ffff_ffff;

/// What this module did with records, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Application records sealed here (not by mbedTLS).
    pub sealed: u64,
    /// Application records opened here.
    pub opened: u64,
    /// Records dropped as replays (number already seen, or older than
    /// the window).
    pub replayed: u64,
    /// Records dropped because they did not authenticate (forged,
    /// corrupted, truncated) or were too long.
    pub forged: u64,
}

/// One direction's AES-GCM key.
#[cfg(feature = "dtls-mbedtls")]
struct Gcm(LessSafeKey);

/// Without `ring` there is no key: never constructed.
#[cfg(not(feature = "dtls-mbedtls"))]
enum Gcm {}

#[cfg(not(feature = "dtls-mbedtls"))]
impl Gcm {
    fn new(_suite: u16, _key: &[u8]) -> Option<Gcm> {
        None
    }

    fn seal(&self, _: &[u8; 12], _: &[u8], _: &mut [u8]) -> Option<[u8; AEAD_TAG_LEN]> {
        match *self {}
    }

    fn open(&self, _: &[u8; 12], _: &[u8], _: &mut [u8], _: &[u8]) -> bool {
        match *self {}
    }
}

#[cfg(feature = "dtls-mbedtls")]
impl Gcm {
    fn new(suite: u16, key: &[u8]) -> Option<Gcm> {
        let alg = match suite {
            SUITE_AES128_GCM => &AES_128_GCM,
            SUITE_AES256_GCM => &AES_256_GCM,
            _ => return None,
        };
        UnboundKey::new(alg, key)
            .ok()
            .map(|k| Gcm(LessSafeKey::new(k)))
    }

    /// Encrypts `buf` in place; the tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Option<[u8; AEAD_TAG_LEN]> {
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let tag = self
            .0
            .seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
            .ok()?;
        tag.as_ref().try_into().ok()
    }

    /// Decrypts `buf` in place if it and `aad` authenticate with `tag`.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let Ok(tag) = Tag::try_from(tag) else {
            return false;
        };
        let nonce = Nonce::assume_unique_for_key(*nonce);
        self.0
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, buf, 0..)
            .is_ok()
    }
}

/// Why a received record was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    Replayed,
    Forged,
}

/// The keys of the established epoch, both directions.
pub(crate) struct RecordProtection {
    seal: Gcm,
    open: Gcm,
    seal_iv: [u8; IMPLICIT_IV_LEN],
    open_iv: [u8; IMPLICIT_IV_LEN],
    /// Epoch of the records opened here.
    epoch: u16,
}

impl RecordProtection {
    /// Takes the keys mbedTLS derived once its handshake is over; `None`
    /// for a suite left to mbedTLS (ChaCha20-Poly1305).
    ///
    /// # Safety
    /// `s` is a live session not used by anything else during the call.
    pub(crate) unsafe fn take(s: *mut sys::xm_session, role: DtlsRole) -> Option<Self> {
        let mut suite = 0u16;
        let (mut ck, mut sk) = ([0u8; 32], [0u8; 32]);
        let (mut civ, mut siv) = ([0u8; 16], [0u8; 16]);
        let (mut keylen, mut ivlen) = (0usize, 0usize);
        // SAFETY: the caller's contract; every out pointer is writable for
        // the sizes the shim documents.
        let ok = unsafe {
            sys::xm_record_keys(
                s,
                &mut suite,
                ck.as_mut_ptr(),
                sk.as_mut_ptr(),
                &mut keylen,
                civ.as_mut_ptr(),
                siv.as_mut_ptr(),
                &mut ivlen,
            )
        } == 1;
        // SAFETY: as above.
        unsafe { sys::xm_forget_keys(s) };
        let wanted = match suite {
            SUITE_AES128_GCM => 16,
            SUITE_AES256_GCM => 32,
            _ => 0,
        };
        let protection = (ok && keylen == wanted && ivlen == IMPLICIT_IV_LEN)
            .then(|| {
                let (wk, rk, wiv, riv) = match role {
                    DtlsRole::Client => (&ck, &sk, &civ, &siv),
                    DtlsRole::Server => (&sk, &ck, &siv, &civ),
                };
                Some(RecordProtection {
                    seal: Gcm::new(suite, &wk[..keylen])?,
                    open: Gcm::new(suite, &rk[..keylen])?,
                    seal_iv: wiv[..IMPLICIT_IV_LEN].try_into().ok()?,
                    open_iv: riv[..IMPLICIT_IV_LEN].try_into().ok()?,
                    // SAFETY: as above.
                    epoch: unsafe { sys::xm_in_epoch(s) },
                })
            })
            .flatten();
        for b in [&mut ck, &mut sk] {
            zero(b);
        }
        for b in [&mut civ, &mut siv] {
            zero(b);
        }
        protection
    }

    /// True if this record (header included) is application data of the
    /// epoch opened here.
    pub(crate) fn is_ours(&self, record: &[u8]) -> bool {
        record.len() >= RECORD_HEADER_LEN
            && record[0] == APPLICATION_DATA
            && u16::from_be_bytes([record[3], record[4]]) == self.epoch
    }

    /// Seals `data` as one application_data record into `out` (cleared
    /// first) with the next record number of `s`. `false` when the epoch's
    /// sequence numbers are exhausted or `data` cannot be a record.
    ///
    /// # Safety
    /// `s` is the live session the keys came from, not used by anything
    /// else during the call.
    pub(crate) unsafe fn seal(
        &self,
        s: *mut sys::xm_session,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let Ok(len) = u16::try_from(data.len()) else {
            return false;
        };
        let Ok(body_len) = u16::try_from(GCM_EXPLICIT_NONCE_LEN + data.len() + AEAD_TAG_LEN) else {
            return false;
        };
        let mut number = 0u64;
        // SAFETY: the caller's contract.
        if unsafe { sys::xm_take_out_seq(s, &mut number) } != 0 {
            return false;
        }
        let ctr = number.to_be_bytes();
        out.clear();
        out.push(APPLICATION_DATA);
        out.extend_from_slice(&DTLS12);
        out.extend_from_slice(&ctr);
        out.extend_from_slice(&body_len.to_be_bytes());
        out.extend_from_slice(&ctr);
        out.extend_from_slice(data);
        let aad = aad(&ctr, &DTLS12, len);
        let start = RECORD_HEADER_LEN + GCM_EXPLICIT_NONCE_LEN;
        let Some(tag) = self
            .seal
            .seal(&nonce(&self.seal_iv, &ctr), &aad, &mut out[start..])
        else {
            return false;
        };
        out.extend_from_slice(&tag);
        true
    }

    /// Opens one application_data record of our epoch (header included)
    /// into `plain` and returns the plaintext length; marks its number seen
    /// in `s`'s replay window once it authenticated.
    ///
    /// # Safety
    /// As for [`seal`](Self::seal).
    pub(crate) unsafe fn open(
        &self,
        s: *mut sys::xm_session,
        record: &[u8],
        plain: &mut [u8],
    ) -> Result<usize, Dropped> {
        let Some((header, body)) = record.split_at_checked(RECORD_HEADER_LEN) else {
            return Err(Dropped::Forged);
        };
        let Some(n) = body
            .len()
            .checked_sub(GCM_EXPLICIT_NONCE_LEN + AEAD_TAG_LEN)
        else {
            return Err(Dropped::Forged);
        };
        if usize::from(u16::from_be_bytes([header[11], header[12]])) != body.len()
            || n > plain.len()
        {
            return Err(Dropped::Forged);
        }
        let ctr: [u8; 8] = header[3..11].try_into().map_err(|_| Dropped::Forged)?;
        let seq = u64::from_be_bytes(ctr) & SEQ_MASK;
        // SAFETY: the caller's contract.
        if unsafe { sys::xm_replay_check(s, seq) } != 0 {
            return Err(Dropped::Replayed);
        }
        let (explicit, rest) = body.split_at(GCM_EXPLICIT_NONCE_LEN);
        let (cipher, tag) = rest.split_at(n);
        let explicit: [u8; 8] = explicit.try_into().map_err(|_| Dropped::Forged)?;
        let plain = &mut plain[..n];
        plain.copy_from_slice(cipher);
        let version = [header[1], header[2]];
        let aad = aad(&ctr, &version, n as u16);
        if !self
            .open
            .open(&nonce(&self.open_iv, &explicit), &aad, plain, tag)
        {
            return Err(Dropped::Forged);
        }
        // SAFETY: the caller's contract.
        unsafe { sys::xm_replay_update(s, seq) };
        Ok(n)
    }
}

/// Implicit IV || explicit nonce.
fn nonce(iv: &[u8; IMPLICIT_IV_LEN], explicit: &[u8; 8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..IMPLICIT_IV_LEN].copy_from_slice(iv);
    n[IMPLICIT_IV_LEN..].copy_from_slice(explicit);
    n
}

/// epoch || sequence || type || version || plaintext length (RFC 5246
/// §6.2.3.3 with the DTLS record number, RFC 6347 §4.1.2.1).
fn aad(ctr: &[u8; 8], version: &[u8; 2], len: u16) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(ctr);
    a[8] = APPLICATION_DATA;
    a[9..11].copy_from_slice(version);
    a[11..].copy_from_slice(&len.to_be_bytes());
    a
}

/// Overwrites key material on the stack.
fn zero(b: &mut [u8]) {
    for x in b.iter_mut() {
        // SAFETY: `x` is a valid, aligned, exclusive reference; a volatile
        // write keeps the compiler from dropping the clearing of a buffer
        // that is not read again.
        unsafe { std::ptr::write_volatile(x, 0) };
    }
}
