"""RT-Cloud's `rtCommon.imageHandling`: reading DICOMs from the data interface,
converting them to NIfTI, and the time until the next TR.

DICOM is read with pydicom and NIfTI handled with nibabel (pip install
'rtcloud-client[dicom,nifti]'). `convertDicomImgToNifti` / `convertDicomFileToNifti`
convert with this project's converter (`data_analyser convert`, identical to
dcm2niix's output) where RT-Cloud ran dcm2niix itself.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from datetime import datetime
from datetime import time as dtime
from typing import Any, Optional, Sequence

import numpy as np

from rtcloud_client.errors import InvocationError, RequestError, StateError, ValidationError
from rtcloud_client.volume import import_pydicom

from .utils import getTimeToNextTR

log = logging.getLogger(__name__)

#: Seconds each watchFile call of readRetryDicomFromDataInterface waits at most.
RETRY_SLICE_S = 5.0

#: What anonymizeDicom blanks: the participant and the study's dates and times.
#: AcquisitionTime stays: dicomTimeToNextTr needs it to follow the scanner's TRs.
IDENTIFYING_ATTRIBUTES = (
    "PatientID", "PatientName", "PatientBirthDate", "PatientAge", "PatientSex",
    "PatientSize", "PatientWeight", "PatientPosition",
    "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "AcquisitionDate",
    "ContentDate", "ContentTime", "InstanceCreationDate", "InstanceCreationTime",
    "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
)


def _nibabel() -> Any:
    from rtcloud_client.volume import _import_nibabel

    return _import_nibabel()


def _dicomreaders() -> Any:
    _nibabel()
    with warnings.catch_warnings():
        # nibabel warns on import that its DICOM readers are experimental.
        warnings.simplefilter("ignore", UserWarning)
        from nibabel.nicom import dicomreaders
    return dicomreaders


def getDicomFileName(cfg: Any, scanNum: int, fileNum: int) -> str:
    """The path of volume `fileNum` of scan `scanNum`: cfg.dicomDir joined with
    cfg.dicomNamePattern filled ({SCAN} and {TR} fields, or two positional fields
    filled with the scan as 2 digits and the volume as 3)."""
    if scanNum < 0:
        raise ValidationError(f"getDicomFileName: scan number {scanNum} is not valid")
    pattern = cfg.dicomNamePattern
    if pattern is None:
        raise InvocationError("getDicomFileName: the settings lack dicomNamePattern")
    if "{TR" in pattern:
        name = pattern.format(SCAN=scanNum, TR=fileNum)
    else:
        name = pattern.format(str(scanNum).zfill(2), str(fileNum).zfill(3))
    return os.path.join(cfg.dicomDir, name)


def anonymizeDicom(dicomImg: Any) -> Any:
    """Blanks IDENTIFYING_ATTRIBUTES in the dataset (in place) and returns it. The
    streamer's de-identification (PS3.15 basic profile) is far stronger; this is for
    datasets a script made or read itself."""
    for name in IDENTIFYING_ATTRIBUTES:
        if name in dicomImg:
            setattr(dicomImg, name, "")
    return dicomImg


def readDicomFromFile(filename: str) -> Any:
    """The pydicom dataset of a DICOM file."""
    return import_pydicom().dcmread(filename)


def writeDicomFile(dicomImg: Any, filename: str) -> None:
    """Writes a pydicom dataset to a file."""
    dicomImg.save_as(filename)


def writeDicomToBuffer(dicomImg: Any) -> bytes:
    """A pydicom dataset as the bytes of a DICOM file."""
    buffer = io.BytesIO()
    dicomImg.save_as(buffer)
    return buffer.getvalue()


def readDicomFromBuffer(data: bytes) -> Any:
    """The pydicom dataset of a DICOM file's bytes; ValidationError when they are not a
    complete DICOM image (its pixels are decoded to check)."""
    pydicom = import_pydicom()
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        # Decode a copy: a truncated file fails here, and the caller's stays lazy.
        pydicom.dcmread(io.BytesIO(data)).convert_pixel_data()
    except Exception as err:  # pydicom raises many kinds on bad bytes
        raise ValidationError(f"readDicomFromBuffer: the DICOM is incomplete or corrupt: {err}") from err
    return dataset


def readRetryDicomFromDataInterface(dataInterface: Any, filename: str, timeout: float = 5) -> Optional[Any]:
    """Waits up to `timeout` seconds (after dataInterface.initWatch) for `filename` and
    returns its pydicom dataset; None when it did not come or could not be read (the
    reason is logged), as in RT-Cloud."""
    if timeout <= 0:
        raise RequestError("readRetryDicomFromDataInterface: timeout must be > 0 seconds")
    remaining = float(timeout)
    while remaining > 0:
        wait = min(RETRY_SLICE_S, remaining)
        try:
            dataset = readDicomFromBuffer(dataInterface.watchFile(filename, wait))
            dataset.convert_pixel_data()
            return dataset
        except TimeoutError:
            log.info("waiting for %s ...", filename)
        except Exception as err:  # RT-Cloud's contract: None, not an exception
            log.error("readRetryDicomFromDataInterface: %s: %s", filename, err)
            return None
        remaining -= wait
    return None


def parseDicomVolume(dicomImg: Any, sliceDim: int) -> np.ndarray:
    """A mosaic's tiles (each sliceDim x sliceDim, row by row) as a 3D array
    (sliceDim, sliceDim, tiles), float."""
    image = dicomImg.pixel_array
    rows, cols = image.shape[0] // sliceDim, image.shape[1] // sliceDim
    volume = np.full((sliceDim, sliceDim, rows * cols), np.nan)
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        volume[:, :, k] = image[r * sliceDim:(r + 1) * sliceDim, c * sliceDim:(c + 1) * sliceDim]
    return volume


def getDicomAcquisitionTime(dicomImg: Any) -> Optional[dtime]:
    """AcquisitionTime (HHMMSS.ffffff) as a time of day, None when absent."""
    value = dicomImg.get("AcquisitionTime", None)
    if value is None:
        return None
    text = str(value)
    return datetime.strptime(text, "%H%M%S.%f" if "." in text else "%H%M%S").time()


def getDicomRepetitionTime(dicomImg: Any) -> Optional[float]:
    """RepetitionTime in seconds (DICOM gives milliseconds), None when absent."""
    value = dicomImg.get("RepetitionTime", None)
    return None if value is None else float(value) / 1000.0


def dicomTimeToNextTr(dicomImg: Any, clockSkew: float, now: Optional[dtime] = None) -> float:
    """Seconds until the next TR starts, from the volume's AcquisitionTime and
    RepetitionTime, the scanner's clock minus ours (`clockSkew`) and now (default the
    current time of day)."""
    now = now if now is not None else datetime.now().time()
    return getTimeToNextTR(getDicomAcquisitionTime(dicomImg), getDicomRepetitionTime(dicomImg), now, clockSkew)


def bidsIncrementalTimeToNextTr(bidsIncremental: Any, clockSkew: float, now: Optional[dtime] = None) -> float:
    """Seconds until the next TR starts, as dicomTimeToNextTr, from the incremental's
    sidecar: AcquisitionTime ("HH:MM:SS.ffffff", the scanner's clock) and
    RepetitionTime (seconds). ValidationError when the sidecar lacks either."""
    metadata = bidsIncremental.getImageMetadata()
    acquired, tr = metadata.get("AcquisitionTime"), metadata.get("RepetitionTime")
    if acquired is None or tr is None:
        raise ValidationError("the incremental's sidecar has no AcquisitionTime or RepetitionTime")
    now = now if now is not None else datetime.now().time()
    return getTimeToNextTR(dtime.fromisoformat(str(acquired)), float(tr), now, clockSkew)


def _converter() -> str:
    """The data_analyser that converts: $RTCLOUD_DATA_ANALYSER (set by the analyser for
    the scripts it starts), else data_analyser on PATH."""
    exe = os.environ.get("RTCLOUD_DATA_ANALYSER") or shutil.which("data_analyser")
    if not exe:
        raise StateError(
            "converting DICOM to NIfTI needs data_analyser: run the script from the analyser, "
            "or put data_analyser on PATH (or set RTCLOUD_DATA_ANALYSER)"
        )
    return exe


def convertDicomFileToNifti(dicomFilename: str, niftiFilename: str) -> None:
    """Converts one DICOM file to a NIfTI file (`.nii` or `.nii.gz`) with
    `data_analyser convert` (dcm2niix's output). StateError when it fails."""
    if not niftiFilename.endswith((".nii", ".nii.gz")):
        niftiFilename += ".nii"
    done = subprocess.run(
        [_converter(), "convert", dicomFilename, "--out", niftiFilename],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise StateError(f"converting {dicomFilename} to NIfTI failed: {done.stderr.strip()}")


def niftiToMem(niftiImg: Any) -> Any:
    """The image with its voxels in memory, no longer backed by a file."""
    return niftiImg.__class__.from_bytes(niftiImg.to_bytes())


def readNifti(niftiFilename: str, memCached: bool = True) -> Any:
    """The NIfTI image of a file; in memory when `memCached`."""
    image = _nibabel().load(niftiFilename)
    return niftiToMem(image) if memCached else image


def convertDicomImgToNifti(dicomImg: Any, dicomFilename: Optional[str] = None) -> Any:
    """A pydicom dataset as an in-memory nibabel NIfTI image, converted as dcm2niix
    does (convertDicomFileToNifti). `dicomFilename` is accepted for RT-Cloud's
    signature; the conversion uses a temporary folder it removes afterwards."""
    with tempfile.TemporaryDirectory(prefix="rtcloud-convert-") as folder:
        dicom = os.path.join(folder, "volume.dcm")
        writeDicomFile(dicomImg, dicom)
        nifti = os.path.join(folder, "volume.nii")
        convertDicomFileToNifti(dicom, nifti)
        return readNifti(nifti)


def getAxesForTransform(startingDicomFile: str, cfg: Any) -> tuple:
    """(axis codes of cfg.ref_BOLD, axis codes of the DICOM mosaic as nibabel reads it)."""
    nib = _nibabel()
    target = nib.aff2axcodes(nib.load(cfg.ref_BOLD).affine)
    mosaic = _dicomreaders().mosaic_to_nii(readDicomFromFile(startingDicomFile))
    return target, nib.aff2axcodes(mosaic.affine)


def getTransform(target_orientation: Sequence[str], dicom_orientation: Sequence[str]) -> np.ndarray:
    """The nibabel orientation transform from the DICOM's axes to the target's."""
    orientations = _nibabel().orientations
    return orientations.ornt_transform(
        orientations.axcodes2ornt(dicom_orientation), orientations.axcodes2ornt(target_orientation)
    )


def saveAsNiftiImage(dicomDataObject: Any, fullNiftiFilename: str, cfg: Any, reference: Any) -> str:
    """Saves the mosaic's voxels, reoriented by cfg.axesTransform, with the header and
    affine of the `reference` image; returns the file name."""
    nib = _nibabel()
    data = _dicomreaders().mosaic_to_nii(dicomDataObject).get_fdata()
    data = nib.orientations.apply_orientation(data, cfg.axesTransform)
    header = reference.header.copy()
    header.set_data_dtype(data.dtype)
    nib.Nifti1Image(data, reference.affine, header).to_filename(fullNiftiFilename)
    return fullNiftiFilename
