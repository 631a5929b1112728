//! Server lines of the example conversations of RFC 3501 §8 and RFC 9051 §8 are parsed and
//! encoded back to the same bytes, and property tests check that every response form a test
//! client reads survives encode then parse.

mod common;

use std::num::NonZeroU32;

use asimapd_proto::response::*;
use asimapd_proto::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn encode(response: &Response, utf8: bool) -> Vec<u8> {
    let mut out = Vec::new();
    match response {
        Response::Status(status) => status.encode(&mut out),
        Response::Data(data) => data.encode(&mut out, utf8),
        Response::Fetch { seq, values } => encode_fetch(&mut out, *seq, values),
        Response::Continuation(continuation) => continuation.encode(&mut out),
    }
    out
}

const ENVELOPE: &str = r#"("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")"#;

const SERVER_LINES: &[&str] = &[
    // RFC 3501 §8.
    "* OK IMAP4rev1 Service Ready\r\n",
    "a001 OK LOGIN completed\r\n",
    "* 18 EXISTS\r\n",
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
    "* 2 RECENT\r\n",
    "* OK [UNSEEN 17] Message 17 is the first unseen message\r\n",
    "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
    "a002 OK [READ-WRITE] SELECT completed\r\n",
    "a003 OK FETCH completed\r\n",
    "* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n",
    "a005 OK +FLAGS completed\r\n",
    "* BYE IMAP4rev1 server terminating connection\r\n",
    "a006 OK LOGOUT completed\r\n",
    // RFC 9051 §8.
    "* OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] IMAP4rev2 Service Ready\r\n",
    "* 172 EXISTS\r\n",
    "* OK [UIDNEXT 4392] Predicted next UID\r\n",
    "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
    "* LIST () \"/\" INBOX\r\n",
    "A142 OK [READ-WRITE] SELECT completed\r\n",
    // Examples of the command sections and extensions.
    "+ Ready for additional command text\r\n",
    "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
    "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n",
    // RFC 3501 §6.3.8 writes this name as "inbox"; the encoder always writes INBOX.
    "* LIST (\\Marked \\NoInferiors) \"/\" INBOX\r\n",
    "* LIST () \".\" #news.comp.mail.misc\r\n",
    "* LSUB () \".\" #news.comp.mail.mime\r\n",
    // The RFCs quote these names; the encoder writes a name as an atom when it can.
    "* LIST (\\Subscribed \\NonExistent) \"/\" Fruit/Peach (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
    "* LIST () \"/\" NewMailbox (\"OLDNAME\" (OldMailbox))\r\n",
    "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
    "* STATUS INBOX (APPENDLIMIT NIL SIZE 12345 MAILBOXID (F2212ea87-6097-4256-9d51-71338625))\r\n",
    "* SEARCH 2 84 882\r\n",
    "* SEARCH\r\n",
    "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n",
    "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n",
    "* ESEARCH (TAG \"A283\") UID ALL 4:18,21,28\r\n",
    "* 44 EXPUNGE\r\n",
    "* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n",
    "* VANISHED 405,407,410,425\r\n",
    "* ENABLED CONDSTORE QRESYNC\r\n",
    "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\" \"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n",
    "* ID NIL\r\n",
    "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
    "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\"))\r\n",
    "* QUOTAROOT INBOX \"\"\r\n",
    "* QUOTA \"\" (STORAGE 10 512)\r\n",
    "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
    "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
    "A005 OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
    "d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
    "* OK [CLOSED]\r\n",
    "A001 NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
    "A002 NO [ALREADYEXISTS] Mailbox already exists\r\n",
    "A003 NO [TRYCREATE] No such mailbox\r\n",
    "A004 BAD [TOOBIG] Literal too large\r\n",
    "t1 NO [USEATTR] \\All not supported\r\n",
    "A005 OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Created\r\n",
    "* NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset\r\n",
    "* 12 FETCH (UID 7 MODSEQ (12121231000) RFC822.SIZE 44827)\r\n",
    "* 12 FETCH (BINARY.SIZE[1] 2137 EMAILID (M6d99ac3275bb4e) THREADID NIL SAVEDATE NIL)\r\n",
    "* 2 FETCH (BODY[HEADER.FIELDS (DATE FROM)] {9}\r\nFrom: a\r\n)\r\n",
    "* 2 FETCH (BODY[]<0> \"abc\" BODY[1.MIME] NIL)\r\n",
    "* 1 FETCH (BINARY[1] ~{3}\r\na\0b)\r\n",
];

