"""Remote mode's wire behaviour against a real gRPC server on 127.0.0.1 port 0.

The server here stands in for the analyser (which has its own end-to-end tests with
this client): it serves a few methods from the real Skyra files and reference volumes,
and refuses calls whose bearer token is wrong, as the analyser does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from concurrent import futures
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import grpc
import numpy as np
import pytest

from conftest import REPO_ROOT, SKYRA_PATTERN
from rtcloud_client import (
    BadFile,
    ClientInterface,
    NotFound,
    RtcloudError,
    Timeout,
    Unauthenticated,
    Unavailable,
)
from rtcloud_client._proto import api_pb2 as pb
from rtcloud_client._proto import api_pb2_grpc as pb_grpc

TOKEN = "test-token-5f2c"


class FakeAnalyser(pb_grpc.DataServicer, pb_grpc.SubjectServicer, pb_grpc.WebServicer, pb_grpc.SessionServicer):
    """A few project API methods over the Skyra run; records what the client sent."""

    def __init__(self, skyra_dir: Path, ref_image) -> None:
        self.skyra_dir = skyra_dir
        self.ref = np.asanyarray(ref_image.dataobj)
        self.ref_affine = ref_image.affine
        self.results: List[Tuple[int, int, float, float]] = []
        self.result_dicts: List[str] = []
        self.plots: List[Tuple[int, int, float]] = []
        self.logs: List[str] = []
        self.tokens: List[str] = []
        self.closed: List[str] = []
        self.start_indexes: List[int] = []

    def _auth(self, context: grpc.ServicerContext) -> None:
        metadata: Dict[str, str] = dict(context.invocation_metadata())
        header = metadata.get("authorization", "")
        self.tokens.append(header)
        if header != f"Bearer {TOKEN}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad or missing token: the analyser refuses this call")

    def GetFile(self, request, context):
        self._auth(context)
        path = Path(request.path)
        if not path.is_file():
            context.abort(grpc.StatusCode.NOT_FOUND, f"no file {request.path} on the analyser")
        return pb.FileData(data=path.read_bytes())

    def InitScannerStream(self, request, context):
        self._auth(context)
        self.start_indexes.append(request.start_index)
        return pb.StreamId(stream_id="stream-1")

    def GetImageData(self, request, context):
        self._auth(context)
        if request.index > 10:
            message = f"volume {request.index} did not come within {request.timeout_s} s"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, message)
        if request.stream_id == "stream-with-a-bad-file":
            # What the analyser sends for a bad scanner file (data_link LinkError::BadFile).
            message = (f"volume {request.index} of scanner stream {request.stream_id} failed: /scans/001_000013_000000.dcm "
                       "is not usable after 3.0 s: empty (the stream goes on with the next volume)")
            context.abort(grpc.StatusCode.DATA_LOSS, message)
        reply = pb.ImageData(index=request.index, closed_at=1000.0 + request.index)
        if request.form in (pb.IMAGE_FORM_DICOM, pb.IMAGE_FORM_BOTH):
            reply.dicom = (self.skyra_dir / SKYRA_PATTERN.format(TR=request.index)).read_bytes()
        if request.form in (pb.IMAGE_FORM_VOLUME, pb.IMAGE_FORM_BOTH):
            voxels = np.ascontiguousarray(self.ref[..., request.index - 1]).astype("<i2")
            reply.volume.CopyFrom(pb.Volume(
                shape=list(voxels.shape), dtype="int16", data=voxels.tobytes(order="F"),
                affine=self.ref_affine.flatten().tolist(), voxel_size=[3.0, 3.0, 4.0], tr_s=1.5,
                slice_timing_s=[0.1 * k for k in range(voxels.shape[2])],
                acquisition_time_s=36000.0 + 1.5 * request.index,
            ))
        return reply

    def CloseScannerStream(self, request, context):
        self._auth(context)
        self.closed.append(request.stream_id)
        return pb.Empty()

    def SetResult(self, request, context):
        self._auth(context)
        self.results.append((request.run, request.tr, request.value, request.onset_delay_ms))
        return pb.Empty()

    def SetResultDict(self, request, context):
        self._auth(context)
        self.result_dicts.append(request.json)
        return pb.Empty()

    def GetResponse(self, request, context):
        self._auth(context)
        if (request.run, request.tr) != (1, 2):
            return pb.ResponseReply()
        return pb.ResponseReply(response=pb.Response(run=1, tr=2, json='{"key": "left"}', received_at=12.5))

    def PlotDataPoint(self, request, context):
        self._auth(context)
        self.plots.append((request.run, request.tr, request.value))
        return pb.Empty()

    def UserLog(self, request, context):
        self._auth(context)
        self.logs.append(request.text)
        return pb.Empty()

    def GetInfo(self, request, context):
        self._auth(context)
        return pb.SessionInfo(project="sample_py", data_remote=True, subject_remote=False)


@pytest.fixture
def analyser(skyra_dir: Path, skyra_ref_volumes) -> Iterator[Tuple[str, FakeAnalyser]]:
    """The server's address and its servicer; the listener is bound before tests call it."""
    servicer = FakeAnalyser(skyra_dir, skyra_ref_volumes)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_DataServicer_to_server(servicer, server)
    pb_grpc.add_SubjectServicer_to_server(servicer, server)
    pb_grpc.add_WebServicer_to_server(servicer, server)
    pb_grpc.add_SessionServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    assert port != 0, "could not bind a port on 127.0.0.1"
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(grace=None)


