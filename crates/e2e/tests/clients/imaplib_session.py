#!/usr/bin/env python3
"""Drive one IMAP session with Python's imaplib over TLS through every command the server
implements, checking each response.

Environment: IMAP_PORT, IMAP_USER, IMAP_PASS, IMAP_CA (CA certificate that signed the
server's certificate for localhost). The INBOX must hold exactly three messages with the
Message-IDs <seed-1@e2e.example.org> to <seed-3@e2e.example.org>.

Prints "N commands checked" and exits 0, or raises on the first failed check.
"""
import imaplib
import os
import re
import ssl

CHECKED = 0


def check(condition, what):
    global CHECKED
    if not condition:
        raise AssertionError(what)
    CHECKED += 1


def ok(response, what):
    typ, data = response
    check(typ == "OK", f"{what}: {typ} {data!r}")
    return data


def main():
    context = ssl.create_default_context(cafile=os.environ["IMAP_CA"])
    imap = imaplib.IMAP4_SSL("localhost", int(os.environ["IMAP_PORT"]), ssl_context=context,
                             timeout=60)
    check(b"IMAP4rev1" in imap.welcome or imap.welcome.startswith(b"* OK"),
          f"greeting {imap.welcome!r}")

    data = ok(imap.capability(), "CAPABILITY before login")
    check(b"IMAP4REV1" in data[0].upper(), f"CAPABILITY lists IMAP4rev1: {data!r}")
    ok(imap.noop(), "NOOP before login")

    ok(imap.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"]), "LOGIN")

    caps = ok(imap.capability(), "CAPABILITY")[0].decode().upper().split()
    for name in ("IDLE", "MOVE", "UIDPLUS", "NAMESPACE", "ID", "ENABLE", "UNSELECT"):
        check(name in caps, f"CAPABILITY after login lists {name}: {caps}")

    typ, data = imap.xatom("ID", '("name" "e2e-imaplib")')
    check(typ == "OK", f"ID: {typ} {data!r}")
    check(any(b"asimapd" in line for line in imap.untagged_responses.pop("ID", [b""]) if line),
          "ID returns the server name asimapd")

    data = ok(imap.namespace(), "NAMESPACE")
    check(data and data[0].startswith(b"(("), f"NAMESPACE has a personal namespace: {data!r}")

    typ, data = imap.xatom("ENABLE", "UTF8=ACCEPT")
    check(typ in ("OK",), f"ENABLE: {typ} {data!r}")

    # Mailbox management.
    ok(imap.create("e2e"), "CREATE e2e")
    ok(imap.create("e2e/sub"), "CREATE e2e/sub")
    typ, data = imap.create("e2e")
    check(typ == "NO", f"CREATE of an existing mailbox is NO: {typ} {data!r}")
    ok(imap.rename("e2e/sub", "e2e/renamed"), "RENAME")
    names = [line.decode() for line in ok(imap.list(), "LIST") if line]
    check(any(name.endswith('"INBOX"') or name.endswith(" INBOX") for name in names),
          f"LIST shows INBOX: {names}")
    check(any("e2e/renamed" in name for name in names), f"LIST shows the renamed box: {names}")
    check(not any("e2e/sub" in name for name in names), f"LIST drops the old name: {names}")
    ok(imap.subscribe("e2e"), "SUBSCRIBE")
    subscribed = [line.decode() for line in ok(imap.lsub(), "LSUB") if line]
    check(any(line.endswith("e2e") or line.endswith('"e2e"') for line in subscribed),
          f"LSUB shows e2e: {subscribed}")
    ok(imap.unsubscribe("e2e"), "UNSUBSCRIBE")

    data = ok(imap.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"), "STATUS")
    match = re.search(rb"MESSAGES (\d+)", data[0])
    check(match and int(match.group(1)) == 3, f"STATUS INBOX has 3 messages: {data!r}")

    # APPEND with a flag and a date, then UIDPLUS's APPENDUID.
    message = (b"From: imaplib <imaplib@example.org>\r\nSubject: appended\r\n"
               b"Message-ID: <imaplib-1@e2e.example.org>\r\n\r\nappended body\r\n")
    typ, data = imap.append("e2e", r"(\Flagged)", imaplib.Time2Internaldate(1764849600),
                            message)
    check(typ == "OK", f"APPEND: {typ} {data!r}")
    check(b"APPENDUID" in data[0], f"APPEND returns APPENDUID: {data!r}")

    # EXAMINE is read-only.
    typ, data = imap.select("INBOX", readonly=True)
    check(typ == "OK" and int(data[0]) == 3, f"EXAMINE INBOX: {typ} {data!r}")
    typ, data = imap.store("1", "+FLAGS", r"(\Seen)")
    check(typ == "NO", f"STORE in a read-only mailbox is NO: {typ} {data!r}")

    typ, data = imap.select("INBOX")
    check(typ == "OK" and int(data[0]) == 3, f"SELECT INBOX: {typ} {data!r}")
    check("UIDVALIDITY" in imap.untagged_responses, "SELECT returns UIDVALIDITY")

    # FETCH and UID FETCH.
    data = ok(imap.fetch("1:3", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"), "FETCH")
    texts = [item[0] if isinstance(item, tuple) else item for item in data]
    check(len([t for t in texts if b"ENVELOPE" in t]) == 3, f"FETCH returns 3 envelopes: {data!r}")
    uids = [int(re.search(rb"UID (\d+)", t).group(1)) for t in texts if b"UID" in t]
    check(uids == sorted(uids) and len(set(uids)) == 3, f"UIDs ascend: {uids}")

    data = ok(imap.uid("FETCH", str(uids[1]), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"),
              "UID FETCH header")
    check(b"seed-2@e2e.example.org" in data[0][1], f"UID FETCH names message 2: {data!r}")
    data = ok(imap.uid("FETCH", str(uids[0]), "(BODY.PEEK[] BODYSTRUCTURE)"), "UID FETCH body")
    check(b"message 1 of the seed series" in data[0][1], f"BODY[] is the message: {data!r}")
    check(b"BODYSTRUCTURE" in data[0][0] or b"BODYSTRUCTURE" in b"".join(
        x if isinstance(x, bytes) else x[0] for x in data), f"BODYSTRUCTURE returned: {data!r}")
    ok(imap.store("2:3", "-FLAGS.SILENT", r"(\Seen)"), "STORE -FLAGS.SILENT \\Seen")
    data = ok(imap.fetch("2", "(FLAGS)"), "FETCH FLAGS after -FLAGS")
    check(b"\\Seen" not in data[0], f"-FLAGS removes \\Seen: {data!r}")
    data = ok(imap.fetch("2", "(BODY[TEXT]<0.10>)"), "FETCH partial")
    check(data[0][1] == b"This is me", f"partial BODY[TEXT]<0.10>: {data!r}")
    data = ok(imap.fetch("2", "(FLAGS)"), "FETCH FLAGS after BODY[]")
    check(b"\\Seen" in data[0], f"FETCH BODY[] sets \\Seen: {data!r}")

    # STORE, SEARCH.
    data = ok(imap.store("3", "+FLAGS", r"(\Flagged $Label1)"), "STORE +FLAGS")
    check(b"\\Flagged" in data[0] and b"$Label1" in data[0], f"STORE returns FLAGS: {data!r}")
    data = ok(imap.store("3", "-FLAGS.SILENT", r"($Label1)"), "STORE -FLAGS.SILENT")
    data = ok(imap.fetch("3", "(FLAGS)"), "FETCH FLAGS")
    check(b"$Label1" not in data[0] and b"\\Flagged" in data[0], f"-FLAGS applied: {data!r}")
    data = ok(imap.search(None, "FLAGGED"), "SEARCH FLAGGED")
    check(data[0].split() == [b"3"], f"SEARCH FLAGGED finds 3: {data!r}")
    data = ok(imap.search(None, "SUBJECT", '"seed message 2"'), "SEARCH SUBJECT")
    check(data[0].split() == [b"2"], f"SEARCH SUBJECT finds 2: {data!r}")
    data = ok(imap.search(None, "BODY", "Second", "NOT", "SEEN"), "SEARCH BODY NOT SEEN")
    check(data[0].split() == [b"3"], f"SEARCH BODY NOT SEEN finds 3: {data!r}")
    data = ok(imap.uid("SEARCH", None, "ALL"), "UID SEARCH ALL")
    check([int(x) for x in data[0].split()] == uids, f"UID SEARCH ALL returns the UIDs: {data!r}")

    # COPY, MOVE, EXPUNGE, UID EXPUNGE.
    typ, data = imap.copy("1", "e2e")
    check(typ == "OK" and b"COPYUID" in data[0], f"COPY returns COPYUID: {typ} {data!r}")
    typ, data = imap.uid("MOVE", str(uids[0]), "e2e")
    check(typ == "OK", f"UID MOVE: {typ} {data!r}")
    expunged = imap.untagged_responses.pop("EXPUNGE", None)
    check(expunged == [b"1"], f"MOVE reports message 1 expunged: {expunged!r}")
    data = ok(imap.search(None, "ALL"), "SEARCH after MOVE")
    check(len(data[0].split()) == 2, f"MOVE removed the message: {data!r}")
    ok(imap.store("1", "+FLAGS.SILENT", r"(\Deleted)"), "STORE \\Deleted")
    data = ok(imap.expunge(), "EXPUNGE")
    check(data == [b"1"], f"EXPUNGE reports message 1: {data!r}")
    ok(imap.check(), "CHECK")

    typ, data = imap.select("e2e")
    check(typ == "OK" and int(data[0]) == 3, f"SELECT e2e has 3 messages: {typ} {data!r}")
    data = ok(imap.uid("SEARCH", None, "ALL"), "UID SEARCH in e2e")
    e2e_uids = data[0].split()
    ok(imap.uid("STORE", e2e_uids[-1].decode(), "+FLAGS.SILENT", r"(\Deleted)"),
       "UID STORE \\Deleted")
    typ, data = imap.uid("EXPUNGE", e2e_uids[-1].decode())
    check(typ == "OK", f"UID EXPUNGE: {typ} {data!r}")
    ok(imap.unselect(), "UNSELECT")

    # IDLE: another connection appends, and the idling one is told.
    ok(imap.select("INBOX"), "SELECT for IDLE")
    tag = imap._new_tag()
    imap.send(tag + b" IDLE\r\n")
    line = imap.readline()
    check(line.startswith(b"+"), f"IDLE continuation: {line!r}")
    other = imaplib.IMAP4_SSL("localhost", int(os.environ["IMAP_PORT"]), ssl_context=context,
                              timeout=60)
    ok(other.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"]), "second LOGIN")
    ok(other.append("INBOX", None, None, message.replace(b"imaplib-1", b"imaplib-2")),
       "APPEND from the second connection")
    other.logout()
    line = imap.readline()
    check(re.match(rb"\* \d+ EXISTS", line), f"IDLE reports EXISTS: {line!r}")
    imap.send(b"DONE\r\n")
    while True:
        line = imap.readline()
        if line.startswith(tag):
            check(b"OK" in line, f"IDLE ends with OK: {line!r}")
            break

    ok(imap.close(), "CLOSE")
    ok(imap.delete("e2e/renamed"), "DELETE")
    typ, data = imap.delete("no-such-mailbox")
    check(typ == "NO", f"DELETE of a missing mailbox is NO: {typ} {data!r}")
    try:
        imap.xatom("FROBNICATE")
        check(False, "an unknown command is BAD, but it was accepted")
    except imaplib.IMAP4.error as error:
        check("BAD" in str(error), f"an unknown command is BAD: {error}")
    typ, data = imap.logout()
    check(typ == "BYE", f"LOGOUT: {typ} {data!r}")
    print(f"{CHECKED} commands checked")


main()