#[test]
fn quoted_names_parse_like_atoms() {
    let quoted = parse_response(b"* LIST () \"/\" \"inbox\"\r\n", false).unwrap();
    let atom = parse_response(b"* LIST () \"/\" INBOX\r\n", false).unwrap();
    assert_eq!(quoted, atom);
}

#[test]
fn rfc_server_lines_round_trip() {
    for line in SERVER_LINES {
        let response = parse_response(line.as_bytes(), false)
            .unwrap_or_else(|error| panic!("{error} for {}", common::escape(line.as_bytes())));
        let encoded = encode(&response, false);
        assert_eq!(
            common::escape(&encoded),
            common::escape(line.as_bytes()),
            "for {response:?}"
        );
    }
}

#[test]
fn rfc_3501_fetch_full_round_trips() {
    let line = format!(
        "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE {ENVELOPE} BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
    );
    let response = parse_response(line.as_bytes(), false).unwrap();
    let Response::Fetch { seq, values } = &response else {
        panic!("not FETCH: {response:?}");
    };
    assert_eq!(seq.get(), 12);
    assert_eq!(
        values[3],
        FetchValue::Envelope(ENVELOPE.as_bytes().to_vec())
    );
    assert_eq!(encode(&response, false), line.as_bytes());
}

#[test]
fn fetch_writer_streams_body_between_pieces() {
    let body = vec![b'x'; 5000];
    let mut out = Vec::new();
    let mut writer = FetchWriter::begin(&mut out, SeqNum::new(3).unwrap());
    writer.item(&mut out, &FetchValue::Uid(Uid::new(7).unwrap()));
    let key = BodyKey::Section {
        section: Section::default(),
        origin: None,
    };
    writer.body_literal_header(&mut out, &key, body.len() as u64);
    assert_eq!(out, b"* 3 FETCH (UID 7 BODY[] {5000}\r\n");
    // The caller would flush `out` and stream the file here.
    out.extend_from_slice(&body);
    writer.item(&mut out, &FetchValue::Flags(vec![Flag::Seen]));
    writer.finish(&mut out);
    let parsed = parse_response(&out, false).unwrap();
    let expected = Response::Fetch {
        seq: SeqNum::new(3).unwrap(),
        values: vec![
            FetchValue::Uid(Uid::new(7).unwrap()),
            FetchValue::BodyData {
                key,
                data: Some(body),
            },
            FetchValue::Flags(vec![Flag::Seen]),
        ],
    };
    assert_eq!(parsed, expected);
}

#[test]
fn mailbox_names_encode_per_utf8_mode() {
    let listing = MailboxListing {
        attributes: vec!["\\HasNoChildren".into()],
        delimiter: Some('/'),
        name: MailboxName::new("Entwürfe"),
        extended: vec![],
    };
    let mut out = Vec::new();
    Data::List(listing.clone()).encode(&mut out, false);
    assert_eq!(out, b"* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\n");
    out.clear();
    Data::List(listing).encode(&mut out, true);
    assert_eq!(
        out,
        "* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"\r\n".as_bytes()
    );
}

#[test]
fn thread_response_matches_rfc_5256_example() {
    let leaf = |number| ThreadNode {
        number: Some(number),
        children: vec![],
    };
    let node = |number, children| ThreadNode {
        number: Some(number),
        children,
    };
    let threads = vec![
        leaf(2),
        node(
            3,
            vec![node(
                6,
                vec![
                    node(4, vec![leaf(23)]),
                    node(44, vec![node(7, vec![leaf(96)])]),
                ],
            )],
        ),
        ThreadNode {
            number: None,
            children: vec![leaf(8), leaf(9)],
        },
    ];
    let mut out = Vec::new();
    Data::Thread(threads).encode(&mut out, false);
    assert_eq!(
        common::escape(&out),
        common::escape(b"* THREAD (2)(3 6 (4 23)(44 7 96))((8)(9))\r\n")
    );
}

#[test]
fn status_text_never_breaks_the_line() {
    let response = StatusResponse::untagged(Status::Bad, None, "bad\r\nline");
    let mut out = Vec::new();
    response.encode(&mut out);
    assert_eq!(out, b"* BAD bad  line\r\n");
}

#[test]
fn continuation_challenge_is_base64() {
    let mut out = Vec::new();
    Continuation::Challenge(b"test".to_vec()).encode(&mut out);
    assert_eq!(out, b"+ dGVzdA==\r\n");
}

