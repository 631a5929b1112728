//! Deterministic generator of realistic mail messages for tests and benchmarks.
//!
//! [`generate`] returns the same messages for the same seed on every platform and release,
//! because it uses its own SplitMix64 generator instead of a library whose streams may
//! change. The mix follows what a mailbox holds: plain text in several charsets and
//! transfer encodings, `multipart/alternative` with HTML, attachments in base64 with
//! non-ASCII names (RFC 2047 and RFC 2231), `multipart/related`, forwarded messages as
//! `message/rfc822`, groups and encoded display names. Messages use LF line ends as MH
//! stores them. About one in ten uses CRLF, and about one in ten starts with an mbox
//! `From ` line.

mod random;
mod text;

pub use random::Rng;

use text::{paragraphs, person, subject, word};

/// Generates `count` messages from `seed`; message `i` is [`message`]`(seed, i)`.
pub fn generate(seed: u64, count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|index| message(seed, index)).collect()
}

/// Generates message number `index` of the corpus of `seed`.
pub fn message(seed: u64, index: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = String::new();
    if rng.chance(10) {
        out.push_str("From MAILER-DAEMON Fri Dec  4 21:15:16 2026\n");
    }
    write_top_header(&mut rng, &mut out, index);
    write_body(&mut rng, &mut out, 0);
    let bytes = out.into_bytes();
    if rng.chance(10) {
        to_crlf(&bytes)
    } else {
        bytes
    }
}

fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 30);
    for &byte in bytes {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

fn write_top_header(rng: &mut Rng, out: &mut String, index: usize) {
    out.push_str(&format!("Return-Path: <{}>\n", text::address(rng)));
    out.push_str(&format!(
        "Received: from mx{}.example.net (mx.example.net [192.0.2.{}])\n\tby mail.example.org with ESMTPS id {}\n\tfor <user@example.org>; {}\n",
        rng.below(9),
        rng.below(250) + 1,
        rng.token(12),
        text::date(rng)
    ));
    out.push_str(&format!("Date: {}\n", text::date(rng)));
    out.push_str(&format!("From: {}\n", person(rng)));
    write_recipients(rng, out);
    out.push_str(&format!("Subject: {}\n", subject(rng)));
    out.push_str(&format!(
        "Message-ID: <{}.{index}@example.org>\n",
        rng.token(16)
    ));
    if rng.chance(3) {
        out.push_str(&format!("In-Reply-To: <{}@example.com>\n", rng.token(12)));
        out.push_str(&format!("References: <{}@example.com>\n", rng.token(12)));
    }
    if rng.chance(5) {
        out.push_str(&format!("Reply-To: {}\n", person(rng)));
    }
    if rng.chance(20) {
        out.push_str(&format!("Sender: {}\n", person(rng)));
    }
    out.push_str("MIME-Version: 1.0\n");
    if rng.chance(4) {
        out.push_str(&format!(
            "X-Mailer: Generator {}.{}\n",
            rng.below(9),
            rng.below(20)
        ));
    }
}

fn write_recipients(rng: &mut Rng, out: &mut String) {
    if rng.chance(15) {
        out.push_str("To: undisclosed-recipients:;\n");
    } else if rng.chance(10) {
        out.push_str(&format!(
            "To: Project team: {}, {};\n",
            person(rng),
            text::address(rng)
        ));
    } else {
        let count = 1 + rng.below(3) as usize;
        let list: Vec<String> = (0..count).map(|_| person(rng)).collect();
        out.push_str(&format!("To: {}\n", list.join(",\n ")));
    }
    if rng.chance(3) {
        out.push_str(&format!("Cc: {}\n", person(rng)));
    }
}

/// Writes the content headers and the body of one entity at nesting `depth`.
fn write_body(rng: &mut Rng, out: &mut String, depth: usize) {
    let choice = if depth >= 3 { 0 } else { rng.below(100) };
    match choice {
        0..=34 => write_text_part(rng, out, "plain"),
        35..=54 => write_alternative(rng, out, depth),
        55..=79 => write_mixed(rng, out, depth),
        80..=89 => write_forward(rng, out, depth),
        _ => write_related(rng, out, depth),
    }
}

fn write_text_part(rng: &mut Rng, out: &mut String, subtype: &str) {
    let body = if subtype == "html" {
        format!(
            "<html><body><p>{}</p></body></html>\n",
            paragraphs(rng, 2).replace("\n\n", "</p>\n<p>")
        )
    } else {
        {
            let count = 1 + rng.below(6) as usize;
            paragraphs(rng, count)
        }
    };
    match rng.below(4) {
        0 => {
            out.push_str(&format!(
                "Content-Type: text/{subtype}; charset=us-ascii\n\n"
            ));
            out.push_str(&ascii_only(&body));
        }
        1 => {
            out.push_str(&format!(
                "Content-Type: text/{subtype}; charset=\"utf-8\"\nContent-Transfer-Encoding: 8bit\n\n"
            ));
            out.push_str(&body);
        }
        2 => {
            out.push_str(&format!(
                "Content-Type: text/{subtype}; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            ));
            out.push_str(&text::quoted_printable(body.as_bytes()));
        }
        _ => {
            out.push_str(&format!(
                "Content-Type: text/{subtype}; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
            ));
            out.push_str(&text::base64_lines(body.as_bytes()));
        }
    }
}

fn ascii_only(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

fn boundary(rng: &mut Rng, depth: usize) -> String {
    format!("=_{}_{depth}", rng.token(20))
}

fn write_multipart(
    rng: &mut Rng,
    out: &mut String,
    subtype: &str,
    parts: &mut dyn FnMut(&mut Rng, &mut String, usize),
) {
    let boundary = boundary(rng, 0);
    out.push_str(&format!(
        "Content-Type: multipart/{subtype};\n\tboundary=\"{boundary}\"\n\n"
    ));
    if rng.chance(3) {
        out.push_str("This is a multi-part message in MIME format.\n");
    }
    let count = 2 + rng.below(3) as usize;
    for index in 0..count {
        out.push_str(&format!("\n--{boundary}\n"));
        parts(rng, out, index);
    }
    out.push_str(&format!("\n--{boundary}--\n"));
    if rng.chance(5) {
        out.push_str("epilogue text\n");
    }
}

fn write_alternative(rng: &mut Rng, out: &mut String, depth: usize) {
    let boundary = boundary(rng, depth);
    out.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\n\n"
    ));
    out.push_str(&format!("--{boundary}\n"));
    write_text_part(rng, out, "plain");
    out.push_str(&format!("\n--{boundary}\n"));
    write_text_part(rng, out, "html");
    out.push_str(&format!("\n--{boundary}--\n"));
}

fn write_mixed(rng: &mut Rng, out: &mut String, depth: usize) {
    write_multipart(rng, out, "mixed", &mut |rng, out, index| {
        if index == 0 {
            write_body(rng, out, depth + 1);
        } else {
            write_attachment(rng, out);
        }
    });
}

fn write_related(rng: &mut Rng, out: &mut String, depth: usize) {
    let boundary = boundary(rng, depth);
    out.push_str(&format!(
        "Content-Type: multipart/related; type=\"text/html\"; boundary={boundary}\n\n"
    ));
    out.push_str(&format!("--{boundary}\n"));
    write_text_part(rng, out, "html");
    out.push_str(&format!("\n--{boundary}\n"));
    out.push_str(&format!(
        "Content-Type: image/png; name=\"logo.png\"\nContent-Transfer-Encoding: base64\nContent-ID: <logo.{}@example.org>\nContent-Disposition: inline; filename=\"logo.png\"\n\n",
        rng.token(8)
    ));
    out.push_str(&text::base64_lines(&{
        let len = 200 + rng.below(3000) as usize;
        rng.bytes(len)
    }));
    out.push_str(&format!("\n--{boundary}--\n"));
}

fn write_forward(rng: &mut Rng, out: &mut String, depth: usize) {
    write_multipart(rng, out, "mixed", &mut |rng, out, index| {
        if index == 0 {
            write_text_part(rng, out, "plain");
            return;
        }
        out.push_str("Content-Type: message/rfc822\n");
        if rng.chance(2) {
            out.push_str("Content-Disposition: attachment\n");
        }
        out.push('\n');
        out.push_str(&format!("Date: {}\nFrom: {}\nTo: {}\nSubject: {}\nMessage-ID: <{}@example.net>\nMIME-Version: 1.0\n",
            text::date(rng), person(rng), person(rng), subject(rng), rng.token(10)));
        write_body(rng, out, depth + 1);
    });
}

fn write_attachment(rng: &mut Rng, out: &mut String) {
    let (media, extension) = *rng.pick(&[
        ("application/pdf", "pdf"),
        ("image/jpeg", "jpg"),
        ("application/octet-stream", "bin"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        ("text/csv", "csv"),
    ]);
    let stem = format!("{}-{}", word(rng), rng.below(100));
    let (name_param, filename_param) = match rng.below(4) {
        0 => {
            let name = format!("Überweisung {stem}.{extension}");
            (
                text::encoded_word(&name),
                format!("filename*=UTF-8''{}", text::percent_encode(&name)),
            )
        }
        1 => {
            let name = format!("Отчёт {stem}.{extension}");
            let encoded = text::percent_encode(&name);
            let (head, tail) = encoded.split_at(encoded.len() / 2);
            (
                text::encoded_word(&name),
                format!("filename*0*=UTF-8''{head};\n\tfilename*1*={tail}"),
            )
        }
        _ => {
            let name = format!("{stem}.{extension}");
            (name.clone(), format!("filename=\"{name}\""))
        }
    };
    out.push_str(&format!("Content-Type: {media}; name=\"{name_param}\"\n"));
    if media == "text/csv" {
        out.push_str(&format!(
            "Content-Disposition: attachment; {filename_param}\n\n"
        ));
        for row in 0..(3 + rng.below(20)) {
            out.push_str(&format!("{row},{},{}\n", word(rng), rng.below(10_000)));
        }
        return;
    }
    out.push_str("Content-Transfer-Encoding: base64\n");
    out.push_str(&format!(
        "Content-Disposition: attachment; {filename_param}\n"
    ));
    if rng.chance(8) {
        out.push_str("Content-Description: scanned document\n");
    }
    out.push('\n');
    let size = if rng.chance(10) {
        50_000 + rng.below(150_000)
    } else {
        500 + rng.below(8_000)
    };
    out.push_str(&text::base64_lines(&rng.bytes(size as usize)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic() {
        assert_eq!(generate(7, 20), generate(7, 20));
        assert_ne!(message(7, 0), message(8, 0));
    }

    #[test]
    fn corpus_has_the_expected_mix() {
        let corpus = generate(1, 300);
        let contains = |needle: &[u8]| {
            corpus
                .iter()
                .filter(|message| message.windows(needle.len()).any(|w| w == needle))
                .count()
        };
        assert!(contains(b"multipart/alternative") > 30);
        assert!(contains(b"message/rfc822") > 10);
        assert!(contains(b"filename*") > 10);
        assert!(contains(b"=?UTF-8?B?") > 30);
        assert!(contains(b"\r\n") > 10);
        assert!(corpus.iter().filter(|m| m.starts_with(b"From ")).count() > 10);
    }
}
