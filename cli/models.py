"""``models``: list, download, import, locate, verify and remove network weights.

``models list`` shows every checkpoint with its engine, size, licence and state (a file that
is clearly not the checkpoint shows as damaged, with the commands that replace it);
``models download ID [ID ...]`` fetches with a progress bar (Ctrl-C keeps the partial file and
the same command resumes it); ``models import ID FILE`` installs a file you already have
(replacing a checkpoint that is installed and works only with ``--force``, or when a terminal
user says yes);
``models path ID`` prints where the file lives; ``models info ID`` shows where it comes from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, NO_ROOM
from engines import download, weights
from engines.base import EngineError, InputError, message_line, one_line

NAME = "models"
HELP = "list, download or import network weights (checkpoints)"


# the ID argument, as every action names it
_ID_HELP = "checkpoint id (see `models list`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, purpose: str) -> argparse.ArgumentParser:
        """An action's parser, ``purpose`` (one line) its help and description."""
        return actions.add_parser(name, help=purpose, description=purpose[0].upper()
                                  + purpose[1:] + ".")

    action("list", "every known checkpoint: engine, size, licence, state")
    fetch = action("download", "download, verify and install checkpoints")
    fetch.add_argument("ids", nargs="+", metavar="ID", help=_ID_HELP)
    fetch.add_argument("-f", "--force", action="store_true",
                       help="download again even when already installed")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    imported = action("import", "install a checkpoint file you already have (offline)")
    imported.add_argument("id", metavar="ID", help=_ID_HELP)
    imported.add_argument("file", metavar="FILE",
                          help="the file as downloaded (a zip is fine where upstream ships "
                               "one, or the folder unzipped from it)")
    imported.add_argument("--move", action="store_true",
                          help="move the file into the cache instead of copying it")
    imported.add_argument("-f", "--force", action="store_true",
                          help="replace a checkpoint that is installed and works (without it "
                               "that is refused, or asked on a terminal); a damaged one is "
                               "replaced anyway, and a file that is not this checkpoint is "
                               "refused, keeping the installed one")
    located = action("path", "print where a checkpoint file is (or goes)")
    located.add_argument("id", metavar="ID", help=_ID_HELP)
    info = action("info", "where a checkpoint comes from and what it expects")
    info.add_argument("id", metavar="ID", help=_ID_HELP)
    verified = action("verify", "check installed checkpoints against their digests and "
                                "formats")
    verified.add_argument("ids", nargs="+", metavar="ID", help=_ID_HELP)
    verified.add_argument("--deep", action="store_true",
                          help="also open each file (slower: loads the tensors)")
    removed = action("remove", "delete installed checkpoints and partial downloads")
    removed.add_argument("ids", nargs="+", metavar="ID", help=_ID_HELP)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list()
    if args.action == "download":
        return _for_each(args.ids, lambda spec_id: _download(spec_id, args.force, args.quiet))
    if args.action == "import":
        return _import(args.id, args.file, args.move, args.force)
    if args.action == "path":
        return _path(args.id)
    if args.action == "info":
        return _info(args.id)
    if args.action == "verify":
        return _for_each(args.ids, lambda spec_id: print(weights.verify(spec_id, args.deep)))
    return _for_each(args.ids, _remove)


def _for_each(ids: list[str], action: Callable[[str], object]) -> int:
    """Run ``action`` per id. With one id its error propagates (one-line message; exit 2, or
    1 for a disk out of room); with several, each failure is printed and the others still
    run (exit 1 if any failed), except after a disk ran out of room (``errno`` in
    :data:`cli.NO_ROOM`, as a :class:`~engines.download.DiskFullError` carries it): the rest
    would not fit either, so they are named as not tried."""
    if len(ids) == 1:
        return int(action(ids[0]) or EXIT_OK)
    failed = False
    for index, spec_id in enumerate(ids):
        try:
            code = action(spec_id)
        except (EngineError, weights.UnknownWeightsError, OSError) as exc:
            print(f"error: {spec_id}: {one_line(message_line(exc))}", file=sys.stderr)
            failed = True
            if getattr(exc, "errno", None) in NO_ROOM:
                if ids[index + 1:]:
                    print(f"not tried: {', '.join(ids[index + 1:])}", file=sys.stderr)
                return EXIT_FAILED
            continue
        if code == EXIT_INTERRUPTED:
            return code
    return EXIT_FAILED if failed else EXIT_OK


