"""The engine registry: ``@register`` on an Engine subclass makes it available by name.

Adding an engine is a one-file change: put a module defining a registered class under
``engines/classical/`` or ``engines/neural/``; :func:`discover` imports those packages. A
module that cannot be loaded, or whose engine's name is taken, is left out and named by
:func:`load_problems`; the others load all the same.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from engines import plugins
from engines.base import Engine, Guidance, UserMessage
from engines.plugins import LoadProblem

_ENGINES: dict[str, type[Engine]] = {}
# a plugin module that fails takes back the engines it registered
plugins.take_back_on_failure("engines", lambda: _ENGINES, lambda name, cls: cls.__module__)

E = TypeVar("E", bound=type[Engine])


class UnknownEngineError(UserMessage, KeyError):
    """No engine of that name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def register(cls: E) -> E:
    """Class decorator adding an :class:`Engine` subclass under ``cls.name``.

    Raises ValueError for a name that is not a lower-case word, or one another class holds
    already (the first registered keeps it; registering the same class again, as a reload
    does, replaces it)."""
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise TypeError(f"{cls!r} is not an Engine subclass")
    if not cls.name or cls.name != cls.name.lower() or " " in cls.name:
        raise ValueError(f"{cls.__name__}.name must be a lower-case word, got {cls.name!r}")
    plugins.check_name_free("engine", _ENGINES, cls)
    _ENGINES[cls.name] = cls
    return cls


def discover() -> None:
    """Import every plugin module once (:func:`engines.plugins.import_plugins`: the built-in
    packages, then the user's plugin folder, so a built-in keeps its name), so their
    ``@register`` calls run. The engines a module registered before it failed are taken
    back with it: it is not loaded (:func:`load_problems`)."""
    plugins.import_plugins()


def load_problems() -> list[LoadProblem]:
    """The modules of the engine packages (and any other plugin package imported so far)
    that were left out, each with its file and why."""
    discover()
    return plugins.load_problems()


def names() -> list[str]:
    """Registered engine names, in registration order."""
    discover()
    return list(_ENGINES)


def engine_class(name: str) -> type[Engine]:
    """The class registered as ``name``; :class:`UnknownEngineError` lists the valid names."""
    discover()
    try:
        return _ENGINES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _ENGINES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownEngineError(f"unknown engine {name!r}.{hint} Available: "
                                 f"{', '.join(_ENGINES)}{plugins.not_loaded_note()}") from None


def create(name: str, **options: Any) -> Engine:
    """A new instance of the engine registered as ``name``."""
    return engine_class(name)(**options)


def engine_classes() -> list[type[Engine]]:
    """All registered engine classes, in registration order."""
    discover()
    return list(_ENGINES.values())


def unused_guidance(name: str, given: set[Guidance]) -> tuple[list[str], list[str]]:
    """What engine ``name`` would ignore of the guidance ``given``: the kinds it does not
    take (sorted values, e.g. ``["labels", "sketch"]``) and the registered engines that take
    them all (names): those that follow the most of ``given`` first, then those that take
    the most kinds of guidance, then in registration order (Guided PatchMatch, which takes
    every kind, before OpenCV Telea for colour strokes). Both empty when nothing is
    ignored."""
    given = set(given)
    unused = given - engine_class(name).guidance
    if not unused:
        return [], []
    users = [other for other, cls in _ENGINES.items() if unused <= cls.guidance]
    users.sort(key=lambda other: (-len(given & _ENGINES[other].guidance),  # stable sort
                                  -len(_ENGINES[other].guidance)))
    return sorted(kind.value for kind in unused), users
