"""RT-Cloud's `rtCommon.utils`: the helpers RT-Cloud projects import.

`loadConfigFile` gives the settings as a StructDict (`cfg.runNum`; a missing key is
None), `stringPartialFormat` fills one field of a file name pattern,
`calcAvgRoundTripTime` times a ping, `getTimeToNextTR` tells how long until the next
volume starts.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from rtcloud_client.errors import InvocationError, StateError, ValidationError
from rtcloud_client.local_data import write_atomic

from .structDict import StructDict, recurseCreateStructDict

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

#: How many pings calcAvgRoundTripTime averages.
ROUND_TRIPS = 10


def loadConfigFile(filename: Union[str, os.PathLike]) -> StructDict:
    """The settings file (.toml or .json) as a StructDict; nested tables are StructDicts
    too. Raises InvocationError for another suffix, OSError when it cannot be read."""
    suffix = Path(filename).suffix
    if suffix == ".toml":
        with open(filename, "rb") as f:
            values = tomllib.load(f)
    elif suffix == ".json":
        with open(filename, encoding="utf-8") as f:
            values = json.load(f)
    else:
        raise InvocationError(f"loadConfigFile: {filename} is not a .toml or .json settings file")
    return recurseCreateStructDict(values)


def stringPartialFormat(text: str, tag: str, val: Any) -> str:
    """Fills only the `{tag...}` fields of `text` with `val` and leaves the others:
    stringPartialFormat("001_{SCAN:06d}_{TR:06d}.dcm", "SCAN", 13) is
    "001_000013_{TR:06d}.dcm"."""
    field = re.compile(r"\{" + re.escape(tag) + r"((?:![rsa])?(?::[^{}]*)?)\}")
    return field.sub(lambda m: ("{" + m.group(1) + "}").format(val), text)


def calcAvgRoundTripTime(pingFunc: Callable[[], Any]) -> float:
    """The mean time of ROUND_TRIPS calls of `pingFunc` (e.g. dataInterface.ping), seconds."""
    total = 0.0
    for _ in range(ROUND_TRIPS):
        start = time.monotonic()
        pingFunc()
        total += time.monotonic() - start
    return total / ROUND_TRIPS


def dtimeToSeconds(valTime: dtime) -> float:
    """Seconds since midnight of a datetime.time."""
    if not isinstance(valTime, dtime):
        raise ValidationError(f"dtimeToSeconds: expected a datetime.time, got {type(valTime).__name__}")
    return (datetime.combine(date.min, valTime) - datetime.min).total_seconds()


def getTimeToNextTR(lastTrTime: dtime, trRepSec: float, nowTime: dtime, clockSkew: float) -> float:
    """Seconds until the next volume starts, given when one started on the scanner's
    clock (`lastTrTime`, time of day), the repetition time, the caller's time of day
    and the scanner's clock minus the caller's (`clockSkew`, seconds). Raises
    StateError without a last TR time, ValidationError when it is later than now."""
    if not isinstance(lastTrTime, dtime):
        raise StateError("getTimeToNextTR: the last TR's time is unknown")
    if not trRepSec or trRepSec <= 0:
        raise StateError(f"getTimeToNextTR: the repetition time is unknown ({trRepSec})")
    since = dtimeToSeconds(nowTime) + clockSkew - dtimeToSeconds(lastTrTime)
    if since < 0:
        raise ValidationError(f"getTimeToNextTR: the last TR's time is {-since:.3f} s after now")
    return trRepSec - since % trRepSec


def writeFile(filename: str, data: Union[bytes, str], binary: bool = True) -> None:
    """Writes `data` to `filename`, making its folder; never visible half written."""
    write_atomic(filename, data.encode("utf-8") if isinstance(data, str) else data)


def readFile(filename: str, binary: bool = True) -> Union[bytes, str]:
    """The file's bytes (or text when `binary` is False)."""
    with open(filename, "rb") as f:
        data = f.read()
    return data if binary else data.decode("utf-8")


def deleteFilesFromList(fileList: Iterable[str]) -> None:
    """Deletes each file of the list (folders are left)."""
    for name in fileList:
        if os.path.isfile(name):
            os.remove(name)
