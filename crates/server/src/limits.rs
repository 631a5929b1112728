//! Time limits and the per-address connection limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default time allowed for the TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time from connecting until login has to succeed.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Default maximum number of open connections from one client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 50;
/// Default delay before the response to a throttled login, as in the Python server.
pub const DEFAULT_THROTTLE_DELAY: Duration = Duration::from_secs(10);
/// Invalid commands before login after which the connection is closed.
pub const MAX_PRE_AUTH_BAD_COMMANDS: u32 = 10;

/// The limits applied to client connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub tls_handshake_timeout: Duration,
    /// Time from connecting until login has to succeed, STARTTLS included.
    pub login_timeout: Duration,
    pub max_connections_per_address: usize,
    /// Delay before the response to a login attempt rejected by throttling.
    pub throttle_delay: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            throttle_delay: DEFAULT_THROTTLE_DELAY,
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Clone)]
pub(crate) struct AddressCounter {
    max: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One counted connection; dropping it releases the slot.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    address: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressCounter {
    pub(crate) fn new(max: usize) -> Self {
        AddressCounter {
            max,
            counts: Arc::default(),
        }
    }

    /// Counts a new connection from `address`; `None` when the address is at its maximum.
    pub(crate) fn acquire(&self, address: IpAddr) -> Option<AddressSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(address).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            address,
            counts: Arc::clone(&self.counts),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_limit_refuses_beyond_maximum() {
        let counter = AddressCounter::new(2);
        let address: IpAddr = "127.0.0.1".parse().unwrap();

        let first = counter.acquire(address);
        let second = counter.acquire(address);
        let third = counter.acquire(address);

        assert!(first.is_some());
        assert!(second.is_some());
        assert!(third.is_none());
    }

    #[test]
    fn address_limit_counts_each_address_apart() {
        let counter = AddressCounter::new(1);
        let _first = counter.acquire("127.0.0.1".parse().unwrap()).unwrap();

        assert!(counter.acquire("::1".parse().unwrap()).is_some());
    }

    #[test]
    fn released_slot_can_be_taken_again() {
        let counter = AddressCounter::new(1);
        let address: IpAddr = "127.0.0.1".parse().unwrap();

        drop(counter.acquire(address).unwrap());
        let again = counter.acquire(address);

        assert!(again.is_some());
        drop(again);
        assert!(
            counter.counts.lock().unwrap().is_empty(),
            "released addresses are forgotten"
        );
    }
}
