#!/usr/bin/env python3
"""Drive IMAP sessions with Python's imaplib over TLS through every command the server
implements, checking each response.

Environment: IMAP_PORT, IMAP_USER, IMAP_PASS, IMAP_CA (CA certificate that signed the
server's certificate for localhost). The INBOX must hold exactly three messages with the
Message-IDs <seed-1@e2e.example.org> to <seed-3@e2e.example.org>.

Prints "N checks passed" and the commands run, and exits 0, or raises on the first failed
check. The set of commands run is compared with EXPECTED_COMMANDS at the end, so a command
that drops out of the session fails the run.
"""
import base64
import imaplib
import os
import re
import ssl

# Every command the server implements over TLS. STARTTLS is only checked for its BAD
# response, because the connection is already encrypted.
EXPECTED_COMMANDS = {
    "CAPABILITY", "NOOP", "LOGOUT", "ID", "STARTTLS", "LOGIN", "AUTHENTICATE", "ENABLE",
    "NAMESPACE", "SELECT", "EXAMINE", "UNSELECT", "CLOSE", "CHECK", "CREATE", "DELETE",
    "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "IDLE",
    "FETCH", "UID FETCH", "STORE", "UID STORE", "SEARCH", "UID SEARCH", "EXPUNGE",
    "UID EXPUNGE", "COPY", "UID COPY", "MOVE", "UID MOVE",
}

CHECKS = 0
COMMANDS = set()

# imaplib sends commands it does not know through xatom(), which otherwise allows them only
# in the state of their first use.
for extension in ("ID", "ENABLE", "STARTTLS", "MOVE"):
    imaplib.Commands.setdefault(extension, ("NONAUTH", "AUTH", "SELECTED"))

# 256 bytes with every octet value, sent base64-encoded and expected back decoded from
# FETCH BINARY[2] (RFC 3516).
ATTACHMENT = bytes(range(256))

MIME_MESSAGE = (
    b"From: imaplib <imaplib@example.org>\r\nTo: alice@example.org\r\n"
    b"Subject: =?utf-8?q?R=C3=A9union_budget?=\r\n"
    b"Message-ID: <imaplib-mime@e2e.example.org>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"part\"\r\n\r\n"
    b"--part\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    + "Bonjour, voil\u00e0 le budget.\r\n".encode()
    + b"--part\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n"
    + base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")
    + b"--part--\r\n"
)


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def ran(command, response):
    """Record that `command` was sent and return its response unchanged."""
    COMMANDS.add(command)
    return response


def ok(command, response, what=None):
    typ, data = ran(command, response)
    check(typ == "OK", f"{what or command}: {typ} {data!r}")
    return data


def connect():
    context = ssl.create_default_context(cafile=os.environ["IMAP_CA"])
    return imaplib.IMAP4_SSL("localhost", int(os.environ["IMAP_PORT"]), ssl_context=context,
                             timeout=60)


