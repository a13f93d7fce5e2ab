//! The real thing: TLS 1.3 with rustls over loopback, certificates made with rcgen at run time.
//!
//! [`Pki::new`] makes a fresh certificate authority and a server certificate it signs (Ed25519
//! keys, so the comparison with the teaching handshake is like for like). [`server_config`]
//! and [`client_config`] build rustls configurations with the `ring` provider passed in
//! explicitly (no process-wide default), TLS 1.3 only, resumption off (every handshake is a
//! full one). [`EchoServer`] accepts TLS connections on `127.0.0.1:0` and echoes what it
//! reads; [`echo_once`] connects, sends a message, reads it back and reports what was
//! negotiated.
//!
//! Everything the teaching handshake leaves out happens here: version and cipher-suite
//! negotiation, an encrypted certificate, X.509 parsing and path validation by webpki
//! (RFC 5280), name matching against subject alternative names (RFC 6125), alerts, ALPN
//! (RFC 7301). The client checks the certificate against the CA it was given and nothing else.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The ALPN protocol name our echo service speaks.
pub const ALPN_ECHO: &[u8] = b"uds-echo/1";

/// A certificate authority and one server certificate signed by it, all made at run time.
pub struct Pki {
    /// The CA's self-signed certificate: what a client trusts.
    pub ca: CertificateDer<'static>,
    /// The server's certificate chain (leaf first).
    pub chain: Vec<CertificateDer<'static>>,
    /// The server's private key (PKCS #8).
    pub key: PrivatePkcs8KeyDer<'static>,
}

// ANCHOR: pki
impl Pki {
    /// A new CA named `ca_name`, and a certificate from it for the DNS names `server_names`.
    pub fn new(ca_name: &str, server_names: &[&str]) -> Result<Pki, rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let names: Vec<String> = server_names.iter().map(|n| n.to_string()).collect();
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
        let leaf = CertificateParams::new(names)?.signed_by(&leaf_key, &issuer)?;
        Ok(Pki {
            ca: ca.der().clone(),
            chain: vec![leaf.der().clone()],
            key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        })
    }
}
// ANCHOR_END: pki

/// The `ring` crypto provider, passed to each config instead of installed process-wide.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ANCHOR: configs
/// A TLS 1.3 server presenting `pki`'s certificate, speaking the ALPN protocols `alpn`.
pub fn server_config(pki: &Pki, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, rustls::Error> {
    let key = PrivateKeyDer::Pkcs8(pki.key.clone_key());
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.send_tls13_tickets = 0; // no resumption: every handshake is a full one
    Ok(Arc::new(config))
}

/// A TLS 1.3 client trusting only `ca`, offering the ALPN protocols `alpn`.
pub fn client_config(
    ca: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}
// ANCHOR_END: configs

/// What a connection agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The application protocol both sides chose, if any.
    pub alpn: Option<String>,
}

/// Why a TLS connection failed: a TLS error (with rustls's precise kind), or plain I/O.
#[derive(Debug)]
pub enum TlsFailure {
    /// The TLS layer refused (bad certificate, no common protocol, ...).
    Tls(rustls::Error),
    /// The socket failed.
    Io(std::io::Error),
    /// The server name is not a valid DNS name or IP address.
    BadServerName(String),
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsFailure::Tls(e) => write!(f, "TLS error: {e}"),
            TlsFailure::Io(e) => write!(f, "I/O error: {e}"),
            TlsFailure::BadServerName(n) => write!(f, "invalid server name {n:?}"),
        }
    }
}

impl std::error::Error for TlsFailure {}

impl From<std::io::Error> for TlsFailure {
    /// tokio-rustls reports TLS errors as `io::Error`s wrapping a `rustls::Error`: unwrap it.
    fn from(e: std::io::Error) -> TlsFailure {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => TlsFailure::Tls(tls.clone()),
            None => TlsFailure::Io(e),
        }
    }
}

/// A TLS echo server on `127.0.0.1`, on a port the OS chose; stops when dropped.
pub struct EchoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

// ANCHOR: echo_server
impl EchoServer {
    /// Binds `127.0.0.1:0` and serves TLS connections with `config`, echoing each one's
    /// bytes until the client closes. A failed handshake ends only that connection.
    pub async fn start(config: Arc<ServerConfig>) -> std::io::Result<EchoServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return; // the client refused us, or spoke garbage
                    };
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = tls.shutdown().await;
                });
            }
        });
        Ok(EchoServer { addr, task })
    }
}
// ANCHOR_END: echo_server

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ANCHOR: echo_once
/// Connects to `addr` as a client of `server_name`, sends `message`, reads the echo back.
pub async fn echo_once(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    server_name: &str,
    message: &[u8],
) -> Result<(Negotiated, Vec<u8>), TlsFailure> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| TlsFailure::BadServerName(server_name.to_string()))?;
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let negotiated = Negotiated {
        version: format!("{:?}", conn.protocol_version().expect("handshake done")),
        cipher_suite: format!(
            "{:?}",
            conn.negotiated_cipher_suite().expect("done").suite()
        ),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    };
    tls.write_all(message).await?;
    let mut echo = vec![0u8; message.len()];
    tls.read_exact(&mut echo).await?;
    tls.shutdown().await?;
    Ok((negotiated, echo))
}
// ANCHOR_END: echo_once
