#!/usr/bin/env python3
"""Write a realistic demo mailbox in mbox format on standard output.

The messages are generated from a fixed seed, so every run writes the same mailbox: plain and
HTML bodies, multipart/alternative and multipart/mixed with attachments, forwarded messages
(message/rfc822), non-ASCII names and subjects in RFC 2047 encoded words, 8-bit bodies, and
threads linked by In-Reply-To and References.

With --mh DIR it instead reads an mbox on standard input and writes its messages as MH files
1, 2, ... in DIR (used when nmh's `inc` is not installed).
"""
import argparse
import email.policy
import mailbox
import random
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

SEED = 20261204
MESSAGE_COUNT = 300

PEOPLE = [
    ("Alice Martin", "alice@example.org"),
    ("Bjørn Ødegård", "bjorn@example.no"),
    ("Chloé Dupré", "chloe@example.fr"),
    ("Dmitri Ivanov", "dmitri@example.ru"),
    ("Eve Okafor", "eve@example.com"),
    ("François Müller", "francois@example.de"),
    ("Grace Hopper", "grace@example.net"),
    ("Hiro Tanaka", "hiro@example.jp"),
    ("Demo User", "demo@example.org"),
]
TOPICS = [
    "Quarterly report", "Lunch on Friday?", "Server migration plan", "Réunion de projet",
    "Urlaubsplanung", "Invoice 2026-118", "Build failures on main", "Photos from the trip",
    "Draft agenda", "Naïve question about IMAP", "Café order", "Release notes",
]
WORDS = ("the mail server folder message flag sync client nmh inbox archive draft meeting "
         "report schedule budget review change request question answer idea plan").split()


def paragraph(rng, sentences=4):
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def body_text(rng):
    return "\n\n".join(paragraph(rng) for _ in range(rng.randint(1, 5))) + "\n"


def address(person):
    name, addr = person
    user, domain = addr.split("@")
    return Address(name, user, domain)


def attachment_bytes(rng, size):
    return bytes(rng.getrandbits(8) for _ in range(size))


def make_message(rng, index, when, thread):
    sender, recipient = rng.sample(PEOPLE, 2)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = address(sender)
    msg["To"] = address(recipient)
    if rng.random() < 0.3:
        msg["Cc"] = ", ".join(str(address(p)) for p in rng.sample(PEOPLE, 2))
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<demo.{index}.{SEED}@example.org>"
    if thread is not None and rng.random() < 0.5:
        parent_id, subject, references = thread
        msg["Subject"] = "Re: " + subject
        msg["In-Reply-To"] = parent_id
        msg["References"] = " ".join(references + [parent_id])
    else:
        msg["Subject"] = f"{rng.choice(TOPICS)} #{index}"

    kind = rng.random()
    text = body_text(rng)
    if kind < 0.35:
        msg.set_content(text)
    elif kind < 0.45:
        msg.set_content(text + "Grüße, Øystein — ça va?\n", cte="8bit")
    elif kind < 0.70:
        msg.set_content(text)
        msg.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    elif kind < 0.90:
        msg.set_content(text)
        size = int(rng.paretovariate(1.2) * 2000)
        msg.add_attachment(attachment_bytes(rng, min(size, 400_000)), maintype="application",
                           subtype="octet-stream", filename=f"data-{index}.bin")
        if rng.random() < 0.3:
            msg.add_attachment("col1,col2\n1,2\n", subtype="csv", filename="résumé.csv")
    else:
        msg.set_content("Forwarding this one.\n")
        inner = EmailMessage(policy=email.policy.SMTP)
        inner["From"] = address(rng.choice(PEOPLE))
        inner["Subject"] = "Original: " + rng.choice(TOPICS)
        inner["Date"] = format_datetime(when - timedelta(days=3))
        inner.set_content(body_text(rng))
        msg.add_attachment(inner)
    return msg


def write_mbox(out):
    # The email package draws MIME boundaries from the global generator.
    random.seed(SEED)
    rng = random.Random(SEED)
    when = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    recent = []
    for index in range(1, MESSAGE_COUNT + 1):
        when += timedelta(minutes=rng.randint(5, 600))
        thread = rng.choice(recent) if recent and rng.random() < 0.4 else None
        msg = make_message(rng, index, when, thread)
        subject = str(msg["Subject"]).removeprefix("Re: ")
        references = thread[2] + [thread[0]] if thread else []
        recent = (recent + [(msg["Message-ID"], subject, references[-5:])])[-20:]
        stamp = when.strftime("%a %b %d %H:%M:%S %Y")
        out.write(f"From {msg['From'].addresses[0].addr_spec} {stamp}\n".encode())
        raw = msg.as_bytes(policy=email.policy.SMTP.clone(linesep="\n"))
        for line in raw.splitlines(keepends=True):
            if line.startswith(b"From ") or line.startswith(b">From "):
                out.write(b">")
            out.write(line)
        if not raw.endswith(b"\n"):
            out.write(b"\n")
        out.write(b"\n")


def write_mh(folder):
    import os
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".mbox") as tmp:
        tmp.write(sys.stdin.buffer.read())
        tmp.flush()
        os.makedirs(folder, exist_ok=True)
        for number, message in enumerate(mailbox.mbox(tmp.name), start=1):
            with open(os.path.join(folder, str(number)), "wb") as f:
                f.write(message.as_bytes(unixfrom=False))
        with open(os.path.join(folder, ".mh_sequences"), "w") as f:
            f.write(f"unseen: 1-{number}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mh", metavar="DIR", help="split an mbox from stdin into MH folder DIR")
    args = parser.parse_args()
    if args.mh:
        write_mh(args.mh)
    else:
        write_mbox(sys.stdout.buffer)


if __name__ == "__main__":
    main()
