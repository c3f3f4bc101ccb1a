"""RT-Cloud's BIDS projects run on rtcloud-rs with RT-Cloud's bidsInterface names:
dicomBidsStream.py (live scanner DICOM as BIDS incrementals, fed by a real streamer
over TLS) and openNeuroClient.py (an OpenNeuro dataset, from a local HTTPS server laid
out as OpenNeuro's S3 bucket, into the analyser's cache, and written back with
BidsArchive / BidsRun). Both scripts come from ../shared/rtcloud-projects; only
dicomBidsStream.py's two fixed /tmp output paths are moved into the project (as for
RT-Cloud's sample, test_rtcloud_projects.py); openNeuroClient.py runs unchanged, its
settings with writeBidsArchive on and scanNum empty (it takes no --scans).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np

from conftest import SKYRA, shared_dir
from programs import bin_dir, programs  # noqa: F401 (fixture)
from test_rtcloud_projects import PASSWORD, SAMPLE_EDITS, SUBJECT_DIR, nibabel_means


def rtcloud_project(name: str, projects: Path, edits: List = ()) -> Path:
    """RT-Cloud's project `name` (script and settings) copied into `projects`."""
    source = shared_dir() / "rtcloud-projects" / "projects" / name
    target = projects / name
    (target / "conf").mkdir(parents=True)
    shutil.copyfile(source / "conf" / f"{name}.toml", target / "conf" / f"{name}.toml")
    text = (source / f"{name}.py").read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old + "\n") == 1, f"RT-Cloud's {name}.py changed: no line {old!r}"
        text = text.replace(old + "\n", new + "\n")
    (target / f"{name}.py").write_text(text, encoding="utf-8")
    return target


