#!/usr/bin/env bash
# Real-time preprocessing benchmark (issue 10): motion correction and MC + GLM + ROI on a
# 64x64x27 Skyra volume, release build, with SimpleITK's time for the same registrations
# in the same run and the ratio. Makes the Python venv (SimpleITK) first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_python.sh
cargo bench -p realtime --bench preproc "$@"
