//! `pbkdf2_sha256` and `pbkdf2_sha1`: `<algorithm>$<iterations>$<salt>$<base64 key>`, with a
//! key as long as the digest (Django's `dklen=None`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::Sha1;
use sha2::Sha256;

use super::{check_limit, constant_time_eq, malformed};
use crate::error::HashError;

/// Iterations of new `pbkdf2_sha256` hashes: Django 5.2's default.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// Maximum PBKDF2 iterations accepted, ten times Django 5.2's default.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

const SHA256_LEN: usize = 32;
const SHA1_LEN: usize = 20;

pub(super) fn verify_sha256(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let stored = parse("pbkdf2_sha256", fields, SHA256_LEN)?;
    let mut derived = [0u8; SHA256_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password,
        stored.salt.as_bytes(),
        stored.iterations,
        &mut derived,
    );
    Ok(constant_time_eq(&derived, &stored.key))
}

pub(super) fn verify_sha1(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let stored = parse("pbkdf2_sha1", fields, SHA1_LEN)?;
    let mut derived = [0u8; SHA1_LEN];
    pbkdf2::pbkdf2_hmac::<Sha1>(
        password,
        stored.salt.as_bytes(),
        stored.iterations,
        &mut derived,
    );
    Ok(constant_time_eq(&derived, &stored.key))
}

pub(crate) fn encode_sha256(password: &[u8], salt: &str, iterations: u32) -> String {
    let mut derived = [0u8; SHA256_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt.as_bytes(), iterations, &mut derived);
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        STANDARD.encode(derived)
    )
}

struct Stored<'a> {
    iterations: u32,
    salt: &'a str,
    key: Vec<u8>,
}

fn parse<'a>(
    algorithm: &'static str,
    fields: &'a str,
    key_len: usize,
) -> Result<Stored<'a>, HashError> {
    let mut parts = fields.split('$');
    let (Some(iterations), Some(salt), Some(key), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(algorithm, "expected iterations, salt and key"));
    };

    let iterations: u64 = iterations
        .parse()
        .map_err(|_| malformed(algorithm, "iterations is not a number"))?;
    check_limit(
        algorithm,
        "iterations",
        iterations,
        MAX_PBKDF2_ITERATIONS.into(),
    )?;
    if iterations == 0 {
        return Err(malformed(algorithm, "iterations is zero"));
    }

    let key = STANDARD
        .decode(key)
        .map_err(|_| malformed(algorithm, "key is not base64"))?;
    if key.len() != key_len {
        return Err(malformed(
            algorithm,
            "key length differs from the digest length",
        ));
    }

    Ok(Stored {
        iterations: iterations as u32,
        salt,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6070 test vector 2 (PBKDF2-HMAC-SHA1, 2 iterations), in Django's format.
    const RFC6070_SHA1: &str = "2$salt$6mwBTcctb4zNHtkqzh1B8NjeiVc=";

    #[test]
    fn sha1_matches_rfc6070_vector() {
        assert_eq!(verify_sha1(b"password", RFC6070_SHA1), Ok(true));
        assert_eq!(verify_sha1(b"passwore", RFC6070_SHA1), Ok(false));
    }

    #[test]
    fn iterations_above_limit_are_rejected() {
        let fields = format!(
            "{}$salt$6mwBTcctb4zNHtkqzh1B8NjeiVc=",
            MAX_PBKDF2_ITERATIONS + 1
        );

        let result = verify_sha1(b"password", &fields);

        assert_eq!(
            result,
            Err(HashError::ParameterTooLarge {
                algorithm: "pbkdf2_sha1",
                parameter: "iterations",
                value: u64::from(MAX_PBKDF2_ITERATIONS) + 1,
                max: MAX_PBKDF2_ITERATIONS.into(),
            })
        );
    }

    #[test]
    fn malformed_fields_are_errors() {
        for fields in [
            "",
            "2$salt",
            "x$salt$6mwBTcctb4zNHtkqzh1B8NjeiVc=",
            "0$salt$6mwBTcctb4zNHtkqzh1B8NjeiVc=",
            "2$salt$not base64!",
            "2$salt$AAAA",
            "2$salt$6mwBTcctb4zNHtkqzh1B8NjeiVc=$extra",
        ] {
            let result = verify_sha1(b"password", fields);

            assert!(
                matches!(result, Err(HashError::Malformed { .. })),
                "{fields:?}: {result:?}"
            );
        }
    }

    #[test]
    fn encode_then_verify_round_trips() {
        let encoded = encode_sha256(b"pw", "saltsalt", 3);
        let fields = encoded.strip_prefix("pbkdf2_sha256$").unwrap();

        assert_eq!(verify_sha256(b"pw", fields), Ok(true));
        assert_eq!(verify_sha256(b"pW", fields), Ok(false));
    }
}
