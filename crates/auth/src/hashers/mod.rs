//! Django password hashers: verification of every format Django writes or has written, and
//! creation of new `pbkdf2_sha256` hashes.
//!
//! A stored hash is `<algorithm>$<fields>`, and the algorithm is the text before the first
//! `$`, except for Django's unsalted forms (a bare 32-digit hex MD5, `md5$$<hex>` and
//! `sha1$$<hex>`), which are recognised by length as Django's `identify_hasher` does.

mod argon2;
mod bcrypt;
mod digest;
pub(crate) mod pbkdf2;
mod scrypt;

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;

use crate::error::HashError;

pub use self::argon2::{MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM, MAX_ARGON2_TIME_COST};
pub use self::bcrypt::MAX_BCRYPT_COST;
pub use self::pbkdf2::{DEFAULT_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS};
pub use self::scrypt::{MAX_SCRYPT_MEMORY_BYTES, MAX_SCRYPT_PARALLELISM};

/// Maximum length in bytes of a decoded derived key; Django's longest is scrypt's 64.
pub const MAX_HASH_BYTES: usize = 1024;

/// Length of the salt of a new hash: Django's 22 characters from `[A-Za-z0-9]`, about 131
/// bits.
pub const SALT_CHARS: usize = 22;

/// Maximum length of an algorithm name taken from a hash; Django's longest is 13.
const MAX_ALGORITHM_NAME_CHARS: usize = 32;

/// Length of the random part of an unusable password, as Django's `make_password(None)`.
const UNUSABLE_SUFFIX_CHARS: usize = 40;

/// A stored Django password hash. `Debug` prints only the algorithm, so hashes stay out of
/// logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash as stored in the password file.
    pub fn new(encoded: impl Into<String>) -> Self {
        Self(encoded.into())
    }

    /// Returns the encoded hash, for writing it to the password file.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the Django algorithm name, such as `pbkdf2_sha256` or `unsalted_md5`.
    ///
    /// Returns an empty string when the text before the first `$` is missing, longer than
    /// 32 characters or not made of ASCII letters, digits and `_`. Such text may be a
    /// password written into the file by mistake, and the name ends up in logs.
    pub fn algorithm(&self) -> &str {
        let encoded = self.0.as_str();
        if digest::is_bare_unsalted_md5(encoded) || digest::is_prefixed_unsalted_md5(encoded) {
            return "unsalted_md5";
        }
        if digest::is_unsalted_sha1(encoded) {
            return "unsalted_sha1";
        }
        match encoded.split_once('$') {
            Some((prefix, _)) if is_algorithm_name(prefix) => prefix,
            _ => "",
        }
    }

    /// Returns false for Django's unusable marker, a hash starting with `!`.
    pub fn is_usable(&self) -> bool {
        !self.0.is_empty() && !self.0.starts_with('!')
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "PasswordHash({}$<redacted>)", self.algorithm())
    }
}

/// Checks `password` against `hash` as Django's `check_password` does.
///
/// Returns `Ok(true)` on a match and `Ok(false)` for a wrong password. Returns an error
/// without computing anything when the hash is unusable, of an unknown algorithm or
/// malformed, or when a cost parameter exceeds its `MAX_*` limit.
pub fn verify_password(password: &[u8], hash: &PasswordHash) -> Result<bool, HashError> {
    if !hash.is_usable() {
        return Err(HashError::Unusable);
    }
    let encoded = hash.as_str();
    match hash.algorithm() {
        "unsalted_md5" => digest::verify_unsalted_md5(password, encoded),
        "unsalted_sha1" => digest::verify_unsalted_sha1(password, encoded),
        _ => verify_by_prefix(password, encoded),
    }
}

fn is_algorithm_name(prefix: &str) -> bool {
    prefix.len() <= MAX_ALGORITHM_NAME_CHARS
        && prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

fn verify_by_prefix(password: &[u8], encoded: &str) -> Result<bool, HashError> {
    let (algorithm, fields) = encoded.split_once('$').unwrap_or(("", ""));
    let algorithm = if is_algorithm_name(algorithm) {
        algorithm
    } else {
        ""
    };
    match algorithm {
        "pbkdf2_sha256" => pbkdf2::verify_sha256(password, fields),
        "pbkdf2_sha1" => pbkdf2::verify_sha1(password, fields),
        "argon2" => argon2::verify(password, fields),
        "bcrypt_sha256" => bcrypt::verify_sha256(password, fields),
        "bcrypt" => bcrypt::verify(password, fields),
        "scrypt" => scrypt::verify(password, fields),
        "md5" => digest::verify_md5(password, fields),
        "sha1" => digest::verify_sha1(password, fields),
        other => Err(HashError::UnknownAlgorithm {
            algorithm: other.to_owned(),
        }),
    }
}

/// Hashes `password` with Django's default hasher: `pbkdf2_sha256`, 1,000,000 iterations
/// (Django 5.2) and a random 22-character salt.
pub fn make_password(password: &[u8]) -> PasswordHash {
    make_password_with_salt(password, &random_salt())
}

/// Hashes `password` like [`make_password`] with a given salt, for reproducible tests.
pub fn make_password_with_salt(password: &[u8], salt: &str) -> PasswordHash {
    PasswordHash(pbkdf2::encode_sha256(
        password,
        salt,
        DEFAULT_PBKDF2_ITERATIONS,
    ))
}

/// Returns an unusable password as Django's `make_password(None)` writes it: `!` followed by
/// 40 random alphanumeric characters.
pub fn make_unusable_password() -> PasswordHash {
    PasswordHash(format!("!{}", random_alphanumeric(UNUSABLE_SUFFIX_CHARS)))
}

/// Returns a new salt of [`SALT_CHARS`] random alphanumeric characters.
pub(crate) fn random_salt() -> String {
    random_alphanumeric(SALT_CHARS)
}

fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Compares two byte strings in constant time for equal lengths. The length itself is
/// public: it follows from the algorithm and its parameters.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && bool::from(left.ct_eq(right))
}

