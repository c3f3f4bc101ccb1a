"""Real-time preprocessing in the analyser (the project API's Preprocess service, crate
`realtime`; issue 10): motion correction with FD, DVARS and motion warnings, and an
incremental GLM t-map. numpy arrays in, numpy arrays out.

Motion parameters are ``[tx_mm, ty_mm, tz_mm, rx_deg, ry_deg, rz_deg]``: RAS+ millimetres
of the reference grid, ``R = Rz @ Ry @ Rx`` about the reference grid's centre, mapping a
reference point to where it is in the moving volume (docs/user-guide.md section 8).

Only with an analyser (RTCLOUD_API): run alone, the calls raise RtcloudError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .errors import RtcloudError
from .volume import Volume


def _volume_message(pb: Any, data: np.ndarray, affine: np.ndarray) -> Any:
    """A numpy volume (indexed [i, j, k]) and its 4x4 RAS+ affine as a Volume message."""
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"a volume must be 3D, not of shape {data.shape}")
    if data.dtype == np.int16 or data.dtype == np.uint16:
        dtype = str(data.dtype)
        raw = np.asarray(data, dtype=data.dtype.newbyteorder("<"))
    else:
        dtype, raw = "float32", np.asarray(data, dtype="<f4")
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ValueError(f"the affine must be 4x4, not {affine.shape}")
    return pb.Volume(
        shape=list(data.shape),
        dtype=dtype,
        data=raw.tobytes(order="F"),
        affine=affine.flatten().tolist(),
        voxel_size=np.linalg.norm(affine[:3, :3], axis=0).tolist(),
    )


@dataclass
class MotionResult:
    """One volume's motion correction."""

    #: tx_mm, ty_mm, tz_mm, rx_deg, ry_deg, rz_deg
    params: np.ndarray
    fd_mm: float
    dvars: float
    warnings: List[str] = field(default_factory=list)
    #: The corrected volume (float32, reference grid) when asked for.
    corrected: Optional[Volume] = None


class Preprocess:
    """`client.preprocess`: motion correction and incremental GLM states in the analyser."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        if conn is not None:
            from ._proto import api_pb2 as pb
            from ._proto import api_pb2_grpc as pb_grpc

            self._pb = pb
            self._stub = pb_grpc.PreprocessStub(conn.channel)

    def _need(self) -> None:
        if self._conn is None:
            raise RtcloudError(
                "preprocessing runs in the analyser: start this script from data_analyser (RTCLOUD_API)"
            )

    def init_motion_correction(
        self, reference: np.ndarray, affine: np.ndarray, interpolation: str = "trilinear", fd_threshold_mm: float = 0.0
    ) -> str:
        """Starts motion correction to `reference` (indexed [i, j, k], RAS+ `affine`);
        returns the state's id."""
        self._need()
        req = self._pb.InitMotionRequest(
            reference=_volume_message(self._pb, reference, affine),
            interpolation=interpolation,
            fd_threshold_mm=fd_threshold_mm,
        )
        return self._conn.call(self._stub.InitMotionCorrection, "Preprocess/InitMotionCorrection", req).id

    def correct_motion(
        self, state: str, volume: np.ndarray, affine: np.ndarray, return_volume: bool = False
    ) -> MotionResult:
        """Registers `volume` to the state's reference."""
        self._need()
        req = self._pb.CorrectMotionRequest(
            id=state, volume=_volume_message(self._pb, volume, affine), return_volume=return_volume
        )
        r = self._conn.call(self._stub.CorrectMotion, "Preprocess/CorrectMotion", req)
        return MotionResult(
            params=np.array(r.params, dtype=float),
            fd_mm=r.fd_mm,
            dvars=r.dvars,
            warnings=list(r.warnings),
            corrected=Volume.from_proto(r.corrected) if r.HasField("corrected") else None,
        )

    def init_glm(
        self,
        tr: float,
        volumes: int,
        conditions: Sequence[Tuple[str, Sequence[float], Sequence[float]]],
        mask: np.ndarray,
        affine: np.ndarray,
        drift: str = "cosine",
        cutoff_s: float = 128.0,
        motion: bool = True,
        motion_derivatives: bool = False,
    ) -> str:
        """Starts an incremental GLM over the non-zero voxels of `mask`. `conditions`:
        (name, onsets in s, durations in s); the t-map is the first condition's."""
        self._need()
        req = self._pb.InitGlmRequest(
            tr_s=tr,
            volumes=volumes,
            conditions=[
                self._pb.GlmCondition(name=n, onsets_s=list(o), durations_s=list(d)) for n, o, d in conditions
            ],
            drift=drift,
            cutoff_s=cutoff_s,
            motion=motion,
            motion_derivatives=motion_derivatives,
            mask=_volume_message(self._pb, np.asarray(mask, dtype=np.float32), affine),
        )
        return self._conn.call(self._stub.InitGlm, "Preprocess/InitGlm", req).id

    def update_glm(
        self, state: str, volume: np.ndarray, affine: np.ndarray, motion_params: Optional[Sequence[float]] = None
    ) -> np.ndarray:
        """Adds a TR; returns the t-map so far (float32, indexed [i, j, k], 0 outside the
        mask, NaN before there are residual degrees of freedom)."""
        self._need()
        req = self._pb.UpdateGlmRequest(
            id=state,
            volume=_volume_message(self._pb, volume, affine),
            motion_params=[] if motion_params is None else [float(p) for p in motion_params],
        )
        r = self._conn.call(self._stub.UpdateGlm, "Preprocess/UpdateGlm", req)
        return Volume.from_proto(r.t_map).data

    def close(self, state: str) -> None:
        """Frees a state in the analyser."""
        self._need()
        self._conn.call(self._stub.ClosePreprocess, "Preprocess/ClosePreprocess", self._pb.PreprocessId(id=state))
