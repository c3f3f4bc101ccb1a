"""client.preprocess without an analyser: numpy volumes become the project API's Volume
messages exactly (and decode back to the same arrays), bad arrays are refused before
anything is sent, and run alone every call says the analyser is needed. The calls
against the real analyser run in data_analyser's tests/it/preproc.rs (the user guide's
worked example) and project_runtime's tests (the Rust client)."""

from __future__ import annotations

import numpy as np
import pytest

from rtcloud_client import ClientInterface, RtcloudError, Volume
from rtcloud_client._proto import api_pb2 as pb
from rtcloud_client.preprocess import _volume_message

AFFINE = np.array([[-3.0, 0, 0, 90], [0, 3.0, 0, -100], [0, 0, 3.5, -40], [0, 0, 0, 1]])


@pytest.mark.parametrize("dtype, sent", [("int16", "int16"), ("uint16", "uint16"), ("float64", "float32")])
def test_numpy_volumes_travel_exactly(dtype: str, sent: str) -> None:
    data = (np.arange(4 * 3 * 2) * 7 - 20).reshape(4, 3, 2)
    if dtype == "uint16":
        data = np.abs(data)
    data = data.astype(dtype)
    message = _volume_message(pb, data, AFFINE)
    assert message.dtype == sent and list(message.shape) == [4, 3, 2]
    assert list(message.voxel_size) == [3.0, 3.0, 3.5]
    back = Volume.from_proto(message)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(back.affine, AFFINE)


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="must be 3D"):
        _volume_message(pb, np.zeros((4, 4)), AFFINE)
    with pytest.raises(ValueError, match="must be 4x4"):
        _volume_message(pb, np.zeros((4, 4, 4)), np.eye(3))


def test_run_alone_every_call_names_the_analyser(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RTCLOUD_API", "RTCLOUD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client = ClientInterface()
    with pytest.raises(RtcloudError, match="runs in the analyser"):
        client.preprocess.init_motion_correction(np.zeros((4, 4, 4)), AFFINE)
    with pytest.raises(RtcloudError, match="runs in the analyser"):
        client.preprocess.correct_motion("pre-1", np.zeros((4, 4, 4)), AFFINE)
