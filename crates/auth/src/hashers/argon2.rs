//! `argon2`: Django stores `argon2` followed by argon2-cffi's encoding,
//! `argon2$<variant>$v=<version>$m=<KiB>,t=<passes>,p=<lanes>$<base64 salt>$<base64 hash>`.
//! Django releases before 3.2 wrote `argon2i`, and argon2-cffi releases before 16.0 left out
//! the `v=` field, which then means version 16 (0x10).

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{MAX_HASH_BYTES, check_limit, constant_time_eq, malformed};
use crate::error::HashError;

/// Maximum argon2 memory cost accepted: 1 GiB, ten times Django 5.2's 100 MiB.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;

/// Maximum argon2 time cost (passes) accepted, ten times Django 5.2's 2.
pub const MAX_ARGON2_TIME_COST: u32 = 20;

/// Maximum argon2 parallelism (lanes) accepted, eight times Django 5.2's 8. The lanes are
/// computed one after the other here, so lanes add no work beyond the memory cost.
pub const MAX_ARGON2_PARALLELISM: u32 = 64;

const ALGORITHM: &str = "argon2";

/// Base64 without padding, as argon2-cffi writes it; padding is tolerated.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) fn verify(password: &[u8], fields: &str) -> Result<bool, HashError> {
    let stored = parse(fields)?;
    let params = Params::new(
        stored.memory_kib,
        stored.time_cost,
        stored.parallelism,
        Some(stored.hash.len()),
    )
    .map_err(|_| malformed(ALGORITHM, "parameters out of range"))?;

    let hasher = Argon2::new(stored.variant, stored.version, params);
    let mut derived = vec![0u8; stored.hash.len()];
    hasher
        .hash_password_into(password, &stored.salt, &mut derived)
        .map_err(|_| malformed(ALGORITHM, "salt or parameters out of range"))?;
    Ok(constant_time_eq(&derived, &stored.hash))
}

struct Stored {
    variant: Algorithm,
    version: Version,
    memory_kib: u32,
    time_cost: u32,
    parallelism: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(fields: &str) -> Result<Stored, HashError> {
    let mut parts: Vec<&str> = fields.split('$').collect();
    // A leading `$` (from argon2-cffi's encoding) leaves an empty first field.
    if parts.first() == Some(&"") {
        parts.remove(0);
    }
    let (variant, version, params, salt, hash) = match parts.as_slice() {
        [variant, version, params, salt, hash] if version.starts_with("v=") => {
            (*variant, parse_version(version)?, *params, *salt, *hash)
        }
        [variant, params, salt, hash] => (*variant, Version::V0x10, *params, *salt, *hash),
        _ => {
            return Err(malformed(
                ALGORITHM,
                "expected variant, parameters, salt and hash",
            ));
        }
    };

    let variant = match variant {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return Err(malformed(ALGORITHM, "unknown variant")),
    };
    let (memory_kib, time_cost, parallelism) = parse_costs(params)?;
    let salt = BASE64
        .decode(salt)
        .map_err(|_| malformed(ALGORITHM, "salt is not base64"))?;
    let hash = BASE64
        .decode(hash)
        .map_err(|_| malformed(ALGORITHM, "hash is not base64"))?;
    if hash.len() > MAX_HASH_BYTES {
        return Err(malformed(ALGORITHM, "hash is too long"));
    }

    Ok(Stored {
        variant,
        version,
        memory_kib,
        time_cost,
        parallelism,
        salt,
        hash,
    })
}

fn parse_version(field: &str) -> Result<Version, HashError> {
    match field {
        "v=19" => Ok(Version::V0x13),
        "v=16" => Ok(Version::V0x10),
        _ => Err(malformed(ALGORITHM, "unknown version")),
    }
}

/// Parses `m=<KiB>,t=<passes>,p=<lanes>` and applies the limits.
fn parse_costs(params: &str) -> Result<(u32, u32, u32), HashError> {
    let (mut memory, mut time, mut lanes) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| malformed(ALGORITHM, "parameter without '='"))?;
        let value: u64 = value
            .parse()
            .map_err(|_| malformed(ALGORITHM, "parameter is not a number"))?;
        let slot = match name {
            "m" => &mut memory,
            "t" => &mut time,
            "p" => &mut lanes,
            _ => return Err(malformed(ALGORITHM, "unknown parameter")),
        };
        *slot = Some(value);
    }
    let (Some(memory), Some(time), Some(lanes)) = (memory, time, lanes) else {
        return Err(malformed(ALGORITHM, "missing m, t or p"));
    };

    check_limit(
        ALGORITHM,
        "memory_cost",
        memory,
        MAX_ARGON2_MEMORY_KIB.into(),
    )?;
    check_limit(ALGORITHM, "time_cost", time, MAX_ARGON2_TIME_COST.into())?;
    check_limit(
        ALGORITHM,
        "parallelism",
        lanes,
        MAX_ARGON2_PARALLELISM.into(),
    )?;
    Ok((memory as u32, time as u32, lanes as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9106 section 5 vectors use a secret and associated data, which Django never sets.
    // This one is argon2-cffi 25.1.0's `hash_secret` of "password" with the salt
    // "somesaltsalt", m=64, t=1, p=1.
    const ARGON2ID_PASSWORD_V19: &str =
        "argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzYWx0$rS9ahMGU3aECvQbSeafqeQ";

    #[test]
    fn argon2id_vector_verifies() {
        assert_eq!(verify(b"password", ARGON2ID_PASSWORD_V19), Ok(true));
        assert_eq!(verify(b"passwore", ARGON2ID_PASSWORD_V19), Ok(false));
    }

    #[test]
    fn missing_version_means_version_16() {
        let stored = parse("argon2i$m=512,t=2,p=2$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA").unwrap();

        assert_eq!(stored.version, Version::V0x10);
        assert_eq!(stored.variant, Algorithm::Argon2i);
    }

    #[test]
    fn memory_above_limit_is_rejected() {
        let fields = format!(
            "argon2id$v=19$m={},t=2,p=8$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            MAX_ARGON2_MEMORY_KIB + 1
        );

        let result = verify(b"pw", &fields);

        assert_eq!(
            result,
            Err(HashError::ParameterTooLarge {
                algorithm: "argon2",
                parameter: "memory_cost",
                value: u64::from(MAX_ARGON2_MEMORY_KIB) + 1,
                max: MAX_ARGON2_MEMORY_KIB.into(),
            })
        );
    }

    #[test]
    fn time_cost_above_limit_is_rejected() {
        let fields = format!(
            "argon2id$v=19$m=64,t={},p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            MAX_ARGON2_TIME_COST + 1
        );

        let result = verify(b"pw", &fields);

        assert!(
            matches!(
                result,
                Err(HashError::ParameterTooLarge {
                    parameter: "time_cost",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn parallelism_above_limit_is_rejected() {
        let fields = format!(
            "argon2id$v=19$m=4096,t=1,p={}$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            MAX_ARGON2_PARALLELISM + 1
        );

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
            "argon2x$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=20$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=64,t=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=64,t=1,p=1,x=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=x,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=64,t=1,p=1$!!$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=64,t=1,p=1$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let result = verify(b"pw", fields);

            assert!(
                matches!(result, Err(HashError::Malformed { .. })),
                "{fields:?}: {result:?}"
            );
        }
    }
}
