"""Decoded 3D volumes: the analyser's `Volume` message as numpy, and local decoding.

From the analyser a volume is decoded exactly as dcm2niix would (NIfTI orientation,
RAS+ affine). In local mode (no analyser) nibabel.nicom decodes the DICOM instead: the
voxel values (and so any statistic over all voxels) are the same, but the axes may be
ordered or flipped differently, so the affine may differ from dcm2niix's (it still
maps this volume's voxels to RAS+ millimetres correctly).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np

from .errors import InvalidArgument, RtcloudError

if TYPE_CHECKING:
    from ._proto import api_pb2

# The dtypes the project API sends, as little-endian numpy dtypes.
_DTYPES: Dict[str, np.dtype] = {"int16": np.dtype("<i2"), "uint16": np.dtype("<u2"), "float32": np.dtype("<f4")}
# nibabel's affines are DICOM LPS+; flipping x and y gives RAS+ like dcm2niix's.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    """One 3D volume: voxels in NIfTI orientation and where they are in the scanner."""

    #: Voxels indexed [i, j, k] (shape (ni, nj, nk)).
    data: np.ndarray
    #: 4x4 matrix from voxel (i, j, k, 1) to RAS+ millimetres.
    affine: np.ndarray
    #: Voxel size along i, j, k in millimetres.
    voxel_size: Tuple[float, ...] = ()
    #: Repetition time in seconds; 0.0 when unknown.
    tr: float = 0.0
    #: Acquisition onset of each slice (k order), seconds from the volume's start.
    slice_timing: Tuple[float, ...] = field(default=())
    #: When the DICOM file was complete on the scanner side (seconds since the epoch,
    #: that computer's clock; see get_clock_skew); 0.0 when unknown.
    closed_at: float = 0.0
    #: DICOM AcquisitionTime: seconds since midnight on the scanner's clock (no date:
    #: de-identification removes it); None when the file has none.
    acquisition_time: Optional[float] = None

    @property
    def shape(self) -> Tuple[int, ...]:
        return tuple(self.data.shape)

    def to_nifti(self) -> Any:
        """This volume as a nibabel Nifti1Image (needs nibabel: pip install nibabel)."""
        nib = _import_nibabel()
        img = nib.Nifti1Image(self.data, self.affine)
        if self.voxel_size:
            img.header.set_zooms(tuple(self.voxel_size[:3]))
        img.header.set_xyzt_units("mm", "sec")
        return img

    @classmethod
    def from_proto(cls, msg: "api_pb2.Volume") -> "Volume":
        """Decodes the project API's Volume message (see api.proto for the layout)."""
        dtype = _DTYPES.get(msg.dtype)
        if dtype is None:
            raise RtcloudError(
                f"the analyser sent a volume of dtype {msg.dtype!r}; this client knows "
                f"{sorted(_DTYPES)}: upgrade rtcloud-client"
            )
        shape = tuple(int(n) for n in msg.shape)
        expected = int(np.prod(shape)) * dtype.itemsize
        if len(shape) != 3 or len(msg.data) != expected:
            raise RtcloudError(
                f"the analyser sent a volume of shape {shape} and {len(msg.data)} bytes "
                f"of {msg.dtype}; expected 3 dimensions and {expected} bytes"
            )
        if len(msg.affine) != 16:
            raise RtcloudError(f"the analyser sent an affine of {len(msg.affine)} numbers, not 16")
        data = np.frombuffer(msg.data, dtype=dtype).reshape(shape, order="F")
        return cls(
            data=data,
            affine=np.array(msg.affine, dtype=np.float64).reshape(4, 4),
            voxel_size=tuple(msg.voxel_size),
            tr=msg.tr_s,
            slice_timing=tuple(msg.slice_timing_s),
            acquisition_time=msg.acquisition_time_s if msg.HasField("acquisition_time_s") else None,
        )

    @classmethod
    def from_dicom(cls, dicom: bytes) -> "Volume":
        """Decodes one DICOM file (a Siemens mosaic or a single frame) with nibabel.nicom.

        Used by local mode. Raises InvalidArgument when the bytes are not a complete
        DICOM image (e.g. a file still being written).
        """
        pydicom = require_local_decoding()
        with warnings.catch_warnings():
            # nibabel warns on import that its DICOM readers are experimental.
            warnings.simplefilter("ignore", UserWarning)
            from nibabel.nicom import dicomwrappers
        try:
            dataset = pydicom.dcmread(io.BytesIO(dicom))
            wrapper = dicomwrappers.wrapper_from_data(dataset)
            data = np.asarray(wrapper.get_data())
            affine = _LPS_TO_RAS @ np.asarray(wrapper.affine, dtype=np.float64)
        except Exception as err:  # pydicom and nibabel raise many kinds on bad input
            raise InvalidArgument(f"not a complete DICOM image volume: {err}") from err
        if data.ndim != 3:
            raise InvalidArgument(f"the DICOM holds a {data.ndim}D image, not a 3D volume")
        voxel_size = tuple(float(v) for v in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
        tr_ms = float(getattr(dataset, "RepetitionTime", 0) or 0)
        return cls(
            data=data,
            affine=affine,
            voxel_size=voxel_size,
            tr=tr_ms / 1000.0,
            slice_timing=_siemens_slice_timing(wrapper),
        )


def _siemens_slice_timing(wrapper: Any) -> Tuple[float, ...]:
    """Slice onsets in seconds from a Siemens CSA header, () when there are none."""
    try:
        times = wrapper.csa_header["tags"]["MosaicRefAcqTimes"]["items"]
    except (AttributeError, KeyError, TypeError):
        return ()
    return tuple(float(t) / 1000.0 for t in times)


def import_pydicom() -> Any:
    """The pydicom module, or an ImportError that says how to install it."""
    try:
        import pydicom
    except ImportError as err:
        raise ImportError(
            "this needs pydicom: pip install 'rtcloud-client[dicom]' (or pip install pydicom), "
            "or ask for form='dicom' (bytes) or form='volume'"
        ) from err
    return pydicom


def require_local_decoding() -> Any:
    """Checks that nibabel and pydicom are there to decode volumes locally; returns pydicom."""
    _import_nibabel()
    return import_pydicom()


def _import_nibabel() -> Any:
    try:
        import nibabel
    except ImportError as err:
        raise ImportError(
            "this needs nibabel: pip install 'rtcloud-client[nifti]' (or pip install nibabel pydicom)"
        ) from err
    return nibabel
