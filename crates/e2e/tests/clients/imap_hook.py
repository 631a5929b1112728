#!/usr/bin/env python3
"""IMAP side of an nmh coexistence scenario script: one action per call, one IMAP session over
TLS per call, with Python's imaplib.

Usage:  imap_hook.py ACTION FOLDER [ARGS...]

  append FOLDER FILE             APPEND the message in FILE (LF line ends are sent as CRLF)
  flag   FOLDER MSGID +|- FLAG   SELECT, UID SEARCH HEADER Message-ID MSGID, UID STORE +FLAGS or
                                 -FLAGS (FLAG is \\Seen or \\Flagged). While nothing matches,
                                 NOOP and search again for up to IMAP_FLAG_WAIT seconds, because
                                 the server exposes a new file only once it stopped changing.
  uidmap FOLDER                  SELECT; print "UIDVALIDITY n", then "UID MESSAGE-ID" per message
                                 in UID order (an empty ID when the message has none)
  fetch  FOLDER                  SELECT; UID FETCH 1:* BODY.PEEK[]; print "UID MESSAGE-ID" per
                                 message; fail on NO or BAD or on a body without Message-ID
  settle FOLDER                  wait IMAP_SETTLE seconds, then SELECT and NOOP

FOLDER is the MH folder name; "inbox" is the IMAP INBOX.

Environment: IMAP_HOST (default 127.0.0.1), IMAP_PORT (required), IMAP_USER, IMAP_PASS,
IMAP_CA (CA certificate that signed the server's certificate for "localhost"; required),
IMAP_SETTLE (seconds, default 3), IMAP_FLAG_WAIT (seconds, default 5), IMAP_TIMEOUT (socket
timeout in seconds, default 60).

Exit status: 0 on success, 1 when the server rejected a command or the connection failed (the
reason goes to standard error), 2 on invalid usage.
"""
import imaplib
import os
import re
import socket
import ssl
import sys
import time


class HookError(Exception):
    """A command failed; the message names the command and the server's response."""


def env_seconds(name, default):
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise HookError(f"{name} must be a number of seconds, not {value!r}")


class VerifiedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP4_SSL that connects to IMAP_HOST but checks the certificate for "localhost"."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname="localhost")


def connect():
    port = os.environ.get("IMAP_PORT")
    ca = os.environ.get("IMAP_CA")
    if not port or not ca:
        raise HookError("IMAP_PORT and IMAP_CA must be set")
    context = ssl.create_default_context(cafile=ca)
    conn = VerifiedIMAP4_SSL(os.environ.get("IMAP_HOST", "127.0.0.1"), int(port),
                             ssl_context=context, timeout=env_seconds("IMAP_TIMEOUT", 60))
    ok(conn.login(os.environ.get("IMAP_USER", ""), os.environ.get("IMAP_PASS", "")), "LOGIN")
    return conn


def ok(response, command):
    status, data = response
    if status != "OK":
        text = b" ".join(item for item in data if isinstance(item, bytes))
        raise HookError(f"{command} failed: {status} {text.decode(errors='replace')}")
    return data


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(folder):
    return quote("INBOX" if folder == "inbox" else folder)


def select(conn, folder):
    """SELECT the folder and return its EXISTS count."""
    data = ok(conn.select(mailbox(folder)), f"SELECT {folder}")
    return int(data[0] or 0)


def message_id(raw):
    """Return the Message-ID of a header block or message, or None when it has none."""
    header = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    header = re.sub(rb"\r?\n[ \t]+", b" ", header)
    for line in header.splitlines():
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"message-id":
            return value.strip().decode("utf-8", "replace")
    return None


def fetch_records(data):
    """Group imaplib FETCH data into (UID or None, literal or None, response text) tuples.

    imaplib returns a literal as a (prefix, bytes) tuple followed by the rest of the response
    as bytes (" UID 7)" or ")"); a bytes item that starts with a digit is a FETCH response
    without a literal, such as an unsolicited FLAGS update."""
    records = []
    for item in data:
        if isinstance(item, tuple):
            records.append([item[0], item[1]])
        elif isinstance(item, bytes) and records and item[:1] in (b" ", b")"):
            records[-1][0] += item
        elif isinstance(item, bytes) and item[:1].isdigit():
            records.append([item, None])
    result = []
    for text, body in records:
        uid = re.search(rb"\bUID (\d+)", text)
        result.append((int(uid.group(1)) if uid else None, body, text))
    return result


