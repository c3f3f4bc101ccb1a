"""The containers for real (issue 18): scripts/compose_demo.sh and scripts/kube_demo.sh
run as a user would, then what they left is checked: every TR's result in the host
folder, the web page fetched over TLS from the host, the images small and non-root,
and no container, pod, volume or secret left behind.

Run by scripts/test.sh after docker/build.sh target/docker-out (the release binaries
the images take): target/pyenv/bin/python -m pytest -q docker/test_containers.py
Needs root (podman as root, apt-get); without it the tests are skipped, except under
CI=true, where that is a failure.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import tomllib
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "docker", "containers.conf"))
#: Upper bounds that catch a regression (measured 2026-12-01: slim 130 MB, with Python
#: 246 MB; the binaries grew from 47 to 54 MB with protocol QA's bundled SQLite and the
#: OpenNeuro HTTPS client).
#: Issue 18's goal for the image with Python is under 150 MB: not met yet (the Debian
#: base is 77 MB, the binaries 47, Python with numpy and grpcio 115; docs/deploy.md).
SLIM_IMAGE_MAX_MB = 140
PYTHON_IMAGE_MAX_MB = 256

if os.geteuid() != 0:
    if os.environ.get("CI") == "true":
        pytest.fail("the container tests need root (podman, apt-get)", pytrace=False)
    pytest.skip("the container tests need root (podman, apt-get)", allow_module_level=True)


def podman(*args):
    return subprocess.run(["podman", *args], env=ENV, check=True, capture_output=True, text=True).stdout


def run_script(name, out):
    """Runs scripts/NAME OUT; its output goes to the test log."""
    result = subprocess.run([os.path.join(ROOT, "scripts", name), str(out)], cwd=ROOT, env=ENV,
                            stdout=sys.stdout, stderr=subprocess.STDOUT)
    assert result.returncode == 0, f"scripts/{name} failed (logs in {out}/logs)"


def assert_every_tr(results, trs):
    """One result per TR, for `trs` consecutive TRs."""
    first = min(results, default=0)
    assert sorted(results) == list(range(first, first + trs)), sorted(results)


def tr_results(folder):
    """{TR index: parsed JSON} of every tr-NNNN.json under `folder`."""
    results = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            match = re.fullmatch(r"tr-(\d+)\.json", name)
            if match:
                index = int(match.group(1))
                assert index not in results, f"TR {index} written twice"
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    results[index] = json.load(f)
    return results


def assert_login_page(path):
    with open(path, encoding="utf-8") as f:
        page = f.read()
    assert "<form" in page and 'type="password"' in page, f"{path} is not the login page"


def test_compose_demo(tmp_path):
    out = tmp_path / "demo-out"
    run_script("compose_demo.sh", out)

    with open(os.path.join(ROOT, "docker", "roi-feedback.toml"), "rb") as f:
        assert_every_tr(tr_results(out), tomllib.load(f)["numTRs"])
    assert_login_page(out / "web-login.html")
    assert (out / "web-login-answer.json").is_file(), "the generated password did not log in"
    assert "random password" in (out / "logs" / "certs.log").read_text()
    left = podman("ps", "-a", "-q", "--filter", "label=io.podman.compose.project=rtcloud-demo")
    left += podman("volume", "ls", "-q", "--filter", "label=io.podman.compose.project=rtcloud-demo")
    assert left == "", f"left behind: {left}"

    sizes = {}
    for tag, limit in (("slim", SLIM_IMAGE_MAX_MB), ("latest", PYTHON_IMAGE_MAX_MB)):
        image = f"localhost/rtcloud-rs:{tag}"
        size_mb = int(podman("image", "inspect", "--format", "{{.Size}}", image)) / 1e6
        sizes[tag] = size_mb
        assert size_mb < limit, f"{image} is {size_mb:.0f} MB (bound: {limit} MB)"
        assert podman("image", "inspect", "--format", "{{.Config.User}}", image).strip() == "10001:10001"
        assert podman("run", "--rm", image, "id", "-u").strip() == "10001"
    print(f"image sizes: slim {sizes['slim']:.1f} MB, with Python {sizes['latest']:.1f} MB")


def test_kube_demo(tmp_path):
    out = tmp_path / "kube-out"
    run_script("kube_demo.sh", out)

    with open(os.path.join(ROOT, "deploy", "kubernetes", "project.yaml"), encoding="utf-8") as f:
        settings = tomllib.loads(yaml.safe_load(f)["data"]["sample_py.toml"])
    assert_every_tr(tr_results(out / "feedback"), settings["numTRs"])
    assert_login_page(out / "web-login.html")
    # The pod's own record of the session, from its persistent volume.
    session_files = [f for _, _, files in os.walk(out / "session") for f in files]
    assert session_files, "no session on the pod's volume"
    left = podman("pod", "ps", "-q", "--filter", "name=^rtcloud-analyser-0$")
    for volume in ("data-rtcloud-analyser-0", "rtcloud-analyser-project", "rtcloud-analyser-certs"):
        left += podman("volume", "ls", "-q", "--filter", f"name=^{volume}$")
    left += "".join(n for n in podman("secret", "ls", "--format", "{{.Name}}").split() if n == "rtcloud-analyser-certs")
    assert left == "", f"left behind: {left}"
