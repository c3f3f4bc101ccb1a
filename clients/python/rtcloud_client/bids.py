"""BIDS streams and archives (the project API's Bids service; crate `bids`, issue 11).

`client.bids` opens streams of BIDS incrementals (one volume with its BIDS entities
and sidecar): live scanner DICOM (`init_dicom_bids_stream`: the streamer watches and
de-identifies, the analyser converts), a dataset on disk (`init_bids_stream`: read
through the data service, so the streamer's allowed folders hold), or an OpenNeuro
dataset (`init_open_neuro_stream`: fetched into the analyser's cache, reused).
`BidsRun` gathers incrementals; `BidsArchive` lists, reads and appends runs of a
dataset on the analyser's disk (the Rust archive writes it: atomic, validator-clean).

RT-Cloud's names (`initDicomBidsStream`, `getIncremental`, `imageData`,
`appendIncremental`, `getBidsRun` ...) are aliases; `rtCommon.bidsIncremental`,
`rtCommon.bidsRun` and `rtCommon.bidsArchive` re-export the classes.

Only with an analyser (RTCLOUD_API): run alone, the calls raise RtcloudError.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from ._proto import api_pb2 as pb
from ._proto import api_pb2_grpc as pb_grpc
from .errors import InvalidArgument, RtcloudError, RTNotImplementedError
from .preprocess import _volume_message
from .volume import Volume

#: Entity names of the wire form, in BIDS order.
ENTITIES = ("subject", "session", "task", "acquisition", "run", "suffix", "datatype")
# Calls that wait for the scanner get this much beyond their own timeout.
_WAIT_MARGIN_S = 30.0


def _entities_message(entities: Dict[str, Any]) -> Any:
    unknown = sorted(set(entities) - set(ENTITIES))
    if unknown:
        raise InvalidArgument(f"unknown BIDS entities {unknown}; known: {list(ENTITIES)}")
    return pb.BidsEntities(**{k: str(v) for k, v in entities.items() if v is not None and str(v) != ""})


def _entities_dict(msg: Any) -> Dict[str, str]:
    return {k: getattr(msg, k) for k in ENTITIES if getattr(msg, k)}


class BidsIncremental:
    """One volume as a tiny BIDS dataset: image (numpy, real values, NIfTI orientation),
    affine, BIDS entities and sidecar metadata (BIDS names and units)."""

    def __init__(self, volume: Volume, entities: Dict[str, str], metadata: Dict[str, Any], index: int = 0) -> None:
        self.volume = volume
        self.entities = dict(entities)
        self.metadata = dict(metadata)
        #: The volume's index in its stream (the TR number for a DICOM stream).
        self.index = index

    @classmethod
    def _from_proto(cls, msg: Any) -> "BidsIncremental":
        return cls(Volume.from_proto(msg.volume), _entities_dict(msg.entities), json.loads(msg.sidecar_json), msg.index)

    def _to_proto(self) -> Any:
        volume = _volume_message(pb, self.volume.data, self.volume.affine)
        return pb.BidsIncremental(
            index=self.index,
            entities=_entities_message(self.entities),
            volume=volume,
            sidecar_json=json.dumps(self.metadata),
        )

    @property
    def image_data(self) -> np.ndarray:
        """The voxels, indexed [i, j, k]."""
        return self.volume.data

    # RT-Cloud's names.
    imageData = image_data

    def getImageData(self) -> np.ndarray:
        return self.volume.data

    def getImageMetadata(self) -> Dict[str, Any]:
        return dict(self.metadata)

    def getMetadataField(self, field: str) -> Any:
        if field in self.metadata:
            return self.metadata[field]
        if field in self.entities:
            return self.entities[field]
        raise KeyError(f"no metadata field {field!r}")

    def getEntities(self) -> Dict[str, str]:
        return dict(self.entities)

    def __repr__(self) -> str:
        names = "_".join(f"{k}-{v}" for k, v in self.entities.items() if k not in ("suffix", "datatype"))
        return f"<BidsIncremental {names} {self.entities.get('suffix', '')} shape={self.volume.shape}>"


class BidsRun:
    """Incrementals of one run, in order (RT-Cloud's BidsRun). Entities are checked
    here; image geometry and key metadata when the run is appended to an archive."""

    def __init__(self, **entities: Any) -> None:
        self.entities = {k: str(v) for k, v in entities.items() if v is not None and str(v) != ""}
        self._incrementals: List[BidsIncremental] = []

    def append(self, incremental: BidsIncremental) -> None:
        """Appends a volume. Raises InvalidArgument naming the entity that differs."""
        for key, value in self.entities.items():
            theirs = incremental.entities.get(key)
            same = theirs == value or (key == "run" and theirs is not None and _index(theirs) == _index(value))
            if not same:
                raise InvalidArgument(f"entity {key} does not match the run: the run has {value!r}, the new volume {theirs!r}")
        if self._incrementals:
            first = self._incrementals[0]
            if first.entities != incremental.entities:
                raise InvalidArgument(
                    f"entities do not match the run: the run has {first.entities}, the new volume {incremental.entities}"
                )
            if first.volume.shape != incremental.volume.shape:
                raise InvalidArgument(
                    f"image shape does not match the run: the run has {first.volume.shape}, "
                    f"the new volume {incremental.volume.shape}"
                )
        self._incrementals.append(incremental)

    def __len__(self) -> int:
        return len(self._incrementals)

    def incremental(self, index: int) -> BidsIncremental:
        return self._incrementals[index]

    # RT-Cloud's names.
    def appendIncremental(self, incremental: BidsIncremental, validateAppend: bool = True) -> None:
        self.append(incremental)

    def numIncrementals(self) -> int:
        return len(self._incrementals)

    def getIncremental(self, index: int) -> BidsIncremental:
        return self._incrementals[index]

    def getRunEntities(self) -> Dict[str, str]:
        return dict(self._incrementals[0].entities if self._incrementals else self.entities)


def _index(run: str) -> Optional[int]:
    try:
        return int(run)
    except ValueError:
        return None


def _connection() -> Any:
    """The analyser of this script (RTCLOUD_API / RTCLOUD_TOKEN), made once."""
    global _CONN
    if _CONN is None:
        api, token = os.environ.get("RTCLOUD_API", ""), os.environ.get("RTCLOUD_TOKEN", "")
        if not api:
            raise RtcloudError("BidsArchive needs the analyser (RTCLOUD_API is not set: the script runs alone)")
        from .remote import Connection

        _CONN = Connection(api, token, 300.0)
    return _CONN


_CONN: Any = None


class BidsArchive:
    """A BIDS dataset on the analyser's disk (RT-Cloud's BidsArchive); it need not exist
    until the first append, which creates it."""

    def __init__(self, rootPath: str, _conn: Any = None) -> None:
        self.rootPath = os.path.abspath(rootPath)
        self._conn = _conn

    def _stub(self) -> Any:
        self._conn = self._conn or _connection()
        return pb_grpc.BidsStub(self._conn.channel)

    def runs(self) -> List[Dict[str, str]]:
        """Every run's entities."""
        reply = self._conn_call("ArchiveRuns", pb.ArchivePath(path=self.rootPath))
        return [_entities_dict(e) for e in reply.runs]

    def _conn_call(self, name: str, request: Any) -> Any:
        stub = self._stub()
        return self._conn.call(getattr(stub, name), f"Bids/{name}", request)

    def get_bids_run(self, **entities: Any) -> BidsRun:
        """The one run these entities select (e.g. subject, task, run)."""
        reply = self._conn_call("ArchiveGetRun", pb.ArchiveRunRequest(path=self.rootPath, entities=_entities_message(entities)))
        run = BidsRun()
        for msg in reply.incrementals:
            run.append(BidsIncremental._from_proto(msg))
        run.entities = run.getRunEntities()
        return run

    def append_bids_run(self, run: BidsRun, events_tsv: str = "") -> str:
        """Appends the run (atomic; its files must not exist yet); returns the image's path."""
        if not len(run):
            raise InvalidArgument("the run has no volumes to append")
        request = pb.ArchiveAppendRequest(
            path=self.rootPath, incrementals=[inc._to_proto() for inc in run._incrementals], events_tsv=events_tsv
        )
        return self._conn_call("ArchiveAppendRun", request).path

    # RT-Cloud's names.
    def getSubjects(self) -> List[str]:
        return sorted({r["subject"] for r in self.runs()})

    def getSessions(self) -> List[str]:
        return sorted({r["session"] for r in self.runs() if "session" in r})

    def getTasks(self) -> List[str]:
        return sorted({r["task"] for r in self.runs()})

    def getRuns(self, **entities: Any) -> List[int]:
        """Run numbers of the runs these entities select."""
        wanted = {k: str(v) for k, v in entities.items()}
        out = set()
        for r in self.runs():
            if all(r.get(k) == v or (k == "run" and _index(r.get(k, "")) == _index(v)) for k, v in wanted.items()):
                if "run" in r and _index(r["run"]) is not None:
                    out.add(_index(r["run"]))
        return sorted(out)  # type: ignore[arg-type]

    def getBidsRun(self, **entities: Any) -> BidsRun:
        return self.get_bids_run(**entities)

    def appendBidsRun(self, run: BidsRun) -> str:
        return self.append_bids_run(run)


