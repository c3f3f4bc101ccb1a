#!/usr/bin/env bash
# Builds the three release binaries into OUT (default /out): what the Dockerfile's
# build stage runs, and what CI runs directly (no Docker engine there) so the image's
# build cannot rot. Needs the Rust toolchain, cmake and a C++ compiler. The copies in
# OUT have no debug line tables (smaller images); symbols stay for backtraces.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/out}"
cargo build --release --locked -p data_analyser -p data_streamer -p analysis_listener
mkdir -p "$out"
target="${CARGO_TARGET_DIR:-target}"
for bin in data_analyser data_streamer analysis_listener; do
    install -m 0755 "$target/release/$bin" "$out/$bin"
    # The line tables are for debugging on the build machine; the image keeps symbols.
    if command -v strip >/dev/null; then strip --strip-debug "$out/$bin"; fi
done
echo "docker/build.sh: binaries in $out" >&2
