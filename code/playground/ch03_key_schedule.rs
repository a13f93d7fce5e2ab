// GENERATED from code/examples/ch03_key_schedule.rs and the `uds` modules communication::secure_links::key_schedule by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 3 listing: the key schedule, from a Diffie-Hellman secret and transcript hashes to
//! the traffic keys of each direction. Built from HMAC-SHA-256 only (`hmac` and `sha2`).
//!
//! playground-bundle: communication::secure_links::key_schedule
//!
//! Run: `cargo run -p uds --example ch03_key_schedule`
use crate::communication::secure_links::key_schedule::{KeySchedule, sha256, traffic_keys};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ANCHOR: main
fn main() {
    // Stand-ins for the X25519 output and the handshake messages (the real ones come from
    // the handshake; any bytes show the derivation).
    let shared_secret = sha256(b"the X25519 output both sides computed");
    let hellos = b"ClientHello ... ServerHello ...".to_vec();
    let flight = [
        &hellos[..],
        b"Certificate ... CertificateVerify ... Finished",
    ]
    .concat();

    let keys = KeySchedule::derive(&shared_secret, &sha256(&hellos), &sha256(&flight));
    let client = traffic_keys(&keys.client_application);
    let server = traffic_keys(&keys.server_application);
    println!("client -> server key {}", hex(&client.key));
    println!("client -> server iv  {}", hex(&client.iv));
    println!("server -> client key {}", hex(&server.key));

    // An attacker who changed one byte of the transcript gets unrelated keys.
    let mut tampered = flight.clone();
    tampered[0] ^= 1;
    let other = KeySchedule::derive(&shared_secret, &sha256(&hellos), &sha256(&tampered));
    let other_key = traffic_keys(&other.client_application).key;
    println!("after one changed bit  {}", hex(&other_key));
    let same = client
        .key
        .iter()
        .zip(&other_key)
        .filter(|(a, b)| a == b)
        .count();
    println!("bytes in common: {same} of 32 (about 32/256 = 0.125 expected by chance)");
}
// ANCHOR_END: main

