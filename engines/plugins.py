"""Importing the plugin packages, so the modules in them register themselves.

Engines (``@register``), parsers (``@register_parser``) and checkpoint specs
(``register_spec``) are declared in the module that implements them; importing every module
of their packages once makes them known. Each package is walked once per process.

After the built-in packages, the Python files of the user's plugin folder
(:func:`user_plugin_folder`: ``INPAINT_STUDIO_PLUGINS``, else ``plugins`` in the user data
folder) are loaded too (:func:`import_plugins`), so an engine, parser or checkpoint
spec can be added without touching the installed program, and a built-in always keeps its
name.

A package may name, in ``HELPER_MODULES`` (a tuple in its ``__init__``), modules of its
own that register nothing: the networks and solvers that import torch at module level. The
walk leaves them out; the modules that use them import them when a network is built or a
solver runs, so listing the engines, parsers and checkpoints, and running a classical engine,
imports no torch (:func:`lazy_attributes` keeps their names importable from the module that
registers them).

One module that cannot be loaded (a dependency not installed, a syntax error, a registration
refused, any exception while it runs) never stops the others: it is left out, what it
registered before failing is taken back (:func:`take_back_on_failure`), and it is recorded
as a :class:`LoadProblem` (:func:`load_problems`), which the CLI's ``engines`` command and
the editor's engine panel show (and its labels panel, for the modules that may hold parsers:
:func:`parser_load_problems`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.base import exception_line

ENGINE_PACKAGES = ("engines.classical", "engines.neural")
PARSER_PACKAGES = ("engines.segmentation",)
PLUGINS_ENV = "INPAINT_STUDIO_PLUGINS"  # a folder of plugin files, instead of the default
USER_PLUGIN_PACKAGE = "inpaint_studio_user_plugins"  # the name their modules are loaded under


@dataclass(frozen=True)
class LoadProblem:
    """A module of a plugin package that was left out.

    Attributes:
        module: its dotted name (``engines.classical.my_engine``).
        path: its file, relative to the folder holding the top package where it lies
            under it (``engines/classical/my_engine.py``), else absolute.
        reason: one line: the exception's type and the first line of its message.
    """

    module: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


_lock = threading.RLock()  # re-entrant: a module may ask for the registry while imported
_walked: set[str] = set()
_problems: dict[str, LoadProblem] = {}
# the registries a failed module's entries are taken out of: name -> (its table, the module
# that made an entry), see take_back_on_failure
_registries: dict[str, tuple[Callable[[], dict], Callable[[Any, Any], str]]] = {}


def take_back_on_failure(name: str, table: Callable[[], dict],
                         owner: Callable[[Any, Any], str]) -> None:
    """Have each plugin module that fails take back what it registered in ``table()``, the
    dict of the registry called ``name`` (read anew each time): an entry it added is
    removed, one it replaced is restored. ``owner(key, value)`` names the module that made
    an entry (an engine's ``__module__``): only entries of modules that are not loaded are
    taken back, so a module the failed one imported, which loaded, keeps its own."""
    _registries[name] = (table, owner)


@contextmanager
def _taken_back_on_failure() -> Iterator[None]:
    """Around the import of one plugin module: if it raises, the entries it made (see
    :func:`take_back_on_failure`) are taken back, then the exception goes on. A registry
    first imported meanwhile counts as empty before."""
    before = {name: dict(table()) for name, (table, _) in _registries.items()}
    try:
        yield
    except Exception:
        for name, (table, owner) in list(_registries.items()):
            _take_back(table(), before.get(name, {}), owner)
        raise


def _take_back(entries: dict, before: dict, owner: Callable[[Any, Any], str]) -> None:
    """Set back each entry of ``entries`` that differs from ``before`` and whose module
    (``owner``) is not loaded: removed if new, else restored."""
    for key, value in list(entries.items()):
        if key in before and before[key] is value:
            continue
        if owner(key, value) in sys.modules:
            continue
        if key in before:
            entries[key] = before[key]
        else:
            del entries[key]


def _import_packages(package_names: tuple[str, ...]) -> None:
    """Import every module below each of ``package_names`` (each package once); a module
    that fails is recorded (:func:`load_problems`) and the others are imported all the same.
    The packages themselves must import."""
    with _lock:
        for package_name in package_names:
            if package_name not in _walked:
                package = importlib.import_module(package_name)
                _walked.add(package_name)
                _import_below(package)


def user_plugin_folder() -> Path:
    """The folder whose ``*.py`` files are loaded as plugins: ``$INPAINT_STUDIO_PLUGINS``, else
    ``plugins`` in the user data folder (``~/.local/share/inpaint-studio/plugins`` on Linux).
    It need not exist."""
    named = os.environ.get(PLUGINS_ENV)
    if named:
        return Path(named).expanduser()
    from platformdirs import user_data_path

    return user_data_path("inpaint-studio", appauthor=False) / "plugins"


def import_plugins() -> None:
    """Make every engine, parser and checkpoint spec known: import the built-in engine and
    parser packages (each once), then, once per process, each ``*.py``
    file of :func:`user_plugin_folder` (sorted by name; names starting with ``_`` or ``.``
    are skipped) as module ``inpaint_studio_user_plugins.<stem>``. A file that fails is
    recorded like a built-in module (:func:`load_problems`, with its full path)."""
    with _lock:
        _import_packages(ENGINE_PACKAGES + PARSER_PACKAGES)
        if USER_PLUGIN_PACKAGE in _walked:
            return
        _walked.add(USER_PLUGIN_PACKAGE)
        folder = user_plugin_folder()
        try:
            files = sorted(path for path in folder.glob("*.py")
                           if not path.name.startswith(("_", ".")))
        except OSError as exc:  # unreadable: said like a module that failed
            _problems[USER_PLUGIN_PACKAGE] = LoadProblem(USER_PLUGIN_PACKAGE, str(folder),
                                                         exception_line(exc))
            return
        for path in files:
            _import_file(f"{USER_PLUGIN_PACKAGE}.{path.stem}", path)


def _import_file(module_name: str, path: Path) -> None:
    """Import the Python file ``path`` as ``module_name``; a failure is recorded, and the
    half-made module and what it registered forgotten."""
    try:
        with _taken_back_on_failure():
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(module_name, None)  # first: its entries are then taken back
                raise
    except Exception as exc:  # a broken plugin must not stop the others (recorded)
        _problems[module_name] = LoadProblem(module_name, str(path), exception_line(exc))


def check_name_free(kind: str, table: dict, cls: type) -> None:
    """Raise ValueError when ``cls.name`` is held in ``table`` (a registry of ``kind``,
    "engine" or "parser") by another class: the first registered keeps it. The same class
    registered again (a module reloaded) is no clash."""
    existing = table.get(cls.name)
    if existing is not None and (existing.__module__, existing.__qualname__) \
            != (cls.__module__, cls.__qualname__):
        raise ValueError(f"{kind} name {cls.name!r} is taken by {existing.title or existing.name} "
                         f"({existing.__module__}.{existing.__qualname__}); choose another name")


def lazy_attributes(owner: str, source: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for the module ``owner`` that gives each of
    ``names`` from the module ``source``, imported at the first such look-up. A module that
    registers engines or parsers thus keeps the names of its networks, which moved to a
    helper module (see ``HELPER_MODULES`` above: ``from engines.neural.deepfill_v2 import
    DeepFillV2`` works) without importing torch itself. Any other name raises
    AttributeError as usual."""
    wanted = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in wanted:
            return getattr(importlib.import_module(source), name)
        raise AttributeError(f"module {owner!r} has no attribute {name!r}")

    return __getattr__


def not_loaded_note() -> str:
    """``"; not loaded: ..."`` for each module left out (:func:`load_problems`), for a
    message saying what is unknown; "" when none was."""
    return "".join(f"; not loaded: {problem}" for problem in load_problems())


def load_problems() -> list[LoadProblem]:
    """The modules left out so far, in the order they were met."""
    with _lock:
        return list(_problems.values())


def parser_load_problems() -> list[LoadProblem]:
    """The modules left out so far that may hold parsers: those of the parser packages
    (:data:`PARSER_PACKAGES`) and the user's plugin files (which may hold anything)."""
    prefixes = tuple(f"{package}." for package in (*PARSER_PACKAGES, USER_PLUGIN_PACKAGE))
    return [problem for problem in load_problems()
            if problem.module == USER_PLUGIN_PACKAGE or problem.module.startswith(prefixes)]


def _import_below(package) -> None:
    helpers = {f"{package.__name__}.{name}" for name in getattr(package, "HELPER_MODULES", ())}
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name in helpers:  # registers nothing; imported where it is used
            continue
        try:
            with _taken_back_on_failure():
                module = importlib.import_module(info.name)
        except Exception as exc:  # a broken plugin must not stop the others (recorded)
            _problems[info.name] = LoadProblem(info.name, _shown_path(info.name),
                                               exception_line(exc))
            continue
        if info.ispkg:
            _import_below(module)


def _shown_path(module_name: str) -> str:
    """The file of ``module_name`` (not imported: it failed) as :class:`LoadProblem` shows
    it; the dotted name where no file is found."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin:
        return module_name
    path = Path(spec.origin)
    top = sys.modules[module_name.partition(".")[0]]
    root = Path(top.__file__).resolve().parent.parent
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