@pytest.fixture
def client(analyser, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientInterface]:
    """A client made from the environment, as a script started by the analyser makes it."""
    monkeypatch.setenv("RTCLOUD_API", analyser[0])
    monkeypatch.setenv("RTCLOUD_TOKEN", TOKEN)
    with ClientInterface() as c:
        yield c


def test_every_call_carries_the_token(client: ClientInterface, analyser, skyra_dir: Path) -> None:
    path = skyra_dir / "001_000013_000001.dcm"
    assert client.data.get_file(str(path)) == path.read_bytes()
    client.web.user_log("hello")
    assert analyser[1].tokens == [f"Bearer {TOKEN}"] * 2
    assert analyser[1].logs == ["hello"]


def test_a_wrong_token_is_refused_with_the_servers_message(analyser) -> None:
    client = ClientInterface(api=analyser[0], token="wrong")
    with pytest.raises(Unauthenticated, match="the analyser refuses this call"):
        client.web.user_log("hello")
    assert analyser[1].logs == []


def test_rtcloud_api_without_a_token_fails_at_once(analyser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCLOUD_API", analyser[0])
    monkeypatch.delenv("RTCLOUD_TOKEN", raising=False)
    with pytest.raises(Unauthenticated, match="RTCLOUD_TOKEN is not"):
        ClientInterface()


def test_status_codes_map_to_exceptions(client: ClientInterface) -> None:
    with pytest.raises(NotFound, match="no file /nowhere.dcm on the analyser") as err:
        client.data.get_file("/nowhere.dcm")
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(Timeout, match="volume 11 did not come within 2.0 s"):
        client.data.get_image_data("stream-1", 11, timeout=2, form="dicom")
    with pytest.raises(BadFile, match="001_000013_000000.dcm is not usable") as bad:
        client.data.get_image_data("stream-with-a-bad-file", 3, timeout=2, form="dicom")
    assert bad.value.code == "DATA_LOSS"
    with pytest.raises(RtcloudError) as err:
        client.web.clear_all_plots()  # not implemented by this server
    assert err.value.code == "UNIMPLEMENTED"


def test_an_unreachable_analyser_is_unavailable() -> None:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ClientInterface(api=f"127.0.0.1:{port}", token=TOKEN, timeout=30)
    with pytest.raises(Unavailable, match=f"RTCLOUD_API=127.0.0.1:{port}"):
        client.data.ping()


def test_volumes_decode_to_the_reference(client: ClientInterface, skyra_ref_volumes, skyra_ref_means) -> None:
    stream = client.data.init_scanner_stream("/scanner", SKYRA_PATTERN, 200_000)
    assert stream == "stream-1"
    ref = np.asanyarray(skyra_ref_volumes.dataobj)
    for k in (1, 5, 10):
        volume = client.data.get_image_data(stream, k, timeout=60, form="volume")
        np.testing.assert_array_equal(volume.data, ref[..., k - 1])
        assert float(np.mean(volume.data, dtype=np.float64)) == pytest.approx(skyra_ref_means[k - 1], rel=1e-6)
    np.testing.assert_allclose(volume.affine, skyra_ref_volumes.affine)
    assert volume.tr == 1.5 and volume.voxel_size == (3.0, 3.0, 4.0) and len(volume.slice_timing) == 27
    assert volume.closed_at == 1010.0
    assert volume.acquisition_time == 36015.0
    nifti = volume.to_nifti()
    np.testing.assert_allclose(nifti.affine, skyra_ref_volumes.affine)


def test_dicom_forms(client: ClientInterface, skyra_dir: Path) -> None:
    raw = client.data.get_image_data("stream-1", 4, timeout=60, form="dicom")
    assert raw == (skyra_dir / SKYRA_PATTERN.format(TR=4)).read_bytes()
    dataset = client.dataInterface.getImageData("stream-1", 4, timeout=60)
    assert dataset.pixel_array.shape == (384, 384)


def test_subject_and_web_calls_reach_the_analyser(client: ClientInterface, analyser) -> None:
    client.subjInterface.setResult(1, 3, 0.25, onsetTimeDelayMs=500)
    client.subject.set_result_dict({"runId": 1, "trId": 3, "values": np.array([1.5, 2.0]), "n": np.int64(2)})
    client.webInterface.plotDataPoint(1, 3, 308.5)
    servicer = analyser[1]
    assert servicer.results == [(1, 3, 0.25, 500.0)]
    assert json.loads(servicer.result_dicts[0]) == {"runId": 1, "trId": 3, "values": [1.5, 2.0], "n": 2}
    assert servicer.plots == [(1, 3, 308.5)]
    response = client.subject.get_response(1, 2)
    assert response is not None and response.value == {"key": "left"} and response.received_at == 12.5
    assert client.subject.get_response(1, 3) is None
    assert client.is_data_remote() is True and client.isSubjectRemote() is False
    # RT-Cloud's names answer with dicts, {} when nothing came.
    assert client.subjInterface.getResponse(1, 2) == {"key": "left"}
    assert client.subjInterface.getResponse(1, 3) == {}
    client.subjInterface.setResultDict({"runId": 1, "trId": 4, "value": 0.5}, 250, name="faces")
    sent = json.loads(servicer.result_dicts[1])
    assert {k: sent[k] for k in ("runId", "trId", "value", "name", "onsetTimeDelayMs")} == {
        "runId": 1, "trId": 4, "value": 0.5, "name": "faces", "onsetTimeDelayMs": 250}
    assert isinstance(sent["timestamp"], float)


def test_streams_start_at_0_or_at_the_first_index_asked_for(client: ClientInterface, analyser) -> None:
    servicer = analyser[1]
    stream = client.dataInterface.initScannerStream("/scanner", SKYRA_PATTERN, 200_000)
    dataset = client.dataInterface.getImageData(stream, timeout=60)  # no index: volume 0
    assert dataset.pixel_array.shape == (384, 384)
    assert servicer.start_indexes == [0] and servicer.closed == []
    # A scanner that numbers from 1: the unread stream is reopened there, once.
    stream = client.data.init_scanner_stream("/scanner", SKYRA_PATTERN, 200_000)
    client.data.get_image_data(stream, 1, timeout=60, form="dicom")
    client.data.get_image_data(stream, 2, timeout=60, form="dicom")
    assert servicer.start_indexes == [0, 0, 1] and servicer.closed == ["stream-1"]


def test_sample_py_over_the_wire(analyser, skyra_ref_means, tmp_path: Path) -> None:
    """projects/sample_py started as the analyser starts it: env, args, cwd = its folder."""
    sample = REPO_ROOT / "projects" / "sample_py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCLOUD_")}
    env.update(RTCLOUD_API=analyser[0], RTCLOUD_TOKEN=TOKEN, RTCLOUD_PROJECT="sample_py",
               RTCLOUD_SESSION_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "sample_py.py", "--config", "conf/sample_py.toml", "--runs", "2", "--scans", "13"],
        cwd=sample, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    servicer = analyser[1]
    assert [(run, tr) for run, tr, _, _ in servicer.results] == [(2, tr) for tr in range(1, 11)]
    for (_, _, feedback, delay), (_, _, mean), ref in zip(servicer.results, servicer.plots, skyra_ref_means):
        assert mean == pytest.approx(ref, rel=1e-6)
        assert feedback == pytest.approx(ref / 1500.0, rel=1e-6) and delay == 0.0
    assert servicer.logs[0] == f"run 2 TR 1: mean {skyra_ref_means[0]:.3f} feedback {skyra_ref_means[0] / 1500:.4f}"
    assert servicer.closed == ["stream-1"]
    assert not (sample / "rtcloud-local").exists()  # nothing written locally in remote mode
