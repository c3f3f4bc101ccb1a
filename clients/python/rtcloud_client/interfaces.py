"""The project API as Python classes: what `ClientInterface().data`, `.subject` and `.web` offer.

Each interface has two implementations, one calling the analyser (remote.py) and one
serving the script alone (local_data.py, local_display.py). What does not depend on the
mode (argument checks, the image form, JSON encoding) is done here once, so a script
sees the same behaviour in both.
"""

from __future__ import annotations

import importlib.util
import io
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union, cast, overload

from .errors import InvalidArgument
from .volume import Volume, import_pydicom

#: The forms get_image_data can return: the DICOM file's bytes, a pydicom Dataset, a Volume.
IMAGE_FORMS = ("dicom", "pydicom", "volume")


def default_image_form() -> str:
    """"pydicom" when pydicom is installed (what RT-Cloud returns), else "dicom" (bytes)."""
    return "pydicom" if importlib.util.find_spec("pydicom") is not None else "dicom"


@dataclass(frozen=True)
class Response:
    """A participant's response, as the stimulus PC sent it."""

    run: int
    tr: int
    #: The response: any JSON value, decoded.
    value: Any
    #: When the analyser received it, seconds since the epoch.
    received_at: float


@dataclass(frozen=True)
class SessionInfo:
    """Where the script runs (see SessionInfo in api.proto)."""

    project: str
    data_remote: bool
    subject_remote: bool
    station: str
    session_dir: str
    launch: int


class DataInterface(ABC):
    """The scanner's files: RT-Cloud's DataInterface."""

    def __init__(self) -> None:
        # The index get_image_data(index=None) fetches next, per stream (RT-Cloud's default).
        self._next_index: Dict[str, int] = {}

    @abstractmethod
    def init_watch(self, dir: str, pattern: str = "*", min_size: int = 0) -> None:
        """Sets the folder watch_file waits in, the files' pattern and their minimum size."""

    @abstractmethod
    def watch_file(self, name: str, timeout: float = 5.0) -> bytes:
        """Waits up to `timeout` seconds for file `name` of the watched folder to be complete."""

    @abstractmethod
    def get_file(self, path: str) -> bytes:
        """The contents of a file that exists now."""

    @abstractmethod
    def get_newest_file(self, pattern: str) -> bytes:
        """The contents of the newest file matching a glob pattern (e.g. /scans/*.dcm)."""

    @abstractmethod
    def list_files(self, pattern: str) -> List[str]:
        """The files matching a glob pattern."""

    @abstractmethod
    def list_dirs(self, pattern: str) -> List[str]:
        """The folders matching a glob pattern."""

    @abstractmethod
    def put_file(self, path: str, data: Union[bytes, str], overwrite: bool = False) -> None:
        """Writes a file (str is written as UTF-8), never visible half written, into a
        writable folder (the streamer's --writable-dirs). An existing file is replaced
        only with ``overwrite=True`` (PermissionDenied otherwise)."""

    @abstractmethod
    def get_allowed_file_types(self) -> List[str]:
        """The file extensions the data calls may touch ("*" for any)."""

    @abstractmethod
    def ping(self) -> float:
        """A round trip to the data's source; returns its clock (seconds since the epoch)."""

    @abstractmethod
    def get_clock_skew(self, caller_time: float, round_trip: float) -> float:
        """The data source's clock minus the caller's, in seconds."""

    def init_scanner_stream(
        self, dir: str, pattern: str, min_size: int = 0, anonymize: bool = True, start_index: int = 0
    ) -> str:
        """Starts a stream of the scanner's files in `dir` named by `pattern`.

        `pattern` must hold a {TR} field, e.g. "001_000013_{TR:06d}.dcm"; volume `i` is
        the file whose name has TR=i, from `start_index` on (0, as RT-Cloud; a stream
        not read yet starts at the first index asked for, so a scanner that numbers its
        files from 1 needs no start_index). Returns the stream's id for get_image_data.
        """
        if "{TR" not in pattern:
            raise InvalidArgument(
                f"init_scanner_stream: pattern {pattern!r} has no {{TR}} field "
                "(e.g. 001_000013_{TR:06d}.dcm)"
            )
        stream_id = self._open_stream(dir, pattern, min_size, anonymize, start_index)
        self._next_index[stream_id] = start_index
        return stream_id

    @overload
    def get_image_data(
        self, stream_id: str, index: Optional[int] = None, timeout: float = 5.0, *, form: Literal["volume"]
    ) -> Volume: ...

    @overload
    def get_image_data(
        self, stream_id: str, index: Optional[int] = None, timeout: float = 5.0, *, form: Literal["dicom"]
    ) -> bytes: ...

    @overload
    def get_image_data(
        self, stream_id: str, index: Optional[int] = None, timeout: float = 5.0, form: Optional[str] = None
    ) -> Any: ...

    def get_image_data(
        self,
        stream_id: str,
        index: Optional[int] = None,
        timeout: float = 5.0,
        form: Optional[str] = None,
    ) -> Any:
        """Waits up to `timeout` seconds for volume `index` of a scanner stream.

        `index` None means the one after the last fetched (or the stream's first).
        `form`: "dicom" returns the DICOM file's bytes, "pydicom" a pydicom Dataset,
        "volume" a Volume (numpy voxels, affine, TR); None means "pydicom" when pydicom
        is installed, else "dicom".
        """
        form = form or default_image_form()
        if form not in IMAGE_FORMS:
            raise InvalidArgument(f"get_image_data: form {form!r} is not one of {IMAGE_FORMS}")
        if timeout <= 0:
            raise InvalidArgument(f"get_image_data: timeout must be > 0 seconds, got {timeout}")
        # Fail before fetching: the analyser hands each volume out only once.
        pydicom = import_pydicom() if form == "pydicom" else None
        if index is None:
            index = self._next_index.get(stream_id, 0)
        image = self._fetch_image(stream_id, index, timeout, form == "volume")
        self._next_index[stream_id] = index + 1
        if pydicom is not None:
            return pydicom.dcmread(io.BytesIO(cast(bytes, image)))
        return image

    def close_scanner_stream(self, stream_id: str) -> None:
        """Stops a scanner stream."""
        self._close_stream(stream_id)
        self._next_index.pop(stream_id, None)

    @abstractmethod
    def _open_stream(self, dir: str, pattern: str, min_size: int, anonymize: bool, start_index: int) -> str:
        """Opens a stream; returns its id."""

    @abstractmethod
    def _fetch_image(self, stream_id: str, index: int, timeout: float, volume: bool) -> Union[bytes, Volume]:
        """The DICOM bytes of volume `index`, or the decoded Volume when `volume`."""

    @abstractmethod
    def _close_stream(self, stream_id: str) -> None:
        """Closes a stream."""


