"""What the editor remembers between sessions: fill settings, whether saving keeps metadata,
window geometry and dock layout, the recently opened pictures, the folders its file dialogs
last used, the brush sizes, the overlays shown (and how strongly), the labels panel's
parser and what the mouse wheel does on the picture.

Stored with ``QSettings`` (the platform's place: ``~/.config/inpaint-studio/`` on Linux), or in
the INI file named by ``INPAINT_STUDIO_CONFIG`` (tests, portable installs). A stored value
that no longer fits (an engine that is gone, an option or a number out of range, a damaged
entry) is dropped in favour of the default, so an upgrade never leaves the editor unable to
start; :func:`not_understood` names the entries that could not be read at all and the values
dropped inside them (as the load functions noted them: nothing is read twice); once that
is said, :meth:`SettingsWriter.reset_not_understood` stores the defaults in their place, so
it is said once. A window writes only what it changed (:class:`SettingsWriter`), so two
editors open at once do not undo each other's changes; a write that fails is said by
:func:`write_problem`.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from app.canvas import WheelMode
from app.controller import FillSettings
from app.document import Layer
from app.engine_options import DECIMALS, accepted_values, shown_value
from app.tools import MAX_RADIUS, MIN_RADIUS
from app.viewcache import OverlayStyle
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
_VIEW_KEY = "view/settings"
_WHEEL_KEY = "view/wheel"  # a plain value, to be edited by hand too: "zoom" or "scroll"
RECENT_LIMIT = 10
# what the Overlays panel sets: each overlay's visibility (by layer name) and the opacities
OVERLAY_LAYERS = tuple(Layer(layer).value for layer in OverlayStyle().visible)
OVERLAY_OPACITIES = tuple(f.name for f in fields(OverlayStyle) if f.name.endswith("_opacity"))
T = TypeVar("T")
_problem = ""  # why the last write failed, "" when it succeeded
_UNREAD = object()  # a stored value that could not even be fetched
# what the last read of each checked entry found, by key: (the value stored then, what
# not_understood says of it: the whole entry, or each value dropped inside it)
_notes: dict[str, tuple[Any, list[str]]] = {}


class _Dropped(list):
    """What not_understood says of each value dropped inside a stored record (its items),
    with where each was in the record (``paths``: the keys leading to it, in order) and
    whether the window's value replaces it there (``replace``; False: it is removed, as a
    parser left to the first one ready, which is no fixed choice)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[tuple[str, ...]] = []
        self.replace: list[bool] = []

    def add(self, text: str, *path: str, replace: bool = True) -> None:
        self.append(text)
        self.paths.append(path)
        self.replace.append(replace)


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
class ViewSettings:
    """How the editor shows things: the labels panel's parser (None: not chosen, the first
    ready one is taken) and, of the overlays, whether each shows (by layer name, one of
    :data:`OVERLAY_LAYERS`) and its opacity (0..1 by :class:`OverlayStyle` attribute, one of
    :data:`OVERLAY_OPACITIES`). An overlay or opacity left out keeps the style's own."""

    parser: str | None = None
    overlays: dict[str, bool] = field(default_factory=dict)
    opacity: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, parser: str | None, style: OverlayStyle) -> ViewSettings:
        """The settings shown now: parser ``parser`` and the overlays of ``style``."""
        return cls(parser,
                   {Layer(layer).value: bool(on) for layer, on in style.visible.items()},
                   {name: float(getattr(style, name)) for name in OVERLAY_OPACITIES})

    def apply_to(self, style: OverlayStyle) -> None:
        """Set the overlays' visibility and opacities that these settings hold in ``style``."""
        for layer, on in self.overlays.items():
            style.visible[Layer(layer)] = on
        for name, value in self.opacity.items():
            setattr(style, name, value)

    def record(self) -> dict[str, Any]:
        """The stored JSON record (no "parser" entry while none is chosen)."""
        record: dict[str, Any] = {"overlays": dict(self.overlays), "opacity": dict(self.opacity)}
        if self.parser is not None:
            record["parser"] = self.parser
        return record


