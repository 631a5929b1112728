//! Malformed stored hashes yield an error or a mismatch, never a panic.

use asimapd_auth::{PasswordHash, verify_password};
use proptest::prelude::*;

/// Prefixes of every hash form, so the generated text reaches each parser.
const PREFIXES: &[&str] = &[
    "",
    "!",
    "pbkdf2_sha256$",
    "pbkdf2_sha1$",
    "argon2$",
    "argon2$argon2id$v=19$",
    "argon2$argon2i$m=8,t=1,p=1$",
    "bcrypt_sha256$$2b$",
    "bcrypt$$2b$04$",
    "scrypt$",
    "scrypt$16$",
    "md5$",
    "md5$$",
    "sha1$",
    "sha1$$",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn malformed_hash_never_panics(
        prefix in prop::sample::select(PREFIXES),
        rest in "[0-9a-zA-Z$=,+/.]{0,80}",
        password in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let hash = PasswordHash::new(format!("{prefix}{rest}"));

        let result = verify_password(&password, &hash);

        prop_assert!(result != Ok(true), "{hash:?} matched {password:?}");
    }
}
