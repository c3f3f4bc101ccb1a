#!/usr/bin/env python3
"""Keeps the docs true: every command the README and docs/*.md show (in ```sh blocks
and in inline `code`) that runs one of our programs or scripts is checked against the
program itself: the subcommand exists and every --option is one its --help lists (for
the RT-Cloud-style wrappers: one the wrapper translates, or the program's own). Paths
the commands name inside the repository (scripts, examples, docker files) must exist.
The flows themselves run in the tests (tests of data_analyser: demo, session through
the wrappers, listener, projects).

Usage: check_docs.py BIN_DIR   (where data_analyser, data_streamer, analysis_listener are)
"""

import glob
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARIES = ("data_analyser", "data_streamer", "analysis_listener")
WRAPPERS = {
    "scripts/data_analyser.sh": "data_analyser",
    "scripts/data_streamer.sh": "data_streamer",
    "scripts/analysis_listener.sh": "analysis_listener",
    "scripts/make-certs.sh": "data_analyser make-certs",
    "scripts/add-user.sh": "data_analyser add-user",
}
_help_cache = {}


def help_text(bin_dir, argv):
    key = tuple(argv)
    if key not in _help_cache:
        command = [os.path.join(bin_dir, argv[0])] + list(argv[1:]) + ["--help"]
        _help_cache[key] = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _help_cache[key]


def options_of(bin_dir, argv):
    """The long and short options `argv` (a binary, maybe with a subcommand) documents."""
    text = help_text(bin_dir, argv)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", text))


def subcommands_of(bin_dir, argv):
    """The subcommands of `argv` (a binary, maybe with subcommands: `data_analyser qa`)."""
    text = help_text(bin_dir, argv)
    if "Commands:" not in text:
        return set()
    block = text.split("Commands:", 1)[1].split("Options:", 1)[0]
    return {line.split()[0] for line in block.splitlines() if line.strip()}


def check_program(bin_dir, argv, where):
    """Problems with `binary [subcommand] args...`."""
    binary, args = argv[0], argv[1:]
    target = [binary]
    # data_streamer's `replay` is dispatched by hand, so --help does not list it.
    extra = {"replay"} if binary == "data_streamer" else set()
    # Nested subcommands too (`data_analyser qa set`).
    while args and not args[0].startswith("-") and args[0] in subcommands_of(bin_dir, target) | extra:
        target.append(args[0])
        args = args[1:]
        extra = set()
    known = options_of(bin_dir, target)
    return [
        f"{where}: `{' '.join(target)}` has no option {arg.split('=')[0]}"
        for arg in args
        if arg.startswith("-") and arg != "--" and arg.split("=")[0] not in known
    ]


def check_wrapper(bin_dir, script, args, where):
    path = os.path.join(ROOT, script)
    if not os.path.exists(path):
        return [f"{where}: {script} does not exist"]
    with open(path, encoding="utf-8") as f:
        translated = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)(?=[|)])", f.read()))
    underlying = WRAPPERS[script].split()
    known = translated | options_of(bin_dir, underlying)
    return [
        f"{where}: {script} takes no option {arg}"
        for arg in args
        if arg.startswith("-") and arg != "--" and arg not in known
    ]


def check_command(bin_dir, words, where):
    if not words:
        return []
    if words[:2] == ["cargo", "run"] and "--" in words:
        package = words[words.index("-p") + 1] if "-p" in words else ""
        words = [package] + words[words.index("--") + 1 :]
    first = words[0]
    if first in BINARIES:
        return check_program(bin_dir, words, where)
    if first in WRAPPERS:
        return check_wrapper(bin_dir, first, words[1:], where)
    problems = []
    for word in words[1:]:
        if re.match(r"^\.?/?(scripts|examples|docker|clients|projects)/", word):
            path = os.path.join(ROOT, word.lstrip("./") if word.startswith("./") else word)
            if not os.path.exists(path.rstrip("/")) and "[" not in word:
                problems.append(f"{where}: {word} does not exist")
    return problems


def sh_commands(text):
    """Command lines of ```sh blocks, continuations joined, spaces normalised."""
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                yield " ".join(line.split())


def commands_in(text):
    """Command lines from ```sh blocks (continuations joined) and inline code spans."""
    yield from sh_commands(text)
    for span in re.findall(r"`([^`\n]+)`", text):
        if span.split(" ")[0] in BINARIES + tuple(WRAPPERS) and " " in span:
            yield span


def main():
    bin_dir = sys.argv[1]
    problems = []
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    count = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line in commands_in(text):
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                try:
                    words = shlex.split(part)
                except ValueError:
                    continue
                where = f"{os.path.relpath(path, ROOT)}: `{part}`"
                found = check_command(bin_dir, words, where)
                count += 1
                problems += found
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"docs: {count} commands checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
