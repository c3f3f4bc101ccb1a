"""The interfaces over gRPC, to the analyser that started the script (RTCLOUD_API).

Every call carries `authorization: Bearer <RTCLOUD_TOKEN>` and a deadline; failures
come back as the exceptions of errors.py with the analyser's message. This module
never touches the local disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import grpc

from ._proto import api_pb2 as pb
from ._proto import api_pb2_grpc as pb_grpc
from .errors import from_grpc
from .interfaces import DataInterface, Response, SessionInfo, SubjectInterface, WebInterface
from .volume import Volume

#: The analyser's limit for one message, both ways (volumes, files).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Calls that wait (watch_file, get_image_data) get this much beyond their own timeout,
# so the analyser's DEADLINE_EXCEEDED (with its message) arrives before ours.
_WAIT_MARGIN_S = 30.0


class Connection:
    """The channel to the analyser, the token, and one way to make every call."""

    def __init__(self, api: str, token: str, timeout: float) -> None:
        self.api = api
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            api,
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._metadata: Sequence[Tuple[str, str]] = (("authorization", f"Bearer {token}"),)

    def call(self, method: Callable[..., Any], name: str, request: Any, timeout: Optional[float] = None) -> Any:
        """Calls one RPC; `name` (e.g. "Data/GetFile") goes into error messages."""
        try:
            return method(request, metadata=self._metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as err:
            exc = from_grpc(err, name)
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.UNAVAILABLE:
                exc.args = (f"{exc.args[0]} (analyser at RTCLOUD_API={self.api})",)
            raise exc from None

    def session_info(self) -> SessionInfo:
        info = self.call(pb_grpc.SessionStub(self.channel).GetInfo, "Session/GetInfo", pb.Empty())
        return SessionInfo(
            project=info.project,
            data_remote=info.data_remote,
            subject_remote=info.subject_remote,
            station=info.station,
            session_dir=info.session_dir,
            launch=info.launch,
        )

    def qa_report(self, series: str) -> Dict[str, Any]:
        """Protocol QA (issue 12): see ClientInterface.get_qa_report."""
        r = self.call(pb_grpc.ProtocolQaStub(self.channel).GetQaReport, "ProtocolQa/GetQaReport",
                      pb.QaReportRequest(series=series))
        return {
            "station": r.station, "series": r.series, "verdict": r.verdict, "repeat": r.repeat,
            "first_file": r.first_file, "template": r.template, "error": r.error,
            "skipped": list(r.skipped),
            "parameters": [
                {"parameter": p.parameter, "series": p.series_value, "template": p.template_value,
                 "tolerance": p.tolerance, "verdict": p.verdict}
                for p in r.parameters
            ],
        }

    def close(self) -> None:
        self.channel.close()


@dataclass
class _Stream:
    """A scanner stream as the script knows it, and the analyser's stream behind it."""

    request: pb.InitScannerStreamRequest
    server_id: str
    read: bool = False


