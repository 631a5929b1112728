//! IMAP grammar: streaming command parser, response encoder and protocol types.
//!
//! This crate does no I/O. It implements the syntax of IMAP4rev1 (RFC 3501), IMAP4rev2
//! (RFC 9051) and the extensions the server advertises.

pub mod string;
