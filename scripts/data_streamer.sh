#!/usr/bin/env bash
# RT-Cloud-style front for data_streamer (the scanner console).
#   scripts/data_streamer.sh -s analyser:8888 -u scanner -d /data/scans -f .dcm,.txt --ca ca.crt
# RT-Cloud options: -s|--server HOST:PORT, -u|--username NAME, -p|--password PW
# (prefer --password-file), -d|--allowedDirs A,B, -f|--allowedFileTypes .dcm,.txt,
# --test. Anything else goes to data_streamer unchanged (see data_streamer --help).
set -euo pipefail
source "$(dirname "$0")/rtcloud_bin.sh"
args=()
cleanup=()
trap 'rm -f "${cleanup[@]}"' EXIT
while [ $# -gt 0 ]; do
    case "$1" in
        -s|--server) args+=(--server "$2"); shift 2 ;;
        -u|--username) args+=(--user "$2"); shift 2 ;;
        -p|--password) f="$(rtcloud_password_file "$2")"; cleanup+=("$f"); args+=(--password-file "$f"); shift 2 ;;
        -d|--allowedDirs) args+=(--allowed-dirs "$2"); shift 2 ;;
        -f|--allowedFileTypes) args+=(--allowed-types "$2"); shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
"$(rtcloud_bin data_streamer)" "${args[@]}"
