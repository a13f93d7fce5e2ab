//! A ready-made world for tests, experiments and benches: one CA, one server with a
//! certificate for [`SERVER_NAME`], a client that trusts the CA, and seeded randomness.
//!
//! Real code draws its keys and randoms from the operating system's generator; here every
//! byte comes from the simulator's seeded generator so that a run can be replayed.

use rand::Rng;

use super::cert::CertificateAuthority;
use super::error::SecureLinkError;
use super::handshake::{ClientConfig, SecureLink, ServerIdentity, connect};
use crate::sim::{SimRng, rng_stream};
use ed25519_dalek::SigningKey;

/// The server's name in the demo certificate.
pub const SERVER_NAME: &str = "server.example";
/// The demo's "now": 2027-01-15 08:00:00 UTC, in seconds since the Unix epoch.
pub const NOW: u64 = 1_800_000_000;
/// The certificate's validity: 90 days (a common lifetime for Web certificates), from a day
/// before [`NOW`].
pub const VALIDITY_S: u64 = 90 * 86_400;

/// The demo's parties and its random stream.
pub struct Demo {
    /// The authority the client trusts.
    pub ca: CertificateAuthority,
    /// The server's certificate and key.
    pub identity: ServerIdentity,
    /// The client's configuration: the server's name, the CA as anchor, [`NOW`].
    pub config: ClientConfig,
    rng: SimRng,
}

impl Demo {
    /// The demo world of `seed`.
    pub fn new(seed: u64) -> Demo {
        let mut rng = rng_stream(seed, 3);
        let ca = CertificateAuthority::new("Demo Root CA", random32(&mut rng));
        let key = SigningKey::from_bytes(&random32(&mut rng));
        let not_before = NOW - 86_400;
        let certificate = ca.issue(
            SERVER_NAME,
            &key.verifying_key(),
            not_before,
            not_before + VALIDITY_S,
        );
        let config = ClientConfig {
            server_name: SERVER_NAME.to_string(),
            anchors: vec![ca.anchor()],
            now: NOW,
        };
        Demo {
            ca,
            identity: ServerIdentity { certificate, key },
            config,
            rng,
        }
    }

    /// 64 bytes for a client or server constructor.
    pub fn entropy(&mut self) -> [u8; 64] {
        let mut out = [0u8; 64];
        self.rng.fill_bytes(&mut out);
        out
    }

    /// 32 bytes, e.g. for another key.
    pub fn random32(&mut self) -> [u8; 32] {
        random32(&mut self.rng)
    }

    /// A whole handshake in memory: (client link, server link).
    pub fn connect(&mut self) -> Result<(SecureLink, SecureLink), SecureLinkError> {
        let (c, s) = (self.entropy(), self.entropy());
        connect(self.config.clone(), self.identity.clone(), c, s)
    }
}

fn random32(rng: &mut SimRng) -> [u8; 32] {
    let mut out = [0u8; 32];
    rng.fill_bytes(&mut out);
    out
}