fn nz() -> impl Strategy<Value = NonZeroU32> {
    (1u32..=u32::MAX).prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn set() -> impl Strategy<Value = SequenceSet> {
    vec((nz(), nz()), 1..4).prop_map(|pairs| {
        SequenceSet::Ranges(
            pairs
                .into_iter()
                .map(|(a, b)| SeqRange {
                    start: SeqBound::Number(a),
                    end: SeqBound::Number(b),
                })
                .collect(),
        )
    })
}

fn atom() -> impl Strategy<Value = Atom> {
    "[A-Za-z0-9=.-]{1,10}".prop_map(|text| Atom::new(text).unwrap())
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Recent),
        Just(Flag::Deleted),
        "[a-z$]{1,8}".prop_map(Flag::Keyword),
    ]
}

fn code() -> impl Strategy<Value = Code> {
    let simple = prop_oneof![
        Just(Code::Alert),
        Just(Code::Parse),
        Just(Code::ReadOnly),
        Just(Code::ReadWrite),
        Just(Code::TryCreate),
        Just(Code::UidNotSticky),
        Just(Code::NoModSeq),
        Just(Code::Closed),
        Just(Code::Unavailable),
        Just(Code::AuthenticationFailed),
        Just(Code::AuthorizationFailed),
        Just(Code::Expired),
        Just(Code::PrivacyRequired),
        Just(Code::ContactAdmin),
        Just(Code::NoPerm),
        Just(Code::InUse),
        Just(Code::ExpungeIssued),
        Just(Code::Corruption),
        Just(Code::ServerBug),
        Just(Code::ClientBug),
        Just(Code::Cannot),
        Just(Code::Limit),
        Just(Code::OverQuota),
        Just(Code::AlreadyExists),
        Just(Code::NonExistent),
        Just(Code::TooBig),
        Just(Code::UseAttr),
        Just(Code::NotSaved),
        Just(Code::HasChildren),
        Just(Code::CompressionActive),
    ];
    prop_oneof![
        simple,
        vec("[A-Za-z0-9-]{1,10}", 0..3).prop_map(Code::BadCharset),
        nz().prop_map(|n| Code::UidNext(Uid::from_nonzero(n))),
        nz().prop_map(|n| Code::UidValidity(UidValidity::from_nonzero(n))),
        nz().prop_map(|n| Code::Unseen(SeqNum::from_nonzero(n))),
        (1u64..=MAX_MOD_SEQ).prop_map(|n| Code::HighestModSeq(ModSeq::new(n).unwrap())),
        (nz(), set()).prop_map(|(v, uids)| Code::AppendUid {
            uid_validity: UidValidity::from_nonzero(v),
            uids,
        }),
        (nz(), set(), set()).prop_map(|(v, source, destination)| Code::CopyUid {
            uid_validity: UidValidity::from_nonzero(v),
            source,
            destination,
        }),
        (vec(flag(), 0..4), any::<bool>()).prop_map(|(flags, allows_new_keywords)| {
            Code::PermanentFlags {
                flags,
                allows_new_keywords,
            }
        }),
        vec(atom(), 1..4).prop_map(Code::Capability),
        set().prop_map(Code::Modified),
        "[A-Za-z0-9_-]{1,20}".prop_map(Code::MailboxId),
        (
            "X-[A-Z]{1,8}".prop_map(|name| Atom::new(name).unwrap()),
            option::of("[!-\\\\^-~]([ -\\\\^-~]{0,10}[!-\\\\^-~])?")
        )
            .prop_map(|(name, text)| Code::Other(name, text)),
    ]
}

fn mailbox() -> impl Strategy<Value = MailboxName> {
    prop_oneof![
        Just(MailboxName::inbox()),
        "[a-zA-Z0-9 &/._\"-]{0,12}".prop_map(MailboxName::new),
        "\\PC{1,8}".prop_map(MailboxName::new),
    ]
}

