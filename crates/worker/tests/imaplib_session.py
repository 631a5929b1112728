"""A realistic client session with Python's imaplib against an asimapd worker.

Usage: imaplib_session.py PORT. Exits non-zero with a message when a response is not the
expected one.
"""

import imaplib
import re
import sys


def check(condition, what, value):
    if not condition:
        sys.exit(f"unexpected {what}: {value!r}")


def main():
    port = int(sys.argv[1])
    client = imaplib.IMAP4("127.0.0.1", port)
    typ, data = client.login("alice", "secret")
    check(typ == "OK", "LOGIN", data)
    typ, data = client.capability()
    names = data[0].split()
    check(b"MOVE" in names and b"UIDPLUS" in names and b"IDLE" in names, "CAPABILITY", data)

    typ, data = client.select("INBOX")
    check(typ == "OK" and data == [b"3"], "SELECT", data)
    check(client.untagged_responses.get("UIDVALIDITY"), "UIDVALIDITY", client.untagged_responses)

    typ, data = client.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = [part[1].decode().strip() for part in data if isinstance(part, tuple)]
    check(subjects == ["Subject: one", "Subject: two", "Subject: three"], "headers", subjects)

    typ, data = client.fetch("2", "(RFC822)")
    body = data[0][1]
    check(typ == "OK" and b"body of two" in body and b"\r\n" in body, "RFC822", data)
    check(b"\\Seen" in data[0][0] or any(b"\\Seen" in part for part in data if isinstance(part, bytes)),
          "implicit \\Seen", data)

    typ, data = client.search(None, "SUBJECT", "three")
    check(data == [b"3"], "SEARCH", data)
    typ, data = client.uid("SEARCH", None, "UNSEEN")
    check(data == [b"1 3"], "UID SEARCH UNSEEN", data)

    typ, data = client.store("1", "+FLAGS", "(\\Flagged)")
    check(typ == "OK" and b"\\Flagged" in data[0], "STORE", data)

    typ, data = client.copy("1:2", "Archive")
    check(typ == "OK", "COPY", data)
    typ, data = client.status("Archive", "(MESSAGES)")
    check(data == [b"Archive (MESSAGES 2)"], "STATUS", data)

    typ, data = client.uid("MOVE", "3", "Junk")
    check(typ == "OK", "UID MOVE", data)
    typ, data = client.response("EXPUNGE")
    check(data == [b"3"], "MOVE EXPUNGE", data)

    typ, data = client.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    check(typ == "OK", "STORE", data)
    typ, data = client.expunge()
    check(data == [b"1"], "EXPUNGE", data)

    typ, data = client.fetch("1", "(UID)")
    check(re.match(rb"1 \(UID 2\)", data[0]), "FETCH after EXPUNGE", data)

    typ, data = client.list()
    names = [line.decode() for line in data]
    check(any(name.endswith('"/" INBOX') for name in names), "LIST", names)
    check(any('\\Junk' in name for name in names), "LIST special use", names)

    typ, data = client.close()
    check(typ == "OK", "CLOSE", data)
    typ, data = client.logout()
    check(typ == "BYE", "LOGOUT", data)
    print("imaplib session completed")


main()
