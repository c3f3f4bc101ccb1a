#!/usr/bin/env bash
# Installs what the container scripts need, from Debian's packages: podman with runc
# (the default crun fails on hybrid-cgroup hosts), podman-compose, debootstrap (the
# base image), curl (the checks from the host) and python3-yaml (deploy/podman_kube.py).
# With recommends: netavark, catatonit (pod infra) and the like come with podman.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v podman-compose >/dev/null || need+=(podman-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "install_podman: installing ${need[*]} with apt-get" >&2
    # Another apt-get may hold the lock (shared machines): wait for it.
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi
