"""A realistic client session with Python's imaplib against an asimapd worker.

Usage: imaplib_session.py PORT. INBOX must hold three messages with the subjects one, two
and three, built by asimapd_testkit::nmh::message. Exits non-zero with a message when a
response is not the expected one.
"""

import imaplib
import re
import sys


def check(condition, description, value):
    if not condition:
        sys.exit(f"unexpected {description}: {value!r}")


def ok(result, description):
    """Return the data of an OK response, exiting on any other status."""
    typ, data = result
    check(typ == "OK", f"{description} status {typ}", data)
    return data


def fetch_parts(data):
    """Return (response line, literal) pairs of FETCH data. The literal is None without one."""
    parts = []
    for item in data:
        if isinstance(item, tuple):
            parts.append((item[0], item[1]))
        elif item is not None and item[:1].isdigit():
            parts.append((item, None))
    return parts


def session(client):
    ok(client.login("alice", "secret"), "LOGIN")
    names = ok(client.capability(), "CAPABILITY")[0].split()
    for name in [b"IMAP4rev1", b"IDLE", b"MOVE", b"UIDPLUS", b"SPECIAL-USE", b"LIST-STATUS"]:
        check(name in names, f"CAPABILITY without {name!r}", names)

    # SELECT: message count, UIDVALIDITY, UIDNEXT and PERMANENTFLAGS with \*.
    data = ok(client.select("INBOX"), "SELECT")
    check(data == [b"3"], "SELECT EXISTS", data)
    check(client.untagged_responses.get("UIDVALIDITY", [b""])[0].isdigit(), "UIDVALIDITY",
          client.untagged_responses)
    check(client.untagged_responses.get("UIDNEXT") == [b"4"], "UIDNEXT", client.untagged_responses)
    permanent = client.untagged_responses.get("PERMANENTFLAGS", [b""])[0]
    check(b"\\*" in permanent and b"\\Seen" in permanent, "PERMANENTFLAGS", permanent)

    # Headers of every message, the way a client fills its message list.
    data = ok(client.uid("FETCH", "1:*", "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER])"),
              "UID FETCH headers")
    parts = fetch_parts(data)
    check(len(parts) == 3, "header FETCH count", data)
    for number, (line, header) in enumerate(parts, start=1):
        check(re.match(rb"%d \(UID %d RFC822\.SIZE \d+ FLAGS \(\\Recent\) BODY\[HEADER\] \{\d+\}"
                       % (number, number), line), "header FETCH line", line)
        subject = [b"one", b"two", b"three"][number - 1]
        check(b"\r\nSubject: " + subject + b"\r\n" in header and header.endswith(b"\r\n\r\n"),
              "header literal", header)

    # Bodies: a non-peek fetch returns the text and reports the implicit \Seen.
    data = ok(client.fetch("1:2", "(BODY[TEXT])"), "FETCH bodies")
    parts = fetch_parts(data)
    check(len(parts) == 2, "body FETCH count", data)
    for (line, body), name in zip(parts, [b"one", b"two"]):
        check(body == b"body of " + name + b"\r\n", "body literal", body)
    flags = [line for line in data if isinstance(line, bytes) and b"FLAGS" in line]
    flags += [item[0] for item in data if isinstance(item, tuple) and b"FLAGS" in item[0]]
    check(len(flags) == 2 and all(b"\\Seen" in line for line in flags), "implicit \\Seen", data)
    data = ok(client.fetch("3", "(RFC822)"), "FETCH RFC822")
    message = data[0][1]
    check(message.startswith(b"From: ") and b"body of three\r\n" in message, "RFC822", message)

    # Searches.
    data = ok(client.search(None, "SUBJECT", "three"), "SEARCH SUBJECT")
    check(data == [b"3"], "SEARCH SUBJECT", data)
    data = ok(client.search(None, "UNSEEN"), "SEARCH UNSEEN")
    check(data == [b""], "SEARCH UNSEEN", data)
    data = ok(client.uid("SEARCH", None, "OR", "SUBJECT", "one", "BODY", "three"), "UID SEARCH")
    check(data == [b"1 3"], "UID SEARCH OR", data)
    data = ok(client.search("UTF-8", "TEXT", "body"), "SEARCH CHARSET")
    check(data == [b"1 2 3"], "SEARCH CHARSET UTF-8", data)
    typ, data = client.search("KOI8-R", "ALL")
    check(typ == "NO" and b"[BADCHARSET" in data[0], "SEARCH CHARSET KOI8-R", data)

    # Flags.
    data = ok(client.store("1", "+FLAGS", "(\\Flagged $Todo)"), "STORE +FLAGS")
    check(data == [b"1 (FLAGS (\\Flagged \\Recent \\Seen $Todo))"], "STORE +FLAGS", data)
    data = ok(client.uid("STORE", "1", "-FLAGS", "($Todo)"), "UID STORE -FLAGS")
    check(data == [b"1 (FLAGS (\\Flagged \\Recent \\Seen) UID 1)"], "UID STORE -FLAGS", data)
    data = ok(client.store("2", "FLAGS.SILENT", "(\\Answered)"), "STORE FLAGS.SILENT")
    check(data == [None], "STORE FLAGS.SILENT", data)
    data = ok(client.search(None, "ANSWERED"), "SEARCH ANSWERED")
    check(data == [b"2"], "SEARCH ANSWERED", data)

    # COPY with COPYUID, then STATUS of the target.
    data = ok(client.copy("1:2", "Archive"), "COPY")
    check(re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), "COPYUID", data)
    data = ok(client.status("Archive", "(MESSAGES UNSEEN)"), "STATUS")
    check(data == [b"Archive (MESSAGES 2 UNSEEN 1)"], "STATUS", data)

    # MOVE reports COPYUID and the EXPUNGE of the moved message.
    ok(client.uid("MOVE", "3", "Junk"), "UID MOVE")
    # imaplib collects every COPYUID code of the session, so the MOVE's is the last one.
    typ, data = client.response("COPYUID")
    check(data and re.match(rb"\d+ 3 1$", data[-1]), "MOVE COPYUID", data)
    typ, data = client.response("EXPUNGE")
    check(data == [b"3"], "MOVE EXPUNGE", data)

    # EXPUNGE of one \Deleted message, then numbers shift down.
    ok(client.store("1", "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
    data = ok(client.expunge(), "EXPUNGE")
    check(data == [b"1"], "EXPUNGE", data)
    data = ok(client.fetch("1", "(UID FLAGS)"), "FETCH after EXPUNGE")
    check(re.match(rb"1 \(UID 2 FLAGS \(\\Answered \\Recent\)\)", data[0]),
          "FETCH after EXPUNGE", data)

    # APPEND to the Drafts folder with APPENDUID.
    typ, data = client.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nhello\r\n")
    check(typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0]), "APPEND", data)

    # Mailbox list with special-use attributes.
    data = ok(client.list(), "LIST")
    lines = [line.decode() for line in data]
    check(any(line.endswith('"/" INBOX') for line in lines), "LIST INBOX", lines)
    check(any("\\Junk" in line and line.endswith(" Junk") for line in lines), "LIST Junk", lines)
    check(any("\\Sent" in line and '"Sent Messages"' in line for line in lines), "LIST Sent",
          lines)

    # EXAMINE is read-only, so STORE gets NO.
    data = ok(client.select("Archive", readonly=True), "EXAMINE")
    check(data == [b"2"], "EXAMINE EXISTS", data)
    typ, data = client.store("1", "+FLAGS", "(\\Deleted)")
    check(typ == "NO", "STORE in EXAMINE", data)

    ok(client.close(), "CLOSE")
    typ, data = client.logout()
    check(typ == "BYE", "LOGOUT", data)


def main():
    client = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    try:
        session(client)
    except imaplib.IMAP4.error as error:
        sys.exit(f"imaplib raised: {error}")
    print("imaplib session completed")


main()
