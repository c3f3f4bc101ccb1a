"""projects/sample_py run alone (local mode) on the Skyra run: its plotted means are the reference's."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

SAMPLE = REPO_ROOT / "projects" / "sample_py"


def _config(tmp_path: Path, img_dir: Path, **changes: str) -> Path:
    """The project's config with imgDir (and any other line) replaced, as a user edits it."""
    fields = {"imgDir": f'"{img_dir}"', **changes}
    lines = []
    for line in (SAMPLE / "conf" / "sample_py.toml").read_text().splitlines():
        key = line.split("=")[0].strip()
        lines.append(f"{key} = {fields[key]}" if key in fields else line)
    path = tmp_path / "sample_py.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCLOUD_")}
    return subprocess.run(
        [sys.executable, str(SAMPLE / "sample_py.py"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )


def test_sample_prints_and_plots_the_reference_means(tmp_path: Path, skyra_dir: Path, skyra_ref_means) -> None:
    config = _config(tmp_path, skyra_dir)
    done = _run(tmp_path, "--config", str(config), "--runs", "1", "--scans", "13")
    assert done.returncode == 0, done.stderr
    logs = [line for line in done.stdout.splitlines() if line.startswith("user_log: run 1 TR ")]
    assert len(logs) == 10
    assert logs[0] == f"user_log: run 1 TR 1: mean {skyra_ref_means[0]:.3f} feedback {skyra_ref_means[0] / 1500:.4f}"
    with open(tmp_path / "rtcloud-local" / "plot.tsv", newline="") as f:
        plotted = list(csv.DictReader(f, delimiter="\t"))
    assert [int(p["tr"]) for p in plotted] == list(range(1, 11))
    for point, ref in zip(plotted, skyra_ref_means):
        assert float(point["value"]) == pytest.approx(ref, rel=1e-6)
    with open(tmp_path / "rtcloud-local" / "results.tsv", newline="") as f:
        results = list(csv.DictReader(f, delimiter="\t"))
    assert [int(r["tr"]) for r in results] == list(range(1, 11))
    for result, ref in zip(results, skyra_ref_means):
        assert float(result["value"]) == pytest.approx(ref / 1500.0, rel=1e-6)


def test_sample_reports_errors_and_exits_1(tmp_path: Path, skyra_dir: Path) -> None:
    done = _run(tmp_path, "--config", str(tmp_path / "missing.toml"))
    assert done.returncode == 1 and "cannot read the settings" in done.stderr
    config = _config(tmp_path, skyra_dir, dicomNamePattern='"001_{SCAN:06d}.dcm"')
    done = _run(tmp_path, "--config", str(config), "--runs", "1", "--scans", "13")
    assert done.returncode == 1 and "has no {TR} field" in done.stderr
    done = _run(tmp_path, "--config", str(config), "--runs", "1,2", "--scans", "13")
    assert done.returncode == 1 and "give one scan per run" in done.stderr
