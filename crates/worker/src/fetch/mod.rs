//! The FETCH engine (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY): which items a request
//! needs, loading a message once for all of them, and writing one FETCH response with
//! body literals streamed from the mapped file.

mod items;

pub(crate) use items::{
    Content, FileNeeds, LoadedMessage, ResponseContext, needs_details, normalize, write_response,
};