def _tell(message: str) -> None:
    """Say on stderr why nothing happens yet (another process holds the checkpoint)."""
    print(f"{message}…", file=sys.stderr, flush=True)


def _import(spec_id: str, source: str | Path, move: bool, force: bool) -> int:
    """``models import``: install ``source`` as ``spec_id``. A checkpoint installed that
    passes the checks (:class:`~engines.weights.InstallState` ``INSTALLED``, as the Models
    dialog judges it) is replaced only with ``force`` or when a user at a terminal says yes;
    otherwise :class:`InputError` says how (exit 2, nothing changed). A folder unzipped from
    a zip download (``big-lama``) is imported as the checkpoint file in it
    (:func:`~engines.weights.import_source`; any other folder is refused, naming the file to
    give), and a ``source`` that is not a file is reported first
    (:func:`engines.download.import_file`). Such a folder's other checkpoints of the same
    engine that are not installed yet are imported after it, as the zip's would be
    (:func:`~engines.weights.unzipped_siblings`: EdgeConnect's edge generator beside the
    inpainting one); one refused is said on stderr and changes no exit status."""
    entry = weights.installation(spec_id)
    folder = Path(source).expanduser()
    source = weights.import_source(spec_id, source)  # a big-lama folder: its best.ckpt
    if (entry.state is weights.InstallState.INSTALLED and not force
            and source.is_file()):
        name = Path(source).name
        if not sys.stdin.isatty():
            raise InputError(f"{spec_id} is already installed and works ({entry.path}); add "
                             f"--force to replace it with {name}")
        if not _confirmed(f"{spec_id} is installed and works ({entry.path}). Replace it with "
                          f"{name}? (If {name} is not this checkpoint, it is refused and the "
                          "installed file is kept.) [y/N] "):
            print(f"{spec_id}: not replaced; the installed file is kept", file=sys.stderr)
            return EXIT_USAGE
    # a file found in the folder given is named by its path there ("best.ckpt is a zip
    # archive cut short" read as if the zip were meant)
    found = str(source) if folder.is_dir() else ""
    path = download.import_file(spec_id, source, move=move, waiting=_tell, what=found)
    _installed(spec_id, path)
    from cli._errors import describe_error

    for other, member in weights.unzipped_siblings(spec_id, folder):
        try:
            _installed(other, download.import_file(other, member, move=move, waiting=_tell))
        except (EngineError, OSError) as exc:  # an extra: the one asked for is installed
            print(f"{other}: not installed from {member}: {describe_error(exc)[0]}",
                  file=sys.stderr)
    return EXIT_OK


def _installed(spec_id: str, path: Path) -> None:
    """Say that ``spec_id`` was installed at ``path``, and what was checked."""
    record = weights.read_manifest(spec_id) or {}
    print(f"{spec_id}: installed at {path} ({record.get('checked', 'checked')} OK)")


def _confirmed(question: str) -> bool:
    """Ask ``question`` on stderr and read the answer from stdin: yes only for y or yes (any
    case); no for anything else, an empty line and the end of input included."""
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _list() -> int:
    rows = [("ID", "ENGINE", "SIZE", "LICENCE", "STATE")]
    for entry in weights.installations():
        spec = entry.spec
        size = entry.size if entry.size else spec.size
        approx = "" if entry.size or spec.sha256 or spec.md5 or not size else "~"
        rows.append((spec.id, spec.engine, approx + weights.format_size(size),
                     weights.short_license(spec.license) or "?", entry.label))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    print(f"\ncache: {weights.cache_dir()} (set {weights.CACHE_ENV} to use another folder)")
    return EXIT_OK