fn status_response() -> impl Strategy<Value = Response> {
    let status = prop_oneof![
        Just(Status::Ok),
        Just(Status::No),
        Just(Status::Bad),
        Just(Status::Bye)
    ];
    let tag = option::of("[A-Za-z0-9.]{1,6}".prop_map(|t| Tag::new(t).unwrap()));
    (
        tag,
        status,
        option::of(code()),
        "([ -Z\\\\^-~][ -~]{0,30})?",
    )
        .prop_map(|(tag, status, code, text)| {
            Response::Status(StatusResponse {
                tag,
                status,
                code,
                text,
            })
        })
}

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        nz().prop_map(|n| Data::Expunge(SeqNum::from_nonzero(n))),
        vec(flag(), 0..5).prop_map(Data::Flags),
        vec(atom(), 0..5).prop_map(Data::Capability),
        vec(atom(), 0..3).prop_map(Data::Enabled),
        (vec(nz(), 0..5), option::of(1u64..=MAX_MOD_SEQ)).prop_map(|(numbers, modseq)| {
            Data::Search {
                numbers: numbers.into_iter().map(NonZeroU32::get).collect(),
                modseq: modseq.and_then(ModSeq::new),
            }
        }),
        (any::<bool>(), set()).prop_map(|(is_earlier, uids)| Data::Vanished { is_earlier, uids }),
        (
            option::of("[A-Za-z0-9.]{1,6}".prop_map(|t| Tag::new(t).unwrap())),
            (option::of(nz()), option::of(nz())),
            option::of(set()),
            option::of(any::<u32>()),
            option::of(1u64..=MAX_MOD_SEQ),
            any::<bool>()
        )
            .prop_map(
                |(tag, (min, max), all, count, modseq, is_uid)| Data::ESearch {
                    tag,
                    is_uid,
                    min: min.map(NonZeroU32::get),
                    max: max.map(NonZeroU32::get),
                    all,
                    count,
                    modseq: modseq.and_then(ModSeq::new),
                }
            ),
        (vec(nz(), 0..5), option::of(1u64..=MAX_MOD_SEQ)).prop_map(|(numbers, modseq)| {
            Data::Sort {
                numbers: numbers.into_iter().map(NonZeroU32::get).collect(),
                modseq: modseq.and_then(ModSeq::new),
            }
        }),
        listing().prop_map(Data::Lsub),
        option::of(vec(("[a-z-]{1,10}", option::of("\\PC{0,12}")), 0..4)).prop_map(Data::Id),
        (namespace(), namespace(), namespace()).prop_map(|(personal, other_users, shared)| {
            Data::Namespace {
                personal,
                other_users,
                shared,
            }
        }),
        (
            "\\PC{0,10}",
            vec(
                (
                    "[A-Z]{1,8}".prop_map(|n| Atom::new(n).unwrap()),
                    any::<u64>(),
                    any::<u64>()
                ),
                0..3
            )
        )
            .prop_map(|(root, resources)| Data::Quota {
                root,
                resources: resources
                    .into_iter()
                    .map(|(name, usage, limit)| (name, usage >> 1, limit >> 1))
                    .collect(),
            }),
        (mailbox(), vec("\\PC{0,10}", 0..3))
            .prop_map(|(mailbox, roots)| Data::QuotaRoot { mailbox, roots }),
        listing().prop_map(Data::List),
        (mailbox(), vec(status_value(), 0..6))
            .prop_map(|(mailbox, values)| Data::Status { mailbox, values }),
    ]
}

fn listing() -> impl Strategy<Value = MailboxListing> {
    let attribute = prop_oneof![
        Just("\\HasChildren".to_string()),
        Just("\\HasNoChildren".to_string()),
        Just("\\Noselect".to_string()),
        Just("\\NonExistent".to_string()),
        Just("\\Subscribed".to_string()),
        Just("\\Sent".to_string()),
        Just("\\Drafts".to_string()),
    ];
    let item = prop_oneof![
        vec("[A-Z]{1,10}", 1..3).prop_map(ListItem::ChildInfo),
        mailbox().prop_map(ListItem::OldName),
    ];
    (
        vec(attribute, 0..4),
        option::of(prop_oneof![Just('/'), Just('.'), Just('"'), Just('\\')]),
        mailbox(),
        vec(item, 0..3),
    )
        .prop_map(|(attributes, delimiter, name, extended)| MailboxListing {
            attributes,
            delimiter,
            name,
            extended,
        })
}

fn status_value() -> impl Strategy<Value = StatusValue> {
    let numeric = prop_oneof![
        Just(StatusItem::Messages),
        Just(StatusItem::Recent),
        Just(StatusItem::UidNext),
        Just(StatusItem::UidValidity),
        Just(StatusItem::Unseen),
        Just(StatusItem::Deleted),
        Just(StatusItem::Size),
        Just(StatusItem::HighestModSeq),
        Just(StatusItem::AppendLimit),
    ];
    prop_oneof![
        (numeric, any::<u64>()).prop_map(|(item, value)| StatusValue::Number(item, value >> 1)),
        Just(StatusValue::NoAppendLimit),
        "[A-Za-z0-9_-]{1,20}".prop_map(StatusValue::MailboxId),
    ]
}

fn namespace() -> impl Strategy<Value = Vec<NamespaceEntry>> {
    vec(
        ("\\PC{0,8}", option::of(prop_oneof![Just('/'), Just('.')]))
            .prop_map(|(prefix, delimiter)| NamespaceEntry { prefix, delimiter }),
        0..3,
    )
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (1990u16..2100, 1u8..=12, 1u8..=28, 0u8..24, -1439i16..=1439).prop_map(|(y, mo, d, h, zone)| {
        DateTime::new(Date::new(y, mo, d).unwrap(), h, 59, 0, zone).unwrap()
    })
}

