#!/usr/bin/env bash
# Generates the Python gRPC stubs of proto/rtcloud/project/v1/api.proto into
# clients/python/rtcloud_client/_proto/ (api_pb2.py, api_pb2.pyi, api_pb2_grpc.py).
# The generated code is committed so `pip install clients/python` needs no protoc.
#   scripts/gen_python_stubs.sh          regenerate the committed files
#   scripts/gen_python_stubs.sh --check  fail if the committed files differ from a fresh
#                                        generation (CI: the proto changed, stubs did not)
# Uses grpcio-tools at the version pinned in clients/python/pyproject.toml (extra "dev"),
# from target/pyenv (scripts/setup_python.sh) unless PYTHON is set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/clients/python/rtcloud_client/_proto"
python="${PYTHON:-$root/target/pyenv/bin/python}"
check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

pinned="$(sed -n 's/.*"grpcio-tools==\([0-9.]*\)".*/\1/p' "$root/clients/python/pyproject.toml")"
if [ -z "$pinned" ]; then
    echo "gen_python_stubs: no grpcio-tools==X pin found in clients/python/pyproject.toml" >&2
    exit 1
fi
have="$("$python" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || true)"
if [ "$have" != "$pinned" ]; then
    echo "gen_python_stubs: $python has grpcio-tools '${have:-none}', need $pinned;" \
        "run scripts/setup_python.sh (or set PYTHON to a python that has it)" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root/proto" && "$python" -m grpc_tools.protoc -I. \
    --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
    rtcloud/project/v1/api.proto)
mkdir -p "$tmp/gen"
mv "$tmp"/rtcloud/project/v1/api_pb2.py "$tmp"/rtcloud/project/v1/api_pb2.pyi \
    "$tmp"/rtcloud/project/v1/api_pb2_grpc.py "$tmp/gen/"
# protoc writes an absolute import of the proto's package; inside rtcloud_client the
# module is a sibling, so the import becomes relative.
sed -i 's/^from rtcloud\.project\.v1 import api_pb2 as /from . import api_pb2 as /' \
    "$tmp/gen/api_pb2_grpc.py"

if $check; then
    status=0
    for f in api_pb2.py api_pb2.pyi api_pb2_grpc.py; do
        if ! cmp -s "$tmp/gen/$f" "$out/$f"; then
            echo "gen_python_stubs: $out/$f is out of date with proto/; run scripts/gen_python_stubs.sh and commit" >&2
            status=1
        fi
    done
    exit $status
fi
mkdir -p "$out"
cp "$tmp/gen/"* "$out/"
