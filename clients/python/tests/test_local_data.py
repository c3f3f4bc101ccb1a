"""Local mode's data calls on real files: the Skyra DICOMs and files written by the test."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest

from conftest import SKYRA_PATTERN
from rtcloud_client import ClientInterface, InvalidArgument, NotFound, PermissionDenied, Timeout, Volume


@pytest.fixture
def client(local_env: Path, skyra_dir: Path) -> ClientInterface:
    return ClientInterface(allowed_dirs=[str(skyra_dir)])


def test_get_file_returns_the_file(client: ClientInterface, skyra_dir: Path) -> None:
    path = skyra_dir / "001_000013_000003.dcm"
    assert client.data.get_file(str(path)) == path.read_bytes()


def test_list_files_and_dirs(client: ClientInterface, skyra_dir: Path, local_env: Path) -> None:
    files = client.data.list_files(f"{skyra_dir}/*.dcm")
    assert files == [str(skyra_dir / SKYRA_PATTERN.format(TR=k)) for k in range(11)]
    assert client.data.list_files(f"{skyra_dir}/*.nothing") == []
    for name in ("run1", "run2"):
        (local_env.parent / name).mkdir()
    (local_env.parent / "notes.txt").write_text("not a folder")
    assert client.data.list_dirs("*") == ["run1", "run2"]
    assert client.data.list_files("*") == ["notes.txt"]


def test_paths_outside_the_allowed_folders_are_refused(local_env: Path, skyra_dir: Path) -> None:
    client = ClientInterface()  # only the current (temp) folder is allowed
    with pytest.raises(PermissionDenied, match="outside the allowed folders"):
        client.data.get_file(str(skyra_dir / "001_000013_000001.dcm"))
    with pytest.raises(PermissionDenied):
        client.data.list_files(f"{skyra_dir}/*.dcm")


def test_put_file_then_get_and_newest(client: ClientInterface, local_env: Path) -> None:
    client.data.put_file("out/a.txt", "first")
    client.data.put_file("out/b.bin", b"\x00\x01")
    assert client.data.get_file("out/a.txt") == b"first"
    with pytest.raises(PermissionDenied, match="overwrite"):
        client.data.put_file("out/a.txt", "second")
    assert client.data.get_file("out/a.txt") == b"first"
    client.data.put_file("out/a.txt", "first", overwrite=True)
    assert sorted(Path(p).name for p in client.data.list_files("out/*")) == ["a.txt", "b.bin"]
    # Newest by modification time: b.bin a second after a.txt (touch alone may tie).
    later = (local_env.parent / "out" / "a.txt").stat().st_mtime + 1
    os.utime(local_env.parent / "out" / "b.bin", (later, later))
    assert client.data.get_newest_file("out/*") == b"\x00\x01"
    with pytest.raises(NotFound, match="no file"):
        client.data.get_file("out/missing.txt")
    with pytest.raises(NotFound):
        client.data.get_newest_file("out/*.none")


def test_watch_file_waits_for_a_file_written_slowly(client: ClientInterface, tmp_path: Path, skyra_dir: Path) -> None:
    content = (skyra_dir / "001_000013_000001.dcm").read_bytes()
    scans = tmp_path / "scans"
    scans.mkdir()
    client.data.init_watch(str(scans), "*.dcm", len(content))

    def write_slowly() -> None:
        with open(scans / "slow.dcm", "wb") as f:
            for start in range(0, len(content), 50_000):
                f.write(content[start:start + 50_000])
                f.flush()
                time.sleep(0.02)  # a scanner writes a file over a while, not at once

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        assert client.data.watch_file("slow.dcm", timeout=60) == content
    finally:
        writer.join(60)


def test_watch_file_times_out_on_a_missing_file(client: ClientInterface, tmp_path: Path) -> None:
    client.data.init_watch(str(tmp_path), "*.dcm", 10)
    with pytest.raises(Timeout, match="does not exist"):
        client.data.watch_file("never.dcm", timeout=0.3)


def test_image_volumes_have_the_reference_means(client: ClientInterface, skyra_dir: Path, skyra_ref_means) -> None:
    stream = client.data.init_scanner_stream(str(skyra_dir), SKYRA_PATTERN, 200_000)
    for k in range(1, 11):
        volume = client.data.get_image_data(stream, k, timeout=60, form="volume")
        assert isinstance(volume, Volume)
        assert volume.shape == (64, 64, 27)
        mean = float(np.mean(volume.data, dtype=np.float64))
        assert mean == pytest.approx(skyra_ref_means[k - 1], rel=1e-6), f"file {k}"
    assert volume.tr == pytest.approx(1.5)
    assert volume.closed_at == (skyra_dir / SKYRA_PATTERN.format(TR=10)).stat().st_mtime
    assert len(volume.slice_timing) == 27
    assert volume.voxel_size == pytest.approx((3.0, 3.0, 4.0), rel=1e-5)
    client.data.close_scanner_stream(stream)


def test_image_forms_and_next_index(client: ClientInterface, skyra_dir: Path) -> None:
    stream = client.data.init_scanner_stream(str(skyra_dir), SKYRA_PATTERN, 200_000, start_index=2)
    raw = client.data.get_image_data(stream, timeout=60, form="dicom")  # the stream's first: 2
    assert raw == (skyra_dir / SKYRA_PATTERN.format(TR=2)).read_bytes()
    dataset = client.data.get_image_data(stream, timeout=60)  # next: 3, pydicom by default
    expected = pydicom.dcmread(str(skyra_dir / SKYRA_PATTERN.format(TR=3)))
    assert dataset.SOPInstanceUID == expected.SOPInstanceUID
    nifti = client.data.get_image_data(stream, 3, timeout=60, form="volume").to_nifti()
    assert nifti.shape == (64, 64, 27)
    with pytest.raises(InvalidArgument, match="form"):
        client.data.get_image_data(stream, 3, form="png")


def test_stream_errors(client: ClientInterface, skyra_dir: Path) -> None:
    with pytest.raises(InvalidArgument, match="TR"):
        client.data.init_scanner_stream(str(skyra_dir), "001_000013.dcm", 0)
    with pytest.raises(NotFound, match="no stream"):
        client.data.get_image_data("local-99", 1, form="dicom")
    stream = client.data.init_scanner_stream(str(skyra_dir), SKYRA_PATTERN, 200_000)
    with pytest.raises(Timeout):
        client.data.get_image_data(stream, 99, timeout=0.3, form="dicom")


def test_rt_cloud_aliases_call_the_same_code(client: ClientInterface, skyra_dir: Path, skyra_ref_means) -> None:
    data = client.dataInterface
    path = str(skyra_dir / "001_000013_000005.dcm")
    assert data.getFile(path) == client.data.get_file(path)
    assert data.listFiles(f"{skyra_dir}/*.dcm") == client.data.list_files(f"{skyra_dir}/*.dcm")
    assert data.getAllowedFileTypes() == ["*"]
    data.initWatch(str(skyra_dir), "*.dcm", 200_000)
    assert data.watchFile("001_000013_000005.dcm", timeout=30) == Path(path).read_bytes()
    stream = data.initScannerStream(str(skyra_dir), SKYRA_PATTERN, 200_000)
    dataset = data.getImageData(stream, 5, timeout=30)
    assert dataset.pixel_array.shape == (384, 384)
    assert client.isDataRemote() is False and client.isSubjectRemote() is False
    assert abs(data.getClockSkew(data.ping(), 0.0)) < 3600