mod communication {

pub mod secure_links {

pub mod key_schedule {
//! The key schedule: from one shared secret to every key the link uses.
//!
//! After the key exchange both sides hold the same 32-byte Diffie-Hellman secret. It is not a
//! key yet: its bits are not uniformly random (it is a point coordinate), and one secret must
//! yield several independent keys (one per direction, per phase, plus the keys of the Finished
//! MACs). HKDF (RFC 5869) does both jobs in two steps built from HMAC:
//!
//! - **Extract** (RFC 5869 §2.2) concentrates the entropy of the input into a pseudorandom key:
//!   `PRK = HMAC(salt, IKM)`.
//! - **Expand** (RFC 5869 §2.3) stretches a pseudorandom key into as many bytes as needed, bound
//!   to a label: `T(i) = HMAC(PRK, T(i-1) || info || i)`, output `T(1) || T(2) || ...`.
//!
//! TLS 1.3 (RFC 8446 §7.1) wraps Expand as `HKDF-Expand-Label`, whose `info` carries the output
//! length, a label such as `"c hs traffic"` and a hash of the handshake transcript. Binding each
//! key to the transcript is what makes a key useless to anyone who saw a different handshake.
//! This module does the same with the label prefix `"uds "` instead of TLS's `"tls13 "`, so its
//! keys can never collide with real TLS keys.
//!
//! This file uses only `hmac` and `sha2`, so it runs on the Rust playground (chapter 3's
//! runnable listing). A test checks it against the `hkdf` crate and RFC 5869's test vectors.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// HMAC-SHA-256, the pseudorandom function under everything here.
type HmacSha256 = Hmac<Sha256>;

/// The length of a SHA-256 output, of a pseudorandom key and of every secret, in bytes.
pub const HASH_LEN: usize = 32;

/// A 32-byte secret or hash.
pub type Secret = [u8; HASH_LEN];

/// HMAC-SHA-256 of the concatenation of `parts` under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> Secret {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// SHA-256 of `data`: the transcript hash of a handshake is this over its messages.
pub fn sha256(data: &[u8]) -> Secret {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

// ANCHOR: hkdf
/// HKDF-Extract (RFC 5869 §2.2): a pseudorandom key from input keying material.
pub fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Secret {
    // An absent salt is a string of HASH_LEN zeros (RFC 5869 §2.2).
    let zeros = [0u8; HASH_LEN];
    let salt = if salt.is_empty() { &zeros[..] } else { salt };
    hmac(salt, &[ikm])
}

/// HKDF-Expand (RFC 5869 §2.3): `len` bytes bound to `info`, from a pseudorandom key.
/// `len` is at most 255 * 32 bytes; more is a programming error.
pub fn hkdf_expand(prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    assert!(
        len <= 255 * HASH_LEN,
        "HKDF-Expand yields at most 255 blocks"
    );
    let mut okm = Vec::with_capacity(len);
    let mut block: Vec<u8> = Vec::new(); // T(0) is empty
    let mut counter = 1u8;
    while okm.len() < len {
        block = hmac(prk, &[&block, info, &[counter]]).to_vec();
        let take = (len - okm.len()).min(HASH_LEN);
        okm.extend_from_slice(&block[..take]);
        counter = counter.wrapping_add(1);
    }
    okm
}
// ANCHOR_END: hkdf

// ANCHOR: expand_label
/// HKDF-Expand-Label (after RFC 8446 §7.1): `info` is the output length (2 bytes), the label
/// prefixed with `"uds "` (1-byte length), and the context (1-byte length), usually a
/// transcript hash. Labels and contexts are short constants, so their lengths fit a byte.
pub fn expand_label(secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
    let full_label = format!("uds {label}");
    assert!(
        full_label.len() <= 255 && context.len() <= 255,
        "label too long"
    );
    let mut info = Vec::with_capacity(4 + full_label.len() + context.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full_label.len() as u8);
    info.extend_from_slice(full_label.as_bytes());
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    hkdf_expand(secret, &info, len)
}

/// A 32-byte secret derived with [`expand_label`].
pub fn derive_secret(secret: &[u8], label: &str, transcript_hash: &[u8]) -> Secret {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&expand_label(secret, label, transcript_hash, HASH_LEN));
    out
}
// ANCHOR_END: expand_label

// ANCHOR: traffic_keys
/// What one direction of a link encrypts with: an AEAD key and the IV its nonces derive from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficKeys {
    /// The ChaCha20-Poly1305 key.
    pub key: [u8; 32],
    /// The per-direction IV; record `n` uses nonce `iv XOR n` (RFC 8446 §5.3).
    pub iv: [u8; 12],
}

/// The key and IV of a traffic secret (RFC 8446 §7.3 derives them the same way).
pub fn traffic_keys(traffic_secret: &Secret) -> TrafficKeys {
    let mut keys = TrafficKeys {
        key: [0; 32],
        iv: [0; 12],
    };
    keys.key
        .copy_from_slice(&expand_label(traffic_secret, "key", &[], 32));
    keys.iv
        .copy_from_slice(&expand_label(traffic_secret, "iv", &[], 12));
    keys
}
// ANCHOR_END: traffic_keys

// ANCHOR: schedule
/// Every secret of one handshake, derived from the Diffie-Hellman secret and two transcript
/// hashes, in the order of RFC 8446 §7.1 (without the pre-shared-key stage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchedule {
    /// Protects the rest of the handshake; bound to the hellos.
    pub client_handshake: Secret,
    /// The server's handshake traffic secret.
    pub server_handshake: Secret,
    /// The client's application traffic secret; bound to the whole server flight.
    pub client_application: Secret,
    /// The server's application traffic secret.
    pub server_application: Secret,
}

impl KeySchedule {
    /// The handshake secrets, once the hellos are exchanged.
    /// `hello_hash` is the transcript hash of ClientHello and ServerHello.
    pub fn handshake(shared_secret: &[u8], hello_hash: &Secret) -> (Secret, Secret, Secret) {
        let handshake_secret = hkdf_extract(&sha256(b"uds ch03 v1"), shared_secret);
        let client = derive_secret(&handshake_secret, "c hs traffic", hello_hash);
        let server = derive_secret(&handshake_secret, "s hs traffic", hello_hash);
        (handshake_secret, client, server)
    }

    /// All four secrets. `flight_hash` is the transcript hash up to the server's Finished.
    pub fn derive(shared_secret: &[u8], hello_hash: &Secret, flight_hash: &Secret) -> Self {
        let (handshake_secret, client_handshake, server_handshake) =
            KeySchedule::handshake(shared_secret, hello_hash);
        let salt = derive_secret(&handshake_secret, "derived", &sha256(b""));
        let master = hkdf_extract(&salt, &[0u8; HASH_LEN]);
        KeySchedule {
            client_handshake,
            server_handshake,
            client_application: derive_secret(&master, "c ap traffic", flight_hash),
            server_application: derive_secret(&master, "s ap traffic", flight_hash),
        }
    }
}

/// The key that a side's Finished MAC is computed with (RFC 8446 §4.4.4).
pub fn finished_key(handshake_traffic_secret: &Secret) -> Secret {
    derive_secret(handshake_traffic_secret, "finished", &[])
}

/// A Finished MAC: HMAC over the transcript hash, under the side's finished key.
pub fn finished_mac(handshake_traffic_secret: &Secret, transcript_hash: &Secret) -> Secret {
    hmac(&finished_key(handshake_traffic_secret), &[transcript_hash])
}

/// Whether `mac` is the right Finished MAC. The `hmac` crate compares in constant time, so the
/// time taken does not reveal how many leading bytes of a forged MAC were right.
pub fn finished_mac_is_valid(
    handshake_traffic_secret: &Secret,
    transcript_hash: &Secret,
    mac: &Secret,
) -> bool {
    let key = finished_key(handshake_traffic_secret);
    let mut check = <HmacSha256 as KeyInit>::new_from_slice(&key).expect("any key length");
    check.update(transcript_hash);
    check.verify_slice(mac).is_ok()
}
// ANCHOR_END: schedule

}
}
}
