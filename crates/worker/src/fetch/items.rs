//! Writing the items of one FETCH response.

use std::io::Read;
use std::num::NonZeroU32;
use std::sync::OnceLock;

use asimapd_mime::{Analysis, SectionBody};
use asimapd_proto::response::{BodyKey, FetchValue, FetchWriter};
use asimapd_proto::{Date, DateTime, FetchAttribute, FetchItems, Flag, Partial, SeqNum, Uid};
use asimapd_store::{InternalDate, MessageDetails};
use tokio::io::AsyncWriteExt;

use crate::error::CommandError;
use crate::mapped::FileBytes;
use crate::output::Output;

/// Body literals above this size are streamed straight to the socket while the output is
/// locked, instead of being copied into the response buffer.
const STREAM_THRESHOLD: u64 = 64 * 1024;

/// Bytes copied from the mapped file per socket write.
const STREAM_CHUNK: usize = 64 * 1024;

/// A message's data loaded for FETCH.
#[derive(Debug)]
pub(crate) struct LoadedMessage {
    pub(crate) details: MessageDetails,
    /// The file's content, when a requested item needs it.
    pub(crate) content: Option<Content>,
}

/// A message file's bytes, and their analysis once an item needs it.
#[derive(Debug)]
pub(crate) struct Content {
    bytes: FileBytes,
    analysis: OnceLock<Analysis>,
}

impl Content {
    /// Wraps `bytes`, with their analysis when the loader parsed them already.
    pub(crate) fn new(bytes: FileBytes, analysis: Option<Analysis>) -> Self {
        Content {
            bytes,
            analysis: analysis.map_or_else(OnceLock::new, OnceLock::from),
        }
    }

    /// Returns the analysis, parsing the bytes on first use. When the request needs the
    /// analysis, the loader parses on the loading thread instead (see [`FileNeeds`]).
    fn analysis(&self) -> &Analysis {
        self.analysis
            .get_or_init(|| Analysis::parse(self.bytes.bytes()))
    }
}

/// Expands the macros ALL, FAST and FULL (RFC 9051 §6.4.5) and, for UID FETCH, puts UID
/// first unless it was requested (RFC 9051 §6.4.9: UID FETCH always returns the UID, once).
pub(crate) fn normalize(items: FetchItems, is_uid: bool) -> Vec<FetchAttribute> {
    use FetchAttribute as A;
    let mut attributes = match items {
        FetchItems::All => vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope],
        FetchItems::Fast => vec![A::Flags, A::InternalDate, A::Rfc822Size],
        FetchItems::Full => vec![
            A::Flags,
            A::InternalDate,
            A::Rfc822Size,
            A::Envelope,
            A::Body,
        ],
        FetchItems::Attributes(attributes) => attributes,
    };
    if is_uid && !attributes.contains(&A::Uid) {
        attributes.insert(0, A::Uid);
    }
    let mut unique = Vec::with_capacity(attributes.len());
    for attribute in attributes {
        if !unique.contains(&attribute) {
            unique.push(attribute);
        }
    }
    unique
}

/// Returns true when an item needs the index's cached analysis (date, size, envelope).
pub(crate) fn needs_details(attributes: &[FetchAttribute]) -> bool {
    attributes
        .iter()
        .any(|a| !matches!(a, FetchAttribute::Flags | FetchAttribute::Uid))
}

/// The items of a FETCH request that need a message's file opened and analysed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileNeeds {
    /// True when an item reads every message's content (body sections, RFC822, BODY, BINARY).
    always: bool,
    /// True when ENVELOPE was requested, which needs the file only where none is cached.
    envelope: bool,
    /// True when BODYSTRUCTURE was requested, which needs the file only where none is cached.
    body_structure: bool,
    /// True when an item needs the message's structure. The whole message (`BODY[]`,
    /// `RFC822`) is served without it.
    analysis: bool,
}

