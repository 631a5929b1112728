//! `scrypt`: `scrypt$<N>$<salt>$<r>$<p>$<base64 key>` with a 64-byte key (Django's `dklen`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scrypt::Params;

use super::{MAX_HASH_BYTES, check_limit, constant_time_eq, malformed};
use crate::error::HashError;

/// Maximum scrypt memory (128 × N × r bytes) accepted: 1 GiB, 64 times Django 5.2's 16 MiB.
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 1 << 30;

/// Maximum scrypt parallelism p accepted, about three times Django 5.2's 5. The p blocks are
/// computed one after the other, so p multiplies the work.
pub const MAX_SCRYPT_PARALLELISM: u32 = 16;

const ALGORITHM: &str = "scrypt";

pub(super) fn verify(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let stored = parse(fields)?;
    let params = Params::new(stored.log_n, stored.r, stored.p, stored.key.len())
        .map_err(|_| malformed(ALGORITHM, "parameters out of range"))?;

    let mut derived = vec![0u8; stored.key.len()];
    scrypt::scrypt(password, stored.salt.as_bytes(), &params, &mut derived)
        .map_err(|_| malformed(ALGORITHM, "key length out of range"))?;
    Ok(constant_time_eq(&derived, &stored.key))
}

struct Stored<'a> {
    log_n: u8,
    r: u32,
    p: u32,
    salt: &'a str,
    key: Vec<u8>,
}

fn parse(fields: &str) -> Result<Stored<'_>, HashError> {
    let parts: Vec<&str> = fields.split('$').collect();
    let [n, salt, r, p, key] = parts.as_slice() else {
        return Err(malformed(ALGORITHM, "expected N, salt, r, p and key"));
    };

    let n = parse_number(n)?;
    let r = parse_number(r)?;
    let p = parse_number(p)?;
    if n < 2 || !n.is_power_of_two() {
        return Err(malformed(ALGORITHM, "N is not a power of two above 1"));
    }
    if r == 0 || p == 0 {
        return Err(malformed(ALGORITHM, "r or p is zero"));
    }
    let memory = 128u64.saturating_mul(n).saturating_mul(r);
    check_limit(
        ALGORITHM,
        "memory (128*N*r bytes)",
        memory,
        MAX_SCRYPT_MEMORY_BYTES,
    )?;
    check_limit(ALGORITHM, "parallelism", p, MAX_SCRYPT_PARALLELISM.into())?;

    let key = STANDARD
        .decode(key)
        .map_err(|_| malformed(ALGORITHM, "key is not base64"))?;
    if key.len() > MAX_HASH_BYTES {
        return Err(malformed(ALGORITHM, "key is too long"));
    }

    Ok(Stored {
        log_n: n.trailing_zeros() as u8,
        r: r as u32,
        p: p as u32,
        salt,
        key,
    })
}

fn parse_number(field: &str) -> Result<u64, HashError> {
    field
        .parse()
        .map_err(|_| malformed(ALGORITHM, "parameter is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7914 section 12, second vector: "password", salt "NaCl", N=1024, r=8, p=16.
    const RFC7914_VECTOR: &str = "1024$NaCl$8$16$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA==";

    #[test]
    fn scrypt_matches_rfc7914_vector() {
        assert_eq!(verify(b"password", RFC7914_VECTOR), Ok(true));
        assert_eq!(verify(b"passwore", RFC7914_VECTOR), Ok(false));
    }

    #[test]
    fn memory_above_limit_is_rejected() {
        // 128 * 2^21 * 8 bytes = 2 GiB.
        let result = verify(b"pw", "2097152$salt$8$1$AAAA");

        assert_eq!(
            result,
            Err(HashError::ParameterTooLarge {
                algorithm: "scrypt",
                parameter: "memory (128*N*r bytes)",
                value: 2 << 30,
                max: MAX_SCRYPT_MEMORY_BYTES,
            })
        );
    }

    #[test]
    fn parallelism_above_limit_is_rejected() {
        let fields = format!("16384$salt$8${}$AAAA", MAX_SCRYPT_PARALLELISM + 1);

        let result = verify(b"pw", &fields);

        assert!(
            matches!(
                result,
                Err(HashError::ParameterTooLarge {
                    parameter: "parallelism",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn malformed_fields_are_errors() {
        for fields in [
            "",
            "16384$salt$8$1",
            "1000$salt$8$1$AAAAAAAAAAAAAAAA",
            "1$salt$8$1$AAAAAAAAAAAAAAAA",
            "16$salt$0$1$AAAAAAAAAAAAAAAA",
            "16$salt$8$x$AAAAAAAAAAAAAAAA",
            "16$salt$8$1$not base64!",
            "16$salt$8$1$AAAA",
        ] {
            let result = verify(b"pw", fields);

            assert!(
                matches!(result, Err(HashError::Malformed { .. })),
                "{fields:?}: {result:?}"
            );
        }
    }
}
