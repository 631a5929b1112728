//! What the worker advertises: CAPABILITY after login (RFC 9051 §6.1.1) and the server
//! identity of ID (RFC 2971).

use asimapd_proto::Atom;

/// Capabilities after login, in the order they are sent. The first eleven after IMAP4rev1
/// are the ones the Python asimap advertised; ENABLE (RFC 5161), CREATE-SPECIAL-USE
/// (RFC 6154 §3) and BINARY (RFC 3516) are implemented here as well.
pub const CAPABILITIES: &[&str] = &[
    "IMAP4rev1",
    "IDLE",
    "ID",
    "MOVE",
    "UNSELECT",
    "UIDPLUS",
    "LITERAL+",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "NAMESPACE",
    "SPECIAL-USE",
    "ENABLE",
    "CREATE-SPECIAL-USE",
    "BINARY",
];

/// The server's ID parameters (RFC 2971 §3.3).
pub const SERVER_ID: &[(&str, &str)] = &[
    ("name", "asimapd"),
    ("version", env!("CARGO_PKG_VERSION")),
    ("support-url", env!("CARGO_PKG_REPOSITORY")),
];

/// Returns [`CAPABILITIES`] as atoms.
pub(crate) fn capability_atoms() -> Vec<Atom> {
    CAPABILITIES
        .iter()
        .filter_map(|name| Atom::new(*name).ok())
        .collect()
}
