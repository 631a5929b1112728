//! Malformed messages: analysis must not panic, must finish, and must still produce a
//! valid ENVELOPE and BODYSTRUCTURE and consistent sections. One test per case.

mod support;

use asimapd_mime::{
    Analysis, MAX_NESTING_DEPTH, MAX_PARTS, PartKind, Section, SectionBody, SectionText, ServedSize,
};
use support::{Value, check_body, check_envelope, damaged_messages, malformed_cases};

fn case(name: &str) -> Vec<u8> {
    malformed_cases()
        .into_iter()
        .find(|(case_name, _)| *case_name == name)
        .unwrap_or_else(|| panic!("no malformed case {name}"))
        .1
}

/// Analyses the case and checks every property that any message must have.
fn check(name: &str) -> (Vec<u8>, Analysis) {
    check_bytes(name, case(name))
}

fn check_bytes(name: &str, raw: Vec<u8>) -> (Vec<u8>, Analysis) {
    let analysis = Analysis::parse(&raw);

    let envelope = Value::parse_all(&analysis.envelope().to_imap());
    check_envelope(&envelope).unwrap_or_else(|error| panic!("{name}: ENVELOPE: {error}"));
    for extensible in [true, false] {
        let structure = Value::parse_all(&analysis.body_structure(extensible));
        check_body(&structure, extensible)
            .unwrap_or_else(|error| panic!("{name}: BODYSTRUCTURE: {error}"));
    }

    for part in analysis.parts() {
        assert_eq!(
            ServedSize::of(&raw, part.header),
            part.header_size,
            "{name}: header size"
        );
        assert_eq!(
            ServedSize::of(&raw, part.body),
            part.body_size,
            "{name}: body size"
        );
        assert!(
            part.header.end <= part.body.start && part.body.end <= raw.len(),
            "{name}: ranges"
        );
    }
    let whole = analysis.section(&raw, &Section::default()).unwrap();
    assert_eq!(
        whole.to_vec(&raw, 0, u64::MAX).len() as u64,
        analysis.size(),
        "{name}: RFC822.SIZE"
    );
    assert_eq!(
        SectionBody::whole_message(&raw),
        whole,
        "{name}: BODY[] without the analysis"
    );
    for (path, _) in analysis.numbered_parts() {
        for text in [None, Some(SectionText::Mime)] {
            let section = Section {
                part: path.clone(),
                text,
            };
            let body = analysis.section(&raw, &section).unwrap();
            assert_eq!(
                body.to_vec(&raw, 0, u64::MAX).len() as u64,
                body.len(),
                "{name}: size of {section}"
            );
        }
        let _ = analysis.binary(&raw, &path);
    }
    let _ = analysis.search_text(&raw);
    (raw, analysis)
}

#[test]
fn empty_file() {
    let (_, analysis) = check("empty_file");
    assert_eq!(analysis.size(), 0);
    assert_eq!(
        analysis.envelope().to_imap(),
        b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    );
}

#[test]
fn headers_only() {
    let (_, analysis) = check("headers_only");
    assert!(analysis.root().body.is_empty());
}

#[test]
fn no_blank_line() {
    let (raw, analysis) = check("no_blank_line");
    assert_eq!(analysis.root().header.len(), raw.len());
    assert_eq!(
        analysis.envelope().subject.as_deref(),
        Some(&b"header runs to the end"[..])
    );
}

#[test]
fn body_only() {
    let (_, analysis) = check("body_only");
    assert_eq!(analysis.root().header.len(), 1);
    assert_eq!(analysis.root().body_size.lines, 2);
}

#[test]
fn bare_cr() {
    let (raw, analysis) = check("bare_cr");
    let text = analysis
        .section(
            &raw,
            &Section {
                part: vec![],
                text: Some(SectionText::Text),
            },
        )
        .unwrap();
    assert_eq!(text.to_vec(&raw, 0, u64::MAX), b"line\rwith CR\r\nend\r");
}

#[test]
fn nul_bytes() {
    let (raw, analysis) = check("nul_bytes");
    let text = analysis
        .section(
            &raw,
            &Section {
                part: vec![],
                text: Some(SectionText::Text),
            },
        )
        .unwrap();
    assert_eq!(text.to_vec(&raw, 0, u64::MAX), b"body\x80with NUL\r\n");
    assert_eq!(analysis.binary(&raw, &[1]).unwrap(), b"body\0with NUL\r\n");
}

#[test]
fn eight_bit_headers() {
    let (_, analysis) = check("eight_bit_headers");
    // 8-bit strings always go as literals, valid for every client.
    let envelope = analysis.envelope().to_imap();
    assert!(
        envelope.windows(6).any(|w| w == b"{16}\r\n"),
        "{}",
        String::from_utf8_lossy(&envelope)
    );
}

#[test]
fn one_megabyte_header_line() {
    let (_, analysis) = check("one_megabyte_header_line");
    assert_eq!(
        analysis.envelope().subject.as_ref().map(Vec::len),
        Some(1 << 20)
    );
}