/// Rejects `value` above `max` with [`HashError::ParameterTooLarge`].
fn check_limit(
    algorithm: &'static str,
    parameter: &'static str,
    value: u64,
    max: u64,
) -> Result<(), HashError> {
    if value > max {
        return Err(HashError::ParameterTooLarge {
            algorithm,
            parameter,
            value,
            max,
        });
    }
    Ok(())
}

fn malformed(algorithm: &'static str, reason: &'static str) -> HashError {
    HashError::Malformed { algorithm, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_hash_is_rejected() {
        let hash = make_unusable_password();

        assert!(hash.as_str().starts_with('!'));
        assert_eq!(hash.as_str().len(), 1 + UNUSABLE_SUFFIX_CHARS);
        assert_eq!(verify_password(b"", &hash), Err(HashError::Unusable));
    }

    #[test]
    fn empty_hash_is_unusable() {
        assert_eq!(
            verify_password(b"", &PasswordHash::new("")),
            Err(HashError::Unusable)
        );
    }

    #[test]
    fn unknown_algorithm_is_rejected() {
        let result = verify_password(b"pw", &PasswordHash::new("crypt$salt$abc"));

        assert_eq!(
            result,
            Err(HashError::UnknownAlgorithm {
                algorithm: "crypt".into()
            })
        );
    }

    #[test]
    fn text_without_algorithm_stays_out_of_errors() {
        for encoded in ["plaintext", "pa ss$word", "XXX"] {
            let hash = PasswordHash::new(encoded);

            let result = verify_password(b"pw", &hash);

            assert_eq!(hash.algorithm(), "", "{encoded}");
            assert_eq!(
                result,
                Err(HashError::UnknownAlgorithm {
                    algorithm: String::new()
                }),
                "{encoded}"
            );
        }
    }

    #[test]
    fn debug_hides_hash() {
        let hash = PasswordHash::new("md5$salt$0123456789abcdef0123456789abcdef");

        let printed = format!("{hash:?}");

        assert_eq!(printed, "PasswordHash(md5$<redacted>)");
    }

    #[test]
    fn algorithm_recognises_unsalted_forms() {
        let md5_hex = "9cc2ae8a1ba7a93da39b46fc1019c481";
        let sha1_hex = "abf7aad6438836dbe526aa231abde2d0eef74d42";

        assert_eq!(PasswordHash::new(md5_hex).algorithm(), "unsalted_md5");
        assert_eq!(
            PasswordHash::new(format!("md5$${md5_hex}")).algorithm(),
            "unsalted_md5"
        );
        assert_eq!(
            PasswordHash::new(format!("sha1$${sha1_hex}")).algorithm(),
            "unsalted_sha1"
        );
        assert_eq!(PasswordHash::new("md5$salt$x").algorithm(), "md5");
    }

    #[test]
    fn make_password_uses_django_defaults() {
        let hash = make_password_with_salt(b"secret", "abcdefghijklmnopqrstuv");

        let fields: Vec<&str> = hash.as_str().split('$').collect();

        assert_eq!(fields[0], "pbkdf2_sha256");
        assert_eq!(fields[1], "1000000");
        assert_eq!(fields[2], "abcdefghijklmnopqrstuv");
        assert_eq!(verify_password(b"secret", &hash), Ok(true));
        assert_eq!(verify_password(b"Secret", &hash), Ok(false));
    }

    #[test]
    fn random_salt_has_django_length_and_alphabet() {
        let salt = random_alphanumeric(SALT_CHARS);

        assert_eq!(salt.len(), 22);
        assert!(
            salt.bytes().all(|byte| byte.is_ascii_alphanumeric()),
            "{salt}"
        );
    }

    #[test]
    fn constant_time_eq_compares_length_and_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
