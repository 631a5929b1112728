//! The client side of the grammar: writes a [`Command`] in the form the parser reads, for
//! test clients and for round-trip tests. Literals are written in synchronising form with
//! their bytes inline, as a client sends them after the server's `+`.

mod items;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::append::{AppendData, AppendMessage};
use crate::command::{Command, CommandBody, StoreArguments, StoreMode};
use crate::mailbox::MailboxName;
use crate::response::write_mailbox;
use crate::select::{QResync, SelectParam};
use crate::string::{write_astring, write_literal_header, write_nstring, write_string};

use items::{
    write_fetch_items, write_flags, write_list, write_list_pattern, write_notify,
    write_search_program, write_sort, write_thread,
};

impl Command {
    /// Appends the command, CRLF included. `utf8_accept` selects how mailbox names are
    /// written.
    pub fn encode(&self, out: &mut Vec<u8>, utf8_accept: bool) {
        out.extend_from_slice(self.tag.as_str().as_bytes());
        out.push(b' ');
        let mut w = Writer { out, utf8_accept };
        w.body(&self.body);
        w.out.extend_from_slice(b"\r\n");
    }
}

pub(crate) struct Writer<'a> {
    pub out: &'a mut Vec<u8>,
    pub utf8_accept: bool,
}

impl Writer<'_> {
    pub fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    pub fn mailbox(&mut self, name: &MailboxName) {
        write_mailbox(self.out, name, self.utf8_accept);
    }

    pub fn astring(&mut self, value: &[u8]) {
        write_astring(self.out, value);
    }

    // One arm per command, as in the parser's dispatch.
    fn body(&mut self, body: &CommandBody) {
        use CommandBody as C;
        self.raw(body.name());
        match body {
            C::Capability | C::Noop | C::Logout | C::StartTls | C::Namespace | C::Idle => {}
            C::Unauthenticate | C::Check | C::Close | C::Unselect | C::Expunge => {}
            C::Id(params) => self.id(params),
            C::Authenticate {
                mechanism,
                initial_response,
            } => {
                self.raw(&format!(" {mechanism}"));
                if let Some(response) = initial_response {
                    let encoded = STANDARD.encode(response.expose());
                    let encoded = if encoded.is_empty() {
                        "=".into()
                    } else {
                        encoded
                    };
                    self.raw(&format!(" {encoded}"));
                }
            }
            C::Login { username, password } => {
                self.raw(" ");
                self.astring(username.as_bytes());
                self.raw(" ");
                self.astring(password.expose());
            }
            C::Enable(names) => names.iter().for_each(|name| self.raw(&format!(" {name}"))),
            C::Select { mailbox, params } | C::Examine { mailbox, params } => {
                self.raw(" ");
                self.mailbox(mailbox);
                self.select_params(params);
            }
            C::Create {
                mailbox,
                special_use,
            } => {
                self.raw(" ");
                self.mailbox(mailbox);
                if !special_use.is_empty() {
                    self.raw(&format!(" (USE ({}))", special_use.join(" ")));
                }
            }
            C::Delete(mailbox)
            | C::Subscribe(mailbox)
            | C::Unsubscribe(mailbox)
            | C::GetQuotaRoot(mailbox) => {
                self.raw(" ");
                self.mailbox(mailbox);
            }
            C::Rename { from, to } => {
                self.raw(" ");
                self.mailbox(from);
                self.raw(" ");
                self.mailbox(to);
            }
            C::List(arguments) => write_list(self, arguments),
            C::Lsub { reference, pattern } => {
                self.raw(" ");
                write_string(self.out, reference.to_wire(self.utf8_accept).as_bytes());
                self.raw(" ");
                write_list_pattern(self, pattern);
            }
            C::Status { mailbox, items } => {
                self.raw(" ");
                self.mailbox(mailbox);
                let names: Vec<&str> = items.iter().map(|item| item.name()).collect();
                self.raw(&format!(" ({})", names.join(" ")));
            }
            C::Append { mailbox, messages } => {
                self.raw(" ");
                self.mailbox(mailbox);
                messages
                    .iter()
                    .for_each(|message| self.append_message(message));
            }
            C::GetQuota(root) => {
                self.raw(" ");
                self.astring(root.as_bytes());
            }
            C::Notify(notify) => write_notify(self, notify),
            C::Compress(algorithm) => self.raw(&format!(" {algorithm}")),
            C::UidExpunge(set) => self.raw(&format!(" {set}")),
            C::Search { program, .. } => write_search_program(self, program),
            C::Fetch {
                set,
                items,
                modifiers,
                ..
            } => {
                self.raw(&format!(" {set} "));
                write_fetch_items(self, items, modifiers);
            }
            C::Store { arguments, .. } => self.store(arguments),
            C::Copy { set, mailbox, .. } | C::Move { set, mailbox, .. } => {
                self.raw(&format!(" {set} "));
                self.mailbox(mailbox);
            }
            C::Sort { arguments, .. } => write_sort(self, arguments),
            C::Thread { arguments, .. } => write_thread(self, arguments),
        }
    }

    fn id(&mut self, params: &crate::IdParams) {
        let Some(pairs) = params else {
            return self.raw(" NIL");
        };
        self.raw(" (");
        for (index, (field, value)) in pairs.iter().enumerate() {
            if index > 0 {
                self.raw(" ");
            }
            write_string(self.out, field.as_bytes());
            self.raw(" ");
            write_nstring(self.out, value.as_deref().map(str::as_bytes));
        }
        self.raw(")");
    }

    fn select_params(&mut self, params: &[SelectParam]) {
        if params.is_empty() {
            return;
        }
        let texts: Vec<String> = params
            .iter()
            .map(|param| match param {
                SelectParam::CondStore => "CONDSTORE".to_owned(),
                SelectParam::QResync(qresync) => qresync_text(qresync),
            })
            .collect();
        self.raw(&format!(" ({})", texts.join(" ")));
    }

    fn append_message(&mut self, message: &AppendMessage) {
        self.raw(" ");
        if !message.flags.is_empty() {
            write_flags(self, &message.flags);
            self.raw(" ");
        }
        if let Some(date) = &message.date {
            self.raw(&format!("\"{date}\" "));
        }
        if message.is_utf8 {
            self.raw("UTF8 (");
        }
        if message.is_binary || message.is_utf8 {
            self.raw("~");
        }
        match &message.data {
            AppendData::Bytes(bytes) => {
                write_literal_header(self.out, bytes.len() as u64);
                self.out.extend_from_slice(bytes);
            }
            AppendData::External { len } => write_literal_header(self.out, *len),
        }
        if message.is_utf8 {
            self.raw(")");
        }
    }

    fn store(&mut self, arguments: &StoreArguments) {
        self.raw(&format!(" {}", arguments.set));
        if let Some(modseq) = arguments.unchanged_since {
            self.raw(&format!(" (UNCHANGEDSINCE {modseq})"));
        }
        let sign = match arguments.mode {
            StoreMode::Replace => "",
            StoreMode::Add => "+",
            StoreMode::Remove => "-",
        };
        let silent = if arguments.is_silent { ".SILENT" } else { "" };
        self.raw(&format!(" {sign}FLAGS{silent} "));
        write_flags(self, &arguments.flags);
    }
}

fn qresync_text(qresync: &QResync) -> String {
    let mut text = format!("QRESYNC ({} {}", qresync.uid_validity, qresync.modseq);
    if let Some(known) = &qresync.known_uids {
        text.push_str(&format!(" {known}"));
    }
    if let Some((numbers, uids)) = &qresync.seq_match {
        text.push_str(&format!(" ({numbers} {uids})"));
    }
    text.push(')');
    text
}
