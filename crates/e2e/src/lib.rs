//! Support for the end-to-end tests: the real `asimapd` binary on 127.0.0.1 serving a
//! temporary MH tree, a certificate authority for the clients, the nmh commands run against
//! the same tree, and a small blocking IMAP client over TLS.
//!
//! Every server started through [`Server`] is stopped by its process id when the value is
//! dropped, so a failing test leaves no listener or worker behind.

mod binaries;
mod client;
mod error;
mod mail;
mod pki;
mod server;
mod view;

pub use binaries::{Binaries, binaries};
pub use client::{FetchedMessage, ImapClient, Response, Status, parse_fetch};
pub use error::E2eError;
pub use mail::{MailHome, PASSWORD, TestMessage, UNPRIVILEGED_USER, USER, nmh_output};
pub use pki::Pki;
pub use server::{Server, ServerOptions, process_children};
pub use view::{
    FetchData, LISTING_ITEMS, MailboxView, message_id, parse_fetch_data, parse_uid_set,
};