def site_with_user(site: Path) -> None:
    binaries = bin_dir()
    for args, stdin in ((["make-certs", "--host", "localhost", "--ip", "127.0.0.1"], ""),
                        (["add-user", "-u", "scanner", "--password-stdin"], PASSWORD + "\n")):
        done = subprocess.run([str(binaries / "data_analyser"), *args], cwd=site, input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    (site / "password").write_text(PASSWORD + "\n")


def launch_log(site: Path, project: str) -> str:
    sessions = list((site / "sessions" / project).iterdir())
    assert len(sessions) == 1, sessions
    launches = sorted((sessions[0] / "launches").iterdir())
    return (launches[-1] / "log.txt").read_text(errors="replace")


def test_rtclouds_dicom_bids_stream_runs_over_a_streamer(tmp_path: Path, programs) -> None:  # noqa: F811
    binaries = bin_dir()
    skyra = shared_dir() / "testdata" / SKYRA
    site = tmp_path / "site"
    site.mkdir()
    project = rtcloud_project("dicomBidsStream", site / "projects", SAMPLE_EDITS)
    (project / "tmp" / "cloud_directory" / "tmp").mkdir(parents=True)
    site_with_user(site)
    # The scanner's folder, where the script looks (imgDir unset: RT-Cloud's sample's).
    scanner = site / "projects" / "sample" / SUBJECT_DIR
    scanner.mkdir(parents=True)

    analyser = programs(
        [str(binaries / "data_analyser"), "--projects", "projects", "--project", "dicomBidsStream", "--data-remote",
         "--python", sys.executable, "--host", "127.0.0.1", "--port", "0", "--run-on-start", "--exit-after-run"],
        site, tmp_path / "analyser.log")
    server = f"127.0.0.1:{analyser.port()}"
    programs([str(binaries / "data_streamer"), "--server", server, "--ca", "certs/ca.crt", "--user", "scanner",
              "--password-file", "password", "--allowed-dirs", "projects/sample", "--writable-dirs",
              "projects/dicomBidsStream/tmp", "--allowed-types", ".dcm,.txt"],
             site, tmp_path / "streamer.log")
    programs([str(binaries / "data_streamer"), "replay", "--source", str(skyra), "--into",
              f"projects/sample/{SUBJECT_DIR}", "--tr", "0.3"], site, tmp_path / "replay.log")
    assert analyser.wait_exit() == 0, analyser.stderr()
    log = launch_log(site, "dicomBidsStream")

    means = nibabel_means(skyra, 10)
    printed = re.findall(r"\| average activation value for TR (\d+) is (\S+)", log)
    assert printed == [(str(tr), "%f" % m) for tr, m in enumerate(means)], log
    # RT-Cloud's subjectName is not a BIDS label: the stream says what it used.
    assert "subject \"0219191_faceMatching\" is not a BIDS label" in log, log
    activations = np.zeros((10, 1))
    activations[:, 0] = means
    cloud = project / "tmp" / "cloud_directory" / "tmp"
    assert (cloud / "avg_activations.txt").read_text() == str(activations)
    from scipy.io import loadmat

    np.testing.assert_array_equal(loadmat(str(cloud / "avg_activations.mat"))["value"], activations)


def test_rtclouds_open_neuro_client_runs_unchanged(tmp_path: Path, programs) -> None:  # noqa: F811
    binaries = bin_dir()
    fixture_bin = binaries / "examples" / "openneuro_fixture"
    assert fixture_bin.exists(), f"{fixture_bin} missing: cargo build -p openneuro --examples"
    site = tmp_path / "site"
    site.mkdir()
    project = rtcloud_project("openNeuroClient", site / "projects")
    # The script's own switch (--archive or this setting): it writes what it streamed
    # into a new dataset with BidsRun.appendIncremental and BidsArchive.appendBidsRun.
    # openNeuroClient.py has no --scans option: with scanNum empty the analyser passes none.
    conf = project / "conf" / "openNeuroClient.toml"
    text = conf.read_text(encoding="utf-8")
    assert text.count("scanNum = [1]\n") == 1, text
    conf.write_text(text.replace("scanNum = [1]\n", "scanNum = []\n") + "writeBidsArchive = true\n", encoding="utf-8")
    site_with_user(site)
    # openNeuroClient.toml: ds002338, subject xp201, run 01, task left to the stream.
    fixture = subprocess.Popen(
        [str(fixture_bin), str(tmp_path / "fixture"), "ds002338", "xp201", "neurofeedback", "01", "4"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        url = fixture.stdout.readline().split(" ", 1)[1].strip()
        ca = fixture.stdout.readline().split(" ", 1)[1].strip()
        env = {**__import__("os").environ, "RTCLOUD_OPENNEURO_URL": url, "RTCLOUD_OPENNEURO_CA": ca,
               "RTCLOUD_OPENNEURO_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
        for launch in (1, 2):
            analyser = programs(
                [str(binaries / "data_analyser"), "--projects", "projects", "--project", "openNeuroClient",
                 "--python", sys.executable, "--host", "127.0.0.1", "--port", "0", "--run-on-start",
                 "--exit-after-run", "--sessions-dir", f"sessions-{launch}"],
                site, tmp_path / f"analyser-{launch}.log", env)
            assert analyser.wait_exit() == 0, analyser.stderr()
        fixture.stdin.close()
        requests = [line.strip() for line in fixture.stdout if line.startswith("GET ")]
        assert fixture.wait(timeout=30) == 0
    finally:
        if fixture.poll() is None:
            fixture.kill()
            fixture.wait()
    logs = []
    for launch in (1, 2):
        sessions = list((site / f"sessions-{launch}" / "openNeuroClient").iterdir())
        logs.append(next((sessions[0] / "launches").iterdir()).joinpath("log.txt").read_text(errors="replace"))
    printed = [re.findall(r"\| average activation value for TR (\d+) is (\S+)", log) for log in logs]
    assert [tr for tr, _ in printed[0]] == ["0", "1", "2", "3"], logs[0]
    # The second run streamed the same volumes from the cache, without a request.
    assert printed[1] == printed[0], logs[1]
    files = [r for r in requests if "list-type" not in r]
    assert sorted(files) == [
        "GET /openneuro.org/ds002338/README",
        "GET /openneuro.org/ds002338/dataset_description.json",
        "GET /openneuro.org/ds002338/participants.tsv",
        "GET /openneuro.org/ds002338/sub-xp201/func/sub-xp201_task-neurofeedback_run-01_bold.json",
        "GET /openneuro.org/ds002338/sub-xp201/func/sub-xp201_task-neurofeedback_run-01_bold.nii.gz",
    ], requests
    # What it wrote with BidsArchive holds the voxels it streamed, from OpenNeuro's file.
    import nibabel as nib

    name = "sub-xp201/func/sub-xp201_task-neurofeedback_run-01_bold.nii.gz"
    original = np.asanyarray(nib.load(str(tmp_path / "cache" / "ds002338" / name)).dataobj)
    archives = sorted(tmp_path.glob("bids_archive_*"))
    assert len(archives) == 2, archives
    for archive in archives:
        written = np.asanyarray(nib.load(str(archive / name)).dataobj)
        np.testing.assert_array_equal(written, original)
