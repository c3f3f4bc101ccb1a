#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every Rust test, the Python
# client's tests, then a short fuzzing run (FUZZ_SECONDS, default 60; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The Python client: generated stubs match proto/, and its own tests.
scripts/gen_python_stubs.sh --check
target/pyenv/bin/python -m pytest -q clients/python/tests
if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
    scripts/fuzz.sh
fi
