#!/usr/bin/env bash
# Adds a user (or changes a password) in certs/passwd; asks for the password, or reads
# it from standard input with --password-stdin.
#   scripts/add-user.sh scanner
set -euo pipefail
source "$(dirname "$0")/rtcloud_bin.sh"
if [ $# -lt 1 ]; then
    echo "usage: $0 NAME [--password-stdin] [--passwd FILE]" >&2
    exit 2
fi
user="$1"
shift
exec "$(rtcloud_bin data_analyser)" add-user -u "$user" "$@"
