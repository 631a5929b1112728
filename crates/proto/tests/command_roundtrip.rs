//! Property tests: a command written by `Command::encode` parses back to the same value,
//! whole and fed in random chunks.

mod common;

use std::num::NonZeroU32;

use asimapd_proto::*;
use common::{Outcome, Policy, run_chunks};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn nz() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1u32..20, 1u32..=u32::MAX].prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn bound() -> impl Strategy<Value = SeqBound> {
    prop_oneof![nz().prop_map(SeqBound::Number), Just(SeqBound::Largest)]
}

fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    let ranges = vec((bound(), bound()), 1..5).prop_map(|pairs| {
        SequenceSet::Ranges(
            pairs
                .into_iter()
                .map(|(start, end)| SeqRange { start, end })
                .collect(),
        )
    });
    prop_oneof![9 => ranges, 1 => Just(SequenceSet::Saved)]
}

fn tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.\\]!#-]{1,8}".prop_map(|text| Tag::new(text).unwrap())
}

fn mailbox() -> impl Strategy<Value = MailboxName> {
    prop_oneof![
        Just(MailboxName::inbox()),
        "[a-zA-Z0-9 &/._\"\\\\-]{0,12}".prop_map(MailboxName::new),
        "\\PC{1,8}".prop_map(MailboxName::new),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    "[A-Za-z0-9$._-]{1,10}"
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        "[A-Za-z]{1,8}"
            .prop_filter("not a system flag", |name| Flag::parse(&format!(
                "\\{name}"
            ))
            .is_ok_and(|flag| matches!(flag, Flag::Extension(_))))
            .prop_map(Flag::Extension),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,20}".prop_map(String::into_bytes),
        vec(1u8..=255, 0..20),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (1900u16..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..60, -1439i16..=1439)
        .prop_map(|(date, h, m, s, zone)| DateTime::new(date, h, m, s, zone).unwrap())
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Seen),
        Just(SearchKey::Unseen),
        Just(SearchKey::New),
        Just(SearchKey::SaveDateSupported),
        bytes().prop_map(SearchKey::From),
        bytes().prop_map(SearchKey::Text),
        ("[A-Za-z-]{1,10}", bytes()).prop_map(|(f, v)| SearchKey::Header(f, v)),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::SentBefore),
        date().prop_map(SearchKey::SavedOn),
        atom().prop_map(SearchKey::Keyword),
        any::<u64>().prop_map(|n| SearchKey::Larger(n >> 1)),
        sequence_set().prop_map(SearchKey::Uid),
        sequence_set().prop_map(SearchKey::SequenceSet),
        nz().prop_map(SearchKey::Older),
        (0u64..=i64::MAX as u64).prop_map(|modseq| SearchKey::ModSeq {
            entry: None,
            modseq
        }),
        "[A-Za-z0-9_-]{1,20}".prop_map(SearchKey::EmailId),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|key| SearchKey::Not(Box::new(key))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            vec(inner, 1..3).prop_map(SearchKey::And),
        ]
    })
}

fn section() -> impl Strategy<Value = Section> {
    let text = prop_oneof![
        Just(None),
        Just(Some(SectionText::Header)),
        Just(Some(SectionText::Text)),
        vec("[A-Za-z-]{1,10}", 1..3).prop_map(|f| Some(SectionText::HeaderFields(f))),
        vec("[A-Za-z-]{1,10}", 1..3).prop_map(|f| Some(SectionText::HeaderFieldsNot(f))),
    ];
    (vec(nz(), 0..3), text, any::<bool>()).prop_map(|(part, text, mime)| {
        let text = if mime && !part.is_empty() {
            Some(SectionText::Mime)
        } else {
            text
        };
        Section { part, text }
    })
}

fn partial() -> impl Strategy<Value = Option<Partial>> {
    option::of(
        (0u64..1 << 40, 1u64..1 << 40).prop_map(|(offset, length)| Partial { offset, length }),
    )
}

fn fetch_attribute() -> impl Strategy<Value = FetchAttribute> {
    prop_oneof![
        Just(FetchAttribute::Envelope),
        Just(FetchAttribute::Flags),
        Just(FetchAttribute::Uid),
        Just(FetchAttribute::Rfc822Size),
        Just(FetchAttribute::BodyStructure),
        Just(FetchAttribute::Body),
        Just(FetchAttribute::ModSeq),
        Just(FetchAttribute::SaveDate),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), vec(nz(), 0..3), partial()).prop_map(|(peek, part, partial)| {
            FetchAttribute::Binary {
                peek,
                part,
                partial,
            }
        }),
        vec(nz(), 0..3).prop_map(|part| FetchAttribute::BinarySize { part }),
    ]
}

fn numbers() -> impl Strategy<Value = NumberKind> {
    prop_oneof![Just(NumberKind::Uid), Just(NumberKind::SequenceNumber)]
}

