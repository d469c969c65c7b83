//! The signed client assertion for certificate credentials: a PS256 JWT
//! (RSA-PSS, SHA-256) whose header names the certificate by its SHA-256
//! thumbprint, `x5t#S256`.
//!
//! That pair is what the current Entra doc asks for ("alg: Should be PS256",
//! "x5t#S256: Base64url-encoded SHA-256 thumbprint", "Use PSS padding":
//! learn.microsoft.com/entra/identity-platform/certificate-credentials) and
//! one of the two pairs MSAL.NET sends (`CreateJsonHeader` in
//! AzureAD/microsoft-authentication-library-for-dotnet,
//! src/client/Microsoft.Identity.Client/Internal/JsonWebToken.cs:
//! `useSha2AndPss ? "PS256" : "RS256"` with `useSha2AndPss ? "x5t#S256" : "x5t"`).
//! RS256 with `x5t#S256` is neither.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Lifetime of one assertion; Entra accepts up to 10 minutes of clock skew.
const LIFETIME_SECS: i64 = 600;

/// Signs assertions with the app's certificate key.
pub struct AssertionSigner {
    /// Private key, parsed once.
    key: EncodingKey,
    /// base64url SHA-256 of the certificate's DER, Entra's `x5t#S256`.
    thumbprint: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AssertionSigner(x5t#S256={})", self.thumbprint)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl AssertionSigner {
    /// Reads a PEM file holding the certificate and its private key. Errors say
    /// what is missing, never the key material.
    pub fn from_pem_file(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses PEM text holding a `CERTIFICATE` and a `PRIVATE KEY` / `RSA PRIVATE KEY`.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let blocks = pem::parse_many(text).map_err(|_| "not a PEM file".to_owned())?;
        let certificate = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or("no CERTIFICATE block (export the certificate with its private key as PEM)")?;
        let key_block = blocks
            .iter()
            .find(|b| matches!(b.tag(), "PRIVATE KEY" | "RSA PRIVATE KEY"))
            .ok_or("no PRIVATE KEY block (export the certificate with its private key as PEM)")?;
        let key = EncodingKey::from_rsa_pem(pem::encode(key_block).as_bytes())
            .map_err(|_| "the private key is not an RSA key".to_owned())?;
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(certificate.contents())),
        })
    }

    /// The certificate's `x5t#S256` thumbprint.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh assertion for `client_id` addressed to the token endpoint `audience`.
    pub fn sign(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let mut header = Header::new(Algorithm::PS256);
        header.x5t_s256 = Some(self.thumbprint.clone());
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("cannot sign the client assertion: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &[u8] = include_bytes!("../../tests/fixtures/test-app-certificate.pem");

    #[test]
    fn the_header_is_ps256_with_the_sha256_thumbprint_only() {
        let signer = AssertionSigner::from_pem(PEM).unwrap();
        let jwt = signer
            .sign("client", "https://login.example/t/oauth2/v2.0/token")
            .unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::PS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.x5t_s256.as_deref(), Some(signer.thumbprint()));
        assert_eq!(
            header.x5t, None,
            "one thumbprint, the one the alg pairs with"
        );
        // base64url of 32 bytes, no padding.
        assert_eq!(signer.thumbprint().len(), 43);
    }
}