class SubjectInterface(ABC):
    """Results to the stimulus PC and responses from it: RT-Cloud's SubjectInterface."""

    def set_result(self, run: int, tr: int, value: float, onset_delay_ms: float = 0) -> None:
        """The feedback value of one TR, to be shown `onset_delay_ms` after it was computed."""
        _check_delay(onset_delay_ms)
        self._set_result(int(run), int(tr), float(value), float(onset_delay_ms))

    def set_result_dict(self, values: Dict[str, Any], onset_delay_ms: float = 0) -> None:
        """Any JSON-able dict as the result; its "run"/"runId" and "tr"/"trId" file it."""
        _check_delay(onset_delay_ms)
        if not isinstance(values, dict):
            raise InvalidArgument(f"set_result_dict: values must be a dict, got {type(values).__name__}")
        self._set_result_json(to_json(values), float(onset_delay_ms))

    @abstractmethod
    def set_message(self, text: str) -> None:
        """A text message for the stimulus PC (instructions, status)."""

    @abstractmethod
    def get_response(self, run: int, tr: int) -> Optional[Response]:
        """The participant's response to one TR, None if none came."""

    @abstractmethod
    def get_all_responses(self) -> List[Response]:
        """Every response received so far."""

    @abstractmethod
    def _set_result(self, run: int, tr: int, value: float, onset_delay_ms: float) -> None:
        """Sends one checked result."""

    @abstractmethod
    def _set_result_json(self, json_text: str, onset_delay_ms: float) -> None:
        """Sends one checked result dict, as JSON text."""


class WebInterface(ABC):
    """The experimenter's web page: RT-Cloud's WebDisplayInterface."""

    @abstractmethod
    def plot_data_point(self, run: int, tr: int, value: float) -> None:
        """Adds a point to run `run`'s plot."""

    @abstractmethod
    def clear_run_plot(self, run: int) -> None:
        """Clears run `run`'s plot."""

    @abstractmethod
    def clear_all_plots(self) -> None:
        """Clears every run's plot."""

    @abstractmethod
    def user_log(self, text: str) -> None:
        """A line for the experimenter (the user log)."""

    @abstractmethod
    def session_log(self, text: str) -> None:
        """A line in the session log (kept with the session's files)."""

    @abstractmethod
    def set_user_error(self, text: str) -> None:
        """An error the experimenter must see (shown in red until the next run)."""

    def show_preprocessing(
        self,
        run: int,
        tr: int,
        params: Optional[Sequence[float]] = None,
        fd_mm: float = 0.0,
        fd_threshold_mm: float = 0.0,
        volume: Any = None,
        roi: Any = None,
        t_map: Any = None,
        t_threshold: float = 0.0,
    ) -> None:
        """A TR's preprocessing on the Run tab (issue 10): a point of the motion plot
        (`params`: tx_mm .. rz_deg, `fd_mm` and the `fd_threshold_mm` line) and the brain
        view (`volume`: an array indexed [i, j, k], e.g. the motion-corrected one; `roi`: a
        boolean array of its shape, outlined; `t_map` of its shape, shown over
        `t_threshold`). Call it after the TR's result. Run alone: the motion is printed."""
        motion = None if params is None else ([float(p) for p in params], float(fd_mm), float(fd_threshold_mm))
        self._show_preprocessing(int(run), int(tr), motion, volume, roi, t_map, float(t_threshold))

    @abstractmethod
    def _show_preprocessing(
        self, run: int, tr: int, motion: Optional[Tuple[List[float], float, float]],
        volume: Any, roi: Any, t_map: Any, t_threshold: float,
    ) -> None:
        """`show_preprocessing` with its arguments checked (motion: params, FD, threshold)."""


def to_json(value: Any) -> str:
    """JSON text of `value`; numpy scalars and arrays become numbers and lists."""

    def numpy_to_python(obj: Any) -> Any:
        if hasattr(obj, "tolist"):  # numpy arrays and scalars
            return obj.tolist()
        raise InvalidArgument(f"cannot send a {type(obj).__name__} as JSON: {obj!r}")

    return json.dumps(value, default=numpy_to_python)


def _check_delay(onset_delay_ms: float) -> None:
    if onset_delay_ms < 0:
        raise InvalidArgument(f"onset_delay_ms must be >= 0, got {onset_delay_ms}")
