//! The handshake messages and their encoding: `type (1 byte) | length (2 bytes) | body`, with
//! TLS 1.3's type numbers (RFC 8446 §4). Decoding checks every length, so a truncated message
//! is a [`SecureLinkError::Truncated`] and never a panic or an out-of-bounds read.

use super::cert::Certificate;
use super::error::SecureLinkError;
use super::wire::{Reader, put_name};

// ANCHOR: messages
/// One handshake message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeMessage {
    /// Client to server: a fresh random value, an ephemeral X25519 public key, and the name of
    /// the server the client wants (TLS's server_name extension, RFC 6066 §3).
    ClientHello {
        /// 32 fresh random bytes: make every transcript unique.
        random: [u8; 32],
        /// The client's ephemeral X25519 public key.
        key_share: [u8; 32],
        /// The server the client means to reach.
        server_name: String,
    },
    /// Server to client: its own random value and ephemeral X25519 public key.
    ServerHello {
        /// 32 fresh random bytes.
        random: [u8; 32],
        /// The server's ephemeral X25519 public key.
        key_share: [u8; 32],
    },
    /// Server to client: the certificate binding the server's name to its Ed25519 key.
    Certificate(Certificate),
    /// Server to client: an Ed25519 signature over the transcript so far, made with the key
    /// the certificate names. Proves the server holds that key *now*, in *this* handshake.
    CertificateVerify {
        /// The signature.
        signature: [u8; 64],
    },
    /// Either side: an HMAC over the transcript so far, under a key from the shared secret.
    Finished {
        /// The MAC.
        mac: [u8; 32],
    },
}
// ANCHOR_END: messages

impl HandshakeMessage {
    /// The message's name, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            HandshakeMessage::ClientHello { .. } => "ClientHello",
            HandshakeMessage::ServerHello { .. } => "ServerHello",
            HandshakeMessage::Certificate(_) => "Certificate",
            HandshakeMessage::CertificateVerify { .. } => "CertificateVerify",
            HandshakeMessage::Finished { .. } => "Finished",
        }
    }

    fn type_byte(&self) -> u8 {
        match self {
            HandshakeMessage::ClientHello { .. } => 1,
            HandshakeMessage::ServerHello { .. } => 2,
            HandshakeMessage::Certificate(_) => 11,
            HandshakeMessage::CertificateVerify { .. } => 15,
            HandshakeMessage::Finished { .. } => 20,
        }
    }

    /// The message on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            HandshakeMessage::ClientHello {
                random,
                key_share,
                server_name,
            } => {
                body.extend_from_slice(random);
                body.extend_from_slice(key_share);
                put_name(&mut body, server_name);
            }
            HandshakeMessage::ServerHello { random, key_share } => {
                body.extend_from_slice(random);
                body.extend_from_slice(key_share);
            }
            HandshakeMessage::Certificate(cert) => body = cert.encode(),
            HandshakeMessage::CertificateVerify { signature } => body.extend_from_slice(signature),
            HandshakeMessage::Finished { mac } => body.extend_from_slice(mac),
        }
        let mut out = vec![self.type_byte()];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses one message; short, long or unknown input is an error.
    pub fn decode(bytes: &[u8]) -> Result<HandshakeMessage, SecureLinkError> {
        let mut r = Reader::new(bytes);
        let kind = r.take(1, "message type")?[0];
        let len = r.u16("message length")? as usize;
        let body = r.take(len, "message body")?;
        r.finish("handshake message")?;
        let mut b = Reader::new(body);
        let msg = match kind {
            1 => HandshakeMessage::ClientHello {
                random: b.array("ClientHello random")?,
                key_share: b.array("ClientHello key share")?,
                server_name: b.name("ClientHello server name")?,
            },
            2 => HandshakeMessage::ServerHello {
                random: b.array("ServerHello random")?,
                key_share: b.array("ServerHello key share")?,
            },
            11 => return Ok(HandshakeMessage::Certificate(Certificate::decode(body)?)),
            15 => HandshakeMessage::CertificateVerify {
                signature: b.array("CertificateVerify signature")?,
            },
            20 => HandshakeMessage::Finished {
                mac: b.array("Finished MAC")?,
            },
            other => return Err(SecureLinkError::Malformed(format!("message type {other}"))),
        };
        b.finish(msg.name())?;
        Ok(msg)
    }
}
