#!/usr/bin/env bash
# The fault, load and WAN suite (issue 13, docs/faults.md) against the release binaries
# in BIN_DIR (default target/docker-out, made by docker/build.sh). Needs root for
# `ip netns`. The latency scenarios run first, four at once, then the fault scenarios
# together, then the load run alone (2 minutes; FAULTS_LOAD_FULL=1 for the issue's 10);
# the figures go to target/fault-suite/results.md, with latency by minute, the web
# client's polls and the analyser's memory over each run in details.md beside it.
# `--workspace` (not `-p`) keeps the features of the main test build, so nothing is
# rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
bins="${1:-target/docker-out}"
RTCLOUD_BIN_DIR="$(realpath "$bins")"
export RTCLOUD_BIN_DIR
mkdir -p target/fault-suite
rm -f target/fault-suite/results.md target/fault-suite/details.md
cargo test --workspace --test suite -- --ignored --test-threads 4 figures_
cargo test --workspace --test suite -- --ignored --test-threads 8 faults_
cargo test --workspace --test suite -- --ignored load_
cat target/fault-suite/results.md
