"""Volume messages decoded as the contract says: little-endian, i fastest, row-major affine."""

from __future__ import annotations

import numpy as np
import pytest

from rtcloud_client import RtcloudError, Volume
from rtcloud_client._proto import api_pb2 as pb


def _message(voxels: np.ndarray, dtype: str) -> pb.Volume:
    affine = np.arange(16, dtype=np.float64)
    return pb.Volume(shape=list(voxels.shape), dtype=dtype, data=voxels.tobytes(order="F"), affine=affine.tolist())


@pytest.mark.parametrize("dtype", ["int16", "uint16", "float32"])
def test_voxels_and_affine(dtype: str) -> None:
    voxels = (np.arange(2 * 3 * 4) * 3).reshape(2, 3, 4).astype(np.dtype(dtype).newbyteorder("<"))
    volume = Volume.from_proto(_message(voxels, dtype))
    np.testing.assert_array_equal(volume.data, voxels)
    assert volume.data[1, 0, 0] == voxels[1, 0, 0]
    assert volume.affine[0, 1] == 1.0 and volume.affine[1, 0] == 4.0  # row by row
    assert volume.tr == 0.0 and volume.slice_timing == ()


def test_bad_messages_are_errors() -> None:
    voxels = np.zeros((2, 3, 4), dtype="<i2")
    with pytest.raises(RtcloudError, match="dtype 'int64'"):
        Volume.from_proto(_message(voxels, "int64"))
    short = _message(voxels, "int16")
    short.data = short.data[:-2]
    with pytest.raises(RtcloudError, match="expected 3 dimensions and 48 bytes"):
        Volume.from_proto(short)
    no_affine = _message(voxels, "int16")
    del no_affine.affine[:]
    with pytest.raises(RtcloudError, match="affine of 0 numbers"):
        Volume.from_proto(no_affine)
