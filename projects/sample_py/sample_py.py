#!/usr/bin/env python3
"""RT-Cloud's sample project, in Python with rtcloud_client.

For each run (runs zipped with scans): open a scanner stream on the scan's files, and
per TR take the volume, its mean over all voxels, and the feedback
(mean - feedbackMin) / (feedbackMax - feedbackMin); send the feedback to the subject,
plot the mean, and log both. The analyser starts it as
`sample_py.py --config PATH --runs 1,2 --scans 13,14` with RTCLOUD_API set; without
RTCLOUD_API it runs alone on the local files (see clients/python/README.md).
Exits 0 when every TR was processed, 1 with a message on stderr otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from rtcloud_client import ClientInterface, RtcloudError

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

PROJECT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(PROJECT_DIR, "conf", "sample_py.toml")
#: How long to wait for each volume, in seconds.
VOLUME_TIMEOUT_S = 60.0
REQUIRED = ("subjectName", "runNum", "scanNum", "imgDir", "dicomNamePattern",
            "minExpectedDicomSize", "numTRs", "feedbackMin", "feedbackMax")


class ConfigError(Exception):
    """The settings file is missing, unreadable or inconsistent."""


def int_list(text: str) -> List[int]:
    """"1,2" -> [1, 2] (argparse type of --runs and --scans)."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="settings file (TOML); default %(default)s")
    parser.add_argument("--runs", type=int_list, help="run numbers, e.g. 1,2 (default: runNum of the config)")
    parser.add_argument("--scans", type=int_list, help="scan numbers, e.g. 13,14 (default: scanNum of the config)")
    return parser.parse_args(argv)


def load_config(path: str) -> Dict[str, Any]:
    """The settings, with the required fields checked and the optional ones defaulted."""
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read the settings {path}: {err}") from None
    missing = [key for key in REQUIRED if key not in cfg]
    if missing:
        raise ConfigError(f"the settings {path} lack {', '.join(missing)}")
    if cfg["feedbackMax"] == cfg["feedbackMin"]:
        raise ConfigError(f"the settings {path} have feedbackMin == feedbackMax; the feedback would divide by 0")
    cfg.setdefault("firstTR", 1)
    cfg.setdefault("onsetDelayMs", 0)
    cfg.setdefault("anonymize", True)
    return cfg


def fill_scan(pattern: str, scan: int) -> str:
    """Fills the {SCAN...} fields of a file name pattern, leaving {TR...} for the stream."""
    return re.sub(r"\{SCAN(?::([^}]*))?\}", lambda m: format(scan, m.group(1) or ""), pattern)


def run_scan(client: ClientInterface, cfg: Dict[str, Any], img_dir: str, run: int, scan: int) -> None:
    """Processes the numTRs volumes of one run's scan."""
    pattern = fill_scan(cfg["dicomNamePattern"], scan)
    first = int(cfg["firstTR"])
    stream = client.data.init_scanner_stream(
        img_dir, pattern, int(cfg["minExpectedDicomSize"]), bool(cfg["anonymize"]), first
    )
    low, high = float(cfg["feedbackMin"]), float(cfg["feedbackMax"])
    try:
        for tr in range(first, first + int(cfg["numTRs"])):
            volume = client.data.get_image_data(stream, tr, timeout=VOLUME_TIMEOUT_S, form="volume")
            mean = float(np.mean(volume.data, dtype=np.float64))
            feedback = (mean - low) / (high - low)
            client.subject.set_result(run, tr, feedback, cfg["onsetDelayMs"])
            client.web.plot_data_point(run, tr, mean)
            client.web.user_log(f"run {run} TR {tr}: mean {mean:.3f} feedback {feedback:.4f}")
    except BaseException:
        # The first error is the one to report, not a failure to close after it.
        with contextlib.suppress(RtcloudError):
            client.data.close_scanner_stream(stream)
        raise
    client.data.close_scanner_stream(stream)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
        runs = args.runs if args.runs is not None else list(cfg["runNum"])
        scans = args.scans if args.scans is not None else list(cfg["scanNum"])
        if len(runs) != len(scans):
            raise ConfigError(f"{len(runs)} runs {runs} but {len(scans)} scans {scans}: give one scan per run")
        client = ClientInterface()
        img_dir = str(cfg["imgDir"])
        # A relative imgDir means this project's folder, unless the files are on a streamer.
        if not client.is_data_remote():
            img_dir = os.path.join(PROJECT_DIR, img_dir)
        for run, scan in zip(runs, scans):
            run_scan(client, cfg, img_dir, run, scan)
    except (ConfigError, RtcloudError, ImportError, OSError) as err:
        print(f"sample_py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
