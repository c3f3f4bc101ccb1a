#!/usr/bin/env bash
# Installs what building and testing rtcloud-rs needs beyond the Rust toolchain.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

need_apt=()
# A C compiler and linker (the Rust toolchain links with it; ring and zstd build C code).
# No cmake: JPEG-LS is decoded by pure_jpegls, in Rust.
command -v cc >/dev/null || need_apt+=(gcc)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true

# cargo-fuzz drives the fuzz target in fuzz/ (scripts/fuzz.sh).
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

# The Python client and its tests, projects/sample_py (target/pyenv).
"$(dirname "$0")/setup_python.sh"

# The web page's browser tests: Debian's chromium and playwright-core (tests/web).
"$(dirname "$0")/setup_web.sh"
