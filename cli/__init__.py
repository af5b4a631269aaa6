"""The command-line interface: one module per subcommand, all Qt-free.

A subcommand module defines ``NAME`` (the word on the command line), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules whose name starts with ``_`` are
helpers. :func:`main` turns every failure into a one-line message (``--debug``, taken
anywhere on the line, adds the traceback and keeps the exit code).

Exit codes, the same rule for every command:

- 0: all done;
- 1: the work ran but not all of it was done or kept: some pictures of a folder failed, a
  result did not fit on the disk (:data:`NO_ROOM`; ``inpaint`` as well as a folder run,
  which stops there), or a bug (the message says so);
- 2: refused: bad arguments, input or setup (a missing file, an unknown engine, weights not
  installed), said before any result was written;
- 130: stopped by Ctrl+C; 143: stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys
from types import ModuleType

EXIT_OK = 0
EXIT_FAILED = 1  # the work ran but something in it failed, or its result was not kept
EXIT_USAGE = 2  # bad input or setup: nothing was done
EXIT_INTERRUPTED = 130  # Ctrl+C
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), where a command handles it
# a write failing for lack of room (a full disk, a quota): only writing meets it, so the
# work ran and its result could not be kept (exit 1), as when a folder run stops for it
NO_ROOM = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT")
                    if hasattr(errno, name))
DEBUG_HELP = "show the full traceback when something fails"


def command_modules() -> dict[str, ModuleType]:
    """Subcommand name -> module, in alphabetical order of module names."""
    modules = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        modules[module.NAME] = module
    return modules


def build_parser(modules: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    """The program's parser (:class:`cli._parsing.CommandParser`); every command's, at every
    depth (``train semantic``, ``models download``), takes ``--debug`` too."""
    from cli._parsing import CommandParser, command_parsers

    modules = modules or command_modules()
    parser = CommandParser(
        prog="inpaint-studio",
        description="Inpaint Studio. With no command (or an image path) the editor opens; "
                    "the commands below run the same work without a window.")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in modules.items():
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
    for sub in command_parsers(parser):  # --debug, said anywhere on the line, is kept
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help=DEBUG_HELP)
    return parser


def exit_code(exc: Exception, expected: bool) -> int:
    """The exit code of a command that raised ``exc`` (``expected``: a user-facing failure,
    :func:`cli._errors.describe_error`), by the rule in this module's notes. A lack of room
    is an ``errno`` in :data:`NO_ROOM`: an :class:`OSError`'s, or that of an error which
    says it comes from one (:class:`engines.download.DiskFullError`)."""
    if not expected or getattr(exc, "errno", None) in NO_ROOM:
        return EXIT_FAILED
    return EXIT_USAGE


def main(argv: list[str]) -> int:
    """Run a subcommand; returns the process exit code (see this module's notes). Never lets
    an exception escape; ``--debug`` prints its traceback before the message."""
    from cli._common import (
        interrupts_kept,
        one_line,
        sigterm_stops_like_ctrl_c,
        stopped_by_sigterm,
    )
    from cli._errors import BUG_HINT, debug_traceback, describe_error
    from cli._parsing import chosen_parser

    modules = command_modules()
    parser = build_parser(modules)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by their command in one line (OneLineErrors)
            chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit_:  # --help, or a usage error argparse has printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        # a kill stops a run as Ctrl+C does, said so; neither is lost in a C callback
        with sigterm_stops_like_ctrl_c(), interrupts_kept():
            return int(modules[args.command].run(args) or EXIT_OK)
    except KeyboardInterrupt as interrupt:  # a command may say how far it got (batch)
        message = str(interrupt) or "interrupted"
        if stopped_by_sigterm(interrupt):
            print(message.replace("interrupted", "terminated", 1), file=sys.stderr)
            return EXIT_TERMINATED
        print(message, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        debug = getattr(args, "debug", False)
        if debug:  # with each exception's notes, on Python 3.10 too
            print(debug_traceback(exc), end="", file=sys.stderr)
        message, expected = describe_error(exc)  # an engine's crash is named after it
        print(f"error: {one_line(message)}", file=sys.stderr)
        if not expected and not debug:
            print(BUG_HINT, file=sys.stderr)
        return exit_code(exc, expected)
