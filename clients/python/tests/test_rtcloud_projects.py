"""RT-Cloud's own sample project (sample.py, initialize.py, finalize.py from
../shared/rtcloud-projects, unchanged but for two lines of sample.py) runs as a project
of data_analyser, fed by data_streamer replaying the Skyra run over TLS, with
analysis_listener --rtcloud-layout on the stimulus side; everything is started as the
docs say, from relative folders and default settings.

The values it prints, plots, feeds back and saves are the ones nibabel computes here
from the original files, as RT-Cloud's sample computes them (mosaic_to_nii, mean).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import numpy as np

from conftest import SKYRA, shared_dir
from programs import Web, bin_dir, programs  # noqa: F401 (fixture)

PASSWORD = "correct horse battery"
#: The subject's folder sample.py reads (imgDir unset: dicomDir in its own folder).
SUBJECT_DIR = "dicomDir/20190219.0219191_faceMatching.0219191_faceMatching"
#: The only lines changed, each (RT-Cloud's line, ours). sample.py saves its outputs
#: in the fixed folder /tmp/cloud_directory/tmp, shared by every run on the machine;
#: tests run side by side here, so it goes to the project's own tmp/cloud_directory/tmp
#: (the folder initialize.py makes and finalize.py copies back).
SAMPLE_EDITS = [
    ("    output_textFilename = '/tmp/cloud_directory/tmp/avg_activations.txt'",
     "    output_textFilename = os.path.join(currPath, 'tmp/cloud_directory/tmp/avg_activations.txt')"),
    ("    output_matFilename = os.path.join('/tmp/cloud_directory/tmp/avg_activations.mat')",
     "    output_matFilename = os.path.join(currPath, 'tmp/cloud_directory/tmp/avg_activations.mat')"),
]


def copy_project(rtcloud: Path, projects: Path) -> Path:
    """RT-Cloud's sample (scripts and settings, not its DICOMs) with SAMPLE_EDITS applied."""
    source = rtcloud / "projects" / "sample"
    target = projects / "sample"
    (target / "conf").mkdir(parents=True)
    for name in ("initialize.py", "finalize.py", "conf/sample.toml"):
        shutil.copyfile(source / name, target / name)
    text = (source / "sample.py").read_text(encoding="utf-8")
    for old, new in SAMPLE_EDITS:
        assert text.count(old + "\n") == 1, f"RT-Cloud's sample.py changed: no line {old!r}"
        text = text.replace(old + "\n", new + "\n")
    (target / "sample.py").write_text(text, encoding="utf-8")
    changed = [a for a, b in zip((source / "sample.py").read_text().splitlines(), text.splitlines()) if a != b]
    assert len(changed) == len(SAMPLE_EDITS) == 2
    return target


def nibabel_means(skyra: Path, count: int) -> List[float]:
    """sample.py's value per TR, computed as it does: mosaic_to_nii(dataset).get_fdata().mean()."""
    import pydicom
    from nibabel.nicom import dicomreaders

    means = []
    for tr in range(count):
        dataset = pydicom.dcmread(str(skyra / f"001_000013_{tr:06d}.dcm"))
        means.append(float(np.mean(dicomreaders.mosaic_to_nii(dataset).get_fdata())))
    return means