def login(imap):
    ok("LOGIN", imap.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"]))


def fetch_texts(data):
    """Return the response lines of FETCH data, with literals left out."""
    return [item[0] if isinstance(item, tuple) else item for item in data if item]


def not_authenticated():
    """Commands before login: CAPABILITY, NOOP, ID, STARTTLS, a failed LOGIN, AUTHENTICATE."""
    imap = connect()
    check(imap.welcome.startswith(b"* OK"), f"greeting {imap.welcome!r}")

    data = ok("CAPABILITY", imap.capability(), "CAPABILITY before login")
    caps = data[0].decode().upper().split()
    check("IMAP4REV1" in caps, f"CAPABILITY lists IMAP4rev1: {caps}")
    check("AUTH=PLAIN" in caps, f"CAPABILITY over TLS offers AUTH=PLAIN: {caps}")
    check("LOGINDISABLED" not in caps, f"LOGIN is allowed over TLS: {caps}")
    check("STARTTLS" not in caps, f"STARTTLS is not offered over TLS: {caps}")
    ok("NOOP", imap.noop(), "NOOP before login")

    typ, data = ran("ID", imap.xatom("ID", "NIL"))
    check(typ == "OK", f"ID before login: {typ} {data!r}")
    server_id = imap.untagged_responses.pop("ID", [b""])[0] or b""
    check(b'"name" "asimapd"' in server_id, f"ID returns the name asimapd: {server_id!r}")

    COMMANDS.add("STARTTLS")
    try:
        imap.xatom("STARTTLS")
        check(False, "STARTTLS on the TLS port was accepted")
    except imaplib.IMAP4.error as error:
        check("BAD" in str(error), f"STARTTLS on the TLS port is BAD: {error}")

    try:
        imap.login(os.environ["IMAP_USER"], "not the password")
        check(False, "LOGIN with a wrong password was accepted")
    except imaplib.IMAP4.error as error:
        check("AUTHENTICATIONFAILED" in str(error),
              f"a wrong password is NO [AUTHENTICATIONFAILED]: {error}")

    # Commands of the authenticated state are rejected before login.
    # imaplib refuses to send SELECT before login, so its state is set by hand for one command.
    imap.state = "AUTH"
    try:
        typ, data = imap._simple_command("SELECT", "INBOX")
        check(False, f"SELECT before login was accepted: {typ} {data!r}")
    except imaplib.IMAP4.error as error:
        check("BAD" in str(error), f"SELECT before login is BAD: {error}")
    imap.state = "NONAUTH"

    credentials = f"\0{os.environ['IMAP_USER']}\0{os.environ['IMAP_PASS']}".encode()
    typ, data = ran("AUTHENTICATE", imap.authenticate("PLAIN", lambda _: credentials))
    check(typ == "OK", f"AUTHENTICATE PLAIN: {typ} {data!r}")
    check(b"CAPABILITY" in data[0] and b"MOVE" in data[0],
          f"AUTHENTICATE returns the capabilities after login: {data!r}")
    data = ok("SELECT", imap.select("INBOX", readonly=True), "EXAMINE after AUTHENTICATE")
    check(data == [b"3"], f"the INBOX has 3 messages: {data!r}")
    typ, data = ran("LOGOUT", imap.logout())
    check(typ == "BYE", f"LOGOUT: {typ} {data!r}")


def authenticated(imap):
    """Mailbox management: ENABLE, NAMESPACE, CREATE, RENAME, LIST, LSUB, STATUS, APPEND."""
    caps = ok("CAPABILITY", imap.capability())[0].decode().upper().split()
    for name in ("IDLE", "MOVE", "UIDPLUS", "NAMESPACE", "ID", "ENABLE", "UNSELECT",
                 "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE",
                 "BINARY", "CHILDREN", "LITERAL+"):
        check(name in caps, f"CAPABILITY after login lists {name}: {caps}")

    typ, data = ran("ID", imap.xatom("ID", '("name" "e2e-imaplib")'))
    check(typ == "OK", f"ID: {typ} {data!r}")
    check(any(b"asimapd" in line for line in imap.untagged_responses.pop("ID", [b""]) if line),
          "ID returns the server name asimapd")

    data = ok("NAMESPACE", imap.namespace())
    check(data and data[0].startswith(b"((\"\" \"/\"))"),
          f"NAMESPACE has a personal namespace with / as separator: {data!r}")

    # The server implements no extension that ENABLE can turn on, so it enables nothing.
    typ, data = ran("ENABLE", imap.xatom("ENABLE", "UTF8=ACCEPT CONDSTORE"))
    check(typ == "OK", f"ENABLE: {typ} {data!r}")
    enabled = imap.untagged_responses.pop("ENABLED", None)
    check(enabled == [b""], f"ENABLE returns an empty ENABLED response: {enabled!r}")

    # CREATE, with a special use (RFC 6154) and with a non-ASCII name in modified UTF-7.
    ok("CREATE", imap.create("e2e"), "CREATE e2e")
    ok("CREATE", imap.create("e2e/sub"), "CREATE e2e/sub")
    typ, data = ran("CREATE", imap.create("e2e"))
    check(typ == "NO", f"CREATE of an existing mailbox is NO: {typ} {data!r}")
    ok("CREATE", imap.xatom("CREATE", "e2e-archive", "(USE (\\Archive))"),
       "CREATE with USE (\\Archive)")
    ok("CREATE", imap.create("Entw&APw-rfe"), "CREATE Entwürfe")
    ok("RENAME", imap.rename("e2e/sub", "e2e/renamed"))

    names = [line.decode() for line in ok("LIST", imap.list()) if line]
    check(any(name.endswith('"INBOX"') or name.endswith(" INBOX") for name in names),
          f"LIST shows INBOX: {names}")
    check(any("e2e/renamed" in name for name in names), f"LIST shows the renamed box: {names}")
    check(not any("e2e/sub" in name for name in names), f"LIST drops the old name: {names}")
    check(any(name.endswith(" e2e") and "\\HasChildren" in name for name in names),
          f"LIST marks e2e \\HasChildren: {names}")
    check(any(name.endswith("Entw&APw-rfe") for name in names),
          f"LIST returns the modified UTF-7 name: {names}")
    special = [line.decode() for line in ok("LIST", imap.list('(SPECIAL-USE) ""', '"*"'),
                                            "LIST (SPECIAL-USE)") if line]
    check(any("\\Archive" in line and line.endswith("e2e-archive") for line in special),
          f"LIST (SPECIAL-USE) shows e2e-archive as \\Archive: {special}")
    check(not any(line.endswith(" INBOX") for line in special),
          f"LIST (SPECIAL-USE) leaves out INBOX: {special}")

    ok("LIST", imap.list('""', '"INBOX" RETURN (STATUS (MESSAGES UNSEEN))'),
       "LIST RETURN (STATUS)")
    statuses = imap.untagged_responses.pop("STATUS", [])
    check(any(re.search(rb"INBOX \(MESSAGES 3 UNSEEN 0\)", line) for line in statuses),
          f"LIST-STATUS reports the INBOX's 3 messages, none unseen: {statuses!r}")

    ok("SUBSCRIBE", imap.subscribe("e2e"))
    subscribed = [line.decode() for line in ok("LSUB", imap.lsub()) if line]
    check(any(line.endswith(" e2e") or line.endswith('"e2e"') for line in subscribed),
          f"LSUB shows e2e: {subscribed}")
    subscribed = [line.decode() for line in ok("LIST", imap.list('(SUBSCRIBED) ""', '"*"'),
                                               "LIST (SUBSCRIBED)") if line]
    check(any(line.endswith(" e2e") and "\\Subscribed" in line for line in subscribed),
          f"LIST (SUBSCRIBED) shows e2e as \\Subscribed: {subscribed}")
    ok("UNSUBSCRIBE", imap.unsubscribe("e2e"))
    subscribed = [line for line in ok("LSUB", imap.lsub(), "LSUB after UNSUBSCRIBE") if line]
    check(not any(line.endswith(b" e2e") for line in subscribed),
          f"UNSUBSCRIBE removes e2e from LSUB: {subscribed!r}")

    data = ok("STATUS", imap.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"))
    match = re.search(rb"MESSAGES (\d+)", data[0])
    check(match and int(match.group(1)) == 3, f"STATUS INBOX has 3 messages: {data!r}")
    check(re.search(rb"UIDNEXT 4\b", data[0]), f"STATUS INBOX UIDNEXT is 4: {data!r}")
    check(re.search(rb"UNSEEN 0\b", data[0]), f"STATUS INBOX has none unseen: {data!r}")
    status_validity = re.search(rb"UIDVALIDITY (\d+)", data[0])
    check(status_validity, f"STATUS returns UIDVALIDITY: {data!r}")

    # APPEND with a flag and a date, then UIDPLUS's APPENDUID.
    message = (b"From: imaplib <imaplib@example.org>\r\nSubject: appended\r\n"
               b"Message-ID: <imaplib-1@e2e.example.org>\r\n\r\nappended body\r\n")
    data = ok("APPEND", imap.append("e2e", r"(\Flagged)",
                                    imaplib.Time2Internaldate(1764849600), message))
    check(b"APPENDUID" in data[0], f"APPEND returns APPENDUID: {data!r}")
    typ, data = ran("APPEND", imap.append("no-such-mailbox", None, None, message))
    check(typ == "NO" and b"TRYCREATE" in data[0],
          f"APPEND to a missing mailbox is NO [TRYCREATE]: {typ} {data!r}")
    data = ok("APPEND", imap.append("e2e-archive", None, None, MIME_MESSAGE), "APPEND MIME")
    check(re.search(rb"APPENDUID \d+ 1\]", data[0]), f"APPEND MIME gets UID 1: {data!r}")
    return message, int(status_validity.group(1))


def selected(imap, inbox_validity):
    """Read-only and read-write access: EXAMINE, SELECT, FETCH, STORE, SEARCH."""
    typ, data = ran("EXAMINE", imap.select("INBOX", readonly=True))
    check(typ == "OK" and int(data[0]) == 3, f"EXAMINE INBOX: {typ} {data!r}")
    typ, data = ran("STORE", imap.store("1", "+FLAGS", r"(\Seen)"))
    check(typ == "NO", f"STORE in a read-only mailbox is NO: {typ} {data!r}")

    typ, data = ran("SELECT", imap.select("INBOX"))
    check(typ == "OK" and int(data[0]) == 3, f"SELECT INBOX: {typ} {data!r}")
    validity = imap.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
    check(int(validity) == inbox_validity,
          f"SELECT and STATUS agree on UIDVALIDITY: {validity!r} vs {inbox_validity}")

    data = ok("FETCH", imap.fetch("1:3", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"))
    texts = fetch_texts(data)
    check(len([t for t in texts if b"ENVELOPE" in t]) == 3, f"FETCH returns 3 envelopes: {data!r}")
    check(all(b'"seed message' in t for t in texts), f"ENVELOPE has the subjects: {data!r}")
    uids = [int(re.search(rb"UID (\d+)", t).group(1)) for t in texts if b"UID" in t]
    check(uids == sorted(uids) and len(set(uids)) == 3, f"UIDs ascend: {uids}")

    data = ok("UID FETCH", imap.uid("FETCH", str(uids[1]),
                                    "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
    check(b"seed-2@e2e.example.org" in data[0][1], f"UID FETCH names message 2: {data!r}")
    data = ok("UID FETCH", imap.uid("FETCH", str(uids[0]), "(BODY.PEEK[] BODYSTRUCTURE)"))
    check(b"message 1 of the seed series" in data[0][1], f"BODY[] is the message: {data!r}")
    check(any(b'BODYSTRUCTURE ("TEXT" "PLAIN"' in t.upper() for t in fetch_texts(data)),
          f"BODYSTRUCTURE is text/plain: {data!r}")
    data = ok("FETCH", imap.fetch("1", "(RFC822.HEADER BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])"))
    header, without_subject = data[0][1], data[1][1]
    check(b"Subject: seed message 1" in header, f"RFC822.HEADER has the subject: {data!r}")
    check(b"Subject:" not in without_subject and b"Message-ID:" in without_subject,
          f"HEADER.FIELDS.NOT (SUBJECT) leaves out only the subject: {data!r}")

    ok("STORE", imap.store("2:3", "-FLAGS.SILENT", r"(\Seen)"), "STORE -FLAGS.SILENT \\Seen")
    data = ok("FETCH", imap.fetch("2", "(FLAGS)"), "FETCH FLAGS after -FLAGS")
    check(b"\\Seen" not in data[0], f"-FLAGS removes \\Seen: {data!r}")
    data = ok("FETCH", imap.fetch("2", "(BODY[TEXT]<0.10>)"), "FETCH partial")
    check(data[0][1] == b"This is me", f"partial BODY[TEXT]<0.10>: {data!r}")
    data = ok("FETCH", imap.fetch("2", "(FLAGS)"), "FETCH FLAGS after BODY[]")
    check(b"\\Seen" in data[0], f"FETCH BODY[] sets \\Seen: {data!r}")
    data = ok("FETCH", imap.fetch("2", "(RFC822.TEXT)"), "FETCH RFC822.TEXT")
    check(data[0][1].startswith(b"This is message 2"), f"RFC822.TEXT is the body: {data!r}")

    data = ok("STORE", imap.store("3", "+FLAGS", r"(\Flagged $Label1)"))
    check(b"\\Flagged" in data[0] and b"$Label1" in data[0], f"STORE returns FLAGS: {data!r}")
    ok("STORE", imap.store("3", "-FLAGS.SILENT", r"($Label1)"), "STORE -FLAGS.SILENT")
    data = ok("FETCH", imap.fetch("3", "(FLAGS)"))
    check(b"$Label1" not in data[0] and b"\\Flagged" in data[0], f"-FLAGS applied: {data!r}")
    data = ok("UID STORE", imap.uid("STORE", str(uids[0]), "FLAGS", r"(\Answered \Seen)"))
    # \Recent belongs to the session, so STORE FLAGS neither sets nor clears it.
    flags = set(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).split()) - {b"\\Recent"}
    check(flags == {b"\\Answered", b"\\Seen"}, f"UID STORE FLAGS replaces the flags: {data!r}")

    data = ok("SEARCH", imap.search(None, "FLAGGED"), "SEARCH FLAGGED")
    check(data[0].split() == [b"3"], f"SEARCH FLAGGED finds 3: {data!r}")
    data = ok("SEARCH", imap.search(None, "SUBJECT", '"seed message 2"'), "SEARCH SUBJECT")
    check(data[0].split() == [b"2"], f"SEARCH SUBJECT finds 2: {data!r}")
    data = ok("SEARCH", imap.search(None, "BODY", "Second", "NOT", "SEEN"),
              "SEARCH BODY NOT SEEN")
    check(data[0].split() == [b"3"], f"SEARCH BODY NOT SEEN finds 3: {data!r}")
    data = ok("SEARCH", imap.search(None, "OR", "ANSWERED", "FLAGGED"), "SEARCH OR")
    check(data[0].split() == [b"1", b"3"], f"SEARCH OR ANSWERED FLAGGED finds 1 3: {data!r}")
    data = ok("SEARCH", imap.search(None, "HEADER", "Message-ID", "seed-2@"), "SEARCH HEADER")
    check(data[0].split() == [b"2"], f"SEARCH HEADER Message-ID finds 2: {data!r}")
    data = ok("UID SEARCH", imap.uid("SEARCH", None, "ALL"), "UID SEARCH ALL")
    check([int(x) for x in data[0].split()] == uids, f"UID SEARCH ALL returns the UIDs: {data!r}")
    data = ok("UID SEARCH", imap.uid("SEARCH", None, "UID", f"{uids[1]}:*"), "UID SEARCH UID")
    check([int(x) for x in data[0].split()] == uids[1:], f"UID SEARCH UID n:* : {data!r}")
    return uids


def copy_move_expunge(imap, uids):
    """COPY, UID COPY, MOVE, UID MOVE, EXPUNGE, UID EXPUNGE, CHECK, UNSELECT."""
    typ, data = ran("COPY", imap.copy("1", "e2e"))
    check(typ == "OK" and b"COPYUID" in data[0], f"COPY returns COPYUID: {typ} {data!r}")
    # imaplib's uid() returns the untagged FETCH data, so the tagged COPYUID is read this way.
    typ, data = ran("UID COPY", imap._simple_command("UID", "COPY", f"{uids[1]}:{uids[2]}",
                                                      "e2e-archive"))
    check(typ == "OK" and re.search(rb"COPYUID \d+ \S+ 2:3\]", data[0]),
          f"UID COPY returns COPYUID with the new UIDs 2:3: {typ} {data!r}")
    typ, data = ran("COPY", imap.copy("1", "no-such-mailbox"))
    check(typ == "NO" and b"TRYCREATE" in data[0],
          f"COPY to a missing mailbox is NO [TRYCREATE]: {typ} {data!r}")
    typ, data = ran("UID MOVE", imap.uid("MOVE", str(uids[0]), "e2e"))
    check(typ == "OK", f"UID MOVE: {typ} {data!r}")
    expunged = imap.untagged_responses.pop("EXPUNGE", None)
    check(expunged == [b"1"], f"MOVE reports message 1 expunged: {expunged!r}")
    data = ok("SEARCH", imap.search(None, "ALL"), "SEARCH after MOVE")
    check(len(data[0].split()) == 2, f"MOVE removed the message: {data!r}")
    ok("STORE", imap.store("1", "+FLAGS.SILENT", r"(\Deleted)"), "STORE \\Deleted")
    data = ok("EXPUNGE", imap.expunge())
    check(data == [b"1"], f"EXPUNGE reports message 1: {data!r}")
    ok("CHECK", imap.check())

    typ, data = ran("SELECT", imap.select("e2e"))
    check(typ == "OK" and int(data[0]) == 3, f"SELECT e2e has 3 messages: {typ} {data!r}")
    data = ok("UID SEARCH", imap.uid("SEARCH", None, "ALL"), "UID SEARCH in e2e")
    e2e_uids = data[0].split()
    ok("UID STORE", imap.uid("STORE", e2e_uids[-2].decode() + "," + e2e_uids[-1].decode(),
                             "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE \\Deleted")
    typ, data = ran("UID EXPUNGE", imap.uid("EXPUNGE", e2e_uids[-1].decode()))
    check(typ == "OK", f"UID EXPUNGE: {typ} {data!r}")
    expunged = imap.untagged_responses.pop("EXPUNGE", None)
    check(expunged == [b"3"], f"UID EXPUNGE removes only the named message: {expunged!r}")
    typ, data = ran("MOVE", imap.xatom("MOVE", "1", "e2e-archive"))
    check(typ == "OK", f"MOVE: {typ} {data!r}")
    ok("UNSELECT", imap.unselect())
    data = ok("STATUS", imap.status("e2e", "(MESSAGES)"), "STATUS after UNSELECT")
    check(b"MESSAGES 1" in data[0],
          f"UNSELECT leaves the \\Deleted message in place, MOVE took one: {data!r}")


def mime_and_binary(imap):
    """A MIME message with an attachment: BINARY, BINARY.SIZE, BODY[n.MIME], UTF-8 SEARCH."""
    typ, data = ran("EXAMINE", imap.select("e2e-archive", readonly=True))
    check(typ == "OK" and int(data[0]) == 4, f"EXAMINE e2e-archive has 4 messages: {data!r}")
    data = ok("FETCH", imap.fetch("1", "(BINARY.SIZE[2] BINARY.PEEK[2] BODY.PEEK[2.MIME])"),
              "FETCH BINARY")
    texts = fetch_texts(data)
    check(b"BINARY.SIZE[2] 256" in texts[0], f"BINARY.SIZE[2] is 256: {data!r}")
    check(data[0][1] == ATTACHMENT, f"BINARY[2] is the decoded attachment: {data[0]!r}")
    check(b"Content-Transfer-Encoding: base64" in data[1][1],
          f"BODY[2.MIME] is the part's header: {data!r}")
    data = ok("FETCH", imap.fetch("1", "(BODYSTRUCTURE)"), "FETCH BODYSTRUCTURE multipart")
    structure = fetch_texts(data)[0].upper()
    check(b'"MIXED"' in structure and b'"BASE64"' in structure,
          f"BODYSTRUCTURE is multipart/mixed with a base64 part: {data!r}")

    imap.literal = "R\u00e9union".encode()
    data = ok("SEARCH", imap.search("UTF-8", "SUBJECT"), "SEARCH CHARSET UTF-8 SUBJECT")
    check(data[0].split() == [b"1"], f"SEARCH finds the decoded subject Réunion: {data!r}")
    imap.literal = "voil\u00e0".encode()
    data = ok("SEARCH", imap.search("UTF-8", "BODY"), "SEARCH CHARSET UTF-8 BODY")
    check(data[0].split() == [b"1"], f"SEARCH finds the 8-bit body text: {data!r}")
    ok("CLOSE", imap.close(), "CLOSE of a read-only mailbox")


def notifications(imap, message, context_message):
    """Another connection appends: NOOP and IDLE report the new message."""
    data = ok("SELECT", imap.select("INBOX"), "SELECT for NOOP")
    check(data == [b"1"], f"the INBOX holds one message after MOVE and EXPUNGE: {data!r}")
    imap.untagged_responses.pop("EXISTS", None)
    other = connect()
    login(other)
    ok("APPEND", other.append("INBOX", None, None, message.replace(b"imaplib-1", b"imaplib-2")),
       "APPEND from the second connection")
    ok("NOOP", imap.noop(), "NOOP in the selected state")
    exists = imap.untagged_responses.pop("EXISTS", None)
    check(exists == [b"2"], f"NOOP reports 2 EXISTS after the other APPEND: {exists!r}")

    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    COMMANDS.add("IDLE")
    line = imap.readline()
    check(line.startswith(b"+"), f"IDLE continuation: {line!r}")
    ok("APPEND", other.append("INBOX", None, None, context_message),
       "APPEND from the second connection during IDLE")
    other.logout()
    line = imap.readline()
    check(line.strip() == b"* 3 EXISTS", f"IDLE reports 3 EXISTS: {line!r}")
    imap.send(b"DONE\r\n")
    while True:
        line = imap.readline()
        if line.startswith(tag):
            check(line.split()[1] == b"OK", f"IDLE ends with OK: {line!r}")
            break
    ok("CLOSE", imap.close())


def clean_up(imap):
    """DELETE, errors for a missing mailbox and an unknown command, LOGOUT."""
    ok("DELETE", imap.delete("e2e/renamed"))
    ok("DELETE", imap.delete("e2e-archive"))
    ok("DELETE", imap.delete("Entw&APw-rfe"))
    typ, data = ran("DELETE", imap.delete("no-such-mailbox"))
    check(typ == "NO", f"DELETE of a missing mailbox is NO: {typ} {data!r}")
    typ, data = ran("SELECT", imap.select("no-such-mailbox"))
    check(typ == "NO", f"SELECT of a missing mailbox is NO: {typ} {data!r}")
    names = [line.decode() for line in ok("LIST", imap.list(), "LIST after DELETE") if line]
    check(not any("e2e-archive" in name or "e2e/renamed" in name for name in names),
          f"DELETE removed the mailboxes: {names}")
    try:
        imap.xatom("FROBNICATE")
        check(False, "an unknown command is BAD, but it was accepted")
    except imaplib.IMAP4.error as error:
        check("BAD" in str(error), f"an unknown command is BAD: {error}")
    typ, data = ran("LOGOUT", imap.logout())
    check(typ == "BYE", f"LOGOUT: {typ} {data!r}")


def main():
    not_authenticated()

    imap = connect()
    login(imap)
    message, validity = authenticated(imap)
    uids = selected(imap, validity)
    copy_move_expunge(imap, uids)
    mime_and_binary(imap)
    notifications(imap, message, message.replace(b"imaplib-1", b"imaplib-3"))
    clean_up(imap)

    missing = EXPECTED_COMMANDS - COMMANDS
    check(not missing, f"commands never run: {sorted(missing)}")
    print(f"{CHECKS} checks passed; commands run: {' '.join(sorted(COMMANDS))}")


main()
