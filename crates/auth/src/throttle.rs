//! Login throttling with the Python asimap server's thresholds.
//!
//! Failures are counted per user name and per client address. Each failure restarts a
//! 60-second window, and an entry is forgotten once its last failure is more than the window
//! old. The 5th failure for a user name or the 6th for an address locks further attempts for
//! that name or address until the window passes. Locked attempts are not counted.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use tokio::time::Instant;

/// Time after the last failure at which the failures of a user name or address are
/// forgotten.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(60);

/// Failures for one user name within the window that lock further attempts.
pub const MAX_USER_FAILURES: u32 = 5;

/// Failures from one client address within the window that lock further attempts.
pub const MAX_ADDR_FAILURES: u32 = 6;

/// IPv6 clients are counted per /64 network, because one host usually owns a whole /64 and
/// can pick a new address for every attempt.
const IPV6_NETWORK_BITS: u32 = 64;

/// Failure counters per user name and per client address.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    users: Counters<String>,
    addrs: Counters<IpAddr>,
}

impl Throttle {
    /// Returns true when attempts for `user` or from `client` are locked at `now`.
    pub(crate) fn is_locked(&mut self, user: &str, client: IpAddr, now: Instant) -> bool {
        let user_failures = self.users.failures(user, now);
        let addr_failures = self.addrs.failures(&addr_key(client), now);
        user_failures >= MAX_USER_FAILURES || addr_failures >= MAX_ADDR_FAILURES
    }

    /// Counts one failed attempt for `user` from `client` at `now`.
    pub(crate) fn record_failure(&mut self, user: &str, client: IpAddr, now: Instant) {
        self.users.record(user.to_owned(), now);
        self.addrs.record(addr_key(client), now);
    }
}

fn addr_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - IPV6_NETWORK_BITS);
            IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
        }
        v4 => v4,
    }
}

#[derive(Debug)]
struct Counters<K> {
    entries: HashMap<K, Entry>,
    last_sweep: Option<Instant>,
}

impl<K> Default for Counters<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            last_sweep: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
}

impl Entry {
    /// Returns true when the last failure is strictly more than the window old, as in the
    /// Python server, so an attempt exactly at the window's end is still locked.
    fn is_expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_failure) > THROTTLE_WINDOW
    }
}

impl<K: Hash + Eq> Counters<K> {
    fn failures<Q>(&mut self, key: &Q, now: Instant) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.sweep(now);
        match self.entries.get(key) {
            Some(entry) if !entry.is_expired(now) => entry.failures,
            _ => 0,
        }
    }

    fn record(&mut self, key: K, now: Instant) {
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
        });
        if entry.is_expired(now) {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
    }

    /// Drops expired entries at most once per window, so an entry outlives its expiry by
    /// less than one window.
    fn sweep(&mut self, now: Instant) {
        let is_due = self
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= THROTTLE_WINDOW);
        if is_due {
            self.entries.retain(|_, entry| !entry.is_expired(now));
            self.last_sweep = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn client(last_octet: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last_octet))
    }

    #[test]
    fn fifth_user_failure_locks_user() {
        let mut throttle = Throttle::default();
        let now = Instant::now();

        for attempt in 1..MAX_USER_FAILURES {
            throttle.record_failure("alice", client(attempt as u8), now);
            assert!(
                !throttle.is_locked("alice", client(100), now),
                "after {attempt} failures"
            );
        }
        throttle.record_failure("alice", client(50), now);

        assert!(throttle.is_locked("alice", client(100), now));
        assert!(!throttle.is_locked("bob", client(100), now));
    }

    #[test]
    fn sixth_addr_failure_locks_addr() {
        let mut throttle = Throttle::default();
        let now = Instant::now();

        for attempt in 1..MAX_ADDR_FAILURES {
            throttle.record_failure(&format!("user{attempt}"), CLIENT, now);
            assert!(
                !throttle.is_locked("new", CLIENT, now),
                "after {attempt} failures"
            );
        }
        throttle.record_failure("last", CLIENT, now);

        assert!(throttle.is_locked("new", CLIENT, now));
        assert!(!throttle.is_locked("new", client(2), now));
    }

    #[test]
    fn lock_ends_strictly_after_window() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        for _ in 0..MAX_USER_FAILURES {
            throttle.record_failure("alice", CLIENT, start);
        }

        assert!(throttle.is_locked("alice", CLIENT, start + THROTTLE_WINDOW));
        let after = start + THROTTLE_WINDOW + Duration::from_millis(1);
        assert!(!throttle.is_locked("alice", CLIENT, after));
    }

    #[test]
    fn each_failure_restarts_window() {
        let mut throttle = Throttle::default();
        let mut now = Instant::now();
        for _ in 0..MAX_USER_FAILURES {
            throttle.record_failure("alice", client(1), now);
            now += Duration::from_secs(50);
        }

        // The failures span 200 seconds, but no gap exceeds the window.
        assert!(throttle.is_locked("alice", client(2), now));
    }

    #[test]
    fn failure_after_window_starts_new_count() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        for _ in 0..MAX_USER_FAILURES - 1 {
            throttle.record_failure("alice", client(1), start);
        }

        let later = start + THROTTLE_WINDOW + Duration::from_secs(1);
        throttle.record_failure("alice", client(1), later);

        assert!(!throttle.is_locked("alice", client(2), later));
    }

    #[test]
    fn ipv6_counts_per_network() {
        let first: IpAddr = "2001:db8::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let other_network: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let mut throttle = Throttle::default();
        let now = Instant::now();

        for attempt in 0..MAX_ADDR_FAILURES {
            throttle.record_failure(&format!("user{attempt}"), first, now);
        }

        assert!(throttle.is_locked("new", same_network, now));
        assert!(!throttle.is_locked("new", other_network, now));
    }

    #[test]
    fn ipv4_mapped_address_counts_as_ipv4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let mut throttle = Throttle::default();
        let now = Instant::now();

        for attempt in 0..MAX_ADDR_FAILURES {
            throttle.record_failure(&format!("user{attempt}"), mapped, now);
        }

        assert!(throttle.is_locked("new", CLIENT, now));
    }

    #[test]
    fn sweep_drops_expired_entries() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        throttle.record_failure("alice", CLIENT, start);

        let later = start + 2 * THROTTLE_WINDOW;
        throttle.is_locked("bob", client(2), later);

        assert!(throttle.users.entries.is_empty());
        assert!(throttle.addrs.entries.is_empty());
    }
}
