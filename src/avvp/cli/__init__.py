"""The ``avvp`` command line.

Each sub-command lives in its own module under :mod:`avvp.cli.commands` and declares

* ``COMMAND: tuple[str, ...]`` -- its path, e.g. ``("train",)`` or ``("data", "synth")``,
* ``HELP: str`` -- one line for ``--help``,
* ``add_arguments(parser: argparse.ArgumentParser) -> None``,
* ``run(args: argparse.Namespace) -> int`` -- the exit status.

The modules are discovered here, so a new command is one new file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from avvp import __version__
from avvp.errors import AvvpError


def _command_modules() -> list[ModuleType]:
    from avvp.cli import commands

    modules = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        modules.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avvp", description="Audio-visual video parsing: train, evaluate, compare, apply."
    )
    parser.add_argument("--version", action="version", version=f"avvp {__version__}")
    root = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): root}
    group_parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for module in _command_modules():
        path: tuple[str, ...] = module.COMMAND
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                group = groups[path[: depth - 1]].add_parser(
                    prefix[-1], help=f"{prefix[-1]} commands"
                )
                group_parsers[prefix] = group
                groups[prefix] = group.add_subparsers(
                    dest="_".join(("command", *prefix)), metavar="COMMAND"
                )
        sub = groups[path[:-1]].add_parser(path[-1], help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    for group in group_parsers.values():
        group.set_defaults(_group_parser=group)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # argparse binds positionals in one run, so `avvp train CONFIG --data D key=value` would leave
    # the trailing overrides unrecognized: they join the command's `overrides` list instead.
    args, extra = parser.parse_known_args(argv)
    if extra:
        overrides = getattr(args, "overrides", None)
        stray = [item for item in extra if item.startswith("-") or "=" not in item]
        if not isinstance(overrides, list) or stray:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        overrides.extend(extra)
    run = getattr(args, "_run", None)
    if run is None:
        (getattr(args, "_group_parser", None) or parser).print_help()
        return 2
    try:
        return int(run(args))
    except AvvpError as exc:
        print(f"avvp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("avvp: interrupted", file=sys.stderr)
        return 130
