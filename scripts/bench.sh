#!/usr/bin/env bash
# Benchmark: one Skyra E11 mosaic volume converted from memory (p50/p99 over 2000
# iterations) against dcm2niix converting the same single file (20 runs), with the ratio.
# Installs dcm2niix from PyPI into a private venv under target/ when it is not on PATH.
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
exec cargo bench -p imaging --bench convert -- "$@"
