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
    let flags = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Answered),
        Just(SearchKey::Deleted),
        Just(SearchKey::Draft),
        Just(SearchKey::Flagged),
        Just(SearchKey::New),
        Just(SearchKey::Old),
        Just(SearchKey::Recent),
        Just(SearchKey::Seen),
        Just(SearchKey::Unanswered),
        Just(SearchKey::Undeleted),
        Just(SearchKey::Undraft),
        Just(SearchKey::Unflagged),
        Just(SearchKey::Unseen),
        Just(SearchKey::SaveDateSupported),
        atom().prop_map(SearchKey::Keyword),
        atom().prop_map(SearchKey::Unkeyword),
    ];
    let strings = prop_oneof![
        bytes().prop_map(SearchKey::Bcc),
        bytes().prop_map(SearchKey::Body),
        bytes().prop_map(SearchKey::Cc),
        bytes().prop_map(SearchKey::From),
        bytes().prop_map(SearchKey::Subject),
        bytes().prop_map(SearchKey::Text),
        bytes().prop_map(SearchKey::To),
        ("[A-Za-z-]{1,10}", bytes()).prop_map(|(f, v)| SearchKey::Header(f, v)),
    ];
    let dates = prop_oneof![
        date().prop_map(SearchKey::Before),
        date().prop_map(SearchKey::On),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::SentBefore),
        date().prop_map(SearchKey::SentOn),
        date().prop_map(SearchKey::SentSince),
        date().prop_map(SearchKey::SavedBefore),
        date().prop_map(SearchKey::SavedOn),
        date().prop_map(SearchKey::SavedSince),
    ];
    let modseq_entry = option::of(
        (
            "/flags/\\\\?[a-z$]{1,8}",
            prop_oneof![Just("priv"), Just("shared"), Just("all")],
        )
            .prop_map(|(name, kind)| ModSeqEntry {
                name,
                kind: kind.to_owned(),
            }),
    );
    let others = prop_oneof![
        any::<u64>().prop_map(|n| SearchKey::Larger(n >> 1)),
        any::<u64>().prop_map(|n| SearchKey::Smaller(n >> 1)),
        sequence_set().prop_map(SearchKey::Uid),
        sequence_set().prop_map(SearchKey::SequenceSet),
        nz().prop_map(SearchKey::Older),
        nz().prop_map(SearchKey::Younger),
        (modseq_entry, 0u64..=i64::MAX as u64)
            .prop_map(|(entry, modseq)| SearchKey::ModSeq { entry, modseq }),
        "[A-Za-z0-9_-]{1,20}".prop_map(SearchKey::EmailId),
        "[A-Za-z0-9_-]{1,20}".prop_map(SearchKey::ThreadId),
    ];
    let leaf = prop_oneof![flags, strings, dates, others];
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
        Just(FetchAttribute::InternalDate),
        Just(FetchAttribute::Rfc822),
        Just(FetchAttribute::Rfc822Header),
        Just(FetchAttribute::Rfc822Text),
        Just(FetchAttribute::EmailId),
        Just(FetchAttribute::ThreadId),
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
        Just(CommandBody::Id(None)),
        other_body(),
    ]
}

