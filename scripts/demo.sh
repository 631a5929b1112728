#!/usr/bin/env bash
# Builds asimapd and runs it on a demo mail store under ./demo, without root.
#
# The first run creates, once:
#   demo/ssl/cert.pem, key.pem   a self-signed certificate for 127.0.0.1 and localhost
#   demo/pwfile, demo/password   the account "demo" with a random password (printed below)
#   demo/home/Mail               an MH mail tree whose inbox is filled by nmh's `inc` from
#                                demo/demo.mbox when nmh is installed, else written directly
# Later runs reuse them. The server runs in the foreground until Ctrl-C or SIGTERM.
#
# Settings (environment):
#   DEMO_DIR      folder of the demo store (default ./demo)
#   DEMO_PORT     TCP port on 127.0.0.1 for IMAP over TLS (default 1993)
#   DEMO_PROFILE  cargo profile to build (default release; "dev" builds faster)
#   DEMO_OWNER    account that owns the mail tree when run as root (default nobody), because
#                 asimapd never runs a user's worker as root
set -euo pipefail
cd "$(dirname "$0")/.."

demo=${DEMO_DIR:-$PWD/demo}
port=${DEMO_PORT:-1993}
profile=${DEMO_PROFILE:-release}
owner=${DEMO_OWNER:-nobody}
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)

cargo build --profile "$profile" --quiet --bin asimapd --bin asimapd_set_password
target=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# Cargo writes the dev profile to target/debug and every other profile to target/<profile>.
if [ "$profile" = dev ]; then bin=$target/debug; else bin=$target/$profile; fi

if [ ! -s "$demo/ssl/cert.pem" ]; then
    mkdir -p "$demo/ssl"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$demo/ssl/key.pem" -out "$demo/ssl/cert.pem" 2>/dev/null
    chmod 600 "$demo/ssl/key.pem"
fi

# An empty inbox is filled again, so a run that failed while filling it is repeated.
if [ -z "$(ls -A "$demo/home/Mail/inbox" 2>/dev/null)" ]; then
    # inc prompts before it creates a folder and gets no answer without a terminal, so the
    # inbox is created first.
    mkdir -p "$demo/home/Mail/inbox"
    printf 'Path: Mail\nUnseen-Sequence: unseen\n' > "$demo/home/.mh_profile"
    python3 scripts/demo_mbox.py > "$demo/demo.mbox"
    inc=$(command -v inc || true)
    [ -n "$inc" ] || [ ! -x /usr/bin/mh/inc ] || inc=/usr/bin/mh/inc
    if [ -n "$inc" ]; then
        echo "Filling $demo/home/Mail/inbox with $inc"
        HOME="$demo/home" MH="$demo/home/.mh_profile" "$inc" +inbox -silent \
            -file "$demo/demo.mbox" -truncate
    else
        echo "nmh is not installed: writing the inbox directly (apt-get install nmh to use inc)"
        python3 scripts/demo_mbox.py --mh "$demo/home/Mail/inbox" < "$demo/demo.mbox"
    fi
fi

if [ "$(id -u)" = 0 ]; then
    echo "Running as root: the mail tree is handed to $owner, the account its worker runs as."
    chown -R "$owner" "$demo/home"
    if ! runuser -u "$owner" -- test -w "$demo/home/Mail/inbox"; then
        echo "error: $owner cannot write $demo/home/Mail/inbox; set DEMO_DIR to a folder" \
            "every account can reach (like /tmp/asimapd-demo) or run as an ordinary user" >&2
        exit 1
    fi
fi

if [ ! -s "$demo/password" ]; then
    python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$demo/password"
    chmod 600 "$demo/password"
    "$bin/asimapd_set_password" --pwfile="$demo/pwfile" demo - home/Mail < "$demo/password"
fi
password=$(cat "$demo/password")

cat <<TXT

Demo mail store: $demo/home/Mail ($(ls "$demo/home/Mail/inbox" | grep -c '^[0-9]*$') messages in inbox)
Account:  demo / $password
Server:   process $$, listening on 127.0.0.1:$port (stop it with Ctrl-C or kill $$)

List the mailboxes, then fetch the message with UID 1:
  curl --cacert '$demo/ssl/cert.pem' --user 'demo:$password' 'imaps://localhost:$port/'
  curl --cacert '$demo/ssl/cert.pem' --user 'demo:$password' 'imaps://localhost:$port/INBOX;UID=1'

Desktop mail client (Thunderbird, Apple Mail, Evolution, ...):
  incoming server  IMAP, host 127.0.0.1, port $port
  security         SSL/TLS (implicit TLS, not STARTTLS)
  authentication   normal password
  user name        demo
  password         $password
  The certificate is self-signed: accept it once, or trust $demo/ssl/cert.pem.

TXT

# exec keeps the process id printed above.
exec "$bin/asimapd" --address=127.0.0.1 --port="$port" \
    --cert="$demo/ssl/cert.pem" --key="$demo/ssl/key.pem" \
    --pwfile="$demo/pwfile" --trace-dir="$demo/traces"
