"""Inpaint Studio entry point.

``python main.py [IMAGE] [--mask MASK]`` opens the editor (on a bundled sample photo when no
image is given; of several images, the first, saying the others were not opened);
``python main.py COMMAND ...`` runs a command-line tool (``--help`` lists them).
Argument parsing only: the work lives in ``app/`` and ``cli/``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

NO_DISPLAY = ("no display found: run on a desktop, or set QT_QPA_PLATFORM=offscreen for a "
              "headless check")


def _add_editor_arguments(parser) -> None:
    """The editor's arguments, on a parser or an argument group."""
    parser.add_argument("image", nargs="?", help="image to open (default: a sample photo); "
                        "of several named, the first that opens is shown")
    parser.add_argument("--mask", help="mask to load with the image (white = hole); with "
                        "several pictures named, it goes with the first")
    parser.add_argument("--engine", help="engine to select on start")


def _gui_parser() -> argparse.ArgumentParser:
    """The editor's parser, the commands' own kind (:class:`cli._parsing.CommandParser`): its
    argument errors are one line, and a single-valued option given twice with two values
    (``--mask a.png --mask b.png``) is refused, naming both, instead of the last taken."""
    from cli._parsing import CommandParser

    parser = CommandParser(
        prog="inpaint-studio",
        description="Open the Inpaint Studio editor. Commands: run "
                    "`inpaint-studio --help-commands` for the command-line tools.")
    _add_editor_arguments(parser)
    # more pictures (``inpaint-studio *.jpg``): the first opens, the editor says the others
    # did not, as for several files dropped on it (not a usage error)
    parser.add_argument("others", nargs="*", help=argparse.SUPPRESS)
    return parser


def _print_help(cli) -> None:
    """One help for both uses: the commands' parser, with the editor's arguments as a group
    (printed only; parsing keeps the two parsers apart)."""
    parser = cli.build_parser()
    parser.usage = ("%(prog)s [-h] [image ...] [--mask MASK] [--engine ENGINE]\n"
                    "       %(prog)s [--debug] COMMAND ...")
    _add_editor_arguments(parser.add_argument_group("the editor (no command)"))
    parser.print_help()


def _display_problem() -> str | None:
    """Why the editor cannot open a window here, or None: on Linux and other X11/Wayland
    systems, neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` set and no ``QT_QPA_PLATFORM``
    chosen (Qt would abort the process with a core dump)."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def _quiet_decoders(debug: bool = False) -> None:
    """Keep the decoders' own warnings off stderr: OpenCV's log lines (its log level; libpng's
    own "libpng error: ..." lines, printed with fprintf, are kept off by
    engines.fileio._QuietDecoders; every file OpenCV cannot read is reported once, in our own
    words, by engines.fileio) and Pillow's about damaged EXIF or TIFF directories ("Corrupt EXIF data",
    "Tag data larger than file. Skipping tag 271"; the file opens, the damaged tags are
    skipped), and torch's deprecation of ``torch.jit.load``, with which TorchScript
    checkpoints still load. Importing OpenCV here, first, also keeps the Qt paths it would set (the
    user's own values, or none), so that the editor's Qt looks only at its own plugins."""
    import warnings

    from app.platform_check import OPENCV_QT_VARIABLES  # Qt-free

    user_qt = {name: os.environ.get(name) for name in OPENCV_QT_VARIABLES}
    import cv2

    for name, value in user_qt.items():  # cv2 points them at its own Qt 5 plugins
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    # its ERROR lines too: a damaged TIFF's "TIFF_Error TIFFReadEncodedStrip: Read error..."
    # comes with our own refusal of the file (--debug keeps them)
    levels = cv2.utils.logging
    levels.setLogLevel(levels.LOG_LEVEL_ERROR if debug else levels.LOG_LEVEL_SILENT)
    from engines.fileio import keep_decoder_messages

    keep_decoder_messages(debug)  # what a decode's listening holds aside, written back
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
    warnings.filterwarnings("ignore", message=r"(Possibly )?[Cc]orrupt EXIF",
                            category=UserWarning)
    # torch 2.15 deprecates TorchScript, the format two upstream files ship in (LaMa's and
    # MI-GAN's TorchScript exports); they still load, and the user can do nothing about it
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated",
                            category=FutureWarning)


def _mistyped_command(first: str | None, commands: set[str]) -> str | None:
    """The command ``first`` most likely meant (``inpiant``: ``inpaint``), or None when it
    may be a picture to open: an existing file, or a name that looks like no command."""
    import difflib
    from pathlib import Path

    if not first or first.startswith("-") or Path(first).exists():
        return None
    close = difflib.get_close_matches(first.lower(), sorted(commands), n=1, cutoff=0.75)
    return close[0] if close else None


def _ignore_interrupts() -> None:
    """Ignore Ctrl+C from now on: the program has its exit code, and an interrupt while
    the interpreter shuts down (loaded libraries take a moment to unload) would kill it by
    the signal instead, with no word, after the work was done and said."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    """Run the editor or a command; returns the exit code. Without ``argv`` (the program's
    own command line: ``python main.py``, the ``inpaint-studio`` script) Ctrl+C is ignored
    once the exit code is known (:func:`_ignore_interrupts`)."""
    if argv is None:
        try:
            return _run(sys.argv[1:])
        finally:
            _ignore_interrupts()
    return _run(list(argv))


def _run(argv: list[str]) -> int:
    _quiet_decoders(debug="--debug" in argv)
    import cli

    names = set(cli.command_modules())
    first = next((a for a in argv if a != "--debug"), None)
    if first in ("-h", "--help"):
        _print_help(cli)
        return 0
    if first in names or argv[:1] == ["--help-commands"]:
        if argv[:1] == ["--help-commands"]:
            argv = ["--help"]
        return cli.main(argv)  # argparse's --help and usage errors return their codes
    typo = _mistyped_command(first, names)
    if typo:
        print(f"error: unknown command {first!r}; did you mean {typo!r}? (to open a picture, "
              "give the path of an existing file)", file=sys.stderr)
        return 2
    args = _gui_parser().parse_intermixed_args(argv)  # pictures before and after --mask
    problem = _display_problem()  # before Qt: without a display it aborts the process
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from app.launch import launch

    return launch(args.image, mask=args.mask, engine=args.engine, others=args.others)


if __name__ == "__main__":
    sys.exit(main())
