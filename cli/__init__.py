"""The command-line interface: one module per subcommand, all Qt-free.

A subcommand module defines ``NAME`` (the word on the command line), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Modules whose name starts with ``_`` are
helpers. :func:`main` turns every expected failure into a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

EXIT_OK = 0
EXIT_FAILED = 1  # the work ran but something in it failed (e.g. some batch images)
EXIT_USAGE = 2  # bad input or setup: nothing was done
EXIT_INTERRUPTED = 130  # Ctrl+C
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), where a command handles it


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
    modules = modules or command_modules()
    parser = argparse.ArgumentParser(
        prog="inpaint-studio",
        description="Inpaint Studio. With no command (or an image path) the editor opens; "
                    "the commands below run the same work without a window.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when something fails")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in modules.items():
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the full traceback when something fails")
        module.add_arguments(sub)
    return parser


def main(argv: list[str]) -> int:
    """Run a subcommand; returns the process exit code. Never lets a traceback escape
    unless ``--debug`` is given."""
    from cli._common import sigterm_stops_like_ctrl_c, stopped_by_sigterm
    from cli._errors import describe_error

    modules = command_modules()
    parser = build_parser(modules)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        with sigterm_stops_like_ctrl_c():  # a kill stops a run as Ctrl+C does, said so
            return int(modules[args.command].run(args) or EXIT_OK)
    except KeyboardInterrupt as interrupt:  # a command may say how far it got (batch)
        message = str(interrupt) or "interrupted"
        if stopped_by_sigterm(interrupt):
            print(message.replace("interrupted", "terminated", 1), file=sys.stderr)
            return EXIT_TERMINATED
        print(message, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        message, expected = describe_error(exc)  # an engine's crash is named after it
        print(f"error: {message}", file=sys.stderr)
        if not expected:
            print("(this looks like a bug; run again with --debug for details)",
                  file=sys.stderr)
        return EXIT_USAGE if expected else EXIT_FAILED