/// Section texts as a FETCH response names them; header field names are atoms.
fn section_text() -> impl Strategy<Value = Option<SectionText>> {
    let names = vec("[A-Za-z][A-Za-z0-9-]{0,10}", 1..4);
    prop_oneof![
        Just(None),
        Just(Some(SectionText::Header)),
        Just(Some(SectionText::Text)),
        names
            .clone()
            .prop_map(|names| Some(SectionText::HeaderFields(names))),
        names.prop_map(|names| Some(SectionText::HeaderFieldsNot(names))),
    ]
}

/// Parenthesised ENVELOPE, BODY and BODYSTRUCTURE values, which the response carries as
/// bytes the mime crate wrote.
const STRUCTURES: &[&str] = &[
    ENVELOPE,
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
    r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)"#,
    r#"(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 12 1 NIL NIL NIL NIL)("application" "pdf" ("name" "a\"b\\.pdf") NIL NIL "base64" 100 NIL ("attachment" ("filename" "a.pdf")) NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)"#,
];

fn fetch_value() -> impl Strategy<Value = FetchValue> {
    let bytes = prop_oneof![
        vec(any::<u8>(), 0..40),
        "[ -~]{0,20}".prop_map(String::into_bytes)
    ];
    prop_oneof![
        nz().prop_map(|n| FetchValue::Uid(Uid::from_nonzero(n))),
        vec(flag(), 0..4).prop_map(FetchValue::Flags),
        any::<u64>().prop_map(|n| FetchValue::Rfc822Size(n >> 1)),
        (1u64..=MAX_MOD_SEQ).prop_map(|n| FetchValue::ModSeq(ModSeq::new(n).unwrap())),
        date_time().prop_map(FetchValue::InternalDate),
        (
            vec(nz(), 0..3),
            option::of(any::<u32>()),
            option::of(bytes.clone())
        )
            .prop_map(|(part, origin, data)| FetchValue::BodyData {
                key: BodyKey::Section {
                    section: Section { part, text: None },
                    origin: origin.map(u64::from),
                },
                data,
            }),
        (vec(nz(), 0..3), bytes).prop_map(|(part, data)| FetchValue::BodyData {
            key: BodyKey::Binary { part, origin: None },
            data: Some(data),
        }),
        "[A-Za-z0-9_-]{1,20}".prop_map(FetchValue::EmailId),
        option::of("[A-Za-z0-9_-]{1,20}").prop_map(FetchValue::ThreadId),
        option::of(date_time()).prop_map(FetchValue::SaveDate),
        (vec(nz(), 0..3), any::<u64>()).prop_map(|(part, size)| FetchValue::BinarySize {
            part,
            size: size >> 1
        }),
        (0..STRUCTURES.len()).prop_map(|i| FetchValue::Envelope(STRUCTURES[i].into())),
        (0..STRUCTURES.len()).prop_map(|i| FetchValue::BodyStructure(STRUCTURES[i].into())),
        (0..STRUCTURES.len()).prop_map(|i| FetchValue::Body(STRUCTURES[i].into())),
        (
            prop_oneof![
                Just(BodyKey::Rfc822),
                Just(BodyKey::Rfc822Header),
                Just(BodyKey::Rfc822Text),
                (vec(nz(), 0..3), section_text(), option::of(any::<u32>())).prop_map(
                    |(part, text, origin)| BodyKey::Section {
                        section: Section { part, text },
                        origin: origin.map(u64::from),
                    }
                ),
                (vec(nz(), 1..3), any::<u32>()).prop_map(|(part, origin)| BodyKey::Section {
                    section: Section {
                        part,
                        text: Some(SectionText::Mime),
                    },
                    origin: Some(u64::from(origin)),
                }),
            ],
            option::of(vec(any::<u8>(), 0..40))
        )
            .prop_map(|(key, data)| FetchValue::BodyData { key, data }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        status_response(),
        data().prop_map(Response::Data),
        (nz(), vec(fetch_value(), 1..5)).prop_map(|(seq, values)| Response::Fetch {
            seq: SeqNum::from_nonzero(seq),
            values,
        }),
        "[ -~]{1,30}".prop_map(|text| Response::Continuation(Continuation::Text(text))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoded_response_parses_back(response in response(), utf8 in any::<bool>()) {
        let wire = encode(&response, utf8);
        let parsed = parse_response(&wire, utf8);
        prop_assert_eq!(parsed, Ok(response), "wire {}", common::escape(&wire));
    }
}