def _download(spec_id: str, force: bool, quiet: bool) -> int:
    from tqdm import tqdm

    spec = weights.get_spec(spec_id)
    entry = weights.installation(spec_id)
    if entry.state is weights.InstallState.MANUAL:  # not installed, no download address
        _refuse_trained_model(spec)
    if entry.state is weights.InstallState.INSTALLED and not force:
        print(f"{spec_id}: already installed at {entry.path}")
        return EXIT_OK
    if entry.state is weights.InstallState.DAMAGED:  # replaced, where it can be downloaded
        if not spec.urls:
            raise weights.WeightsCorruptError(
                weights.damaged_message(spec, entry.path, entry.problem))
        _tell(f"{spec_id}: the installed file is damaged ({entry.problem}); downloading it "
              "again")
        force = True
    bar: tqdm | None = None

    def show(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total or spec.size, initial=done, desc=spec_id, unit="B",
                       unit_scale=True, unit_divisor=1024, disable=quiet, leave=True)
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    path = None
    try:
        path = download.download(spec, progress=show, force=force, waiting=_tell)
    except KeyboardInterrupt:
        pass  # reported below, once the progress bar is closed
    finally:
        if bar is not None:
            bar.close()
    if path is None:
        part = weights.partial_path(spec_id)
        kept = part.stat().st_size if part.is_file() else 0
        print(f"interrupted: {weights.format_size(kept)} kept in {part}; run the same command "
              "to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{spec_id}: installed at {path}")
    return EXIT_OK


def _refuse_trained_model(spec: weights.WeightSpec) -> None:
    """For the model ``train semantic`` installs (not installed, no download address),
    raise :class:`~engines.download.DownloadError` saying why none can be downloaded (it is
    trained on the user's own pictures, and installed when training ends), then
    :func:`~engines.weights.by_hand_steps`; other models are left to
    :func:`engines.download.download`'s own message."""
    from engines.neural.semantic import WEIGHTS_ID as TRAINED_ID

    if spec.id == TRAINED_ID:
        raise download.DownloadError(
            f"{spec.title} has no download address: it is the model you train on your own "
            f"pictures, installed when training ends; {weights.by_hand_steps(spec)}")


def _path(spec_id: str) -> int:
    path = weights.local_path(spec_id)
    print(path)
    if path.is_file():
        return EXIT_OK
    print(f"{spec_id} is not installed yet (`python main.py models download {spec_id}` or "
          f"`python main.py models import {spec_id} FILE`)", file=sys.stderr)
    return EXIT_FAILED


def _info(spec_id: str) -> int:
    entry = weights.installation(spec_id)
    spec = entry.spec
    facts = [
        ("title", spec.title), ("engine", spec.engine), ("state", entry.label),
        ("file", str(entry.path)), ("format", spec.format),
        ("size", weights.format_size(spec.size) if spec.size else ""),
        ("sha256", spec.sha256 or ""), ("md5", spec.md5 or ""),
        ("zip member", spec.archive_member or ""), ("licence", spec.license),
        ("homepage", spec.homepage), ("input", spec.contract), ("by hand", spec.manual),
    ] + [("url", url) for url in spec.urls]
    for name, value in facts:
        if value:
            print(f"{name + ':':12} {value}")
    return EXIT_OK


def _remove(spec_id: str) -> int:
    """``models remove``: what was there (a damaged file named with why, as ``models list``
    says it; an empty one is something too) and the bytes freed, or that nothing was."""
    entry = weights.installation(spec_id)
    had_partial = weights.partial_path(spec_id).is_file()
    freed = weights.remove(spec_id)
    folder: Path = entry.path.parent
    size = weights.format_size(freed)
    if entry.state is weights.InstallState.DAMAGED:
        print(f"{spec_id}: removed the damaged file {entry.path.name} ({entry.problem}); "
              f"{size} freed in {folder}")
    elif entry.state is weights.InstallState.INSTALLED or had_partial or freed:
        print(f"{spec_id}: removed {size} from {folder}")
    else:
        print(f"{spec_id}: nothing installed")
    return EXIT_OK
