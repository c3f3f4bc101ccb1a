"""rtCommon, RT-Cloud's names over the client: settings, file names, timing, DICOM
helpers, errors and the web/subject extras, on real files and RT-Cloud's own settings."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, SKYRA, SKYRA_PATTERN, shared_dir
from rtCommon import errors
from rtCommon.dataInterface import downloadFolderFromCloud, uploadFolderToCloud
from rtCommon.imageHandling import (
    convertDicomImgToNifti,
    dicomTimeToNextTr,
    getDicomFileName,
    getDicomRepetitionTime,
    parseDicomVolume,
    readDicomFromBuffer,
    readRetryDicomFromDataInterface,
)
from rtCommon.structDict import StructDict
from rtCommon.utils import calcAvgRoundTripTime, getTimeToNextTR, loadConfigFile, stringPartialFormat
from rtcloud_client import ClientInterface


def test_loadconfigfile_reads_rtclouds_sample_settings(tmp_path: Path) -> None:
    cfg = loadConfigFile(shared_dir() / "rtcloud-projects/projects/sample/conf/sample.toml")
    assert cfg.runNum == [1] and cfg.scanNum == [13] and cfg.subjectName == "0219191_faceMatching"
    assert cfg.isSynthetic is None and cfg.imgDir is None  # missing keys read as None
    cfg.imgDir = "/scans"
    assert cfg["imgDir"] == "/scans"
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"a": {"b": [{"c": 1}]}}))
    nested = loadConfigFile(settings)
    assert nested.a.b[0].c == 1 and nested.a.missing is None
    with pytest.raises(errors.InvocationError, match="not a .toml or .json"):
        loadConfigFile(tmp_path / "s.yaml")


def test_stringpartialformat_fills_one_field() -> None:
    pattern = stringPartialFormat("001_{SCAN:06d}_{TR:06d}.dcm", "SCAN", 13)
    assert pattern == "001_000013_{TR:06d}.dcm"
    assert pattern.format(TR=5) == "001_000013_000005.dcm"
    assert stringPartialFormat("{SCAN}-{SCAN:03d}", "SCAN", 7) == "7-007"
    cfg = StructDict(dicomDir="/scans", dicomNamePattern="001_{SCAN:06d}_{TR:06d}.dcm")
    assert getDicomFileName(cfg, 13, 5) == "/scans/001_000013_000005.dcm"


def test_round_trip_time_and_time_to_next_tr() -> None:
    calls = []
    assert calcAvgRoundTripTime(lambda: calls.append(1)) >= 0.0
    assert len(calls) == 10
    last = datetime(2026, 1, 1, 10, 0, 0)
    now = (last + timedelta(seconds=3.5)).time()
    assert getTimeToNextTR(last.time(), 2.0, now, 0.0) == pytest.approx(0.5)
    assert getTimeToNextTR(last.time(), 2.0, now, 1.0) == pytest.approx(1.5)
    with pytest.raises(errors.ValidationError):
        getTimeToNextTR(last.time(), 2.0, (last - timedelta(seconds=1)).time(), 0.0)
    with pytest.raises(errors.StateError):
        getTimeToNextTR(None, 2.0, now, 0.0)


def test_the_clients_errors_are_rtclouds_too() -> None:
    assert issubclass(errors.NotFound, errors.RequestError) and issubclass(errors.NotFound, FileNotFoundError)
    assert issubclass(errors.Timeout, errors.RequestError) and issubclass(errors.Timeout, TimeoutError)
    assert issubclass(errors.PermissionDenied, errors.RequestError)
    assert issubclass(errors.InvalidArgument, errors.ValidationError)
    assert issubclass(errors.RequestError, errors.RTError)
    assert issubclass(errors.NotImplementedError, errors.RTError)


def test_dicom_helpers_on_the_skyra_run(skyra_dir: Path) -> None:
    data = (skyra_dir / SKYRA_PATTERN.format(TR=3)).read_bytes()
    dataset = readDicomFromBuffer(data)
    with pytest.raises(errors.ValidationError, match="incomplete or corrupt"):
        readDicomFromBuffer(data[: len(data) // 2])
    tr = getDicomRepetitionTime(dataset)
    assert tr == float(dataset.RepetitionTime) / 1000.0
    acquired = datetime.strptime(str(dataset.AcquisitionTime), "%H%M%S.%f")
    now = (acquired + timedelta(seconds=0.25)).time()
    assert dicomTimeToNextTr(dataset, 0.0, now=now) == pytest.approx(tr - 0.25)
    # Siemens pads a mosaic with empty tiles: the tiles hold every pixel of the image.
    rows = int(dataset.Rows) // int(np.ceil(np.sqrt(27)))
    volume = parseDicomVolume(dataset, rows)
    assert volume.shape == (rows, rows, 36)
    assert volume.sum() == dataset.pixel_array.astype(np.float64).sum()


def test_readretry_waits_on_the_watched_folder(local_env: Path, skyra_dir: Path) -> None:
    client = ClientInterface()
    client.dataInterface.initWatch(str(skyra_dir), "*.dcm", 200_000)
    dataset = readRetryDicomFromDataInterface(client.dataInterface, SKYRA_PATTERN.format(TR=2), timeout=5)
    assert dataset is not None and dataset.pixel_array.shape == (384, 384)
    assert readRetryDicomFromDataInterface(client.dataInterface, "absent.dcm", timeout=0.3) is None
    with pytest.raises(errors.RequestError):
        readRetryDicomFromDataInterface(client.dataInterface, "absent.dcm", timeout=0)


def test_convert_dicom_img_to_nifti_matches_dcm2niix(skyra_dir: Path, skyra_ref_volumes, monkeypatch) -> None:
    analyser = REPO_ROOT / "target" / "debug" / "data_analyser"
    if not analyser.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{analyser} is missing: CI builds it before the Python tests")
        pytest.skip(f"no {analyser} (cargo build -p data_analyser)")
    monkeypatch.setenv("RTCLOUD_DATA_ANALYSER", str(analyser))
    dataset = readDicomFromBuffer((skyra_dir / SKYRA_PATTERN.format(TR=4)).read_bytes())
    image = convertDicomImgToNifti(dataset)
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), np.asanyarray(skyra_ref_volumes.dataobj)[..., 3])
    np.testing.assert_allclose(image.affine, skyra_ref_volumes.affine, atol=1e-4)


def test_web_and_subject_extras_in_local_mode(local_env: Path, capsys) -> None:
    client = ClientInterface()
    web = client.webInterface
    web.plotDataPoint(2, 0, 5.0)
    web.plotDataPoint(2, 1, 6.0)
    assert web.getPreviousDataPoints() == [[], [], [{"x": 0, "y": 5.0}, {"x": 1, "y": 6.0}]]
    web.clearRunPlot(2)
    assert web.getPreviousDataPoints() == [[]]
    web.debugLog("tick")
    web.setDebugError("oops")
    web.sendRunStatus("running")
    web.sendUploadStatus("a.txt")
    web.sendConfig({"a": 1}, "conf.toml")
    out = capsys.readouterr().out
    for line in ("session_log: debug: tick", "session_log: debug error: oops", "session_log: run status: running",
                 "session_log: upload status: a.txt", "session_log: config sent by the script: conf.toml"):
        assert line in out
    assert client.subjInterface.getResponse(1, 1) == {}
    assert client.subjInterface.getAllResponses() == []
    with pytest.raises(errors.NotImplementedError, match="BIDS streams run in the analyser"):
        client.bidsInterface.getIncremental(1, 0)


def test_upload_and_download_folders_in_local_mode(local_env: Path, tmp_path: Path) -> None:
    client = ClientInterface()
    source = tmp_path / "stimulus" / "masks"
    (source / "sub").mkdir(parents=True)
    (source / "mask.txt").write_text("1 2 3")
    (source / "sub" / "roi.txt").write_text("4")
    uploadFolderToCloud(client.dataInterface, str(source), str(tmp_path / "cloud"))
    assert (tmp_path / "cloud" / "masks" / "mask.txt").read_text() == "1 2 3"
    assert (tmp_path / "cloud" / "masks" / "sub" / "roi.txt").read_text() == "4"
    downloadFolderFromCloud(client.dataInterface, str(tmp_path / "cloud" / "masks"), str(tmp_path / "back"),
                            deleteAfter=True)
    assert (tmp_path / "back" / "masks" / "sub" / "roi.txt").read_text() == "4"
    assert not (tmp_path / "cloud" / "masks" / "mask.txt").exists()


def test_upload_keeps_subfolders_of_paths_a_streamer_shows_under_its_folders_name() -> None:
    # A streamer allowing /data/scans lists /data/scans/run1/sub/x.dcm as scans/run1/sub/x.dcm.
    from rtCommon.dataInterface import _destination

    assert _destination("/out", "scans/run1/sub/x.dcm", "/data/scans") == "/out/run1/sub/x.dcm"
    assert _destination("/out", "run1/sub/x.dcm", "/data/scans") == "/out/run1/sub/x.dcm"
    assert _destination("/out", "scans/x.dcm", "/data") == "/out/scans/x.dcm"
    assert _destination("/out", "/data/scans/run1/x.dcm", "/data/scans") == "/out/run1/x.dcm"
