#!/usr/bin/env bash
# The compose demo (docker/docker-compose.yml) with podman, in one command, on a machine
# like CI's (Debian 12, root, no Docker engine, no image registry):
#   scripts/compose_demo.sh OUT
# installs podman, runc, podman-compose and debootstrap if missing, makes the Debian
# base image, builds the images (docker/build_images.sh), starts certs, analyser,
# synthetic scanner, streamer and listener, waits until every TR's result is in OUT,
# checks the web page over TLS from this machine (and logs in with the generated
# password), then takes everything down: no container or volume is left, also when a
# step fails. OUT keeps the results, ca.crt, the web page as fetched and each
# service's log. The web port is a free one on 127.0.0.1, printed when up.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/demo_lib.sh
demo_start compose_demo "$@"
project=rtcloud-demo
trs=$(sed -n 's/^numTRs *= *//p' docker/roi-feedback.toml)
timeout_s="${DEMO_TIMEOUT:-300}"

docker/build_images.sh

compose=(podman-compose -f docker/docker-compose.yml -p "$project")
leftovers() {
    podman ps -a -q --filter "label=io.podman.compose.project=$project"
    podman volume ls -q --filter "label=io.podman.compose.project=$project"
}
if [ -n "$(leftovers)" ]; then
    echo "compose_demo: containers or volumes of $project exist (another run?):" >&2
    leftovers >&2
    exit 1
fi

mkdir -p "$out/logs"
down() {
    local status=$?
    for service in certs analyser scanner streamer listener; do
        podman logs "${project}_${service}_1" > "$out/logs/$service.log" 2>&1 || true
    done
    "${compose[@]}" down -v > "$out/logs/compose-down.log" 2>&1 || true
    demo_finish "$status"
}
trap down EXIT

export RTCLOUD_DEMO_OUT="$out"
# No host port given: podman picks a free one on 127.0.0.1.
export RTCLOUD_DEMO_PORT="127.0.0.1:"
# podman-compose 1.0.3 starts services without waiting for depends_on conditions, so
# the certificates and the password are made first.
"${compose[@]}" up -d certs > "$out/logs/compose-up.log" 2>&1
podman wait "${project}_certs_1" > /dev/null
"${compose[@]}" up -d >> "$out/logs/compose-up.log" 2>&1
address=$(podman port "${project}_analyser_1" 8888/tcp)
echo "compose_demo: analyser at https://$address (CA: $out/ca.crt)" >&2

demo_wait_results "$out" "$trs" "$timeout_s"

# The web page from this machine, over TLS against the demo's CA.
curl --fail --silent --show-error --cacert "$out/ca.crt" -o "$out/web-login.html" "https://$address/login"
# The password the certs service made, shown as its log says, then a login with it.
# (podman-compose also prints the podman commands it runs: keep the password's line.)
password=$("${compose[@]}" exec -T analyser cat /certs/demo-password | grep -xE '[A-Za-z0-9_-]{24}')
printf '{"user":"demo","password":"%s"}' "$password" |
    curl --fail --silent --show-error --cacert "$out/ca.crt" -H 'content-type: application/json' \
        --data-binary @- -o "$out/web-login-answer.json" "https://$address/api/login"
echo "compose_demo: web page and login over TLS: ok" >&2