def uid_fetch(conn, items):
    """Run UID FETCH 1:* ITEMS; return the records and an error message or None.

    After NO, BAD or a dropped connection the records are the FETCH responses that arrived
    before the failure, so the caller can still print them."""
    try:
        status, data = conn.uid("FETCH", "1:*", items)
        if status == "OK":
            return fetch_records(data), None
        text = b" ".join(item for item in data if isinstance(item, bytes))
        error = f"UID FETCH failed: {status} {text.decode(errors='replace')}"
    except imaplib.IMAP4.error as exc:
        error = f"UID FETCH failed: {type(exc).__name__}: {exc}"
    untagged = conn.response("FETCH")[1] or []
    return fetch_records([item for item in untagged if item is not None]), error


def do_append(conn, folder, path):
    with open(path, "rb") as file:
        message = re.sub(rb"\r?\n", b"\r\n", file.read())
    ok(conn.append(mailbox(folder), None, None, message), f"APPEND {folder}")


def do_flag(conn, folder, msgid, sign, flag):
    select(conn, folder)
    deadline = time.monotonic() + env_seconds("IMAP_FLAG_WAIT", 5)
    while True:
        data = ok(conn.uid("SEARCH", "HEADER", "Message-ID", quote(msgid)), "UID SEARCH")
        uids = b" ".join(item for item in data if item).split()
        if uids or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
        ok(conn.noop(), "NOOP")
    if not uids:
        raise HookError(f"no message with Message-ID {msgid} in {folder}")
    ok(conn.uid("STORE", b",".join(uids).decode(), f"{sign}FLAGS", f"({flag})"), "UID STORE")


def do_uidmap(conn, folder):
    exists = select(conn, folder)
    validity = conn.response("UIDVALIDITY")[1]
    if not validity or not validity[0]:
        raise HookError(f"SELECT {folder} returned no UIDVALIDITY")
    print(f"UIDVALIDITY {validity[-1].decode()}", flush=True)
    lines, error = [], None
    if exists:
        records, error = uid_fetch(conn, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        lines = sorted((uid, message_id(body or b"") or "") for uid, body, _ in records
                       if uid is not None and body is not None)
    for uid, mid in lines:
        print(f"{uid} {mid}")
    if error:
        raise HookError(error)


def do_fetch(conn, folder):
    errors = []
    if select(conn, folder):
        records, error = uid_fetch(conn, "(UID BODY.PEEK[])")
        if error:
            errors.append(error)
        for uid, body, text in records:
            if body is None:
                if b"BODY[]" in text.upper():
                    errors.append(f"no literal body in {text.decode(errors='replace')}")
                continue
            mid = message_id(body)
            if uid is None or not mid:
                problem = "no UID in the response" if uid is None else "body has no Message-ID"
                errors.append(f"UID {uid}: {problem} ({len(body)} bytes)")
                continue
            print(f"{uid} {mid}")
    if errors:
        raise HookError("; ".join(errors))


def do_settle(conn, folder):
    select(conn, folder)
    ok(conn.noop(), "NOOP")


ACTIONS = {"append": (do_append, 1), "flag": (do_flag, 3), "uidmap": (do_uidmap, 0),
           "fetch": (do_fetch, 0), "settle": (do_settle, 0)}


def main(argv):
    if (len(argv) < 3 or argv[1] not in ACTIONS or len(argv) - 3 != ACTIONS[argv[1]][1]
            or (argv[1] == "flag" and argv[4] not in ("+", "-"))):
        print(__doc__.split("\n\n", 1)[1], file=sys.stderr)
        return 2
    action, folder, args = argv[1], argv[2], argv[3:]
    try:
        if action == "settle":
            time.sleep(env_seconds("IMAP_SETTLE", 3))
        conn = connect()
        try:
            ACTIONS[action][0](conn, folder, *args)
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        sys.stdout.flush()
    except (HookError, imaplib.IMAP4.error, OSError, ValueError) as exc:
        sys.stdout.flush()
        kind = "error" if isinstance(exc, HookError) else type(exc).__name__
        print(f"imap_hook {action} {folder}: {kind}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
