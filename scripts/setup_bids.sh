#!/usr/bin/env bash
# Installs the official BIDS validator (npm bids-validator, the version pinned in
# tests/bids/package-lock.json) into target/bids-validator for crates/bids' tests.
# Idempotent: does nothing when that version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
    echo "setup_bids: installing nodejs and npm with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

dest=target/bids-validator
stamp=$dest/node_modules/.package-lock.json
if [ ! -x "$dest/node_modules/.bin/bids-validator" ] || [ tests/bids/package-lock.json -nt "$stamp" ]; then
    echo "setup_bids: npm ci into $dest" >&2
    mkdir -p "$dest"
    cp tests/bids/package.json tests/bids/package-lock.json "$dest/"
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
fi