/// Generates the commands and argument forms that `body` leaves out.
fn other_body() -> impl Strategy<Value = CommandBody> {
    let simple = prop_oneof![
        Just(CommandBody::Capability),
        Just(CommandBody::Logout),
        Just(CommandBody::StartTls),
        Just(CommandBody::Namespace),
        Just(CommandBody::Unauthenticate),
        Just(CommandBody::Check),
        Just(CommandBody::Close),
        Just(CommandBody::Unselect),
        Just(CommandBody::Expunge),
    ];
    let mailbox_only = prop_oneof![
        mailbox().prop_map(CommandBody::Delete),
        mailbox().prop_map(CommandBody::Subscribe),
        mailbox().prop_map(CommandBody::Unsubscribe),
        mailbox().prop_map(CommandBody::GetQuotaRoot),
        (
            mailbox(),
            vec(
                prop_oneof![Just("\\Drafts"), Just("\\Sent"), Just("\\Archive")],
                0..3
            )
        )
            .prop_map(|(mailbox, uses)| CommandBody::Create {
                mailbox,
                special_use: uses.into_iter().map(str::to_owned).collect(),
            }),
        (mailbox(), vec(select_param(), 0..2))
            .prop_map(|(mailbox, params)| CommandBody::Examine { mailbox, params }),
        (mailbox(), vec(select_param(), 0..2))
            .prop_map(|(mailbox, params)| CommandBody::Select { mailbox, params }),
    ];
    let with_set = prop_oneof![
        sequence_set().prop_map(CommandBody::UidExpunge),
        (numbers(), sequence_set(), mailbox()).prop_map(|(numbers, set, mailbox)| {
            CommandBody::Copy {
                numbers,
                set,
                mailbox,
            }
        }),
        (
            numbers(),
            sequence_set(),
            prop_oneof![
                Just(FetchItems::All),
                Just(FetchItems::Fast),
                Just(FetchItems::Full)
            ],
            any::<bool>(),
        )
            .prop_map(|(numbers, set, items, vanished)| CommandBody::Fetch {
                numbers,
                set,
                items,
                modifiers: if vanished {
                    vec![
                        FetchModifier::ChangedSince(ModSeq::new(1).unwrap()),
                        FetchModifier::Vanished,
                    ]
                } else {
                    vec![]
                },
            }),
        (
            numbers(),
            sequence_set(),
            prop_oneof![Just(StoreMode::Replace), Just(StoreMode::Remove)],
            vec(flag(), 0..3)
        )
            .prop_map(|(numbers, set, mode, flags)| CommandBody::Store {
                numbers,
                arguments: StoreArguments {
                    set,
                    unchanged_since: None,
                    mode,
                    is_silent: false,
                    flags,
                },
            }),
    ];
    let sorting = prop_oneof![
        (
            numbers(),
            vec((any::<bool>(), sort_key()), 1..4),
            vec(search_key(), 1..3)
        )
            .prop_map(|(numbers, criteria, keys)| CommandBody::Sort {
                numbers,
                arguments: SortArguments {
                    criteria: criteria
                        .into_iter()
                        .map(|(is_reverse, key)| SortCriterion { is_reverse, key })
                        .collect(),
                    charset: "UTF-8".to_owned(),
                    keys,
                },
            }),
        (
            numbers(),
            prop_oneof![
                Just(ThreadAlgorithm::OrderedSubject),
                Just(ThreadAlgorithm::References)
            ],
            vec(search_key(), 1..3)
        )
            .prop_map(|(numbers, algorithm, keys)| CommandBody::Thread {
                numbers,
                arguments: ThreadArguments {
                    algorithm,
                    charset: "US-ASCII".to_owned(),
                    keys,
                },
            }),
        (
            numbers(),
            vec(search_key(), 1..3),
            vec(search_return(), 0..4)
        )
            .prop_map(|(numbers, keys, return_options)| CommandBody::Search {
                numbers,
                program: SearchProgram {
                    return_options: Some(return_options),
                    charset: None,
                    keys,
                },
            }),
    ];
    let session = prop_oneof![
        vec(atom(), 1..3).prop_map(|names| {
            CommandBody::Enable(names.into_iter().map(|n| Atom::new(n).unwrap()).collect())
        }),
        atom().prop_map(|name| CommandBody::Compress(Atom::new(name).unwrap())),
        "\\PC{0,10}".prop_map(CommandBody::GetQuota),
        (mailbox(), mailbox()).prop_map(|(reference, pattern)| CommandBody::Lsub {
            reference: ListPattern::new(reference.as_str()),
            pattern: ListPattern::new(pattern.as_str()),
        }),
        (
            vec(list_selection(), 0..3),
            vec(list_return(), 0..3),
            vec("[a-z%*/]{1,6}", 1..3)
        )
            .prop_map(|(selection, return_options, patterns)| {
                CommandBody::List(ListArguments {
                    selection,
                    reference: ListPattern::new(""),
                    patterns: patterns.into_iter().map(ListPattern::new).collect(),
                    return_options,
                })
            }),
        notify().prop_map(CommandBody::Notify),
    ];
    prop_oneof![simple, mailbox_only, with_set, sorting, session]
}

fn select_param() -> impl Strategy<Value = SelectParam> {
    let qresync = (
        nz(),
        1u64..1 << 62,
        option::of(ranges_only()),
        option::of((ranges_only(), ranges_only())),
    )
        .prop_map(|(validity, modseq, known_uids, seq_match)| {
            // `seq-match-data` may only follow known UIDs (RFC 7162 §3.2.5).
            let seq_match = known_uids.as_ref().and(seq_match);
            SelectParam::QResync(QResync {
                uid_validity: UidValidity::from_nonzero(validity),
                modseq: ModSeq::new(modseq).unwrap(),
                known_uids,
                seq_match,
            })
        });
    prop_oneof![Just(SelectParam::CondStore), qresync]
}

/// Generates a sequence set of numbers only, as QRESYNC parameters require.
fn ranges_only() -> impl Strategy<Value = SequenceSet> {
    vec((nz(), nz()), 1..4).prop_map(|pairs| {
        SequenceSet::Ranges(
            pairs
                .into_iter()
                .map(|(start, end)| SeqRange {
                    start: SeqBound::Number(start),
                    end: SeqBound::Number(end),
                })
                .collect(),
        )
    })
}

