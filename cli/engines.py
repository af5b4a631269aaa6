"""`engines`: a table of engines, the guidance each takes and whether it is ready; then
the engine modules that could not be loaded ("not loaded: FILE: REASON").

An engine that is not ready because a checkpoint of its own is damaged shows ``damaged``, the
word ``models list`` uses for that file; ``-v`` says which file, why and how to replace it."""

from __future__ import annotations

import argparse

from engines import registry, weights
from engines.base import Readiness

NAME = "engines"
HELP = "list the engines, the guidance each takes, and whether each is ready"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also show descriptions, the options each takes (--option KEY=VALUE) "
                             "and what to do for engines not ready")


DAMAGED = weights.InstallState.DAMAGED.value  # the state of an engine whose file is damaged


def engine_rows() -> list[tuple[str, str, str, str, str]]:
    """(name, title, guidance, state, detail) per registered engine; the state is the
    readiness (``ready``, ``needs download``...), or :data:`DAMAGED` for an engine not
    ready while a checkpoint of its own (:attr:`~engines.weights.WeightSpec.engine`) is
    damaged (its status then names the file, why and how to replace it)."""
    damaged = {entry.spec.engine for entry in weights.installations()
               if entry.state is weights.InstallState.DAMAGED}
    rows = []
    for cls in registry.engine_classes():
        guidance = ", ".join(sorted(g.value for g in cls.guidance)) or "-"
        try:
            status = cls().status()
            state, detail = status.readiness.value, status.detail
            if status.readiness in (Readiness.NEEDS_DOWNLOAD, Readiness.NEEDS_TRAINING) \
                    and cls.name in damaged:
                state = DAMAGED
        except Exception as exc:  # report a broken engine instead of failing the table
            state, detail = "unavailable", str(exc).splitlines()[0] if str(exc) else ""
        rows.append((cls.name, cls.title or cls.name, guidance, state, detail))
    return rows


def run(args: argparse.Namespace) -> int:
    rows = engine_rows()
    header = ("ENGINE", "TITLE", "GUIDANCE", "STATE")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)).rstrip())
        if args.verbose:
            cls = registry.engine_class(row[0])
            print(f"    {cls.description}")
            for spec in cls.user_options():
                print(f"    --option {spec.describe()}")
            if cls.script_options:
                print(f"    also, for scripts: {', '.join(sorted(cls.script_options))}")
            if row[4]:
                print(f"    {row[4]}")
    for problem in registry.load_problems():
        print(f"not loaded: {problem}")
    return 0
