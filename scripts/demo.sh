#!/usr/bin/env bash
# Builds asimapd and runs it on a demo mail store under ./demo, without root.
#
# The first run creates, once:
#   demo/ssl/cert.pem, key.pem   a self-signed certificate for 127.0.0.1 and localhost
#   demo/pwfile                  the account "demo" with a random password (printed below)
#   demo/home/Mail               an MH mail tree whose inbox is filled by nmh's `inc` from
#                                demo/demo.mbox when nmh is installed, else written directly
# Later runs reuse them. Settings: DEMO_DIR (default ./demo), DEMO_PORT (default 1993).
set -euo pipefail
cd "$(dirname "$0")/.."

demo=${DEMO_DIR:-$PWD/demo}
port=${DEMO_PORT:-1993}
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)

cargo build --release --quiet --bin asimapd --bin asimapd_set_password
bin=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release

if [ ! -s "$demo/ssl/cert.pem" ]; then
    mkdir -p "$demo/ssl"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$demo/ssl/key.pem" -out "$demo/ssl/cert.pem" 2>/dev/null
    chmod 600 "$demo/ssl/key.pem"
fi

if [ ! -d "$demo/home/Mail/inbox" ]; then
    mkdir -p "$demo/home/Mail"
    printf 'Path: Mail\nUnseen-Sequence: unseen\n' > "$demo/home/.mh_profile"
    python3 scripts/demo_mbox.py > "$demo/demo.mbox"
    if [ -x /usr/bin/mh/inc ]; then
        HOME="$demo/home" MH="$demo/home/.mh_profile" /usr/bin/mh/inc +inbox -silent \
            -file "$demo/demo.mbox" -truncate
    else
        echo "nmh is not installed: writing the inbox directly (apt-get install nmh to use inc)"
        python3 scripts/demo_mbox.py --mh "$demo/home/Mail/inbox" < "$demo/demo.mbox"
    fi
fi

if [ ! -s "$demo/password" ]; then
    python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$demo/password"
    chmod 600 "$demo/password"
    "$bin/asimapd_set_password" --pwfile="$demo/pwfile" demo - home/Mail < "$demo/password"
fi
password=$(cat "$demo/password")

cat <<TXT
Demo mail store: $demo/home/Mail
Account:  demo / $password
Connect:  curl --insecure --user 'demo:$password' 'imaps://127.0.0.1:$port/INBOX;UID=1'
Desktop client: IMAP server 127.0.0.1, port $port, SSL/TLS, normal password, user demo;
          accept the self-signed certificate in $demo/ssl/cert.pem.
TXT

exec "$bin/asimapd" --address=127.0.0.1 --port="$port" \
    --cert="$demo/ssl/cert.pem" --key="$demo/ssl/key.pem" \
    --pwfile="$demo/pwfile" --trace-dir="$demo/traces"
