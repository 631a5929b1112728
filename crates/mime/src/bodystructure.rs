//! BODYSTRUCTURE and BODY in IMAP syntax (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
//!
//! The output depends only on the message, never on session state: 8-bit strings are
//! always written as literals, so the bytes can be cached and sent to any client.

use asimapd_proto::string::{write_nstring, write_string};

use crate::content::{ContentInfo, Disposition, Parameter};
use crate::parse::{Analysis, PartId, PartKind};

/// The empty text part written for a multipart with no parts, because the grammar requires
/// at least one (`body-type-mpart = 1*body SP media-subtype`). Dovecot 2.3 writes the same
/// part.
const EMPTY_PART: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";

impl Analysis {
    /// Writes BODYSTRUCTURE (`extensible` true) or BODY (`extensible` false).
    pub fn write_body_structure(&self, out: &mut Vec<u8>, extensible: bool) {
        write_part(self, PartId(0), out, extensible);
    }

    /// Returns BODYSTRUCTURE (`extensible` true) or BODY (`extensible` false).
    pub fn body_structure(&self, extensible: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_body_structure(&mut out, extensible);
        out
    }
}

fn write_part(analysis: &Analysis, id: PartId, out: &mut Vec<u8>, extensible: bool) {
    let part = analysis.part(id);
    match part.kind {
        PartKind::Multipart => write_multipart(analysis, id, out, extensible),
        PartKind::Message => {
            out.push(b'(');
            write_basic_fields(out, &part.content, None, part.body_size.octets);
            let inner_id = part.children[0];
            let inner = analysis.part(inner_id);
            out.push(b' ');
            inner
                .envelope
                .as_ref()
                .expect("an encapsulated message always has an envelope")
                .write(out);
            out.push(b' ');
            write_part(analysis, inner_id, out, extensible);
            out.push(b' ');
            out.extend_from_slice(part.body_size.lines.to_string().as_bytes());
            if extensible {
                write_leaf_extension(out, &part.content);
            }
            out.push(b')');
        }
        PartKind::Leaf => {
            out.push(b'(');
            let content = &part.content;
            let is_nested_beyond_limit =
                content.is_type(b"multipart") || content.is_encapsulated_message();
            let shown_type: Option<(&[u8], &[u8])> =
                is_nested_beyond_limit.then_some((b"application", b"octet-stream"));
            write_basic_fields(out, content, shown_type, part.body_size.octets);
            if shown_type.is_none() && content.is_type(b"text") {
                out.push(b' ');
                out.extend_from_slice(part.body_size.lines.to_string().as_bytes());
            }
            if extensible {
                write_leaf_extension(out, content);
            }
            out.push(b')');
        }
    }
}

fn write_multipart(analysis: &Analysis, id: PartId, out: &mut Vec<u8>, extensible: bool) {
    let part = analysis.part(id);
    out.push(b'(');
    if part.children.is_empty() {
        out.extend_from_slice(EMPTY_PART);
        if extensible {
            // The empty part's own extension data: md5, disposition, language, location.
            out.truncate(out.len() - 1);
            out.extend_from_slice(b" NIL NIL NIL NIL)");
        }
    }
    for &child in &part.children {
        write_part(analysis, child, out, extensible);
    }
    out.push(b' ');
    write_string(out, &part.content.subtype);
    if extensible {
        out.push(b' ');
        write_params(out, &part.content.params);
        write_common_extension(out, &part.content);
    }
    out.push(b')');
}

/// Writes `type subtype params id description encoding size`. A part nested beyond the
/// depth limit is shown with `shown_type` so that clients do not expect its structure.
fn write_basic_fields(
    out: &mut Vec<u8>,
    content: &ContentInfo,
    shown_type: Option<(&[u8], &[u8])>,
    octets: u64,
) {
    let (media_type, subtype) = shown_type.unwrap_or((&content.media_type, &content.subtype));
    write_string(out, media_type);
    out.push(b' ');
    write_string(out, subtype);
    out.push(b' ');
    write_params(out, &content.params);
    out.push(b' ');
    write_nstring(out, content.id.as_deref());
    out.push(b' ');
    write_nstring(out, content.description.as_deref());
    out.push(b' ');
    write_string(out, content.encoding.as_deref().unwrap_or(b"7bit"));
    out.push(b' ');
    out.extend_from_slice(octets.to_string().as_bytes());
}

fn write_leaf_extension(out: &mut Vec<u8>, content: &ContentInfo) {
    out.push(b' ');
    write_nstring(out, content.md5.as_deref());
    write_common_extension(out, content);
}

/// Writes ` disposition language location`.
fn write_common_extension(out: &mut Vec<u8>, content: &ContentInfo) {
    out.push(b' ');
    write_disposition(out, content.disposition.as_ref());
    out.push(b' ');
    if content.language.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        write_list(out, content.language.iter().map(Vec::as_slice));
    }
    out.push(b' ');
    write_nstring(out, content.location.as_deref());
}

fn write_disposition(out: &mut Vec<u8>, disposition: Option<&Disposition>) {
    let Some(disposition) = disposition else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    write_string(out, &disposition.kind);
    out.push(b' ');
    write_params(out, &disposition.params);
    out.push(b')');
}

fn write_params(out: &mut Vec<u8>, params: &[Parameter]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    write_list(
        out,
        params
            .iter()
            .flat_map(|param| [param.name.as_slice(), param.value.as_slice()]),
    );
}

fn write_list<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>) {
    out.push(b'(');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        write_string(out, item);
    }
    out.push(b')');
}
