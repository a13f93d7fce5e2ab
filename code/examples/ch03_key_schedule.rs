//! Chapter 3 listing: the key schedule, from a Diffie-Hellman secret and transcript hashes to
//! the traffic keys of each direction. Built from HMAC-SHA-256 only (`hmac` and `sha2`).
//!
//! playground-bundle: communication::secure_links::key_schedule
//!
//! Run: `cargo run -p uds --example ch03_key_schedule`
use uds::communication::secure_links::key_schedule::{KeySchedule, sha256, traffic_keys};

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
