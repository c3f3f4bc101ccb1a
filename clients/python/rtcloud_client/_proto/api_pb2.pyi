from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageForm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORM_DICOM: _ClassVar[ImageForm]
    IMAGE_FORM_VOLUME: _ClassVar[ImageForm]
    IMAGE_FORM_BOTH: _ClassVar[ImageForm]
IMAGE_FORM_DICOM: ImageForm
IMAGE_FORM_VOLUME: ImageForm
IMAGE_FORM_BOTH: ImageForm

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InitWatchRequest(_message.Message):
    __slots__ = ("dir", "pattern", "min_size")
    DIR_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    dir: str
    pattern: str
    min_size: int
    def __init__(self, dir: _Optional[str] = ..., pattern: _Optional[str] = ..., min_size: _Optional[int] = ...) -> None: ...

class WatchFileRequest(_message.Message):
    __slots__ = ("name", "timeout_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    timeout_s: float
    def __init__(self, name: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class PathRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class PatternRequest(_message.Message):
    __slots__ = ("pattern",)
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    def __init__(self, pattern: _Optional[str] = ...) -> None: ...

class FileData(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class PathList(_message.Message):
    __slots__ = ("paths",)
    PATHS_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, paths: _Optional[_Iterable[str]] = ...) -> None: ...

class PutFileRequest(_message.Message):
    __slots__ = ("path", "data", "overwrite")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    overwrite: bool
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ..., overwrite: bool = ...) -> None: ...

class InitScannerStreamRequest(_message.Message):
    __slots__ = ("dir", "pattern", "min_size", "anonymize", "start_index")
    DIR_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    ANONYMIZE_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    dir: str
    pattern: str
    min_size: int
    anonymize: bool
    start_index: int
    def __init__(self, dir: _Optional[str] = ..., pattern: _Optional[str] = ..., min_size: _Optional[int] = ..., anonymize: bool = ..., start_index: _Optional[int] = ...) -> None: ...

class StreamId(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class GetImageDataRequest(_message.Message):
    __slots__ = ("stream_id", "index", "timeout_s", "form")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    index: int
    timeout_s: float
    form: ImageForm
    def __init__(self, stream_id: _Optional[str] = ..., index: _Optional[int] = ..., timeout_s: _Optional[float] = ..., form: _Optional[_Union[ImageForm, str]] = ...) -> None: ...

class ImageData(_message.Message):
    __slots__ = ("index", "dicom", "volume", "closed_at")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DICOM_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    index: int
    dicom: bytes
    volume: Volume
    closed_at: float
    def __init__(self, index: _Optional[int] = ..., dicom: _Optional[bytes] = ..., volume: _Optional[_Union[Volume, _Mapping]] = ..., closed_at: _Optional[float] = ...) -> None: ...

class Volume(_message.Message):
    __slots__ = ("shape", "dtype", "data", "affine", "voxel_size", "tr_s", "slice_timing_s", "acquisition_time_s")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    AFFINE_FIELD_NUMBER: _ClassVar[int]
    VOXEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    TR_S_FIELD_NUMBER: _ClassVar[int]
    SLICE_TIMING_S_FIELD_NUMBER: _ClassVar[int]
    ACQUISITION_TIME_S_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    data: bytes
    affine: _containers.RepeatedScalarFieldContainer[float]
    voxel_size: _containers.RepeatedScalarFieldContainer[float]
    tr_s: float
    slice_timing_s: _containers.RepeatedScalarFieldContainer[float]
    acquisition_time_s: float
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ..., affine: _Optional[_Iterable[float]] = ..., voxel_size: _Optional[_Iterable[float]] = ..., tr_s: _Optional[float] = ..., slice_timing_s: _Optional[_Iterable[float]] = ..., acquisition_time_s: _Optional[float] = ...) -> None: ...

class PingReply(_message.Message):
    __slots__ = ("streamer_time",)
    STREAMER_TIME_FIELD_NUMBER: _ClassVar[int]
    streamer_time: float
    def __init__(self, streamer_time: _Optional[float] = ...) -> None: ...

class ClockSkewRequest(_message.Message):
    __slots__ = ("caller_time", "round_trip_s")
    CALLER_TIME_FIELD_NUMBER: _ClassVar[int]
    ROUND_TRIP_S_FIELD_NUMBER: _ClassVar[int]
    caller_time: float
    round_trip_s: float
    def __init__(self, caller_time: _Optional[float] = ..., round_trip_s: _Optional[float] = ...) -> None: ...

class ClockSkewReply(_message.Message):
    __slots__ = ("skew_s",)
    SKEW_S_FIELD_NUMBER: _ClassVar[int]
    skew_s: float
    def __init__(self, skew_s: _Optional[float] = ...) -> None: ...

class SetResultRequest(_message.Message):
    __slots__ = ("run", "tr", "value", "onset_delay_ms")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ONSET_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    run: int
    tr: int
    value: float
    onset_delay_ms: float
    def __init__(self, run: _Optional[int] = ..., tr: _Optional[int] = ..., value: _Optional[float] = ..., onset_delay_ms: _Optional[float] = ...) -> None: ...

class SetResultDictRequest(_message.Message):
    __slots__ = ("json", "onset_delay_ms")
    JSON_FIELD_NUMBER: _ClassVar[int]
    ONSET_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    json: str
    onset_delay_ms: float
    def __init__(self, json: _Optional[str] = ..., onset_delay_ms: _Optional[float] = ...) -> None: ...

class SetMessageRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class GetResponseRequest(_message.Message):
    __slots__ = ("run", "tr")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    run: int
    tr: int
    def __init__(self, run: _Optional[int] = ..., tr: _Optional[int] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("run", "tr", "json", "received_at")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    run: int
    tr: int
    json: str
    received_at: float
    def __init__(self, run: _Optional[int] = ..., tr: _Optional[int] = ..., json: _Optional[str] = ..., received_at: _Optional[float] = ...) -> None: ...

class ResponseReply(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: Response
    def __init__(self, response: _Optional[_Union[Response, _Mapping]] = ...) -> None: ...

class ResponseList(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[Response]
    def __init__(self, responses: _Optional[_Iterable[_Union[Response, _Mapping]]] = ...) -> None: ...

class PlotDataPointRequest(_message.Message):
    __slots__ = ("run", "tr", "value")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    run: int
    tr: int
    value: float
    def __init__(self, run: _Optional[int] = ..., tr: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class ClearRunPlotRequest(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: int
    def __init__(self, run: _Optional[int] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("project", "data_remote", "subject_remote", "station", "session_dir", "launch")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_REMOTE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_REMOTE_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    SESSION_DIR_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    project: str
    data_remote: bool
    subject_remote: bool
    station: str
    session_dir: str
    launch: int
    def __init__(self, project: _Optional[str] = ..., data_remote: bool = ..., subject_remote: bool = ..., station: _Optional[str] = ..., session_dir: _Optional[str] = ..., launch: _Optional[int] = ...) -> None: ...

class PreprocessId(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class InitMotionRequest(_message.Message):
    __slots__ = ("reference", "interpolation", "fd_threshold_mm", "max_translation_mm", "max_rotation_deg")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    FD_THRESHOLD_MM_FIELD_NUMBER: _ClassVar[int]
    MAX_TRANSLATION_MM_FIELD_NUMBER: _ClassVar[int]
    MAX_ROTATION_DEG_FIELD_NUMBER: _ClassVar[int]
    reference: Volume
    interpolation: str
    fd_threshold_mm: float
    max_translation_mm: float
    max_rotation_deg: float
    def __init__(self, reference: _Optional[_Union[Volume, _Mapping]] = ..., interpolation: _Optional[str] = ..., fd_threshold_mm: _Optional[float] = ..., max_translation_mm: _Optional[float] = ..., max_rotation_deg: _Optional[float] = ...) -> None: ...

class CorrectMotionRequest(_message.Message):
    __slots__ = ("id", "volume", "return_volume")
    ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    RETURN_VOLUME_FIELD_NUMBER: _ClassVar[int]
    id: str
    volume: Volume
    return_volume: bool
    def __init__(self, id: _Optional[str] = ..., volume: _Optional[_Union[Volume, _Mapping]] = ..., return_volume: bool = ...) -> None: ...

class CorrectMotionReply(_message.Message):
    __slots__ = ("params", "fd_mm", "dvars", "warnings", "iterations", "corrected")
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    FD_MM_FIELD_NUMBER: _ClassVar[int]
    DVARS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELD_NUMBER: _ClassVar[int]
    params: _containers.RepeatedScalarFieldContainer[float]
    fd_mm: float
    dvars: float
    warnings: _containers.RepeatedScalarFieldContainer[str]
    iterations: int
    corrected: Volume
    def __init__(self, params: _Optional[_Iterable[float]] = ..., fd_mm: _Optional[float] = ..., dvars: _Optional[float] = ..., warnings: _Optional[_Iterable[str]] = ..., iterations: _Optional[int] = ..., corrected: _Optional[_Union[Volume, _Mapping]] = ...) -> None: ...

class GlmCondition(_message.Message):
    __slots__ = ("name", "onsets_s", "durations_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONSETS_S_FIELD_NUMBER: _ClassVar[int]
    DURATIONS_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    onsets_s: _containers.RepeatedScalarFieldContainer[float]
    durations_s: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., onsets_s: _Optional[_Iterable[float]] = ..., durations_s: _Optional[_Iterable[float]] = ...) -> None: ...

class InitGlmRequest(_message.Message):
    __slots__ = ("tr_s", "volumes", "conditions", "drift", "cutoff_s", "degree", "motion", "motion_derivatives", "mask")
    TR_S_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_S_FIELD_NUMBER: _ClassVar[int]
    DEGREE_FIELD_NUMBER: _ClassVar[int]
    MOTION_FIELD_NUMBER: _ClassVar[int]
    MOTION_DERIVATIVES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    tr_s: float
    volumes: int
    conditions: _containers.RepeatedCompositeFieldContainer[GlmCondition]
    drift: str
    cutoff_s: float
    degree: int
    motion: bool
    motion_derivatives: bool
    mask: Volume
    def __init__(self, tr_s: _Optional[float] = ..., volumes: _Optional[int] = ..., conditions: _Optional[_Iterable[_Union[GlmCondition, _Mapping]]] = ..., drift: _Optional[str] = ..., cutoff_s: _Optional[float] = ..., degree: _Optional[int] = ..., motion: bool = ..., motion_derivatives: bool = ..., mask: _Optional[_Union[Volume, _Mapping]] = ...) -> None: ...

class UpdateGlmRequest(_message.Message):
    __slots__ = ("id", "volume", "motion_params")
    ID_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    MOTION_PARAMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    volume: Volume
    motion_params: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[str] = ..., volume: _Optional[_Union[Volume, _Mapping]] = ..., motion_params: _Optional[_Iterable[float]] = ...) -> None: ...

class UpdateGlmReply(_message.Message):
    __slots__ = ("t_map", "observations")
    T_MAP_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    t_map: Volume
    observations: int
    def __init__(self, t_map: _Optional[_Union[Volume, _Mapping]] = ..., observations: _Optional[int] = ...) -> None: ...

class ShowPreprocessingRequest(_message.Message):
    __slots__ = ("run", "tr", "motion_params", "fd_mm", "fd_threshold_mm", "shape", "volume", "roi_voxels", "t_map", "t_threshold")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    MOTION_PARAMS_FIELD_NUMBER: _ClassVar[int]
    FD_MM_FIELD_NUMBER: _ClassVar[int]
    FD_THRESHOLD_MM_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    ROI_VOXELS_FIELD_NUMBER: _ClassVar[int]
    T_MAP_FIELD_NUMBER: _ClassVar[int]
    T_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    run: int
    tr: int
    motion_params: _containers.RepeatedScalarFieldContainer[float]
    fd_mm: float
    fd_threshold_mm: float
    shape: _containers.RepeatedScalarFieldContainer[int]
    volume: bytes
    roi_voxels: _containers.RepeatedScalarFieldContainer[int]
    t_map: bytes
    t_threshold: float
    def __init__(self, run: _Optional[int] = ..., tr: _Optional[int] = ..., motion_params: _Optional[_Iterable[float]] = ..., fd_mm: _Optional[float] = ..., fd_threshold_mm: _Optional[float] = ..., shape: _Optional[_Iterable[int]] = ..., volume: _Optional[bytes] = ..., roi_voxels: _Optional[_Iterable[int]] = ..., t_map: _Optional[bytes] = ..., t_threshold: _Optional[float] = ...) -> None: ...

class BidsEntities(_message.Message):
    __slots__ = ("subject", "session", "task", "acquisition", "run", "suffix", "datatype")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ACQUISITION_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    DATATYPE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    session: str
    task: str
    acquisition: str
    run: str
    suffix: str
    datatype: str
    def __init__(self, subject: _Optional[str] = ..., session: _Optional[str] = ..., task: _Optional[str] = ..., acquisition: _Optional[str] = ..., run: _Optional[str] = ..., suffix: _Optional[str] = ..., datatype: _Optional[str] = ...) -> None: ...

class InitDicomBidsStreamRequest(_message.Message):
    __slots__ = ("dir", "pattern", "min_size", "anonymize", "start_index", "entities")
    DIR_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    ANONYMIZE_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    dir: str
    pattern: str
    min_size: int
    anonymize: bool
    start_index: int
    entities: BidsEntities
    def __init__(self, dir: _Optional[str] = ..., pattern: _Optional[str] = ..., min_size: _Optional[int] = ..., anonymize: bool = ..., start_index: _Optional[int] = ..., entities: _Optional[_Union[BidsEntities, _Mapping]] = ...) -> None: ...

class InitBidsStreamRequest(_message.Message):
    __slots__ = ("path", "entities")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    path: str
    entities: BidsEntities
    def __init__(self, path: _Optional[str] = ..., entities: _Optional[_Union[BidsEntities, _Mapping]] = ...) -> None: ...

class InitOpenNeuroStreamRequest(_message.Message):
    __slots__ = ("accession", "entities")
    ACCESSION_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    accession: str
    entities: BidsEntities
    def __init__(self, accession: _Optional[str] = ..., entities: _Optional[_Union[BidsEntities, _Mapping]] = ...) -> None: ...

class BidsStreamInfo(_message.Message):
    __slots__ = ("stream_id", "num_volumes", "notes")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    num_volumes: int
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stream_id: _Optional[str] = ..., num_volumes: _Optional[int] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class GetIncrementalRequest(_message.Message):
    __slots__ = ("stream_id", "index", "timeout_s")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    index: int
    timeout_s: float
    def __init__(self, stream_id: _Optional[str] = ..., index: _Optional[int] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class NumVolumes(_message.Message):
    __slots__ = ("num_volumes",)
    NUM_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    num_volumes: int
    def __init__(self, num_volumes: _Optional[int] = ...) -> None: ...

class BidsIncremental(_message.Message):
    __slots__ = ("index", "entities", "volume", "sidecar_json")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    index: int
    entities: BidsEntities
    volume: Volume
    sidecar_json: str
    def __init__(self, index: _Optional[int] = ..., entities: _Optional[_Union[BidsEntities, _Mapping]] = ..., volume: _Optional[_Union[Volume, _Mapping]] = ..., sidecar_json: _Optional[str] = ...) -> None: ...

class ArchivePath(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ArchiveListing(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[BidsEntities]
    def __init__(self, runs: _Optional[_Iterable[_Union[BidsEntities, _Mapping]]] = ...) -> None: ...

class ArchiveRunRequest(_message.Message):
    __slots__ = ("path", "entities")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    path: str
    entities: BidsEntities
    def __init__(self, path: _Optional[str] = ..., entities: _Optional[_Union[BidsEntities, _Mapping]] = ...) -> None: ...

class BidsRunData(_message.Message):
    __slots__ = ("incrementals",)
    INCREMENTALS_FIELD_NUMBER: _ClassVar[int]
    incrementals: _containers.RepeatedCompositeFieldContainer[BidsIncremental]
    def __init__(self, incrementals: _Optional[_Iterable[_Union[BidsIncremental, _Mapping]]] = ...) -> None: ...

class ArchiveAppendRequest(_message.Message):
    __slots__ = ("path", "incrementals", "events_tsv")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INCREMENTALS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_TSV_FIELD_NUMBER: _ClassVar[int]
    path: str
    incrementals: _containers.RepeatedCompositeFieldContainer[BidsIncremental]
    events_tsv: str
    def __init__(self, path: _Optional[str] = ..., incrementals: _Optional[_Iterable[_Union[BidsIncremental, _Mapping]]] = ..., events_tsv: _Optional[str] = ...) -> None: ...

class QaReportRequest(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: str
    def __init__(self, series: _Optional[str] = ...) -> None: ...

class QaParameter(_message.Message):
    __slots__ = ("parameter", "series_value", "template_value", "tolerance", "verdict")
    PARAMETER_FIELD_NUMBER: _ClassVar[int]
    SERIES_VALUE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_VALUE_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    parameter: str
    series_value: str
    template_value: str
    tolerance: str
    verdict: str
    def __init__(self, parameter: _Optional[str] = ..., series_value: _Optional[str] = ..., template_value: _Optional[str] = ..., tolerance: _Optional[str] = ..., verdict: _Optional[str] = ...) -> None: ...

class QaReport(_message.Message):
    __slots__ = ("station", "series", "verdict", "repeat", "first_file", "template", "error", "parameters", "skipped")
    STATION_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FILE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    station: str
    series: str
    verdict: str
    repeat: int
    first_file: str
    template: str
    error: str
    parameters: _containers.RepeatedCompositeFieldContainer[QaParameter]
    skipped: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, station: _Optional[str] = ..., series: _Optional[str] = ..., verdict: _Optional[str] = ..., repeat: _Optional[int] = ..., first_file: _Optional[str] = ..., template: _Optional[str] = ..., error: _Optional[str] = ..., parameters: _Optional[_Iterable[_Union[QaParameter, _Mapping]]] = ..., skipped: _Optional[_Iterable[str]] = ...) -> None: ...
