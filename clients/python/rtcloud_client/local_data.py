"""Data calls served from the local disk, for a script run alone (no RTCLOUD_API).

Allowed folders: the current folder when the client was made, the folders given in
RTCLOUD_LOCAL_DIRS (separated by os.pathsep) or to ClientInterface(allowed_dirs=...),
and every folder passed to init_watch or init_scanner_stream. Paths outside them are
refused with PermissionDenied, as the analyser would. Relative paths are taken from the
current folder. Files are "complete" once they have at least the minimum size and did
not grow between two looks POLL_S apart. Local mode does not de-identify DICOMs: they
never leave this computer.
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Union

from .errors import InvalidArgument, NotFound, PermissionDenied, RtcloudError, Timeout
from .interfaces import DataInterface
from .volume import Volume, require_local_decoding

#: How often waiting calls look at a file.
POLL_S = 0.1


@dataclass
class _Stream:
    dir: str
    pattern: str
    min_size: int


class LocalData(DataInterface):
    """RT-Cloud's DataInterface on this computer's files."""

    def __init__(self, allowed_dirs: Iterable[str] = ()) -> None:
        super().__init__()
        self._allowed: List[str] = []
        for d in [os.getcwd(), *allowed_dirs]:
            self._allow(d)
        self._watch_dir: Optional[str] = None
        self._watch_min_size = 0
        self._streams: Dict[str, _Stream] = {}
        self._stream_count = 0

    def allowed_dirs(self) -> List[str]:
        """The folders data calls may read and write (absolute, symlinks resolved)."""
        return list(self._allowed)

    def init_watch(self, dir: str, pattern: str = "*", min_size: int = 0) -> None:
        self._watch_dir = self._allow(dir)
        self._watch_min_size = int(min_size)

    def watch_file(self, name: str, timeout: float = 5.0) -> bytes:
        if self._watch_dir is None:
            raise RtcloudError("watch_file: call init_watch(dir, pattern, min_size) first")
        path = os.path.join(self._watch_dir, name)
        if os.path.dirname(os.path.realpath(path)) != self._watch_dir:
            raise PermissionDenied(f"watch_file: {name} is not in the watched folder {self._watch_dir}")
        return _wait_complete(path, self._watch_min_size, time.monotonic() + timeout)

    def get_file(self, path: str) -> bytes:
        real = self._check(path)
        try:
            with open(real, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"get_file: no file {path}") from None
        except IsADirectoryError:
            raise InvalidArgument(f"get_file: {path} is a folder") from None

    def get_newest_file(self, pattern: str) -> bytes:
        files = self.list_files(pattern)
        if not files:
            raise NotFound(f"get_newest_file: no file matches {pattern}")
        return self.get_file(max(files, key=os.path.getmtime))

    def list_files(self, pattern: str) -> List[str]:
        return [p for p in self._glob(pattern) if os.path.isfile(p)]

    def list_dirs(self, pattern: str) -> List[str]:
        return [p for p in self._glob(pattern) if os.path.isdir(p)]

    def put_file(self, path: str, data: Union[bytes, str], overwrite: bool = False) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        real = self._check(path)
        if not overwrite and os.path.lexists(real):
            raise PermissionDenied(f"{path} exists already; put_file replaces a file only when asked to overwrite")
        write_atomic(real, data)

    def get_allowed_file_types(self) -> List[str]:
        return ["*"]

    def ping(self) -> float:
        return time.time()

    def get_clock_skew(self, caller_time: float, round_trip: float) -> float:
        return time.time() - (caller_time + round_trip / 2.0)

    def _open_stream(self, dir: str, pattern: str, min_size: int, anonymize: bool, start_index: int) -> str:
        self._stream_count += 1
        stream_id = f"local-{self._stream_count}"
        self._streams[stream_id] = _Stream(self._allow(dir), pattern, int(min_size))
        return stream_id

    def _fetch_image(self, stream_id: str, index: int, timeout: float, volume: bool) -> Union[bytes, Volume]:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise NotFound(f"get_image_data: no stream {stream_id!r}; open one with init_scanner_stream")
        if volume:
            require_local_decoding()  # before waiting, not after
        try:
            path = os.path.join(stream.dir, stream.pattern.format(TR=index))
        except (KeyError, IndexError, ValueError) as err:
            raise InvalidArgument(
                f"get_image_data: pattern {stream.pattern!r} has a field other than {{TR}}: {err}"
            ) from None
        deadline = time.monotonic() + timeout
        while True:
            data = _wait_complete(path, stream.min_size, deadline)
            if not volume:
                return data
            try:
                decoded = Volume.from_dicom(data)
                decoded.closed_at = os.path.getmtime(path)
                return decoded
            except InvalidArgument as err:
                # A file that stopped growing for a moment may still be incomplete.
                if time.monotonic() >= deadline:
                    raise Timeout(f"get_image_data: {path} did not become a complete volume: {err}") from None
                time.sleep(POLL_S)

    def _close_stream(self, stream_id: str) -> None:
        if self._streams.pop(stream_id, None) is None:
            raise NotFound(f"close_scanner_stream: no stream {stream_id!r}")

    def _allow(self, dir: str) -> str:
        real = os.path.realpath(dir)
        if real not in self._allowed:
            self._allowed.append(real)
        return real

    def _check(self, path: str) -> str:
        """The resolved path, if it is inside an allowed folder."""
        real = os.path.realpath(path)
        if not any(_inside(real, d) for d in self._allowed):
            raise PermissionDenied(
                f"{path} is outside the allowed folders {self._allowed}; add its folder with "
                "RTCLOUD_LOCAL_DIRS or ClientInterface(allowed_dirs=[...])"
            )
        return real

    def _glob(self, pattern: str) -> List[str]:
        self._check(_fixed_prefix(pattern))
        return sorted(glob.glob(pattern, recursive=True))


def write_atomic(path: str, data: bytes) -> None:
    """Writes `data` to `path`, making its folder: a temp file renamed into place, so
    readers never see the file half written."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rtcloud-put-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _fixed_prefix(pattern: str) -> str:
    """The folder a glob pattern starts in: its leading parts without wildcards."""
    parts = []
    for part in os.path.dirname(pattern).split(os.sep):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return os.sep.join(parts) or "."


def _wait_complete(path: str, min_size: int, deadline: float) -> bytes:
    """The file's bytes once it has >= min_size bytes and stopped growing; Timeout after deadline."""
    last_size = -1
    while True:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            size = -1
        if size >= min_size and size == last_size:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) == size:
                return data
            size = len(data)
        if time.monotonic() >= deadline:
            if size < 0:
                state = "does not exist"
            elif size < min_size:
                state = f"has {size} bytes, fewer than the minimum {min_size}"
            else:
                state = f"was still growing ({size} bytes)"
            raise Timeout(f"{path} was not complete in time: it {state}")
        last_size = size
        time.sleep(POLL_S)