class RemoteData(DataInterface):
    """Data calls answered by the analyser (from its disk or its streamer)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        self._stub = pb_grpc.DataStub(conn.channel)
        self._streams: Dict[str, _Stream] = {}

    def init_watch(self, dir: str, pattern: str = "*", min_size: int = 0) -> None:
        req = pb.InitWatchRequest(dir=dir, pattern=pattern, min_size=int(min_size))
        self._conn.call(self._stub.InitWatch, "Data/InitWatch", req)

    def watch_file(self, name: str, timeout: float = 5.0) -> bytes:
        req = pb.WatchFileRequest(name=name, timeout_s=float(timeout))
        reply = self._conn.call(self._stub.WatchFile, "Data/WatchFile", req, timeout + _WAIT_MARGIN_S)
        return reply.data

    def get_file(self, path: str) -> bytes:
        return self._conn.call(self._stub.GetFile, "Data/GetFile", pb.PathRequest(path=path)).data

    def get_newest_file(self, pattern: str) -> bytes:
        req = pb.PatternRequest(pattern=pattern)
        return self._conn.call(self._stub.GetNewestFile, "Data/GetNewestFile", req).data

    def list_files(self, pattern: str) -> List[str]:
        req = pb.PatternRequest(pattern=pattern)
        return list(self._conn.call(self._stub.ListFiles, "Data/ListFiles", req).paths)

    def list_dirs(self, pattern: str) -> List[str]:
        req = pb.PatternRequest(pattern=pattern)
        return list(self._conn.call(self._stub.ListDirs, "Data/ListDirs", req).paths)

    def put_file(self, path: str, data: Union[bytes, str], overwrite: bool = False) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        req = pb.PutFileRequest(path=path, data=data, overwrite=overwrite)
        self._conn.call(self._stub.PutFile, "Data/PutFile", req)

    def get_allowed_file_types(self) -> List[str]:
        return list(self._conn.call(self._stub.GetAllowedFileTypes, "Data/GetAllowedFileTypes", pb.Empty()).paths)

    def ping(self) -> float:
        return self._conn.call(self._stub.Ping, "Data/Ping", pb.Empty()).streamer_time

    def get_clock_skew(self, caller_time: float, round_trip: float) -> float:
        req = pb.ClockSkewRequest(caller_time=caller_time, round_trip_s=round_trip)
        return self._conn.call(self._stub.GetClockSkew, "Data/GetClockSkew", req).skew_s

    def _open_stream(self, dir: str, pattern: str, min_size: int, anonymize: bool, start_index: int) -> str:
        req = pb.InitScannerStreamRequest(
            dir=dir, pattern=pattern, min_size=int(min_size), anonymize=anonymize, start_index=start_index
        )
        stream_id = self._conn.call(self._stub.InitScannerStream, "Data/InitScannerStream", req).stream_id
        self._streams[stream_id] = _Stream(req, stream_id)
        return stream_id

    def _fetch_image(self, stream_id: str, index: int, timeout: float, volume: bool) -> Union[bytes, Volume]:
        stream = self._streams.get(stream_id)
        if stream is not None and not stream.read and index > stream.request.start_index:
            # RT-Cloud reads any index by its file name; the analyser's streams deliver
            # volumes in order from their start. A stream not read yet is therefore
            # restarted at the first index asked for (a scanner that numbers from 1
            # behind a stream opened at RT-Cloud's 0), so it never waits for a file
            # the scanner will not write.
            self._conn.call(
                self._stub.CloseScannerStream, "Data/CloseScannerStream", pb.StreamId(stream_id=stream.server_id)
            )
            stream.request.start_index = index
            reply = self._conn.call(self._stub.InitScannerStream, "Data/InitScannerStream", stream.request)
            stream.server_id = reply.stream_id
        server_id = stream.server_id if stream is not None else stream_id
        form = pb.IMAGE_FORM_VOLUME if volume else pb.IMAGE_FORM_DICOM
        req = pb.GetImageDataRequest(stream_id=server_id, index=index, timeout_s=float(timeout), form=form)
        reply = self._conn.call(self._stub.GetImageData, "Data/GetImageData", req, timeout + _WAIT_MARGIN_S)
        if stream is not None:
            stream.read = True
        if not volume:
            return reply.dicom
        decoded = Volume.from_proto(reply.volume)
        decoded.closed_at = reply.closed_at
        return decoded

    def _close_stream(self, stream_id: str) -> None:
        stream = self._streams.pop(stream_id, None)
        server_id = stream.server_id if stream is not None else stream_id
        self._conn.call(self._stub.CloseScannerStream, "Data/CloseScannerStream", pb.StreamId(stream_id=server_id))


class RemoteSubject(SubjectInterface):
    """Subject calls answered by the analyser (and its analysis_listener, if any)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._stub = pb_grpc.SubjectStub(conn.channel)

    def _set_result(self, run: int, tr: int, value: float, onset_delay_ms: float) -> None:
        req = pb.SetResultRequest(run=run, tr=tr, value=value, onset_delay_ms=onset_delay_ms)
        self._conn.call(self._stub.SetResult, "Subject/SetResult", req)

    def _set_result_json(self, json_text: str, onset_delay_ms: float) -> None:
        req = pb.SetResultDictRequest(json=json_text, onset_delay_ms=onset_delay_ms)
        self._conn.call(self._stub.SetResultDict, "Subject/SetResultDict", req)

    def set_message(self, text: str) -> None:
        self._conn.call(self._stub.SetMessage, "Subject/SetMessage", pb.SetMessageRequest(text=str(text)))

    def get_response(self, run: int, tr: int) -> Optional[Response]:
        req = pb.GetResponseRequest(run=int(run), tr=int(tr))
        reply = self._conn.call(self._stub.GetResponse, "Subject/GetResponse", req)
        return _response(reply.response) if reply.HasField("response") else None

    def get_all_responses(self) -> List[Response]:
        reply = self._conn.call(self._stub.GetAllResponses, "Subject/GetAllResponses", pb.Empty())
        return [_response(r) for r in reply.responses]


class RemoteWeb(WebInterface):
    """Web calls answered by the analyser's web page."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._stub = pb_grpc.WebStub(conn.channel)

    def plot_data_point(self, run: int, tr: int, value: float) -> None:
        req = pb.PlotDataPointRequest(run=int(run), tr=int(tr), value=float(value))
        self._conn.call(self._stub.PlotDataPoint, "Web/PlotDataPoint", req)

    def clear_run_plot(self, run: int) -> None:
        self._conn.call(self._stub.ClearRunPlot, "Web/ClearRunPlot", pb.ClearRunPlotRequest(run=int(run)))

    def clear_all_plots(self) -> None:
        self._conn.call(self._stub.ClearAllPlots, "Web/ClearAllPlots", pb.Empty())

    def user_log(self, text: str) -> None:
        self._conn.call(self._stub.UserLog, "Web/UserLog", pb.LogRequest(text=str(text)))

    def session_log(self, text: str) -> None:
        self._conn.call(self._stub.SessionLog, "Web/SessionLog", pb.LogRequest(text=str(text)))

    def set_user_error(self, text: str) -> None:
        self._conn.call(self._stub.SetUserError, "Web/SetUserError", pb.LogRequest(text=str(text)))

    def _show_preprocessing(
        self, run: int, tr: int, motion: Optional[Tuple[List[float], float, float]],
        volume: Any, roi: Any, t_map: Any, t_threshold: float,
    ) -> None:
        import numpy as np

        def floats(array: Any) -> bytes:
            return np.asarray(array, dtype="<f4").tobytes(order="F")

        req = pb.ShowPreprocessingRequest(run=run, tr=tr, t_threshold=t_threshold)
        if motion is not None:
            req.motion_params.extend(motion[0])
            req.fd_mm, req.fd_threshold_mm = motion[1], motion[2]
        if volume is not None:
            volume = np.asarray(volume)
            req.shape.extend(int(n) for n in volume.shape)
            req.volume = floats(volume)
            if roi is not None:
                req.roi_voxels.extend(int(i) for i in np.flatnonzero(np.asarray(roi).ravel(order="F")))
            if t_map is not None:
                req.t_map = floats(t_map)
        self._conn.call(self._stub.ShowPreprocessing, "Web/ShowPreprocessing", req)


def _response(msg: pb.Response) -> Response:
    return Response(run=msg.run, tr=msg.tr, value=json.loads(msg.json) if msg.json else None,
                    received_at=msg.received_at)
