//! A password in memory, hidden from `Debug` output and wiped on drop.

use std::fmt;

/// A password as the client sent it: raw bytes, because IMAP LOGIN and SASL PLAIN carry
/// octets and Django hashes the UTF-8 encoding of the text. `Debug` prints no content.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    /// Wraps the password bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Returns the password bytes, for hashing only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        for byte in self.0.iter_mut() {
            // SAFETY: `byte` is a valid, aligned, exclusive reference into the vector. The
            // volatile write keeps the compiler from removing the wipe as a dead store.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let password = Password::new("hunter2");

        let printed = format!("{password:?}");

        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn expose_returns_bytes() {
        assert_eq!(Password::new("pw").expose(), b"pw");
    }
}
