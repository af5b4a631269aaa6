"""The engine contract: requests, stages, cancellation and the Engine base class.

Conventions used everywhere in `engines/` unless a name says otherwise:

* images are RGB ``uint8`` arrays of shape ``(H, W, 3)``;
* masks are ``uint8`` arrays of shape ``(H, W)`` where ``255`` marks the hole (the pixels
  to be filled) and ``0`` the known pixels; any value ``>= 128`` counts as hole;
* a sketch is a ``uint8`` ``(H, W)`` line map, ``255`` on a drawn line;
* a label map is a ``uint8`` ``(H, W)`` array of class ids (``255`` = unlabelled).

An engine is a generator: :meth:`Engine.run` yields :class:`Stage` objects, a cheap coarse
result first and the refined one last, and checks the :class:`CancelToken` between steps.
Engines import no Qt; they run on the worker thread of the GUI or in the CLI alike.
"""

from __future__ import annotations

import abc
import difflib
import enum
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

HOLE = 255
KNOWN = 0
UNLABELLED = 255
CROP_MARGIN_RANGE = (0, 2048)
"""The context margins (pixels) the editor and the CLI offer for ``Strategy.CROP``."""
MIN_CROP_CONTEXT = 16
"""A crop keeps at least this many pixels of context around a hole's bounding box (where
the picture has them), whatever ``crop_margin`` says: a margin of 0 around a rectangular hole
would leave an engine nothing to fill it from."""
SEED_RANGE = (0, 2**31 - 1)
"""The random seeds the editor and the CLI offer."""
SMALL_REGION_PATCHES = 3
SMALL_REGION_PIXELS = 32
"""A region whose smaller side is under this many patches and pixels (a tiny picture: an
icon, a sprite) may be filled with patches smaller than an engine's patch size, where that
size has no source there (:meth:`Engine.fitted_patch`, :func:`may_fit_smaller`)."""


def may_fit_smaller(shape: tuple[int, ...], side: int) -> bool:
    """Whether a region of ``shape`` (``(h, w, ...)``) is small enough for a patch-copying
    engine to use patches smaller than ``side`` there (:data:`SMALL_REGION_PATCHES`,
    :data:`SMALL_REGION_PIXELS`); a larger region keeps ``side``, whatever its sources (a
    crop widens to find them; a larger picture's refusal says what would help)."""
    return min(shape[:2]) < min(SMALL_REGION_PATCHES * side, SMALL_REGION_PIXELS)


class Cancelled(Exception):
    """Raised inside an engine when its :class:`CancelToken` was cancelled."""


# control characters (a file named with a line break) as escapes: one name, one line
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 127)} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def one_line(text: str) -> str:
    """``text`` with its control characters written as escapes (``new\\nline.png``), so
    that a file name holding a line break or a carriage return keeps a message, a progress
    bar or a listing line on one line; anything else, non-ASCII letters included, as it
    is. Escaping twice changes nothing more."""
    return text.translate(_CONTROL_ESCAPES)


class UserMessage:
    """Mixin for exceptions whose message is written for the user as one line: a line break
    in it can only come from a name it quotes, so :func:`message_line` escapes it
    (:func:`one_line`) rather than cutting the message there."""


class EngineError(UserMessage, Exception):
    """An engine cannot run; the message is meant for the user (one line, no traceback)."""


class NoSourceError(EngineError):
    """Raised by an engine that copies sources (:attr:`Engine.copies_sources`) when too
    little is left to copy from where copies may come from. ``str()`` blames the hole and
    the sampling area (the region's ``sample_include`` and ``sample_exclude``), and may
    advise widening the latter; ``transparent`` says the same of a region whose only limit
    is a picture's fully transparent pixels (which :func:`engines.region.build_region` adds
    to the excluded area), advising no sampling area, which the user never drew:
    :func:`engines.region.run_regions` raises that one where it applies."""

    def __init__(self, message: str, transparent: str) -> None:
        super().__init__(message)
        self.transparent = transparent


class InputError(UserMessage, ValueError):
    """A request's inputs are inconsistent (wrong sizes, empty mask, ...); user-facing."""


