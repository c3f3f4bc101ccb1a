#!/usr/bin/env bash
# Benchmarks, each printing p50/p99 (release builds, real files, TLS on loopback):
# - imaging: one Skyra E11 mosaic converted from memory (and de-identified) against
#   dcm2niix converting the same single file, with the ratio;
# - filestore: the scanner's close() to the complete volume handed out (inotify);
# - dialer: dial + login, and uploads of 1 KB / 457 KB / 1.4 MB;
# - data_link: close() to the volume held by the analyser, 200 Skyra volumes, zstd
#   adaptive/always/off; and 4 streamers x 1.5 MB every 0.5 s sustained;
# - the whole chain: scanner close() to the listener's result JSON, 200 TRs, the
#   built-in sample project, real binaries over TLS, with each hop's share.
# Installs dcm2niix from PyPI into a private venv under target/ when it is not on PATH.
# Arguments go to the imaging benchmark (e.g. another DICOM file).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dcm2niix >/dev/null; then
    venv=target/bench-venv
    if [ ! -x "$venv/bin/dcm2niix" ]; then
        echo "bench: installing dcm2niix (PyPI) into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q dcm2niix
    fi
    export PATH="$PWD/$venv/bin:$PATH"
fi
dcm2niix -v 2>&1 | grep -m1 -i 'version' >&2 || true
cargo bench -p imaging --bench convert -- "$@"
cargo bench -p filestore --bench watch_latency
cargo bench -p dialer
cargo bench -p data_link --bench link_latency
cargo bench -p data_link --bench load
cargo build --release -p data_streamer -p analysis_listener
cargo bench -p data_analyser --bench chain
