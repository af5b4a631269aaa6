"""The parser contract: models that turn an image into a label map, and their label sets.

A parser returns a ``(H, W)`` uint8 map of class ids for an ``(H, W, 3)`` uint8 RGB image;
``255`` (:data:`engines.base.UNLABELLED`) marks pixels it does not label. Each parser names the
:class:`LabelSet` its ids index into, so the GUI can show a legend and a palette.
"""

from __future__ import annotations

import abc
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from engines import weights
from engines.base import (
    CancelToken,
    EngineCrashed,
    EngineNotReadyError,
    Readiness,
    Status,
    exception_line,
)
from engines.plugins import check_name_free, import_plugins, take_back_on_failure

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


@dataclass(frozen=True, eq=False)
class LabelSet:
    """Names and display colours of a label map's class ids.

    Attributes:
        name: identifier (``"face19"``, ``"cocostuff182"``, ``"ade150"``, ``"regions"``).
        names: class names; ``names[i]`` is class id ``i``.
        palette: ``(len(names), 3)`` uint8 RGB display colours.
    """

    name: str
    names: tuple[str, ...]
    palette: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


class Parser(abc.ABC):
    """Base class of semantic parsers (face parsing, scene parsing, unsupervised regions).

    Class attributes:
        name: registry key (``"face"``, ``"scene"``, ``"scene-lite"``, ``"regions"``).
        title: human name.
        weights: ids of the checkpoints the parser needs (see :mod:`engines.weights`).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    weights: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        self.options = dict(options)

    @property
    @abc.abstractmethod
    def label_set(self) -> LabelSet:
        """The label set the returned ids index into."""

    def status(self) -> Status:
        """Ready when every checkpoint of :attr:`weights` is installed and passes the cheap
        checks (:func:`engines.weights.readiness_problem`); else NEEDS_DOWNLOAD, the title
        first, naming damaged files (path, why, how to replace them) and how to get the
        missing ones; UNAVAILABLE for an id no module declares. The ids checked are
        :meth:`checked_weights`."""
        try:
            problem = weights.readiness_problem(self.checked_weights())
        except weights.UnknownWeightsError as unknown:
            return Status(Readiness.UNAVAILABLE, f"{self.title or self.name}: {unknown}")
        if problem is None:
            return Status(Readiness.READY)
        return Status(Readiness.NEEDS_DOWNLOAD, f"{self.title or self.name}: {problem}")

    def checked_weights(self) -> list[str]:
        """The weights ids :meth:`status` checks: all of :attr:`weights` (a parser whose
        options can name a checkpoint file instead leaves those out)."""
        return list(self.weights)

    def require_ready(self) -> None:
        """Raise :class:`~engines.base.EngineNotReadyError` unless :meth:`status` says the
        parser can run now: its message the status's detail (the title and why, the command
        line's words), its fields the status, the parser's name and title and
        :meth:`checked_weights` (``parser=True``), for another front end's words."""
        status = self.status()
        if not status.ready:
            raise EngineNotReadyError(status.detail or status.readiness.value, status=status,
                                      name=self.name, title=self.title or self.name,
                                      weights_ids=self.checked_weights(), parser=True)

    def map_note(self, labels: np.ndarray) -> str | None:
        """What to say of ``labels``, this parser's map of a picture, besides its classes
        (a face parser's map of a picture without a face, say); None: nothing."""
        return None

    @abc.abstractmethod
    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        """Label every pixel of ``image`` (``(H, W, 3)`` uint8 RGB): ``(H, W)`` uint8 ids.
        Callers go through :meth:`run`, which names a bug in it after the parser."""

    def run(self, image: np.ndarray, cancel: CancelToken | None = None,
            progress: ProgressCallback | None = None) -> np.ndarray:
        """:meth:`parse` ``image``, as every caller runs a parser (the editor's map, a
        ``segment`` run, the maps ``train semantic`` computes), as :meth:`Engine.run
        <engines.base.Engine.run>` runs an engine: what the user is told as it is (an
        :class:`~engines.base.InputError`, :class:`~engines.base.Cancelled`, an
        :class:`~engines.base.EngineError`, a file error naming its file, a lack of memory)
        is raised as it is; any other exception (:func:`engines.errors.is_engine_bug`) is a
        bug of the parser, raised as :class:`~engines.base.EngineCrashed` naming it
        (``"<title> failed: ZeroDivisionError: ..."``), from it, so that a folder run lists
        the picture it failed on and goes on."""
        try:
            return self.parse(image, cancel, progress)
        except Exception as exc:  # Ctrl+C is no Exception: it passes
            from engines.errors import is_engine_bug  # local, as Engine.run imports it

            if not is_engine_bug(exc):
                raise
            raise EngineCrashed(f"{self.title or self.name} failed: {exception_line(exc)}") \
                from exc


_PARSERS: dict[str, type[Parser]] = {}
# a plugin module that fails takes back the parsers it registered
take_back_on_failure("parsers", lambda: _PARSERS, lambda name, cls: cls.__module__)
P = TypeVar("P", bound=type[Parser])


def register_parser(cls: P) -> P:
    """Class decorator adding a :class:`Parser` subclass under ``cls.name``.

    Raises ValueError for a class without a name, or a name another class holds already
    (the first registered keeps it, so a plugin cannot replace a built-in parser;
    registering the same class again, as a reload does, replaces it), as
    :func:`engines.registry.register` does for engines."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    check_name_free("parser", _PARSERS, cls)
    _PARSERS[cls.name] = cls
    return cls


def _discover() -> None:
    import_plugins()


def parser_names() -> list[str]:
    _discover()
    return list(_PARSERS)


def create_parser(name: str, **options: Any) -> Parser:
    """A new parser by name; ``KeyError`` with the valid names otherwise."""
    _discover()
    try:
        return _PARSERS[name](**options)
    except KeyError:
        close = difflib.get_close_matches(name, _PARSERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown parser {name!r}.{hint} Available: "
                       f"{', '.join(_PARSERS)}") from None


def label_set_of(parser: Parser) -> LabelSet:
    """``parser.label_set``, raising ``TypeError`` when it is no :class:`LabelSet` (and
    whatever a broken parser's property raises)."""
    label_set = parser.label_set
    if not isinstance(label_set, LabelSet):
        raise TypeError(f"its label_set is a {type(label_set).__name__}, not a LabelSet")
    return label_set


def find_label_set(name: str | None,
                   failed: Callable[[str, Exception], None] | None = None) -> LabelSet | None:
    """The :class:`LabelSet` called ``name`` among the registered parsers' sets (a label map
    file's set, a document's), else None (no name, or no parser has it). A broken parser
    (it raises when created or asked its set: a plugin's bug) is passed over, never stopping
    the search; ``failed(title, exception)`` is told of each when given."""
    if not name:
        return None
    for parser_name in parser_names():
        title = parser_name
        try:
            parser = create_parser(parser_name)
            title = parser.title or parser_name
            label_set = label_set_of(parser)
        except Exception as exc:  # one broken parser must not stop the search
            if failed is not None:
                failed(title, exc)
            continue
        if label_set.name == name:
            return label_set
    return None


def label_set_names(name: str | None) -> tuple[str, ...] | None:
    """The names of the ids of the label set called ``name`` (:func:`find_label_set`), for
    notes that name labels; None when unknown."""
    found = find_label_set(name)
    return None if found is None else found.names
