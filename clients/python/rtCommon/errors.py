"""RT-Cloud's error classes (`rtCommon.errors`).

The client's own exceptions derive from these: every failed project API call is a
`RequestError` (NotFound, PermissionDenied, Timeout ... are subclasses), a bad argument
also a `ValidationError`, so `except RequestError:` catches what RT-Cloud's scripts
expect while `except Timeout:` stays available.
"""

from rtcloud_client.errors import (
    InvalidArgument,
    InvocationError,
    NotFound,
    PermissionDenied,
    RequestError,
    RtcloudError,
    RTError,
    RTNotImplementedError,
    StateError,
    Timeout,
    Unauthenticated,
    Unavailable,
    ValidationError,
)

# RT-Cloud's name shadows the built-in, as in RT-Cloud; import it by name to use it.
NotImplementedError = RTNotImplementedError  # noqa: A001


class MessageError(RTError):
    """An invalid message."""


class VersionError(RTError):
    """Client and server versions do not agree."""


class MissedDeadlineError(RTError):
    """A deadline was missed."""


class MissedMultipleDeadlines(RTError):
    """Two or more deadlines were missed."""


class MissingMetadataError(RTError):
    """Required BIDS metadata is missing."""


class MetadataMismatchError(RTError):
    """BIDS or NIfTI metadata do not match."""


class DimensionError(RTError):
    """Image dimensions do not suit the operation."""


class QueryError(RTError):
    """A query failed or returned unexpected results."""


__all__ = [
    "DimensionError",
    "InvalidArgument",
    "InvocationError",
    "MessageError",
    "MetadataMismatchError",
    "MissedDeadlineError",
    "MissedMultipleDeadlines",
    "MissingMetadataError",
    "NotFound",
    "NotImplementedError",
    "PermissionDenied",
    "QueryError",
    "RequestError",
    "RtcloudError",
    "RTError",
    "StateError",
    "Timeout",
    "Unauthenticated",
    "Unavailable",
    "ValidationError",
    "VersionError",
]
