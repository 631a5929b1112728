//! `bcrypt_sha256` and `bcrypt`: Django stores the algorithm name followed by the modular
//! crypt string, `bcrypt$$2b$12$<22-character salt><31-character hash>`. `bcrypt_sha256`
//! first replaces the password by the lowercase hex SHA-256 digest of it, so passwords longer
//! than bcrypt's 72 bytes count in full.

use sha2::{Digest, Sha256};

use super::{check_limit, malformed};
use crate::error::HashError;

/// Maximum bcrypt cost (log2 of the rounds) accepted: 16 rounds of Django 5.2's default 12.
pub const MAX_BCRYPT_COST: u32 = 16;

pub(super) fn verify_sha256(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let digest = hex_lower(&Sha256::digest(password));
    verify_crypt("bcrypt_sha256", digest.as_bytes(), fields)
}

pub(super) fn verify(password: &[u8], fields: &str) -> Result<bool, HashError> {
    verify_crypt("bcrypt", password, fields)
}

/// Checks `password` against a `$2b$<cost>$...` string; the `bcrypt` crate compares the
/// decoded hashes in constant time.
fn verify_crypt(algorithm: &'static str, password: &[u8], crypt: &str) -> Result<bool, HashError> {
    let cost = parse_cost(algorithm, crypt)?;
    check_limit(algorithm, "cost", cost.into(), MAX_BCRYPT_COST.into())?;
    bcrypt::verify(password, crypt).map_err(|_| malformed(algorithm, "invalid bcrypt string"))
}

fn parse_cost(algorithm: &'static str, crypt: &str) -> Result<u32, HashError> {
    let mut parts = crypt.split('$');
    let (Some(""), Some("2a" | "2b" | "2x" | "2y"), Some(cost)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(algorithm, "expected $2b$<cost>$<salt and hash>"));
    };
    cost.parse()
        .map_err(|_| malformed(algorithm, "cost is not a number"))
}

pub(super) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // OpenBSD's bcrypt test vector for the password "U*U" at cost 5.
    const OPENBSD_VECTOR: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

    #[test]
    fn bcrypt_matches_openbsd_vector() {
        assert_eq!(verify(b"U*U", OPENBSD_VECTOR), Ok(true));
        assert_eq!(verify(b"U*V", OPENBSD_VECTOR), Ok(false));
    }

    #[test]
    fn cost_above_limit_is_rejected() {
        let crypt = format!(
            "$2b${}$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            MAX_BCRYPT_COST + 1
        );

        let result = verify(b"U*U", &crypt);

        assert_eq!(
            result,
            Err(HashError::ParameterTooLarge {
                algorithm: "bcrypt",
                parameter: "cost",
                value: u64::from(MAX_BCRYPT_COST) + 1,
                max: MAX_BCRYPT_COST.into(),
            })
        );
    }

    #[test]
    fn malformed_strings_are_errors() {
        for crypt in [
            "",
            "2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$3b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$xx$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$05$short",
        ] {
            let result = verify_sha256(b"U*U", crypt);

            assert!(
                matches!(result, Err(HashError::Malformed { .. })),
                "{crypt:?}: {result:?}"
            );
        }
    }
}