#[test]
fn ten_thousand_headers() {
    let (raw, analysis) = check("ten_thousand_headers");
    assert_eq!(analysis.envelope().subject.as_deref(), Some(&b"many"[..]));
    let fields = Section {
        part: vec![],
        text: Some(SectionText::HeaderFields(vec![b"X-Header-9999".to_vec()])),
    };
    let body = analysis.section(&raw, &fields).unwrap();
    assert_eq!(
        body.to_vec(&raw, 0, u64::MAX),
        b"X-Header-9999: value 9999\r\n\r\n"
    );
}

#[test]
fn missing_boundary_parameter() {
    let (_, analysis) = check("missing_boundary_parameter");
    assert_eq!(analysis.root().kind, PartKind::Multipart);
    assert!(analysis.root().children.is_empty());
}

#[test]
fn unterminated_multipart() {
    let (raw, analysis) = check("unterminated_multipart");
    assert_eq!(analysis.root().children.len(), 2);
    let second = analysis.part(analysis.root().children[1]);
    assert!(second.body.slice(&raw).ends_with(b"never closed\n"));
}

#[test]
fn boundary_never_appears() {
    let (_, analysis) = check("boundary_never_appears");
    assert!(analysis.root().children.is_empty());
}

#[test]
fn boundary_inside_part() {
    let (raw, analysis) = check("boundary_inside_part");
    // `--abc` starts with the boundary `ab`, so it ends the first part, as in Dovecot.
    assert_eq!(analysis.root().children.len(), 2);
    let first = analysis.part(analysis.root().children[0]);
    assert_eq!(first.body.slice(&raw), b"text that quotes --ab in a line");
}

#[test]
fn multipart_with_no_parts() {
    let (_, analysis) = check("multipart_with_no_parts");
    assert!(analysis.root().children.is_empty());
    assert!(
        analysis
            .body_structure(false)
            .starts_with(b"((\"text\" \"plain\"")
    );
}

#[test]
fn nested_multipart_200_deep() {
    let (_, analysis) = check("nested_multipart_200_deep");
    let depth = nesting_depth(&analysis);
    assert_eq!(depth + 1, MAX_NESTING_DEPTH, "nesting is cut at the limit");
}

#[test]
fn nested_message_200_deep() {
    let (_, analysis) = check("nested_message_200_deep");
    assert_eq!(nesting_depth(&analysis) + 1, MAX_NESTING_DEPTH);
}

fn nesting_depth(analysis: &Analysis) -> usize {
    let mut depth = 0;
    let mut part = analysis.root();
    while let Some(&child) = part.children.first() {
        depth += 1;
        part = analysis.part(child);
    }
    depth
}

#[test]
fn broken_message_rfc822() {
    let (_, analysis) = check("broken_message_rfc822");
    let message = analysis.part(analysis.root().children[0]);
    assert_eq!(message.kind, PartKind::Message);
}

#[test]
fn duplicate_content_type() {
    let (_, analysis) = check("duplicate_content_type");
    assert!(
        analysis.root().content.is(b"text", b"html"),
        "the first Content-Type wins"
    );
}

#[test]
fn unbalanced_quotes_in_parameters() {
    let (_, analysis) = check("unbalanced_quotes_in_parameters");
    // An unclosed quoted string makes the parameter invalid, as in Dovecot.
    assert_eq!(
        analysis.root().content.param(b"charset"),
        Some(&b"us-ascii"[..])
    );
    let disposition = analysis.root().content.disposition.as_ref().unwrap();
    assert!(disposition.params.is_empty());
}

#[test]
fn encoded_words_unknown_charset() {
    let (raw, analysis) = check("encoded_words_unknown_charset");
    let text = analysis.search_text(&raw);
    let subject: Vec<&str> = text.header("subject").collect();
    assert_eq!(subject, vec!["=?x-unknown?Q?abc?= ok =?utf-8?X?bad?="]);
}

#[test]
fn every_case_has_a_test() {
    let source = include_str!("malformed.rs");
    for (name, _) in malformed_cases() {
        assert!(
            source.contains(&format!("fn {name}()")),
            "no test for {name}"
        );
    }
}

#[test]
fn parts_beyond_limit_stay_in_body() {
    let mut raw = b"Subject: many parts\nContent-Type: multipart/mixed; boundary=p\n\n".to_vec();
    for index in 0..MAX_PARTS + 50 {
        raw.extend_from_slice(format!("--p\n\npart {index}\n").as_bytes());
    }
    raw.extend_from_slice(b"--p--\n");
    let analysis = Analysis::parse(&raw);
    assert_eq!(analysis.parts().len(), MAX_PARTS);
    assert_eq!(analysis.root().children.len(), MAX_PARTS - 1);
    assert_eq!(
        ServedSize::of(&raw, analysis.root().body),
        analysis.root().body_size
    );
    let whole = analysis.section(&raw, &Section::default()).unwrap();
    assert!(
        whole
            .to_vec(&raw, 0, u64::MAX)
            .ends_with(b"part 10049\r\n--p--\r\n")
    );
}

/// Damages generated messages at random (fixed seed) and checks each result like the
/// cases above: truncation, byte flips, stray boundary lines and NUL bytes.
#[test]
fn damaged_corpus_messages_stay_valid() {
    for (index, raw) in damaged_messages(0xdead_beef, 150).into_iter().enumerate() {
        check_bytes(&format!("damaged #{index}"), raw);
    }
}
