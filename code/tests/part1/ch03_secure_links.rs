//! Chapter 3's claims: each attack on the teaching handshake or its records is rejected by the
//! check meant for it, with its own error; and the real rustls client refuses certificates
//! from an unknown CA or for another name.

use proptest::prelude::*;
use uds::communication::secure_links::SecureLinkError as E;
use uds::communication::secure_links::bench::{RustlsPair, rustls_handshake};
use uds::communication::secure_links::cert::CertificateAuthority;
use uds::communication::secure_links::demo::{Demo, NOW, SERVER_NAME};
use uds::communication::secure_links::handshake::{Client, SecureLink, Server, ServerIdentity};
use uds::communication::secure_links::messages::HandshakeMessage;
use uds::communication::secure_links::real_tls::{
    ALPN_ECHO, EchoServer, Pki, TlsFailure, client_config, echo_once, server_config,
};
use uds::communication::secure_links::sim_link::{self, Receiver, Scenario};
use uds::sim::LinkConfig;

/// Runs a handshake step by step and returns the client's first error, if any.
fn handshake_error(demo: &mut Demo) -> Option<E> {
    let (mut client, hello) = Client::start(demo.config.clone(), demo.entropy());
    let mut server = Server::new(demo.identity.clone(), demo.entropy());
    let flight = server.on_message(&hello).expect("a good ClientHello");
    for msg in flight {
        if let Err(e) = client.on_message(&msg) {
            return Some(e);
        }
    }
    None
}

fn links(seed: u64) -> (SecureLink, SecureLink) {
    Demo::new(seed)
        .connect()
        .expect("the demo handshake succeeds")
}

#[test]
fn handshake_gives_both_sides_matching_keys_in_each_direction() {
    let (mut client, mut server) = links(1);
    let record = client.seal(b"hello server").unwrap();
    assert_eq!(server.open(&record).unwrap(), b"hello server");
    let record = server.seal(b"hello client").unwrap();
    assert_eq!(client.open(&record).unwrap(), b"hello client");
    // The plaintext does not appear in the record.
    let record = client.seal(b"secret secret secret").unwrap();
    assert!(!record.windows(6).any(|w| w == b"secret"));
}

#[test]
fn a_flipped_bit_in_a_record_is_rejected_as_tampered() {
    let (mut client, mut server) = links(2);
    let record = client.seal(b"pay 10 euros").unwrap();
    for position in [5, 12, record.len() - 1] {
        let mut forged = record.clone();
        forged[position] ^= 0x01;
        let got = server.open(&forged).unwrap_err();
        assert!(
            matches!(got, E::Tampered { .. }),
            "byte {position}: {got:?}"
        );
    }
    // Rejections change nothing: the genuine record is still accepted.
    assert_eq!(server.open(&record).unwrap(), b"pay 10 euros");
}

#[test]
fn a_replayed_record_is_rejected_as_replayed() {
    let (mut client, mut server) = links(3);
    let record = client.seal(b"pay 10 euros").unwrap();
    assert!(server.open(&record).is_ok());
    assert_eq!(
        server.open(&record),
        Err(E::Replayed {
            seq: 0,
            expected: 1
        })
    );
}

#[test]
fn a_reordered_record_is_rejected_as_out_of_order() {
    let (mut client, mut server) = links(4);
    let first = client.seal(b"debit").unwrap();
    let second = client.seal(b"credit").unwrap();
    assert_eq!(
        server.open(&second),
        Err(E::OutOfOrder {
            seq: 1,
            expected: 0
        })
    );
    assert_eq!(server.open(&first).unwrap(), b"debit");
    assert_eq!(server.open(&second).unwrap(), b"credit");
}

#[test]
fn a_record_cut_short_is_rejected_as_truncated() {
    let (mut client, mut server) = links(5);
    let record = client.seal(b"abc").unwrap();
    for len in 0..record.len() {
        let got = server.open(&record[..len]).unwrap_err();
        assert!(matches!(got, E::Truncated { .. }), "length {len}: {got:?}");
    }
}

