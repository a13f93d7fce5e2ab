//! The teaching handshake as two sans-I/O state machines: bytes in, bytes out.
//!
//! ```text
//! client                                              server
//! ClientHello {random, X25519 share, server name} -->
//!                      <-- ServerHello {random, X25519 share}
//!                      <-- Certificate {name, Ed25519 key, validity, CA signature}
//!                      <-- CertificateVerify {Ed25519 signature over the transcript}
//!                      <-- Finished {HMAC over the transcript}
//! Finished {HMAC over the transcript} -->
//! records in both directions, under keys bound to the whole transcript
//! ```
//!
//! The *transcript* is every handshake message so far, in order; both sides keep it and hash
//! it. Each step binds the next one to it: the handshake secrets are derived from the hash of
//! the hellos, the server signs the hash up to its Certificate, each Finished MACs the hash up
//! to it, and the application keys are derived from the hash up to the server's Finished. An
//! attacker who changes, drops or reorders any handshake message therefore makes the two
//! transcripts differ, and a signature or a Finished check fails.
//!
//! This is the shape of the TLS 1.3 full handshake (RFC 8446 §2) with its negotiation
//! removed. It is NOT for production: there is one cipher suite and no version negotiation
//! (so nothing to downgrade, but no way to upgrade either), no encryption of the server's
//! certificate (TLS 1.3 encrypts everything after ServerHello), no client authentication,
//! no resumption or 0-RTT, no key update, no alerts, no revocation checking, one-link
//! certificate chains, and no review by cryptographers. The primitives are vetted crates;
//! the protocol around them is a textbook's.
//!
//! Neither machine reads a clock or a random generator: the client's notion of "now" is in
//! its [`ClientConfig`], and each side's randomness is passed to its constructor, so a run is
//! replayable from its seed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use x25519_dalek::{PublicKey, StaticSecret};

use super::cert::{Certificate, TrustAnchor, verify_certificate};
use super::error::SecureLinkError;
use super::key_schedule::{
    KeySchedule, Secret, finished_mac, finished_mac_is_valid, sha256, traffic_keys,
};
use super::messages::HandshakeMessage;
use super::record::{RecordOpener, RecordSealer};

/// The context string in front of the transcript hash that CertificateVerify signs, so that
/// this signature cannot be replayed as any other kind of signature (RFC 8446 §4.4.3 does
/// the same with "TLS 1.3, server CertificateVerify").
const VERIFY_CONTEXT: &[u8] = b"uds ch03, server CertificateVerify\0";

/// What a client needs to decide whether it reached the right server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The name of the server the client wants.
    pub server_name: String,
    /// The authorities it trusts to vouch for names.
    pub anchors: Vec<TrustAnchor>,
    /// The time at which certificates are checked (seconds since the Unix epoch).
    pub now: u64,
}

/// What a server proves its identity with: its certificate and the matching private key.
#[derive(Clone)]
pub struct ServerIdentity {
    /// Issued by a CA for the server's name and `key`'s public half.
    pub certificate: Certificate,
    /// The Ed25519 key the certificate names.
    pub key: SigningKey,
}

/// An established link: one sealer for what we send, one opener for what we receive.
pub struct SecureLink {
    /// Seals our records.
    pub sealer: RecordSealer,
    /// Opens the peer's records.
    pub opener: RecordOpener,
}

impl SecureLink {
    /// One record carrying `plaintext`.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, SecureLinkError> {
        self.sealer.seal(plaintext)
    }

    /// The plaintext of the peer's next record.
    pub fn open(&mut self, record: &[u8]) -> Result<Vec<u8>, SecureLinkError> {
        self.opener.open(record)
    }
}

fn link(our_secret: &Secret, their_secret: &Secret) -> SecureLink {
    SecureLink {
        sealer: RecordSealer::new(&traffic_keys(our_secret)),
        opener: RecordOpener::new(&traffic_keys(their_secret)),
    }
}

/// The X25519 shared secret, refusing a peer share that forces a known (all-zero) result.
fn shared_secret(ours: &StaticSecret, theirs: [u8; 32]) -> Result<Secret, SecureLinkError> {
    let shared = ours.diffie_hellman(&PublicKey::from(theirs));
    if !shared.was_contributory() {
        return Err(SecureLinkError::Malformed(
            "low-order X25519 key share".into(),
        ));
    }
    Ok(*shared.as_bytes())
}

/// Where the client is in the handshake.
enum ClientStep {
    ServerHello,
    Certificate,
    CertificateVerify(VerifyingKey),
    Finished,
    Done,
    Failed,
}

/// The client's half of the handshake.
pub struct Client {
    config: ClientConfig,
    /// The ephemeral X25519 secret; used once.
    secret: StaticSecret,
    /// Every handshake message so far, in order.
    transcript: Vec<u8>,
    step: ClientStep,
    /// The DH secret and the hash of the hellos, once ServerHello arrived.
    shared: Option<(Secret, Secret)>,
    link: Option<SecureLink>,
}