@dataclass
class Remembered:
    """What one window keeps between sessions: its fill settings, whether saving keeps
    metadata, the brush radius of each tool family (image pixels), its geometry and its dock
    layout (as ``QMainWindow.saveGeometry``/``saveState`` give them), its view settings
    (overlays and parser) and what a plain mouse wheel does on the canvas."""

    fill: FillSettings
    keep_metadata: bool
    brush_sizes: dict[str, float]
    geometry: QByteArray
    state: QByteArray
    view: ViewSettings = field(default_factory=ViewSettings)
    wheel_mode: WheelMode = WheelMode.ZOOM

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
            _VIEW_KEY: self.view.record(),
            _WHEEL_KEY: WheelMode(self.wheel_mode).value,
        }


class SettingsWriter:
    """Writes one window's :class:`Remembered`: only the entries that changed since the
    window last read or wrote them, and within the fill settings, brush sizes and view
    settings only the values that changed, merged into what is stored now. Two editors sharing the settings so
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
                value = self._merged_record(key, value, settings)
            settings.setValue(key, value)
        _commit(settings)
        if not _problem:
            self._written = now

    def reset_not_understood(self) -> None:
        """Store, in place of what :func:`not_understood` names (as the load functions noted
        it), what the window uses instead, so that the note is said once: each value dropped
        inside a record becomes the window's value there (removed where the window has none,
        as an engine option left at its default), an entry not understood at all becomes the
        window's whole entry (removed when the window keeps none, as the recent pictures). An
        entry stored anew since it was read (another editor) is left as it is. A write that
        fails is noted for :func:`write_problem`, as any."""
        settings = store()
        changed = False
        for key, (value, said) in _notes.items():
            stored = _stored(key, settings)
            if not said or not (_same(value, stored) or value is stored is _UNREAD):
                continue
            ours = self._written.get(key)
            if isinstance(said, _Dropped):  # a record read: only the values dropped change
                try:
                    record = _json(stored, dict)
                except _DAMAGE:
                    record = None
                if record is None:
                    continue
                for path, replace in zip(said.paths, said.replace):
                    _put(record, path, ours if replace else None)
                settings.setValue(key, json.dumps(record))
            elif ours is None:
                settings.remove(key)
            else:
                settings.setValue(key, json.dumps(ours) if isinstance(ours, dict) else ours)
            changed = True
        if changed:
            _commit(settings)

    def _merged_record(self, key: str, record: dict, settings: QSettings) -> str:
        """The JSON to store under ``key``: what ``record`` changed since this window last
        read or wrote it, merged into the record stored there (into nothing when that is
        damaged)."""
        stored = _read(key, lambda value: _json(value, dict), {}, settings)
        return json.dumps(_merged(stored, self._written[key], record))


def _put(record: dict, path: tuple[str, ...], source: Any) -> None:
    """Set the value at ``path`` (keys, in order) in ``record`` to the one at ``path`` in
    ``source``; remove it from ``record`` where ``source`` has none."""
    *parents, last = path
    for key in parents:
        inner = record.get(key)
        if not isinstance(inner, dict):
            return
        record = inner
        source = source.get(key) if isinstance(source, dict) else None
    if isinstance(source, dict) and last in source:
        record[last] = source[last]
    else:
        record.pop(last, None)


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
    return _load(_FILL_KEY, FillSettings())


_FILL_DEFAULTS = FillSettings()
# the fill settings stored as plain values, as the Engine panel offers them (its labels)
_FILL_FIELDS = (
    OptionSpec("strategy", "Region", _FILL_DEFAULTS.strategy.value,
               choices=tuple((strategy.value, strategy.value) for strategy in Strategy)),
    OptionSpec("crop_margin", "Context", _FILL_DEFAULTS.crop_margin,
               minimum=CROP_MARGIN_RANGE[0], maximum=CROP_MARGIN_RANGE[1]),
    OptionSpec("seed", "Seed", _FILL_DEFAULTS.seed, minimum=SEED_RANGE[0],
               maximum=SEED_RANGE[1]),
    OptionSpec("device", "Device", _FILL_DEFAULTS.device,
               choices=tuple((device, device) for device in ("auto", "cpu", "cuda", "mps"))),
    OptionSpec("auto_run", "Fill after each stroke", _FILL_DEFAULTS.auto_run),
    OptionSpec("auto_apply", "Apply results automatically", _FILL_DEFAULTS.auto_apply),
)


def _fill_settings(value: Any, dropped: _Dropped) -> FillSettings | None:
    """The fill settings the stored ``value`` holds (None: no JSON record), each value
    checked; what not_understood says of each one dropped is appended to ``dropped``. The
    options of an engine not registered (a plugin not loaded) are left out unsaid: they stay
    stored for its return."""
    record = _json(value, dict)
    if record is None:
        return None
    settings = FillSettings()
    names = {cls.name for cls in registry.engine_classes()}
    engine = record.get("engine")
    if isinstance(engine, str) and engine in names:
        settings.engine = engine
    elif "engine" in record:
        dropped.add(_dropped("Engine", engine, "an engine available here",
                             _engine_title(settings.engine)), "engine")
    options = record.get("engine_options")
    if isinstance(options, dict):
        for name, values in options.items():
            if name not in names:
                continue
            title = _engine_title(name)
            if not isinstance(values, dict):
                dropped.add(f"{title} options (unreadable; the defaults are used)",
                            "engine_options", name)
            elif kept := _valid_options(registry.engine_class(name).user_options(), values,
                                        dropped, title, ("engine_options", name)):
                settings.engine_options[name] = kept
    elif "engine_options" in record:
        dropped.add("engine options (unreadable; the defaults are used)", "engine_options")
    for spec in _FILL_FIELDS:
        if spec.key not in record:
            continue
        value = record[spec.key]
        if spec.accepts(value):
            setattr(settings, spec.key, Strategy(value) if spec.key == "strategy" else value)
        else:
            dropped.add(_refused(spec.title, value, spec), spec.key)
    return settings


def _engine_title(name: str) -> str:
    return registry.engine_class(name).title or name


def _valid_options(specs: tuple[OptionSpec, ...], values: dict[str, Any],
                   dropped: _Dropped | None = None, engine: str = "",
                   at: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``values`` that are options of ``specs`` and that they accept, a decimal rounded to
    the :data:`~app.engine_options.DECIMALS` its field shows (a hand-edited 0.333 is used as
    the 0.33 shown; one rounded out of range is dropped). What not_understood says of each
    value of an option refused is appended to ``dropped`` (naming engine ``engine``'s
    option; ``at``: where ``values`` is in the stored record); an option no longer offered
    (an upgrade) is left out unsaid."""
    by_key = {spec.key: spec for spec in specs}
    kept = {}
    for key, value in values.items():
        spec = by_key.get(key)
        if spec is None:
            continue
        taken = round(value, DECIMALS) if type(value) is float and not spec.choices else value
        if spec.accepts(value) and spec.accepts(taken):
            kept[key] = taken
        elif dropped is not None:
            dropped.add(_refused(f"{engine} option {spec.title}", value, spec), *at, key)
    return kept


