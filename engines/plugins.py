"""Importing the plugin packages, so the modules in them register themselves.

Engines (``@register``), parsers (``@register_parser``) and checkpoint specs
(``register_spec``) are declared in the module that implements them; importing every module
of their packages once makes them known. Each package is walked once per process.

After the built-in packages, the Python files of the user's plugin folder
(:func:`user_plugin_folder`: ``INPAINT_STUDIO_PLUGINS``, else ``plugins`` in the user data
folder) are loaded too (:func:`import_plugins`), so an engine, parser or checkpoint
spec can be added without touching the installed program, and a built-in always keeps its
name.

One module that cannot be loaded (a dependency not installed, a syntax error, a registration
refused, any exception while it runs) never stops the others: it is left out and recorded
as a :class:`LoadProblem` (:func:`load_problems`), which the CLI's ``engines`` command and
the editor's engine panel show.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

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
                                                         _one_line(exc))
            return
        for path in files:
            _import_file(f"{USER_PLUGIN_PACKAGE}.{path.stem}", path)


def _import_file(module_name: str, path: Path) -> None:
    """Import the Python file ``path`` as ``module_name``; a failure is recorded and the
    half-made module forgotten."""
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin must not stop the others (recorded)
        sys.modules.pop(module_name, None)
        _problems[module_name] = LoadProblem(module_name, str(path), _one_line(exc))


def load_problems() -> list[LoadProblem]:
    """The modules left out so far, in the order they were met."""
    with _lock:
        return list(_problems.values())


def failed_modules() -> set[str]:
    """The dotted names of the modules left out so far: anything they registered before
    failing belongs to a module that is not loaded."""
    with _lock:
        return set(_problems)


def _import_below(package) -> None:
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:  # a broken plugin must not stop the others (recorded)
            _problems[info.name] = LoadProblem(info.name, _shown_path(info.name),
                                               _one_line(exc))
            continue
        if info.ispkg:
            _import_below(module)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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