impl FileNeeds {
    /// Finds the items of a request that need the message content.
    pub(crate) fn of(attributes: &[FetchAttribute]) -> Self {
        use FetchAttribute as A;
        let always = attributes.iter().any(|a| {
            matches!(
                a,
                A::Rfc822
                    | A::Rfc822Header
                    | A::Rfc822Text
                    | A::Body
                    | A::BodySection { .. }
                    | A::Binary { .. }
                    | A::BinarySize { .. }
            )
        });
        let analysis = attributes.iter().any(|a| match a {
            A::Rfc822Header
            | A::Rfc822Text
            | A::Body
            | A::BodyStructure
            | A::Envelope
            | A::Binary { .. }
            | A::BinarySize { .. } => true,
            A::BodySection { section, .. } => !is_whole_message(section),
            _ => false,
        });
        FileNeeds {
            always,
            envelope: attributes.contains(&A::Envelope),
            body_structure: attributes.contains(&A::BodyStructure),
            analysis,
        }
    }

    /// Returns true when an item needs the analysis of a message's file.
    pub(crate) fn needs_analysis(&self) -> bool {
        self.analysis
    }

    /// Returns true when an item reads the content of every message.
    pub(crate) fn reads_every_file(&self) -> bool {
        self.always
    }

    /// Returns true when the message with the cached `details` needs its file.
    pub(crate) fn needs_file(&self, details: &MessageDetails) -> bool {
        self.always
            || (self.envelope && details.envelope.is_none())
            || (self.body_structure && details.body_structure.is_none())
    }
}

/// The per-message inputs of one FETCH response, besides the loaded data.
pub(crate) struct ResponseContext<'a> {
    pub(crate) seq: SeqNum,
    pub(crate) uid: Uid,
    pub(crate) flags: Vec<Flag>,
    /// True when the flags changed during this FETCH (an implicit `\Seen`) and must be
    /// reported even if FLAGS was not requested (RFC 9051 §6.4.5).
    pub(crate) report_flags: bool,
    pub(crate) attributes: &'a [FetchAttribute],
}

/// Writes one FETCH response. Every value is computed before the first byte is written,
/// so a failing item (BINARY of an unknown encoding) leaves no partial response. Small
/// values go into `out`. A large body literal is written with the output locked after
/// `out` is flushed, so nothing else can come between its pieces.
pub(crate) async fn write_response(
    output: &Output,
    out: &mut Vec<u8>,
    context: ResponseContext<'_>,
    message: Option<&LoadedMessage>,
) -> std::io::Result<Result<(), CommandError>> {
    let mut items = Vec::with_capacity(context.attributes.len() + 1);
    for attribute in context.attributes {
        if let Some(value) = simple_value(attribute, &context, message) {
            items.push(BodyItem::Value(value));
            continue;
        }
        let Some(LoadedMessage {
            content: Some(content),
            ..
        }) = message
        else {
            return Ok(Err(CommandError::no(
                None,
                format!("Message UID {} could not be read", context.uid),
            )));
        };
        match body_item(attribute, content) {
            Ok(item) => items.push(item),
            Err(error) => return Ok(Err(error)),
        }
    }
    if context.report_flags && !context.attributes.contains(&FetchAttribute::Flags) {
        items.push(BodyItem::Value(FetchValue::Flags(context.flags.clone())));
    }

    let raw = match message {
        Some(LoadedMessage {
            content: Some(content),
            ..
        }) => content.bytes.bytes(),
        _ => &[],
    };
    let mut writer = FetchWriter::begin(out, context.seq);
    for item in items {
        match item {
            BodyItem::Value(value) => writer.item(out, &value),
            BodyItem::Literal {
                key,
                body,
                origin,
                count,
            } => {
                let len = body.reader_len(origin, count);
                writer.body_literal_header(out, &key, len);
                write_literal(output, out, &body, raw, origin, count, len).await?;
            }
        }
    }
    writer.finish(out);
    Ok(Ok(()))
}

