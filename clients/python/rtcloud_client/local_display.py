"""Subject and web calls for a script run alone (no RTCLOUD_API): printed and kept in files.

Each call prints one line to stdout, and results, plot points and log lines are
appended to tab-separated files in the local output folder (RTCLOUD_LOCAL_OUT, or
ClientInterface(local_out_dir=...), default ./rtcloud-local): results.tsv, plot.tsv and
log.tsv. No participant is there, so get_response finds nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any, List, Optional, Sequence, Tuple

from .interfaces import Response, SubjectInterface, WebInterface


class LocalOutput:
    """Appends rows to the TSV files of the local output folder, creating them on first use."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.abspath(folder)

    def append(self, name: str, header: Sequence[str], row: Sequence[object]) -> None:
        if not os.path.isdir(self.folder):
            os.makedirs(self.folder)
            # Trial runs' output is not for version control (as pytest's and mypy's caches do).
            with open(os.path.join(self.folder, ".gitignore"), "w", encoding="utf-8") as f:
                f.write("# made by rtcloud_client's local mode\n*\n")
        path = os.path.join(self.folder, name)
        new = not os.path.exists(path)
        with open(path, "a", encoding="utf-8") as f:
            if new:
                f.write("\t".join(header) + "\n")
            f.write("\t".join(_cell(v) for v in row) + "\n")


class LocalSubject(SubjectInterface):
    """Results printed and written to results.tsv."""

    def __init__(self, out: LocalOutput) -> None:
        self._out = out

    def _set_result(self, run: int, tr: int, value: float, onset_delay_ms: float) -> None:
        print(f"set_result: run {run} TR {tr} value {value} (onset delay {onset_delay_ms:g} ms)", flush=True)
        self._write(str(run), str(tr), repr(value), onset_delay_ms)

    def _set_result_json(self, json_text: str, onset_delay_ms: float) -> None:
        print(f"set_result_dict: {json_text} (onset delay {onset_delay_ms:g} ms)", flush=True)
        self._write("", "", json_text, onset_delay_ms)

    def set_message(self, text: str) -> None:
        print(f"set_message: {text}", flush=True)

    def get_response(self, run: int, tr: int) -> Optional[Response]:
        return None

    def get_all_responses(self) -> List[Response]:
        return []

    def _write(self, run: str, tr: str, value: str, onset_delay_ms: float) -> None:
        header = ("run", "tr", "value", "onset_delay_ms", "time")
        self._out.append("results.tsv", header, (run, tr, value, f"{onset_delay_ms:g}", f"{time.time():.6f}"))


class LocalWeb(WebInterface):
    """Plot points and log lines printed and written to plot.tsv and log.tsv."""

    def __init__(self, out: LocalOutput) -> None:
        self._out = out

    def plot_data_point(self, run: int, tr: int, value: float) -> None:
        print(f"plot_data_point: run {run} TR {tr} value {value}", flush=True)
        self._out.append("plot.tsv", ("run", "tr", "value"), (int(run), int(tr), repr(float(value))))

    def clear_run_plot(self, run: int) -> None:
        print(f"clear_run_plot: run {run}", flush=True)

    def clear_all_plots(self) -> None:
        print("clear_all_plots", flush=True)

    def user_log(self, text: str) -> None:
        self._log("user_log", text)

    def session_log(self, text: str) -> None:
        self._log("session_log", text)

    def set_user_error(self, text: str) -> None:
        self._log("set_user_error", text)

    def _show_preprocessing(
        self, run: int, tr: int, motion: Optional[Tuple[List[float], float, float]],
        volume: Any, roi: Any, t_map: Any, t_threshold: float,
    ) -> None:
        if motion is not None:
            shown = " ".join(f"{p:+.3f}" for p in motion[0])
            print(f"show_preprocessing: run {run} TR {tr} motion [{shown}] FD {motion[1]:.3f} mm", flush=True)

    def _log(self, kind: str, text: str) -> None:
        print(f"{kind}: {text}", flush=True)
        self._out.append("log.tsv", ("time", "kind", "text"), (f"{time.time():.6f}", kind, text))


def _cell(value: object) -> str:
    """A TSV cell: tabs and newlines would break the row, so they become spaces."""
    return str(value).replace("\t", " ").replace("\n", " ")
