//! Passwords from the operating system's CSPRNG.

/// Alphanumeric only, so a password needs no escaping in a URI, a JDBC URL,
/// a shell or a config file.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// 48 symbols of 62 carry 48 * log2(62) = 285 bits, above the 256 required.
pub const PASSWORD_LENGTH: usize = 48;

/// A fresh password; fails only when the OS has no entropy source.
pub fn generate_password() -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(PASSWORD_LENGTH);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LENGTH {
        getrandom::fill(&mut buf)?;
        // Rejection sampling: 248 = 4 * 62, so accepted bytes are uniform.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == PASSWORD_LENGTH {
                break;
            }
            out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn passwords_are_long_alphanumeric_and_distinct() {
        let many: HashSet<String> = (0..200).map(|_| generate_password().unwrap()).collect();
        assert_eq!(many.len(), 200, "no two passwords may repeat");
        for p in &many {
            assert_eq!(p.len(), PASSWORD_LENGTH);
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
        }
        assert!((PASSWORD_LENGTH as f64) * 62f64.log2() >= 256.0);
    }

    #[test]
    fn every_symbol_is_used() {
        let joined: String = (0..100).map(|_| generate_password().unwrap()).collect();
        let used: HashSet<u8> = joined.bytes().collect();
        assert_eq!(used.len(), ALPHABET.len(), "sampling must cover the whole alphabet");
    }
}
