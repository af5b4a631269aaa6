"""Checkpoints described as data, where they live on disk, and how they are checked and loaded.

Each module that needs weights declares its :class:`WeightSpec` objects at import time with
:func:`register_spec` (next to the network that uses them), so adding an engine stays a
one-file change. The cache folder is the platform's user cache dir
(``~/.cache/inpaint-studio/models`` on Linux) unless ``INPAINT_STUDIO_MODELS`` names another.

Cache layout, one folder per checkpoint: ``<cache>/<id>/<filename>`` is the verified file,
``<filename>.part`` an unfinished download (kept for resuming) and ``<filename>.part.json``
what it is the beginning of (its address, the server's validator and size: a resume never
appends another file's bytes), ``manifest.json`` the sha256 of the installed file and where
it came from (used by :func:`verify`), the file's stat signature when that sha256 was last
confirmed, and the sha256 found instead when a check found another (with the signature it
was found at). ``<cache>/.locks/<id>.lock`` is the cross-process lock held while a
checkpoint is downloaded, imported or removed (:func:`checkpoint_lock`), so that two programs
never write the same files.

Downloading, resuming and importing files is :mod:`engines.download`'s job; this module knows
where a file is expected, whether a file is the right one, and how to open it safely.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import enum
import errno
import functools
import hashlib
import json
import os
import pickle
import re
import struct
import sys
import types
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.base import CancelToken, EngineError, UserMessage, message_line
from engines.device import file_signature
from engines.fileio import join_words, new_file_beside
from engines.plugins import import_plugins, not_loaded_note, take_back_on_failure

CACHE_ENV = "INPAINT_STUDIO_MODELS"
PART_SUFFIX = ".part"
PART_RECORD_SUFFIX = ".json"  # beside the .part: what it is the beginning of
MANIFEST_NAME = "manifest.json"
LOCKS_FOLDER = ".locks"
LOCK_POLL_S = 0.2  # how often a waiting process checks for cancellation
SIZE_TOLERANCE = 0.2  # an unhashed file may differ this much (relative) from WeightSpec.size
TORCH_PICKLE_FORMATS = frozenset({"lightning", "state_dict", "generator_dict"})
_HASH_BLOCK = 1 << 20

ProgressCallback = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total)`` (total None when unknown), for downloads and imports."""


