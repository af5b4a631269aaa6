"""What the editor remembers between sessions: fill settings, whether saving keeps metadata,
window geometry and dock layout.

Stored with ``QSettings`` (the platform's place: ``~/.config/inpaint-studio/`` on Linux), or in
the INI file named by ``INPAINT_STUDIO_CONFIG`` (tests, portable installs). A stored value
that no longer fits (an engine that is gone, an option out of range, a damaged entry) is
dropped in favour of the default, so an upgrade never leaves the editor unable to start.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.controller import FillSettings
from engines import registry
from engines.base import OptionSpec, Strategy

CONFIG_ENV = "INPAINT_STUDIO_CONFIG"
_FILL_KEY = "fill/settings"
_KEEP_METADATA_KEY = "files/keep_metadata"


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
