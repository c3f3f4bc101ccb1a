#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every Rust test, the Python
# client's tests, the Docker build step and compose check, then a short fuzzing run
# (FUZZ_SECONDS, default 60; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The Python client: generated stubs match proto/, and its own tests.
scripts/gen_python_stubs.sh --check
target/pyenv/bin/python -m pytest -q clients/python/tests
# Docker: no engine here, so the image's build step runs as a script and the compose
# file is checked against the binaries it built.
docker/build.sh target/docker-out
target/pyenv/bin/python docker/check.py target/docker-out
# Every command the README and docs/ show is one the programs accept.
target/pyenv/bin/python scripts/check_docs.py target/docker-out
if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
    scripts/fuzz.sh
fi
