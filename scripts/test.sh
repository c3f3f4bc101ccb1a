#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every test, then a short
# fuzzing run (FUZZ_SECONDS, default 60; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
    scripts/fuzz.sh
fi
