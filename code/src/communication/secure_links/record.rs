//! The record layer: application bytes sealed with an AEAD, one numbered record at a time.
//!
//! After the handshake each direction has its own key and IV ([`TrafficKeys`]). A record is
//!
//! ```text
//! header: content type (1 byte, 23) | sequence number (8 bytes) | length (2 bytes)
//! body:   ChaCha20-Poly1305(key, nonce = IV XOR seq, associated data = header, plaintext)
//! ```
//!
//! The AEAD (RFC 8439) encrypts the plaintext and appends a 16-byte tag that authenticates the
//! ciphertext *and* the header: change any bit of either and [`RecordOpener::open`] fails with
//! `Tampered`. The nonce is the IV XOR the sequence number (RFC 8446 §5.3), so it never repeats
//! under one key (reusing a nonce with ChaCha20-Poly1305 leaks the XOR of two plaintexts and
//! lets an attacker forge tags). Because the sequence number is authenticated, the receiver can
//! trust it: an authentic record with an old number is a replay (`Replayed`), one with a number
//! beyond the next expected one arrived out of order (`OutOfOrder`).
//!
//! TLS 1.3 does not send the sequence number: both sides count, and a replayed, dropped or
//! reordered record simply fails the tag check, because the receiver computes the wrong
//! nonce. TLS can afford that because TCP delivers its bytes in order. We send all 8 bytes of
//! it, in the clear, so that every rejection names its cause. DTLS 1.3 (RFC 9147 §4) must send
//! it too, because datagrams arrive out of order, but only its low 8 or 16 bits, encrypted.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};

use super::error::SecureLinkError;
use super::key_schedule::TrafficKeys;
use super::wire::Reader;

/// The content type byte of application data records (TLS uses 23 too).
pub const APPLICATION_DATA: u8 = 23;
/// The size of a record header: type, sequence number, length.
pub const HEADER_LEN: usize = 11;
/// The size of the AEAD tag.
pub const TAG_LEN: usize = 16;
/// The largest plaintext of one record (TLS's limit, RFC 8446 §5.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;

// ANCHOR: nonce
/// The nonce of record `seq`: the IV with the big-endian sequence number XORed into its last
/// 8 bytes (RFC 8446 §5.3). Distinct sequence numbers give distinct nonces.
pub fn record_nonce(iv: &[u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = *iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}
// ANCHOR_END: nonce

fn header(seq: u64, body_len: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = APPLICATION_DATA;
    h[1..9].copy_from_slice(&seq.to_be_bytes());
    h[9..].copy_from_slice(&(body_len as u16).to_be_bytes());
    h
}

// ANCHOR: sealer
/// The sending half of one direction.
pub struct RecordSealer {
    aead: ChaCha20Poly1305,
    iv: [u8; 12],
    /// The sequence number of the next record. Invariant: never reused under this key.
    next_seq: u64,
}

impl RecordSealer {
    /// A sealer starting at sequence number 0.
    pub fn new(keys: &TrafficKeys) -> RecordSealer {
        RecordSealer {
            aead: ChaCha20Poly1305::new(&keys.key.into()),
            iv: keys.iv,
            next_seq: 0,
        }
    }

    /// One record carrying `plaintext` (at most [`MAX_PLAINTEXT`] bytes).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, SecureLinkError> {
        assert!(
            plaintext.len() <= MAX_PLAINTEXT,
            "split data into records first"
        );
        // Stop before the counter wraps: a wrapped counter would reuse nonce 0.
        if self.next_seq == u64::MAX {
            return Err(SecureLinkError::SequenceExhausted);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let header = header(seq, plaintext.len() + TAG_LEN);
        let nonce = Nonce::from(record_nonce(&self.iv, seq));
        let payload = Payload {
            msg: plaintext,
            aad: &header,
        };
        let body = self
            .aead
            .encrypt(&nonce, payload)
            .expect("sizes are bounded");
        Ok([&header[..], &body].concat())
    }
}
// ANCHOR_END: sealer

// ANCHOR: opener
/// The receiving half of one direction.
pub struct RecordOpener {
    aead: ChaCha20Poly1305,
    iv: [u8; 12],
    /// The sequence number of the next record to accept; every lower one was accepted once.
    next_seq: u64,
}

impl RecordOpener {
    /// An opener expecting sequence number 0.
    pub fn new(keys: &TrafficKeys) -> RecordOpener {
        RecordOpener {
            aead: ChaCha20Poly1305::new(&keys.key.into()),
            iv: keys.iv,
            next_seq: 0,
        }
    }

    /// Authenticates and decrypts `record` without looking at the order: its sequence number
    /// and plaintext. The sequence number is trustworthy only because this succeeded.
    pub fn authenticate(&self, record: &[u8]) -> Result<(u64, Vec<u8>), SecureLinkError> {
        let mut r = Reader::new(record);
        let header: [u8; HEADER_LEN] = r.array("record header")?;
        let seq = u64::from_be_bytes(header[1..9].try_into().expect("8 bytes"));
        let len = u16::from_be_bytes([header[9], header[10]]) as usize;
        let body = r.take(len, "record body")?;
        r.finish("record")?;
        if header[0] != APPLICATION_DATA {
            return Err(SecureLinkError::Malformed(format!(
                "content type {}",
                header[0]
            )));
        }
        let nonce = Nonce::from(record_nonce(&self.iv, seq));
        let payload = Payload {
            msg: body,
            aad: &header,
        };
        let plaintext = self
            .aead
            .decrypt(&nonce, payload)
            .map_err(|_| SecureLinkError::Tampered { seq })?;
        Ok((seq, plaintext))
    }

    /// The plaintext of the next record, in order. Rejects forgeries, replays and gaps; a
    /// rejected record changes nothing, so the next good record is still accepted.
    pub fn open(&mut self, record: &[u8]) -> Result<Vec<u8>, SecureLinkError> {
        let (seq, plaintext) = self.authenticate(record)?;
        let expected = self.next_seq;
        if seq < expected {
            return Err(SecureLinkError::Replayed { seq, expected });
        }
        if seq > expected {
            return Err(SecureLinkError::OutOfOrder { seq, expected });
        }
        self.next_seq += 1;
        Ok(plaintext)
    }

    /// The sequence number the next accepted record must carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}
// ANCHOR_END: opener
