"""RT-Cloud's names for the interfaces, so an RT-Cloud project script ports with few edits.

`ClientInterface().dataInterface`, `.subjInterface` and `.webInterface` wrap the
snake_case interfaces with RT-Cloud's camelCase methods and argument names. Each method
only forwards; arguments RT-Cloud had that mean nothing here (demoStep, compress) are
accepted and ignored. Responses come as dicts, as in RT-Cloud.
docs/porting-from-rtcloud.md lists every RT-Cloud call and its status here.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Union

from .errors import InvalidArgument
from .interfaces import DataInterface, Response, SubjectInterface, WebInterface


class DataInterfaceCompat:
    """RT-Cloud's DataInterface methods over a DataInterface."""

    def __init__(self, data: DataInterface) -> None:
        self._data = data

    def initWatch(self, dir: str, filePattern: str, minFileSize: int, demoStep: int = 0) -> None:
        self._data.init_watch(dir, filePattern, minFileSize)

    def watchFile(self, filename: str, timeout: float = 5) -> bytes:
        return self._data.watch_file(filename, timeout)

    def getFile(self, filename: str) -> bytes:
        return self._data.get_file(filename)

    def getNewestFile(self, filepattern: str) -> bytes:
        return self._data.get_newest_file(filepattern)

    def listFiles(self, filepattern: str) -> List[str]:
        return self._data.list_files(filepattern)

    def listDirs(self, dirpattern: str) -> List[str]:
        return self._data.list_dirs(dirpattern)

    def putFile(self, filename: str, data: Union[bytes, str], compress: bool = False) -> None:
        # RT-Cloud's putFile replaced an existing file; the streamer still writes only
        # into its --writable-dirs.
        self._data.put_file(filename, data, overwrite=True)

    def initScannerStream(
        self, imgDir: str, filePattern: str, minFileSize: int, anonymize: bool = True, demoStep: int = 0
    ) -> str:
        return self._data.init_scanner_stream(imgDir, filePattern, minFileSize, anonymize)

    def getImageData(self, streamId: str, imageIndex: Optional[int] = None, timeout: float = 5) -> Any:
        """A pydicom Dataset, as RT-Cloud returns (bytes when pydicom is not installed)."""
        return self._data.get_image_data(streamId, imageIndex, timeout)

    def closeScannerStream(self, streamId: str) -> None:
        self._data.close_scanner_stream(streamId)

    def getAllowedFileTypes(self) -> List[str]:
        return self._data.get_allowed_file_types()

    def ping(self) -> float:
        return self._data.ping()

    def getClockSkew(self, callerClockTime: float, roundTripTime: float) -> float:
        return self._data.get_clock_skew(callerClockTime, roundTripTime)


class SubjectInterfaceCompat:
    """RT-Cloud's SubjectInterface methods over a SubjectInterface."""

    def __init__(self, subject: SubjectInterface) -> None:
        self._subject = subject

    def setResult(self, runId: int, trId: int, value: float, onsetTimeDelayMs: float = 0) -> None:
        self._subject.set_result(runId, trId, value, onsetTimeDelayMs)

    def setResultDict(self, values: Dict[str, Any], onsetTimeDelayMs: float = 0, name: str = "defaultname") -> None:
        """Sends a copy of `values` with `name`, `onsetTimeDelayMs` and `timestamp` added,
        as RT-Cloud did (analysis_listener --rtcloud-layout writes it to <name>.json)."""
        if not isinstance(values, dict):
            raise InvalidArgument(f"setResultDict: values must be a dict, got {type(values).__name__}")
        sent = {**values, "name": name, "onsetTimeDelayMs": onsetTimeDelayMs, "timestamp": time.time()}
        self._subject.set_result_dict(sent, onsetTimeDelayMs)

    def setMessage(self, message: str) -> None:
        self._subject.set_message(message)

    def getResponse(self, runId: int, trId: int) -> Dict[str, Any]:
        """What the stimulus PC sent for this TR, as a dict ({} when nothing came)."""
        return _response_dict(self._subject.get_response(runId, trId))

    def getAllResponses(self) -> List[Dict[str, Any]]:
        """Every response so far, each as a dict ([] when none came)."""
        return [_response_dict(r) for r in self._subject.get_all_responses()]


