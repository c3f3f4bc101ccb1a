#!/usr/bin/env bash
# Fuzzes the imaging crate (parse, pixel decoding, conversion) with cargo-fuzz for
# FUZZ_SECONDS (default 60). Fails on any crash, per-input timeout or allocation past
# the RSS limit. The seed corpus is copied from ../shared at run time, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
shared=../shared/testdata
corpus=fuzz/corpus/convert
mkdir -p "$corpus"
if [ -d "$shared" ]; then
    # A few real files of each layout and transfer syntax (deduplicated by content).
    for f in \
        "$shared"/siemens-mosaic-skyra-e11/001_000013_000003.dcm \
        "$shared"/transfer-syntaxes/*.dcm \
        "$shared"/truncated/*.dcm \
        "$(ls "$shared"/ge-perslice-dv26/mr_0004/*.dcm | head -n1)" \
        "$(ls "$shared"/philips-perslice/fmri/*.dcm | head -n1)" \
        "$(ls "$shared"/siemens-xa30-enhanced/7_func-bold/*.dcm | head -n1)"; do
        cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
    done
elif [ "${CI:-}" = "true" ]; then
    echo "fuzz: $shared is missing: CI must have it" >&2
    exit 1
fi

# cargo-fuzz needs nightly flags (-Z sanitizer); the stable compiler accepts them
# with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz run --debug-assertions convert "corpus/convert" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
