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

from engines.base import CancelToken, Readiness, Status
from engines.plugins import import_plugins, take_back_on_failure

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
        return Status(Readiness.READY)

    @abc.abstractmethod
    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        """Label every pixel of ``image`` (``(H, W, 3)`` uint8 RGB): ``(H, W)`` uint8 ids."""


_PARSERS: dict[str, type[Parser]] = {}
# a plugin module that fails takes back the parsers it registered (or replaced)
take_back_on_failure("parsers", lambda: _PARSERS, lambda name, cls: cls.__module__)
P = TypeVar("P", bound=type[Parser])


def register_parser(cls: P) -> P:
    """Class decorator adding a :class:`Parser` subclass under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
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
