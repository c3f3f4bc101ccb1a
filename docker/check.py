#!/usr/bin/env python3
"""Checks docker/docker-compose.yml without a Docker engine (CI has none): it parses,
every service uses the image built from docker/Dockerfile, every command names one of
our binaries with options that binary accepts (asked from its --help), and every
volume and file it mounts exists. Usage: check.py BIN_DIR (where the binaries are)."""

import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
BINARIES = {"data_analyser", "data_streamer", "analysis_listener"}


sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))
from check_docs import options_of as _options_of  # noqa: E402  (the one --help reader)


def options_of(bin_dir: str, argv: list) -> set:
    """The options the binary (or its subcommand) documents in --help."""
    target = argv[:2] if len(argv) > 1 and not argv[1].startswith("-") else argv[:1]
    return _options_of(bin_dir, target)


def check_command(bin_dir: str, name: str, command) -> list:
    """Problems with one service's command (list form, or `sh -c` text)."""
    lines = [command] if isinstance(command, list) else []
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        text = command[2]
        lines = [re.split(r"\s+", part.strip()) for part in re.split(r"&&|\|\||\(|\)|;", text)]
    problems = []
    for argv in lines:
        argv = [a for a in argv if a]
        binaries = [i for i, a in enumerate(argv) if a in BINARIES]
        if not binaries:
            continue
        argv = argv[binaries[0]:]
        known = options_of(bin_dir, argv)
        for arg in argv:
            flag = arg.split("=")[0]
            if flag.startswith("--") and flag not in known:
                problems.append(f"{name}: {argv[0]} has no option {flag}")
    return problems


def main() -> int:
    bin_dir = sys.argv[1]
    with open(os.path.join(HERE, "docker-compose.yml"), encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    problems = []
    named_volumes = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        if service.get("image") != "rtcloud-rs" or service.get("build", {}).get("dockerfile") != "docker/Dockerfile":
            problems.append(f"{name}: not the rtcloud-rs image built from docker/Dockerfile")
        command = service.get("command")
        if not command:
            problems.append(f"{name}: no command")
        else:
            problems += check_command(bin_dir, name, command)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                if not source.endswith("demo-out") and not os.path.exists(os.path.join(HERE, source)):
                    problems.append(f"{name}: mounts missing {source}")
            elif source not in named_volumes:
                problems.append(f"{name}: volume {source} is not declared")
        for dependency in service.get("depends_on", {}):
            if dependency not in compose["services"]:
                problems.append(f"{name}: depends on unknown service {dependency}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"docker-compose.yml: {len(compose['services'])} services, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
