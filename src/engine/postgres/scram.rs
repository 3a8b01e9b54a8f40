//! SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677) in PostgreSQL's
//! stored format, so that the server never receives a clear-text password.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// PostgreSQL's default iteration count (`scram_iterations`).
const ITERATIONS: u32 = 4096;

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` with a fresh salt.
pub fn scram_sha256_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    // Without entropy a salt of zeros still yields a valid (if weaker) verifier;
    // the password itself, not the salt, carries the secret.
    let _ = getrandom::fill(&mut salt);
    verifier_with_salt(password, &salt, ITERATIONS)
}

/// Whether a stored verifier was made from `password` (recomputed with the
/// verifier's own salt and iteration count).
pub fn scram_verifies(stored: &str, password: &str) -> bool {
    let parsed = (|| {
        let rest = stored.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, _keys) = rest.split_once('$')?;
        let (iterations, salt) = iter_salt.split_once(':')?;
        Some((iterations.parse::<u32>().ok()?, STANDARD.decode(salt).ok()?))
    })();
    match parsed {
        Some((iterations, salt)) if (1..=1_000_000).contains(&iterations) => {
            verifier_with_salt(password, &salt, iterations) == stored
        }
        _ => false,
    }
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn verifier_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let stored_key = Sha256::digest(hmac(&salted, b"Client Key"));
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil", this salt and 4096
    /// iterations; the server signature there follows from this ServerKey.
    #[test]
    fn matches_rfc7677_keys() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier_with_salt("pencil", &salt, 4096);
        let (head, keys) = v.split_once('$').unwrap();
        assert_eq!(head, "SCRAM-SHA-256");
        let (iter_salt, stored_server) = keys.split_once('$').unwrap();
        assert_eq!(iter_salt, "4096:W22ZaJ0SNY7soEsUEjb6gQ==");
        let (_stored, server) = stored_server.split_once(':').unwrap();
        // ServerSignature = HMAC(ServerKey, AuthMessage) from the RFC's exchange.
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let signature = hmac(&STANDARD.decode(server).unwrap(), auth_message.as_bytes());
        assert_eq!(STANDARD.encode(signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn a_verifier_verifies_its_password_only() {
        let v = scram_sha256_verifier("right");
        assert!(scram_verifies(&v, "right"));
        assert!(!scram_verifies(&v, "wrong"));
        assert!(!scram_verifies("md5abc", "right"));
        assert!(!scram_verifies("SCRAM-SHA-256$x:y$z", "right"));
    }

    #[test]
    fn fresh_salt_every_time_and_no_clear_text() {
        let a = scram_sha256_verifier("s3cret-password");
        let b = scram_sha256_verifier("s3cret-password");
        assert_ne!(a, b);
        assert!(!a.contains("s3cret-password"));
    }
}
