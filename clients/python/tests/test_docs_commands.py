"""The commands README.md and docs/ show in ```sh blocks, run in a fresh folder as a
user types them: relative paths and default folders as written, passwords typed at the
prompt (a pseudo-terminal), the programs found on PATH.

Only what exists on a real site alone is replaced, each replacement listed in
Site.as_run_here: the analyser's host name and address, the fixed ports (tests bind
port 0), the scanner folders /data/scans and /tmp/scanner (folders of this test) and
the home folder (this test's).
Every documented command is either run here or listed in NOT_RUN with the reason and
the test that covers it, so a new command cannot go unrun unnoticed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest

from conftest import REPO_ROOT, SKYRA, shared_dir
from programs import WAIT_S, Web, bin_dir, programs, stopped_at_end  # noqa: F401 (fixture)

PASSWORD = "tr0mbone staple"

#: Documented commands that are not run here, and why.
NOT_RUN = {
    "git clone <this repository> rtcloud-rs && cd rtcloud-rs": "fetches the repository (the test runs in it)",
    "cargo build --release -p data_analyser -p data_streamer -p analysis_listener": "a release build (CI builds the same crates in debug)",
    "scripts/test.sh": "runs every test, this one included",
    # The chain benchmark (docs/performance.md): minutes of wall time, a measurement
    # made by hand on an idle machine (never in CI).
    "cargo build --release -p data_streamer -p analysis_listener && cargo bench -p data_analyser --bench chain": "the chain benchmark: about 6 minutes of three 300-TR chains, run by hand for docs/performance.md",
    "BENCH_VOLUMES=200 BENCH_BASELINE_DIR=$PWD/target/baseline cargo bench -p data_analyser --bench chain": "the chain benchmark against an earlier build's programs, run by hand (needs that build)",
    # The fault suite (docs/faults.md): scripts/test.sh runs both, exactly as written.
    "docker/build.sh target/docker-out": "scripts/test.sh runs it (the release build)",
    "scripts/faults.sh target/docker-out": "scripts/test.sh runs it after docker/build.sh",
    "pip install ./clients/python": "scripts/setup_python.sh installs the same package (editable) for the tests",
    "cargo run --release -p data_analyser -- demo": "listens on the fixed ports 8888/8890 until stopped; data_analyser's tests/it/demo.rs runs the demo",
    "cargo run --release -p data_analyser -- demo --auto-run --exit-after-run --tr 0.5": "fixed ports 8888/8890; data_analyser's tests/it/demo.rs runs it with ports 0",
    # The containers (docs/deploy.md): docker/test_containers.py (run by scripts/test.sh)
    # runs both demo scripts with a temporary OUT folder instead of demo-out / kube-out.
    "scripts/compose_demo.sh demo-out": "docker/test_containers.py runs it with a temporary OUT",
    "scripts/kube_demo.sh kube-out": "docker/test_containers.py runs it with a temporary OUT",
    "docker/build_images.sh": "both demo scripts run it (docker/test_containers.py)",
    "podman-compose -f docker/docker-compose.yml -p rtcloud-demo up -d certs": "a step of scripts/compose_demo.sh (docker/test_containers.py)",
    "podman-compose -f docker/docker-compose.yml -p rtcloud-demo up -d": "a step of scripts/compose_demo.sh (docker/test_containers.py)",
    "podman-compose -f docker/docker-compose.yml -p rtcloud-demo exec -T analyser cat /certs/demo-password": "a step of scripts/compose_demo.sh, which reads the password this way (docker/test_containers.py)",
    "podman-compose -f docker/docker-compose.yml -p rtcloud-demo down -v": "a step of scripts/compose_demo.sh's clean-up (docker/test_containers.py)",
}

#: The user guide's session (sections 2, 3 and 6), in the order a user types it.
SESSION = [
    "data_analyser make-certs --host analyser.lab.example --ip 192.168.2.5",
    "data_analyser add-user -u scanner --roles streamer --stations scanner",
    "data_analyser add-user -u stimulus --roles listener",
    "data_analyser add-user -u alice --roles experimenter",
    "data_analyser --projects projects --project sample_py --data-remote --subject-remote",
    "data_streamer --server analyser.lab.example:8888 --ca ca.crt --user scanner --password-file ~/.rtcloud-password --allowed-dirs /data/scans --allowed-types .dcm,.txt",
    "data_streamer replay --source recorded/ --into /data/scans --tr 1.5 --rename '001_000013_{TR:06d}.dcm'",
    "analysis_listener --server analyser.lab.example:8888 --ca ca.crt --user stimulus --password-file ~/.rtcloud-password --out-dir feedback",
]
#: README's session in three terminals (cargo run --release -p X -- ARGS runs X ARGS).
README_SESSION = [
    "cargo run --release -p data_analyser -- make-certs --host localhost --ip 127.0.0.1",
    "cargo run --release -p data_analyser -- add-user -u scanner",
    "cargo run --release -p data_analyser -- --project sample --config sample.toml --data-remote --subject-remote --run-on-start",
    "cargo run --release -p data_streamer -- --server 127.0.0.1:8888 --ca certs/ca.crt --user scanner --allowed-dirs /tmp/scanner --allowed-types .dcm",
    "cargo run --release -p analysis_listener -- --server 127.0.0.1:8888 --ca certs/ca.crt --user scanner --out-dir feedback",
    "cargo run --release -p data_streamer -- replay --source ../shared/testdata/siemens-mosaic-skyra-e11 --into /tmp/scanner --tr 1.5 --rename '001_000013_{TR:06d}.dcm' --start-index 0",
]
#: The user guide's protocol QA (section 9), in the order a user types it.
QA = [
    "data_analyser qa learn /data/scans/known-good",
    "data_analyser qa show",
    "data_analyser qa set --study 'Research^Rorden_Prisma' --series ep2d_Asc shim --tolerance +-5",
    "data_analyser qa check /data/scans/20261201",
]
#: Commands of the README run as written (cargo run --release -p X -- ARGS runs X ARGS).
CHEAP = [
    "cargo run --release -p data_analyser -- make-certs --host localhost --ip 127.0.0.1",
    "cargo run --release -p data_analyser -- add-user -u scanner",
]


def check_docs():
    spec = importlib.util.spec_from_file_location("check_docs", REPO_ROOT / "scripts" / "check_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented() -> List[Tuple[str, str]]:
    """(file, command) of every ```sh command in README.md and docs/*.md."""
    docs = check_docs()
    files = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    return [(str(f.relative_to(REPO_ROOT)), c) for f in files for c in docs.sh_commands(f.read_text(encoding="utf-8"))]


def test_every_documented_command_is_run_or_explained() -> None:
    handled = set(NOT_RUN) | set(SESSION) | set(README_SESSION) | set(CHEAP) | set(QA)
    commands = documented()
    assert len(commands) > 15, commands
    unhandled = [(f, c) for f, c in commands if c not in handled]
    assert not unhandled, f"run these in a test (or explain in NOT_RUN why not): {unhandled}"
    stale = handled - {c for _, c in commands}
    assert not stale, f"no longer in the docs: {stale}"


class Site:
    """A fresh folder as the user's: HOME, PATH with our binaries, the repo's projects/."""

    def __init__(self, tmp: Path, binaries: Path, port: int = 0) -> None:
        self.root = tmp / "site"
        self.logs = tmp
        self.root.mkdir()
        path = tmp / "bin"
        path.mkdir()
        for name in ("data_analyser", "data_streamer", "analysis_listener"):
            (path / name).symlink_to(binaries / name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RTCLOUD_")}
        self.env.update(HOME=str(self.root), PATH=f"{path}{os.pathsep}{os.environ['PATH']}", RUST_LOG="info")
        self.port = port

    def as_run_here(self, command: str) -> str:
        """`command` with this site's names for what only a real site has (none of
        these touches a relative path or a default)."""
        site = {
            # The analyser's name and address: this machine's, as the certificate says.
            "analyser.lab.example:8888": f"localhost:{self.port}",
            "analyser.lab.example": "localhost",
            "192.168.2.5": "127.0.0.1",
            # The scanner console's folder: one of this test's.
            "/data/scans": str(self.root / "data" / "scans"),
            "/tmp/scanner": str(self.root / "scanner"),
            "127.0.0.1:8888": f"127.0.0.1:{self.port}",
        }
        for old, new in site.items():
            command = command.replace(old, new)
        if command.startswith("cargo run --release -p "):
            package, rest = command[len("cargo run --release -p "):].split(" -- ", 1)
            command = f"{package} {rest}"
        return command

    def shell(self, command: str, typed: Sequence[str] = ()) -> str:
        """Runs `command` to its end on a terminal (see Typist); fails on a non-zero exit."""
        typist = Typist(self, command, typed, self.logs / f"shell-{time.monotonic_ns()}.log")
        code = typist.wait()
        assert code == 0, f"{command}:\n{typist.output()}"
        return typist.output()


class Typist:
    """A command in bash on a pseudo-terminal, as a user runs it: each of `typed` is
    typed at the next password prompt; the output goes to `log`."""

    def __init__(self, site: Site, command: str, typed: Sequence[str], log: Path) -> None:
        self.log = log
        log.write_bytes(b"")  # readable at once; the reader appends
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the user's shell, in a session of its own
            os.chdir(site.root)
            os.execvpe("bash", ["bash", "-c", site.as_run_here(command)], site.env)
        self.answers = list(typed)
        self.status: Optional[int] = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        output, answered_to = b"", 0
        with open(self.log, "ab") as log:
            while True:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                log.write(chunk)
                log.flush()
                # A prompt is what the output ends with while the program waits; each
                # gets one answer (what it echoes back is not a prompt).
                waiting = re.search(rb"password[^\r\n]*: ?\Z", output[answered_to:], re.I)
                if waiting and self.answers:
                    os.write(self.fd, self.answers.pop(0).encode() + b"\n")
                    answered_to = len(output)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = WAIT_S) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self.reader.join(5)
                os.close(self.fd)
                return self.status
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"still running after {timeout} s:\n{self.output()}")

    def wait_output(self, what: str, pattern: str, timeout: float = WAIT_S) -> "re.Match[str]":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {what}:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM to its session's process group, SIGKILL after 10 s."""
        if self.status is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = os.waitstatus_to_exitcode(status)
                    os.close(self.fd)
                    return
                time.sleep(0.05)


@pytest.fixture
def typists():
    """start(site, command, typed, log) -> Typist, stopped when the test ends."""
    with stopped_at_end(Typist) as start:
        yield start


def test_the_readmes_cheap_commands_run_as_written(tmp_path: Path) -> None:
    site = Site(tmp_path, bin_dir())
    site.shell(CHEAP[0])
    assert (site.root / "certs" / "ca.crt").is_file() and (site.root / "certs" / "server.key").is_file()
    out = site.shell(CHEAP[1], typed=[PASSWORD, PASSWORD])
    assert "added user scanner in certs/passwd" in out
    assert "scanner:" in (site.root / "certs" / "passwd").read_text()


def test_the_user_guides_protocol_qa_runs_as_written(tmp_path: Path) -> None:
    """Section 9: templates learned from a known-good session, shown, edited by hand, and
    a new session (the same protocol) checked all green, in the default sessions folder."""
    testdata = shared_dir() / "testdata" / "siemens-mosaic-d13"
    site = Site(tmp_path, bin_dir())
    scans = site.root / "data" / "scans"
    shutil.copytree(testdata / "ep2d_Asc_2", scans / "known-good" / "ep2d_Asc_2")
    shutil.copytree(testdata / "ep2d_Asc_2", scans / "20261201")
    assert "1 template(s) from 1 series" in site.shell(QA[0])
    assert (site.root / "sessions" / "protocol-qa.sqlite").is_file()
    shown = site.shell(QA[1])
    assert "template Research^Rorden_Prisma / ep2d_Asc" in shown and "te_ms" in shown
    site.shell(QA[2])
    assert "±5" in site.shell(QA[1])
    checked = site.shell(QA[3])
    assert ": green" in checked and " red" not in checked, checked


def wait_results(folder: Path, count: int, timeout: float = WAIT_S) -> List[float]:
    """The values of run-1/tr-0001.json ... tr-COUNT.json, once all are there."""
    deadline = time.monotonic() + timeout
    last = folder / "run-1" / f"tr-{count:04d}.json"
    while not last.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return [json.loads((folder / "run-1" / f"tr-{tr:04d}.json").read_text())["value"] for tr in range(1, count + 1)]


def test_the_user_guides_session_runs_as_written(tmp_path: Path, programs, typists, skyra_ref_means) -> None:  # noqa: F811
    """Sections 2, 3 and 6 of the user guide, from a fresh folder: certificates, users,
    the analyser with --projects projects and the default sessions folder, the streamer
    and the listener with their relative paths, a recorded run replayed into the scanner
    folder, Run on the web page; the stimulus PC gets sample_py's feedback."""
    site = Site(tmp_path, bin_dir())
    shutil.copytree(REPO_ROOT / "projects", site.root / "projects")
    recorded = site.root / "recorded"
    recorded.mkdir()
    for k in range(1, 11):  # the Skyra run without its duplicate first file
        name = f"001_000013_{k:06d}.dcm"
        shutil.copyfile(shared_dir() / "testdata" / SKYRA / name, recorded / name)
    (site.root / "data" / "scans").mkdir(parents=True)

    site.shell(SESSION[0])
    for add_user in SESSION[1:4]:  # scanner, stimulus, alice (the experimenter)
        site.shell(add_user, typed=[PASSWORD, PASSWORD])
    # "Copy certs/ca.crt to the scanner console and the stimulus PC"; the password file.
    shutil.copyfile(site.root / "certs" / "ca.crt", site.root / "ca.crt")
    (site.root / ".rtcloud-password").write_text(PASSWORD + "\n")

    def start(command: str, log: str, extra: Sequence[str] = ()):
        argv = ["bash", "-c", f"exec {site.as_run_here(command)} {' '.join(extra)}"]
        env = dict(site.env, RTCLOUD_PYTHON=sys.executable)
        return programs(argv, site.root, tmp_path / log, env)

    # The analyser's port: this test's (the guide's default 8888 is fixed).
    analyser = start(SESSION[4], "analyser.log", ["--host", "127.0.0.1", "--port", "0"])
    site.port = analyser.port()
    start(SESSION[5], "streamer.log")
    start(SESSION[7], "listener.log", ["--results-port", "0"])
    web = Web(site.port, site.root / "ca.crt")
    web.login("alice", PASSWORD)
    web.wait_connected()
    # "adjust the settings": the scanner folder, a path on the streamer's machine.
    web.call("POST", "/api/settings", {"key": "imgDir", "value": str(site.root / "data" / "scans")})
    start(SESSION[6], "replay.log")
    launch = web.run("main")
    sessions = list((site.root / "sessions" / "sample_py").iterdir())
    assert len(sessions) == 1, sessions
    log = (sessions[0] / launch["dir"] / "log.txt").read_text(errors="replace")
    assert launch["succeeded"], log
    # The stimulus PC's folder: each TR's feedback, (mean - 0) / (1500 - 0).
    values = wait_results(site.root / "feedback", 10)
    assert values == pytest.approx([m / 1500.0 for m in skyra_ref_means], rel=1e-9)


def test_the_readmes_session_runs_as_written(tmp_path: Path, typists, skyra_ref_means) -> None:  # noqa: F811
    """README's three terminals: certificates, a user, the built-in sample with
    sample.toml, the streamer and listener typing their passwords, the replay of
    ../shared's Skyra run; --run-on-start runs it once both are connected."""
    site = Site(tmp_path, bin_dir())
    # The README runs in the repository, beside ../shared.
    (tmp_path / "shared").symlink_to(shared_dir())
    site.shell(README_SESSION[0])
    site.shell(README_SESSION[1], typed=[PASSWORD, PASSWORD])
    # "sample.toml: crates/builtin_projects/conf/sample.toml with imgDir = "/tmp/scanner""
    text = (REPO_ROOT / "crates/builtin_projects/conf/sample.toml").read_text()
    scanner = site.as_run_here("/tmp/scanner")
    Path(scanner).mkdir()  # the scanner's folder exists before the streamer starts
    assert 'imgDir = "/data/scanner"' in text
    (site.root / "sample.toml").write_text(text.replace('imgDir = "/data/scanner"', f'imgDir = "{scanner}"'))
    analyser = typists(site, README_SESSION[2] + " --host 127.0.0.1 --port 0", [], tmp_path / "analyser.log")
    site.port = int(analyser.wait_output("Listening line", r"Listening on: https://127\.0\.0\.1:(\d+)").group(1))
    typists(site, README_SESSION[3], [PASSWORD], tmp_path / "streamer.log")
    typists(site, README_SESSION[4] + " --results-port 0", [PASSWORD], tmp_path / "listener.log")
    typists(site, README_SESSION[5], [], tmp_path / "replay.log")
    values = wait_results(site.root / "feedback", 10)
    assert values == pytest.approx([m / 1500.0 for m in skyra_ref_means], rel=1e-9)
