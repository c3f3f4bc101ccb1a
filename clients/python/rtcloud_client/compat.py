"""RT-Cloud's names for the interfaces, so an RT-Cloud project script ports with few edits.

`ClientInterface().dataInterface`, `.subjInterface` and `.webInterface` wrap the
snake_case interfaces with RT-Cloud's camelCase methods and argument names. Each method
only forwards; arguments RT-Cloud had that mean nothing here (demoStep, compress, name)
are accepted and ignored.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

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
        self._data.put_file(filename, data)

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

    def setResultDict(self, values: Dict[str, Any], onsetTimeDelayMs: float = 0, name: str = "") -> None:
        self._subject.set_result_dict(values, onsetTimeDelayMs)

    def setMessage(self, message: str) -> None:
        self._subject.set_message(message)

    def getResponse(self, runId: int, trId: int) -> Optional[Response]:
        """The Response (its `.value` is what the stimulus PC sent), or None."""
        return self._subject.get_response(runId, trId)

    def getAllResponses(self) -> List[Response]:
        return self._subject.get_all_responses()


class WebInterfaceCompat:
    """RT-Cloud's WebDisplayInterface methods over a WebInterface."""

    def __init__(self, web: WebInterface) -> None:
        self._web = web

    def plotDataPoint(self, runId: int, trId: int, value: float) -> None:
        self._web.plot_data_point(runId, trId, value)

    def clearRunPlot(self, runId: int) -> None:
        self._web.clear_run_plot(runId)

    def clearAllPlots(self) -> None:
        self._web.clear_all_plots()

    def userLog(self, logStr: str) -> None:
        self._web.user_log(logStr)

    def sessionLog(self, logStr: str) -> None:
        self._web.session_log(logStr)

    def setUserError(self, errStr: str) -> None:
        self._web.set_user_error(errStr)
