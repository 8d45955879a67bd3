//! The keys of packaging: a publisher signs with an ed25519 private key (PKCS#8 PEM, as
//! `openssl genpkey -algorithm ed25519` writes it) whose path `DEMA_PUBLISHER_KEY_FILE` names;
//! an operator trusts the matching public key (SPKI PEM, `openssl pkey -pubout`). No key is
//! ever written by the host except a throwaway key's public half, for development builds.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The environment variable naming the publisher's private key file.
pub const PUBLISHER_KEY_ENV: &str = "DEMA_PUBLISHER_KEY_FILE";
/// Key files are small; a larger one is not a key.
const MAX_KEY_FILE_BYTES: u64 = 16 << 10;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the key file {0} is not an ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`)"
    )]
    NotPrivateKey(String),
    #[error(
        "the key file {0} is not an ed25519 public key in PEM (`openssl pkey -in KEY -pubout`)"
    )]
    NotPublicKey(String),
    #[error("the key file {0} is larger than a key file can be")]
    TooLarge(String),
    #[error("no randomness for a throwaway key: {0}")]
    Random(String),
    #[error("cannot encode the public key: {0}")]
    Encode(String),
}

/// The publisher's signing key from a PEM file.
pub fn signing_key_from_file(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = read_small(path)?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|_| KeyError::NotPrivateKey(path.display().to_string()))
}

/// A trusted publisher's public key from a PEM file.
pub fn verifying_key_from_file(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = read_small(path)?;
    VerifyingKey::from_public_key_pem(&pem)
        .map_err(|_| KeyError::NotPublicKey(path.display().to_string()))
}

/// A key for a development build, from the operating system's randomness, never stored.
pub fn throwaway_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key as SPKI PEM, the form `verify --publisher-key` reads.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))
}

/// How a key is named to a person: `ed25519:` and the first 16 hex digits of the sha256 of
/// its 32 bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("ed25519:{}", &digest[..16])
}

fn read_small(path: &Path) -> Result<String, KeyError> {
    let read = |source| KeyError::Read {
        path: path.display().to_string(),
        source,
    };
    let length = std::fs::metadata(path).map_err(read)?.len();
    if length > MAX_KEY_FILE_BYTES {
        return Err(KeyError::TooLarge(path.display().to_string()));
    }
    std::fs::read_to_string(path).map_err(read)
}
