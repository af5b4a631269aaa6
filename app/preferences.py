"""What the editor remembers between sessions: fill settings, whether saving keeps metadata,
window geometry and dock layout, the recently opened pictures, the folders its file dialogs
last used and the brush sizes.

Stored with ``QSettings`` (the platform's place: ``~/.config/inpaint-studio/`` on Linux), or in
the INI file named by ``INPAINT_STUDIO_CONFIG`` (tests, portable installs). A stored value
that no longer fits (an engine that is gone, an option out of range, a damaged entry) is
dropped in favour of the default, so an upgrade never leaves the editor unable to start.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.controller import FillSettings
from app.tools import MAX_RADIUS, MIN_RADIUS
from engines import registry
from engines.base import OptionSpec, Strategy

CONFIG_ENV = "INPAINT_STUDIO_CONFIG"
_FILL_KEY = "fill/settings"
_KEEP_METADATA_KEY = "files/keep_metadata"
_RECENT_KEY = "files/recent"
_FOLDER_KEY = "folders/{}"
_BRUSH_KEY = "tools/brush_radius"
RECENT_LIMIT = 10


def store() -> QSettings:
    """The settings store: the INI file of ``INPAINT_STUDIO_CONFIG`` when set."""
    path = os.environ.get(CONFIG_ENV)
    if path:
        return QSettings(path, QSettings.IniFormat)
    return QSettings("inpaint-studio", "inpaint-studio")


def save_fill_settings(settings: FillSettings) -> None:
    record = {
        "engine": settings.engine,
        "engine_options": settings.engine_options,
        "strategy": Strategy(settings.strategy).value,
        "crop_margin": settings.crop_margin,
        "seed": settings.seed,
        "device": settings.device,
        "auto_run": settings.auto_run,
        "auto_apply": settings.auto_apply,
    }
    store().setValue(_FILL_KEY, json.dumps(record))


def load_fill_settings() -> FillSettings:
    """The stored fill settings, each one checked; defaults for anything missing or invalid."""
    settings = FillSettings()
    try:
        record = json.loads(str(store().value(_FILL_KEY, "{}")))
    except (TypeError, ValueError):
        return settings
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
    for key, kind in (("crop_margin", int), ("seed", int), ("device", str),
                      ("auto_run", bool), ("auto_apply", bool)):
        value = record.get(key)
        if type(value) is kind:
            setattr(settings, key, value)
    if settings.device not in ("auto", "cpu", "cuda", "mps"):
        settings.device = "auto"
    settings.crop_margin = min(max(settings.crop_margin, 0), 2048)
    settings.seed = min(max(settings.seed, 0), 2**31 - 1)
    return settings


def _valid_options(specs: tuple[OptionSpec, ...], values: dict[str, Any]) -> dict[str, Any]:
    by_key = {spec.key: spec for spec in specs}
    return {key: value for key, value in values.items()
            if key in by_key and by_key[key].accepts(value)}


def save_keep_metadata(keep: bool) -> None:
    store().setValue(_KEEP_METADATA_KEY, "true" if keep else "false")


def load_keep_metadata() -> bool:
    """Whether saving keeps the photo's metadata; True unless the user turned it off."""
    return str(store().value(_KEEP_METADATA_KEY, "true")).lower() != "false"


def save_window(geometry: QByteArray, state: QByteArray) -> None:
    settings = store()
    settings.setValue("window/geometry", geometry)
    settings.setValue("window/state", state)


def load_window() -> tuple[QByteArray | None, QByteArray | None]:
    """``(geometry, dock state)`` as saved, each None when absent."""
    settings = store()
    values = (settings.value("window/geometry"), settings.value("window/state"))
    return tuple(v if isinstance(v, QByteArray) else None for v in values)


def _json_entry(key: str) -> Any:
    """The JSON stored under ``key``; None when absent, not a string or not JSON."""
    value = store().value(key)
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
    store().setValue(_RECENT_KEY, json.dumps(paths[:RECENT_LIMIT]))


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
    store().setValue(_FOLDER_KEY.format(purpose), str(Path(folder).resolve()))


def load_folder(purpose: str) -> Path | None:
    """The folder remembered for ``purpose``; None when there is none, the entry is damaged
    or the folder no longer exists (the dialog then starts where it always did)."""
    value = store().value(_FOLDER_KEY.format(purpose))
    if isinstance(value, str) and os.path.isabs(value) and os.path.isdir(value):
        return Path(value)
    return None


def save_brush_sizes(radius: dict[str, float]) -> None:
    """Remember the brush radius (image pixels) of each tool family."""
    store().setValue(_BRUSH_KEY, json.dumps(radius))


def load_brush_sizes(defaults: dict[str, float]) -> dict[str, float]:
    """``defaults`` (radius by tool family) with each remembered radius that belongs to one of
    its families and is a finite number, kept within ``MIN_RADIUS``..``MAX_RADIUS``."""
    sizes = dict(defaults)
    record = _json_entry(_BRUSH_KEY)
    if not isinstance(record, dict):
        return sizes
    for family, value in record.items():
        if family in sizes and type(value) in (int, float) and math.isfinite(value):
            sizes[family] = min(max(float(value), MIN_RADIUS), MAX_RADIUS)
    return sizes