fn sort_key() -> impl Strategy<Value = SortKey> {
    prop_oneof![
        Just(SortKey::Arrival),
        Just(SortKey::Cc),
        Just(SortKey::Date),
        Just(SortKey::From),
        Just(SortKey::Size),
        Just(SortKey::Subject),
        Just(SortKey::To),
        Just(SortKey::DisplayFrom),
        Just(SortKey::DisplayTo),
    ]
}

fn search_return() -> impl Strategy<Value = SearchReturn> {
    prop_oneof![
        Just(SearchReturn::Min),
        Just(SearchReturn::Max),
        Just(SearchReturn::All),
        Just(SearchReturn::Count),
        Just(SearchReturn::Save),
    ]
}

fn list_selection() -> impl Strategy<Value = ListSelection> {
    prop_oneof![
        Just(ListSelection::Subscribed),
        Just(ListSelection::Remote),
        Just(ListSelection::RecursiveMatch),
        Just(ListSelection::SpecialUse),
        "X-[A-Z]{1,6}".prop_map(|name| ListSelection::Other(Atom::new(name).unwrap())),
    ]
}

fn list_return() -> impl Strategy<Value = ListReturn> {
    prop_oneof![
        Just(ListReturn::Subscribed),
        Just(ListReturn::Children),
        Just(ListReturn::SpecialUse),
        vec(
            prop_oneof![
                Just(StatusItem::Messages),
                Just(StatusItem::UidNext),
                Just(StatusItem::AppendLimit),
                Just(StatusItem::MailboxId)
            ],
            1..3
        )
        .prop_map(ListReturn::Status),
        "X-[A-Z]{1,6}".prop_map(|name| ListReturn::Other(Atom::new(name).unwrap())),
    ]
}

fn notify() -> impl Strategy<Value = Notify> {
    let filter = prop_oneof![
        Just(MailboxFilter::Selected),
        Just(MailboxFilter::SelectedDelayed),
        Just(MailboxFilter::Inboxes),
        Just(MailboxFilter::Personal),
        Just(MailboxFilter::Subscribed),
        vec(mailbox(), 1..3).prop_map(MailboxFilter::Subtree),
        vec(mailbox(), 1..3).prop_map(MailboxFilter::Mailboxes),
    ];
    let event = prop_oneof![
        vec(
            prop_oneof![Just(FetchAttribute::Uid), Just(FetchAttribute::Flags)],
            0..3
        )
        .prop_map(NotifyEvent::MessageNew),
        Just(NotifyEvent::MessageExpunge),
        Just(NotifyEvent::FlagChange),
        Just(NotifyEvent::AnnotationChange),
        Just(NotifyEvent::MailboxName),
        Just(NotifyEvent::SubscriptionChange),
        Just(NotifyEvent::MailboxMetadataChange),
        Just(NotifyEvent::ServerMetadataChange),
        Just(NotifyEvent::QuotaChange),
    ];
    let group =
        (filter, vec(event, 0..3)).prop_map(|(mailboxes, events)| EventGroup { mailboxes, events });
    prop_oneof![
        Just(Notify::None),
        (any::<bool>(), vec(group, 1..3))
            .prop_map(|(has_status, groups)| Notify::Set { has_status, groups }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (tag(), body()).prop_map(|(tag, body)| Command { tag, body })
}

/// Encodes `command`, then parses the bytes whole and fed in chunks of `chunk` bytes.
fn check_round_trip(command: Command, chunk: usize, utf8: bool) -> Result<(), TestCaseError> {
    let limits = Limits {
        utf8_accept: utf8,
        ..Limits::default()
    };
    let mut wire = Vec::new();
    command.encode(&mut wire, utf8);
    let parsed = parse_command(&wire, &limits);
    prop_assert_eq!(
        parsed.as_ref(),
        Ok(&command),
        "wire {}",
        common::escape(&wire)
    );
    let chunks: Vec<&[u8]> = wire.chunks(chunk).collect();
    let outcomes = run_chunks(&chunks, limits, Policy::Accept);
    let last = outcomes.last().cloned();
    prop_assert_eq!(last, Some(Outcome::Command(command)));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoded_command_parses_back(command in command(), chunk in 1usize..40, utf8 in any::<bool>()) {
        check_round_trip(command, chunk, utf8)?;
    }

    #[test]
    fn other_commands_parse_back(
        tag in tag(),
        body in other_body(),
        chunk in 1usize..40,
        utf8 in any::<bool>(),
    ) {
        check_round_trip(Command { tag, body }, chunk, utf8)?;
    }

    #[test]
    fn parser_never_panics_on_noise(input in vec(any::<u8>(), 0..200), chunk in 1usize..16) {
        let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
        run_chunks(&chunks, Limits::default(), Policy::Accept);
        run_chunks(&chunks, Limits::default(), Policy::Reject);
    }
}
