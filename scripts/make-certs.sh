#!/usr/bin/env bash
# Certificates for the analyser: a private CA and a server certificate for the names
# and addresses clients dial, into certs/ (copy certs/ca.crt to the scanner console and
# the stimulus PC).
#   scripts/make-certs.sh analyser.lab.example 192.168.2.5
set -euo pipefail
source "$(dirname "$0")/rtcloud_bin.sh"
if [ $# -eq 0 ]; then
    echo "usage: $0 NAME_OR_IP... [-- more make-certs options]" >&2
    exit 2
fi
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; args+=("$@"); break ;;
        *:*) args+=(--ip "$1"); shift ;;
        *)
            if [[ "$1" =~ ^[0-9]+(\.[0-9]+){3}$ ]]; then args+=(--ip "$1"); else args+=(--host "$1"); fi
            shift ;;
    esac
done
exec "$(rtcloud_bin data_analyser)" make-certs "${args[@]}"
