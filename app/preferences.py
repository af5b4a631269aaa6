"""What the editor remembers between sessions: fill settings, whether saving keeps metadata,
window geometry and dock layout, the recently opened pictures, the folders its file dialogs
last used and the brush sizes.

Stored with ``QSettings`` (the platform's place: ``~/.config/inpaint-studio/`` on Linux), or in
the INI file named by ``INPAINT_STUDIO_CONFIG`` (tests, portable installs). A stored value
that no longer fits (an engine that is gone, an option or a number out of range, a damaged
entry) is dropped in favour of the default, so an upgrade never leaves the editor unable to
start. A window writes only what it changed (:class:`SettingsWriter`), so two editors open
at once do not undo each other's changes; a write that fails is said by :func:`write_problem`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.controller import FillSettings
from app.tools import MAX_RADIUS, MIN_RADIUS
from engines import registry
from engines.base import CROP_MARGIN_RANGE, SEED_RANGE, OptionSpec, Strategy

CONFIG_ENV = "INPAINT_STUDIO_CONFIG"
_FILL_KEY = "fill/settings"
_KEEP_METADATA_KEY = "files/keep_metadata"
_GEOMETRY_KEY = "window/geometry"
_STATE_KEY = "window/state"
_RECENT_KEY = "files/recent"
_FOLDER_KEY = "folders/{}"
_BRUSH_KEY = "tools/brush_radius"
RECENT_LIMIT = 10
_problem = ""  # why the last write failed, "" when it succeeded


def store() -> QSettings:
    """The settings store: the INI file of ``INPAINT_STUDIO_CONFIG`` when set."""
    path = os.environ.get(CONFIG_ENV)
    if path:
        return QSettings(path, QSettings.IniFormat)
    return QSettings("inpaint-studio", "inpaint-studio")


def write_problem() -> str:
    """Why the settings could not be written the last time something was written, as a
    sentence for the status bar ("Settings cannot be saved to PATH: reason; ..."); "" when
    that write succeeded (or nothing was written yet)."""
    return _problem


def _commit(settings: QSettings) -> None:
    """Write ``settings``' changes to disk now and note whether that failed. A format error
    is no failure: a damaged file is read as empty and written anew."""
    global _problem
    settings.sync()
    if settings.status() != QSettings.AccessError:
        _problem = ""
        return
    path = settings.fileName()
    reason = "it is a folder" if os.path.isdir(path) else "the file or its folder is not writable"
    _problem = f"Settings cannot be saved to {path}: {reason}; they will be lost at exit"


def _set(key: str, value: Any) -> None:
    settings = store()
    settings.setValue(key, value)
    _commit(settings)


@dataclass
class Remembered:
    """What one window keeps between sessions: its fill settings, whether saving keeps
    metadata, the brush radius of each tool family (image pixels), its geometry and its dock
    layout (as ``QMainWindow.saveGeometry``/``saveState`` give them)."""

    fill: FillSettings
    keep_metadata: bool
    brush_sizes: dict[str, float]
    geometry: QByteArray
    state: QByteArray

    def records(self) -> dict[str, Any]:
        """The stored entries, by key: JSON records as dicts, the rest as stored."""
        fill = self.fill
        return {
            _FILL_KEY: {
                "engine": fill.engine,
                "engine_options": {name: dict(values)
                                   for name, values in fill.engine_options.items()},
                "strategy": Strategy(fill.strategy).value,
                "crop_margin": fill.crop_margin,
                "seed": fill.seed,
                "device": fill.device,
                "auto_run": fill.auto_run,
                "auto_apply": fill.auto_apply,
            },
            _KEEP_METADATA_KEY: "true" if self.keep_metadata else "false",
            _BRUSH_KEY: dict(self.brush_sizes),
            _GEOMETRY_KEY: QByteArray(self.geometry),
            _STATE_KEY: QByteArray(self.state),
        }


class SettingsWriter:
    """Writes one window's :class:`Remembered`: only the entries that changed since the
    window last read or wrote them, and within the fill settings and brush sizes only the
    values that changed, merged into what is stored now. Two editors sharing the settings so
    keep each other's changes; the later change of one same value wins."""

    def __init__(self, read: Remembered) -> None:
        """``read``: the window's values as it read them (or as it started)."""
        self._written = read.records()

    def write(self, values: Remembered) -> None:
        """Store what changed in ``values``; see :func:`write_problem` for the outcome. A
        write that fails is tried again, whole, by the next one."""
        now = values.records()
        changed = {key: value for key, value in now.items() if value != self._written[key]}
        if not changed:
            return
        settings = store()
        for key, value in changed.items():
            if isinstance(value, dict):
                stored = _json_entry(key, settings)
                value = json.dumps(_merged(stored if isinstance(stored, dict) else {},
                                           self._written[key], value))
            settings.setValue(key, value)
        _commit(settings)
        if not _problem:
            self._written = now


def _merged(stored: dict, before: dict, now: dict) -> dict:
    """``stored`` with each value that differs between ``before`` and ``now`` taken from
    ``now`` (dropped where ``now`` lacks it); nested dicts merged the same way, a missing one
    counting as empty."""
    result = dict(stored)
    for key in before.keys() | now.keys():
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if isinstance(old, dict) or isinstance(new, dict):
            inner = result.get(key)
            result[key] = _merged(inner if isinstance(inner, dict) else {},
                                  old if isinstance(old, dict) else {},
                                  new if isinstance(new, dict) else {})
        elif key in now:
            result[key] = new
        else:
            result.pop(key, None)
    return result


