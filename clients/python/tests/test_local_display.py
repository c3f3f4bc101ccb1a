"""Local mode's subject and web calls: printed, and kept in ./rtcloud-local."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import List

import pytest

from rtcloud_client import ClientInterface, InvalidArgument


def _rows(path: Path) -> List[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_results_plots_and_logs_are_printed_and_written(local_env: Path, capsys: pytest.CaptureFixture) -> None:
    client = ClientInterface()
    client.subject.set_result(1, 2, 0.125, onset_delay_ms=250)
    client.subjInterface.setResultDict({"runId": 1, "trId": 3, "score": 0.5})
    client.web.plot_data_point(1, 2, 308.25)
    client.webInterface.userLog("run 1 TR 2: done")
    client.web.set_user_error("tab\there")
    out = capsys.readouterr().out
    assert "set_result: run 1 TR 2 value 0.125 (onset delay 250 ms)" in out
    assert "user_log: run 1 TR 2: done" in out
    results = _rows(local_env / "results.tsv")
    assert [(r["run"], r["tr"], r["value"], r["onset_delay_ms"]) for r in results[:1]] == [("1", "2", "0.125", "250")]
    assert (results[1]["run"], results[1]["tr"], results[1]["onset_delay_ms"]) == ("", "", "0")
    # RT-Cloud's setResultDict adds its name, delay and timestamp to the dict.
    sent = json.loads(results[1]["value"])
    assert {k: v for k, v in sent.items() if k != "timestamp"} == {
        "runId": 1, "trId": 3, "score": 0.5, "name": "defaultname", "onsetTimeDelayMs": 0}
    assert isinstance(sent["timestamp"], float)
    assert _rows(local_env / "plot.tsv") == [{"run": "1", "tr": "2", "value": "308.25"}]
    logs = _rows(local_env / "log.tsv")
    assert [(r["kind"], r["text"]) for r in logs] == [("user_log", "run 1 TR 2: done"), ("set_user_error", "tab here")]


def test_local_mode_has_no_responses_and_is_not_remote(local_env: Path) -> None:
    client = ClientInterface()
    assert client.subject.get_response(1, 1) is None
    assert client.subjInterface.getAllResponses() == []
    assert not client.is_remote() and not client.is_data_remote() and not client.is_subject_remote()
    assert not client.isUsingProjectServer()


def test_bad_results_are_refused(local_env: Path) -> None:
    client = ClientInterface()
    with pytest.raises(InvalidArgument, match="onset_delay_ms"):
        client.subject.set_result(1, 1, 0.5, onset_delay_ms=-1)
    with pytest.raises(InvalidArgument, match="JSON"):
        client.subject.set_result_dict({"x": object()})
    assert not local_env.exists()


def test_the_output_folder_can_be_chosen(local_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RTCLOUD_LOCAL_OUT", str(tmp_path / "elsewhere"))
    ClientInterface().web.plot_data_point(2, 1, 1.0)
    assert (tmp_path / "elsewhere" / "plot.tsv").is_file()


def test_show_preprocessing_prints_the_motion_alone(local_env: Path, capsys: pytest.CaptureFixture) -> None:
    client = ClientInterface()
    client.web.show_preprocessing(1, 4, [0.5, -0.25, 0, 1, 0, -1], fd_mm=0.75, fd_threshold_mm=0.5)
    client.web.show_preprocessing(1, 5)
    out = capsys.readouterr().out
    assert "show_preprocessing: run 1 TR 4 motion [+0.500 -0.250 +0.000 +1.000 +0.000 -1.000] FD 0.750 mm" in out
    assert "TR 5" not in out
