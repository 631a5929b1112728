//! Django's legacy single-digest hashers: `md5$<salt>$<hex>` and `sha1$<salt>$<hex>` over
//! salt followed by password, and the unsalted forms `<32 hex>`, `md5$$<32 hex>` and
//! `sha1$$<40 hex>` over the password alone. Django compares the hex strings, so a stored
//! digest in upper case does not match.

use md5::Md5;
use sha1::{Digest, Sha1};

use super::bcrypt::hex_lower;
use super::{constant_time_eq, malformed};
use crate::error::HashError;

const MD5_HEX_LEN: usize = 32;
const SHA1_HEX_LEN: usize = 40;

pub(super) fn is_bare_unsalted_md5(encoded: &str) -> bool {
    encoded.len() == MD5_HEX_LEN && !encoded.contains('$')
}

pub(super) fn is_prefixed_unsalted_md5(encoded: &str) -> bool {
    encoded.len() == "md5$$".len() + MD5_HEX_LEN && encoded.starts_with("md5$$")
}

pub(super) fn is_unsalted_sha1(encoded: &str) -> bool {
    encoded.len() == "sha1$$".len() + SHA1_HEX_LEN && encoded.starts_with("sha1$$")
}

pub(super) fn verify_unsalted_md5(password: &[u8], encoded: &str) -> Result<bool, HashError> {
    let stored = encoded.strip_prefix("md5$$").unwrap_or(encoded);
    Ok(matches_hex(&Md5::digest(password), stored))
}

pub(super) fn verify_unsalted_sha1(password: &[u8], encoded: &str) -> Result<bool, HashError> {
    let stored = encoded.strip_prefix("sha1$$").unwrap_or(encoded);
    Ok(matches_hex(&Sha1::digest(password), stored))
}

pub(super) fn verify_md5(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let (salt, stored) = split_salt("md5", fields)?;
    let digest = Md5::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    Ok(matches_hex(&digest, stored))
}

pub(super) fn verify_sha1(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let (salt, stored) = split_salt("sha1", fields)?;
    let digest = Sha1::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    Ok(matches_hex(&digest, stored))
}

fn split_salt<'a>(
    algorithm: &'static str,
    fields: &'a str,
) -> Result<(&'a str, &'a str), HashError> {
    match fields.split_once('$') {
        Some((salt, digest)) if !salt.is_empty() && !digest.contains('$') => Ok((salt, digest)),
        _ => Err(malformed(algorithm, "expected salt and hex digest")),
    }
}

fn matches_hex(digest: &[u8], stored_hex: &str) -> bool {
    constant_time_eq(hex_lower(digest).as_bytes(), stored_hex.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // MD5("password") and SHA-1("password"), well-known digests.
    const MD5_PASSWORD: &str = "5f4dcc3b5aa765d61d8327deb882cf99";
    const SHA1_PASSWORD: &str = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8";

    #[test]
    fn unsalted_md5_accepts_both_forms() {
        assert_eq!(verify_unsalted_md5(b"password", MD5_PASSWORD), Ok(true));
        assert_eq!(
            verify_unsalted_md5(b"password", &format!("md5$${MD5_PASSWORD}")),
            Ok(true)
        );
        assert_eq!(verify_unsalted_md5(b"Password", MD5_PASSWORD), Ok(false));
    }

    #[test]
    fn unsalted_sha1_verifies() {
        let encoded = format!("sha1$${SHA1_PASSWORD}");

        assert_eq!(verify_unsalted_sha1(b"password", &encoded), Ok(true));
        assert_eq!(verify_unsalted_sha1(b"Password", &encoded), Ok(false));
    }

    #[test]
    fn uppercase_digest_does_not_match() {
        let upper = MD5_PASSWORD.to_uppercase();

        assert_eq!(verify_unsalted_md5(b"password", &upper), Ok(false));
    }

    #[test]
    fn salted_digest_without_salt_is_malformed() {
        for fields in ["", "$abc", "salt", "salt$abc$def"] {
            let result = verify_md5(b"pw", fields);

            assert!(
                matches!(result, Err(HashError::Malformed { .. })),
                "{fields:?}: {result:?}"
            );
        }
    }
}
