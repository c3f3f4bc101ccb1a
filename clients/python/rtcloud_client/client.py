"""ClientInterface: the one object a project script makes to reach the project API.

With RTCLOUD_API set (the analyser started the script) every call goes to the analyser
over gRPC with the RTCLOUD_TOKEN; without it the script runs alone and the client
serves the calls itself (local files in, printed lines and ./rtcloud-local files out).
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Optional

from .bids import RemoteBids
from .compat import BidsInterfaceCompat, DataInterfaceCompat, SubjectInterfaceCompat, WebInterfaceCompat
from .errors import Unauthenticated
from .interfaces import DataInterface, SessionInfo, SubjectInterface, WebInterface
from .local_data import LocalData
from .local_display import LocalOutput, LocalSubject, LocalWeb
from .preprocess import Preprocess
from .remote import Connection, RemoteData, RemoteSubject, RemoteWeb


class ClientInterface:
    """The project API: `.data`, `.subject`, `.web`, and RT-Cloud's aliases.

    Args:
        api: host:port of the analyser's project API; default $RTCLOUD_API. Empty or
            unset means local mode.
        token: the bearer token; default $RTCLOUD_TOKEN (required in remote mode).
        timeout: seconds any call may take, besides the timeouts of waiting calls.
        allowed_dirs: local mode: folders data calls may use besides the current one
            (plus $RTCLOUD_LOCAL_DIRS, os.pathsep-separated).
        local_out_dir: local mode: where results, plot points and logs are written;
            default $RTCLOUD_LOCAL_OUT or ./rtcloud-local.
        rpyc_timeout: RT-Cloud's name for `timeout`.
        yesToPrompts: accepted for RT-Cloud compatibility; this client never prompts.
    """

    def __init__(
        self,
        api: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 120.0,
        allowed_dirs: Iterable[str] = (),
        local_out_dir: Optional[str] = None,
        rpyc_timeout: Optional[float] = None,
        yesToPrompts: bool = True,
    ) -> None:
        api = api if api is not None else os.environ.get("RTCLOUD_API", "")
        self._conn: Optional[Connection] = None
        self.data: DataInterface
        self.subject: SubjectInterface
        self.web: WebInterface
        if api:
            token = token if token is not None else os.environ.get("RTCLOUD_TOKEN")
            if not token:
                raise Unauthenticated(
                    f"RTCLOUD_API is set ({api}) but RTCLOUD_TOKEN is not: the analyser sets both "
                    "when it starts a script; unset RTCLOUD_API to run the script alone"
                )
            self._conn = Connection(api, token, rpyc_timeout or timeout)
            self.data = RemoteData(self._conn)
            self.subject = RemoteSubject(self._conn)
            self.web = RemoteWeb(self._conn)
        else:
            env_dirs = [d for d in os.environ.get("RTCLOUD_LOCAL_DIRS", "").split(os.pathsep) if d]
            self.data = LocalData([*env_dirs, *allowed_dirs])
            out = LocalOutput(local_out_dir or os.environ.get("RTCLOUD_LOCAL_OUT") or "rtcloud-local")
            # RT-Cloud asked before going local; say it instead, on stderr, once per client.
            print(
                f"rtcloud_client: RTCLOUD_API is not set, running alone: files from this computer, "
                f"results printed and kept in {out.folder}",
                file=sys.stderr,
            )
            self.subject = LocalSubject(out)
            self.web = LocalWeb(out)
        self._session: Optional[SessionInfo] = None
        # Real-time preprocessing in the analyser (preprocess.py); raises when run alone.
        self.preprocess = Preprocess(self._conn)
        self.dataInterface = DataInterfaceCompat(self.data)
        self.subjInterface = SubjectInterfaceCompat(self.subject)
        self.webInterface = WebInterfaceCompat(self.web)
        # BIDS streams in the analyser (bids.py); raises when run alone.
        self.bids = RemoteBids(self._conn)
        self.bidsInterface = BidsInterfaceCompat(self.bids, self.data)

    def is_remote(self) -> bool:
        """True when calls go to an analyser, False in local mode."""
        return self._conn is not None

    def session_info(self) -> SessionInfo:
        """Where the script runs (asked of the analyser once, then remembered)."""
        if self._session is None:
            if self._conn is not None:
                self._session = self._conn.session_info()
            else:
                self._session = SessionInfo(
                    project="", data_remote=False, subject_remote=False, station="",
                    session_dir=os.getcwd(), launch=0,
                )
        return self._session

    def get_qa_report(self, series: str = "") -> dict:
        """The protocol QA verdict on a scanner series (issue 12).

        The analyser checks each new series against the study's reference protocol as its
        first image arrives. `series` is a series id as the QA page shows it, or its end
        such as "001_000013"; empty means the newest series of the project's station.
        Returns a dict: station, series, verdict ("green", "amber" or "red"), repeat,
        first_file, template, error, skipped and parameters (each: parameter, series,
        template, tolerance, verdict). Raises NotFound while no such series was seen, and
        RuntimeError when running alone (protocol QA lives in the analyser).
        """
        if self._conn is None:
            raise RuntimeError("get_qa_report needs the analyser: protocol QA runs there, not when a script runs alone")
        return self._conn.qa_report(series)

    def is_data_remote(self) -> bool:
        """True when files come from a streamer, False for the analyser's or this disk."""
        return self.session_info().data_remote

    def is_subject_remote(self) -> bool:
        """True when results go to an analysis_listener (stimulus PC)."""
        return self.session_info().subject_remote

    def close(self) -> None:
        """Closes the connection to the analyser (nothing to do in local mode)."""
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> "ClientInterface":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # RT-Cloud's names.
    def isDataRemote(self) -> bool:
        return self.is_data_remote()

    def isSubjectRemote(self) -> bool:
        return self.is_subject_remote()

    def isUsingProjectServer(self) -> bool:
        return self.is_remote()