def _refused(title: str, value: Any, spec: OptionSpec, used: str = "") -> str:
    """:func:`_dropped` of a ``value`` that ``spec`` does not accept: ``"Seed (-5 is not a
    whole number from 0 to 2147483647; 0 is used)"``; what is used is ``used``, else the
    default as its field shows it."""
    return _dropped(title, value, accepted_values(spec), used or shown_value(spec, spec.default))


def _dropped(title: str, value: Any, accepted: str, used: str) -> str:
    """What not_understood says of the ``value`` of setting ``title`` found inside a stored
    record and dropped: ``"{title} ({value} is not {accepted}; {used} is used)"``, the value
    as the file spells it when short (else "the value stored")."""
    short = isinstance(value, (str, int, float)) or value is None
    text = json.dumps(value, ensure_ascii=False) if short else ""
    stored = text if 0 < len(text) <= 24 else "the value stored"
    return f"{title} ({stored} is not {accepted}; {used} is used)"


def load_keep_metadata() -> bool:
    """Whether saving keeps the photo's metadata; True unless the user turned it off (stored
    as ``false``; by hand also ``0``, ``no`` or ``off``: see :func:`_flag`)."""
    return _load(_KEEP_METADATA_KEY, True)


def load_wheel_mode() -> WheelMode:
    """What a plain mouse wheel does on the canvas: the stored ``"zoom"`` or ``"scroll"``
    (case and surrounding spaces ignored, as typed into the INI by hand); ``ZOOM`` when
    absent or anything else."""
    return _load(_WHEEL_KEY, WheelMode.ZOOM)