def load_fill_settings() -> FillSettings:
    """The stored fill settings, each one checked; the default for anything missing, of the
    wrong type or out of range."""
    settings = FillSettings()
    record = _json_entry(_FILL_KEY)
    if not isinstance(record, dict):
        return settings
    names = {cls.name for cls in registry.engine_classes()}
    engine = record.get("engine")
    if isinstance(engine, str) and engine in names:
        settings.engine = engine
    options = record.get("engine_options")
    if isinstance(options, dict):
        settings.engine_options = {
            name: kept for name, values in options.items()
            if name in names and isinstance(values, dict)
            and (kept := _valid_options(registry.engine_class(name).user_options(), values))}
    strategy = record.get("strategy")
    if isinstance(strategy, str):
        with contextlib.suppress(ValueError):
            settings.strategy = Strategy(strategy)
    for key, kind, allowed in (
            ("crop_margin", int, lambda v: _within(v, CROP_MARGIN_RANGE)),
            ("seed", int, lambda v: _within(v, SEED_RANGE)),
            ("device", str, lambda v: v in ("auto", "cpu", "cuda", "mps")),
            ("auto_run", bool, None), ("auto_apply", bool, None)):
        value = record.get(key)
        if type(value) is kind and (allowed is None or allowed(value)):
            setattr(settings, key, value)
    return settings


def _within(value: int, bounds: tuple[int, int]) -> bool:
    """Whether ``value`` is one the Engine panel offers; a stored number outside is damage."""
    return bounds[0] <= value <= bounds[1]


def _valid_options(specs: tuple[OptionSpec, ...], values: dict[str, Any]) -> dict[str, Any]:
    by_key = {spec.key: spec for spec in specs}
    return {key: value for key, value in values.items()
            if key in by_key and by_key[key].accepts(value)}


def load_keep_metadata() -> bool:
    """Whether saving keeps the photo's metadata; True unless the user turned it off."""
    return str(store().value(_KEEP_METADATA_KEY, "true")).lower() != "false"


def load_window() -> tuple[QByteArray | None, QByteArray | None]:
    """``(geometry, dock state)`` as saved, each None when absent."""
    settings = store()
    values = (settings.value(_GEOMETRY_KEY), settings.value(_STATE_KEY))
    return tuple(v if isinstance(v, QByteArray) else None for v in values)


def _json_entry(key: str, settings: QSettings | None = None) -> Any:
    """The JSON stored under ``key`` (in ``settings``, else the store); None when absent,
    not a string or not JSON."""
    value = (settings if settings is not None else store()).value(key)
    if not isinstance(value, str):  # a hand-edited INI line with commas reads as a list
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _same_file_key(path: str) -> str:
    return os.path.normcase(path)


def load_recent() -> list[str]:
    """The recently opened pictures, most recent first: at most ``RECENT_LIMIT`` absolute
    paths, no duplicates. Entries that are not absolute path strings are dropped; a damaged
    record gives an empty list. Files that no longer exist are kept (a drive may come back)."""
    record = _json_entry(_RECENT_KEY)
    if not isinstance(record, list):
        return []
    paths: list[str] = []
    seen: set[str] = set()
    for item in record:
        if isinstance(item, str) and os.path.isabs(item) and _same_file_key(item) not in seen:
            seen.add(_same_file_key(item))
            paths.append(item)
    return paths[:RECENT_LIMIT]


def _save_recent(paths: list[str]) -> None:
    _set(_RECENT_KEY, json.dumps(paths[:RECENT_LIMIT]))


def add_recent(path: str | os.PathLike) -> list[str]:
    """Put ``path`` (resolved: links followed, made absolute) first in the recent list,
    dropping an earlier entry for the same file and the oldest beyond ``RECENT_LIMIT``;
    returns the new list."""
    resolved = str(Path(path).resolve())
    paths = [resolved] + [p for p in load_recent()
                          if _same_file_key(p) != _same_file_key(resolved)]
    _save_recent(paths)
    return paths[:RECENT_LIMIT]


def remove_recent(path: str) -> None:
    """Drop ``path`` (as listed) from the recent list."""
    _save_recent([p for p in load_recent() if _same_file_key(p) != _same_file_key(path)])


def clear_recent() -> None:
    _save_recent([])


def save_folder(purpose: str, folder: str | os.PathLike) -> None:
    """Remember ``folder`` as where the file dialogs for ``purpose`` last went (``"open"``,
    ``"save"``, ``"masks"``, ``"labels"``, ``"references"``)."""
    _set(_FOLDER_KEY.format(purpose), str(Path(folder).resolve()))


def load_folder(purpose: str) -> Path | None:
    """The folder remembered for ``purpose``; None when there is none, the entry is damaged
    or the folder no longer exists (the dialog then starts where it always did)."""
    value = store().value(_FOLDER_KEY.format(purpose))
    if isinstance(value, str) and os.path.isabs(value) and os.path.isdir(value):
        return Path(value)
    return None


def load_brush_sizes(defaults: dict[str, float]) -> dict[str, float]:
    """``defaults`` (radius by tool family) with each remembered radius that belongs to one of
    its families and is a number within ``MIN_RADIUS``..``MAX_RADIUS`` (any other: damage,
    the default kept)."""
    sizes = dict(defaults)
    record = _json_entry(_BRUSH_KEY)
    if not isinstance(record, dict):
        return sizes
    for family, value in record.items():
        if family in sizes and type(value) in (int, float) and MIN_RADIUS <= value <= MAX_RADIUS:
            sizes[family] = float(value)
    return sizes
