//! SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677) in PostgreSQL's
//! stored format, so that the server never receives a clear-text password.
//!
//! Verifiers are made by `postgres-protocol` (the crate tokio-postgres speaks
//! the protocol with). Checking a stored verifier against a password is
//! written here because the crate offers no variant that takes a given salt
//! and iteration count (its salted function is crate-private), and reading
//! the server's verifier is the only way to learn whether a role's password
//! is already right without re-setting it (a fresh verifier has a fresh
//! salt, so re-setting on every reconcile would rewrite every role).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` with a fresh
/// salt and PostgreSQL's default iteration count.
pub fn scram_sha256_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// More iterations than this are not checked (the password is then set
/// again, with the default count): bounds the work a stored verifier can ask.
const MAX_ITERATIONS: u32 = 1_000_000;

/// Whether a stored verifier was made from `password`: recomputes its keys
/// with the verifier's own salt and iteration count.
pub fn scram_verifies(stored: &str, password: &str) -> bool {
    let Some(parsed) = Stored::parse(stored) else { return false };
    if !(1..=MAX_ITERATIONS).contains(&parsed.iterations) {
        return false;
    }
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(&prepared(password), &parsed.salt, parsed.iterations, &mut salted);
    let stored_key = Sha256::digest(hmac(&salted, b"Client Key"));
    let server_key = hmac(&salted, b"Server Key");
    stored_key.as_slice() == parsed.stored_key && server_key == parsed.server_key
}

/// The password as PostgreSQL and `postgres-protocol` hash it: SASLprep'd
/// when that succeeds, the raw bytes otherwise.
fn prepared(password: &str) -> Vec<u8> {
    stringprep::saslprep(password).map_or_else(|_| password.as_bytes().to_vec(), |p| p.into_owned().into_bytes())
}

struct Stored {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Stored {
    fn parse(stored: &str) -> Option<Stored> {
        let rest = stored.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iterations, salt) = iter_salt.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        Some(Stored {
            iterations: iterations.parse().ok()?,
            salt: STANDARD.decode(salt).ok()?,
            stored_key: STANDARD.decode(stored_key).ok()?,
            server_key: STANDARD.decode(server_key).ok()?,
        })
    }
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier PostgreSQL 15 stored for `CREATE ROLE r PASSWORD 'pencil'`.
    const FROM_POSTGRES: &str = "SCRAM-SHA-256$4096:7z1kBNEt7O1L847Gm3jLYQ==$sI55m5Tj5JvhfZSlubo9ZpiZ9iMjsY1pWMxVKWZmBFk=:pLqmk98se1Vwy0KXBTh4Qd2uEhv6tU9YorgtXBVg4w4=";

    #[test]
    fn checks_a_verifier_postgresql_made() {
        assert!(scram_verifies(FROM_POSTGRES, "pencil"));
        assert!(!scram_verifies(FROM_POSTGRES, "pencil "));
    }

    #[test]
    fn a_verifier_verifies_its_password_only() {
        let v = scram_sha256_verifier("right");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(scram_verifies(&v, "right"));
        assert!(!scram_verifies(&v, "wrong"));
        assert!(!scram_verifies("md5abc", "right"));
        assert!(!scram_verifies("SCRAM-SHA-256$x:y$z", "right"));
        assert!(!scram_verifies("SCRAM-SHA-256$4096:c2FsdA==$a", "right"));
    }

    /// SASLprep maps a no-break space to a space: the check agrees with the
    /// crate (and the server) on what was hashed.
    #[test]
    fn the_check_prepares_the_password_as_the_crate_does() {
        let v = scram_sha256_verifier("pass\u{a0}word");
        assert!(scram_verifies(&v, "pass\u{a0}word"));
        assert!(scram_verifies(&v, "pass word"));
        assert!(!scram_verifies(&v, "password"));
    }

    #[test]
    fn an_unreasonable_iteration_count_is_not_checked() {
        let v = scram_sha256_verifier("right").replacen("$4096:", "$4000000000:", 1);
        assert!(!scram_verifies(&v, "right"));
    }

    #[test]
    fn fresh_salt_every_time_and_no_clear_text() {
        let a = scram_sha256_verifier("s3cret-password");
        let b = scram_sha256_verifier("s3cret-password");
        assert_ne!(a, b);
        assert!(!a.contains("s3cret-password"));
    }
}