def _wheel_mode(value: Any) -> WheelMode | None:
    return WheelMode(value.strip().lower()) if isinstance(value, str) else None


# No window the editor saves is smaller than this (width, height): a stored geometry under
# it is damage (zeroed bytes). Not the window's minimum size, which depends on the panel
# layout restored after the geometry: with every panel floating the window can be 278x249
# (QA audit 41).
SMALLEST_WINDOW = (100, 75)


def load_window(minimum: tuple[int, int] = SMALLEST_WINDOW) -> tuple[QByteArray | None,
                                                                     QByteArray | None]:
    """``(geometry, dock state)`` as saved, each None when absent or damaged (noted for
    :func:`not_understood`): not bytes, or a geometry not whole or with a rectangle smaller
    than ``minimum`` (width, height) (:func:`_window_geometry`)."""
    settings = store()
    geometry = _load(_GEOMETRY_KEY, None, settings,
                     lambda value, _unused: _window_geometry(value, minimum))
    return geometry, _load(_STATE_KEY, None, settings)


def window_not_restored(geometry: bool = False, state: bool = False) -> None:
    """Note for :func:`not_understood` that the window could not restore the stored
    ``geometry`` or dock ``state`` (:func:`load_window` read bytes, but Qt refused them as
    damaged), so that it is named as any entry not understood and, at
    :meth:`SettingsWriter.reset_not_understood`, replaced by the window's own. A whole
    geometry of a version Qt reads (at most 3) that it refuses is no damage: it was saved on
    a screen of another width (a monitor no longer attached, another scale), which Qt's
    ``restoreGeometry`` refuses; it is not noted, and stays stored for that screen."""
    for key, refused in ((_GEOMETRY_KEY, geometry), (_STATE_KEY, state)):
        noted = _notes.get(key)
        if refused and noted is not None and noted[0] is not None:
            if key == _GEOMETRY_KEY and 0 <= _geometry_version(noted[0]) <= _GEOMETRY_KNOWN:
                continue
            _notes[key] = (noted[0], [_CHECKED[key][0]])


def _byte_array(value: Any) -> QByteArray | None:
    return value if isinstance(value, QByteArray) else None


# QWidget.saveGeometry's layout (big-endian): magic, major and minor version, the frame and
# the normal geometry (each left, top, right, bottom), the screen's number, the maximized and
# full-screen flags, then from version 2 the screen's width and from version 3 the geometry
_GEOMETRY_MAGIC = 0x1D9D0CB
_GEOMETRY_HEAD = struct.Struct(">IHH")
_RECT = struct.Struct(">4i")
_MOST_PIXELS = 16777215  # QWIDGETSIZE_MAX: no widget is larger, no place farther out
_GEOMETRY_KNOWN = 3  # the last major version Qt 6 reads (it refuses a later one)


def _geometry_layout(major: int) -> tuple[int, tuple[int, ...]]:
    """How many bytes a ``saveGeometry`` of version ``major`` holds at least, and where its
    rectangles start. (Qt reads a version 0 as a version 1; a version after 3 is taken as
    adding to 3's, and left to Qt, which refuses one it does not know.)"""
    if major <= 1:
        return 46, (8, 24)
    return (50, (8, 24)) if major == 2 else (66, (8, 24, 50))


def _geometry_version(value: Any) -> int:
    """The major version of stored ``saveGeometry`` bytes (-1 when not such bytes)."""
    raw = bytes(value) if isinstance(value, QByteArray) else b""
    if len(raw) < _GEOMETRY_HEAD.size:
        return -1
    magic, major, _minor = _GEOMETRY_HEAD.unpack_from(raw)
    return major if magic == _GEOMETRY_MAGIC else -1