/// Writes the bytes of a body literal whose header is already in `out`.
async fn write_literal(
    output: &Output,
    out: &mut Vec<u8>,
    body: &SectionBody,
    raw: &[u8],
    origin: u64,
    count: u64,
    len: u64,
) -> std::io::Result<()> {
    let mut reader = body.reader(raw, origin, count);
    if len <= STREAM_THRESHOLD {
        reader.read_to_end(out)?;
        return Ok(());
    }
    let mut stream = output.lock().await;
    stream.write_all(out).await?;
    out.clear();
    let mut chunk = vec![0u8; STREAM_CHUNK];
    loop {
        let read = reader.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        stream.write_all(&chunk[..read]).await?;
    }
}

trait WindowLen {
    fn reader_len(&self, origin: u64, count: u64) -> u64;
}

impl WindowLen for SectionBody {
    fn reader_len(&self, origin: u64, count: u64) -> u64 {
        asimapd_mime::ServedReader::window_len(self.len(), origin, count)
    }
}

fn simple_value(
    attribute: &FetchAttribute,
    context: &ResponseContext<'_>,
    message: Option<&LoadedMessage>,
) -> Option<FetchValue> {
    let details = message.map(|m| &m.details);
    let value = match attribute {
        FetchAttribute::Uid => FetchValue::Uid(context.uid),
        FetchAttribute::Flags => FetchValue::Flags(context.flags.clone()),
        FetchAttribute::InternalDate => {
            FetchValue::InternalDate(imap_date_time(details?.internal_date))
        }
        FetchAttribute::Rfc822Size => FetchValue::Rfc822Size(details?.rfc822_size),
        FetchAttribute::Envelope => match &details?.envelope {
            Some(envelope) => FetchValue::Envelope(envelope.clone()),
            None => return None,
        },
        FetchAttribute::BodyStructure => match &details?.body_structure {
            Some(structure) => FetchValue::BodyStructure(structure.clone()),
            None => return None,
        },
        _ => return None,
    };
    Some(value)
}

enum BodyItem {
    Value(FetchValue),
    Literal {
        key: BodyKey,
        body: SectionBody,
        origin: u64,
        count: u64,
    },
}

fn body_item(attribute: &FetchAttribute, content: &Content) -> Result<BodyItem, CommandError> {
    use FetchAttribute as A;
    let raw = content.bytes.bytes();
    let whole = |key: BodyKey, section: asimapd_mime::Section| -> Result<BodyItem, CommandError> {
        let body = section_body(content, &section);
        Ok(BodyItem::Literal {
            key,
            body,
            origin: 0,
            count: u64::MAX,
        })
    };
    match attribute {
        A::Envelope => Ok(BodyItem::Value(FetchValue::Envelope(
            content.analysis().envelope().to_imap(),
        ))),
        A::BodyStructure => Ok(BodyItem::Value(FetchValue::BodyStructure(
            content.analysis().body_structure(true),
        ))),
        A::Body => Ok(BodyItem::Value(FetchValue::Body(
            content.analysis().body_structure(false),
        ))),
        A::Rfc822 => whole(BodyKey::Rfc822, asimapd_mime::Section::default()),
        A::Rfc822Header => whole(
            BodyKey::Rfc822Header,
            text_section(asimapd_mime::SectionText::Header),
        ),
        A::Rfc822Text => whole(
            BodyKey::Rfc822Text,
            text_section(asimapd_mime::SectionText::Text),
        ),
        A::BodySection {
            section, partial, ..
        } => {
            let body = section_body(content, &mime_section(section));
            let (origin, count) = window(*partial);
            let key = BodyKey::Section {
                section: section.clone(),
                origin: partial.map(|p| p.offset),
            };
            Ok(BodyItem::Literal {
                key,
                body,
                origin,
                count,
            })
        }
        A::Binary { part, partial, .. } => {
            // TODO(perf): the decoded part is built in memory, unlike BODY sections, which
            // are streamed from the mapped file. Its size is bounded by the message size.
            let mut decoded = content.analysis().binary(raw, &numbers(part))?;
            let (origin, count) = window(*partial);
            let start = (origin.min(decoded.len() as u64)) as usize;
            let end = start
                + asimapd_mime::ServedReader::window_len(decoded.len() as u64, origin, count)
                    as usize;
            decoded.truncate(end);
            decoded.drain(..start);
            let key = BodyKey::Binary {
                part: part.clone(),
                origin: partial.map(|p| p.offset),
            };
            Ok(BodyItem::Value(FetchValue::BodyData {
                key,
                data: Some(decoded),
            }))
        }
        A::BinarySize { part } => {
            let size = content.analysis().binary_size(raw, &numbers(part))?;
            Ok(BodyItem::Value(FetchValue::BinarySize {
                part: part.clone(),
                size,
            }))
        }
        other => Err(CommandError::bad(format!(
            "FETCH item {other:?} is not supported"
        ))),
    }
}

