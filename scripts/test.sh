#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every Rust test, the Python
# client's tests, the container images and demos, then a short fuzzing run
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
# The release binaries: the images' build step (docker/build.sh), also for the docs check.
docker/build.sh target/docker-out
# Containers for real, with podman (docs/deploy.md): both images on a Debian base made
# with debootstrap, the compose demo, the Kubernetes manifests with podman kube play.
target/pyenv/bin/python -m pytest -q docker/test_containers.py
# Every command the README and docs/ show is one the programs accept.
target/pyenv/bin/python scripts/check_docs.py target/docker-out
# The fault, load and WAN suite (docs/faults.md): the release binaries on three network
# namespaces with impaired links (needs root for `ip netns`).
scripts/faults.sh target/docker-out
if [ "${FUZZ_SECONDS:-60}" != "0" ]; then
    scripts/fuzz.sh
fi
