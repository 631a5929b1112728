# Developer entry points. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo

.PHONY: all build test fmt-check clippy unit demo clean

all: build

build:
	$(CARGO) build --release --bin asimapd --bin asimapd_set_password

## Formatting, lints and the whole test suite. Tests that need nmh, Dovecot, mail clients
## or Python fail when the program is missing (see crates/testkit).
test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked --no-fail-fast

## Build the server and run it on a demo mail store under ./demo (no root needed).
demo:
	./scripts/demo.sh

clean:
	$(CARGO) clean
