"""Client library for rtcloud-rs project scripts.

    from rtcloud_client import ClientInterface
    client = ClientInterface()          # remote when RTCLOUD_API is set, else local
    stream = client.data.init_scanner_stream("/scans", "001_000013_{TR:06d}.dcm", 200000)
    volume = client.data.get_image_data(stream, 1, timeout=60, form="volume")
    client.subject.set_result(1, 1, float(volume.data.mean()))

See README.md for the environment contract, local mode and RT-Cloud porting notes.
"""

from .client import ClientInterface
from .errors import (
    BadFile,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RtcloudError,
    Timeout,
    Unauthenticated,
    Unavailable,
)
from .interfaces import Response, SessionInfo
from .volume import Volume

__all__ = [
    "BadFile",
    "ClientInterface",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Response",
    "RtcloudError",
    "SessionInfo",
    "Timeout",
    "Unauthenticated",
    "Unavailable",
    "Volume",
]