def _response_dict(response: Optional[Response]) -> Dict[str, Any]:
    """RT-Cloud's form of a response: the dict the presentation script sent; a value
    that is not a dict comes as {"value": value}."""
    if response is None:
        return {}
    if isinstance(response.value, dict):
        return dict(response.value)
    return {"value": response.value}


class WebInterfaceCompat:
    """RT-Cloud's WebDisplayInterface methods over a WebInterface.

    The web page has a user log and a session log: RT-Cloud's debug log, run status and
    upload status lines go to the session log with a label, as does a debug error.
    """

    def __init__(self, web: WebInterface) -> None:
        self._web = web
        # The points this script plotted, per run, for getPreviousDataPoints.
        self._points: Dict[int, List[Dict[str, float]]] = {}

    def plotDataPoint(self, runId: int, trId: int, value: float) -> None:
        self._web.plot_data_point(runId, trId, value)
        self._points.setdefault(int(runId), []).append({"x": trId, "y": value})

    def clearRunPlot(self, runId: int) -> None:
        self._web.clear_run_plot(runId)
        self._points.pop(int(runId), None)

    def clearAllPlots(self) -> None:
        self._web.clear_all_plots()
        self._points.clear()

    def getPreviousDataPoints(self) -> List[List[Dict[str, float]]]:
        """The points plotted by this script: one list of {"x": TR, "y": value} per run
        id, indexed by run id (RT-Cloud's shape; runs without points are empty lists).
        The web page itself shows the whole session's plots."""
        size = max(self._points, default=0) + 1
        return [list(self._points.get(run, [])) for run in range(size)]

    def debugLog(self, logStr: str) -> None:
        self._web.session_log(f"debug: {logStr}")

    def setDebugError(self, errStr: str) -> None:
        self._web.session_log(f"debug error: {errStr}")

    def sendRunStatus(self, statusStr: Any) -> None:
        self._web.session_log(f"run status: {statusStr}")

    def sendUploadStatus(self, fileStr: str) -> None:
        self._web.session_log(f"upload status: {fileStr}")

    def sendConfig(self, config: Any, filename: str = "") -> None:
        """The web page shows the settings the analyser launched the script with, so
        a config sent by the script is only noted in the session log."""
        self._web.session_log(f"config sent by the script: {filename or '(no file name)'}")

    def userLog(self, logStr: str) -> None:
        self._web.user_log(logStr)

    def sessionLog(self, logStr: str) -> None:
        self._web.session_log(logStr)

    def setUserError(self, errStr: str) -> None:
        self._web.set_user_error(errStr)


class BidsInterfaceCompat:
    """RT-Cloud's BidsInterface methods over `client.bids` (bids.py). Stream ids are
    strings; demoStep is accepted and ignored; rpc_timeout bounds the OpenNeuro fetch."""

    def __init__(self, bids: Any, data: DataInterface) -> None:
        self._bids = bids
        self._data = data

    def initDicomBidsStream(
        self, dicomDir: str, dicomFilePattern: str, dicomMinSize: int, anonymize: bool = True, **entities: Any
    ) -> str:
        return self._bids.init_dicom_bids_stream(dicomDir, dicomFilePattern, dicomMinSize, anonymize, **entities)

    def initBidsStream(self, archivePath: str, **entities: Any) -> str:
        return self._bids.init_bids_stream(archivePath, **entities)

    def initOpenNeuroStream(self, dsAccessionNumber: str, rpc_timeout: Optional[float] = None, **entities: Any) -> str:
        return self._bids.init_open_neuro_stream(dsAccessionNumber, rpc_timeout, **entities)

    def getIncremental(self, streamId: str, volIdx: int = -1, timeout: float = 5, demoStep: int = 0) -> Any:
        return self._bids.get_incremental(streamId, volIdx, timeout)

    def getNumVolumes(self, streamId: str) -> int:
        return self._bids.get_num_volumes(streamId)

    def closeStream(self, streamId: str) -> None:
        self._bids.close_stream(streamId)

    def ping(self) -> float:
        return self._data.ping()

    def getClockSkew(self, callerClockTime: float, roundTripTime: float) -> float:
        return self._data.get_clock_skew(callerClockTime, roundTripTime)