def _window_geometry(value: Any, minimum: tuple[int, int] = SMALLEST_WINDOW
                     ) -> QByteArray | None:
    """The stored ``value`` when it is the bytes of a whole ``saveGeometry``: its magic, at
    least as many bytes as its version holds (:func:`_geometry_layout`; a later minor
    version may add some) and each rectangle at least ``minimum`` (width, height; the
    smallest window saved: none is smaller) and within :data:`_MOST_PIXELS`; else
    None. A place off every screen is taken: ``restoreGeometry`` moves the window onto one.
    (``restoreGeometry`` itself takes bytes cut short, reading zeros for what is missing, or
    rectangles zeroed, and squashes the window to its minimum size.)"""
    data = _byte_array(value)
    if data is None:
        return None
    raw = bytes(data)
    major = _geometry_version(data)
    if major < 0:
        return None
    size, rectangles = _geometry_layout(major)
    if len(raw) < size:
        return None
    least_width, least_height = max(1, minimum[0]), max(1, minimum[1])
    for at in rectangles:
        left, top, right, bottom = _RECT.unpack_from(raw, at)
        if not (all(abs(edge) <= _MOST_PIXELS for edge in (left, top, right, bottom))
                and least_width <= right - left + 1 <= _MOST_PIXELS
                and least_height <= bottom - top + 1 <= _MOST_PIXELS):
            return None
    return data


# what reading a damaged value may raise, whatever the damage: not JSON or not of the type
# expected (ValueError, TypeError), a number too large (OverflowError), JSON nested too deep
# to parse (RecursionError), a value too large to hold (MemoryError)
_DAMAGE = (ValueError, TypeError, ArithmeticError, RecursionError, MemoryError)


def _take(key: str, parse: Callable[[Any], T | None],
          settings: QSettings | None) -> tuple[Any, T | None]:
    """The value stored under ``key`` (in ``settings``, else the store; None when nothing
    is stored, :data:`_UNREAD` when reading it failed) and ``parse`` of it: None when
    nothing is stored, when ``parse`` finds nothing to take and when the value is damaged
    beyond that (reading or ``parse`` raises one of :data:`_DAMAGE`)."""
    value = _UNREAD
    try:
        value = (settings if settings is not None else store()).value(key)
        return value, None if value is None else parse(value)
    except _DAMAGE:
        return value, None


def _read(key: str, parse: Callable[[Any], T | None], default: T,
          settings: QSettings | None = None) -> T:
    """What the editor takes from the value stored under ``key`` (in ``settings``, else the
    store): ``parse`` of it (:func:`_take`), else ``default``. Every stored entry is read
    so (the checked ones through :func:`_load`): no stored value, however damaged, keeps
    the editor from starting."""
    taken = _take(key, parse, settings)[1]
    return default if taken is None else taken


def _load(key: str, default: T, settings: QSettings | None = None,
          parse: Callable[[Any, _Dropped], T | None] | None = None) -> T:
    """:func:`_read` of the checked entry ``key`` (one of :data:`_CHECKED`) with its parse
    (or ``parse``, which adds to its :class:`_Dropped` what it drops, and where), noting for
    :func:`not_understood` the value stored and what could not be taken from it: the whole
    entry (damaged, or nothing in it fits), else each value dropped inside it."""
    name, checked = _CHECKED[key]
    dropped = _Dropped()
    value, taken = _take(key, lambda stored: (parse or checked)(stored, dropped), settings)
    whole = value is not None and taken is None
    _notes[key] = (value, [name + _quoted(value)] if whole else dropped)
    return default if taken is None else taken


