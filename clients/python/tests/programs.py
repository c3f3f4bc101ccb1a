"""The real binaries for end-to-end tests: found in target/debug (built by `cargo test
--workspace` before the Python tests), started with their output captured, always
stopped (process group) when the test ends, and the analyser's web API over TLS."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import pytest

from conftest import REPO_ROOT

#: A failure guard only: a debug build on a loaded 2-core machine is slow.
WAIT_S = 120.0


def bin_dir() -> Path:
    """target/debug with the three binaries; skips (fails under CI=true) without them."""
    folder = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target")) / "debug"
    missing = [n for n in ("data_analyser", "data_streamer", "analysis_listener") if not (folder / n).exists()]
    if missing:
        message = f"{', '.join(missing)} missing in {folder}: cargo build -p {' -p '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


class Program:
    """One running binary: stdout lines as they come, stderr in a file."""

    def __init__(self, argv: Sequence[str], cwd: Path, log: Path, env: Optional[Dict[str, str]] = None) -> None:
        self.argv = list(argv)
        self.log = log
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.stdout: List[str] = []
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=err, text=True, start_new_session=True,
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_line(self, what: str, pred: Callable[[str], bool], timeout: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                if left <= 0:
                    raise AssertionError(f"no {what} from {self.argv[0]}; stderr:\n{self.stderr()}") from None
                continue
            if pred(line):
                return line

    def port(self) -> int:
        """The port of data_analyser's `Listening on: https://HOST:PORT` line."""
        return int(self.wait_line("Listening line", lambda l: l.startswith("Listening on: ")).rsplit(":", 1)[1])

    def wait_exit(self, timeout: float = WAIT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv} still running; stderr:\n{self.stderr()}") from None

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()


@contextlib.contextmanager
def stopped_at_end(make: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A function that starts things with `make` (each having .stop()); every one is
    stopped, last first, when the block ends, also on failure."""
    started: List[Any] = []

    def start(*args: Any) -> Any:
        thing = make(*args)
        started.append(thing)
        return thing

    try:
        yield start
    finally:
        for thing in reversed(started):
            thing.stop()


@pytest.fixture
def programs():
    """start(argv, cwd, log, env=None) -> Program, stopped when the test ends."""
    with stopped_at_end(Program) as start:
        yield start


class Web:
    """The experimenter's web API (`/api/...`) over TLS, logged in like the page."""

    def __init__(self, port: int, ca: Path) -> None:
        self.url = f"https://127.0.0.1:{port}"
        self.context = ssl.create_default_context(cafile=str(ca))
        self.cookie = ""
        self.csrf = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"content-type": "application/json", "cookie": self.cookie, "x-csrf-token": self.csrf}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, context=self.context, timeout=30) as reply:
            if "set-cookie" in reply.headers:
                self.cookie = reply.headers["set-cookie"].split(";", 1)[0]
            return json.loads(reply.read() or b"null")

    def login(self, user: str, password: str) -> None:
        self.call("POST", "/api/login", {"user": user, "password": password})
        self.csrf = self.state()["csrf"]

    def state(self) -> Dict[str, Any]:
        return self.call("GET", "/api/state")

    def wait_connected(self, timeout: float = WAIT_S) -> None:
        """Until the streamer and a listener are connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.state()["connections"]
            if any(s["connected"] for s in c["streamers"]) and any(l["connected"] for l in c["listeners"]):
                return
            time.sleep(0.1)
        raise AssertionError(f"streamer or listener never connected: {self.state()['connections']}")

    def run(self, kind: str, timeout: float = WAIT_S) -> Dict[str, Any]:
        """Starts the main, initialize or finalize script and returns its launch once ended."""
        number = self.call("POST", "/api/run", {"kind": kind})["launch"]["number"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            launch = next(l for l in self.state()["launches"] if l["number"] == number)
            if launch["ended_at"] is not None:
                return launch
            time.sleep(0.1)
        raise AssertionError(f"the {kind} launch {number} did not end in {timeout} s")
