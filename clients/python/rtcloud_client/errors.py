"""The exceptions every call of the client can raise, in remote and local mode alike.

Each gRPC status the analyser sends maps to one class, which also derives from the
matching built-in exception (NotFound is a FileNotFoundError, Timeout a TimeoutError,
...) and from RT-Cloud's classes (every failed call is an RT-Cloud `RequestError`, a bad
argument also a `ValidationError`), so RT-Cloud scripts that catch either keep working.
The message is the server's, which names what was wrong and how to fix it.
`rtCommon.errors` offers RT-Cloud's names, these among them.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


# RT-Cloud's hierarchy (rtCommon.errors): defined here so the client's own classes can
# derive from it; rtCommon.errors re-exports them with the rest of RT-Cloud's names.


class RTError(Exception):
    """RT-Cloud's root class of errors."""


class RequestError(RTError):
    """RT-Cloud: a request failed (what RT-Cloud raises for a failed remote call)."""


class ValidationError(RTError):
    """RT-Cloud: invalid information supplied in a call."""


class StateError(RTError):
    """RT-Cloud: the system is not in a state the request needs."""


class InvocationError(RTError):
    """RT-Cloud: a program's or call's arguments are wrong."""


class RTNotImplementedError(RTError):
    """RT-Cloud's NotImplementedError (rtCommon.errors.NotImplementedError): a feature
    rtcloud-rs does not offer (yet); the message names it and what to use instead."""


class RtcloudError(RequestError):
    """Any failure of a project API call; `code` is the gRPC status name, if any."""

    code: Optional[str] = None


class NotFound(RtcloudError, FileNotFoundError):
    """No such file, stream or volume."""

    code = "NOT_FOUND"


class PermissionDenied(RtcloudError, PermissionError):
    """A path outside the allowed folders, or a file type that is not allowed."""

    code = "PERMISSION_DENIED"


class Timeout(RtcloudError, TimeoutError):
    """What was waited for (a file, a volume) did not come within the timeout."""

    code = "DEADLINE_EXCEEDED"


class Unavailable(RtcloudError, ConnectionError):
    """The analyser cannot be reached, or the streamer is not connected to it."""

    code = "UNAVAILABLE"


class Unauthenticated(RtcloudError):
    """The analyser refused the token (RTCLOUD_TOKEN missing or wrong)."""

    code = "UNAUTHENTICATED"


class InvalidArgument(RtcloudError, ValidationError, ValueError):
    """A bad argument: a pattern without {TR}, an unknown image form, ..."""

    code = "INVALID_ARGUMENT"


class BadFile(RtcloudError):
    """One volume of a scanner stream is lost: its file was bad (empty, cut short for
    good, malformed, or it could not be de-identified). The message names the file and
    why; the stream goes on with the next index."""

    code = "DATA_LOSS"


_BY_CODE: Dict[grpc.StatusCode, Type[RtcloudError]] = {
    grpc.StatusCode.DATA_LOSS: BadFile,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.DEADLINE_EXCEEDED: Timeout,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
}


def from_grpc(err: grpc.RpcError, method: str) -> RtcloudError:
    """The exception for a failed call of `method` (e.g. "Data/GetFile")."""
    status = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = err.details() if isinstance(err, grpc.Call) else str(err)
    cls = _BY_CODE.get(status, RtcloudError)
    exc = cls(f"{method}: {details or status.name}")
    if cls is RtcloudError:
        exc.code = status.name
    return exc