class EngineCrashed(EngineError):
    """An engine raised an exception no engine should (a bug in it, often a plugin's):
    :meth:`Engine.run` raises this instead, from it (the ``__cause__``), with one line naming
    the engine and what it raised: ``"QA raises failed: ZeroDivisionError: ..."``. Not the
    user's to fix: callers report it as a bug."""


class EngineNotReadyError(EngineError):
    """An engine (or a parser) was asked to run while its status says it cannot
    (:meth:`Engine.require_ready`): weights missing or damaged, no trained model, ...

    ``str()`` is the command-line tool's message, ``"{title}: {detail}"`` (the status
    detail names the commands that install or replace the weights); the fields let another
    front end say it in its own words:

    * ``status``: the :class:`Status` that was not ready (None when the raiser did not say);
    * ``name`` and ``title``: the engine's (or parser's) registry name and human name;
    * ``weights_ids``: the checkpoints it needs (an engine's :attr:`Engine.weights`, a
      parser's checked ones), empty when it needs none or the raiser did not say;
    * ``parser``: True when a parser (a label map, face parsing) raised it, not an engine.

    The fields are instance attributes: a pickled error keeps them.
    """

    def __init__(self, message: str = "", *, status: Status | None = None, name: str = "",
                 title: str = "", weights_ids: Iterable[str] = (), parser: bool = False
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.title = title or name
        self.weights_ids: tuple[str, ...] = tuple(weights_ids)
        self.parser = parser


def message_line(exc: BaseException) -> str:
    """``exc``'s message on one line: a :class:`UserMessage`'s whole, its control characters
    escaped (they come from a name it quotes), another's first line (a library's message
    may go on with details); its type's name when the message is empty."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    return one_line(text) if isinstance(exc, UserMessage) else text.splitlines()[0]


def exception_line(exc: BaseException) -> str:
    """One line on ``exc``: its type and the first line of its message
    (``"ZeroDivisionError: division by zero"``), the type alone when the message is empty.
    OpenCV's ``cv2.error`` is named with its module, as "error: ..." would say nothing."""
    kind = type(exc).__name__
    if kind == "error":
        kind = f"{type(exc).__module__}.{kind}"
    return f"{kind}: {message_line(exc)}" if str(exc).strip() else kind


class CancelToken:
    """Thread-safe cancellation flag shared between the caller and a running engine."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled()


class Guidance(str, enum.Enum):
    """Kinds of user guidance an engine may take besides the image and the mask."""

    SKETCH = "sketch"
    LABELS = "labels"
    SAMPLING = "sampling"  # include / exclude regions for the patch source
    EXEMPLARS = "exemplars"  # extra reference photos used as patch sources
    COLOR = "color"  # colour strokes inside the hole


class Strategy(str, enum.Enum):
    """How a large image is brought to the engine (see :mod:`engines.region`).

    * ``CROP``: process boxes around the hole with a context margin (resized if still large);
    * ``RESIZE``: process the whole image scaled down to the engine's working size;
    * ``ORIGINAL``: process the whole image at full resolution.
    """

    CROP = "crop"
    RESIZE = "resize"
    ORIGINAL = "original"


def _frozen_array(array: np.ndarray | None, dtype: type, ndim: tuple[int, ...], name: str):
    if array is None:
        return None
    array = np.asarray(array)
    if array.dtype != dtype:
        raise InputError(f"{name} must be {np.dtype(dtype).name}, got {array.dtype}")
    if array.ndim not in ndim:
        raise InputError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, "
                         f"got shape {array.shape}")
    array = np.ascontiguousarray(array)
    if array.flags.writeable:
        array = array.copy()
        array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class InpaintRequest:
    """An immutable snapshot of everything one inpainting run needs.

    Arrays are copied and made read-only on construction (unless already read-only), so the
    GUI may keep editing its document while an engine works on the snapshot.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)`` uint8, 255 = hole.
        sketch: optional ``(H, W)`` uint8, 255 = drawn structure line.
        color: optional ``(H, W, 4)`` uint8 RGBA colour strokes (alpha > 0 where painted).
        labels: optional ``(H, W)`` uint8 class ids of the *edited* layout (255 = unlabelled).
        label_set: the name of the label set whose ids ``labels`` holds (``"face19"``,
            ``"regions"``, ...); None when unknown. An engine trained on one set refuses
            another (the semantic network).
        sample_include: optional ``(H, W)`` uint8, 255 = only these pixels may be patch sources.
        sample_exclude: optional ``(H, W)`` uint8, 255 = these pixels are never patch sources.
        exemplars: extra images usable as patch sources (reference photos), each ``(h, w, 3)``
            uint8 RGB or ``(h, w, 4)`` uint8 RGBA; of an RGBA one only the fully opaque pixels
            (alpha 255) are sources (:func:`engines.guidance.reference_usable`).
        strategy: how the engine sees a large image, see :class:`Strategy`.
        crop_margin: context margin in pixels around the hole for ``Strategy.CROP``; at
            least :data:`MIN_CROP_CONTEXT` is kept.
        seed: random seed; an engine given the same request and seed gives the same result.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        options: engine-specific settings (read-only mapping).
        alpha: optional ``(H, W)`` uint8 transparency of the picture (255 = opaque), as its
            file gave it (:attr:`engines.fileio.LoadedImage.alpha`); None: opaque. Pixels at
            alpha 0 (:data:`engines.region.TRANSPARENT`) are invisible: whatever colour
            ``image`` stores there is neither a source nor boundary colour for the fill
            (:func:`engines.region.build_region`); those at 1 to 254 show their colour and
            count as any pixel. Only hole pixels change, these included.
    """

    image: np.ndarray
    mask: np.ndarray
    sketch: np.ndarray | None = None
    color: np.ndarray | None = None
    labels: np.ndarray | None = None
    label_set: str | None = None
    sample_include: np.ndarray | None = None
    sample_exclude: np.ndarray | None = None
    exemplars: tuple[np.ndarray, ...] = ()
    strategy: Strategy = Strategy.CROP
    crop_margin: int = 128
    seed: int = 0
    device: str = "auto"
    options: Mapping[str, Any] = field(default_factory=dict)
    alpha: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        image = _frozen_array(self.image, np.uint8, (3,), "image")
        if image.shape[2] != 3:
            raise InputError(f"image must be RGB (H, W, 3), got shape {image.shape}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise InputError("image is empty")
        set_(self, "image", image)
        height, width = image.shape[:2]
        for name, dims in (("mask", (2,)), ("sketch", (2,)), ("color", (3,)), ("labels", (2,)),
                           ("sample_include", (2,)), ("sample_exclude", (2,)),
                           ("alpha", (2,))):
            value = _frozen_array(getattr(self, name), np.uint8, dims, name)
            if value is not None and value.shape[:2] != (height, width):
                raise InputError(f"{name} is {value.shape[1]}x{value.shape[0]} but the image is "
                                 f"{width}x{height}; they must be the same size")
            set_(self, name, value)
        if self.color is not None and self.color.shape[2] != 4:
            raise InputError(f"color must be RGBA (H, W, 4), got shape {self.color.shape}")
        exemplars = tuple(_frozen_array(e, np.uint8, (3,), "exemplar") for e in self.exemplars)
        for e in exemplars:
            if e.shape[2] not in (3, 4):
                raise InputError(f"exemplar must be RGB (h, w, 3) or RGBA (h, w, 4), got "
                                 f"shape {e.shape}")
        set_(self, "exemplars", exemplars)
        set_(self, "strategy", Strategy(self.strategy))
        set_(self, "options", MappingProxyType(dict(self.options)))
        if self.crop_margin < 0:
            raise InputError("crop_margin must be >= 0")

    @property
    def hole(self) -> np.ndarray:
        """Boolean ``(H, W)`` hole mask."""
        return self.mask >= 128

    @property
    def hole_everywhere(self) -> bool:
        """Whether the hole covers the whole picture (read from the mask's minimum: no
        temporary of the picture's size)."""
        return bool(self.mask.size) and int(self.mask.min()) >= 128

    def evolve(self, **changes: Any) -> InpaintRequest:
        """A copy of this request with some fields replaced."""
        return replace(self, **changes)

    def guidance_given(self, unedited_labels: np.ndarray | None = None) -> set[Guidance]:
        """The kinds of guidance that can change this request's fill, counted only where a
        fill reads them (:func:`engines.guidance.guidance_given`; ``unedited_labels``: the
        label map as a parser computed it, or None)."""
        from engines.guidance import guidance_given  # local: that module imports this one

        return guidance_given(self, unedited_labels)


@dataclass(frozen=True)
class Stage:
    """One result an engine yields.

    Attributes:
        name: short human name ("coarse", "edges", "level 2/4", "refined").
        image: ``(H, W, 3)`` uint8 RGB, the full-size result for the request's image, with every
            pixel outside the mask equal to the input.
        progress: fraction of the whole run done, in ``[0, 1]``.
        final: True for the last, refined result.
    """

    name: str
    image: np.ndarray
    progress: float
    final: bool = False


@dataclass(frozen=True)
class RegionStage:
    """What :meth:`Engine.inpaint_region` yields: a result for the region it was given.

    ``image`` is ``(h, w, 3)`` uint8 RGB at the region's working size; only its hole pixels are
    used. ``progress`` is the fraction of this region's work done, in ``[0, 1]``.
    """

    name: str
    image: np.ndarray
    progress: float
    final: bool = False


@dataclass(frozen=True, eq=False)
class Region:
    """The inputs of one engine call, cut out of a request and scaled to working size.

    All arrays share the same ``(h, w)``; their conventions are those of
    :class:`InpaintRequest`. ``scale`` is working size / original size. ``exemplars`` (RGB
    or RGBA, as in the request) are scaled by the same factor, or further down when far
    larger than the picture (:func:`engines.region.reference_size`). ``device`` is the
    request's device preference.
    """

    image: np.ndarray
    mask: np.ndarray
    sketch: np.ndarray | None
    color: np.ndarray | None
    labels: np.ndarray | None
    sample_include: np.ndarray | None
    sample_exclude: np.ndarray | None
    exemplars: tuple[np.ndarray, ...]
    scale: float
    seed: int
    options: Mapping[str, Any]
    device: str = "auto"

    @property
    def hole(self) -> np.ndarray:
        return self.mask >= 128


class Readiness(str, enum.Enum):
    READY = "ready"
    NEEDS_DOWNLOAD = "needs download"
    NEEDS_TRAINING = "needs training"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Status:
    """Whether an engine can run now, and if not, a one-line reason for the user."""

    readiness: Readiness
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.readiness is Readiness.READY


@dataclass(frozen=True)
class OptionSpec:
    """An engine option offered to users: the editor builds a field from it, the CLI lists it.

    ``key`` names the option in ``Engine.options`` (and ``--option KEY=VALUE``); ``default`` is
    what the engine does when it is not set. The field is a choice when ``choices`` is given
    (``(value, label)`` pairs), a check box when ``default`` is a bool, and otherwise a number
    from ``minimum`` to ``maximum`` by ``step`` (whole numbers when ``default`` is an int).
    """

    key: str
    title: str
    default: Any
    help: str = ""
    choices: tuple[tuple[Any, str], ...] = ()
    minimum: float = 0
    maximum: float = 100
    step: float = 1

    def nearest(self, value: float) -> float:
        """The number of the option's grid (``minimum + k * step``, in range) closest to
        ``value``; halves round up."""
        value = min(max(value, self.minimum), self.maximum)
        steps = math.floor((value - self.minimum) / self.step + 0.5)
        return min(self.minimum + steps * self.step, self.maximum)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of this option's values (stored settings are checked):
        a choice, a bool, a whole number on the grid, or a decimal in range."""
        if self.choices:
            return any(value == choice and type(value) is type(choice)
                       for choice, _ in self.choices)
        if isinstance(self.default, bool):
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(self.default, int):
            return isinstance(value, int) and self.nearest(value) == value
        return self.minimum <= value <= self.maximum

    def values(self) -> str:
        """The accepted values as the CLI spells them: ``fast|normal|best``, ``true|false``,
        ``3..31 by 2``, ``0..10``."""
        if self.choices:
            return "|".join(_option_text(value) for value, _ in self.choices)
        if isinstance(self.default, bool):
            return "true|false"
        values = f"{_option_text(self.minimum)}..{_option_text(self.maximum)}"
        if self.step != 1 and isinstance(self.default, int):  # e.g. odd sizes only
            values += f" by {_option_text(self.step)}"
        return values

    def check(self, value: Any) -> Any:
        """``value`` if :meth:`accepts` it; else raise :class:`InputError` naming the option,
        the value and the accepted values."""
        if not self.accepts(value):
            whole = " (whole numbers)" if type(self.default) is int else ""
            raise InputError(f"option {self.key}={_option_text(value)} is refused: "
                             f"{self.key} takes {self.values()}{whole}")
        return value

    def parse(self, text: str) -> Any:
        """The value ``text`` spells, as :meth:`values` writes them (``--option
        KEY=TEXT``), checked by :meth:`check`; decimals for decimal options."""
        value = parse_option_text(text)
        if self.choices:
            value = next((choice for choice, _ in self.choices
                          if _option_text(choice) == text.strip().lower()), value)
        elif type(self.default) is float and type(value) is int:
            value = float(value)
        return self.check(value)

    def describe(self) -> str:
        """One line for ``--option`` help: accepted values and the default."""
        return (f"{self.key}={self.values()} (default {_option_text(self.default)})"
                + (f": {self.help}" if self.help else ""))


def parse_option_text(text: str) -> Any:
    """An option value as typed (``--option KEY=TEXT``): true/false, a whole number, a
    decimal, else the text itself."""
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


# options read by the region handling (engines.region), not by the engines themselves
REGION_OPTION_KEYS = frozenset({"working_size", "seam_feather"})
SEAM_BLEND_OPTION = OptionSpec(
    "seam_feather", "Seam blend", 6.0, "how far (px) into the hole the fill's colours are "
    "shifted to meet the picture at the hole's edge (0: off)", minimum=0.0, maximum=32.0,
    step=1.0)


def working_size_option(default: int) -> OptionSpec:
    """The ``working_size`` option of an engine that works best at ``default`` pixels."""
    return OptionSpec(
        "working_size", "Working size", default, "longest side (px) the region around the "
        "hole is scaled down to before the engine sees it: larger keeps more detail, but "
        "strays from the scale a network was trained at and takes longer",
        minimum=128, maximum=4096, step=64)


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "auto"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Engine(abc.ABC):
    """Base class of every inpainting engine.

    Subclasses set the class attributes and implement :meth:`inpaint_region`; :meth:`run`
    (a template method) owns validation, the region strategy, scaling and the paste-back, so
    every engine changes only hole pixels and is cancellable between stages.

    Class attributes:
        name: registry key, lower-case (``"telea"``, ``"lama"``).
        title: human name for menus.
        description: one sentence for the engine table.
        guidance: the kinds of :class:`Guidance` the engine uses.
        required_guidance: the kinds among :attr:`guidance` it cannot run without (the
            semantic network's label map); a run that cannot give them (a folder run)
            is refused before any work.
        working_size: longest side the engine works best at; larger regions are scaled down
            to it (``None``: any size, the region is processed at full resolution).
        min_context: the smallest crop side worth giving the engine (context around a hole).
        copies_sources: whether the fill copies pixels of the picture, so labels and the
            sampling area name where the pixels come from (PatchMatch). Such an engine sees
            the whole picture when a crop would leave those sources out; a network that only
            reads the label map inside its region keeps the crop.
        weights: ids of the checkpoints the engine needs (see :mod:`engines.weights`).
        option_specs: the engine's own options users may set, as :class:`OptionSpec`;
            :meth:`user_options` adds the ones every engine shares.
        script_options: the keys of the other options the engine reads, for scripts, tests
            and benchmarks (``weights_path``, ``backend``...). Any other key is refused
            (:meth:`check_options`), so a misspelt option is never silently ignored.
        script_option_types: for some script options, the type(s) their values must have.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    guidance: ClassVar[frozenset[Guidance]] = frozenset()
    required_guidance: ClassVar[frozenset[Guidance]] = frozenset()
    working_size: ClassVar[int | None] = None
    min_context: ClassVar[int] = 64
    copies_sources: ClassVar[bool] = False
    weights: ClassVar[tuple[str, ...]] = ()
    option_specs: ClassVar[tuple[OptionSpec, ...]] = ()
    script_options: ClassVar[frozenset[str]] = frozenset()
    script_option_types: ClassVar[Mapping[str, type | tuple[type, ...]]] = MappingProxyType({})

    def __init__(self, **options: Any) -> None:
        """Raises :class:`InputError` for an option the engine does not read, or a value
        its :class:`OptionSpec` (or :attr:`script_option_types`) does not accept."""
        self.check_options(options)
        self.check_option_values(options)
        self.options = dict(options)

    @classmethod
    def known_options(cls) -> frozenset[str]:
        """The keys of every option the engine reads: users' and scripts'."""
        return frozenset(spec.key for spec in cls.user_options()) | cls.script_options

    @classmethod
    def check_options(cls, options: Iterable[str]) -> None:
        """Raise :class:`InputError` naming the first key of ``options`` (a mapping or keys)
        this engine does not read, with the closest known key and the list of known ones."""
        known = cls.known_options()
        for key in sorted(options):
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                listed = ", ".join(sorted(known)) if known else "none"
                raise InputError(f"the {cls.name or cls.__name__} engine has no option "
                                 f"{key!r}.{hint} Its options: {listed}")

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        """Raise :class:`InputError` for the first value of ``options`` that its user
        option's :class:`OptionSpec` does not accept (:meth:`OptionSpec.check`), or of the
        wrong type for a script option in :attr:`script_option_types`."""
        specs = {spec.key: spec for spec in cls.user_options()}
        for key in sorted(options):
            value = options[key]
            if key in specs:
                specs[key].check(value)
            elif key in cls.script_option_types \
                    and not isinstance(value, cls.script_option_types[key]):
                kinds = cls.script_option_types[key]
                kinds = kinds if isinstance(kinds, tuple) else (kinds,)
                wanted = ("a number" if float in kinds else "true or false" if bool in kinds
                          else "a whole number" if int in kinds else "text")
                raise InputError(f"option {key}={_option_text(value)} is refused: {key} "
                                 f"takes {wanted}")

    @classmethod
    def parse_options(cls, texts: Mapping[str, str]) -> dict[str, Any]:
        """Options as typed (``--option KEY=TEXT``) turned into values: keys checked
        (:meth:`check_options`), user options parsed and checked by their
        :class:`OptionSpec`, the others read by :func:`parse_option_text` and checked
        (:meth:`check_option_values`). Raises :class:`InputError` naming a bad one."""
        cls.check_options(texts)
        specs = {spec.key: spec for spec in cls.user_options()}
        options = {key: specs[key].parse(text) if key in specs else parse_option_text(text)
                   for key, text in texts.items()}
        cls.check_option_values(options)
        return options

    @classmethod
    def user_options(cls) -> tuple[OptionSpec, ...]:
        """Every option users may set: :attr:`option_specs`, then, for engines with a
        :attr:`working_size`, those of the region handling (:mod:`engines.region`): the
        working size and the seam blend. Engines without one see the region at full
        resolution and keep its known pixels (classical ones), so neither applies."""
        if not cls.working_size:
            return cls.option_specs
        return (*cls.option_specs, working_size_option(cls.working_size), SEAM_BLEND_OPTION)

    @classmethod
    def option_default(cls, key: str) -> Any:
        """The default of the user option ``key`` (one of :meth:`user_options`)."""
        return next(spec.default for spec in cls.user_options() if spec.key == key)

    def engine_option(self, region: Region, key: str, default: Any = None) -> Any:
        """Option ``key`` for a run on ``region``: this engine's, else the request's, else
        ``default`` (for a user option, when not given: its spec's default)."""
        if default is None:
            default = self.option_default(key)
        return self.options.get(key, region.options.get(key, default))

    def region_option(self, request: InpaintRequest, key: str) -> Any:
        """An option of the region handling (one of :data:`REGION_OPTION_KEYS`): the
        request's, else this engine's, else the default (``None`` for the working size of an
        engine without one; a seam blend of 6 px)."""
        default = self.working_size if key == "working_size" else SEAM_BLEND_OPTION.default
        return request.options.get(key, self.options.get(key, default))

    def status(self) -> Status:
        """Whether the engine can run now (weights present, trained, ...)."""
        return Status(Readiness.READY)

    def release(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
        """Free memory held by loaded models. Called when another engine takes over."""

    def fitted_patch(self, region: Region, cancel: CancelToken | None = None) -> int | None:
        """The side of the square patches this engine copies in ``region``: its
        ``patch_size`` option, or a smaller side where the region is too small for that one;
        None for an engine that copies no patches or does not say (the default).
        :func:`engines.region.fitted_patches` asks it, for a note."""
        return None

    @abc.abstractmethod
    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        """Fill ``region.hole`` in ``region.image``; yield a coarse result first, final last.

        Implementations check ``cancel`` between steps; each yielded image has the region's
        shape. Pixels outside the hole may be anything: the caller pastes back hole pixels only.
        """

    def run(self, request: InpaintRequest, cancel: CancelToken | None = None) -> Iterator[Stage]:
        """Run on a whole request; yields full-size :class:`Stage` results, the last final.

        Raises :class:`InputError` for an empty mask or a request option the engine does not
        read (the region options, :data:`REGION_OPTION_KEYS`, are taken by every engine) or
        whose value it refuses (as its own options' values are checked),
        :class:`Cancelled` when cancelled, :class:`EngineError` when the engine cannot run
        (or :meth:`check_label_set` refuses the label map's set).
        Any other exception (:func:`engines.errors.is_engine_bug`: not one of those, not a
        file error naming its file, not a lack of memory, all raised as they are) is a bug
        of the engine: raised as :class:`EngineCrashed` naming the engine, from it.
        """
        from engines.region import run_regions  # local: region imports this module

        try:
            self.check_options(request.options.keys() - REGION_OPTION_KEYS)
            self.check_option_values(request.options)
            _check_region_options(request.options, self.user_options())
            self.require_ready()
            if request.labels is not None:
                self.check_label_set(request.label_set)
            yield from run_regions(self, request, cancel or CancelToken())
        except Exception as exc:  # GeneratorExit and Ctrl+C are no Exception: they pass
            from engines.errors import is_engine_bug  # local: it imports this module

            if not is_engine_bug(exc):
                raise
            raise EngineCrashed(f"{self.title or self.name} failed: {exception_line(exc)}") \
                from exc

    def check_label_set(self, label_set: str | None) -> None:  # noqa: B027 (a hook)
        """Raise :class:`InputError` when a label map of the set named ``label_set`` (None:
        unknown) means nothing to this engine (one trained on another set); :meth:`run` calls
        it for a request with a label map. Every set is taken here."""

    def require_ready(self) -> None:
        """Raise :class:`EngineNotReadyError` unless :meth:`status` says the engine can run
        now: its message the engine's title and why (``"{title}: {detail}"``, the command
        line's words), its fields the status, the engine's name and title and its
        :attr:`weights`."""
        status = self.status()
        if not status.ready:
            title = self.title or self.name
            raise EngineNotReadyError(f"{title}: {status.detail or status.readiness.value}",
                                      status=status, name=self.name, title=title,
                                      weights_ids=self.weights)


def _check_region_options(options: Mapping[str, Any], offered: Iterable[OptionSpec]) -> None:
    """Check the values of the region options (:data:`REGION_OPTION_KEYS`) in ``options``
    that the engine does not offer as user options (``offered``; engines without a working
    size): the seam blend as :data:`SEAM_BLEND_OPTION`, a working size as a whole number of
    pixels (or None). Raises :class:`InputError` naming the option."""
    keys = {spec.key for spec in offered}
    if "seam_feather" in options and "seam_feather" not in keys:
        SEAM_BLEND_OPTION.check(options["seam_feather"])
    size = options.get("working_size")
    if "working_size" not in keys and size is not None \
            and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise InputError(f"option working_size={_option_text(size)} is refused: working_size "
                         "takes a whole number of pixels")
