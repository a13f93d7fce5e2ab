//! Chapter 3: secure links. A teaching handshake and record layer built only from vetted
//! primitives, and the real thing, TLS 1.3 with rustls, on loopback.
//!
//! A secure link promises three things over a network that anyone may read and write:
//!
//! - **confidentiality**: only the two ends can read the data (an AEAD cipher, ChaCha20-Poly1305,
//!   RFC 8439, under keys nobody else knows);
//! - **integrity**: a changed, replayed, reordered or injected record is detected (the AEAD tag
//!   over each record and its authenticated sequence number);
//! - **authentication**: the client talks to the server it named, not to whoever answered
//!   (a certificate from a trusted authority, and a signature that proves the server holds the
//!   certificate's key).
//!
//! How: the two sides agree on a secret with an ephemeral X25519 Diffie-Hellman exchange
//! (RFC 7748), which an eavesdropper cannot compute; the server signs the handshake transcript
//! with the Ed25519 key (RFC 8032) that its certificate names; HKDF (RFC 5869) turns the secret
//! and the transcript hash into keys; Finished MACs confirm that both saw the same transcript.
//! Because the X25519 keys are thrown away after the handshake, recording the traffic and
//! stealing the server's long-term key later does not reveal it (forward secrecy).
//!
//! The layers, one file each: [`key_schedule`] (HKDF over `hmac` + `sha2`, runs on the
//! playground), [`cert`] (the tiny CA), [`messages`] (the wire format), [`handshake`] (client
//! and server state machines), [`record`] (sealing and opening), [`real_tls`] (rustls on
//! loopback), [`bench`] (in-memory handshakes of both, for the criterion bench and the
//! measured example), [`sim_link`] (the link on the simulator, for the experiment).
//!
//! **Not for production.** The primitives come from the RustCrypto and dalek crates; the
//! protocol around them is a textbook's, without negotiation, resumption, certificate
//! encryption, revocation or review. [`handshake`]'s essay lists what is missing.

pub mod bench;
pub mod cert;
pub mod demo;
pub mod error;
pub mod exercise;
pub mod handshake;
pub mod key_schedule;
pub mod messages;
pub mod real_tls;
pub mod record;
pub mod sim_link;
pub mod wire;

pub use error::SecureLinkError;
