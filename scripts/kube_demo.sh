#!/usr/bin/env bash
# The Kubernetes manifests (deploy/kubernetes/) played with `podman kube play`, on a
# machine like CI's (Debian 12, root, no cluster, no image registry):
#   scripts/kube_demo.sh OUT
# installs what it needs, builds the images (docker/build_images.sh), makes the
# certificates and a scanner user with a random password into OUT/certs and the
# Secret from them (deploy/kubetool.py secret), plays the manifests (through
# deploy/kubetool.py podman: what podman 4.3 cannot take as written), and then, from
# this machine as from a control room and a stimulus PC: checks the pod's port over
# TLS (what the probes ask), connects a streamer and a listener over TLS, logs in to
# the web page and presses Run, and replays a short real run (../shared) into the
# scanner folder. Waits until every TR's result is in OUT/feedback, copies the
# session from the pod's volume to OUT/session, and takes it all down (pod, volume,
# secret, host processes), also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/demo_lib.sh
demo_start kube_demo "$@"
bin="$PWD/target/docker-out"
source_run="${KUBE_DEMO_RUN:-$(realpath -m ../shared/testdata/siemens-mosaic-skyra-e11)}"
[ -d "$source_run" ] || { echo "kube_demo: no recorded run at $source_run (../shared)" >&2; exit 1; }
project_conf=$(/usr/bin/python3 -c 'import sys, yaml
doc = yaml.safe_load(open("deploy/kubernetes/project.yaml"))
print(doc["data"]["sample_py.toml"])')
scanner_dir=$(sed -n 's/^imgDir *= *"\(.*\)"$/\1/p' <<< "$project_conf")
trs=$(sed -n 's/^numTRs *= *//p' <<< "$project_conf")
timeout_s="${DEMO_TIMEOUT:-300}"
pod=rtcloud-analyser-0
secret=rtcloud-analyser-certs
# podman's volumes for the claim, the ConfigMap and the Secret (kube down keeps them).
volumes=(data-rtcloud-analyser-0 rtcloud-analyser-project "$secret")

docker/build_images.sh

leftovers() {
    podman pod ps -q --filter "name=^$pod\$"
    for volume in "${volumes[@]}"; do podman volume ls -q --filter "name=^$volume\$"; done
    podman secret ls --format '{{.Name}}' | grep -x "$secret" || true
}
if [ -n "$(leftovers)" ]; then
    echo "kube_demo: $pod, its volumes or its secret exist (another run?):" >&2
    leftovers >&2
    exit 1
fi

mkdir -p "$out/logs" "$out/kube"
pids=()
down() {
    local status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    podman logs "$pod-analyser" > "$out/logs/analyser.log" 2>&1 || true
    if [ -f "$out/kube/play.yaml" ]; then
        podman kube down "$out/kube/play.yaml" > "$out/logs/kube-down.log" 2>&1 || true
    fi
    podman volume rm -f "${volumes[@]}" > /dev/null 2>&1 || true
    podman secret rm "$secret" > /dev/null 2>&1 || true
    rm -rf "$scanner_dir"
    rmdir "$(dirname "$scanner_dir")" 2>/dev/null || true
    demo_finish "$status"
}
trap down EXIT

# Certificates for the names a streamer dials (the Service, the pod, this machine) and a
# user with a random password; the Secret from them.
"$bin/data_analyser" make-certs --host rtcloud-analyser --host "$pod.rtcloud-analyser" \
    --host localhost --ip 127.0.0.1 --dir "$out/certs" > "$out/logs/make-certs.log"
(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' > "$out/certs/scanner-password")
"$bin/data_analyser" add-user -u scanner --password-stdin --passwd "$out/certs/passwd" \
    < "$out/certs/scanner-password" >> "$out/logs/make-certs.log"
/usr/bin/python3 deploy/kubetool.py secret "$out/certs" > "$out/kube/secret.yaml"

# A free port on 127.0.0.1 for the pod's port (podman 4.3 takes no port 0 in kube play).
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 deploy/kubetool.py podman --host-port "$port" --out "$out/kube" \
    "$out/kube/secret.yaml" deploy/kubernetes/*.yaml
podman secret create "$secret" "$out/kube/secret-$secret.yaml" > /dev/null
podman kube play "$out/kube/play.yaml" > "$out/logs/kube-play.log"
address="127.0.0.1:$port"
echo "kube_demo: $pod at https://$address" >&2

# What the probes ask, from here: the port answers, and the web page over TLS.
deadline=$((SECONDS + 60))
until curl --fail --silent --cacert "$out/certs/ca.crt" -o "$out/web-login.html" "https://$address/login"; do
    [ $SECONDS -lt $deadline ] || { echo "kube_demo: the pod's web page never answered" >&2; exit 1; }
    sleep 1
done

# The control room and the stimulus PC.
rm -rf "$scanner_dir" && mkdir -p "$scanner_dir"
"$bin/data_streamer" --server "$address" --ca "$out/certs/ca.crt" --user scanner \
    --password-file "$out/certs/scanner-password" --allowed-dirs "$scanner_dir" \
    --allowed-types .dcm > "$out/logs/streamer.log" 2>&1 &
pids+=($!)
"$bin/analysis_listener" --server "$address" --ca "$out/certs/ca.crt" --user scanner \
    --password-file "$out/certs/scanner-password" --out-dir "$out/feedback" \
    --results-port 0 > "$out/logs/listener.log" 2>&1 &
pids+=($!)

# The experimenter: log in to the web page and press Run (the session's main script).
jar="$out/kube/cookies"
printf '{"user":"scanner","password":"%s"}' "$(cat "$out/certs/scanner-password")" |
    curl --fail --silent --show-error --cacert "$out/certs/ca.crt" -c "$jar" \
        -H 'content-type: application/json' --data-binary @- -o /dev/null "https://$address/api/login"
csrf=$(curl --fail --silent --show-error --cacert "$out/certs/ca.crt" -b "$jar" "https://$address/api/state" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["csrf"])')
deadline=$((SECONDS + 60))
until curl --fail --silent --show-error --cacert "$out/certs/ca.crt" -b "$jar" \
    -H "x-csrf-token: $csrf" -H 'content-type: application/json' --data '{"kind":"main"}' \
    -o "$out/kube/run-answer.json" "https://$address/api/run" 2> "$out/logs/run.log"; do
    [ $SECONDS -lt $deadline ] || { echo "kube_demo: Run was refused: $(cat "$out/logs/run.log")" >&2; exit 1; }
    sleep 1
done
rm -f "$jar"

# The scanner: the recorded run into the scanner folder at TR pace.
"$bin/data_streamer" replay --source "$source_run" --into "$scanner_dir" --tr 0.5 \
    > "$out/logs/replay.log" 2>&1

demo_wait_results "$out/feedback" "$trs" "$timeout_s"
# The session as kept on the pod's volume (results, settings, logs).
podman cp "$pod-analyser:/var/lib/rtcloud/sessions" "$out/session"