def _json(value: Any, kind: type) -> Any:
    """The JSON record that the stored ``value`` holds when it is a ``kind`` (dict, list),
    else None (a hand-edited INI line with commas reads as a list, not a string). Raises
    what :func:`json.loads` raises for a string that is not JSON."""
    if not isinstance(value, str):
        return None
    record = json.loads(value)
    return record if isinstance(record, kind) else None


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _flag(value: Any) -> bool | None:
    """The stored plain (not JSON) boolean ``value`` as INI files spell one: true/false,
    1/0, yes/no or on/off, case and surrounding spaces ignored (a bool as such where the
    platform's store keeps types); None for anything else."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    return True if word in _TRUE else False if word in _FALSE else None


def _same_file_key(path: str) -> str:
    return os.path.normcase(path)


def load_recent() -> list[str]:
    """The recently opened pictures, most recent first: at most ``RECENT_LIMIT`` absolute
    paths, no duplicates. Entries that are not absolute path strings are dropped; a damaged
    record gives an empty list. Files that no longer exist are kept (a drive may come back)."""
    return _load(_RECENT_KEY, [])


def _recent_paths(value: Any) -> list[str] | None:
    record = _json(value, list)
    if record is None:
        return None
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


RECENT_GONE = "no longer there"


def recent_problem(path: str) -> str:
    """Why the recent picture at ``path`` cannot be opened, as Open Recent says it:
    :data:`RECENT_GONE` when no file is there (a folder, a device or nothing), "cannot be
    read: REASON" when the system will not tell or open it (a folder the user may no longer
    enter, a name too long, a drive failing); "" when it is a readable file. Never raises; may
    block while a network drive does."""
    try:
        if not Path(path).is_file():  # answers False only for "not there" errors
            return RECENT_GONE
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"cannot be read: {reason[:1].lower()}{reason[1:]}"
    return "" if os.access(path, os.R_OK) else "cannot be read: permission denied"


def save_folder(purpose: str, folder: str | os.PathLike) -> None:
    """Remember ``folder`` as where the file dialogs for ``purpose`` last went (``"open"``,
    ``"save"``, ``"masks"``, ``"labels"``, ``"references"``)."""
    _set(_FOLDER_KEY.format(purpose), str(Path(folder).resolve()))


def load_folder(purpose: str) -> Path | None:
    """The folder remembered for ``purpose``; None when there is none, the entry is damaged
    or the folder no longer exists (the dialog then starts where it always did)."""
    return _read(_FOLDER_KEY.format(purpose), lambda value: Path(value)
                 if isinstance(value, str) and os.path.isabs(value) and os.path.isdir(value)
                 else None, None)


def load_brush_sizes(defaults: dict[str, float]) -> dict[str, float]:
    """``defaults`` (radius by tool family) with each remembered radius that belongs to one of
    its families and is a number within ``MIN_RADIUS``..``MAX_RADIUS`` (any other: damage,
    the default kept)."""
    return _load(_BRUSH_KEY, dict(defaults), parse=lambda value, dropped: _brush_sizes(
        value, defaults, dropped))


_BRUSH_SIZE = OptionSpec("radius", "Brush size", float(MIN_RADIUS), minimum=MIN_RADIUS,
                         maximum=MAX_RADIUS)


def _brush_sizes(value: Any, defaults: dict[str, float],
                 dropped: _Dropped) -> dict[str, float] | None:
    """``defaults`` with the sizes the stored ``value`` holds for its families (None: no JSON
    record); what not_understood says of a size refused (of any family) is appended to
    ``dropped``, a family not in ``defaults`` (gone in an upgrade) left out unsaid."""
    record = _json(value, dict)
    if record is None:
        return None
    sizes = dict(defaults)
    for family, value in record.items():
        if not _BRUSH_SIZE.accepts(value):
            dropped.add(_refused(f"{family} brush size", value, _BRUSH_SIZE, "its default"),
                        family)
        elif family in sizes:
            sizes[family] = float(value)
    return sizes


def load_view_settings() -> ViewSettings:
    """The stored view settings, each value checked: a parser name that is not a non-empty
    string, an overlay not in :data:`OVERLAY_LAYERS` or not a bool, an opacity not in
    :data:`OVERLAY_OPACITIES` or not a number within 0..1 is left out (the default kept). An
    opacity is rounded to a whole percent, as its slider shows it (a hand-edited 0.333 is
    drawn as 0.33), so what is drawn is what the slider says. A parser named here may no
    longer be registered: whoever shows it checks."""
    return _load(_VIEW_KEY, ViewSettings())


_STYLE_DEFAULTS = OverlayStyle()


def _view_settings(value: Any, dropped: _Dropped) -> ViewSettings | None:
    """The view settings the stored ``value`` holds (None: no JSON record); what
    not_understood says of each value refused is appended to ``dropped``, an overlay or
    opacity no longer known (an upgrade) left out unsaid."""
    record = _json(value, dict)
    if record is None:
        return None
    view = ViewSettings()
    parser = record.get("parser")
    if isinstance(parser, str) and parser:
        view.parser = parser
    elif "parser" in record:
        dropped.add(_dropped("labels parser", parser, "a parser's name",
                             "the first one ready"), "parser", replace=False)
    overlays = record.get("overlays")
    if isinstance(overlays, dict):
        for layer, on in overlays.items():
            if layer not in OVERLAY_LAYERS:
                continue
            spec = OptionSpec(layer, f"{layer} overlay shown",
                              _STYLE_DEFAULTS.visible[Layer(layer)])
            if spec.accepts(on):
                view.overlays[layer] = on
            else:
                dropped.add(_refused(spec.title, on, spec), "overlays", layer)
    opacity = record.get("opacity")
    if isinstance(opacity, dict):  # NaN fails the range check
        for name, value in opacity.items():
            if name not in OVERLAY_OPACITIES:
                continue
            spec = OptionSpec(name, f"{name.removesuffix('_opacity')} overlay opacity",
                              getattr(_STYLE_DEFAULTS, name), minimum=0.0, maximum=1.0)
            if spec.accepts(value):
                view.opacity[name] = round(value * 100) / 100
            else:
                dropped.add(_refused(spec.title, value, spec), "opacity", name)
    return view


# each stored entry that a user may damage (by hand, or a file cut short): what the note of
# :func:`not_understood` calls it, and how it is read (``parse(value, dropped)``)
_CHECKED: dict[str, tuple[str, Callable[[Any, _Dropped], Any]]] = {
    _FILL_KEY: ("fill settings", _fill_settings),
    _KEEP_METADATA_KEY: ("keep photo metadata", lambda value, _unused: _flag(value)),
    _BRUSH_KEY: ("brush sizes", lambda value, dropped: _brush_sizes(value, {}, dropped)),
    _VIEW_KEY: ("overlays and labels parser", _view_settings),
    _WHEEL_KEY: ("mouse wheel", lambda value, _unused: _wheel_mode(value)),
    _RECENT_KEY: ("recent pictures", lambda value, _unused: _recent_paths(value)),
    _GEOMETRY_KEY: ("window size and place", lambda value, _unused: _window_geometry(value)),
    _STATE_KEY: ("panel layout", lambda value, _unused: _byte_array(value)),
}


def not_understood() -> str:
    """A sentence for the status bar naming what of the stored preferences could not be
    taken and so is reset to its default: each entry that could not be read at all (a mouse
    wheel setting "sideways", a damaged record), with the value when it is a short word, and
    each value dropped inside a record, saying what is used instead ("OpenCV Telea option
    Radius (900 is not a whole number from 1 to 50; 5 is used)"); "" when all was taken.

    What the load functions noted is said as they noted it; only an entry not loaded since
    it was stored as it is now is read here. (Not named, as no damage: a remembered folder
    that is gone, a recent picture that is not an absolute path, an option, overlay or brush
    family no longer known, the options of an engine not registered.)"""
    settings = store()
    named = []
    for key in _CHECKED:
        noted = _notes.get(key)
        if noted is None or not _same(noted[0], _stored(key, settings)):
            _load(key, None, settings)
        named += _notes[key][1]
    if not named:
        return ""
    return ("Preferences not understood, reset to their defaults: " + ", ".join(named)
            + f" (in {settings.fileName()})")


def _stored(key: str, settings: QSettings) -> Any:
    """The value stored under ``key`` as it is, unparsed; :data:`_UNREAD` when even that
    fails."""
    try:
        return settings.value(key)
    except _DAMAGE:
        return _UNREAD


def _same(noted: Any, stored: Any) -> bool:
    """Whether a value noted when loaded is the one stored now (none unread is)."""
    return noted is not _UNREAD and type(noted) is type(stored) and noted == stored


def _quoted(value: Any) -> str:
    """`` ('sideways')``: a stored plain value short enough to quote (a list: an INI line with
    commas), else ""."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ", ".join(value)
    return f" ({value!r})" if isinstance(value, str) and len(value) <= 24 else ""