/// Resolves a section; a part the message does not have is served empty, as Dovecot does,
/// since RFC 9051 defines no error for it.
fn section_body(content: &Content, section: &asimapd_mime::Section) -> SectionBody {
    let raw = content.bytes.bytes();
    if section.part.is_empty() && section.text.is_none() {
        return SectionBody::whole_message(raw);
    }
    content
        .analysis()
        .section(raw, section)
        .unwrap_or_else(|_| SectionBody::Built(Vec::new()))
}

/// True for the section of the whole message (`BODY[]`), which needs no analysis.
fn is_whole_message(section: &asimapd_proto::Section) -> bool {
    section.part.is_empty() && section.text.is_none()
}

fn text_section(text: asimapd_mime::SectionText) -> asimapd_mime::Section {
    asimapd_mime::Section {
        part: Vec::new(),
        text: Some(text),
    }
}

fn numbers(part: &[NonZeroU32]) -> Vec<u32> {
    part.iter().map(|n| n.get()).collect()
}

fn window(partial: Option<Partial>) -> (u64, u64) {
    match partial {
        Some(partial) => (partial.offset, partial.length),
        None => (0, u64::MAX),
    }
}

fn mime_section(section: &asimapd_proto::Section) -> asimapd_mime::Section {
    use asimapd_mime::SectionText as M;
    use asimapd_proto::SectionText as P;
    let names = |fields: &[String]| fields.iter().map(|f| f.as_bytes().to_vec()).collect();
    asimapd_mime::Section {
        part: numbers(&section.part),
        text: section.text.as_ref().map(|text| match text {
            P::Header => M::Header,
            P::HeaderFields(fields) => M::HeaderFields(names(fields)),
            P::HeaderFieldsNot(fields) => M::HeaderFieldsNot(names(fields)),
            P::Text => M::Text,
            P::Mime => M::Mime,
        }),
    }
}

/// Converts INTERNALDATE to the IMAP date-time, in the zone APPEND gave or in UTC.
fn imap_date_time(date: InternalDate) -> DateTime {
    let zone = date.zone_minutes.unwrap_or(0);
    let local = date.timestamp + i64::from(zone) * 60;
    let (year, month, day) = asimapd_mime::date::civil_from_days(local.div_euclid(86_400));
    let seconds = local.rem_euclid(86_400);
    let fallback = || {
        DateTime::new(Date::new(1970, 1, 1).expect("valid date"), 0, 0, 0, 0).expect("valid time")
    };
    let Some(date) = u16::try_from(year)
        .ok()
        .and_then(|y| Date::new(y, month as u8, day as u8))
    else {
        return fallback();
    };
    DateTime::new(
        date,
        (seconds / 3600) as u8,
        (seconds % 3600 / 60) as u8,
        (seconds % 60) as u8,
        zone as i16,
    )
    .unwrap_or_else(fallback)
}