class RemoteBids:
    """`client.bids`: BIDS streams served by the analyser. Stream ids are strings."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._stub = pb_grpc.BidsStub(conn.channel) if conn is not None else None

    def _need(self, name: str) -> None:
        if self._stub is None:
            raise RTNotImplementedError(
                f"bids.{name}: BIDS streams run in the analyser, and this script runs alone (RTCLOUD_API is not set)"
            )

    def _call(self, name: str, request: Any, timeout: Optional[float] = None) -> Any:
        self._need(name)
        return self._conn.call(getattr(self._stub, name), f"Bids/{name}", request, timeout)

    def init_dicom_bids_stream(
        self, dir: str, pattern: str, min_size: int = 0, anonymize: bool = True, start_index: int = 0, **entities: Any
    ) -> str:
        """Scanner DICOMs `pattern` (with {TR}) in `dir` as incrementals; entities win
        over the project's settings and the scan's BIDS-style ProtocolName."""
        self._need("InitDicomBidsStream")
        request = pb.InitDicomBidsStreamRequest(
            dir=dir, pattern=pattern, min_size=int(min_size), anonymize=bool(anonymize),
            start_index=int(start_index), entities=_entities_message(entities),
        )
        return self._call("InitDicomBidsStream", request).stream_id

    def init_bids_stream(self, path: str, **entities: Any) -> str:
        """The run `entities` selects in the dataset at `path`."""
        self._need("InitBidsStream")
        request = pb.InitBidsStreamRequest(path=path, entities=_entities_message(entities))
        return self._call("InitBidsStream", request).stream_id

    def init_open_neuro_stream(self, accession: str, timeout: Optional[float] = None, **entities: Any) -> str:
        """The run `entities` selects (subject required) of OpenNeuro dataset `accession`."""
        self._need("InitOpenNeuroStream")
        request = pb.InitOpenNeuroStreamRequest(accession=accession, entities=_entities_message(entities))
        return self._call("InitOpenNeuroStream", request, timeout or 3600.0).stream_id

    def get_incremental(self, stream_id: str, index: int = -1, timeout: float = 5.0) -> Optional[BidsIncremental]:
        """Volume `index` (-1: the next one); None past the end of a dataset's run."""
        self._need("GetIncremental")
        request = pb.GetIncrementalRequest(stream_id=str(stream_id), index=int(index), timeout_s=float(timeout))
        try:
            reply = self._call("GetIncremental", request, float(timeout) + _WAIT_MARGIN_S)
        except RtcloudError as err:
            if getattr(err, "code", None) == "OUT_OF_RANGE":
                return None
            raise
        return BidsIncremental._from_proto(reply)

    def get_num_volumes(self, stream_id: str) -> int:
        self._need("GetNumVolumes")
        return self._call("GetNumVolumes", pb.StreamId(stream_id=str(stream_id))).num_volumes

    def close_stream(self, stream_id: str) -> None:
        self._need("CloseStream")
        self._call("CloseStream", pb.StreamId(stream_id=str(stream_id)))
