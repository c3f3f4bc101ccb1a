"""docs/porting-from-rtcloud.md cannot drift: its table of RT-Cloud calls is checked
against the compatibility layer, and against the calls RT-Cloud's own projects make."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

from conftest import REPO_ROOT, shared_dir
from rtcloud_client import ClientInterface
from rtcloud_client.bids import BidsArchive, BidsIncremental, BidsRun
from rtcloud_client.compat import (
    BidsInterfaceCompat,
    DataInterfaceCompat,
    SubjectInterfaceCompat,
    WebInterfaceCompat,
)

GUIDE = REPO_ROOT / "docs" / "porting-from-rtcloud.md"
STATUSES = {"same", "different", "renamed", "missing", "added"}
#: The object behind each interface prefix of the table.
INTERFACES = {
    "clientInterface": ClientInterface,
    "dataInterface": DataInterfaceCompat,
    "subjInterface": SubjectInterfaceCompat,
    "webInterface": WebInterfaceCompat,
    "bidsInterface": BidsInterfaceCompat,
    "BidsIncremental": BidsIncremental,
    "BidsRun": BidsRun,
    "BidsArchive": BidsArchive,
}
#: Modules of the compatibility layer whose public names must all be in the table.
MODULES = ("utils", "imageHandling", "dataInterface", "errors", "structDict", "clientInterface")
#: Attributes a ClientInterface sets in __init__ (not visible on the class).
CLIENT_ATTRIBUTES = {"data", "subject", "web", "bids", "dataInterface", "subjInterface", "webInterface", "bidsInterface"}


def guide_rows() -> Dict[str, str]:
    """Call name -> status, from every table row `| `name` | status | ...`."""
    rows: Dict[str, str] = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([\w.]+)` \| (\w+) \|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = m.group(2)
    return rows


def offered(name: str) -> bool:
    """True when the compatibility layer offers `name` (not through a catch-all)."""
    prefix, _, attr = name.rpartition(".")
    if prefix in INTERFACES:
        cls = INTERFACES[prefix]
        if cls is ClientInterface and attr in CLIENT_ATTRIBUTES:
            return True
        value = getattr(cls, attr, None)
        return attr in dir(cls) and (callable(value) or isinstance(value, property))
    if prefix.startswith("rtCommon."):
        try:
            module = importlib.import_module(prefix)
        except ModuleNotFoundError:
            return False
        return attr in vars(module)
    raise AssertionError(f"the guide names {name}, which is neither rtCommon.* nor an interface")


def public_names() -> Iterator[str]:
    """Every public name the compatibility layer offers."""
    for prefix, cls in INTERFACES.items():
        names = {n for n, _ in inspect.getmembers(cls, callable) if not n.startswith("_")}
        if cls is ClientInterface:
            names |= CLIENT_ATTRIBUTES
        for name in sorted(names):
            yield f"{prefix}.{name}"
    for module_name in MODULES:
        module = importlib.import_module(f"rtCommon.{module_name}")
        for name, value in vars(module).items():
            if name.startswith("_") or inspect.ismodule(value):
                continue
            defined_here = getattr(value, "__module__", None) == module.__name__
            exported = name in getattr(module, "__all__", ())
            if (callable(value) and defined_here) or exported:
                yield f"rtCommon.{module_name}.{name}"


def rtcloud_project_calls(projects: Path) -> Set[Tuple[str, str]]:
    """(call, where) of each RT-Cloud call in RT-Cloud's own projects."""
    calls = set()
    for script in sorted(projects.rglob("*.py")):
        text = script.read_text(encoding="utf-8")
        where = str(script.relative_to(projects))
        for m in re.finditer(r"\b(dataInterface|subjInterface|webInterface|bidsInterface)\.(\w+)\(", text):
            calls.add((f"{m.group(1)}.{m.group(2)}", where))
        for m in re.finditer(r"^from (rtCommon\.\w+) import ([\w, ]+)$", text, re.M):
            for name in m.group(2).split(","):
                calls.add((f"{m.group(1)}.{name.strip()}", where))
        for m in re.finditer(r"^import (rtCommon\.\w+) as (\w+)$", text, re.M):
            for use in re.finditer(rf"\b{m.group(2)}\.(\w+)\(", text):
                calls.add((f"{m.group(1)}.{use.group(1)}", where))
        for m in re.finditer(r"\bclientInterfaces?\.(\w+)\b", text):
            calls.add((f"clientInterface.{m.group(1)}", where))
    return calls


def test_every_row_has_a_known_status() -> None:
    rows = guide_rows()
    assert len(rows) > 100, "the table was not found"
    bad = {name: status for name, status in rows.items() if status not in STATUSES}
    assert not bad, f"unknown statuses (use {sorted(STATUSES)}): {bad}"


def test_the_statuses_match_the_code() -> None:
    wrong = []
    for name, status in guide_rows().items():
        is_offered = offered(name)
        if status in ("same", "different", "added") and not is_offered:
            wrong.append(f"{name} is marked {status} but the client does not offer it")
        if status in ("renamed", "missing") and is_offered:
            wrong.append(f"{name} is marked {status} but the client offers it: update the guide")
    assert not wrong, "\n".join(wrong)


def test_every_public_name_of_the_layer_is_listed() -> None:
    rows = guide_rows()
    unlisted = sorted(set(public_names()) - set(rows))
    assert not unlisted, f"add these to docs/porting-from-rtcloud.md: {unlisted}"


def test_every_call_of_rtclouds_projects_is_listed() -> None:
    projects = shared_dir() / "rtcloud-projects" / "projects"
    if not projects.is_dir():
        pytest.skip(f"no {projects}")
    rows = guide_rows()
    calls = rtcloud_project_calls(projects)
    assert len(calls) > 20, f"RT-Cloud's projects should make many calls: {calls}"
    unlisted = sorted((call, where) for call, where in calls if call not in rows)
    assert not unlisted, f"RT-Cloud's projects make calls the guide does not list: {unlisted}"
