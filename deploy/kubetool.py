#!/usr/bin/env python3
"""Helpers for the Kubernetes manifests in deploy/kubernetes/.

  kubetool.py secret CERTS_DIR > secret.yaml
      The Secret rtcloud-analyser-certs from a folder made by `data_analyser make-certs`
      and `data_analyser add-user`: ca.crt, server.crt, server.key and passwd (never
      ca.key, which stays off the cluster). For `kubectl apply -f`, as for the others.

  kubetool.py podman --host-port PORT --out DIR MANIFEST...
      The same manifests in the form podman 4.3 (Debian 12) plays with `podman kube
      play`, written to DIR/play.yaml and DIR/secret-NAME.yaml (for `podman secret
      create`). It changes only what that podman cannot take as it is:
      - a StatefulSet becomes its first pod (NAME-0), each volumeClaimTemplate a
        PersistentVolumeClaim named as the StatefulSet's (TEMPLATE-NAME-0);
      - a Service is left out (podman has none): the pod's port is published on
        127.0.0.1:PORT instead (podman would publish it on every address, at 8888);
      - probes are left out: podman runs them inside the container with curl or nc,
        which the image does not have; the caller checks the port from the host;
      - a Secret is written decoded, for `podman secret create`: podman 4.3 mounts a
        played Secret's data still base64-encoded.
Needs PyYAML (Debian's python3-yaml).
"""

import argparse
import base64
import copy
import os
import sys

import yaml

SECRET_NAME = "rtcloud-analyser-certs"
SECRET_FILES = ("ca.crt", "server.crt", "server.key", "passwd")


def secret_manifest(certs_dir, name=SECRET_NAME):
    """The Secret (base64 `data`) holding SECRET_FILES from `certs_dir`."""
    data = {}
    for file_name in SECRET_FILES:
        path = os.path.join(certs_dir, file_name)
        if not os.path.isfile(path):
            raise SystemExit(f"kubetool: {path} is missing (make it with data_analyser make-certs / add-user)")
        with open(path, "rb") as f:
            data[file_name] = base64.b64encode(f.read()).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "rtcloud-analyser"}},
        "type": "Opaque",
        "data": data,
    }


def statefulset_pod(statefulset, host_port):
    """The first pod of `statefulset` and the claims of its volume templates."""
    name = statefulset["metadata"]["name"]
    template = copy.deepcopy(statefulset["spec"]["template"])
    pod_name = f"{name}-0"
    spec = template["spec"]
    claims = []
    for claim_template in statefulset["spec"].get("volumeClaimTemplates", []):
        claim = copy.deepcopy(claim_template)
        claim_name = f"{claim['metadata']['name']}-{pod_name}"
        spec.setdefault("volumes", []).append(
            {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
        )
        claim["metadata"]["name"] = claim_name
        claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim})
    for container in spec["containers"]:
        container.pop("readinessProbe", None)
        container.pop("livenessProbe", None)
        container.pop("startupProbe", None)
        for port in container.get("ports", []):
            port["hostIP"] = "127.0.0.1"
            port["hostPort"] = host_port
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "labels": template.get("metadata", {}).get("labels", {})},
        "spec": spec,
    }
    return pod, claims


def podman_form(documents, host_port):
    """(documents to play, {secret name: decoded Secret})."""
    play, secrets = [], {}
    for doc in documents:
        kind = doc.get("kind")
        if kind == "StatefulSet":
            pod, claims = statefulset_pod(doc, host_port)
            play += claims + [pod]
        elif kind == "Secret":
            decoded = {k: base64.b64decode(v).decode("utf-8") for k, v in doc.get("data", {}).items()}
            decoded.update(doc.get("stringData", {}))
            secrets[doc["metadata"]["name"]] = {k: v for k, v in doc.items() if k != "stringData"} | {"data": decoded}
        elif kind == "Service":
            continue
        elif kind in ("ConfigMap", "PersistentVolumeClaim", "Pod", "Deployment"):
            play.append(doc)  # podman orders the kinds itself
        else:
            raise SystemExit(f"kubetool: no podman form for kind {kind}")
    return play, secrets


def load(paths):
    documents = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            documents += [d for d in yaml.safe_load_all(f) if d]
    return documents


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    secret = commands.add_parser("secret", help="the Secret from a certificates folder, on stdout")
    secret.add_argument("certs_dir")
    secret.add_argument("--name", default=SECRET_NAME)
    podman = commands.add_parser("podman", help="the manifests in the form podman 4.3 plays")
    podman.add_argument("--host-port", type=int, required=True, help="port on 127.0.0.1 for the pod's port")
    podman.add_argument("--out", required=True, help="folder for play.yaml and secret-NAME.yaml")
    podman.add_argument("manifests", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "secret":
        yaml.safe_dump(secret_manifest(args.certs_dir, args.name), sys.stdout, sort_keys=False)
        return 0
    play, secrets = podman_form(load(args.manifests), args.host_port)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "play.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump_all(play, f, sort_keys=False)
    for name, doc in secrets.items():
        path = os.path.join(args.out, f"secret-{name}.yaml")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