fn body() -> impl Strategy<Value = CommandBody> {
    prop_oneof![
        Just(CommandBody::Noop),
        Just(CommandBody::Idle),
        (atom(), bytes()).prop_filter_map("UTF-8 username", |(user, password)| {
            Some(CommandBody::Login {
                username: user,
                password: Secret::new(password),
            })
        }),
        (atom(), option::of(bytes())).prop_map(|(mechanism, response)| CommandBody::Authenticate {
            mechanism: Atom::new(mechanism).unwrap(),
            initial_response: response.map(Secret::new),
        }),
        mailbox().prop_map(|mailbox| CommandBody::Select {
            mailbox,
            params: vec![SelectParam::CondStore]
        }),
        (mailbox(), mailbox()).prop_map(|(from, to)| CommandBody::Rename { from, to }),
        (
            mailbox(),
            vec(
                prop_oneof![
                    Just(StatusItem::Messages),
                    Just(StatusItem::Size),
                    Just(StatusItem::HighestModSeq)
                ],
                1..3
            )
        )
            .prop_map(|(mailbox, items)| CommandBody::Status { mailbox, items }),
        (
            mailbox(),
            vec(
                (vec(flag(), 0..3), option::of(date_time()), bytes(), 0u8..3),
                1..3
            )
        )
            .prop_map(|(mailbox, messages)| CommandBody::Append {
                mailbox,
                messages: messages
                    .into_iter()
                    .map(|(flags, date, data, form)| AppendMessage {
                        flags,
                        date,
                        data: AppendData::Bytes(data),
                        is_binary: form > 0,
                        is_utf8: form == 2,
                    })
                    .collect(),
            }),
        (
            numbers(),
            sequence_set(),
            vec(fetch_attribute(), 1..4),
            option::of(1u64..1 << 62)
        )
            .prop_map(|(numbers, set, attributes, changed)| CommandBody::Fetch {
                numbers,
                set,
                items: FetchItems::Attributes(attributes),
                modifiers: changed
                    .map(|n| vec![FetchModifier::ChangedSince(ModSeq::new(n).unwrap())])
                    .unwrap_or_default(),
            }),
        (
            numbers(),
            sequence_set(),
            option::of(0u64..1 << 62),
            any::<bool>(),
            vec(flag(), 0..4)
        )
            .prop_map(|(numbers, set, unchanged_since, is_silent, flags)| {
                CommandBody::Store {
                    numbers,
                    arguments: StoreArguments {
                        set,
                        unchanged_since,
                        mode: StoreMode::Add,
                        is_silent,
                        flags,
                    },
                }
            }),
        (numbers(), vec(search_key(), 1..3), any::<bool>()).prop_map(
            |(numbers, keys, has_return)| {
                CommandBody::Search {
                    numbers,
                    program: SearchProgram {
                        return_options: has_return
                            .then(|| vec![SearchReturn::Min, SearchReturn::Save]),
                        charset: has_return.then(|| "UTF-8".to_owned()),
                        keys,
                    },
                }
            }
        ),
        (numbers(), sequence_set(), mailbox()).prop_map(|(numbers, set, mailbox)| {
            CommandBody::Move {
                numbers,
                set,
                mailbox,
            }
        }),
        ("\\PC{0,6}", vec("[a-z%*/]{1,6}", 1..3)).prop_map(|(reference, patterns)| {
            CommandBody::List(ListArguments {
                selection: vec![ListSelection::Subscribed],
                reference: ListPattern::new(reference),
                patterns: patterns.into_iter().map(ListPattern::new).collect(),
                return_options: vec![ListReturn::Status(vec![StatusItem::Unseen])],
            })
        }),
        vec(("[a-z]{1,6}", option::of("[ -~]{0,10}")), 0..3)
            .prop_map(|pairs| CommandBody::Id(Some(pairs))),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (tag(), body()).prop_map(|(tag, body)| Command { tag, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoded_command_parses_back(command in command(), chunk in 1usize..40, utf8 in any::<bool>()) {
        let limits = Limits { utf8_accept: utf8, ..Limits::default() };
        let mut wire = Vec::new();
        command.encode(&mut wire, utf8);
        let parsed = parse_command(&wire, &limits);
        prop_assert_eq!(parsed.as_ref(), Ok(&command), "wire {}", common::escape(&wire));
        let chunks: Vec<&[u8]> = wire.chunks(chunk).collect();
        let outcomes = run_chunks(&chunks, limits, Policy::Accept);
        let last = outcomes.last().cloned();
        prop_assert_eq!(last, Some(Outcome::Command(command)));
    }

    #[test]
    fn parser_never_panics_on_noise(input in vec(any::<u8>(), 0..200), chunk in 1usize..16) {
        let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
        run_chunks(&chunks, Limits::default(), Policy::Accept);
        run_chunks(&chunks, Limits::default(), Policy::Reject);
    }
}
