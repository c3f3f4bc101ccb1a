#!/usr/bin/env bash
# Creates the Python environment the Python client's tests, projects/sample_py and the
# repository's Python tooling (docker/test_containers.py) use:
# a venv at target/pyenv with `clients/python[dicom,nifti,test,dev]` installed editable
# (dev pins grpcio-tools for scripts/gen_python_stubs.sh).
# Idempotent and silent when already done: a stamp file holds a hash of what the venv
# was built from (pyproject.toml and this script); when it matches, nothing runs.
# PYTHON=/path/to/python3 picks the interpreter (default: python3.11, else python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/pyenv"
stamp="$venv/.rtcloud-setup-stamp"
want="$(cat "$root/clients/python/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null; then python="$candidate"; break; fi
    done
fi
if [ -z "$python" ]; then
    echo "setup_python: no python3 found; install Python >= 3.9 (3.11 on CI) or set PYTHON" >&2
    exit 1
fi

echo "setup_python: installing rtcloud-client into $venv with $("$python" --version 2>&1)" >&2
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$root/clients/python[dicom,nifti,test,dev]"
# Repository tooling: docker/test_containers.py reads the Kubernetes manifests.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check pyyaml
# The realtime crate's tests compare its motion correction with SimpleITK's (issue 10).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "SimpleITK>=2.3"
echo "$want" >"$stamp"
