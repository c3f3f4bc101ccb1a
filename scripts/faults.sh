#!/usr/bin/env bash
# The fault, load and WAN suite (issue 13, docs/faults.md) against the release binaries
# in BIN_DIR (default target/docker-out, made by docker/build.sh). Needs root for
# `ip netns`. The latency scenarios run first, four at once, then the fault scenarios
# together; the figures go to target/fault-suite/results.md. `--workspace` (not `-p`)
# keeps the features of the main test build, so nothing is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
bins="${1:-target/docker-out}"
RTCLOUD_BIN_DIR="$(realpath "$bins")"
export RTCLOUD_BIN_DIR
mkdir -p target/fault-suite
rm -f target/fault-suite/results.md
cargo test --workspace --test suite -- --ignored --test-threads 4 figures_
cargo test --workspace --test suite -- --ignored --test-threads 8 faults_
cat target/fault-suite/results.md