#[test]
fn a_server_signing_with_a_key_its_certificate_does_not_name_is_rejected() {
    let mut demo = Demo::new(6);
    let impostor_key = ed25519_dalek::SigningKey::from_bytes(&demo.random32());
    demo.identity = ServerIdentity {
        certificate: demo.identity.certificate.clone(), // a genuine certificate, copied
        key: impostor_key,
    };
    assert_eq!(handshake_error(&mut demo), Some(E::BadHandshakeSignature));
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_rejected() {
    let mut demo = Demo::new(7);
    let cert = demo.identity.certificate.clone();
    demo.config.now = cert.not_after + 1;
    let expired = E::Expired {
        not_after: cert.not_after,
        now: cert.not_after + 1,
    };
    assert_eq!(handshake_error(&mut demo), Some(expired));
    demo.config.now = cert.not_before - 1;
    assert!(matches!(
        handshake_error(&mut demo),
        Some(E::NotYetValid { .. })
    ));
    // The boundaries themselves are inside the validity period.
    for now in [cert.not_before, cert.not_after, NOW] {
        demo.config.now = now;
        assert_eq!(handshake_error(&mut demo), None, "at {now}");
    }
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_rejected() {
    let mut demo = Demo::new(8);
    let rogue = CertificateAuthority::new("Rogue CA", demo.random32());
    let key = demo.identity.key.clone();
    let cert = demo.identity.certificate.clone();
    let forged = rogue.issue(
        SERVER_NAME,
        &key.verifying_key(),
        cert.not_before,
        cert.not_after,
    );
    demo.identity.certificate = forged;
    assert_eq!(
        handshake_error(&mut demo),
        Some(E::UntrustedIssuer("Rogue CA".into()))
    );
    // A rogue CA that copies the trusted CA's name still cannot sign for it.
    let copycat_key = demo.random32();
    let copycat = CertificateAuthority::new(&demo.ca.name.clone(), copycat_key);
    let forged = copycat.issue(
        SERVER_NAME,
        &key.verifying_key(),
        cert.not_before,
        cert.not_after,
    );
    demo.identity.certificate = forged;
    assert_eq!(handshake_error(&mut demo), Some(E::BadCertificateSignature));
}

#[test]
fn a_certificate_for_another_name_is_rejected() {
    let mut demo = Demo::new(9);
    demo.config.server_name = "bank.example".into();
    assert_eq!(
        handshake_error(&mut demo),
        Some(E::WrongName {
            expected: "bank.example".into(),
            presented: SERVER_NAME.into()
        })
    );
}

#[test]
fn every_truncated_handshake_message_is_rejected_as_truncated() {
    let mut demo = Demo::new(10);
    let (_, hello) = Client::start(demo.config.clone(), demo.entropy());
    let mut server = Server::new(demo.identity.clone(), demo.entropy());
    let flight = server.on_message(&hello).unwrap();
    for msg in [&hello].into_iter().chain(&flight) {
        for len in 0..msg.len() {
            let got = HandshakeMessage::decode(&msg[..len]).unwrap_err();
            assert!(matches!(got, E::Truncated { .. }), "length {len}: {got:?}");
        }
    }
    // And a client fed a truncated ServerHello fails with that error, not a panic.
    let (mut client, _) = Client::start(demo.config.clone(), demo.entropy());
    let cut = &flight[0][..flight[0].len() - 1];
    assert!(matches!(client.on_message(cut), Err(E::Truncated { .. })));
}

#[test]
fn a_changed_handshake_message_breaks_the_signature_or_the_finished_mac() {
    let mut demo = Demo::new(11);
    let (mut client, hello) = Client::start(demo.config.clone(), demo.entropy());
    let mut server = Server::new(demo.identity.clone(), demo.entropy());
    let mut flight = server.on_message(&hello).unwrap();
    flight[0][3] ^= 1; // the first byte of the server's random
    client.on_message(&flight[0]).unwrap();
    client.on_message(&flight[1]).unwrap();
    assert_eq!(client.on_message(&flight[2]), Err(E::BadHandshakeSignature));

    let (mut client, hello) = Client::start(demo.config.clone(), demo.entropy());
    let mut server = Server::new(demo.identity.clone(), demo.entropy());
    let mut flight = server.on_message(&hello).unwrap();
    flight[3][5] ^= 1; // the server's Finished MAC
    for msg in &flight[..3] {
        client.on_message(msg).unwrap();
    }
    assert_eq!(client.on_message(&flight[3]), Err(E::BadFinished));
}

#[test]
fn a_small_order_key_share_is_refused_on_both_sides() {
    // The u-coordinates 0 and 1 have small order: with either, X25519 outputs all zeros
    // whatever the other side's secret, so an attacker would know the "shared" secret.
    for share in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut demo = Demo::new(13);
        let (mut client, hello) = Client::start(demo.config.clone(), demo.entropy());
        let forged = HandshakeMessage::ServerHello {
            random: demo.random32(),
            key_share: share,
        }
        .encode();
        let got = client.on_message(&forged);
        assert!(
            matches!(&got, Err(E::Malformed(m)) if m.contains("low-order")),
            "client: {got:?}"
        );

        let HandshakeMessage::ClientHello {
            random,
            server_name,
            ..
        } = HandshakeMessage::decode(&hello).unwrap()
        else {
            panic!("a ClientHello")
        };
        let forged = HandshakeMessage::ClientHello {
            random,
            key_share: share,
            server_name,
        }
        .encode();
        let mut server = Server::new(demo.identity.clone(), demo.entropy());
        let got = server.on_message(&forged);
        assert!(
            matches!(&got, Err(E::Malformed(m)) if m.contains("low-order")),
            "server: {got:?}"
        );
    }
}

#[test]
fn messages_out_of_turn_are_unexpected() {
    let mut demo = Demo::new(12);
    let (mut client, hello) = Client::start(demo.config.clone(), demo.entropy());
    let mut server = Server::new(demo.identity.clone(), demo.entropy());
    let flight = server.on_message(&hello).unwrap();
    let got = client.on_message(&flight[1]).unwrap_err(); // Certificate before ServerHello
    assert_eq!(
        got,
        E::UnexpectedMessage {
            expected: "ServerHello",
            got: "Certificate"
        }
    );
    // After an error the client refuses everything.
    assert!(client.on_message(&flight[0]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random records round-trip, and flipping any single bit of any of them is detected.
    #[test]
    fn records_round_trip_and_every_single_bit_flip_is_rejected(
        seed in 0u64..1_000,
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
        flip in any::<prop::sample::Index>(),
    ) {
        let (mut client, mut server) = links(seed);
        for payload in &payloads {
            let record = client.seal(payload).unwrap();
            let mut forged = record.clone();
            let bit = flip.index(record.len() * 8);
            forged[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(server.open(&forged).is_err(), "bit {} accepted", bit);
            prop_assert_eq!(&server.open(&record).unwrap(), payload);
        }
    }
}

#[test]
fn on_the_simulator_a_clean_link_delivers_every_record_and_faults_are_named() {
    let clean = Scenario {
        name: "clean",
        link: LinkConfig::constant(std::time::Duration::from_millis(5)),
        tamper: 0.0,
    };
    let outcomes = sim_link::run(&clean, Receiver::InOrder, 200, 1);
    assert_eq!(outcomes.get("accepted"), Some(&200));
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let duplicating = Scenario {
        name: "duplicates",
        link: clean.link.clone().with_duplicate(0.05),
        tamper: 0.0,
    };
    let outcomes = sim_link::run(&duplicating, Receiver::InOrder, 200, 1);
    assert_eq!(outcomes.get("accepted"), Some(&200));
    assert!(
        outcomes.get("replayed").is_some_and(|&n| n > 0),
        "{outcomes:?}"
    );
}

#[test]
fn rustls_handshakes_in_memory() {
    let pair = RustlsPair::new().expect("rcgen and rustls configs");
    rustls_handshake(&pair).expect("a full TLS 1.3 handshake");
}

/// A runtime for the loopback tests.
fn runtime() -> tokio::runtime::Runtime {
    uds::experiment::runtime().expect("tokio starts")
}

/// Starts an echo server with a fresh PKI for `localhost`; fails with the command that starts
/// the same server by hand.
async fn echo_server(pki: &Pki) -> EchoServer {
    let config = server_config(pki, &[ALPN_ECHO]).expect("server config");
    EchoServer::start(config).await.unwrap_or_else(|e| {
        panic!(
            "cannot start the TLS echo server on 127.0.0.1:0 ({e}); try \
             `cargo run --release -p uds --example ch03_tls`"
        )
    })
}

#[test]
fn a_rustls_client_and_server_agree_on_tls13_and_echo_data() {
    runtime().block_on(async {
        let pki = Pki::new("uds test CA", &["localhost"]).unwrap();
        let server = echo_server(&pki).await;
        let config = client_config(&pki.ca, &[ALPN_ECHO]).unwrap();
        let (negotiated, echo) = echo_once(server.addr, config, "localhost", b"ping")
            .await
            .expect("a good connection");
        assert_eq!(echo, b"ping");
        assert_eq!(negotiated.version, "TLSv1_3");
        assert_eq!(negotiated.alpn.as_deref(), Some("uds-echo/1"));
    });
}

#[test]
fn the_rustls_client_refuses_a_certificate_from_an_unknown_ca() {
    runtime().block_on(async {
        let pki = Pki::new("uds test CA", &["localhost"]).unwrap();
        let server = echo_server(&pki).await;
        let other = Pki::new("another CA", &["localhost"]).unwrap();
        let config = client_config(&other.ca, &[ALPN_ECHO]).unwrap();
        let got = echo_once(server.addr, config, "localhost", b"ping").await;
        assert!(
            matches!(
                got,
                Err(TlsFailure::Tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                )))
            ),
            "{got:?}"
        );
    });
}

#[test]
fn the_rustls_client_refuses_a_certificate_for_another_name() {
    runtime().block_on(async {
        let pki = Pki::new("uds test CA", &["localhost"]).unwrap();
        let server = echo_server(&pki).await;
        let config = client_config(&pki.ca, &[ALPN_ECHO]).unwrap();
        let got = echo_once(server.addr, config, "bank.example", b"ping").await;
        assert!(
            matches!(
                got,
                Err(TlsFailure::Tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )))
            ),
            "{got:?}"
        );
    });
}