@dataclass(frozen=True)
class WeightSpec:
    """Where a checkpoint comes from and what it must be.

    Attributes:
        id: stable identifier used by the CLI and the cache (``"lama-big"``).
        engine: the engine (or parser) that uses it.
        title: human name.
        filename: name of the verified file in the cache folder.
        urls: download addresses, tried in order (mirrors); Google Drive ``uc?id=`` links are
            handled. Empty when the file can only be imported by hand (see ``manual``).
        size: expected size in bytes of the downloaded file (approximate unless ``sha256`` or
            ``md5`` pins it); used for progress and to reject obviously wrong files.
        sha256, md5: hex digests of the downloaded file, when the upstream publishes one.
        archive_member: for a zip download, the path inside the zip of the file to keep.
        license: licence of the weights.
        homepage: the upstream project.
        format: ``"lightning"``, ``"state_dict"``, ``"generator_dict"`` (``{"G": ...}``),
            ``"torchscript"`` or ``"safetensors"``.
        contract: input contract in a sentence (ranges, channel order, mask polarity).
        manual: how to get the file by hand when there is no direct URL.
        extra: free-form facts for the loader.
        check_contents: for a file no digest pins (one the user trained, say), a check that
            it holds what the loader needs, run before it is installed and by ``verify
            --deep``: ``(path) -> None``; it opens the file itself (:func:`load_checkpoint`)
            and raises :class:`WeightsCorruptError` with the reason. :func:`network_check`
            makes one of the engine's own loader, cheaply.
    """

    id: str
    engine: str
    title: str
    filename: str
    urls: tuple[str, ...] = ()
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    archive_member: str | None = None
    license: str = ""
    homepage: str = ""
    format: str = "state_dict"
    contract: str = ""
    manual: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    check_contents: Callable[[Path], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse what no checkpoint could match or the cache could hold, naming the id and
        the field (:class:`ValueError`): ``id`` and ``filename`` must each be one file name
        (they are a folder and a file of the cache), ``urls`` http(s) addresses (a list is
        kept as a tuple), ``size`` a positive number of bytes, ``sha256`` 64 and ``md5`` 32
        hexadecimal digits (kept in lower case). A plugin module declaring such a spec is
        not loaded (:mod:`engines.plugins`)."""
        for name in ("id", "filename"):
            _check_file_name(self.id, name, getattr(self, name))
        if not isinstance(self.urls, (tuple, list)):  # one address alone is a str
            raise ValueError(f"weights spec {self.id!r}: urls must be a tuple of addresses, "
                             f"got {self.urls!r}")
        object.__setattr__(self, "urls", tuple(self.urls))  # frozen: set once, here
        for url in self.urls:
            if not (isinstance(url, str) and re.fullmatch(r"(?i:https?)://[^\s/]+\S*", url)):
                raise ValueError(f"weights spec {self.id!r}: urls must be http:// or https:// "
                                 f"addresses, got {url!r}")
        if self.size is not None and (isinstance(self.size, bool)
                                      or not isinstance(self.size, int) or self.size <= 0):
            raise ValueError(f"weights spec {self.id!r}: size must be a positive number of "
                             f"bytes, got {self.size!r}")
        for name, digits in (("sha256", 64), ("md5", 32)):
            value = getattr(self, name)
            if value is None:
                continue
            if not (isinstance(value, str) and re.fullmatch(f"[0-9a-fA-F]{{{digits}}}", value)):
                raise ValueError(f"weights spec {self.id!r}: {name} must be {digits} "
                                 f"hexadecimal digits, got {value!r}")
            object.__setattr__(self, name, value.lower())

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)


def _check_file_name(weights_id: str, field_name: str, value: object) -> None:
    """Raise :class:`ValueError` unless ``value`` (``field_name`` of the spec
    ``weights_id``) is one file name: not empty, no folder separator, not ``.`` or ``..``."""
    if not isinstance(value, str) or not value.strip() or value in (".", "..") \
            or "/" in value or "\\" in value or "\0" in value:
        raise ValueError(f"weights spec {weights_id!r}: {field_name} must be one file name "
                         f"(no folder), got {value!r}")


class UnknownWeightsError(UserMessage, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class WeightsError(EngineError):
    """A checkpoint's file is missing or is not the checkpoint it should be.

    ``str()`` is the command-line tool's message (with its commands, where it gives any);
    the fields let another front end say it in its own words:

    * ``weights_ids``: the checkpoints concerned (empty when the file is no known
      checkpoint's, or the raiser did not say): for :class:`WeightsMissingError`, those any
      one of which would do, preferred first; for :class:`WeightsCorruptError`, those whose
      file it is (installed, when ``path`` is set, else one to be installed).
    * ``path``: the installed file at fault (absolute), None when none is installed or the
      file is not one in the cache (a download, a file to import, a ``weights_path``).
    * ``reason``: what is wrong, without advice on what to do: said of "it" when ``path`` is
      set (``"it is an empty file"``), else naming the file; the message itself when that
      gives no advice.

    The fields are instance attributes: a pickled error keeps them.
    """

    def __init__(self, message: str = "", *, weights_ids: Iterable[str] = (),
                 path: str | os.PathLike | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.weights_ids: tuple[str, ...] = tuple(weights_ids)
        self.path: Path | None = None if path is None else Path(path)
        self.reason: str = message if reason is None else reason

    def retold(self, message: str, reason: str | None = None) -> WeightsError:
        """An error of the same type and fields whose message is ``message`` (and whose
        reason is ``reason``, when given); raised in place of this one."""
        return type(self)(message, weights_ids=self.weights_ids, path=self.path,
                          reason=self.reason if reason is None else reason)


class WeightsMissingError(WeightsError):
    """The checkpoint is not in the cache; the message says how to get it."""


class WeightsCorruptError(WeightsError):
    """The file in the cache is not the checkpoint it should be."""


class HashMismatchError(WeightsCorruptError):
    """A file's digest differs from the one its spec (or its install manifest) pins."""


class CheckpointBusyError(EngineError):
    """Another process is downloading, importing or removing the checkpoint."""


class WrongFileError(WeightsCorruptError):
    """A file is not the kind of file its spec expects (a web page, another format, far off
    in size)."""


class CheckpointMismatchError(WeightsCorruptError):
    """A readable checkpoint whose tensors (names, shapes) do not fit the network, such as
    another model's file; made by :func:`mismatch_error`."""


class OtherModelsCheckpointError(CheckpointMismatchError):
    """Another model's installed, sound checkpoint given to a loader it does not fit (an
    engine's ``weights_path`` naming it): nothing installed is at fault, so its fields name
    no checkpoint and no path (:func:`attach_file` leaves them so); made by
    :func:`mismatch_error`. ``found``: what the file is and is not, without the advice that
    ends the message (``"PATH does not fit N (...): it is the T checkpoint (id), not one for
    N"``), for a caller that advises otherwise (:func:`check_checkpoint_file`, importing)."""

    def __init__(self, message: str = "", *, found: str = "", **fields: Any) -> None:
        super().__init__(message, **fields)
        self.found: str = found or message

    def retold(self, message: str, reason: str | None = None) -> WeightsError:
        error = super().retold(message, reason)
        error.found = self.found
        return error


_SPECS: dict[str, WeightSpec] = {}
_SPEC_MODULES: dict[str, str] = {}  # weights id -> the module that registered it
# a plugin module that fails takes back the specs it registered
take_back_on_failure("weights", lambda: _SPECS,
                     lambda weights_id, spec: _SPEC_MODULES.get(weights_id, ""))


def register_spec(spec: WeightSpec) -> WeightSpec:
    """Add ``spec`` to the catalogue (idempotent for an identical spec; its fields were
    checked when it was made: :meth:`WeightSpec.__post_init__`)."""
    existing = _SPECS.get(spec.id)
    if existing is not None and existing != spec:
        raise ValueError(f"weights id {spec.id!r} is already registered differently")
    if existing is None:
        _SPEC_MODULES[spec.id] = sys._getframe(1).f_globals.get("__name__", "")
    _SPECS[spec.id] = spec
    return spec


def unregister_spec(weights_id: str) -> None:
    """Drop ``weights_id`` from the catalogue (tests register temporary specs)."""
    _SPECS.pop(weights_id, None)
    _SPEC_MODULES.pop(weights_id, None)


def _discover() -> None:
    import_plugins()


def all_specs() -> list[WeightSpec]:
    """Every known checkpoint, sorted by id."""
    _discover()
    return sorted(_SPECS.values(), key=lambda s: s.id)


def get_spec(weights_id: str) -> WeightSpec:
    """The spec for ``weights_id``; :class:`UnknownWeightsError` lists the valid ids (and
    an engine's own, given an engine's name, as users type them)."""
    if weights_id not in _SPECS:
        _discover()
    try:
        return _SPECS[weights_id]
    except KeyError:
        own = sorted(spec.id for spec in _SPECS.values() if spec.engine == weights_id)
        close = difflib.get_close_matches(weights_id, _SPECS, n=1)
        hint = (f" {weights_id!r} is an engine; its checkpoints: {', '.join(own)}." if own
                else f" Did you mean {close[0]!r}?" if close else "")
        raise UnknownWeightsError(f"unknown model {weights_id!r}.{hint} Known: "
                                  f"{', '.join(sorted(_SPECS))}{not_loaded_note()}") from None


def cache_dir() -> Path:
    """The folder holding verified checkpoints (created on demand by writers)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("inpaint-studio", appauthor=False)) / "models"


def local_path(weights_id: str) -> Path:
    """Where the verified file for ``weights_id`` lives (it may not exist yet)."""
    spec = get_spec(weights_id)
    return cache_dir() / spec.id / spec.filename


def partial_path(weights_id: str) -> Path:
    """Where an unfinished download of ``weights_id`` is kept for resuming."""
    path = local_path(weights_id)
    return path.with_name(path.name + PART_SUFFIX)


def partial_record_path(weights_id: str) -> Path:
    """Where :mod:`engines.download` records what the unfinished download of ``weights_id``
    is the beginning of (address, validator, size), so that a resume can tell whether the
    server still has the same file."""
    path = partial_path(weights_id)
    return path.with_name(path.name + PART_RECORD_SUFFIX)


def manifest_path(weights_id: str) -> Path:
    """The install record of ``weights_id`` (sha256 and source of the installed file)."""
    return local_path(weights_id).with_name(MANIFEST_NAME)


def lock_path(weights_id: str) -> Path:
    """The lock file of ``weights_id``'s cache entry (outside its folder, which may vanish)."""
    return cache_dir() / LOCKS_FOLDER / f"{get_spec(weights_id).id}.lock"


_HELD_HERE: dict[str, str] = {}  # weights id -> what this process does with it (locked)


@contextlib.contextmanager
def checkpoint_lock(weights_id: str, cancel: CancelToken | None = None,
                    waiting: Callable[[str], None] | None = None,
                    wait: bool = True,
                    activity: str = "downloaded, imported or removed") -> Iterator[None]:
    """Hold the lock of ``weights_id``'s cache entry, across processes and threads.

    When another holder has it: with ``wait``, block until it is free, calling
    ``waiting(message)`` once and ``cancel.raise_if_cancelled()`` every ``LOCK_POLL_S``
    seconds (so a wait can be cancelled); without ``wait``, raise
    :class:`CheckpointBusyError`. The message names the holder: another Inpaint Studio
    window or command, or this program when one of its own threads holds the lock (saying
    its ``activity``: ``"downloaded"``, ``"imported"``, ``"removed"``). The lock is an OS
    file lock, released even when the holder crashes.
    """
    import filelock

    path = lock_path(weights_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(f"cannot create the model cache folder {path.parent}: "
                          f"{exc.strerror or exc}") from exc
    lock = filelock.FileLock(path, thread_local=False)
    told = False
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_S if wait else 0)
            break
        except filelock.Timeout:
            doing_here = _HELD_HERE.get(weights_id)
            message = (f"{weights_id} is being {doing_here} here, by this Inpaint Studio"
                       if doing_here else
                       f"{weights_id} is being downloaded, imported or removed by another "
                       "Inpaint Studio window or command")
            if not wait:
                raise CheckpointBusyError(message + "; try again when it has finished") from None
            if cancel is not None:
                cancel.raise_if_cancelled()
            if waiting is not None and not told:
                waiting(message + "; waiting for it to finish")
                told = True
    _HELD_HERE[weights_id] = activity
    try:
        yield
    finally:
        _HELD_HERE.pop(weights_id, None)
        lock.release()


def is_present(weights_id: str) -> bool:
    """Whether the checkpoint is in the cache and passes the cheap checks of :func:`damage`
    (a damaged file is not present: it cannot be used)."""
    return local_path(weights_id).is_file() and damage(weights_id) is None


def damage(weights_id: str) -> str | None:
    """Why the installed file of ``weights_id`` is clearly not its checkpoint, by cheap checks
    (a stat, the file's first bytes and, for a zip, its directory; no hashing): empty, a zip
    cut short, a web page or another format, a size other than recorded at install (or, for
    a file placed by hand, far from the spec's), or it was hashed as it is now (by this
    process, or by any whose finding its install record keeps: :func:`_record_mismatch`) and
    found to have another sha256 than recorded (:func:`check_recorded_digest` or
    :func:`verify` refused it). A reason such as ``"it is an empty file"``; None when the
    file passes or nothing is installed.
    :func:`verify` checks more."""
    return _damage_or_change(weights_id)[0]


def _damage_or_change(weights_id: str) -> tuple[str | None, bool]:
    """``(damage, changed)`` of the installed file of ``weights_id``: :func:`damage`'s
    reason, and, where there is none, whether its stat signature changed since its sha256
    was confirmed (:attr:`Installation.changed`); the install record read once for both
    (:func:`_since_verified`)."""
    spec = get_spec(weights_id)
    path = local_path(weights_id)
    try:
        if not path.is_file():
            return None, False
        reason = _damage_reason(path, spec.format, spec)
        if reason:
            return reason, False
        changed, mismatch = _since_verified(weights_id)
        return mismatch, changed and not mismatch
    except OSError as error:  # unreadable (permissions): as unusable as a damaged file
        return f"it cannot be read ({error.strerror or error})", False


def replace_commands(spec: WeightSpec) -> str:
    """How to replace ``spec``'s installed file, for messages: ``run `python main.py models
    remove ID`, then `python main.py models download ID` (or ... import ...)``; with no
    download address, ``run `python main.py models remove ID`, then`` how to get one by hand
    (:func:`by_hand_steps`: a hint that is a command, such as training one, offers importing
    one as well, as the editor does; a hint that says where to get the file is followed by the
    import command) or, with no hint, the import command (:func:`_import_command`)."""
    if spec.urls:
        again = (f"`python main.py models download {spec.id}` (or {_import_command(spec)} "
                 "with a copy you have)")
    else:
        again = by_hand_steps(spec) if spec.manual else _import_command(spec)
    return f"run `python main.py models remove {spec.id}`, then {again}"


def _import_command(spec: WeightSpec) -> str:
    """The command that installs a copy of ``spec``'s checkpoint one has, as every message
    words it: ``"`python main.py models import ID FILE`"``."""
    return f"`python main.py models import {spec.id} FILE`"


def by_hand_steps(spec: WeightSpec) -> str:
    """How to install ``spec``'s checkpoint without downloading it, in the command-line
    tool's words, every step doable: its ``manual`` hint that is a command (``"train one with
    `python main.py train semantic --images DIR` (or import one you have with `python main.py
    models import ID FILE`)"``); a hint that says where to get the file followed by the step
    that installs it (``"download x.pt from https://…, then import it with `python main.py
    models import ID FILE`"``: fetching it alone installs nothing); with no hint, ``"import it
    with `python main.py models import ID FILE`"``."""
    command = _import_command(spec)
    if not spec.manual:
        return f"import it with {command}"
    if "`" in spec.manual:  # a command (train one): a file one has imports as well
        return f"{spec.manual} (or import one you have with {command})"
    return f"{spec.manual}, then import it with {command}"


def damaged_message(spec: WeightSpec, path: Path, reason: str) -> str:
    """One line for ``spec``'s installed file ``path`` that is damaged: its full path, the
    ``reason`` (:func:`damage`) and the commands that replace it."""
    return f"{path.absolute()} is damaged: {reason}; {replace_commands(spec)}"


def require(weights_id: str) -> Path:
    """The cached file for ``weights_id``, or :class:`WeightsMissingError` saying what to do
    (its ``weights_ids`` the id, its ``reason`` the bare "TITLE weights are not installed"):
    the download and import commands, or with no download address :func:`by_hand_steps`."""
    path = local_path(weights_id)
    if path.is_file():
        return path
    spec = get_spec(weights_id)
    how = (f"download it with `python main.py models download {spec.id}`, or import a file "
           f"you have with {_import_command(spec)}" if spec.urls else by_hand_steps(spec))
    raise WeightsMissingError(f"{spec.title} weights are not installed: {how}",
                              weights_ids=(spec.id,),
                              reason=f"{spec.title} weights are not installed")


def missing(weights_ids: Iterable[str]) -> list[str]:
    """The ids among ``weights_ids`` whose checkpoint is not installed or is damaged
    (:func:`is_present`), in the given order."""
    return [weights_id for weights_id in weights_ids if not is_present(weights_id)]


def damaged_problem(weights_ids: Iterable[str]) -> str | None:
    """What :func:`readiness_problem` says of the damaged files among ``weights_ids`` (each
    one's path, why, the commands that replace it, joined by ``"; "``); None when none is
    damaged. Each file is checked once (:func:`installation`)."""
    error = damaged_error(weights_ids)
    return None if error is None else str(error)


def damaged_error(weights_ids: Iterable[str]) -> WeightsCorruptError | None:
    """The error an engine raises when, of the checkpoints ``weights_ids`` it could load,
    only damaged files are installed: the message :func:`damaged_problem`'s, the fields
    (:class:`WeightsError`) the damaged ones' ids, the first one's path and its reason
    (:func:`damage`'s, said of "it"); None when none is damaged."""
    entries = [entry for entry in (installation(weights_id)
                                   for weights_id in dict.fromkeys(weights_ids))
               if entry.state is InstallState.DAMAGED]
    if not entries:
        return None
    return WeightsCorruptError(
        "; ".join(damaged_message(entry.spec, entry.path, entry.problem) for entry in entries),
        weights_ids=[entry.spec.id for entry in entries], path=entries[0].path.absolute(),
        reason=entries[0].problem)


# --- installation state -------------------------------------------------------------------


class InstallState(str, enum.Enum):
    INSTALLED = "installed"
    PARTIAL = "partial"  # an unfinished download is kept for resuming
    MISSING = "missing"  # downloadable, not installed
    MANUAL = "manual"  # not installed and no download address: import by hand
    DAMAGED = "damaged"  # a file is installed that is clearly not the checkpoint (damage())


@dataclass(frozen=True)
class Installation:
    """What the cache holds for one checkpoint.

    ``size`` is the installed (or damaged) file's size in bytes, else 0; ``partial_bytes``
    the size of an unfinished download (0 if none); ``problem`` why a damaged file is not
    the checkpoint (:func:`damage`), else empty; ``changed`` whether an installed file's
    stat signature is no longer the one recorded with its sha256 and it has not been
    hashed since (its next load hashes it: :func:`check_recorded_digest`).
    """

    spec: WeightSpec
    state: InstallState
    path: Path
    size: int = 0
    partial_bytes: int = 0
    problem: str = ""
    changed: bool = False

    @property
    def label(self) -> str:
        """State text for tables: ``installed``, ``installed (changed since it was verified;
        checked at its next use)`` (:attr:`changed`), ``partial: 5.0 MB of 16 MB``,
        ``damaged: <reason>; run `python main.py models remove ID`, then ...``."""
        if self.state is InstallState.INSTALLED:
            return f"installed ({CHANGED_SINCE_VERIFIED})" if self.changed else "installed"
        if self.state is InstallState.DAMAGED:
            return f"damaged: {self.problem}; {replace_commands(self.spec)}"
        if self.state is InstallState.PARTIAL:
            of = f" of {format_size(self.spec.size)}" if self.spec.size else ""
            return f"partial: {format_size(self.partial_bytes)}{of}"
        if self.state is InstallState.MISSING:
            return "needs download"
        return "manual import"


def installation(weights_id: str) -> Installation:
    """The cache state of ``weights_id``: a stat, the cheap checks (:func:`damage`) and the
    install record; never a hash."""
    spec = get_spec(weights_id)
    path = local_path(weights_id)
    if path.is_file():
        problem, changed = _damage_or_change(weights_id)
        state = InstallState.DAMAGED if problem else InstallState.INSTALLED
        return Installation(spec, state, path, size=path.stat().st_size, problem=problem or "",
                            changed=changed)
    part = partial_path(weights_id)
    if part.is_file() and spec.urls:
        return Installation(spec, InstallState.PARTIAL, path, partial_bytes=part.stat().st_size)
    state = InstallState.MISSING if spec.urls else InstallState.MANUAL
    return Installation(spec, state, path)


def readiness_problem(weights_ids: Iterable[str]) -> str | None:
    """What an engine's or parser's status should say when the checkpoints ``weights_ids``
    (all of them needed) cannot all be loaded; None when every one is installed and passes
    the cheap checks (:func:`damage`).

    One line: each damaged file first (:func:`damaged_message`: its path, why, the commands
    that replace it), then the missing ones: ``weights a, b not installed; run `python
    main.py models download a b``` for those with a download address, and for each of the
    others ``weights c not installed;`` how to install it by hand (:func:`by_hand_steps`).
    Parts are joined by ``"; "``. An unfinished download counts as missing (downloading
    resumes it)."""
    damaged: list[str] = []
    downloadable: list[str] = []
    by_hand: list[str] = []
    for weights_id in dict.fromkeys(weights_ids):
        entry = installation(weights_id)
        spec = entry.spec
        if entry.state is InstallState.DAMAGED:
            damaged.append(damaged_message(spec, entry.path, entry.problem))
        elif entry.state is InstallState.MANUAL:
            by_hand.append(f"weights {spec.id} not installed; {by_hand_steps(spec)}")
        elif entry.state is not InstallState.INSTALLED:  # MISSING or PARTIAL
            downloadable.append(spec.id)
    fetch = [f"weights {', '.join(downloadable)} not installed; run `python main.py models "
             f"download {' '.join(downloadable)}`"] if downloadable else []
    return "; ".join(damaged + fetch + by_hand) or None


def installations() -> list[Installation]:
    """The cache state of every known checkpoint, sorted by id."""
    return [installation(spec.id) for spec in all_specs()]


def remove(weights_id: str) -> int:
    """Delete the installed file, any partial download and the manifest; bytes freed.

    Raises :class:`CheckpointBusyError` (and deletes nothing) while a download or import of
    the checkpoint runs, in this process or another.
    """
    folder = local_path(weights_id).parent
    freed = 0
    with checkpoint_lock(weights_id, wait=False, activity="removed"):
        leftovers = list(folder.glob(".*.tmp")) if folder.is_dir() else []
        for path in (local_path(weights_id), partial_path(weights_id),
                     partial_record_path(weights_id), manifest_path(weights_id), *leftovers):
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        with contextlib.suppress(OSError):  # not empty (user files) or already gone: keep it
            folder.rmdir()
    return freed


def format_size(size: int | None) -> str:
    """``16 MB``, ``204 MB``, ``1.2 GB``, ``512 B`` (decimal units); ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def short_license(text: str, width: int = 24) -> str:
    """A licence's name without its parenthesised remarks, at most ``width`` characters."""
    name = text.split(" (")[0].strip()
    return name if len(name) <= width else name[:width - 1] + "…"


# --- checking files -----------------------------------------------------------------------


def file_digests(path: str | os.PathLike, algorithms: Iterable[str] = ("sha256",),
                 cancel: CancelToken | None = None) -> dict[str, str]:
    """Hex digests of a file for each algorithm name (``sha256``, ``md5``), in one pass.

    Checks ``cancel`` between blocks (raises :class:`~engines.base.Cancelled`).
    """
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            if cancel is not None:
                cancel.raise_if_cancelled()
            for hasher in hashers.values():
                hasher.update(block)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _markup_kind(path: Path) -> str | None:
    """``"a web page"`` / ``"an XML document"`` when the file is markup, else None."""
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")):
        return "a web page"
    if head.startswith(b"<?xml"):
        return "an XML document"
    return None


def _zip_names(path: Path) -> tuple[str, ...] | None:
    """The member names of the zip ``path``; None when it has no readable zip directory.
    The directory is read once per version of the file (its device, inode, size,
    modification and status-change times: :func:`~engines.device.file_signature`): one check
    asks several times, the cut-short test, the format and the member lookup."""
    directory = _zip_directory_of(path)
    return None if directory is None else directory[0]


def _zip_directory_of(path: Path) -> tuple[tuple[str, ...], int] | None:
    """The member names of the zip ``path`` and where its first member begins in the file
    (0 unless something precedes the archive); None without a readable zip directory."""
    signature = file_signature(path)
    if signature is None:
        return None
    return _zip_directory(os.path.abspath(path), *signature)


@functools.lru_cache(maxsize=16)
def _zip_directory(path: str, *signature: int) -> tuple[tuple[str, ...], int] | None:
    """:func:`_zip_directory_of` ``path`` as it is at ``signature`` (the cache key only)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            start = min((info.header_offset for info in members), default=0)
            return tuple(info.filename for info in members), start
    except (zipfile.BadZipFile, OSError):
        return None


def _cut_short_zip(path: Path, full_size: int | None = None) -> str | None:
    """``"a zip archive cut short (268 kB), as ..."`` when ``path`` begins as a zip but has
    no readable directory of its own (the end of the file is missing), else None; with a
    larger ``full_size``, ``"(268 kB of 1.2 MB)"``, in bytes when the two round alike
    (:func:`_sizes_apart`: ``"(184,735 bytes of 184,935 bytes)"``). A file of exactly
    ``full_size`` bytes (the size it was installed with, when it was checked
    whole) has lost no end: ``"a zip archive damaged at its end (its directory), though of
    its full size (268 kB)"``, no cause guessed (changed in place, or an end never
    written, as a preallocated copy leaves it).

    A zip whose members are stored uncompressed (a zip of ``torch.save`` files, such as
    EdgeConnect's) that lost its end still looks readable: :mod:`zipfile` finds the
    directory of the last file stored inside it and takes that file for the archive. That
    directory's first member then begins after the start of the file, where a whole
    archive's begins at 0."""
    with open(path, "rb") as handle:
        zip_head = handle.read(4) == b"PK\x03\x04"
    directory = _zip_directory_of(path) if zip_head else None
    if not zip_head or (directory is not None and directory[1] == 0):
        return None
    size = path.stat().st_size
    if size == full_size:
        return (f"a zip archive damaged at its end (its directory), though of its full size "
                f"({format_size(size)})")
    said = format_size(size)
    if full_size is not None and size < full_size:  # how much of it: in bytes if need be
        said = "{} of {}".format(*_sizes_apart(size, full_size))
    return f"a zip archive cut short ({said}), as an interrupted download or copy leaves it"


def _check_zip_members(path: Path, what: str, cancel: CancelToken | None = None) -> None:
    """Read every member of the zip ``path`` so that :mod:`zipfile` checks its CRC-32 (a
    ``torch.save`` or TorchScript file is a zip of stored members): a mismatch means the file
    was damaged in transit or spliced from two files. Checks ``cancel`` between blocks.
    Raises :class:`WrongFileError`."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    while member.read(_HASH_BLOCK):
                        if cancel is not None:
                            cancel.raise_if_cancelled()
    except zipfile.BadZipFile as exc:
        raise WrongFileError(f"{what} is damaged ({exc}): its contents do not match the "
                             "checksums it carries") from None


def _empty(path: Path) -> str | None:
    """``"an empty file"`` when ``path`` has no bytes, else None: the one test of an empty
    checkpoint file. A file to install is refused as ``"WHAT is an empty file (an
    interrupted copy or download leaves one)"`` (:func:`_refuse_empty`); an installed file's
    status says ``"it is an empty file"`` (:func:`_damage_reason`). An empty member of an
    archive is another case, said by :func:`_refuse_empty_member`."""
    return "an empty file" if path.stat().st_size == 0 else None


def _refuse_empty_member(path: Path, member: str, what: str) -> None:
    """Raise :class:`WrongFileError` ``"WHAT holds an empty MEMBER: the archive was made
    from an incomplete file; get it again"`` when the member ``member`` of the zip ``path``
    (named ``what``) has no bytes, as its directory says: an interrupted copy or download
    leaves a zip cut short, not an empty member, so the plain empty-file wording
    (:func:`_refuse_empty`) would name the wrong cause."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(member).file_size
    except (zipfile.BadZipFile, KeyError, OSError):
        return  # refused where the member is read, as before
    if size == 0:
        raise WrongFileError(f"{what} holds an empty {member}: the archive was made from an "
                             "incomplete file; get it again")


def _refuse_empty(path: Path, what: str) -> None:
    """Raise :class:`WrongFileError` ``"WHAT is an empty file (an interrupted copy or
    download leaves one)"`` when ``path`` (a file to install or import, named ``what``) has
    no bytes. Every check of such a file makes this test first, so an empty file is called
    empty whichever check would refuse it next (a size far off, a pinned digest, the
    format). That wording is for a file on its own; an archive's empty member is said
    otherwise (:func:`_refuse_empty_member`)."""
    empty = _empty(path)
    if empty:
        raise WrongFileError(f"{what} is {empty} (an interrupted copy or download leaves one)")


def check_format(path: str | os.PathLike, format: str, what: str = "") -> None:
    """Check cheaply that ``path`` is a file of ``format`` (see :class:`WeightSpec`).

    An empty file is said to be so (:func:`_refuse_empty`). PyTorch pickles must be a
    ``torch.save`` zip (``*/data.pkl``, no TorchScript code) or a legacy pickle; TorchScript
    a zip with ``*/code/``; safetensors a JSON header. Unknown formats are not checked.
    Raises :class:`WrongFileError` naming ``what`` (default: the file name).
    """
    path = Path(path)
    what = what or path.name
    _refuse_empty(path, what)
    markup = _markup_kind(path)
    if markup:
        raise WrongFileError(f"{what} is {markup}, not a checkpoint (a download page or an "
                             "error message was saved instead of the file)")
    if format in TORCH_PICKLE_FORMATS | {"torchscript"}:
        cut_short = _cut_short_zip(path)
        if cut_short:
            raise WrongFileError(f"{what} is {cut_short}")
    if format in TORCH_PICKLE_FORMATS:
        names = _zip_names(path)
        if names is None:
            with open(path, "rb") as handle:
                head = handle.read(2)
            if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
                return  # legacy (pre-1.6) torch.save pickle
            raise WrongFileError(f"{what} is not a PyTorch checkpoint")
        if any(name.endswith("/constants.pkl") or "/code/" in name for name in names):
            raise WrongFileError(f"{what} is a TorchScript model, not a {format} checkpoint")
        if not any(name.endswith("data.pkl") for name in names):
            raise WrongFileError(f"{what} is a zip archive holding {_zip_listing(names)}, not "
                                 "a PyTorch checkpoint")
    elif format == "torchscript":
        names = _zip_names(path)
        if names is None or not any("/code/" in name for name in names):
            raise WrongFileError(f"{what} is not a TorchScript model")
    elif format == "safetensors":
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(9)
        header_length = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else 0
        if not (2 <= header_length <= size - 8 and head[8:9] == b"{"):
            raise WrongFileError(f"{what} is not a safetensors file")


def _check_size(spec: WeightSpec, path: Path, what: str) -> None:
    """Refuse ``path`` (named ``what``) when its size is far (:data:`SIZE_TOLERANCE`) from
    ``spec.size``, with :class:`WrongFileError`: a smaller file that begins as a zip but
    lost its end (:func:`_cut_short_zip`) is said to be cut short (``"WHAT is a zip archive
    cut short (5.0 MB), as an interrupted download or copy leaves it"``), not another file;
    any other size as ``"WHAT is 5.0 MB, but the TITLE checkpoint is about 16 MB: not the
    right file"``."""
    size = path.stat().st_size
    if not spec.size or abs(size - spec.size) <= SIZE_TOLERANCE * spec.size:
        return
    cut_short = _cut_short_zip(path) if size < spec.size else None
    if cut_short:
        raise WrongFileError(f"{what} is {cut_short}")
    raise WrongFileError(f"{what} is {format_size(size)}, but the {spec.title} checkpoint "
                         f"is about {format_size(spec.size)}: not the right file")


def check_download(spec: WeightSpec, path: str | os.PathLike, what: str = "",
                   cancel: CancelToken | None = None) -> str:
    """Check a file as it was downloaded (or handed over for import) against ``spec``.

    Order: not empty (:func:`_refuse_empty`: said so, not as a size or digest far off); not
    a web page; the pinned sha256/md5 when the spec has one, else the size within
    :data:`SIZE_TOLERANCE` (:func:`_check_size`: a zip cut short is said so); then a zip
    holding ``spec.archive_member``, not empty (:func:`_refuse_empty_member`), for archive
    specs, or :func:`check_checkpoint_file` for plain ones, and for a plain file no digest
    pins that is a zip (``torch.save``, TorchScript) the CRC-32 of every member (the file's
    own checksums, cheaper than the sha256 computed anyway; they catch what size and format
    cannot).
    Returns the file's sha256. Raises :class:`HashMismatchError` or :class:`WrongFileError`;
    never deletes anything.
    """
    path = Path(path)
    what = what or path.name
    _refuse_empty(path, what)
    markup = _markup_kind(path)
    if markup:
        raise WrongFileError(f"{what} is {markup}, not the {spec.title} checkpoint (the server "
                             "sent a page instead of the file)")
    pinned = {name: value.lower() for name, value in (("sha256", spec.sha256), ("md5", spec.md5))
              if value}
    digests = file_digests(path, {"sha256", *pinned}, cancel)
    for name, expected in pinned.items():
        if digests[name] != expected:
            raise HashMismatchError(f"{what} has {name} {digests[name][:12]}…, expected "
                                    f"{expected[:12]}…: the file is damaged or not the "
                                    f"{spec.title} checkpoint")
    if not pinned:
        _check_size(spec, path, what)
    if spec.archive_member:
        member = find_archive_member(path, spec.archive_member)
        if member is None:
            if _zip_names(path) is None:
                raise WrongFileError(f"{what} is not a zip archive: not the {spec.title} "
                                     "download")
            raise WrongFileError(_member_missing_message(spec, path, what))
        _refuse_empty_member(path, member, what)
    elif pinned:
        check_checkpoint_file(spec, path, what)
    else:
        check_unpinned_file(spec, path, what, cancel)
    return digests["sha256"]


def check_checkpoint_file(spec: WeightSpec, path: str | os.PathLike, what: str = "") -> None:
    """Check that ``path``, about to be installed as ``spec``'s file (not an archive), is of
    ``spec.format`` (:func:`check_format`) and passes ``spec.check_contents`` when the spec
    has one. Raises :class:`WrongFileError` or :class:`WeightsCorruptError`; a refusal of
    ``check_contents`` is said as ``"WHAT is not the TITLE checkpoint: it does not fit ..."``
    (``what``: how to name the file, by default its name; a member extracted to a temporary
    file is named as in its archive)."""
    path = Path(path)
    what = what or path.name
    check_format(path, spec.format, what)
    if spec.check_contents is None:
        return
    try:
        spec.check_contents(path)
    except OtherModelsCheckpointError as exc:  # another model's installed file: import advice
        said = _not_the_checkpoint(spec, path, what, f"{exc.found}; {_import_advice(spec)}")
        raise OtherModelsCheckpointError(said, weights_ids=(spec.id,), found=exc.found) from None
    except WeightsCorruptError as exc:  # of the file to install: no installed path
        raise type(exc)(_not_the_checkpoint(spec, path, what, str(exc)),
                        weights_ids=(spec.id,),
                        reason=_not_the_checkpoint(spec, path, what, exc.reason)) from None


def _import_advice(spec: WeightSpec) -> str:
    """What importing another model's installed checkpoint as ``spec`` is told to do (that
    checkpoint needs no import): choose ``spec``'s own file."""
    return f"that checkpoint is installed already: choose the {spec.title} file instead"


def _not_the_checkpoint(spec: WeightSpec, path: Path, what: str, reason: str) -> str:
    """``"WHAT is not the TITLE checkpoint: REASON"``, the file's own path or name at the
    start of ``reason`` (a loader's message) said as ``it``."""
    return f"{what} is not the {spec.title} checkpoint: {_said_of_it(reason, path)}"


def _said_of_it(text: str, path: Path) -> str:
    """``text`` (a loader's message about the file ``path``) with the file's own path or
    name at its start said as ``it``; as it is when it starts with neither."""
    for name in (str(path.absolute()), str(path), path.name):
        if text.startswith(name + " "):
            return "it" + text[len(name):]
    return text


def check_unpinned_file(spec: WeightSpec, path: str | os.PathLike, what: str = "",
                        cancel: CancelToken | None = None) -> None:
    """Check a checkpoint file no digest pins, about to be installed as ``spec``'s: a
    download of a spec without one, or the member of ``spec``'s archive handed over as the
    file the user took out of the zip (a digest pins the archive, not this file). For a zip
    (``torch.save``, TorchScript) its format and the CRC-32 of every member (the file's own
    checksums), then :func:`check_checkpoint_file`. Raises :class:`WrongFileError` or
    :class:`WeightsCorruptError`."""
    path = Path(path)
    what = what or path.name
    names = _zip_names(path)
    if names is not None:
        if spec.archive_member and not _cut_short_zip(path) \
                and not any(name.endswith("data.pkl") for name in names):
            # an archive of files, not the member taken out of one: which files it holds
            raise WrongFileError(_member_missing_message(spec, path, what))
        check_format(path, spec.format, what)  # the right kind of zip, before reading it
        _check_zip_members(path, what, cancel)
    check_checkpoint_file(spec, path, what)


def _member_missing_message(spec: WeightSpec, path: Path, what: str) -> str:
    """Why the zip ``path`` (named ``what``) is not ``spec``'s archive, naming what it holds
    instead: the folders where it keeps a file of the member's name (another dataset's
    ``celeba/`` and ``psv/`` where ``places2/EdgeModel_gen.pth`` is expected:
    ``"places2.zip holds celeba/ and psv/ but not places2/: ..."``), several copies of the
    member, or else its top-level entries. Each names the checkpoint the member is: ``"…,
    the LaMa big (official) checkpoint (lama-big)"``."""
    member = (spec.archive_member or "").strip("/")
    checkpoint = f"the {spec.title} checkpoint ({spec.id})"
    files = [name for name in _zip_names(path) or () if not name.endswith("/")]
    copies = [name for name in files if name.endswith("/" + member)]
    if len(copies) > 1:
        return (f"{what} holds {member!r} more than once ({join_words(copies)}): cannot tell "
                f"which is {checkpoint}")
    wanted = member.split("/")
    folders: dict[str, str] = {}  # a folder holding a file of the member's name -> expected
    for name in files:
        parts = name.split("/")
        if parts[-1] != wanted[-1]:
            continue
        same = 1  # trailing path components shared with the member, at least the file name
        while same < min(len(parts), len(wanted)) and parts[-same - 1] == wanted[-same - 1]:
            same += 1
        folders.setdefault(_folder(parts[:-same], name), _folder(wanted[:-same], member))
    if folders:
        expected = " or ".join(dict.fromkeys(folders.values()))
        return (f"{what} holds {join_words(list(folders))} but not {expected}: no {member}, "
                f"{checkpoint}")
    return f"{what} holds {_zip_listing(files)} but has no {member!r}, {checkpoint}"


def _folder(parts: list[str], file: str) -> str:
    """``"a/b/"`` of path components ``["a", "b"]``; for none, ``file`` at the top level."""
    return "/".join(parts) + "/" if parts else f"{file} at its top level"


def _zip_listing(names: Iterable[str], shown: int = 4) -> str:
    """The top-level entries of a zip holding ``names`` (``"celeba/ and psv/"``), inside its
    one folder when everything is in one; at most ``shown``, then how many more."""
    names = [name for name in names if name.strip("/")]
    prefix = ""
    while True:
        entries = list(dict.fromkeys(
            name[len(prefix):].split("/")[0] + ("/" if "/" in name[len(prefix):] else "")
            for name in names))
        if len(entries) != 1 or not entries[0].endswith("/"):
            break
        prefix += entries[0]
        names = [name for name in names if name != prefix]  # the folder's own entry
    if not entries:
        return "nothing"
    listed = [prefix + entry for entry in entries[:shown]]
    if len(entries) > shown:
        return f"{', '.join(listed)} and {len(entries) - shown} more"
    return join_words(listed)


def find_archive_member(path: str | os.PathLike, member: str) -> str | None:
    """The name inside zip ``path`` of ``member``: exact, else the one entry ending in
    ``/member``; None when absent or when ``path`` is not a zip."""
    names = _zip_names(Path(path))
    if names is None:
        return None
    if member in names:
        return member
    matches = [name for name in names if name.endswith("/" + member.lstrip("/"))]
    return matches[0] if len(matches) == 1 else None


def _download_name(spec: WeightSpec) -> str | None:
    """The name of ``spec``'s file as downloaded where its first address names one
    (``big-lama.zip``); None where it does not (a Google Drive link) or it has none."""
    last = spec.urls[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1] if spec.urls else ""
    return last if "." in last else None


def import_source(weights_id: str, source: str | os.PathLike) -> Path:
    """The file to import as ``weights_id`` from ``source`` (``~`` expanded): ``source``
    itself, unless it is a folder. A folder unzipped from a zip spec's download (the
    ``big-lama`` folder of ``big-lama.zip``, or the folder holding it) gives its
    ``archive_member`` at its path in the zip (``big-lama/models/best.ckpt``), from the
    zip's top or a folder in it; the member's own folder only when it has the member's folder
    name in the zip (``models``, EdgeConnect's ``places2``), never another folder holding a
    file of that name (EdgeConnect's ``celeba`` files are not ``places2``'s). That file is then
    imported, and checked, as that member unzipped (:func:`engines.download.import_file`).
    Any other folder raises ``IsADirectoryError`` whose ``strerror`` names the file to give
    where one is found (:func:`_member_near`), else what to give. A missing ``source`` is left
    to the import to report."""
    spec = get_spec(weights_id)
    source = Path(source).expanduser()
    if not source.is_dir():
        return source
    parts = (spec.archive_member or "").strip("/").split("/")
    downloaded = _download_name(spec)
    if spec.archive_member:
        found = _unzipped_member(spec, source)
        if found is not None:
            return found
        member = "/".join(parts)
        give = _member_near(spec, source) or (
            f"give {downloaded or 'the zip'} as downloaded, the folder unzipped from it, or "
            f"its {parts[-1]}")
        raise IsADirectoryError(errno.EISDIR, f"a folder without {member}; {give}",
                                str(source))
    inside = source / spec.filename
    give = (f"give the file in it, {inside}" if inside.is_file()
            else f"give the checkpoint file itself ({downloaded or spec.filename})")
    raise IsADirectoryError(errno.EISDIR, f"a folder, not a checkpoint file; {give}",
                            str(source))


def _unzipped_member(spec: WeightSpec, folder: Path) -> Path | None:
    """``spec``'s archive member in ``folder`` unzipped from its download, as
    :func:`import_source` finds it (at its path in the zip, from the zip's top or a folder in
    it, or in its own folder of its folder name in the zip); None where it is not there."""
    parts = (spec.archive_member or "").strip("/").split("/")
    if not spec.archive_member:
        return None
    for start in range(len(parts)):
        own_folder = start == len(parts) - 1
        if own_folder and (len(parts) < 2 or folder.name.casefold() != parts[-2].casefold()):
            continue  # celeba/EdgeModel_gen.pth would be taken for places2's
        candidate = _path_ignoring_case(folder, parts[start:])
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _path_ignoring_case(folder: Path, parts: Sequence[str]) -> Path | None:
    """``folder`` joined with ``parts``, each part as spelled or else in another case
    (``Big-Lama/Models/best.ckpt`` for ``big-lama/models/best.ckpt``: a folder renamed, or
    unzipped on a system that changed the case) when exactly one entry matches it so; None
    where a part is missing or ambiguous."""
    path = folder
    for part in parts:
        exact = path / part
        if exact.exists():
            path = exact
            continue
        try:
            matches = [entry for entry in path.iterdir()
                       if entry.name.casefold() == part.casefold()]
        except OSError:  # not a folder, or unreadable
            return None
        if len(matches) != 1:
            return None
        path = matches[0]
    return path


def unzipped_siblings(weights_id: str, source: str | os.PathLike) -> list[tuple[str, Path]]:
    """The other checkpoints a folder unzipped from ``weights_id``'s download holds, as an
    import of the zip itself installs them (:func:`engines.download.import_file`): for each
    checkpoint of the same engine and download not installed yet (:func:`is_present`), its
    id and its member's file in ``source`` (EdgeConnect's edge generator beside the
    inpainting one), in the order of :func:`all_specs`. Empty for a file, or a folder
    holding none."""
    spec = get_spec(weights_id)
    folder = Path(source).expanduser()
    if not spec.archive_member or not folder.is_dir():
        return []
    found = []
    for other in all_specs():
        if other.id == spec.id or other.engine != spec.engine or other.urls != spec.urls \
                or not other.archive_member or is_present(other.id):
            continue
        path = _unzipped_member(other, folder)
        if path is not None:
            found.append((other.id, path))
    return found


def _member_near(spec: WeightSpec, folder: Path) -> str | None:
    """For the folder ``folder``, which :func:`import_source` does not take for ``spec``'s
    archive member: the member's file where it can be told apart, as advice (``"give the
    file in the places2 folder beside it, PATH"``, ``"give the file in it, PATH"``); None
    where none is found. Beside it: a folder of the member's folder name holding the member's
    file (``places2/`` beside ``celeba/``). In it: a file of the member's name, unless another
    checkpoint of the same download has a member of that name (EdgeConnect's datasets all
    have an ``EdgeModel_gen.pth``), since which one it is cannot be told."""
    parts = (spec.archive_member or "").strip("/").split("/")
    if len(parts) > 1:
        beside = folder.parent / parts[-2] / parts[-1]
        if folder.name != parts[-2] and beside.is_file():
            return f"give the file in the {parts[-2]} folder beside it, {beside}"
    inside = folder / parts[-1]
    if not inside.is_file():
        return None
    shared = [other for other in all_specs()
              if other.id != spec.id and other.archive_member and other.urls == spec.urls
              and other.archive_member.strip("/").split("/")[-1] == parts[-1]]
    return None if shared else f"give the file in it, {inside}"


def write_manifest(weights_id: str, sha256: str, source: str, checked: str) -> None:
    """Record the installed file's sha256 (just confirmed by the caller), its source, what
    was verified and the file's stat signature as it is now (``"signature"``:
    :func:`~engines.device.file_signature`'s fields by name), atomically. While the file keeps
    that signature its loads are not hashed again (:func:`check_recorded_digest`)."""
    path = local_path(weights_id)
    signature = file_signature(path)
    record = {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256,
              "source": source, "checked": checked}
    if signature is not None:
        record["signature"] = dict(zip(_SIGNATURE_FIELDS, signature))
    _write_record(weights_id, record)


def _write_record(weights_id: str, record: dict[str, Any]) -> None:
    """Write ``record`` as ``weights_id``'s install record (atomically)."""
    fd, temp = new_file_beside(manifest_path(weights_id), ".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    os.replace(temp, manifest_path(weights_id))


# file_signature's fields, in its order, as the install record names them
_SIGNATURE_FIELDS = ("dev", "ino", "size", "mtime_ns", "ctime_ns")
_MISMATCH = "mismatch"  # install record: another sha256 found at a signature (_record_mismatch)
_HASHED_KEPT = 64  # digests remembered per process (path and signature -> sha256)
_HASHED: OrderedDict[tuple[str, tuple[int, ...]], str] = OrderedDict()


def _recorded_signature(record: dict[str, Any]) -> tuple[int, ...] | None:
    """The file signature the install ``record`` holds (in :func:`file_signature`'s order);
    None for a record without one (written before signatures were recorded) or a bad one."""
    fields = record.get("signature")
    if not isinstance(fields, dict):
        return None
    values = tuple(fields.get(name) for name in _SIGNATURE_FIELDS)
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return None
    return values


def _hashed(path: Path, signature: tuple[int, ...], cancel: CancelToken | None = None) -> str:
    """The sha256 of ``path``, whose signature is ``signature``: computed once per process
    for a given path and signature (remembered when the signature is unchanged after
    hashing, that is when the file did not change meanwhile)."""
    key = (os.path.abspath(path), tuple(signature))
    digest = _HASHED.get(key)
    if digest is not None:
        _HASHED.move_to_end(key)
        return digest
    digest = file_digests(path, ("sha256",), cancel)["sha256"]
    if file_signature(path) == key[1]:
        _remember_digest(path, key[1], digest)
    return digest


def _remember_digest(path: Path, signature: tuple[int, ...], digest: str) -> None:
    """Remember for this process that ``path`` has sha256 ``digest`` at ``signature``."""
    _HASHED[(os.path.abspath(path), tuple(signature))] = digest
    while len(_HASHED) > _HASHED_KEPT:
        _HASHED.popitem(last=False)


def _record_signature(weights_id: str, sha256: str, signature: tuple[int, ...]) -> None:
    """Write ``signature`` into ``weights_id``'s install record, the installed file having
    just been confirmed to have the recorded ``sha256`` with that signature. Best effort: left
    as it is when another holder has the checkpoint's lock (an import, a removal), when the
    record or the file changed meanwhile, or when the cache cannot be written."""
    with contextlib.suppress(EngineError, OSError), \
            checkpoint_lock(weights_id, wait=False, activity="checked"):
        record = read_manifest(weights_id)
        if not record or not isinstance(record.get("sha256"), str) \
                or record["sha256"].lower() != sha256.lower() \
                or file_signature(local_path(weights_id)) != tuple(signature) \
                or _recorded_signature(record) == tuple(signature):
            return
        record["signature"] = dict(zip(_SIGNATURE_FIELDS, signature))
        record.pop(_MISMATCH, None)  # of an earlier version of the file
        _write_record(weights_id, record)


def _record_mismatch(weights_id: str, sha256: str, found: str,
                     signature: tuple[int, ...]) -> None:
    """Write into ``weights_id``'s install record that its installed file, at ``signature``,
    was just hashed and has sha256 ``found``, not the recorded ``sha256``
    (``"mismatch"``: ``{"sha256": found, "signature": {...}}``): :func:`damage` in any
    process then says so without hashing, while the file keeps that signature
    (:func:`_recorded_mismatch`); a new install writes a new record without it. Best effort,
    as :func:`_record_signature`: left as it is when another holder has the checkpoint's
    lock, when the record or the file changed meanwhile, or when the cache cannot be
    written."""
    with contextlib.suppress(EngineError, OSError), \
            checkpoint_lock(weights_id, wait=False, activity="checked"):
        record = read_manifest(weights_id)
        if not record or not isinstance(record.get("sha256"), str) \
                or record["sha256"].lower() != sha256.lower() \
                or found.lower() == sha256.lower() \
                or file_signature(local_path(weights_id)) != tuple(signature) \
                or _recorded_mismatch(record, signature) == found.lower():
            return
        record[_MISMATCH] = {"sha256": found.lower(),
                             "signature": dict(zip(_SIGNATURE_FIELDS, signature))}
        _write_record(weights_id, record)


def _recorded_mismatch(record: dict[str, Any], signature: tuple[int, ...]) -> str | None:
    """The sha256 (lower case) that the install ``record`` says its file was found to have,
    other than the recorded one, when it was hashed at ``signature``
    (:func:`_record_mismatch`); None when the record says none for that signature."""
    mismatch = record.get(_MISMATCH)
    if not isinstance(mismatch, dict) or not isinstance(mismatch.get("sha256"), str) \
            or _recorded_signature(mismatch) != tuple(signature):
        return None
    return mismatch["sha256"].lower()


def _mismatch_reason(found: str, recorded: str) -> str:
    """Why a file whose sha256 is ``found`` is not the one installed with ``recorded``."""
    return (f"it has sha256 {found[:12]}…, not the {recorded.lower()[:12]}… recorded when it "
            "was installed")


def _since_verified(weights_id: str) -> tuple[bool, str | None]:
    """``(changed, mismatch)`` of the installed file of ``weights_id`` against its install
    record, from a stat and the record (no hashing): ``changed`` when its stat signature is
    not the one recorded with its sha256; ``mismatch`` the reason it is not the file
    installed when it was hashed as it is now (by any process: the record says so,
    :func:`_recorded_mismatch`; or by this one) and found to have another sha256 (as
    :func:`check_recorded_digest` says it), else None. ``(False, None)`` without an
    installed file or a recorded sha256, and, unless a mismatch is recorded for the file as
    it is, without a recorded signature (an older install)."""
    path = local_path(weights_id)
    record = read_manifest(weights_id)
    if not record or not isinstance(record.get("sha256"), str):
        return False, None
    signature = file_signature(path)
    if signature is None:
        return False, None
    found = _recorded_mismatch(record, signature)
    if found is not None:
        return True, _mismatch_reason(found, record["sha256"])
    recorded = _recorded_signature(record)
    if recorded is None or signature == recorded:
        return False, None
    digest = _HASHED.get((os.path.abspath(path), signature))
    if digest is None or digest == record["sha256"].lower():
        return digest is None, None
    return True, _mismatch_reason(digest, record["sha256"])


# what a status says of an installed file changed since its sha256 was confirmed
CHANGED_SINCE_VERIFIED = "changed since it was verified; checked at its next use"


def changed_since_verified(weights_ids: Iterable[str]) -> list[Installation]:
    """The installations of ``weights_ids`` (known ones; each once) whose file changed on
    disk since its sha256 was confirmed and has not been hashed since
    (:attr:`Installation.changed`: a stat and the install record each, no hashing, so a
    status on the GUI thread may ask): their next load hashes them and refuses a file
    that is not the one installed (:func:`check_recorded_digest`)."""
    entries = []
    for weights_id in dict.fromkeys(weights_ids):
        with contextlib.suppress(UnknownWeightsError):
            entry = installation(weights_id)
            if entry.changed:
                entries.append(entry)
    return entries


def check_recorded_digest(path: str | os.PathLike, cancel: CancelToken | None = None) -> None:
    """Before a network is loaded from ``path``: when it is an installed checkpoint's file
    whose install record holds its sha256 and a stat signature, and the file's signature is
    no longer that one (rewritten, touched, damaged in place), hash it (once per process and
    signature: :func:`_hashed`). The same sha256: the record takes the new signature. Another:
    the record keeps that too, with the signature (:func:`_record_mismatch`), and
    :class:`HashMismatchError` whose message is :func:`damaged_message`'s (the file's path, why,
    the commands that replace it; the cheap checks' reason, :func:`damage`, when they find
    one). Nothing is read when the signature is unchanged, when the record says the file was
    found to differ at this signature (refused as above), when ``path`` is no installed file
    and for a record without a sha256 (an older install); a record without a signature is
    hashed once and given one."""
    path = Path(path)
    spec = installed_spec(path)
    if spec is None:
        return
    record = read_manifest(spec.id)
    recorded = record.get("sha256") if record else None
    if not isinstance(recorded, str):
        return
    signature = file_signature(path)
    if signature is None:
        return
    digest = _recorded_mismatch(record, signature)  # found by an earlier check: not hashed
    if digest is None:
        if signature == _recorded_signature(record):
            return
        digest = _hashed(path, signature, cancel)
        if digest == recorded.lower():
            _record_signature(spec.id, recorded, signature)
            return
        _record_mismatch(spec.id, recorded, digest, signature)
    try:
        reason = _damage_reason(path, spec.format, spec)
    except OSError:
        reason = None
    reason = reason or _mismatch_reason(digest, recorded)
    raise checkpoint_error(path, damaged_message(spec, path, reason), reason, HashMismatchError)


def read_manifest(weights_id: str) -> dict[str, Any] | None:
    """The install record of ``weights_id`` when it matches the installed file, else None."""
    try:
        record = json.loads(manifest_path(weights_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("file") != get_spec(weights_id).filename:
        return None
    return record


def verify(weights_id: str, deep: bool = False, cancel: CancelToken | None = None) -> str:
    """Check the installed file of ``weights_id``; a one-line summary of what was checked.

    First the cheap checks of :func:`damage` (the same reason ``models list`` and an
    engine's status give), then the sha256 recorded at install time (or the spec's pinned
    digest), the format, and with ``deep`` the spec's ``check_contents`` (which opens the
    file), or :func:`load_checkpoint` where the spec has none. Raises
    :class:`WeightsMissingError`; for a file that fails, :class:`HashMismatchError`,
    :class:`WrongFileError` or what ``check_contents`` raises, saying it as
    :func:`damaged_message` does: the file's path, ``is damaged:`` the reason, and the
    commands that replace it; its fields (:class:`WeightsError`) name the checkpoint, the
    file and the reason alone. A file found to have the sha256 recorded at install gets its
    stat signature recorded beside it (:func:`check_recorded_digest` then reads nothing); one
    found to have another gets that recorded with its signature (:func:`_record_mismatch`:
    it then shows as damaged everywhere, and is refused again unhashed while it keeps that
    signature).
    """
    spec = get_spec(weights_id)
    path = require(weights_id)
    try:
        return _verified(spec, path, deep, cancel)
    except WeightsCorruptError as exc:
        raise _as_damaged(spec, path, exc) from None


def _as_damaged(spec: WeightSpec, path: Path, exc: WeightsCorruptError) -> WeightsCorruptError:
    """``exc`` (a check of ``spec``'s installed file ``path`` failed) as an error of its
    type whose message is :func:`damaged_message`'s; one that gives the commands that
    replace the file already (a loader's :func:`mismatch_error`, say) is kept."""
    reason = str(exc)
    if replace_commands(spec) in reason:
        return exc
    reason = _said_of_it(reason, path)  # "PATH does not ..."
    return type(exc)(damaged_message(spec, path, reason), weights_ids=(spec.id,),
                     path=path.absolute(), reason=_said_of_it(exc.reason, path))


def _verified(spec: WeightSpec, path: Path, deep: bool, cancel: CancelToken | None) -> str:
    """:func:`verify`'s checks of ``spec``'s installed file ``path``, its failures said of
    "it" (:func:`_as_damaged` names the file)."""
    reason = damage(spec.id)
    if reason:  # a sha256 found to differ earlier, at the file's signature now, is not redone
        mismatch = reason == _since_verified(spec.id)[1]
        raise (HashMismatchError if mismatch else WrongFileError)(reason)
    record = read_manifest(spec.id)
    pinned = {} if spec.archive_member else {
        name: value.lower() for name, value in (("sha256", spec.sha256), ("md5", spec.md5))
        if value}
    expected = dict(pinned)
    if record and isinstance(record.get("sha256"), str):
        expected.setdefault("sha256", record["sha256"].lower())
    checks = []
    if expected:
        signature = file_signature(path)
        digests = file_digests(path, expected, cancel)
        recorded = record.get("sha256") if record else None
        for name, value in expected.items():
            if digests[name] != value:
                if signature is not None and isinstance(recorded, str) \
                        and digests.get("sha256", recorded.lower()) != recorded.lower():
                    _record_mismatch(spec.id, recorded, digests["sha256"], signature)
                source = "published" if name in pinned else "recorded when it was installed"
                raise HashMismatchError(f"it has {name} {digests[name][:12]}…, not the "
                                        f"{value[:12]}… {source}")
        if signature is not None and isinstance(recorded, str) \
                and file_signature(path) == signature:  # confirmed: loads need not hash it
            _remember_digest(path, signature, digests["sha256"])
            _record_signature(spec.id, recorded, signature)
        checks.append(" and ".join(sorted(expected)))
    elif not spec.archive_member:
        _check_size(spec, path, "it")
        checks.append("size")
    check_format(path, spec.format, "it")
    checks.append(f"{spec.format} format")
    if deep:
        if spec.check_contents is None:
            load_checkpoint(path, spec.format)
            checks.append("opens")
        else:  # it opens the file itself, then checks what the loader needs
            spec.check_contents(path)
            checks.append("opens, fits its network")
    return f"{spec.id}: {', '.join(checks)} OK ({format_size(path.stat().st_size)})"


class _Inert(dict):
    """Stands in for every pickled object other than tensors and plain containers.

    Creating, filling or "calling" it does nothing, so no code from the checkpoint runs.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return dict.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self)

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


def _restricted_pickle_module() -> types.ModuleType:
    """A ``pickle`` stand-in whose Unpickler resolves only tensor rebuilding functions and
    ``OrderedDict``; every other global becomes an inert placeholder class."""
    import torch

    allowed = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"):
            torch._utils._rebuild_parameter_with_state,
    }

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found = allowed.get((module, name))
            if found is not None:
                return found
            return type(f"Inert[{module}.{name}]", (_Inert,), {})

    module = types.ModuleType("inpaint_studio_restricted_pickle")
    module.Unpickler = Unpickler
    module.load = lambda file, **kwargs: Unpickler(file, **kwargs).load()
    return module


def load_checkpoint(path: str | os.PathLike, format: str = "state_dict") -> Any:
    """Open a checkpoint without running pickled code.

    ``torch.load(..., weights_only=True)`` for pickles (state dicts, ``{"G": ...}`` dicts),
    ``torch.jit.load`` for TorchScript, safetensors for ``.safetensors``. Lightning 1.x
    checkpoints (``format="lightning"``) also pickle training objects (callbacks keyed by
    their class, an OmegaConf config) that the safe loader refuses; those files are read
    again with an unpickler that rebuilds tensors and plain containers only and turns every
    other object into an inert placeholder, so no code from the file runs either way.
    Tensors land on the CPU. Raises :class:`WeightsCorruptError` for an unreadable file,
    saying why (:func:`_unreadable_reason`) and, for an installed checkpoint, how to replace it
    (its fields then naming the checkpoint and the file: :func:`checkpoint_error`). An
    installed file that opens but whose stat signature is no longer the one recorded with
    its sha256 is hashed (once) first: :func:`check_recorded_digest` raises
    :class:`HashMismatchError` for a file damaged in place.

    While a :func:`network_check` runs (in its thread), a ``torch.save`` zip is
    memory-mapped (``mmap=True``): its tensors' data is read only where it is used, as
    safetensors' loader always does.
    """
    path = Path(path)
    loaded = _opened(path, format)
    check_recorded_digest(path)  # after opening: an unreadable file's reason comes first
    return loaded


def _opened(path: Path, format: str) -> Any:
    """What :func:`load_checkpoint` opens, before the recorded digest is checked."""
    import torch

    try:
        if format == "torchscript":
            return torch.jit.load(str(path), map_location="cpu")
        if format == "safetensors":  # its loader maps the file: data is read where used
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        # a legacy pickle cannot be mapped
        mapped = _PROBING.get() and _zip_names(path) is not None
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mapped)
        except Exception:
            if format != "lightning" or not zipfile.is_zipfile(path):
                raise
            return torch.load(str(path), map_location="cpu", weights_only=False,
                              pickle_module=_restricted_pickle_module(), mmap=mapped)
    except FileNotFoundError:
        spec = installed_spec(path)
        raise WeightsMissingError(f"{path}: no such file",
                                  weights_ids=(spec.id,) if spec else ()) from None
    except Exception as exc:  # torch raises many types for bad files
        raise _unreadable_error(path, format, exc) from exc


# --- does a checkpoint fit its network ----------------------------------------------------

_PROBING: contextvars.ContextVar[bool] = contextvars.ContextVar("checkpoint_probing",
                                                               default=False)


def network_check(load: Callable[[Path, Any], Any], meta: bool = True
                  ) -> Callable[[Path], None]:
    """A :attr:`WeightSpec.check_contents` that loads the file the way its engine does.

    ``load(path, device)`` is the engine's (or parser's) own loading code: it builds the
    network, opens the file with :func:`load_checkpoint`, unwraps what upstream wraps
    (``{"generator": ...}``, a Lightning ``state_dict``, ``module.`` prefixes, another
    naming) and loads it strictly, raising :func:`mismatch_error` (saying the spec's id is
    its own: ``own=(id,)``) or another :class:`WeightsCorruptError` when names or shapes
    differ. The check runs it with torch's default device set to ``meta`` (``device`` is
    then ``meta`` too), so the network is built without memory for its weights and loading
    it copies nothing, and with :func:`load_checkpoint` memory-mapping the file: a file of
    any size costs its pickle and the network's construction, not a copy in memory.
    ``meta=False`` makes the CPU the default device (and ``device``) instead, for a
    network whose construction reads a tensor's value (meta tensors have none): ``load``
    builds it on the CPU, where it takes its full size, and can move it to ``meta`` before
    loading into it. Raises
    :class:`WeightsCorruptError`; any other failure of the load becomes a
    :class:`CheckpointMismatchError`.
    """
    def check(path: Path) -> None:
        failure = _probe(Path(path), load, meta)
        if failure is not None:  # raised here, after the probe's frames (the mapped file) went
            raise failure

    return check


def _probe(path: Path, load: Callable[[Path, Any], Any],
           meta: bool) -> WeightsCorruptError | None:
    """Run ``load(path, device)`` as :func:`network_check` says; its failure, without the
    traceback (which would keep the mapped file open), or None."""
    import torch

    device = torch.device("meta" if meta else "cpu")
    token = _PROBING.set(True)
    try:
        with torch.device(device), warnings.catch_warnings():
            # loading into meta parameters copies nothing, which torch warns about
            warnings.filterwarnings("ignore", message=".*non-meta parameter.*meta parameter")
            load(path, device)
    except WeightsCorruptError as exc:
        failure = exc.retold(str(exc))
    except Exception as exc:  # whatever the loader trips on, the file does not fit
        failure = CheckpointMismatchError(f"{path.absolute()} does not load into its network "
                                          f"({message_line(exc)[:200]})")
    else:
        failure = None
    finally:
        _PROBING.reset(token)
    return failure


def _spec_at(path: str | os.PathLike, folder: bool = False) -> WeightSpec | None:
    """The spec whose installed file (in the cache) ``path`` is, or with ``folder`` whose
    cache folder (where :func:`local_path` installs its file) it is; None for none."""
    target = Path(os.path.abspath(path))
    for spec in list(_SPECS.values()):
        installed = Path(os.path.abspath(local_path(spec.id)))
        if (installed.parent if folder else installed) == target:
            return spec
    return None


def installed_spec(path: str | os.PathLike) -> WeightSpec | None:
    """The spec whose installed file (in the cache) ``path`` is, if any: for a loader that
    refuses a file before reading it (a folder expected) to tell another model's installed
    checkpoint (:func:`mismatch_error`) from its own."""
    return _spec_at(path)


def folder_spec(folder: str | os.PathLike) -> WeightSpec | None:
    """The spec whose cache folder (where :func:`local_path` installs its file) ``folder``
    is, if any: for a loader given a folder of its own files to say whose folder it is."""
    return _spec_at(folder, folder=True)


def _damage_reason(path: Path, format: str, spec: WeightSpec | None) -> str | None:
    """Why ``path`` is clearly not a ``format`` checkpoint, by the cheap checks
    :func:`verify` makes (a stat, the first bytes, a zip's directory): empty, a zip cut short,
    a web page or the wrong format (:func:`check_format`), a size other than the installed
    file's (manifest) or, without a manifest, far from the spec's; None when it passes.
    ``spec``: the spec whose installed file ``path`` is, if any."""
    empty = _empty(path)
    if empty:
        return f"it is {empty}"
    size = path.stat().st_size
    record = read_manifest(spec.id) if spec is not None else None
    installed = record.get("bytes") if record else None
    cut_short = _cut_short_zip(path, installed if isinstance(installed, int) else None)
    if cut_short:
        return f"it is {cut_short}"
    try:
        check_format(path, format, "it")
        if isinstance(installed, int):  # checked at install: exactly that size
            if installed != size:
                now, then = _sizes_apart(size, installed)
                return f"it is {now}, but was {then} when installed"
        elif spec is not None and not spec.archive_member:
            _check_size(spec, path, "it")
    except WrongFileError as wrong:
        return str(wrong)
    return None


def _sizes_apart(size: int, other: int) -> tuple[str, str]:
    """``size`` and ``other`` (bytes) as :func:`format_size` says them, or both in exact
    bytes (``"189,504 bytes"``, ``"189,440 bytes"``) when those read the same for sizes
    that differ (a file grown by 64 bytes is not "185 kB, but was 185 kB")."""
    said, other_said = format_size(size), format_size(other)
    if said == other_said and size != other:
        return f"{size:,} bytes", f"{other:,} bytes"
    return said, other_said


def _unreadable_reason(path: Path, format: str, spec: WeightSpec | None,
                       exc: BaseException) -> str:
    """Why ``path`` could not be opened as a ``format`` checkpoint (after ``exc``): the
    cheap checks' reason (:func:`_damage_reason`), else the loader's own first sentence,
    never torch's advice to load the file with ``weights_only=False``. ``spec``: the spec
    whose installed file ``path`` is, if any."""
    reason = _damage_reason(path, format, spec)
    if reason:
        return reason
    text = str(exc).strip()
    if "weights_only" in text:  # the safe unpickler refused an object: name it, if torch did
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" ({found.group(1)})" if found else ""
        return (f"it pickles Python objects{what} besides tensors, which are not loaded "
                "because loading them could run code from the file")
    first = message_line(exc)
    return re.split(r"(?<=[a-z\d])\. ", first)[0].rstrip(".")[:200]


def mismatch_error(path: str | os.PathLike, network: str, differences: str, *,
                   own: Iterable[str] | None = None) -> CheckpointMismatchError:
    """The error a strict loader raises when the checkpoint at ``path`` does not fit
    ``network`` (``"the DeepFill v2 generator"``); ``differences`` lists what differs
    (``"missing: a.weight; unexpected: b.bias"``). One line naming the file's full path.

    ``own``: the ids of the checkpoints the loader loads (its own: ``(spec.id,)`` in a spec's
    ``check_contents``, the engine's or parser's ids when it loads them; ``()`` for a loader
    of none). None, a loader that does not say: the checkpoint whose file ``path`` is taken
    as its own.

    For an installed checkpoint's file, what it is: when the checkpoint is one of ``own`` (a
    file in its slot that does not fit its own network is not it) or the file fails its
    spec's ``check_contents``, the file is not that checkpoint either (another model's file
    in its slot, say): the commands that replace it, as for a damaged one. When it is the
    sound checkpoint of another network, given to this loader (an engine's
    ``weights_path``), :class:`OtherModelsCheckpointError` saying so and no advice to remove
    it: ``"...: it is the LaMa big (official) checkpoint (lama-big), not one for the MI-GAN
    256 generator; give this engine its own weights"``."""
    path = Path(path)
    message = f"{path.absolute()} does not fit {network} ({differences})"
    reason = message
    spec = installed_spec(path)
    theirs = spec is not None and own is not None and spec.id not in own
    if theirs and _holds_its_checkpoint(spec, path):
        found = f"{message}: it is the {spec.title} checkpoint ({spec.id}), not one for {network}"
        return OtherModelsCheckpointError(f"{found}; give this engine its own weights",
                                          found=found)
    if spec is not None:
        message += f": it is not the {spec.title} checkpoint; {replace_commands(spec)}"
    return checkpoint_error(path, message, reason, CheckpointMismatchError)


def _holds_its_checkpoint(spec: WeightSpec, path: Path) -> bool:
    """Whether ``path``, ``spec``'s installed file that a loader of other checkpoints found
    not to fit its network, is all the same ``spec``'s sound checkpoint: it passes the cheap
    checks (:func:`damage`) and ``spec.check_contents`` (which loads it on the ``meta``
    device; its loader, saying ``spec`` is its own, checks no further). False for a spec
    with no ``check_contents`` and when the file cannot be checked."""
    if spec.check_contents is None:
        return False
    try:
        if damage(spec.id):
            return False
        spec.check_contents(path)
    except Exception:  # any failure: not shown to be that checkpoint
        return False
    return True


def _unreadable_error(path: Path, format: str, exc: BaseException) -> WeightsCorruptError:
    """The error for a checkpoint that could not be opened, in one line: the file, why,
    and for an installed one the commands that replace it (fields: :func:`attach_file`)."""
    spec = installed_spec(path)
    try:
        reason = _unreadable_reason(path, format, spec, exc)
    except OSError as error:  # unreadable by us too (permissions, a folder)
        reason = error.strerror or str(error)
    if spec is None:
        message = f"{path.absolute()} is not a readable {format} checkpoint: {reason}"
        return WeightsCorruptError(message)
    return checkpoint_error(path, damaged_message(spec, path, reason), reason)


def checkpoint_error(path: str | os.PathLike, message: str, reason: str | None = None,
                     kind: type[WeightsError] = WeightsCorruptError) -> WeightsError:
    """A ``kind`` error about the checkpoint file ``path`` whose message is ``message`` (the
    command-line tool's, advice included), its fields (:class:`WeightsError`) filled in by
    :func:`attach_file`; ``reason`` says what is wrong without the advice, naming the file
    at its start (default: ``message``, for one that gives no advice)."""
    return attach_file(kind(message, reason=reason), path)


@contextlib.contextmanager
def naming_file(path: str | os.PathLike) -> Iterator[None]:
    """Within it, a :class:`WeightsCorruptError` raised about the checkpoint file ``path``
    (by a loader) leaves with the fields :func:`attach_file` gives it; its message is kept."""
    try:
        yield
    except WeightsCorruptError as exc:
        attach_file(exc, path)
        raise


def attach_file(exc: WeightsError, path: str | os.PathLike) -> WeightsError:
    """``exc``, raised about the checkpoint file ``path`` (loading it, say), given the fields
    that it lacks when ``path`` is an installed checkpoint's file: that checkpoint's id and,
    for a :class:`WeightsCorruptError`, the file's absolute path and its reason said of "it"
    (the file's path or name at its start replaced). Its message, an error that names
    its checkpoints already and an :class:`OtherModelsCheckpointError` (no installed file at
    fault) are kept as they are; returns ``exc`` (to raise it again:
    ``raise attach_file(exc, path)``)."""
    if exc.weights_ids or isinstance(exc, OtherModelsCheckpointError):
        return exc
    path = Path(path)
    spec = installed_spec(path)
    if spec is not None:
        exc.weights_ids = (spec.id,)
        if isinstance(exc, WeightsCorruptError):
            exc.path = path.absolute()
            exc.reason = _said_of_it(exc.reason, path)
    return exc
