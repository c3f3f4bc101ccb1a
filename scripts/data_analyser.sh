#!/usr/bin/env bash
# RT-Cloud-style front for data_analyser (the service on the analysis machine).
#   scripts/data_analyser.sh -p sample --dataRemote --subjectRemote [--test]
# RT-Cloud options: -p|--projectName NAME, -c|--config FILE, -d|--projectsDir DIR,
# --dataRemote, --subjectRemote, --port PORT, --test, --runOnStart.
# Anything else goes to data_analyser unchanged (see data_analyser --help).
set -euo pipefail
source "$(dirname "$0")/rtcloud_bin.sh"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -p|--projectName) args+=(--project "$2"); shift 2 ;;
        -c|--config) args+=(--config "$2"); shift 2 ;;
        -d|--projectsDir) args+=(--projects "$2"); shift 2 ;;
        --dataRemote) args+=(--data-remote); shift ;;
        --subjectRemote) args+=(--subject-remote); shift ;;
        --runOnStart) args+=(--run-on-start); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
exec "$(rtcloud_bin data_analyser)" "${args[@]}"
