//! In-memory handshakes of both protocols, compared like with like: no sockets, no threads,
//! messages handed from one side to the other through buffers. The criterion bench
//! (`benches/benches/handshake.rs`) and the measured example (`ch03_handshakes`) time these.
//!
//! Both do one ephemeral X25519 exchange, one Ed25519 signature by the server and two
//! Ed25519 verifications by the client (the certificate's and the handshake's), plus hashing
//! and a few HMACs. rustls also parses X.509 (DER) certificates, validates the path with
//! webpki, negotiates, encrypts its handshake messages and runs on `ring`'s assembly; ours
//! runs on the dalek crates.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use super::demo::Demo;
use super::error::SecureLinkError;
use super::real_tls::{ALPN_ECHO, Pki, client_config, server_config};

/// One full teaching handshake in memory; fresh ephemeral keys every time.
pub fn teaching_handshake(demo: &mut Demo) -> Result<(), SecureLinkError> {
    demo.connect().map(|_| ())
}

/// Configurations of one rustls client and server with a fresh PKI, ready for handshakes.
pub struct RustlsPair {
    /// The client's configuration (trusts the PKI's CA; no resumption).
    pub client: Arc<ClientConfig>,
    /// The server's configuration (no session tickets).
    pub server: Arc<ServerConfig>,
}

impl RustlsPair {
    /// A fresh CA and server certificate for `localhost`, and both configs.
    pub fn new() -> Result<RustlsPair, Box<dyn std::error::Error>> {
        let pki = Pki::new("uds bench CA", &["localhost"])?;
        Ok(RustlsPair {
            client: client_config(&pki.ca, &[ALPN_ECHO])?,
            server: server_config(&pki, &[ALPN_ECHO])?,
        })
    }
}

// ANCHOR: rustls_in_memory
/// One full rustls TLS 1.3 handshake in memory: each side's output bytes are fed to the other
/// until neither is handshaking and neither has anything left to send.
pub fn rustls_handshake(pair: &RustlsPair) -> Result<(), rustls::Error> {
    let name = ServerName::try_from("localhost").expect("a valid DNS name");
    let mut client = ClientConnection::new(pair.client.clone(), name)?;
    let mut server = ServerConnection::new(pair.server.clone())?;
    let mut buf = Vec::with_capacity(4096);
    for _round in 0..10 {
        buf.clear();
        while client.wants_write() {
            client
                .write_tls(&mut buf)
                .expect("writing to a Vec cannot fail");
        }
        server
            .read_tls(&mut &buf[..])
            .expect("reading from a slice cannot fail");
        server.process_new_packets()?;
        buf.clear();
        while server.wants_write() {
            server
                .write_tls(&mut buf)
                .expect("writing to a Vec cannot fail");
        }
        client
            .read_tls(&mut &buf[..])
            .expect("reading from a slice cannot fail");
        client.process_new_packets()?;
        let idle = !client.wants_write() && !server.wants_write();
        if !client.is_handshaking() && !server.is_handshaking() && idle {
            return Ok(());
        }
    }
    Err(rustls::Error::General(
        "handshake did not finish in 10 rounds".into(),
    ))
}
// ANCHOR_END: rustls_in_memory
