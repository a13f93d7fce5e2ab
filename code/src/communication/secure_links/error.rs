//! What can go wrong on a secure link, one variant per check, so that a test (and a reader)
//! can tell which check caught an attack.

use std::fmt;

// ANCHOR: error
/// Why a handshake message or a record was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecureLinkError {
    /// A message ended before its declared length: `needed` bytes, `got` present.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes the field needs.
        needed: usize,
        /// How many were left.
        got: usize,
    },
    /// A message that does not parse (bad type byte, bad name, trailing bytes).
    Malformed(String),
    /// A well-formed message that the handshake does not expect now.
    UnexpectedMessage {
        /// What the state machine waits for.
        expected: &'static str,
        /// What arrived.
        got: &'static str,
    },
    /// The certificate's issuer is not one of the client's trust anchors.
    UntrustedIssuer(String),
    /// The certificate's signature does not verify under its issuer's key: forged or altered.
    BadCertificateSignature,
    /// The certificate is not valid at the time the client checks it (seconds since the epoch).
    Expired {
        /// The end of the validity period.
        not_after: u64,
        /// The client's time.
        now: u64,
    },
    /// The certificate is not valid yet.
    NotYetValid {
        /// The start of the validity period.
        not_before: u64,
        /// The client's time.
        now: u64,
    },
    /// The certificate names another server.
    WrongName {
        /// The name the client wants to reach.
        expected: String,
        /// The name in the certificate.
        presented: String,
    },
    /// CertificateVerify was not signed by the key the certificate names: the peer does not
    /// hold the certificate's private key.
    BadHandshakeSignature,
    /// A Finished MAC does not match: the two sides saw different transcripts.
    BadFinished,
    /// A record's AEAD tag does not verify: a bit of it (header or body) was changed.
    Tampered {
        /// The sequence number its header claims.
        seq: u64,
    },
    /// An authentic record whose sequence number was already accepted.
    Replayed {
        /// Its sequence number.
        seq: u64,
        /// The sequence number the receiver expects next.
        expected: u64,
    },
    /// An authentic record that arrived before one with a lower number.
    OutOfOrder {
        /// Its sequence number.
        seq: u64,
        /// The sequence number the receiver expects next.
        expected: u64,
    },
    /// An authentic record too far behind the newest one for a replay window to tell whether
    /// it was seen (DTLS-style receivers only).
    TooOld {
        /// Its sequence number.
        seq: u64,
        /// The newest sequence number accepted.
        newest: u64,
    },
    /// The sender used every sequence number; the link must be re-keyed.
    SequenceExhausted,
}
// ANCHOR_END: error

impl fmt::Display for SecureLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SecureLinkError::*;
        match self {
            Truncated { what, needed, got } => {
                write!(f, "truncated {what}: needs {needed} bytes, {got} left")
            }
            Malformed(why) => write!(f, "malformed message: {why}"),
            UnexpectedMessage { expected, got } => {
                write!(f, "unexpected {got} (waiting for {expected})")
            }
            UntrustedIssuer(issuer) => write!(f, "certificate issuer {issuer:?} is not trusted"),
            BadCertificateSignature => write!(f, "certificate signature does not verify"),
            Expired { not_after, now } => {
                write!(f, "certificate expired at {not_after} (now {now})")
            }
            NotYetValid { not_before, now } => {
                write!(f, "certificate not valid before {not_before} (now {now})")
            }
            WrongName {
                expected,
                presented,
            } => write!(f, "certificate is for {presented:?}, not {expected:?}"),
            BadHandshakeSignature => write!(f, "handshake not signed by the certificate's key"),
            BadFinished => write!(f, "Finished MAC does not match the transcript"),
            Tampered { seq } => write!(f, "record {seq} fails authentication"),
            Replayed { seq, expected } => {
                write!(f, "record {seq} replayed (expecting {expected})")
            }
            OutOfOrder { seq, expected } => {
                write!(f, "record {seq} out of order (expecting {expected})")
            }
            TooOld { seq, newest } => {
                write!(
                    f,
                    "record {seq} is behind the replay window (newest {newest})"
                )
            }
            SequenceExhausted => write!(f, "sequence numbers exhausted"),
        }
    }
}

impl std::error::Error for SecureLinkError {}
