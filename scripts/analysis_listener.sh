#!/usr/bin/env bash
# RT-Cloud-style front for analysis_listener (the stimulus PC).
#   scripts/analysis_listener.sh -s analyser:8888 -u stimulus -o feedback --ca ca.crt
# RT-Cloud options: -s|--server HOST:PORT, -u|--username NAME, -p|--password PW
# (prefer --password-file), -o|--outDir DIR (default ./feedback), --test. Anything else
# goes to analysis_listener unchanged (see analysis_listener --help).
set -euo pipefail
source "$(dirname "$0")/rtcloud_bin.sh"
args=()
cleanup=()
out_given=false
trap 'rm -f "${cleanup[@]}"' EXIT
while [ $# -gt 0 ]; do
    case "$1" in
        -s|--server) args+=(--server "$2"); shift 2 ;;
        -u|--username) args+=(--user "$2"); shift 2 ;;
        -p|--password) f="$(rtcloud_password_file "$2")"; cleanup+=("$f"); args+=(--password-file "$f"); shift 2 ;;
        -o|--outDir|--out-dir) args+=(--out-dir "$2"); out_given=true; shift 2 ;;
        -h|--help) args+=("$1"); out_given=true; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
$out_given || args+=(--out-dir feedback)
"$(rtcloud_bin analysis_listener)" "${args[@]}"
