//! Cache of verified credentials, so clients that reconnect often do not pay the full hash
//! cost each time.
//!
//! Entries are keyed by HMAC-SHA256 of the user name and password under a random key made at
//! start-up, so the cache contains no password and its keys are useless outside this process.
//! Only successful checks are stored.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tokio::time::Instant;

/// Maximum number of cached credentials. When the cache is full and no entry has expired, a
/// new success is not cached.
pub const MAX_CACHE_ENTRIES: usize = 10_000;

type CacheKey = [u8; 32];

/// Verified credentials with their expiry times.
pub(crate) struct CredentialCache {
    hmac_key: [u8; 32],
    lifetime: Duration,
    expiries: HashMap<CacheKey, Instant>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CredentialCache")
            .field("lifetime", &self.lifetime)
            .field("entries", &self.expiries.len())
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// Creates an empty cache whose entries stay valid for `lifetime`; a zero lifetime
    /// disables it.
    pub(crate) fn new(lifetime: Duration) -> Self {
        let mut hmac_key = [0u8; 32];
        rand::rng().fill_bytes(&mut hmac_key);
        Self {
            hmac_key,
            lifetime,
            expiries: HashMap::new(),
        }
    }

    /// Returns true when `user` with `password` was verified less than the lifetime ago.
    pub(crate) fn contains(&mut self, user: &str, password: &[u8], now: Instant) -> bool {
        let key = self.key_for(user, password);
        match self.expiries.get(&key) {
            Some(&expiry) if now < expiry => true,
            Some(_) => {
                self.expiries.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Stores a verified `user` and `password` until `now` plus the lifetime.
    pub(crate) fn insert(&mut self, user: &str, password: &[u8], now: Instant) {
        if self.lifetime.is_zero() {
            return;
        }
        if self.expiries.len() >= MAX_CACHE_ENTRIES {
            self.expiries.retain(|_, expiry| now < *expiry);
        }
        if self.expiries.len() >= MAX_CACHE_ENTRIES {
            return;
        }
        let key = self.key_for(user, password);
        self.expiries.insert(key, now + self.lifetime);
    }

    /// Drops every entry, for example after the password file changed.
    pub(crate) fn clear(&mut self) {
        self.expiries.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.expiries.len()
    }

    /// Computes the HMAC of the user name's length, the user name and the password. The
    /// length goes first, so ("ab", "c") and ("a", "bc") differ.
    fn key_for(&self, user: &str, password: &[u8]) -> CacheKey {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.hmac_key).expect("HMAC accepts any key length");
        mac.update(&(user.len() as u64).to_be_bytes());
        mac.update(user.as_bytes());
        mac.update(password);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(3600);

    #[test]
    fn cached_credentials_expire() {
        let mut cache = CredentialCache::new(LIFETIME);
        let start = Instant::now();
        cache.insert("alice", b"secret", start);

        assert!(cache.contains(
            "alice",
            b"secret",
            start + LIFETIME - Duration::from_secs(1)
        ));
        assert!(!cache.contains("alice", b"secret", start + LIFETIME));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn other_password_misses() {
        let mut cache = CredentialCache::new(LIFETIME);
        let now = Instant::now();
        cache.insert("alice", b"secret", now);

        assert!(!cache.contains("alice", b"Secret", now));
        assert!(!cache.contains("bob", b"secret", now));
    }

    #[test]
    fn user_password_boundary_is_part_of_key() {
        let mut cache = CredentialCache::new(LIFETIME);
        let now = Instant::now();
        cache.insert("ab", b"c", now);

        assert!(!cache.contains("a", b"bc", now));
    }

    #[test]
    fn zero_lifetime_disables_cache() {
        let mut cache = CredentialCache::new(Duration::ZERO);
        let now = Instant::now();
        cache.insert("alice", b"secret", now);

        assert!(!cache.contains("alice", b"secret", now));
    }

    #[test]
    fn full_cache_drops_expired_entries_first() {
        let mut cache = CredentialCache::new(LIFETIME);
        let start = Instant::now();
        for index in 0..MAX_CACHE_ENTRIES {
            cache.insert(&format!("user{index}"), b"pw", start);
        }

        cache.insert("late", b"pw", start);
        assert!(!cache.contains("late", b"pw", start));

        let later = start + LIFETIME;
        cache.insert("late", b"pw", later);
        assert!(cache.contains("late", b"pw", later));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn clear_drops_entries() {
        let mut cache = CredentialCache::new(LIFETIME);
        let now = Instant::now();
        cache.insert("alice", b"secret", now);

        cache.clear();

        assert!(!cache.contains("alice", b"secret", now));
    }
}
