#!/usr/bin/env bash
# Builds both image variants with podman, from docker/Dockerfile, on the locally made
# Debian base (docker/make_base.sh) and with the host's release binaries
# (docker/build.sh target/docker-out: a no-op when they are up to date):
#   rtcloud-rs:slim    the binaries, non-root user
#   rtcloud-rs:latest  slim + Python 3 and the project client
# Prints each image's size. Used by scripts/compose_demo.sh and scripts/kube_demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/docker/containers.conf}"
docker/install_podman.sh
docker/make_base.sh
docker/build.sh target/docker-out
# pip inside the build trusts what this machine trusts (a TLS-inspecting proxy's CA).
pip_cert=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    pip_cert=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro
              --build-arg PIP_CERT=/etc/ssl/host-ca.crt)
fi
for variant in slim python; do
    tag=$([ "$variant" = slim ] && echo slim || echo latest)
    echo "build_images: rtcloud-rs:$tag" >&2
    podman build --quiet -f docker/Dockerfile --ignorefile docker/Dockerfile.dockerignore \
        --build-arg BASE_IMAGE=localhost/debian-minbase:bookworm --build-arg BINARIES=prebuilt "${pip_cert[@]}" \
        --target "$variant" -t "rtcloud-rs:$tag" . >/dev/null
done
podman images --filter reference=localhost/rtcloud-rs --format '{{.Repository}}:{{.Tag}} {{.Size}}' >&2
