//! Fixture messages → ENVELOPE, BODYSTRUCTURE, sections, BINARY and search text.
//!
//! The Dovecot comparison checks every fixture against Dovecot. These tests pin chosen
//! values by hand. They also cover what Dovecot cannot check: errors for missing sections,
//! search text, streaming of large messages, and the differences from Dovecot kept on
//! purpose.

mod support;

use std::io::Read;

use asimapd_mime::{
    Analysis, ByteRange, MimeError, PartKind, Section, SectionBody, SectionText, ServedReader,
    served::to_served,
};
use support::{escape, fixtures};

fn fixture(name: &str) -> Vec<u8> {
    fixtures()
        .into_iter()
        .find(|(file, _)| file == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

fn section_text(
    raw: &[u8],
    analysis: &Analysis,
    part: &[u32],
    text: Option<SectionText>,
) -> String {
    let section = Section {
        part: part.to_vec(),
        text,
    };
    let body = analysis.section(raw, &section).unwrap();
    escape(&body.to_vec(raw, 0, u64::MAX))
}

#[test]
fn plain_message_structure_and_size() {
    let raw = fixture("01-plain.eml");
    let analysis = Analysis::parse(&raw);
    assert_eq!(
        String::from_utf8(analysis.envelope().to_imap()).unwrap(),
        "(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" \
         ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
         ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
         ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
         ((NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) NIL NIL NIL \
         \"<B27397-0100000@Blurdybloop.example>\")"
    );
    assert_eq!(
        String::from_utf8(analysis.body_structure(true)).unwrap(),
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 55 1 NIL NIL NIL NIL)"
    );
    assert_eq!(analysis.size(), 326);
}

#[test]
fn forwarded_message_sections() {
    let raw = fixture("04-forwarded.eml");
    let analysis = Analysis::parse(&raw);
    let fields = SectionText::HeaderFields(vec![b"subject".to_vec()]);
    assert_eq!(
        section_text(&raw, &analysis, &[2], Some(fields)),
        "Subject: plans\\r\\n\\r\\n"
    );
    assert_eq!(
        section_text(&raw, &analysis, &[2, 1], None),
        "Dinner at eight?"
    );
    assert_eq!(
        section_text(&raw, &analysis, &[2, 2, 1], None),
        "<p>Dinner at <img src=\"cid:clock\"> eight?</p>"
    );
    assert_eq!(
        section_text(&raw, &analysis, &[2, 2, 2], Some(SectionText::Mime)),
        "Content-Type: image/gif\\r\\nContent-ID: <clock>\\r\\nContent-Transfer-Encoding: base64\\r\\n\\r\\n"
    );
    assert!(section_text(&raw, &analysis, &[2], Some(SectionText::Text)).starts_with("--b2\\r\\n"));
    assert_eq!(analysis.binary(&raw, &[2, 2, 2]).unwrap()[..6], *b"GIF89a");
}

#[test]
fn partial_fetch_uses_served_offsets() {
    let raw = fixture("04-forwarded.eml");
    let analysis = Analysis::parse(&raw);
    let whole = analysis.section(&raw, &Section::default()).unwrap();
    assert_eq!(whole.to_vec(&raw, 0, 4), b"From");
    // "From: Alice <alice@example.com>" is 31 octets; 31 and 32 are its CRLF.
    assert_eq!(whole.to_vec(&raw, 31, 4), b"\r\nTo");
    assert_eq!(whole.to_vec(&raw, 32, 3), b"\nTo");
    assert_eq!(whole.to_vec(&raw, whole.len() + 1, 10), b"");
}

#[test]
fn from_line_is_not_served() {
    let raw = fixture("06-from-line.eml");
    let analysis = Analysis::parse(&raw);
    let header = section_text(&raw, &analysis, &[], Some(SectionText::Header));
    assert!(
        header.starts_with("Return-Path: <bounce@example.com>"),
        "{header}"
    );
    let served_len = to_served(analysis.message_range().slice(&raw)).len() as u64;
    assert_eq!(analysis.size(), served_len);
}

#[test]
fn crlf_file_is_served_unchanged() {
    let raw = fixture("05-crlf.eml");
    let analysis = Analysis::parse(&raw);
    assert_eq!(analysis.size(), raw.len() as u64);
    assert_eq!(
        section_text(&raw, &analysis, &[1], None),
        "line one\\r\\nline two"
    );
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let raw = fixture("07-digest.eml");
    let analysis = Analysis::parse(&raw);
    for &child in &analysis.root().children {
        let part = analysis.part(child);
        assert!(part.content.is(b"message", b"rfc822"));
        assert_eq!(part.kind, PartKind::Message);
    }
}

#[test]
fn missing_sections_are_errors() {
    let raw = fixture("01-plain.eml");
    let analysis = Analysis::parse(&raw);
    for (part, text, name) in [
        (vec![2], None, "2"),
        (vec![1, 1], None, "1.1"),
        (vec![0], None, "0"),
        (vec![1], Some(SectionText::Header), "1.HEADER"),
        (vec![], Some(SectionText::Mime), "MIME"),
    ] {
        let section = Section { part, text };
        assert_eq!(
            analysis.section(&raw, &section),
            Err(MimeError::SectionNotFound {
                section: name.to_string()
            })
        );
    }
    let part_one = Section {
        part: vec![1],
        text: None,
    };
    assert!(analysis.section(&raw, &part_one).is_ok());
}

#[test]
fn unknown_transfer_encoding_is_reported_for_binary() {
    let raw = b"Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n";
    let analysis = Analysis::parse(raw);
    assert_eq!(
        analysis.binary(raw, &[1]),
        Err(MimeError::UnknownTransferEncoding {
            encoding: "x-uuencode".to_string()
        })
    );
    assert_eq!(
        analysis.binary_size(raw, &[1]),
        Err(MimeError::UnknownTransferEncoding {
            encoding: "x-uuencode".to_string()
        })
    );

    // Only the part with the unknown encoding fails, and its base64 sibling still decodes.
    let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--b\nContent-Transfer-Encoding: X-Custom\n\ndata\n--b--\n";
    let analysis = Analysis::parse(raw);
    assert_eq!(analysis.binary(raw, &[1]), Ok(b"hello".to_vec()));
    assert_eq!(analysis.binary_size(raw, &[1]), Ok(5));
    assert_eq!(
        analysis.binary(raw, &[2]),
        Err(MimeError::UnknownTransferEncoding {
            encoding: "X-Custom".to_string()
        })
    );
}

#[test]
fn search_finds_words_in_quoted_printable_and_base64() {
    let qp = fixture("02-alternative-qp.eml");
    let text = Analysis::parse(&qp).search_text(&qp);
    assert!(text.body_contains("KÖLN"), "latin-1 quoted-printable body");
    assert!(
        text.body_contains("grüße aus köln"),
        "UTF-8 quoted-printable HTML"
    );
    assert!(
        !text.body_contains("Preamble"),
        "the preamble is not part text"
    );
    let subject: Vec<&str> = text.header("Subject").collect();
    assert_eq!(
        subject,
        vec!["If you can read this you understand the example."]
    );
    let from: Vec<&str> = text.header("from").collect();
    assert_eq!(from, vec!["Keld Jørn Simonsen <keld@example.dk>"]);

    let base64 = fixture("05-crlf.eml");
    let text = Analysis::parse(&base64).search_text(&base64);
    assert!(text.body_contains("wörld"));
    assert!(text.text_contains("crlf file"));
}

#[test]
fn message_global_is_structured_like_rfc822() {
    // Dovecot 2.3.19 reports message/global as a leaf. RFC 6532 registers it as a
    // structured type that embeds a message, so this crate treats it like message/rfc822.
    let raw = b"Subject: outer\nContent-Type: message/global\n\nSubject: inner\nContent-Type: text/plain; charset=utf-8\n\nInnerer K\xc3\xb6rper\n";
    let analysis = Analysis::parse(raw);
    assert_eq!(analysis.root().kind, PartKind::Message);
    let structure = String::from_utf8(analysis.body_structure(false)).unwrap();
    assert_eq!(
        structure,
        "(\"message\" \"global\" NIL NIL NIL \"7bit\" 76 \
         (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) \
         (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 17 1) 4)"
    );
    let header = section_text(raw, &analysis, &[1], Some(SectionText::Header));
    assert!(header.starts_with("Subject: inner"));
}

#[test]
fn empty_address_list_members_are_skipped() {
    // RFC 5322 §4.4 allows empty members in address lists; Dovecot 2.3.19 reports each
    // as MISSING_MAILBOX@MISSING_DOMAIN, this crate leaves them out.
    let analysis = Analysis::parse(b"To: a@example.com, , b@example.com,\n\n");
    let to = &analysis.envelope().to;
    assert_eq!(to.len(), 2);
    assert_eq!(to[1].mailbox.as_deref(), Some(&b"b"[..]));
}

#[test]
fn large_message_streams_in_chunks() {
    let mut raw = b"Subject: big\n\n".to_vec();
    let mut line = 0u64;
    while raw.len() < 5 << 20 {
        raw.extend_from_slice(format!("line {line} of a large body\n").as_bytes());
        line += 1;
    }
    let analysis = Analysis::parse(&raw);
    let whole = analysis.section(&raw, &Section::default()).unwrap();
    let expected = to_served(&raw);
    assert_eq!(whole.len(), expected.len() as u64);

    // A session sends a large partial fetch as consecutive windows of one reader.
    let mut reader = whole.reader(&raw, 1000, 3 << 20);
    let mut streamed = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = reader.read(&mut chunk).unwrap();
        if read == 0 {
            break;
        }
        streamed.extend_from_slice(&chunk[..read]);
    }
    assert_eq!(streamed.len(), 3 << 20);
    assert!(streamed == expected[1000..1000 + (3 << 20)]);

    let tail = ServedReader::window(&raw, ByteRange::new(0, raw.len()), whole.len() - 7, 100);
    let mut end = Vec::new();
    tail.take(100).read_to_end(&mut end).unwrap();
    assert_eq!(end, &expected[expected.len() - 7..]);
}

#[test]
fn windows_match_slices_of_sections() {
    let mut rng = asimapd_corpus::Rng::new(0x51ce);
    for raw in asimapd_corpus::generate(0x51ce, 40) {
        let analysis = Analysis::parse(&raw);
        let mut sections = vec![Section::default()];
        for (path, _) in analysis.numbered_parts() {
            sections.push(Section {
                part: path.clone(),
                text: None,
            });
            sections.push(Section {
                part: path,
                text: Some(SectionText::Mime),
            });
        }
        for section in sections {
            let body = analysis.section(&raw, &section).unwrap();
            let full = body.to_vec(&raw, 0, u64::MAX);
            assert_eq!(full.len() as u64, body.len(), "length of {section}");
            for _ in 0..8 {
                let origin = rng.below(full.len() as u64 + 2);
                let count = rng.below(200);
                let start = (origin as usize).min(full.len());
                let end = (start + count as usize).min(full.len());
                assert!(
                    body.to_vec(&raw, origin, count) == full[start..end],
                    "{section}<{origin}.{count}>"
                );
            }
        }
    }
}

#[test]
fn whole_message_without_analysis_matches_the_analysed_section() {
    for (name, raw) in fixtures() {
        let analysed = Analysis::parse(&raw)
            .section(&raw, &Section::default())
            .unwrap();
        assert_eq!(SectionBody::whole_message(&raw), analysed, "{name}");
    }
}
