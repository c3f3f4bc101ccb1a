#!/usr/bin/env python3
"""Neurofeedback display for PsychoPy, fed by analysis_listener's results server.

Each TR: wait (long-poll) for that TR's result on http://127.0.0.1:8890, then show it
as a bar whose height follows the value. Keys pressed during the TR are sent back to
the analyser as the participant's responses (project code reads them with
get_response / get_all_responses).

Responses need the listener's token for this start: it is read from the file the
listener writes into its --out-dir (results-token), given with --token-file.

Without PsychoPy installed (or with --headless) nothing is drawn: each value is
printed, so the script can be tried, and tested, anywhere (--respond KEY then sends
KEY as every TR's response). Uses only the standard library besides PsychoPy.

    python feedback.py --run 1 --first-tr 1 --trs 10 --token-file C:/feedback/results-token
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any, Optional


def get_result(base: str, run: int, tr: int, wait_ms: int) -> Optional[dict]:
    """The result of `tr`, waiting up to `wait_ms`; None if it has not come by then."""
    url = f"{base}/results/{run}/{tr}?wait_ms={wait_ms}"
    try:
        with urllib.request.urlopen(url, timeout=wait_ms / 1000 + 10) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def read_token(path: Optional[str]) -> str:
    """The listener's token for this start (its --out-dir/results-token), or ""."""
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def send_response(base: str, token: str, run: int, tr: int, response: Any) -> None:
    """Sends the participant's response for `tr` back to the analyser."""
    body = json.dumps({"run": run, "tr": tr, "response": response}).encode()
    request = urllib.request.Request(
        f"{base}/responses",
        data=body,
        headers={"Content-Type": "application/json", "X-Listener-Token": token},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def feedback_value(result: dict) -> float:
    """The number to show: the value itself, or a dict's "value"/"feedback" field."""
    value = result["value"]
    if isinstance(value, dict):
        value = value.get("feedback", value.get("value", 0.0))
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class Display:
    """A PsychoPy window with a bar, or the console when PsychoPy is missing."""

    def __init__(self, headless: bool) -> None:
        self.visual = None
        if not headless:
            try:
                from psychopy import event, visual  # type: ignore[import-not-found]

                self.window = visual.Window(size=(800, 600), color="black", units="norm")
                self.bar = visual.Rect(self.window, width=0.3, height=0.01, fillColor="green")
                self.visual, self.event = visual, event
            except ImportError:
                print("PsychoPy is not installed: printing the feedback instead of drawing it")

    def show(self, tr: int, value: float) -> None:
        if self.visual is None:
            print(f"TR {tr}: feedback {value:.4f}", flush=True)
            return
        height = max(0.01, min(1.0, value)) * 1.6
        self.bar.height = height
        self.bar.pos = (0, -0.8 + height / 2)
        self.bar.draw()
        self.window.flip()

    def keys(self) -> list:
        return [] if self.visual is None else self.event.getKeys()

    def close(self) -> None:
        if self.visual is not None:
            self.window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8890", help="the listener's results server")
    parser.add_argument("--run", type=int, default=1)
    parser.add_argument("--first-tr", type=int, default=1)
    parser.add_argument("--trs", type=int, default=10, help="how many TRs to show")
    parser.add_argument("--wait-ms", type=int, default=5000, help="longest wait for one TR")
    parser.add_argument("--headless", action="store_true", help="print instead of drawing")
    parser.add_argument(
        "--token-file", help="the listener's OUT_DIR/results-token (needed to send responses)"
    )
    parser.add_argument("--respond", help="send this key as every TR's response (no keyboard)")
    args = parser.parse_args()
    token = read_token(args.token_file)

    display = Display(args.headless)
    missed = 0
    try:
        for tr in range(args.first_tr, args.first_tr + args.trs):
            result = get_result(args.url, args.run, tr, args.wait_ms)
            if result is None:
                missed += 1
                print(f"TR {tr}: no result within {args.wait_ms} ms", flush=True)
                continue
            display.show(tr, feedback_value(result))
            keys = display.keys() + ([args.respond] if args.respond else [])
            for key in keys:
                send_response(args.url, token, args.run, tr, {"key": key})
    finally:
        display.close()
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
