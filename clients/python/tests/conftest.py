"""Shared fixtures: the real Skyra DICOMs of ../shared/testdata and their dcm2niix reference.

Like the Rust tests (test_support::shared_testdata), a missing ../shared skips the
tests that need it, except under CI=true, where it is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
TESTDATA = REPO_ROOT.parent / "shared" / "testdata"
SKYRA = "siemens-mosaic-skyra-e11"
#: The Skyra run's file names; file _00000k is reference volume k-1 (k >= 1).
SKYRA_PATTERN = "001_000013_{TR:06d}.dcm"


def shared_dir() -> Path:
    """../shared (read-only): skips the test when missing, fails it under CI=true."""
    shared = REPO_ROOT.parent / "shared"
    if shared.is_dir():
        return shared
    if os.environ.get("CI") == "true":
        pytest.fail(f"../shared is missing at {shared}: CI must have it")
    pytest.skip(f"../shared not found at {shared}")


def _testdata() -> Path:
    if TESTDATA.is_dir():
        return TESTDATA
    if os.environ.get("CI") == "true":
        pytest.fail(f"../shared/testdata is missing at {TESTDATA}: CI must have it")
    pytest.skip(f"../shared/testdata not found at {TESTDATA}")


@pytest.fixture(scope="session")
def skyra_dir() -> Path:
    """The folder of the 11 Skyra mosaic DICOMs (read-only)."""
    return _testdata() / SKYRA


@pytest.fixture(scope="session")
def skyra_ref_means() -> List[float]:
    """Mean of every voxel of each reference volume (dcm2niix, via nibabel), float64."""
    import nibabel as nib

    ref = nib.load(str(_testdata() / "ref" / SKYRA / "series.nii"))
    data = np.asanyarray(ref.dataobj)
    return [float(np.mean(data[..., v], dtype=np.float64)) for v in range(data.shape[3])]


@pytest.fixture(scope="session")
def skyra_ref_volumes():
    """The reference 4D NIfTI (nibabel image) of the Skyra run."""
    import nibabel as nib

    return nib.load(str(_testdata() / "ref" / SKYRA / "series.nii"))


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Local mode, run from an empty temp folder (its ./rtcloud-local is returned)."""
    for name in ("RTCLOUD_API", "RTCLOUD_TOKEN", "RTCLOUD_LOCAL_DIRS", "RTCLOUD_LOCAL_OUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "rtcloud-local"
