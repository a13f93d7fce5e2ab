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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 5869 Appendix A, test cases 1-3 (SHA-256): (IKM, salt, info, L, PRK, OKM).
    const RFC5869: [(&str, &str, &str, usize, &str, &str); 3] = [
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
             34007208d5b887185865",
        ),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
             202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
             404142434445464748494a4b4c4d4e4f",
            "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
             808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
             a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
            "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf\
             d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
             f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
            82,
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "",
            "",
            42,
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
             9d201395faa4b61a96c8",
        ),
    ];

    #[test]
    fn hkdf_matches_rfc5869_test_vectors() {
        for (ikm, salt, info, len, prk, okm) in RFC5869 {
            let got_prk = hkdf_extract(&hex(salt), &hex(ikm));
            assert_eq!(got_prk.to_vec(), hex(prk), "PRK of IKM {ikm}");
            assert_eq!(hkdf_expand(&got_prk, &hex(info), len), hex(okm), "OKM");
        }
    }

    #[test]
    fn hkdf_matches_the_hkdf_crate_for_every_length() {
        let (ikm, salt, info) = (b"shared secret", b"salt", b"context");
        let reference = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
        let prk = hkdf_extract(salt, ikm);
        for len in [0, 1, 31, 32, 33, 64, 100, 255 * HASH_LEN] {
            let mut expected = vec![0u8; len];
            reference.expand(info, &mut expected).expect("valid length");
            assert_eq!(hkdf_expand(&prk, info, len), expected, "length {len}");
        }
    }

    #[test]
    fn every_secret_and_key_is_distinct_and_bound_to_the_transcript() {
        let shared = [7u8; 32];
        let (h1, h2) = (sha256(b"hellos"), sha256(b"flight"));
        let ks = KeySchedule::derive(&shared, &h1, &h2);
        let all = [
            ks.client_handshake,
            ks.server_handshake,
            ks.client_application,
            ks.server_application,
        ];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "secrets {i} and {j} collide");
            }
        }
        let other = KeySchedule::derive(&shared, &sha256(b"other hellos"), &h2);
        assert_ne!(ks.client_handshake, other.client_handshake);
        let later = KeySchedule::derive(&shared, &h1, &sha256(b"other flight"));
        assert_ne!(ks.client_application, later.client_application);
        assert_ne!(traffic_keys(&all[0]), traffic_keys(&all[1]));
    }
}
