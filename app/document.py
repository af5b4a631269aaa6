"""The open image and its layers, with undo/redo as compressed tile diffs. Qt-free.

Layers (all the image's size):

* ``image``: ``(H, W, 3)`` uint8 RGB, the picture being edited;
* ``mask``: ``(H, W)`` uint8, 255 = hole to fill, 0 = keep (values between: feathered edge);
* ``sketch``: ``(H, W)`` uint8, 255 = structure line drawn by the user;
* ``color``: ``(H, W, 4)`` uint8 RGBA colour strokes (alpha > 0 where painted);
* ``labels``: ``(H, W)`` uint8 class ids (255 = unlabelled), see :attr:`Document.label_set`
  and :meth:`Document.replace_label_map`;
* ``sampling``: ``(H, W)`` uint8, :data:`SAMPLE_INCLUDE` / :data:`SAMPLE_EXCLUDE` / 0.

Besides the layers, a document holds :class:`Reference` photos: extra patch sources that
requests carry as ``exemplars`` (any size; not part of the undo history).

Undo works per *step*: one brush drag, one mask operation, one applied result. While a step
is open, each 256x256 tile is backed up the first time it is touched; when the step closes,
the changed tiles are stored as zlib-compressed (old, new) pairs of their pixels in the
bounding box, within the tile, of the pixels that differ (:class:`_TileDiff`; outside it the
two sides are equal, so the layer holds the rest of either). Memory therefore grows with what
changed, not with the image nor with the tiles it touches (a small fill on a noisy photo
stores the hole's pixels, not four tiles of noise twice), and the history is trimmed to
:attr:`Document.undo_budget`.

Closing a step costs the GUI thread one comparison per touched tile: one background job per
step copies each tile's new pixels from the layer itself (all of them first, a quick pass),
unless a later step touches the tile first and hands over the copy it backs up anyway (copy
on write), then compares each tile's two sides for their box and compresses the old sides'
pixels in it and the new ones'. So every write to a layer must follow :meth:`Document.touch`
in an open step, as edits do.

The step made, undone or redone last keeps at hand, uncompressed, the side that the layers do not
hold (:meth:`Document._keep`): the old side after it was made or redone, the new one after it was
undone, until another step begins. The side the layers hold is kept compressed only, like every
other step's, so the last step costs one side of uncompressed memory, not two. Undo and redo never
wait for a job, and undoing or redoing that step writes the side kept without decompressing: the
side overwritten is still held by the job (an undo while the job runs copies nothing), or its pixels
in the box are copied into a spare array of the tile's shape first, and the array of the side
written, which no one needs any more, becomes the next tile's spare (:meth:`Document._apply`), so
that going back and forth over it allocates nothing. A side held uncompressed is either the full
tile (a backup, the job's copy of the new pixels), written whole, or its pixels in the box
(decompressed, or copied out of the layer), written over the box alone. Older steps are decompressed
as they are undone or redone, but after an undo (redo) a background thread decompresses, tile by
tile, the side that the next undo (redo) writes (:meth:`Document._unpack_ahead`; sides over
:data:`AHEAD_MIN_BYTES`, at most :data:`AHEAD_MAX_BYTES` of one; dropped at the next undo, redo or
step): stepping back (forward) through the history writes tiles at hand, as for the last step, and
an undo (redo) that comes before the thread is done takes the tiles done and decompresses the rest.
So besides :attr:`Document.history_bytes` the history holds uncompressed one side of the step moved
last and at most that much of another step's side. A side of more than :data:`PARALLEL_BYTES` is
written (decompressed, copied) by several threads at once (:meth:`Document._apply`); undo and redo
still return once every tile is written.

A fill's request holds the layers without a copy (:meth:`Document.snapshot`; copying a
large picture into fresh memory held the GUI thread for a third of a second or more): it gets
a read-only view of each layer it takes, and a background thread copies the layer at once;
the document edits that copy from its next write to the layer on (:meth:`Document._own`,
waiting for the copy if it is not done yet) and never writes to the shared array again. So
code that writes to a layer fetches its array after :meth:`Document.touch`, never before: an
array fetched earlier may be the one a request holds. Once every request that shared a layer
is gone (no one else holds the array), the document drops the copy and keeps the array
(:meth:`Document._unshare`): the layer is held once again, not twice until its next write.
The sampling layer is shared the same way, and its include and exclude areas are made from
it where the fill runs (:meth:`Snapshot.complete`), not on the GUI thread.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import inspect
import itertools
import math
import os
import sys
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from app import maskops
from app.maskops import box_at_least as _box_at_least
from app.maskops import draw_segment, segment_box
from engines.base import UNLABELLED, InpaintRequest, InputError
from engines.fileio import NO_METADATA, ImageMetadata, ImageShape
from engines.guidance import (
    GUIDANCE_REACH,
    reach_box,
    reference_patch_size,
    reference_problem,
    within_reach,
)
from engines.region import Box

LABEL_HOLE_MARGIN = 8  # px a label edit's changed pixels grow by to make the hole
TILE = 256
# a prepared result (Snapshot.prepare_result) that changes more pixels of a layer than this
# brings that layer whole, written on the worker, for applying to take instead of writing
ADOPT_PIXELS = 1 << 22
SAMPLE_INCLUDE = 1
SAMPLE_EXCLUDE = 2
# apply_result's default ``used_sketch`` and ``used_color``: clear the sketch lines and colour
# strokes drawn for the hole now
DRAWN_NOW = object()
# the guidance the user draws that no file keeps unless exported (Document.unkept_guidance),
# in the order questions name it: the sketch, the colour strokes, the two parts of the
# sampling layer and the label edits (the label layer where it differs from the map computed
# or imported)
GUIDANCE = ("sketch", "color", "include", "exclude", "labels")


def label_hole_margin(height: int, width: int, margin: int = LABEL_HOLE_MARGIN) -> int:
    """How far a label edit's hole grows (:attr:`Document.label_hole_margin`) on a picture of
    ``height`` x ``width``: ``margin``, at most ``(min(height, width) - 1) // 2``, so that on
    a tiny picture (1x5, 4x4: 0 and 1 pixel) an edit of a few pixels leaves the pixels around
    it as sources instead of growing over the whole picture (which no engine can fill); the
    full ``margin`` on every picture at least ``2 * margin + 1`` pixels on its short side."""
    return max(0, min(margin, (min(height, width) - 1) // 2))


class Layer(str, enum.Enum):
    IMAGE = "image"
    MASK = "mask"
    SKETCH = "sketch"
    COLOR = "color"
    LABELS = "labels"
    SAMPLING = "sampling"


_CHANNELS = {Layer.IMAGE: 3, Layer.COLOR: 4}
_FILL = {Layer.LABELS: UNLABELLED}


# one thread: jobs run in the order they were submitted, so the latest one ends last
_COMPRESSOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="undo-compress")
# copies layers that requests share for the document's next write to them (Document._share)
_LAYER_COPIER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="layer-copy")
# write, beside the GUI thread, the tiles of a large step being undone or redone (zlib and
# numpy's copies run without the GIL)
_UNPACK_THREADS = min(8, os.cpu_count() or 1)
_UNPACKER = ThreadPoolExecutor(max_workers=_UNPACK_THREADS, thread_name_prefix="undo-unpack")


def _yield_the_cpu() -> None:
    """Run the calling thread at the lowest priority where the OS allows one thread's
    (Linux): decompressing ahead then takes no CPU from the display update of the undo or
    redo that started it (a 20 MP fill's showed 50-100 ms later on two busy cores)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


# decompresses the side the next undo or redo writes, ahead of it (see
# Document._unpack_ahead): one job at a time, in the order submitted
_AHEAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="undo-ahead",
                            initializer=_yield_the_cpu)
# a step whose side to write has more bytes than this is written by several threads at once
# (on one, a 20 MP fill took 300 ms of decompression and copies)
PARALLEL_BYTES = 1 << 22
# the side the next undo or redo writes is decompressed ahead when it has more bytes than the
# first (a smaller one takes a few ms when needed), at most the second of it (memory)
AHEAD_MIN_BYTES = 1 << 22
AHEAD_MAX_BYTES = 1 << 28

TileKey = tuple[Layer, int, int]  # layer, tile row, tile column


@dataclass(eq=False)
class _TileDiff:
    """One tile's pixels before and after a step. The step's background job sets ``box``,
    the bounding box within the tile of the pixels that differ between the two sides (empty
    slices where none do: outside it the sides are equal), then compresses each side's pixels
    in ``box`` alone (``old``, ``new``: zlib of ``side[box]`` as a contiguous array; ``None``
    until the job has; ``box`` is set before either). A side may also be held uncompressed
    (``raw_old``, ``raw_new``) in one of two shapes: the full tile (``shape``: ``raw_old``
    the backup; ``raw_new`` once the job has a copy of the new pixels), held by the job until
    it has compressed that side and by the document for the side of its last step that the
    layers do not hold (:meth:`Document._keep`); or the box's shape (:attr:`box_shape`: a
    side decompressed, or copied out of the layer by undo or redo), which only a compressed
    side has. A raw array is never written to, except one that is ``owned`` (made for this
    side alone, not a backup that others share) once its side is compressed and written to
    the layer: no one reads it then, and undo and redo reuse it (:meth:`spare`). Read the
    pixels through :meth:`pixels`, which does not wait for the job where a side is at hand,
    or :meth:`data`, which does."""

    layer: Layer
    row: int  # tile index
    col: int
    shape: tuple[int, ...]  # the full tile's
    old: bytes | None = None
    new: bytes | None = None
    job: Future | None = None
    raw_old: np.ndarray | None = field(default=None, repr=False)
    raw_new: np.ndarray | None = field(default=None, repr=False)
    owned: set[bool] = field(default_factory=set, repr=False)  # sides whose raw array is owned
    box: tuple[slice, slice] | None = None  # (rows, columns) within the tile; see above

    def data(self, old: bool) -> bytes:
        if self.job is not None:
            self.job.result()  # an error of the job surfaces here
            self.job = None
        return self.old if old else self.new

    def packed(self, old: bool) -> bytes | None:
        """The ``old`` (else new) side's pixels in :attr:`box` compressed, or None while the
        job has yet to."""
        return self.old if old else self.new

    def raw(self, old: bool) -> np.ndarray | None:
        """The ``old`` (else new) side uncompressed, if held: the full tile's pixels, or
        those in :attr:`box` (shaped :attr:`box_shape`)."""
        return self.raw_old if old else self.raw_new

    @property
    def box_shape(self) -> tuple[int, ...]:
        """The shape of the pixels in :attr:`box` (set once the job has compared the
        sides)."""
        rows, cols = self.box
        return (rows.stop - rows.start, cols.stop - cols.start, *self.shape[2:])

    def hold(self, old: bool, pixels: np.ndarray | None, owned: bool = False) -> None:
        """Hold ``pixels`` as the uncompressed ``old`` (else new) side (None: drop it): the
        full tile, or the pixels in :attr:`box` of a compressed side; ``owned``: an array
        made for this side alone."""
        if old:
            self.raw_old = pixels
        else:
            self.raw_new = pixels
        if owned and pixels is not None:
            self.owned.add(old)
        else:
            self.owned.discard(old)

    def spare(self, old: bool) -> np.ndarray | None:
        """The raw ``old`` (else new) side if it may be reused once written to the layer:
        owned, and compressed, so that no one reads it any more."""
        return self.raw(old) if old in self.owned and self.packed(old) is not None else None

    def pixels(self, old: bool) -> np.ndarray:
        """The tile's pixels before (``old``) or after the step (read-only by convention):
        the raw side as held, full or box-shaped (see :meth:`raw`), else the pixels in
        :attr:`box` decompressed. The job sets a compressed side (after its box) before it
        drops the raw one, so reading the raw side first never finds neither."""
        raw = self.raw(old)
        if raw is not None:
            return raw
        packed = self.packed(old)
        if packed is None:  # the new side while the layer still holds it (no redo asks)
            packed = self.data(old)
        return self.unpacked(packed)

    def unpacked(self, packed: bytes) -> np.ndarray:
        """A side's pixels in :attr:`box` from ``packed``, its compressed form (read-only)."""
        return np.frombuffer(zlib.decompress(packed), np.uint8).reshape(self.box_shape)

    def size(self, old: bool) -> int:
        """Bytes an undo or redo writes of the ``old`` (else new) side: its raw array's if
        held, else its box's (the full tile's while the job has yet to compare the sides)."""
        raw = self.raw(old)
        if raw is not None:
            return raw.nbytes
        return math.prod(self.shape if self.box is None else self.box_shape)

    @property
    def nbytes(self) -> int:
        """Compressed size (the full tile's raw size for a side not compressed yet)."""
        raw = math.prod(self.shape)
        return sum(raw if value is None else len(value) for value in (self.old, self.new))