impl Client {
    /// A client and its ClientHello. `entropy` must be 64 fresh random bytes (an OS random
    /// generator in real use; a seeded one in tests): the random value and the X25519 secret.
    pub fn start(config: ClientConfig, entropy: [u8; 64]) -> (Client, Vec<u8>) {
        let mut random = [0u8; 32];
        random.copy_from_slice(&entropy[..32]);
        let mut secret_bytes = [0u8; 32];
        secret_bytes.copy_from_slice(&entropy[32..]);
        let secret = StaticSecret::from(secret_bytes);
        let hello = HandshakeMessage::ClientHello {
            random,
            key_share: PublicKey::from(&secret).to_bytes(),
            server_name: config.server_name.clone(),
        }
        .encode();
        let client = Client {
            config,
            secret,
            transcript: hello.clone(),
            step: ClientStep::ServerHello,
            shared: None,
            link: None,
        };
        (client, hello)
    }

    /// Handles one message from the server; returns the messages to send back. Any error is
    /// final: the client refuses everything afterwards, as TLS aborts the connection.
    pub fn on_message(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, SecureLinkError> {
        let result = self.step(bytes);
        if result.is_err() {
            self.step = ClientStep::Failed;
        }
        result
    }

    /// The established link, once the handshake completed.
    pub fn take_link(&mut self) -> Option<SecureLink> {
        self.link.take()
    }

    // ANCHOR: client_step
    fn step(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, SecureLinkError> {
        let msg = HandshakeMessage::decode(bytes)?;
        let step = std::mem::replace(&mut self.step, ClientStep::Failed);
        match (step, msg) {
            (ClientStep::ServerHello, HandshakeMessage::ServerHello { key_share, .. }) => {
                let shared = shared_secret(&self.secret, key_share)?;
                self.transcript.extend_from_slice(bytes);
                self.shared = Some((shared, sha256(&self.transcript)));
                self.step = ClientStep::Certificate;
            }
            (ClientStep::Certificate, HandshakeMessage::Certificate(cert)) => {
                let c = &self.config;
                let key = verify_certificate(&cert, &c.anchors, &c.server_name, c.now)?;
                self.transcript.extend_from_slice(bytes);
                self.step = ClientStep::CertificateVerify(key);
            }
            (
                ClientStep::CertificateVerify(key),
                HandshakeMessage::CertificateVerify { signature },
            ) => {
                let signed = [VERIFY_CONTEXT, &sha256(&self.transcript)].concat();
                key.verify_strict(&signed, &Signature::from_bytes(&signature))
                    .map_err(|_| SecureLinkError::BadHandshakeSignature)?;
                self.transcript.extend_from_slice(bytes);
                self.step = ClientStep::Finished;
            }
            (ClientStep::Finished, HandshakeMessage::Finished { mac }) => {
                let (shared, hello_hash) = self.shared.expect("set at ServerHello");
                let (_, client_hs, server_hs) = KeySchedule::handshake(&shared, &hello_hash);
                if !finished_mac_is_valid(&server_hs, &sha256(&self.transcript), &mac) {
                    return Err(SecureLinkError::BadFinished);
                }
                self.transcript.extend_from_slice(bytes);
                let flight_hash = sha256(&self.transcript);
                let reply = HandshakeMessage::Finished {
                    mac: finished_mac(&client_hs, &flight_hash),
                };
                let keys = KeySchedule::derive(&shared, &hello_hash, &flight_hash);
                self.link = Some(link(&keys.client_application, &keys.server_application));
                self.step = ClientStep::Done;
                return Ok(vec![reply.encode()]);
            }
            (step, msg) => {
                let expected = match step {
                    ClientStep::ServerHello => "ServerHello",
                    ClientStep::Certificate => "Certificate",
                    ClientStep::CertificateVerify(_) => "CertificateVerify",
                    ClientStep::Finished => "Finished",
                    ClientStep::Done | ClientStep::Failed => "nothing",
                };
                return Err(SecureLinkError::UnexpectedMessage {
                    expected,
                    got: msg.name(),
                });
            }
        }
        Ok(Vec::new())
    }
    // ANCHOR_END: client_step
}

/// Where the server is in the handshake.
enum ServerStep {
    ClientHello,
    Finished {
        client_hs: Secret,
        flight_hash: Secret,
        keys: KeySchedule,
    },
    Done,
    Failed,
}

/// The server's half of the handshake.
pub struct Server {
    identity: ServerIdentity,
    /// The ephemeral X25519 secret and the server random.
    secret: StaticSecret,
    random: [u8; 32],
    transcript: Vec<u8>,
    step: ServerStep,
    link: Option<SecureLink>,
}

impl Server {
    /// A server waiting for a ClientHello. `entropy`: 64 fresh random bytes, as for the client.
    pub fn new(identity: ServerIdentity, entropy: [u8; 64]) -> Server {
        let mut random = [0u8; 32];
        random.copy_from_slice(&entropy[..32]);
        let mut secret_bytes = [0u8; 32];
        secret_bytes.copy_from_slice(&entropy[32..]);
        Server {
            identity,
            secret: StaticSecret::from(secret_bytes),
            random,
            transcript: Vec::new(),
            step: ServerStep::ClientHello,
            link: None,
        }
    }

    /// Handles one message from the client; returns the messages to send. Errors are final.
    pub fn on_message(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, SecureLinkError> {
        let result = self.step(bytes);
        if result.is_err() {
            self.step = ServerStep::Failed;
        }
        result
    }

    /// The established link, once the client's Finished checked out.
    pub fn take_link(&mut self) -> Option<SecureLink> {
        self.link.take()
    }

    // ANCHOR: server_step
    fn step(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, SecureLinkError> {
        let msg = HandshakeMessage::decode(bytes)?;
        let step = std::mem::replace(&mut self.step, ServerStep::Failed);
        match (step, msg) {
            (ServerStep::ClientHello, HandshakeMessage::ClientHello { key_share, .. }) => {
                // A real server would pick the certificate for the requested server_name.
                let shared = shared_secret(&self.secret, key_share)?;
                self.transcript.extend_from_slice(bytes);
                let hello = HandshakeMessage::ServerHello {
                    random: self.random,
                    key_share: PublicKey::from(&self.secret).to_bytes(),
                };
                let mut flight = vec![self.record(hello)];
                let hello_hash = sha256(&self.transcript);
                let (_, client_hs, server_hs) = KeySchedule::handshake(&shared, &hello_hash);
                let certificate = HandshakeMessage::Certificate(self.identity.certificate.clone());
                flight.push(self.record(certificate));
                let signed = [VERIFY_CONTEXT, &sha256(&self.transcript)].concat();
                let signature = self.identity.key.sign(&signed).to_bytes();
                flight.push(self.record(HandshakeMessage::CertificateVerify { signature }));
                let mac = finished_mac(&server_hs, &sha256(&self.transcript));
                flight.push(self.record(HandshakeMessage::Finished { mac }));
                let flight_hash = sha256(&self.transcript);
                let keys = KeySchedule::derive(&shared, &hello_hash, &flight_hash);
                self.step = ServerStep::Finished {
                    client_hs,
                    flight_hash,
                    keys,
                };
                Ok(flight)
            }
            (
                ServerStep::Finished {
                    client_hs,
                    flight_hash,
                    keys,
                },
                HandshakeMessage::Finished { mac },
            ) => {
                if !finished_mac_is_valid(&client_hs, &flight_hash, &mac) {
                    return Err(SecureLinkError::BadFinished);
                }
                self.link = Some(link(&keys.server_application, &keys.client_application));
                self.step = ServerStep::Done;
                Ok(Vec::new())
            }
            (step, msg) => {
                let expected = match step {
                    ServerStep::ClientHello => "ClientHello",
                    ServerStep::Finished { .. } => "Finished",
                    ServerStep::Done | ServerStep::Failed => "nothing",
                };
                Err(SecureLinkError::UnexpectedMessage {
                    expected,
                    got: msg.name(),
                })
            }
        }
    }
    // ANCHOR_END: server_step

    /// Encodes `msg` and appends it to the transcript.
    fn record(&mut self, msg: HandshakeMessage) -> Vec<u8> {
        let bytes = msg.encode();
        self.transcript.extend_from_slice(&bytes);
        bytes
    }
}

/// Runs a whole handshake in memory, delivering every message at once: the client's link and
/// the server's link. Benches, tests and the examples use it.
pub fn connect(
    config: ClientConfig,
    identity: ServerIdentity,
    client_entropy: [u8; 64],
    server_entropy: [u8; 64],
) -> Result<(SecureLink, SecureLink), SecureLinkError> {
    let (mut client, hello) = Client::start(config, client_entropy);
    let mut server = Server::new(identity, server_entropy);
    let mut to_server = vec![hello];
    while !to_server.is_empty() {
        let mut to_client = Vec::new();
        for msg in to_server.drain(..) {
            to_client.extend(server.on_message(&msg)?);
        }
        for msg in to_client {
            to_server.extend(client.on_message(&msg)?);
        }
    }
    match (client.take_link(), server.take_link()) {
        (Some(c), Some(s)) => Ok((c, s)),
        _ => Err(SecureLinkError::Malformed(
            "handshake did not complete".into(),
        )),
    }
}