def test_rtclouds_sample_runs_unchanged_over_tls(tmp_path: Path, programs) -> None:  # noqa: F811
    binaries = bin_dir()
    shared = shared_dir()
    skyra = shared / "testdata" / SKYRA
    site = tmp_path / "site"
    site.mkdir()
    project = copy_project(shared / "rtcloud-projects", site / "projects")

    def tool(*args: str, stdin: str = "") -> None:
        done = subprocess.run([str(binaries / "data_analyser"), *args], cwd=site, input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    tool("make-certs", "--host", "localhost", "--ip", "127.0.0.1")
    tool("add-user", "-u", "scanner", "--password-stdin", stdin=PASSWORD + "\n")
    (site / "password").write_text(PASSWORD + "\n")

    # The analyser as the porting guide starts it: relative --projects, default
    # --sessions-dir, the test's Python (nibabel, pydicom, scipy).
    analyser = programs(
        [str(binaries / "data_analyser"), "--projects", "projects", "--project", "sample", "--data-remote",
         "--subject-remote", "--python", sys.executable, "--host", "127.0.0.1", "--port", "0"],
        site, tmp_path / "analyser.log")
    port = analyser.port()
    server = f"127.0.0.1:{port}"
    # putFile writes only into --writable-dirs: the project's tmp/, where its scripts
    # keep their outputs (the scanner's folder stays read-only).
    (project / "tmp").mkdir()
    programs([str(binaries / "data_streamer"), "--server", server, "--ca", "certs/ca.crt", "--user", "scanner",
              "--password-file", "password", "--allowed-dirs", "projects/sample", "--writable-dirs",
              "projects/sample/tmp", "--allowed-types", ".dcm,.txt,.mat"],
             site, tmp_path / "streamer.log")
    programs([str(binaries / "analysis_listener"), "--server", server, "--ca", "certs/ca.crt", "--user", "scanner",
              "--password-file", "password", "--out-dir", "feedback", "--results-port", "0", "--rtcloud-layout"],
             site, tmp_path / "listener.log")
    web = Web(port, site / "certs" / "ca.crt")
    web.login("scanner", PASSWORD)
    web.wait_connected()

    def log_of(launch) -> str:
        sessions = list((site / "sessions" / "sample").iterdir())
        assert len(sessions) == 1, sessions
        return (sessions[0] / launch["dir"] / "log.txt").read_text(errors="replace")

    init = web.run("initialize")
    assert init["succeeded"], log_of(init)
    assert "INITIALIZATION COMPLETE!" in log_of(init)
    assert (project / "tmp" / "cloud_directory" / "tmp").is_dir()

    # The scanner: the Skyra run, _000000 first, into the folder sample.py reads.
    (project / SUBJECT_DIR).mkdir(parents=True)
    programs([str(binaries / "data_streamer"), "replay", "--source", str(skyra), "--into",
              f"projects/sample/{SUBJECT_DIR}", "--tr", "0.3"], site, tmp_path / "replay.log")
    main = web.run("main")
    log = log_of(main)
    assert main["succeeded"], log

    means = nibabel_means(skyra, 10)
    printed = re.findall(r"\| average activation value for TR (\d+) is (\S+)", log)
    assert printed == [(str(tr), "%f" % m) for tr, m in enumerate(means)], log
    # The feedback reached the stimulus PC in RT-Cloud's files, as Python wrote it there
    # (each shown 500 ms after it was set: sample.py's onset delay).
    classoutput = site / "feedback" / "run1" / "classoutput"
    deadline = time.monotonic() + 60
    while not (classoutput / "vol-1-9.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    for tr, mean in enumerate(means):
        vol = classoutput / f"vol-1-{tr}.txt"
        assert vol.read_text() == str(float((mean - 305) / (315 - 305))), vol
    plotted = web.state()["plots"]["1"]
    assert [tuple(p) for p in plotted] == list(enumerate(means)), plotted
    # Its saved activations: the text via the streamer, the .mat on the analyser.
    activations = np.zeros((10, 1))
    activations[:, 0] = means
    cloud = project / "tmp" / "cloud_directory" / "tmp"
    assert (cloud / "avg_activations.txt").read_text() == str(activations)

    final = web.run("finalize")
    assert final["succeeded"], log_of(final)
    assert "FINALIZATION COMPLETE!" in log_of(final)
    # finalize.py copied the cloud folder back to the "stimulus computer" via putFile.
    back = project / "tmp" / "stimulus_directory" / "tmp_files"
    assert (back / "avg_activations.txt").read_text() == str(activations)
    from scipy.io import loadmat

    np.testing.assert_array_equal(loadmat(str(back / "avg_activations.mat"))["value"], activations)