def _changed_box(old: np.ndarray, new: np.ndarray) -> tuple[slice, slice]:
    """The bounding box (rows, columns) of the pixels where two uint8 tiles of one shape (1
    to 4 channels, contiguous) differ in any channel; empty slices where none do."""
    height = old.shape[0]
    channels = old.shape[2] if old.ndim == 3 else 1
    # each row's channels side by side: the bounding box of the non-zero bytes, in bytes
    left, top, width, rows = cv2.boundingRect(
        cv2.absdiff(old.reshape(height, -1), new.reshape(height, -1)))
    if width == 0 or rows == 0:
        return slice(0, 0), slice(0, 0)
    return (slice(top, top + rows),
            slice(left // channels, -(-(left + width) // channels)))


@dataclass(eq=False)
class _Capture:
    """A changed tile waiting for its step's compression job: its diff (which holds the
    backup as ``raw_old``) and the layer's pixels (``live``, a view) that hold its content
    after the step until the job copies them, or an edit, undo or redo touches the tile
    first and hands over its copy (``after``); ``live`` is let go then, so that it does not
    hold the layer's array (see :meth:`Document._unshare`)."""

    key: TileKey
    diff: _TileDiff
    live: np.ndarray | None
    after: np.ndarray | None = None

    def take(self, pixels: np.ndarray | None = None) -> None:
        """Hold the tile's pixels after the step as ``after`` and the diff's new side:
        ``pixels``, a backup taken before anything wrote to the tile (shared, not owned), or
        None for a copy of ``live`` taken now (owned). Call under the capture lock."""
        self.after = self.live.copy() if pixels is None else pixels
        self.live = None
        self.diff.hold(False, self.after, owned=pixels is None)


def _same(old: np.ndarray, new: np.ndarray) -> bool:
    """Whether two uint8 tiles of the same shape (1 to 4 channels) hold the same values
    (OpenCV: no temporary, about twice the speed of ``np.array_equal``)."""
    return cv2.norm(old, new, cv2.NORM_INF) == 0


@dataclass(frozen=True, eq=False)
class LabelMap:
    """Which label list the label layer's ids name (``label_set``, None: none) and the map
    as a parser computed it (``computed``, read-only ``(H, W)`` uint8, or None)."""

    label_set: str | None
    computed: np.ndarray | None

    def same_as(self, other: LabelMap) -> bool:
        if self.label_set != other.label_set:
            return False
        if self.computed is None or other.computed is None:
            return self.computed is other.computed
        return np.array_equal(self.computed, other.computed)


@dataclass
class Step:
    """One undoable edit: a name for the menu and the tiles it changed."""

    label: str
    diffs: list[_TileDiff] = field(default_factory=list)
    derive_hole: bool = True  # label edits in this step add their area to the mask
    serial: int = 0  # unique within its document once committed: names the state it leads to
    label_maps: tuple[LabelMap, LabelMap] | None = None  # (before, after) a new map
    # the state (Document.layer_state) of each layer it changes before it, for undo
    layer_states: dict[Layer, int] = field(default_factory=dict)
    _nbytes: int | None = field(default=None, repr=False)  # once every tile is compressed

    @property
    def nbytes(self) -> int:
        """Size in the history (tiles still being compressed count raw)."""
        if self._nbytes is not None:
            return self._nbytes
        extra = 0
        if self.label_maps is not None and self.label_maps[1].computed is not None:
            extra = self.label_maps[1].computed.nbytes
        size = sum(d.nbytes for d in self.diffs) + extra
        if all(d.old is not None and d.new is not None for d in self.diffs):
            self._nbytes = size
        return size

    @property
    def layers(self) -> frozenset[Layer]:
        """The layers it changes (the label layer also for a new label list or computed
        map)."""
        changed = {diff.layer for diff in self.diffs}
        if self.label_maps is not None:
            changed.add(Layer.LABELS)
        return frozenset(changed)


ChangeListener = Callable[[Layer, Box], None]


@dataclass(frozen=True)
class Reference:
    """A reference photo: ``pixels`` read-only uint8 as requests carry it as an exemplar,
    ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA when partly transparent (only its fully opaque
    pixels are copied); ``name`` for display; ``path`` the resolved file it was read from,
    if any (a file is added once)."""

    name: str
    pixels: np.ndarray
    path: Path | None = None

    @property
    def rgb(self) -> np.ndarray:
        """The ``(h, w, 3)`` RGB samples (a view)."""
        return self.pixels[..., :3]


class Document:
    """An image being edited, its layers and its history.

    Args:
        image: ``(H, W, 3)`` uint8 RGB; copied.
        alpha: optional ``(H, W)`` uint8 transparency of the original file, kept for saving.
        path: where the image came from, if anywhere.
        notes: remarks made when loading (e.g. "16-bit image, edited at 8 bits per channel...").
        metadata: the original file's colour profile, EXIF, XMP and IPTC, kept for saving.
        deep_original: the original file's ``(H, W, 3|4)`` samples when it was deeper than 8
            bits (uint16, or float for floating-point TIFFs), kept (read-only) so that PNG and
            TIFF are saved at that depth.
        grey: whether the original file was grey (:attr:`engines.fileio.LoadedImage.grey`),
            kept so that the picture is saved grey again while its pixels still are.
        shape: the picture's ``(H, W)`` as its file gave it
            (:attr:`engines.fileio.LoadedImage.shape`), kept as :attr:`shape`; None: the
            image's own size, stored as shown.

    Attributes:
        shape: :class:`~engines.fileio.ImageShape` ``(H, W)`` as shown, remembering the size
            the file stores when its EXIF orientation turned it: layer files are checked
            against it, so that one of the stored size is refused saying so
            (:func:`engines.fileio.other_size_reason`).
    """

    undo_budget = 512 * 1024 * 1024  # bytes of compressed history kept

    def __init__(self, image: np.ndarray, alpha: np.ndarray | None = None,
                 path: str | None = None, notes: tuple[str, ...] = (),
                 metadata: ImageMetadata = NO_METADATA,
                 deep_original: np.ndarray | None = None, grey: bool = False,
                 shape: tuple[int, int] | None = None) -> None:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        if shape is not None and tuple(shape) != image.shape[:2]:
            raise InputError(f"the shape {tuple(shape)} does not match the image {image.shape}")
        self.shape = shape if isinstance(shape, ImageShape) else ImageShape(*image.shape[:2])
        self.path = path
        self.notes = tuple(notes)
        self.metadata = metadata
        self.grey = grey
        if deep_original is not None:
            if deep_original.shape[:2] != image.shape[:2]:
                raise InputError(f"the deep original {deep_original.shape} does not match "
                                 f"the image {image.shape}")
            deep_original = deep_original.view()
            deep_original.flags.writeable = False
        self.deep_original = deep_original
        # pixels results were written to, for saving a floating-point original (see
        # edited_pixels); not tracked for other pictures, where nothing reads it
        self._edited = (np.zeros(image.shape[:2], bool) if deep_original is not None
                        and deep_original.dtype.kind == "f" else None)
        self.alpha = None if alpha is None else np.ascontiguousarray(alpha, np.uint8)
        # name of the label list the label layer uses, and the map as a parser computed it;
        # both change with replace_label_map, and undo with it
        self.label_set: str | None = None
        self.computed_labels: np.ndarray | None = None
        # px: labels a step changes, grown by this, become the hole
        self.label_hole_margin = label_hole_margin(*image.shape[:2])
        self.derive_hole_from_labels = True
        self.preview: np.ndarray | None = None  # last engine result, not yet applied
        self.preview_name = ""
        self._layers: dict[Layer, np.ndarray] = {Layer.IMAGE: np.array(image, np.uint8)}
        # layers whose (read-only) array requests hold, and the copy being made of each for
        # the document's next write to it (see _share and _own)
        self._shared: dict[Layer, Future] = {}
        # orders sharing a layer against its release when the last request holding it goes,
        # which may happen on any thread (reentrant: a view collected while it is held)
        self._share_lock = threading.RLock()
        # the picture as opened, for "show the original": no second copy of it is made here
        # (a large one costs its memory and a moment); each tile is kept the first time a
        # step touches it (see original_tiles)
        self._original_tiles: dict[tuple[int, int], np.ndarray] = {}
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._open: Step | None = None
        self._backup: dict[TileKey, np.ndarray] = {}
        # tiles of the open step known to differ from their backup (written from a
        # PreparedResult): end_step does not compare them
        self._differing: set[TileKey] = set()
        # tiles of closed steps whose new pixels the compression job has yet to copy from
        # the layer (see the module doc); the lock orders that copy against a touch
        self._captures: dict[TileKey, _Capture] = {}
        self._capture_lock = threading.Lock()
        self._last_job: Future | None = None
        # the step made, undone or redone last, and whether its old side (else its new one)
        # is the one kept uncompressed (see _keep); read by the background threads under the
        # capture lock
        self._kept: Step | None = None
        self._kept_old = True
        # the step whose old side (else new one) the next undo (redo) writes, decompressed
        # ahead on a background thread (see _unpack_ahead); the job stops once the serial
        # changes; read by the background threads under the capture lock
        self._ahead: tuple[Step, bool] | None = None
        self._ahead_serial = 0
        self._ahead_job: Future | None = None
        self._spares: dict[tuple[int, ...], np.ndarray] = {}  # see _apply
        self._work: np.ndarray | None = None  # see _work_area
        self._listeners: list[Callable[[], ChangeListener | None]] = []
        self._after_step: list[Callable[[], object]] = []
        # The state the document is in is named by the serial of the last step applied (the
        # top of the undo list), or by _base_state when none is: the state when loaded, or
        # after the oldest steps were dropped from the history. Two histories never share a
        # name, so "modified" cannot be fooled by undoing and editing anew.
        self._serials = itertools.count(1)
        self._base_state = 0
        self._saved_state: int | None = 0
        # the same per layer (layer_state): the serial of the step applied last that changed
        # it, 0 as loaded; the picture's as saved (picture_modified), and each guidance
        # layer's as last kept in a file, with what the file holds (mark_kept, _Kept)
        self._layer_states: dict[Layer, int] = dict.fromkeys(Layer, 0)
        self._saved_picture = 0
        self._guidance_kept: dict[str, _Kept] = dict.fromkeys(GUIDANCE, _Kept(0, 0, b""))
        self._image_version = 0
        self._layer_versions: dict[Layer, int] = dict.fromkeys(Layer, 0)  # see layer_version
        self.references: tuple[Reference, ...] = ()

    # ------------------------------------------------------------- references
    def add_reference(self, pixels: np.ndarray, name: str, path: Path | None = None,
                      patch_size: int | None = None) -> Reference:
        """Keep ``pixels`` (``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8, as
        :func:`engines.guidance.reference_pixels` makes them) as a reference photo read from
        ``path``; returns it. A copy is kept unless ``pixels`` is already read-only.

        Raises :class:`InputError` for another shape or dtype, or a photo without room for
        one ``patch_size`` patch of fully opaque pixels (None: Guided PatchMatch's default;
        :func:`engines.guidance.reference_problem`, the rule the CLI applies too).
        """
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            raise InputError(f"{name}: a reference photo must be RGB, 8 bits per channel")
        problem = reference_problem(pixels, patch_size or reference_patch_size("patchmatch", {}))
        if problem is not None:
            raise InputError(f"{name} {problem}")
        if pixels.flags.writeable:
            pixels = np.array(pixels, np.uint8)
            pixels.flags.writeable = False
        reference = Reference(name, pixels, path)
        self.references = (*self.references, reference)
        return reference

    def remove_references(self, indices) -> None:
        """Forget the reference photos at ``indices`` (positions in :attr:`references`)."""
        drop = set(indices)
        self.references = tuple(r for k, r in enumerate(self.references) if k not in drop)

    # ----------------------------------------------------------------- layers
    @property
    def height(self) -> int:
        return self._layers[Layer.IMAGE].shape[0]

    @property
    def width(self) -> int:
        return self._layers[Layer.IMAGE].shape[1]

    @property
    def image(self) -> np.ndarray:
        return self._layers[Layer.IMAGE]

    def original_tiles(self, box: Box) -> list[tuple[Box, np.ndarray]]:
        """``(area, pixels)`` of each tile meeting ``box`` that steps have changed: its
        area and its ``(h, w, 3)`` uint8 RGB pixels as opened (read-only by convention).
        Elsewhere the picture as opened is the picture now."""
        tiles = []
        for (row, col), pixels in list(self._original_tiles.items()):
            area = self._tile_box(row, col)
            if area.overlaps(box):
                tiles.append((area, pixels))
        return tiles

    @property
    def mask(self) -> np.ndarray:
        return self.layer(Layer.MASK)

    def has_layer(self, layer: Layer) -> bool:
        """Whether ``layer`` has been created (layers are allocated on first use)."""
        return Layer(layer) in self._layers

    def has_label_map(self) -> bool:
        """Whether the label layer holds a labelled pixel (a map to repaint or export).
        Unlabelled (:data:`~engines.base.UNLABELLED`) is the largest id, so the smallest
        says it, without a temporary of the picture's size."""
        array = self._layers.get(Layer.LABELS)
        return array is not None and int(array.min()) != UNLABELLED

    def layer(self, layer: Layer | str) -> np.ndarray:
        """The array of ``layer``, created blank on first use. Edit it only inside a step,
        fetched after :meth:`touch` (before it, it may be an array a request shares: see
        :meth:`_own`)."""
        layer = Layer(layer)
        array = self._layers.get(layer)
        if array is None:
            channels = _CHANNELS.get(layer)
            shape = (self.height, self.width) if channels is None else (
                self.height, self.width, channels)
            array = np.full(shape, _FILL.get(layer, 0), np.uint8)
            self._layers[layer] = array
        return array

    def _share(self, layer: Layer) -> np.ndarray:
        """A read-only view of the array of ``layer`` (created blank on first use) for a
        request to hold without a copy. The document does not write to that array while
        anyone else holds it: a background thread copies it, and the copy takes its place
        before the next write (:meth:`_own`), unless the view and every array made from it
        are gone by then, and no other view of it is left (:meth:`_unshare`). A layer still
        shared, not written since, is handed out again."""
        with self._share_lock:
            array = self.layer(layer)
            copying = self._shared.get(layer)
            if copying is None:
                copying = _LAYER_COPIER.submit(_copy_out, [array])
                self._shared[layer] = copying
            held = [array]
            lease = _Lease(array, held)
            # the array itself stays writable, for OpenCV's in/out readers
            view = np.asarray(lease)
            view.flags.writeable = False
            ended = weakref.finalize(lease, _lease_ended, weakref.ref(self), layer, copying,
                                     held)
            ended.atexit = False
        return view

    def _unshare(self, layer: Layer, copying: Future) -> None:
        """The views of ``layer`` that one :meth:`_share` handed out are gone, and
        ``copying``, the copy made for the next write, is done (any thread): if no one else
        holds the shared array any more, it is the document's own again and the copy is
        dropped, so the layer is held once, not twice, until its next write."""
        with self._share_lock:
            if self._shared.get(layer) is not copying:
                return  # written since (the copy took its place), or made its own already
            # the dict's reference and getrefcount's argument: any other is another lease
            # (a request still running) or the document's own work (a tile's compression)
            if sys.getrefcount(self._layers[layer]) == 2:
                del self._shared[layer]

    def _own(self, layer: Layer) -> np.ndarray:
        """The writable array of ``layer`` (created blank on first use): while requests share
        it (:meth:`_share`), its copy takes its place first, waited for if it is not done
        yet (made here if the background copy failed: the shared array is never written).
        Every write to a layer goes through this, in :meth:`touch` or directly."""
        with self._share_lock:
            copying = self._shared.pop(layer, None)
        if copying is not None:
            try:
                copy = copying.result()
            except MemoryError:  # once more, now that memory may have been freed
                copy = np.array(self._layers[layer], np.uint8)
            self._layers[layer] = copy
        return self.layer(layer)

    def hole_box(self) -> Box | None:
        """The bounding box of the hole (mask >= 128), None when there is none: what
        :func:`engines.region.mask_bbox` finds, without a temporary of the picture's size."""
        mask = self._layers.get(Layer.MASK)
        return None if mask is None else _box_at_least(mask, 128)

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(layer, box)`` whenever pixels of a layer change.

        Bound methods are held weakly: a widget listening to its document forms no reference
        cycle (which the garbage collector might otherwise break on a worker thread and so
        delete a Qt object off the GUI thread).
        """
        if inspect.ismethod(listener):
            self._listeners.append(weakref.WeakMethod(listener))
        else:
            self._listeners.append(lambda: listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners = [ref for ref in self._listeners if ref() not in (None, listener)]

    def notify(self, layer: Layer, box: Box | None = None) -> None:
        """Tell listeners that ``box`` (default: everything) of ``layer`` changed."""
        box = box or Box(0, 0, self.height, self.width)
        for ref in list(self._listeners):
            listener = ref()
            if listener is not None:
                listener(Layer(layer), box)

    # ------------------------------------------------------------------ steps
    @property
    def in_step(self) -> bool:
        return self._open is not None

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` now, or right after the open step ends (a result that arrives
        during a brush drag is stored once the drag is over, never inside it)."""
        if self._open is None:
            callback()
        else:
            self._after_step.append(callback)

    def _run_after_step(self) -> None:
        callbacks, self._after_step = self._after_step, []
        for callback in callbacks:
            callback()

    def begin_step(self, label: str, derive_hole: bool = True) -> None:
        """Open an undo step; every :meth:`touch` until :meth:`end_step` belongs to it.

        With ``derive_hole`` (the default, for the user's label edits) the labels this step
        changes become part of the hole; loading or computing a whole map passes False.
        """
        if self._open is not None:
            raise RuntimeError(f"step {self._open.label!r} is still open")
        self._open = Step(label, derive_hole=derive_hole)
        self._backup.clear()
        self._differing.clear()
        # the sides at hand are freed now, not when this one ends: their memory is then
        # there for this step's backups (fresh memory costs each first touch)
        self._unpack_ahead(None, old=True)
        self._keep(None, old=True)

    def touch(self, layer: Layer | str, box: Box | None) -> None:
        """Declare that ``box`` of ``layer`` is about to change (backs up its tiles once)."""
        if self._open is None:
            raise RuntimeError("touch() outside a step: call begin_step() first")
        if box is None:
            return
        layer = Layer(layer)
        array = self._own(layer)
        for row in range(box.top // TILE, (box.bottom - 1) // TILE + 1):
            for col in range(box.left // TILE, (box.right - 1) // TILE + 1):
                key = (layer, row, col)
                if key not in self._backup:
                    self._back_up(key, array[row * TILE:(row + 1) * TILE,
                                             col * TILE:(col + 1) * TILE].copy())

    def _back_up(self, key: TileKey, old: np.ndarray) -> None:
        """Within the open step: keep ``old``, a copy of tile ``key`` as it is now (never
        written to afterwards), as its backup, before the first write to it."""
        self._backup[key] = old  # never written to: shared with the lines below
        if key[0] is Layer.IMAGE:
            self._original_tiles.setdefault(key[1:], old)
        self._hand_over(key, old)

    def _hand_over(self, key: TileKey, pixels: np.ndarray | None = None) -> None:
        """Before an edit, undo or redo writes tile ``key``: give the compression job that
        has yet to copy the tile's new pixels from the layer (if any) a copy of them:
        ``pixels``, the edit's backup, or None for one taken now (:meth:`_Capture.take`)."""
        if key not in self._captures:  # only this thread adds to it; the job only removes
            return
        with self._capture_lock:
            capture = self._captures.pop(key, None)
            if capture is not None:
                capture.take(pixels)

    def end_step(self) -> Step | None:
        """Close the open step; returns it, or ``None`` if nothing changed."""
        if self._open is None:
            raise RuntimeError("end_step() without begin_step()")
        self._derive_hole()
        step, self._open = self._open, None
        captures = []
        differing, self._differing = self._differing, set()
        for key, old in self._backup.items():
            new = self._tile(*key)
            if key in differing or not _same(old, new):
                diff = _TileDiff(*key, old.shape, raw_old=old)
                step.diffs.append(diff)
                captures.append(_Capture(key, diff, new))
        self._backup.clear()
        if step.label_maps is not None and step.label_maps[0].same_as(step.label_maps[1]):
            step.label_maps = None
        if step.diffs or step.label_maps is not None:
            self._keep(step, old=True)  # before its job: a late undo finds the backups
            if captures:
                self._compress_in_background(step, captures)
            self._note_image_change(step)
            step.serial = next(self._serials)
            for layer in step.layers:
                step.layer_states[layer] = self._layer_states[layer]
                self._layer_states[layer] = step.serial
            self._undo.append(step)
            self._redo.clear()
            self._trim_history()
        self._run_after_step()
        return step if step.diffs or step.label_maps is not None else None

    def _compress_in_background(self, step: Step, captures: list[_Capture]) -> None:
        """Submit one job that compresses the tiles of ``step``, just closed (the GUI thread
        does not wait for it; :meth:`_TileDiff.data` does)."""
        with self._capture_lock:
            self._captures.update((capture.key, capture) for capture in captures)
        job = _COMPRESSOR.submit(self._compress, step, captures)
        for capture in captures:
            capture.diff.job = job
        self._last_job = job

    def _compress(self, step: Step, captures: list[_Capture]) -> None:
        """On the compressor thread: copy each tile's pixels after ``step`` from the layer,
        unless a touch, undo or redo handed its copy over (each copy taken under the lock,
        so a touch of that tile, and the write after it, waits for it; all of them first, so
        that an undo soon after the step finds them and copies nothing); then set each
        tile's box where the sides differ (:attr:`_TileDiff.box`, from the two full tiles)
        and compress its old side's pixels in it, then the new sides'. cv2 and zlib run
        outside the lock, without the GIL; the new sides come last, so an undo while the job
        runs finds them as they are. Each side is set compressed after its box and before its
        raw array is dropped (see :meth:`_TileDiff.pixels`), and is dropped only if the
        document does not keep it (:meth:`_keep`)."""
        for capture in captures:
            with self._capture_lock:
                if capture.after is None:
                    capture.take()
                if self._captures.get(capture.key) is capture:
                    del self._captures[capture.key]
        for capture in captures:
            diff = capture.diff
            # the backup, held full until this side is compressed (by this job)
            before = diff.raw_old
            diff.box = _changed_box(before, capture.after)
            diff.old = zlib.compress(np.ascontiguousarray(before[diff.box]), 1)
            self._release(step, diff, old=True)
        for capture in captures:
            diff = capture.diff
            diff.new = zlib.compress(np.ascontiguousarray(capture.after[diff.box]), 1)
            capture.after = None  # freed now, unless kept, not when the job ends
            self._release(step, diff, old=False)

    def _keeps(self, step: Step, old: bool) -> bool:
        """Whether ``step``'s ``old`` (else new) side is one kept uncompressed: the one kept
        at hand (:meth:`_keep`) or the one decompressed ahead (:meth:`_unpack_ahead`) (call
        under the capture lock)."""
        ahead = self._ahead
        return (self._kept is step and self._kept_old == old) or (
            ahead is not None and ahead[0] is step and ahead[1] == old)

    def _release(self, step: Step, diff: _TileDiff, old: bool) -> None:
        """Drop the raw ``old`` (else new) side of ``diff``, compressed now, unless kept."""
        with self._capture_lock:
            if not self._keeps(step, old):
                diff.hold(old, None)

    def _keep(self, step: Step | None, old: bool) -> None:
        """Keep ``step``'s ``old`` (else new) side uncompressed from now on (None: no
        step's): the side the layers do not hold once ``step`` is made or redone (``old``),
        or undone. The step kept before, if another one, drops its raw sides that are
        compressed (its job drops the others as it compresses them)."""
        with self._capture_lock:
            previous, self._kept, self._kept_old = self._kept, step, old
            if previous is not None and previous is not step:
                self._drop_unkept(previous)

    def _drop_unkept(self, step: Step) -> None:
        """Drop ``step``'s raw sides that are compressed and not kept (under the lock)."""
        for diff in step.diffs:
            for old in (True, False):
                if diff.packed(old) is not None and not self._keeps(step, old):
                    diff.hold(old, None)

    def _unpack_ahead(self, step: Step | None, old: bool) -> None:
        """Decompress ``step``'s ``old`` (else new) side on the undo-ahead thread (at the
        lowest priority: :func:`_yield_the_cpu`) from now on, the side that the next undo
        (redo) writes (None: none), so that it finds the side at hand as it finds the one
        :meth:`_keep` keeps: one job at a time, tile by tile, each tile held as that side's
        raw array (not owned) once it is decompressed. The side
        decompressed ahead before, if another one, is dropped (the tiles it holds raw,
        compressed too), and its job stops at its next tile. Only a side of more than
        :data:`AHEAD_MIN_BYTES` is (counting each tile's pixels in its box, as decompressed:
        :meth:`_TileDiff.size`), at most :data:`AHEAD_MAX_BYTES` of it: the history holds at
        most that much more raw than the side kept at hand."""
        with self._capture_lock:
            previous, self._ahead = self._ahead, None if step is None else (step, old)
            self._ahead_serial += 1
            serial = self._ahead_serial
            if previous is not None and (previous[0] is not step or previous[1] != old):
                self._drop_unkept(previous[0])
        if step is None:
            return
        todo = [diff for diff in step.diffs if diff.raw(old) is None]
        if sum(diff.size(old) for diff in todo) > AHEAD_MIN_BYTES:
            self._ahead_job = _AHEAD.submit(self._unpack, todo, old, serial)

    def _unpack(self, diffs: list[_TileDiff], old: bool, serial: int) -> None:
        """On the undo-ahead thread: decompress the ``old`` (else new) side of ``diffs`` and
        hold each as its raw side (box-shaped: :meth:`_TileDiff.unpacked`), while
        :meth:`_unpack_ahead` has not been called again since it was with ``serial``
        (:meth:`_apply` stops it too), at most
        :data:`AHEAD_MAX_BYTES`. A side not compressed yet is left alone (its raw array is
        held until it is)."""
        left = AHEAD_MAX_BYTES
        for diff in diffs:
            packed = diff.packed(old)
            if self._ahead_serial != serial or left <= 0:
                return
            if packed is None or diff.raw(old) is not None:
                continue
            pixels = diff.unpacked(packed)
            with self._capture_lock:
                if self._ahead_serial != serial:
                    return
                if diff.raw(old) is None:
                    diff.hold(old, pixels)
            left -= pixels.nbytes

    def _wait_for_jobs(self) -> None:
        """Wait until every compression job submitted so far has ended (an error of one
        surfaces where its tiles are read: :meth:`_TileDiff.data`)."""
        if self._last_job is not None:
            wait([self._last_job])
            self._last_job = None

    def _derive_hole(self) -> None:
        """Within the open step: the pixels whose label this step changed, grown by
        :attr:`label_hole_margin`, are added to the mask, so the fill follows the new layout.
        Part of the same step, so one undo reverts labels and hole together.

        Worked out tile by tile, each tile's hole grown from the changes within the margin
        around it, so that a large edit (a bucket fill) makes no temporary of its size: a
        tile whose labels all changed is all hole without growing anything, elsewhere only
        the part of the tile within the margin of a change is grown (:meth:`_tile_hole`),
        and only the mask tiles that gain hole pixels are backed up, written and announced.
        """
        step = self._open
        if not self.derive_hole_from_labels or step is None or not step.derive_hole:
            return
        labels = self._layers.get(Layer.LABELS)
        # tile: 255 where its labels changed, or None where all did (kept small), and the
        # box of those changes
        changed: dict[tuple[int, int], np.ndarray | None] = {}
        extents: dict[tuple[int, int], Box] = {}
        for (layer, row, col), old in self._backup.items():
            if layer is Layer.LABELS:
                tile = self._tile_box(row, col)
                differs = cv2.compare(old, labels[tile.slices], cv2.CMP_NE)
                extent = _nonzero_box(differs, tile)  # of the changed pixels
                if extent is not None:
                    area = extent.height * extent.width
                    all_changed = area == differs.size and cv2.countNonZero(differs) == area
                    changed[row, col] = None if all_changed else differs
                    extents[row, col] = extent
        if not changed:
            return
        reach = -(-self.label_hole_margin // TILE)  # tiles the margin reaches across
        rows, cols = -(-self.height // TILE), -(-self.width // TILE)
        near = sorted({(r, c) for row, col in changed
                       for r in range(max(0, row - reach), min(rows, row + reach + 1))
                       for c in range(max(0, col - reach), min(cols, col + reach + 1))})
        mask = self._own(Layer.MASK)
        added = {}  # tile written: the box of the pixels added in it
        for row, col in near:
            tile = self._tile_box(row, col)
            grown = self._tile_hole(tile, changed, extents)
            if grown is None:
                continue
            part, hole = grown
            target = mask[part.slices]
            gained = self._work_area(target.shape)  # > 0 where the hole is over the mask
            if hole is None:  # all hole
                cv2.bitwise_not(target, dst=gained)
            else:
                cv2.subtract(hole, target, dst=gained)
            box = _nonzero_box(gained, part)
            if box is None:
                continue  # nothing to add here
            self.touch(Layer.MASK, tile)
            if hole is None:
                target[...] = 255
            else:
                cv2.max(target, hole, dst=target)
            added[tile] = box
        for rect in _joined(list(added)):  # each shrunk to what was added inside it
            parts = [box for tile, box in added.items() if rect.contains(tile)]
            self.notify(Layer.MASK, functools.reduce(Box.union, parts))

    def _tile_hole(self, tile: Box, changed: dict[tuple[int, int], np.ndarray | None],
                   extents: dict[tuple[int, int], Box]
                   ) -> tuple[Box, np.ndarray | None] | None:
        """The hole that ``changed`` (tile index: ``(h, w)`` uint8, 255 where the tile's
        labels changed, or None where all did; ``extents``: the box of each tile's changes)
        makes inside ``tile``, grown by :attr:`label_hole_margin`: the part of ``tile`` it
        may cover and the hole there, uint8 0/255 over that part (None: all of it, a tile
        whose labels all changed); None where no change lies within the margin.

        The same pixels as growing the whole change at once, growing less: the growth of a
        pixel reaches ``margin`` pixels, no further, so only the part of the tile within the
        margin of a change's box is worked out, and in it only the pixels around those whose
        labels did not change are grown, from what lies within the margin of them."""
        index = (tile.top // TILE, tile.left // TILE)
        if index in changed and changed[index] is None:
            return tile, None  # all hole
        margin = self.label_hole_margin
        shape = (self.height, self.width)
        part = None  # the part of the tile within the margin of a change
        for row in range(max(0, (tile.top - margin) // TILE), (tile.bottom + margin - 1) // TILE
                         + 1):
            for col in range(max(0, (tile.left - margin) // TILE),
                             (tile.right + margin - 1) // TILE + 1):
                extent = extents.get((row, col))
                if extent is None:
                    continue
                near = extent.grown(margin).clip(shape).intersection(tile)
                if near is not None:
                    part = near if part is None else part.union(near)
        if part is None:
            return None
        grow = part  # where the hole may be more than the change itself
        own = changed.get(index)
        if own is not None:  # outside the box of the tile's unchanged pixels, all changed
            unchanged = self._work_area(own.shape)
            cv2.bitwise_not(own, dst=unchanged)
            grow = part.intersection(_nonzero_box(unchanged, tile))
        around = part.grown(margin).clip(shape)  # the changes that reach into it
        sources = np.zeros((around.height, around.width), np.uint8)
        for row in range(around.top // TILE, (around.bottom - 1) // TILE + 1):
            for col in range(around.left // TILE, (around.right - 1) // TILE + 1):
                extent = extents.get((row, col))
                common = None if extent is None else extent.intersection(around)
                if common is None:
                    continue
                differs = changed[row, col]
                common.crop(sources, around)[...] = (
                    255 if differs is None else common.crop(differs, self._tile_box(row, col)))
        hole = part.crop(sources, around).copy()  # the change itself...
        if grow is not None:  # ...grown where that is more
            reached = grow.grown(margin).clip(shape)
            grow.crop(hole, part)[...] = grow.crop(
                maskops.grow(reached.crop(sources, around), margin), reached)
        return part, hole

    def cancel_step(self) -> None:
        """Close the open step and restore every tile it touched."""
        step, self._open = self._open, None
        if step is None:
            return
        for (layer, row, col), old in self._backup.items():
            self._own(layer)
            self._tile(layer, row, col)[...] = old
            self._layer_versions[layer] += 1  # a fill may have read the pixels taken back
            self.notify(layer, self._tile_box(row, col))
        self._backup.clear()
        self._differing.clear()
        if step.label_maps is not None:
            self._set_label_map(step.label_maps[0])
        self._run_after_step()

    @contextlib.contextmanager
    def step(self, label: str, derive_hole: bool = True) -> Iterator[Document]:
        """``with doc.step("Grow mask"): doc.touch(...); edit...`` as one undoable step."""
        self.begin_step(label, derive_hole)
        try:
            yield self
        except BaseException:
            self.cancel_step()
            raise
        self.end_step()

    def paint_segment(self, layer: Layer | str, p0: tuple[float, float],
                      p1: tuple[float, float], radius: float,
                      value: int | tuple[int, ...]) -> Box | None:
        """Stamp a round brush along ``p0``-``p1`` (x, y) into ``layer`` in the open step.

        Returns the changed box (already announced to listeners) or ``None`` when off-image.
        """
        box = segment_box(p0, p1, radius, self.layer(layer).shape)
        if box is None:
            return None
        self.touch(layer, box)
        draw_segment(self.layer(layer), p0, p1, radius, value)
        self.notify(Layer(layer), box)
        return box

    def replace_layer(self, layer: Layer | str, values: np.ndarray, label: str,
                      derive_hole: bool = False) -> Step | None:
        """Set a whole layer to ``values`` as one undoable step (only changed tiles stored).

        A replaced label map (computed or imported) does not become a hole unless
        ``derive_hole``.
        """
        layer = Layer(layer)
        self._check_shape(layer, values)
        with self.step(label, derive_hole):
            changed = self._write_changed(layer, values, self._whole())
        self._notify_parts(layer, changed)
        return self._undo[-1] if changed else None

    def clear_layer(self, layer: Layer | str, label: str) -> Step | None:
        """Blank ``layer`` (0 everywhere) as one undoable step; returns it, or None when the
        layer held nothing (no step is made). Not for the picture or the label map (whose
        computed map goes with it: see :meth:`replace_label_map`)."""
        layer = Layer(layer)
        if layer in (Layer.IMAGE, Layer.LABELS):
            raise InputError(f"the {layer.value} layer is not cleared this way")
        if not self.has_layer(layer) or not _holds_any(self._layers[layer]):
            return None
        return self.replace_layer(layer, np.zeros_like(self._layers[layer]), label)

    def sampling_area(self, kind: int) -> np.ndarray:
        """The ``kind`` part (:data:`SAMPLE_INCLUDE` or :data:`SAMPLE_EXCLUDE`) of the
        sampling layer as ``(H, W)`` uint8, 255 = in it: what the CLI's ``--include`` and
        ``--exclude`` files hold."""
        _check_sampling_kind(kind)
        if not self.has_layer(Layer.SAMPLING):
            return np.zeros((self.height, self.width), np.uint8)
        return np.where(self._layers[Layer.SAMPLING] == kind, 255, 0).astype(np.uint8)

    def replace_sampling_area(self, kind: int, area: np.ndarray, label: str) -> Step | None:
        """Make ``area`` (``(H, W)`` uint8, >= 128 = in it) the ``kind`` part of the
        sampling layer, as one undoable step: its pixels become ``kind`` (over the other
        part, as the brush paints), the rest of the old ``kind`` part is dropped and the
        other part is kept. Returns the step, or None when nothing changed."""
        _check_sampling_kind(kind)
        if area.shape != (self.height, self.width):
            raise InputError(f"a sampling area must be {(self.height, self.width)}, got "
                             f"{area.shape}")
        current = self.layer(Layer.SAMPLING)
        values = np.where(area >= 128, kind, np.where(current == kind, 0, current))
        return self.replace_layer(Layer.SAMPLING, values.astype(np.uint8), label)

    def replace_label_map(self, labels: np.ndarray, label_set: str | None,
                          label: str) -> Step | None:
        """Make ``labels`` ``(H, W)`` uint8, ids of the label list named ``label_set``, the
        label layer and :attr:`computed_labels`, as one undoable step that is no label edit
        (it makes no hole). Undo restores the previous layer, label list name and computed
        map together. Returns the step, or None when nothing changed.

        A read-only uint8 ``labels`` is kept as the computed map without a copy (a copy of
        a large map costs the GUI thread a moment): it must never change afterwards."""
        self._check_shape(Layer.LABELS, labels)
        computed = labels
        if labels.dtype != np.uint8 or labels.flags.writeable:
            computed = np.array(labels, np.uint8)
            computed.flags.writeable = False
        self.begin_step(label, derive_hole=False)
        try:
            after = LabelMap(label_set, computed)
            self._open.label_maps = (LabelMap(self.label_set, self.computed_labels), after)
            self._set_label_map(after)
            changed = self._write_changed(Layer.LABELS, computed, self._whole())
        except BaseException:
            self.cancel_step()
            raise
        step = self.end_step()
        self._notify_parts(Layer.LABELS, changed)
        return step

    def _check_shape(self, layer: Layer, values: np.ndarray) -> None:
        shape = self.layer(layer).shape
        if values.shape != shape:
            raise InputError(f"{layer.value} must be {shape}, got {values.shape}")

    def _write_changed(self, layer: Layer, values: np.ndarray, area: Box) -> list[Box]:
        """Within the open step: copy ``values`` (the layer's shape) into ``layer`` inside
        ``area``, one tile at a time, touching only the tiles where they differ (no
        full-size temporary); returns the parts of ``area`` written, tile by tile."""
        array = self._own(layer)
        if values.dtype != np.uint8:
            values = values.astype(np.uint8)
        changed = []
        for part in _tile_parts(area):
            old, new = array[part.slices], values[part.slices]
            if not _same(old, new):
                self.touch(layer, part)
                old[...] = new
                changed.append(part)
        return changed

    def _notify_parts(self, layer: Layer, parts: list[Box]) -> None:
        """Tell listeners that ``parts`` of ``layer`` changed, joined into rectangles."""
        for box in _joined(parts):
            self.notify(layer, box)

    def _set_label_map(self, state: LabelMap) -> None:
        self.label_set, self.computed_labels = state.label_set, state.computed

    # ------------------------------------------------------------ undo / redo
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def undo(self) -> Step | None:
        """Revert the last step; returns it, or ``None`` if there is nothing to undo."""
        if self._open is not None or not self._undo:
            return None
        step = self._undo.pop()
        self._apply(step, use_old=True)
        self._redo.append(step)
        self._unpack_ahead(self._undo[-1] if self._undo else None, old=True)
        return step

    def redo(self) -> Step | None:
        """Re-apply the last undone step."""
        if self._open is not None or not self._redo:
            return None
        step = self._redo.pop()
        self._apply(step, use_old=False)
        self._undo.append(step)
        self._unpack_ahead(self._redo[-1] if self._redo else None, old=False)
        return step

    def settle(self) -> None:
        """Wait until every history tile is compressed (background work of :meth:`end_step`)
        and the side the next undo or redo writes is decompressed (:meth:`_unpack_ahead`)."""
        self._wait_for_jobs()
        if self._ahead_job is not None:
            wait([self._ahead_job])
            self._ahead_job = None
        for step in (*self._undo, *self._redo):
            for diff in step.diffs:
                diff.data(True)

    @property
    def history_bytes(self) -> int:
        """Size of the undo and redo history (tiles still being compressed count raw)."""
        return sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)

    @property
    def state(self) -> int:
        """A name for the document's current content: equal names, equal content (within
        this document). Take it before saving a copy, for :meth:`mark_saved`."""
        return self._undo[-1].serial if self._undo else self._base_state

    @property
    def modified(self) -> bool:
        """Whether the document (any layer) differs from when it was loaded or last saved;
        :attr:`picture_modified` for the picture alone, what a save writes."""
        return self.state != self._saved_state

    def layer_state(self, layer: Layer | str) -> int:
        """A name for ``layer``'s content, as :attr:`state` is for the document's: equal
        names, equal content (for the label layer: its label list and computed map too);
        undoing back to a state gives its name back. 0: as loaded."""
        return self._layer_states[Layer(layer)]

    @property
    def picture_modified(self) -> bool:
        """Whether the picture's pixels differ from when it was loaded or last saved (edits
        of the other layers alone do not count: :meth:`unkept_guidance` says what of them
        no file keeps)."""
        return self._layer_states[Layer.IMAGE] != self._saved_picture

    def mark_saved(self, state: int | None = None, picture: int | None = None) -> None:
        """Record that the content named ``state`` (default: the current one, see
        :attr:`state`), whose picture is named ``picture`` (its :meth:`layer_state` then;
        default: the current one), is what the file on disk holds. A save of the picture
        keeps none of the guidance (:meth:`mark_kept`)."""
        self._saved_state = self.state if state is None else state
        self._saved_picture = self.layer_state(Layer.IMAGE) if picture is None else picture

    # ------------------------------------------------------ guidance kept
    def guidance_drawn(self, kind: str) -> np.ndarray | None:
        """What a file keeps of the guidance ``kind`` (one of :data:`GUIDANCE`) as it is now,
        or None when nothing is drawn there: the sketch's lines (>= 128), the RGBA colour
        strokes, the include or exclude part of the sampling layer, the label layer where it
        differs from the map computed or imported (:attr:`computed_labels`; without one,
        where anything is labelled)."""
        if kind == "labels":
            if not self.has_layer(Layer.LABELS):
                return None
            labels = self._layers[Layer.LABELS]
            computed = self.computed_labels
            if computed is None:
                return labels if self.has_label_map() else None
            return None if np.array_equal(labels, computed) else labels
        if kind in ("include", "exclude"):
            if not self.has_layer(Layer.SAMPLING):
                return None
            part = self._layers[Layer.SAMPLING] == (
                SAMPLE_INCLUDE if kind == "include" else SAMPLE_EXCLUDE)
            return part if part.any() else None
        layer = {"sketch": Layer.SKETCH, "color": Layer.COLOR}[kind]
        if not self.has_layer(layer):
            return None
        if layer is Layer.COLOR:
            strokes = self._layers[Layer.COLOR]
            return strokes if strokes[..., 3].any() else None
        lines = self._layers[Layer.SKETCH] >= 128
        return lines if lines.any() else None

    def kept_point(self, kind: str) -> _Kept:
        """A name for the guidance ``kind`` as it is now, for :meth:`mark_kept` once a file
        holds it (take it before writing: an edit made meanwhile is not in the file)."""
        drawn = self.guidance_drawn(kind)
        return _Kept(self.layer_state(_GUIDANCE_LAYERS[kind]), _count(drawn), _digest(drawn))

    def mark_kept(self, kind: str, point: _Kept | None = None) -> None:
        """Record that a file (an export, or the file it was imported from) holds the
        guidance ``kind`` as named by ``point`` (default: as it is now, see
        :meth:`kept_point`), until it changes again."""
        self._guidance_kept[kind] = self.kept_point(kind) if point is None else point

    def unkept_guidance(self) -> tuple[str, ...]:
        """The kinds of :data:`GUIDANCE` (in that order) that hold something the user drew
        that no file keeps: changed since last exported or imported (undoing back to that
        counts as kept) and not empty. The mask is not guidance kept: a hole not filled is
        not work users expect to keep, and the reference photos are files already."""
        unkept = []
        for kind in GUIDANCE:
            kept = self._guidance_kept[kind]
            if kept.state == self.layer_state(_GUIDANCE_LAYERS[kind]):
                continue
            drawn = self.guidance_drawn(kind)
            # the count first: hashing a 50 MP colour layer takes 0.2 s, counting 0.01 s
            if drawn is not None and (_count(drawn) != kept.count
                                      or _digest(drawn) != kept.digest):
                unkept.append(kind)
        return tuple(unkept)

    def _note_image_change(self, step: Step) -> None:
        """``step`` was made, undone or redone: count the change of each of its layers."""
        layers = step.layers
        if Layer.IMAGE in layers:
            self._image_version += 1
        for layer in layers:
            self._layer_versions[layer] += 1

    def _apply(self, step: Step, use_old: bool) -> None:
        """Write ``step``'s old (undo) or new (redo) tiles without waiting for compression jobs: a
        job that has yet to copy a tile gets a copy first, and the side written is written as the
        job or the document holds it uncompressed (the side kept at hand of the step moved last: see
        :meth:`_keep`), else decompressed. The side overwritten is kept at hand from now on: where
        neither the job nor the document holds it uncompressed (so it is compressed, and its box
        known), its pixels in the box are copied first into a spare array of the tile's shape (held
        as a box-shaped view of it); the array of the side written becomes the next spare where no
        one needs it any more (:meth:`_TileDiff.spare`), so that going back and forth over a step
        allocates nothing (see :meth:`_write_tiles`). A side is written as held: a full tile whole,
        a box-shaped one over the tile's box alone (outside it the two sides are equal, and the
        layer holds the other side). The job decompressing a side ahead (:meth:`_unpack_ahead`)
        stops first; the tiles it held are written as they are. A side of more than
        :data:`PARALLEL_BYTES` is written in interleaved parts by the unpacker threads and this one
        at once (each part with its own spares), the call returning once all are written. Listeners
        hear the tiles joined into rectangles (or the whole label layer, for a new map)."""
        self._note_image_change(step)
        for layer, before in step.layer_states.items():
            self._layer_states[layer] = before if use_old else step.serial
        with self._capture_lock:
            self._ahead_serial += 1  # its job stops at its next tile
        self._keep(step, old=not use_old)
        layers: dict[Layer, np.ndarray] = {}
        for diff in step.diffs:
            self._hand_over((diff.layer, diff.row, diff.col))
            if diff.layer not in layers:
                layers[diff.layer] = self._own(diff.layer)
        side = sum(diff.size(use_old) for diff in step.diffs)
        count = min(len(step.diffs), 4 * (_UNPACK_THREADS + 1)) \
            if side > PARALLEL_BYTES and _UNPACK_THREADS else 1
        parts = [step.diffs[start::count] for start in range(count)]
        # the others to the unpacker threads; this thread writes the first one, then takes
        # back from the end those no thread has begun
        jobs = [_UNPACKER.submit(self._write_tiles, part, use_old, layers, {})
                for part in parts[1:]]
        self._write_tiles(parts[0], use_old, layers, self._spares)
        for job, part in zip(reversed(jobs), reversed(parts[1:])):
            if job.cancel():
                self._write_tiles(part, use_old, layers, self._spares)
        jobs = [job for job in jobs if not job.cancelled()]
        for job in jobs:  # every part written before an error of one surfaces
            job.exception()
        for job in jobs:
            for shape, spare in job.result().items():
                self._spares.setdefault(shape, spare)
        touched: dict[Layer, list[Box]] = {}
        for diff in step.diffs:
            touched.setdefault(diff.layer, []).append(self._tile_box(diff.row, diff.col))
        if step.label_maps is not None:
            self._set_label_map(step.label_maps[0 if use_old else 1])
            touched[Layer.LABELS] = [self._whole()]
        for layer, boxes in touched.items():
            self._notify_parts(layer, boxes)

    def _write_tiles(self, diffs: list[_TileDiff], use_old: bool,
                     layers: dict[Layer, np.ndarray],
                     spares: dict[tuple[int, ...], np.ndarray]) -> dict[tuple[int, ...],
                                                                     np.ndarray]:
        """Write the old (else new) side of ``diffs`` into ``layers`` (the document's own
        arrays), keeping the side overwritten at hand, for :meth:`_apply` (any thread; the
        tiles of two calls at once are others): ``spares``, arrays of the tile shapes that no
        one needs, keyed by their shape, are used and added to; returns it.

        A side overwritten that is only compressed is kept as a box-shaped view of a spare
        of the tile's shape (a contiguous run at its start), not as an array of its own: the
        boxes of a step's tiles have as many shapes as tiles, and a spare of each would be
        of no use to the next tile (each move would allocate) and stay held for good."""
        for diff in diffs:
            tile = layers[diff.layer][diff.row * TILE:(diff.row + 1) * TILE,
                                      diff.col * TILE:(diff.col + 1) * TILE]
            written = diff.spare(use_old)
            pixels = written if written is not None else diff.pixels(use_old)
            if diff.raw(not use_old) is None:  # only compressed: kept at hand from now on
                kept = tile[diff.box]  # its box is set before it is compressed
                free = spares.pop(tile.shape, None)
                free = np.empty(tile.shape, np.uint8) if free is None else free
                free = free.reshape(-1)[:kept.size].reshape(kept.shape)
                np.copyto(free, kept)
                with self._capture_lock:
                    diff.hold(not use_old, free, owned=True)
            # a full tile whole, else its box (the layer holds the other side, equal outside)
            np.copyto(tile if pixels.shape == tile.shape else tile[diff.box], pixels)
            if diff.packed(use_old) is not None:  # the layer holds it, and it is compressed:
                with self._capture_lock:  # its array is freed now (its job frees it else)
                    diff.hold(use_old, None)
                if written is not None:  # no one needs it any more: the next tile's spare
                    whole = written if written.base is None else written.base
                    spares[whole.shape] = whole
        return spares

    def _work_area(self, shape: tuple[int, int]) -> np.ndarray:
        """A uint8 array of ``shape`` (at most a tile's) for passing work: a view of one
        reused buffer (GUI thread only)."""
        work = self._work
        if work is None or work.shape[0] < shape[0] or work.shape[1] < shape[1]:
            work = self._work = np.empty((max(TILE, shape[0]), max(TILE, shape[1])), np.uint8)
        return work[:shape[0], :shape[1]]

    def _tile(self, layer: Layer, row: int, col: int) -> np.ndarray:
        return self.layer(layer)[row * TILE:(row + 1) * TILE, col * TILE:(col + 1) * TILE]

    def _whole(self) -> Box:
        return Box(0, 0, self.height, self.width)

    def _tile_box(self, row: int, col: int) -> Box:
        return Box(row * TILE, col * TILE, min((row + 1) * TILE, self.height),
                   min((col + 1) * TILE, self.width))

    def _trim_history(self) -> None:
        total = self.history_bytes
        while total > self.undo_budget and len(self._undo) > 1:
            dropped = self._undo.pop(0)
            total -= dropped.nbytes
            self._base_state = dropped.serial  # the oldest state undo can reach now

    # --------------------------------------------------------------- results
    def set_preview(self, image: np.ndarray | None, name: str = "") -> None:
        """Keep an engine result (``(H, W, 3)`` uint8) that is not committed yet.

        Listeners are not notified: the picture itself has not changed.
        """
        if image is not None and image.shape != self.image.shape:
            raise InputError(f"result {image.shape} does not match the image {self.image.shape}")
        self.preview, self.preview_name = image, name

    @property
    def image_version(self) -> int:
        """Changes whenever the picture's pixels change (edits, undo, redo)."""
        return self._image_version

    def layer_version(self, layer: Layer | str) -> int:
        """Changes whenever a step that changed ``layer`` is made, undone or redone, or a
        step that touched it is cancelled (for the label layer: also when its label list or
        computed map changes). Equal numbers: the layer holds what it held then, except for
        a step still open (it counts when it ends)."""
        return self._layer_versions[Layer(layer)]

    @property
    def edited_pixels(self) -> np.ndarray | None:
        """``(H, W)`` bool: the pixels a result (a fill, a face paste-back) was written to
        since opening, kept after undo (so it may say more than what differs now); ``None``
        unless the original is floating point, the one case saving needs it
        (:func:`engines.deep_samples.restore_depth`)."""
        return self._edited

    def apply_result(self, result: np.ndarray, label: str = "Fill",
                     used_mask: np.ndarray | None = None, within: Box | None = None,
                     used_sketch: np.ndarray | object | None = DRAWN_NOW,
                     used_color: np.ndarray | object | None = DRAWN_NOW,
                     prepared: PreparedResult | None = None) -> Step | None:
        """Commit ``result`` to the image and clear the mask, as one undoable step.

        ``used_mask`` is the mask the result was computed for: only its pixels are cleared,
        so strokes painted while the engine ran survive (default: clear the whole mask).
        The sketch lines and colour strokes drawn for that hole (in it or within
        :data:`~engines.guidance.GUIDANCE_REACH` px of it) are cleared in the same step:
        they described a hole that is now filled, and would otherwise stay drawn over the
        result and steer later fills that cover them (undo brings them back with the hole).
        ``used_sketch`` is the ``(H, W)`` sketch and ``used_color`` the ``(H, W, 4)`` RGBA
        colour strokes the result was computed for (None: it had none): only what is drawn
        in them is cleared, so what was drawn while the engine ran survives; the default,
        :data:`DRAWN_NOW`, takes what is drawn now.
        ``within`` promises that ``result`` and ``used_mask`` differ from the document only
        inside that box (engines change masked pixels only), so a large picture is not
        compared in full. Only the tiles where the image, the mask, the sketch or the colour
        strokes change are recorded, so objects can be removed one after another with a
        small history.
        ``prepared``: what this call backs up, worked out off the GUI thread from the
        snapshot the result was computed for (:meth:`Snapshot.prepare_result`); used when
        it was made for ``result``, ``used_mask`` and ``within`` and the picture and the
        mask still hold what the snapshot read, so that only the writes are left here (no
        comparison, no copy of the tiles' old pixels). The step made is the same.
        """
        if result.shape != self.image.shape or result.dtype != np.uint8:
            raise InputError(f"result {result.shape} {result.dtype} does not match the image "
                             f"{self.image.shape} uint8")
        area = within or self._whole()
        holes = self.mask if used_mask is None else used_mask
        if holes.dtype != np.uint8:
            holes = (holes > 0).astype(np.uint8)
        drawn = {layer: self._drawn_for(layer, holes, area, used)
                 for layer, used in ((Layer.SKETCH, used_sketch), (Layer.COLOR, used_color))}
        if self._edited is not None:
            self._mark_edited(result, None if used_mask is None else holes, area)
        if prepared is not None and not prepared.fits(self, result, used_mask, area):
            prepared = None
        with self.step(label):
            if prepared is not None:
                image_parts = self._write_prepared(Layer.IMAGE, result, prepared.image,
                                                   prepared.new_image)
                # the mask is the used mask (unchanged since the snapshot): clearing it
                # where the used mask is set leaves each of its parts all 0
                mask_parts = self._write_prepared(Layer.MASK, 0, prepared.mask,
                                                  prepared.new_mask)
            else:
                image_parts = self._write_changed(Layer.IMAGE, result, area)
                # without used_mask the whole mask is cleared, as documented
                mask_parts = self._clear_hole(used_mask, area if used_mask is not None
                                              else self._whole())
            for layer, (box, pixels) in drawn.items():
                if box is not None:
                    self.touch(layer, box)
                    self.layer(layer)[box.slices][pixels] = 0
        self.preview, self.preview_name = None, ""
        self._notify_parts(Layer.IMAGE, image_parts)
        self._notify_parts(Layer.MASK, mask_parts)
        cleared = [(layer, box) for layer, (box, _) in drawn.items() if box is not None]
        for layer, box in cleared:
            self.notify(layer, box)
        return self._undo[-1] if (image_parts or mask_parts or cleared) else None

    def _clear_hole(self, used_mask: np.ndarray | None, area: Box) -> list[Box]:
        """Within the open step: zero the mask inside ``area`` where ``used_mask`` is set
        (None: wherever the mask is), tile by tile, touching only the tiles that change;
        returns the parts of ``area`` written."""
        mask = self._own(Layer.MASK)
        if used_mask is not None and used_mask.dtype != np.uint8:
            used_mask = (used_mask > 0).astype(np.uint8)
        changed = []
        for part in _tile_parts(area):
            tile = mask[part.slices]
            if used_mask is None:
                if not cv2.countNonZero(tile):
                    continue
                self.touch(Layer.MASK, part)
                tile[...] = 0
            else:
                used = used_mask[part.slices]
                if not cv2.countNonZero(cv2.min(tile, used)):  # nonzero where both are
                    continue
                self.touch(Layer.MASK, part)
                np.copyto(tile, 0, where=used > 0)
            changed.append(part)
        return changed

    def _write_prepared(self, layer: Layer, values: np.ndarray | int,
                        tiles: dict[tuple[int, int], tuple[Box, np.ndarray]],
                        whole: np.ndarray | None = None) -> list[Box]:
        """Within the open step: for each tile of a :class:`PreparedResult` (``(row, col)``
        -> the part written and the tile's pixels now, copied), back the tile up with that
        copy and write ``values`` (the layer's shape, or one value) into the part; or, given
        ``whole`` (the layer with those writes made, on the worker), take it as the layer
        instead of writing (the array it replaces is not written to again, so what still
        reads it, a compression job or a request, reads it unchanged). Returns the parts
        written."""
        if whole is not None:
            with self._share_lock:
                self._shared.pop(layer, None)  # its copy for the next write is not needed
            self._layers[layer] = whole
        array = self._own(layer)
        changed = []
        for (row, col), (part, old) in tiles.items():
            key = (layer, row, col)
            self._back_up(key, old)
            self._differing.add(key)
            if whole is None:
                array[part.slices] = values if isinstance(values, int) \
                    else values[part.slices]
            changed.append(part)
        return changed

    def _drawn_for(self, layer: Layer, holes: np.ndarray, area: Box,
                   used: np.ndarray | object | None = DRAWN_NOW
                   ) -> tuple[Box | None, np.ndarray]:
        """The pixels of ``layer`` (the sketch, or the colour strokes) drawn for the hole
        (``holes``: ``(H, W)`` uint8, the hole where > 0, inside ``area`` only): in it or
        within :data:`~engines.guidance.GUIDANCE_REACH` px of it, the rule by which a fill
        counts them as given, and drawn in ``used`` (that layer as the fill's request had it)
        too unless that is :data:`DRAWN_NOW`. Returns their box (None: there are none) and
        the ``bool`` map of them inside it. The hole is read in full only for its bounding
        box, and the distance rule worked out only around the box of what is drawn near it
        (what lies farther cannot count), so sparse lines over a large hole cost no pass of
        the picture's size beyond those."""
        none = None, np.zeros((0, 0), bool)
        array = self._layers.get(layer)
        # nothing drawn (any byte set: the colour eraser leaves a stroke's pixels all 0)
        if array is None or used is None \
                or not cv2.countNonZero(array.reshape(self.height, -1)):
            return none
        box = _nonzero_box(holes[area.slices], area)
        if box is None:
            return none
        shape = (self.height, self.width)
        reach = reach_box(box, shape)
        near_lines = _nonzero_box(_drawn_bytes(array[reach.slices]), reach)
        if near_lines is None:
            return none
        # the hole pixels that can lie within reach of those lines
        part = near_lines.grown(GUIDANCE_REACH).intersection(box)
        if part is None:
            return none
        grown, near = within_reach(holes[part.slices] > 0, part, shape)
        lines = near_lines.crop(near, grown) & drawn(array[near_lines.slices])
        if isinstance(used, np.ndarray):
            lines &= drawn(used[near_lines.slices])
        inner = Box.around(lines)
        if inner is None:
            return none
        return _shift(inner, near_lines), lines[inner.slices]

    def _mark_edited(self, result: np.ndarray, used_mask: np.ndarray | None,
                     area: Box) -> None:
        """Add to :attr:`edited_pixels` where ``result`` differs from the picture inside
        ``area`` and (given) where the uint8 ``used_mask`` is set there: OpenCV tile by tile,
        no temporary of the hole's size."""
        edited = self._edited.view(np.uint8)  # 0 or 1 per pixel
        image = self.image
        for part in _tile_parts(area):
            where = part.slices
            # any channel differing: the largest of the channels' differences is not 0
            red, green, blue = cv2.split(cv2.absdiff(image[where], result[where]))
            written = cv2.min(cv2.max(cv2.max(red, green), blue), 1)
            if used_mask is not None:
                written = cv2.max(written, cv2.min(used_mask[where], 1))
            np.bitwise_or(edited[where], written, out=edited[where])

    def apply_preview(self) -> Step | None:
        """Commit the current preview (see :meth:`apply_result`)."""
        if self.preview is None:
            return None
        return self.apply_result(self.preview, f"Fill ({self.preview_name})"
                                 if self.preview_name else "Fill")

    # --------------------------------------------------------------- requests
    def snapshot(self, **settings) -> Snapshot:
        """What a fill takes from the document: an immutable :class:`InpaintRequest` of the
        image and its guidance layers, without the sampling areas, and the sampling layer
        from which :meth:`Snapshot.complete` makes them where the fill runs (two arrays of the
        picture's size: not on the GUI thread).

        Only layers that exist and carry something are included, with the reference photos
        as ``exemplars`` and the picture's transparency as ``alpha`` (its fully transparent
        pixels are no source of the fill); ``settings`` are passed on (strategy, seed,
        device, options...).
        The snapshot holds read-only views of the layers, not copies (:meth:`_share`): the
        document writes to copies of them from then on, so it never changes.
        """
        def present(layer: Layer) -> np.ndarray | None:
            array = self._layers.get(layer)
            if array is None:
                return None
            if layer is Layer.LABELS:
                held = cv2.minMaxLoc(array)[0] != UNLABELLED
            else:
                held = _holds_any(array)
            return self._share(layer) if held else None

        # shared (and so copied in the background) in the order the user edits them next:
        # the mask first, the picture last (applying a fill writes it)
        mask, sketch, color, labels, sampling = (
            self._share(Layer.MASK), present(Layer.SKETCH), present(Layer.COLOR),
            present(Layer.LABELS), present(Layer.SAMPLING))
        alpha = None
        if self.alpha is not None:  # never written once opened: a read-only view, no copy
            alpha = self.alpha.view()
            alpha.flags.writeable = False
        request = InpaintRequest(
            image=self._share(Layer.IMAGE), mask=mask, sketch=sketch, color=color,
            labels=labels, label_set=self.label_set if labels is not None else None,
            exemplars=tuple(r.pixels for r in self.references), alpha=alpha, **settings)
        versions = None if self.in_step else (self.layer_version(Layer.IMAGE),
                                              self.layer_version(Layer.MASK))
        return Snapshot(request, sampling, versions)

    def build_request(self, **settings) -> InpaintRequest:
        """The :meth:`snapshot`'s request with its sampling areas
        (:meth:`Snapshot.complete`, made here)."""
        return self.snapshot(**settings).complete()


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A fill's snapshot of a document (:meth:`Document.snapshot`): ``request``, without
    sampling areas, and ``sampling``, the sampling layer it was taken with (read-only
    ``(H, W)`` uint8, :data:`SAMPLE_INCLUDE` / :data:`SAMPLE_EXCLUDE` / 0; None when the
    layer holds nothing), shared with the document like the request's layers."""

    request: InpaintRequest
    sampling: np.ndarray | None = None
    # the picture's and the mask's layer versions when it was taken (None: in a step)
    versions: tuple[int, int] | None = None

    def prepare_result(self, result: np.ndarray, within: Box) -> PreparedResult | None:
        """What :meth:`Document.apply_result` of ``result`` (computed for this snapshot)
        within ``within``, with the request's mask as the used mask, will back up: the tiles
        where the picture changes and those where the mask is set, each with a copy of its
        pixels as the snapshot holds them; and, for a layer changed in more than
        :data:`ADOPT_PIXELS` pixels, the layer as applying leaves it (a copy with the
        changes written), which applying takes instead of writing them. Reads only the
        snapshot's read-only layers, so it may run on any thread (the worker, after the
        engine's last stage): the GUI thread is left only the writes of a small result, and
        no pass over a large one. None when there is nothing to prepare (no versions, a
        result or mask that does not fit)."""
        image, mask = self.request.image, self.request.mask
        if self.versions is None or result.shape != image.shape \
                or result.dtype != np.uint8 or mask is None or mask.dtype != np.uint8:
            return None
        pictures: dict[tuple[int, int], tuple[Box, np.ndarray]] = {}
        holes: dict[tuple[int, int], tuple[Box, np.ndarray]] = {}
        for part in _tile_parts(within):
            row, col = part.top // TILE, part.left // TILE
            tile = np.s_[row * TILE:(row + 1) * TILE, col * TILE:(col + 1) * TILE]
            if not _same(image[part.slices], result[part.slices]):
                pictures[row, col] = part, image[tile].copy()
            if cv2.countNonZero(mask[part.slices]):
                holes[row, col] = part, mask[tile].copy()
        new_image = new_mask = None
        if _pixels(pictures) > ADOPT_PIXELS:
            new_image = np.array(image, np.uint8)
            for part, _ in pictures.values():
                new_image[part.slices] = result[part.slices]
        if _pixels(holes) > ADOPT_PIXELS:
            new_mask = np.array(mask, np.uint8)
            for part, _ in holes.values():
                new_mask[part.slices] = 0  # all of it: see Document.apply_result
        return PreparedResult(result, mask, within, self.versions, pictures, holes,
                              new_image, new_mask)

    def complete(self) -> InpaintRequest:
        """``request`` with ``sample_include`` and ``sample_exclude`` made from ``sampling``
        (each None when that part is empty): a pass over the layer and two arrays of its
        size, so call it where the fill runs, not on the GUI thread."""
        sampling = self.sampling
        if sampling is None:
            return self.request
        counts = cv2.calcHist([sampling], [0], None, [256], [0, 256]).ravel()
        include, exclude = (_area_of(sampling, kind) if counts[kind] else None
                            for kind in (SAMPLE_INCLUDE, SAMPLE_EXCLUDE))
        return self.request.evolve(sample_include=include, sample_exclude=exclude)


@dataclass(frozen=True, eq=False)
class PreparedResult:
    """What applying ``result`` will back up (:meth:`Snapshot.prepare_result`): for the
    picture (``image``) and the mask (``mask``), each tile ``(row, col)`` that changes,
    with the part of ``area`` it holds and a copy of its pixels before (never written to);
    and the picture and the mask as applying leaves them (``new_image``, ``new_mask``:
    None where the change is small enough to write in place). Valid while the picture and
    the mask are at ``versions``; applying takes the new layers, so apply it once."""

    result: np.ndarray
    used_mask: np.ndarray
    area: Box
    versions: tuple[int, int]  # the picture's and the mask's layer versions
    image: dict[tuple[int, int], tuple[Box, np.ndarray]]
    mask: dict[tuple[int, int], tuple[Box, np.ndarray]]
    new_image: np.ndarray | None = None
    new_mask: np.ndarray | None = None

    def fits(self, document: Document, result: np.ndarray, used_mask: np.ndarray | None,
             area: Box) -> bool:
        """Whether it was made for applying ``result`` with ``used_mask`` within ``area`` to
        ``document`` as it is now (no step open, picture and mask unchanged since)."""
        return (result is self.result and used_mask is self.used_mask and area == self.area
                and not document.in_step
                and self.versions == (document.layer_version(Layer.IMAGE),
                                      document.layer_version(Layer.MASK)))


def _pixels(tiles: dict[tuple[int, int], tuple[Box, np.ndarray]]) -> int:
    """The pixels of the parts in a :class:`PreparedResult`'s ``tiles``."""
    return sum(part.height * part.width for part, _ in tiles.values())


def _copy_out(held: list[np.ndarray]) -> np.ndarray:
    """On the layer copier's thread: a copy of the one array in ``held``, taken out of it
    first, so that the copier holds no reference to the array once the copy is done (the
    list stays with the executor's work item until later: see :meth:`Document._unshare`)."""
    array = held.pop()
    return np.array(array, np.uint8)


class _Lease:
    """The base of a view that :meth:`Document._share` hands out (numpy makes the view from
    ``__array_interface__``): it holds the shared array, in ``held``, a one-item list, for
    as long as the view or any array made from it exists (each keeps the lease)."""

    def __init__(self, array: np.ndarray, held: list[np.ndarray]) -> None:
        self.__array_interface__ = array.__array_interface__
        self.held = held


def _lease_ended(document: weakref.ref, layer: Layer, copying: Future,
                 held: list[np.ndarray]) -> None:
    """Finalizer of a :class:`_Lease` of ``layer`` (any thread): it lets the array go (a
    finalizer runs before the lease's attributes are cleared), and once ``copying``, the
    layer's copy, is done, :meth:`Document._unshare`."""
    held.clear()
    copying.add_done_callback(functools.partial(_copy_done, document, layer))


def _copy_done(document: weakref.ref, layer: Layer, copying: Future) -> None:
    """Done-callback of a layer's copy that an ended lease waited for (:func:`_lease_ended`;
    the future comes as the argument: one held by the callback would be a reference cycle,
    keeping the copy until the garbage collector's next pass)."""
    doc = document()
    if doc is not None:
        doc._unshare(layer, copying)


_GUIDANCE_LAYERS = {"sketch": Layer.SKETCH, "color": Layer.COLOR, "include": Layer.SAMPLING,
                    "exclude": Layer.SAMPLING, "labels": Layer.LABELS}


class _Kept(NamedTuple):
    """What a file holds of a kind of guidance (:meth:`Document.kept_point`): the layer's
    :meth:`~Document.layer_state`, and the count of nonzero bytes and a digest of what was
    drawn (:meth:`Document.guidance_drawn`; 0 and b"" for none)."""

    state: int
    count: int
    digest: bytes


def _count(drawn: np.ndarray | None) -> int:
    """The nonzero bytes of guidance drawn (:meth:`Document.guidance_drawn`); 0 for none."""
    if drawn is None:
        return 0
    drawn = np.ascontiguousarray(drawn).view(np.uint8)
    return cv2.countNonZero(drawn.reshape(drawn.shape[0], -1))


def _digest(drawn: np.ndarray | None) -> bytes:
    """A digest of guidance drawn (:meth:`Document.guidance_drawn`); b"" for none."""
    if drawn is None:
        return b""
    return hashlib.blake2b(np.ascontiguousarray(drawn).view(np.uint8)).digest()


def _holds_any(array: np.ndarray) -> bool:
    """Whether a layer (``(H, W)`` or ``(H, W, C)`` uint8) has a nonzero byte (OpenCV over
    its rows as one channel: no temporary)."""
    return cv2.countNonZero(array.reshape(array.shape[0], -1)) > 0


def _area_of(sampling: np.ndarray, kind: int) -> np.ndarray:
    """``(H, W)`` uint8, read-only: 255 where the sampling layer holds ``kind``, else 0."""
    area = maskops.compare(sampling, kind, cv2.CMP_EQ)
    area.flags.writeable = False
    return area


def _check_sampling_kind(kind: int) -> None:
    if kind not in (SAMPLE_INCLUDE, SAMPLE_EXCLUDE):
        raise InputError(f"a sampling area is SAMPLE_INCLUDE or SAMPLE_EXCLUDE, not {kind}")


def _nonzero_box(array: np.ndarray, at: Box) -> Box | None:
    """The box, in whole-picture coordinates, of the nonzero pixels of the 2-D uint8
    ``array`` that covers ``at`` (OpenCV's bounding rectangle); None when all are zero."""
    return _shift(Box.around(array), at)


def drawn(pixels: np.ndarray) -> np.ndarray:
    """``(h, w)`` bool: where a sketch (``(h, w)`` uint8) has a line, or colour strokes
    (``(h, w, 4)`` uint8 RGBA) a stroke (alpha > 0)."""
    return (pixels if pixels.ndim == 2 else pixels[..., 3]) > 0


def _shift(box: Box | None, by: Box) -> Box | None:
    """``box`` (relative to ``by``'s corner) in whole-picture coordinates."""
    if box is None:
        return None
    return Box(box.top + by.top, box.left + by.left, box.bottom + by.top, box.right + by.left)


def _drawn_bytes(pixels: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint8, not 0 where :func:`drawn` is true (the sketch itself, a view;
    the alpha of colour strokes, a copy), for OpenCV."""
    return pixels if pixels.ndim == 2 else cv2.extractChannel(pixels, 3)


def _tile_parts(area: Box) -> Iterator[Box]:
    """The parts of ``area`` in each :data:`TILE` grid tile it meets, row by row."""
    for top in range(area.top // TILE * TILE, area.bottom, TILE):
        for left in range(area.left // TILE * TILE, area.right, TILE):
            yield Box(max(top, area.top), max(left, area.left), min(top + TILE, area.bottom),
                      min(left + TILE, area.right))


def _joined(parts: list[Box]) -> list[Box]:
    """Rectangles covering exactly ``parts`` (pieces of grid tiles, from :func:`_tile_parts`):
    joined along each row of tiles where they touch, then down where runs line up."""
    rows: dict[int, list[Box]] = {}
    for part in sorted(parts, key=lambda box: (box.top, box.left)):
        runs = rows.setdefault(part.top, [])
        if runs and runs[-1].right == part.left:
            runs[-1] = Box(part.top, runs[-1].left, part.bottom, part.right)
        else:
            runs.append(part)
    rects: list[Box] = []
    above: dict[tuple[int, int], int] = {}  # (left, right) of a run in the row above: index
    for top in sorted(rows):
        here = {}
        for run in rows[top]:
            key = (run.left, run.right)
            index = above.get(key)
            if index is not None and rects[index].bottom == run.top:
                rects[index] = Box(rects[index].top, run.left, run.bottom, run.right)
            else:
                index = len(rects)
                rects.append(run)
            here[key] = index
        above = here
    return rects
