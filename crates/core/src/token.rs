//! Access tokens: random, shown once, stored only as a hash.

use rand::Rng;

/// Token lifetime in seconds, as ePay issues them.
pub const TOKEN_TTL_SECS: i64 = 7200;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/// A new token in ePay's style (upper-case letters, digits, underscores), 32 characters:
/// about 166 bits of randomness.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The form a token is stored and looked up in.
pub fn hash(token: &str) -> String {
    crate::vault::sha256_hex(token.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_distinct_and_hash_stably() {
        let a = super::generate();
        let b = super::generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_ne!(super::hash(&a), a);
    }
}
