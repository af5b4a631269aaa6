"""`engines`: a table of engines, the guidance each takes and whether it is ready; then
the engine modules that could not be loaded ("not loaded: FILE: REASON").

An engine that is not ready because a checkpoint of its own is damaged shows ``damaged``, the
word ``models list`` uses for that file; ``-v`` says which file, why and how to replace it.
One whose checkpoint file changed since it was verified shows ``ready (weights changed since
verified)``, as ``models list`` says ``installed (changed since it was verified; ...)``;
``-v`` names the file, which is checked at its next use."""

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
CHANGED = "weights changed since verified"  # after "ready": checked when next loaded


def engine_rows() -> list[tuple[str, str, str, str, str]]:
    """(name, title, guidance, state, detail) per registered engine; the state is the
    readiness (``ready``, ``needs download``...), or :data:`DAMAGED` for an engine not
    ready while a checkpoint of its own (:attr:`~engines.weights.WeightSpec.engine`) is
    damaged (its status then names the file, why and how to replace it); ``ready (weights
    changed since verified)`` for a ready engine whose installed checkpoint changed on disk
    since its sha256 was confirmed (:func:`engines.weights.changed_since_verified`, no
    hashing), the detail naming the file: its next load checks it."""
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
            changed = weights.changed_since_verified(cls.weights) if status.ready else []
            if changed:  # ready, but a file changed on disk: its next load hashes it
                state = f"{state} ({CHANGED})"
                detail = "; ".join(f"{entry.path.absolute()} {weights.CHANGED_SINCE_VERIFIED}"
                                   for entry in changed)
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
