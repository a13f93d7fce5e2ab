//! A tiny certificate authority: who vouches that a public key belongs to a name.
//!
//! A key exchange alone gives a secret shared with *somebody*; an attacker in the middle can
//! run one exchange with the client and another with the server. The client needs to know
//! that the key it talks to belongs to the server it meant. A certificate is a statement
//! "this Ed25519 public key belongs to `subject`, from `not_before` to `not_after`", signed by
//! an issuer. The client trusts a few issuers (its trust anchors) and accepts a certificate
//! only if [`verify_certificate`] passes four checks, each stopping one attack:
//!
//! 1. the issuer is a trust anchor (else anyone could issue certificates: `UntrustedIssuer`);
//! 2. the issuer's signature over the certificate verifies (else fields could be edited:
//!    `BadCertificateSignature`);
//! 3. the client's time lies in the validity period (else a key stolen years ago would
//!    still work: `Expired`, `NotYetValid`);
//! 4. the subject is the name the client asked for (else a valid certificate for the
//!    attacker's own site would do: `WrongName`).
//!
//! Simplifications, compared with X.509 and the Web PKI (RFC 5280): the chain has one link
//! (the anchor signs the leaf directly; real chains go through intermediates), names match
//! exactly (no wildcards, no subject alternative names), there are no extensions, no key
//! usage constraints and no revocation. The time is a parameter: this code never reads a
//! clock, so tests can ask "is this certificate valid at time t?".

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::error::SecureLinkError;
use super::wire::{Reader, put_name};

// ANCHOR: certificate
/// A statement by `issuer` that `public_key` belongs to `subject` during a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The name the key belongs to (a server name, e.g. `"bank.example"`).
    pub subject: String,
    /// The subject's Ed25519 public key.
    pub public_key: [u8; 32],
    /// First second of validity (seconds since the Unix epoch).
    pub not_before: u64,
    /// Last second of validity. Invariant: `not_before <= not_after`.
    pub not_after: u64,
    /// The name of the authority that signed it.
    pub issuer: String,
    /// The issuer's Ed25519 signature over every field above ([`Certificate::to_be_signed`]).
    pub signature: [u8; 64],
}
// ANCHOR_END: certificate

impl Certificate {
    /// The bytes the issuer signs: every field but the signature, with a context string so
    /// that a certificate signature can never be mistaken for any other signature.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut out = b"uds ch03 certificate\0".to_vec();
        put_name(&mut out, &self.subject);
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.not_after.to_be_bytes());
        put_name(&mut out, &self.issuer);
        out
    }

    /// The certificate on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_name(&mut out, &self.subject);
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.not_after.to_be_bytes());
        put_name(&mut out, &self.issuer);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses [`Certificate::encode`]'s output; any short or extra byte is an error.
    pub fn decode(bytes: &[u8]) -> Result<Certificate, SecureLinkError> {
        let mut r = Reader::new(bytes);
        let cert = Certificate {
            subject: r.name("certificate subject")?,
            public_key: r.array("certificate key")?,
            not_before: r.u64("certificate not_before")?,
            not_after: r.u64("certificate not_after")?,
            issuer: r.name("certificate issuer")?,
            signature: r.array("certificate signature")?,
        };
        r.finish("certificate")?;
        Ok(cert)
    }
}

/// A certificate authority: a name and a signing key.
pub struct CertificateAuthority {
    /// The name written in the certificates it issues.
    pub name: String,
    key: SigningKey,
}

impl CertificateAuthority {
    /// An authority whose key is made from 32 secret bytes (drawn by the caller, so that tests
    /// and experiments are deterministic).
    pub fn new(name: &str, secret: [u8; 32]) -> CertificateAuthority {
        CertificateAuthority {
            name: name.to_string(),
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// What a client configures to trust this authority.
    pub fn anchor(&self) -> TrustAnchor {
        TrustAnchor {
            name: self.name.clone(),
            public_key: self.key.verifying_key(),
        }
    }

    /// Issues a certificate for `subject`'s key, valid from `not_before` to `not_after`.
    pub fn issue(
        &self,
        subject: &str,
        public_key: &VerifyingKey,
        not_before: u64,
        not_after: u64,
    ) -> Certificate {
        assert!(not_before <= not_after, "an empty validity period");
        let mut cert = Certificate {
            subject: subject.to_string(),
            public_key: public_key.to_bytes(),
            not_before,
            not_after,
            issuer: self.name.clone(),
            signature: [0; 64],
        };
        cert.signature = self.key.sign(&cert.to_be_signed()).to_bytes();
        cert
    }
}

/// An authority the client trusts: its name and public key (a "root certificate").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchor {
    /// The authority's name, matched against a certificate's issuer.
    pub name: String,
    /// The key its signatures verify under.
    pub public_key: VerifyingKey,
}

// ANCHOR: verify_certificate
/// The server's public key, if `cert` is signed by one of `anchors`, valid at `now` and
/// issued for `server_name`.
pub fn verify_certificate(
    cert: &Certificate,
    anchors: &[TrustAnchor],
    server_name: &str,
    now: u64,
) -> Result<VerifyingKey, SecureLinkError> {
    let anchor = anchors
        .iter()
        .find(|a| a.name == cert.issuer)
        .ok_or_else(|| SecureLinkError::UntrustedIssuer(cert.issuer.clone()))?;
    let signature = Signature::from_bytes(&cert.signature);
    anchor
        .public_key
        .verify_strict(&cert.to_be_signed(), &signature)
        .map_err(|_| SecureLinkError::BadCertificateSignature)?;
    if now < cert.not_before {
        let not_before = cert.not_before;
        return Err(SecureLinkError::NotYetValid { not_before, now });
    }
    if now > cert.not_after {
        let not_after = cert.not_after;
        return Err(SecureLinkError::Expired { not_after, now });
    }
    if cert.subject != server_name {
        return Err(SecureLinkError::WrongName {
            expected: server_name.to_string(),
            presented: cert.subject.clone(),
        });
    }
    // The key was signed by the anchor, so it parsed when issued; a bad one is still an error.
    VerifyingKey::from_bytes(&cert.public_key).map_err(|_| SecureLinkError::BadCertificateSignature)
}
// ANCHOR_END: verify_certificate
