"""Label maps on disk: indexed (palette) PNG files whose pixel values are the class ids.

A label map is ``(H, W)`` uint8, ``255`` = unlabelled. :func:`save_label_png` writes it as a
``P``-mode PNG: pixel value = class id, palette entry ``i`` = the class colour (``255`` is
:data:`~engines.segmentation.labels.UNLABELLED_COLOUR`), and a text chunk naming the label
set. Any program shows the colours; any program reading the raw indices gets the ids.

:func:`load_label_png` reads ids from a palette PNG or an 8-bit grey PNG (values are ids, as
dataset annotations are stored). An RGB(A) PNG is accepted only when a label set is given and
every pixel has exactly one of its colours (a palette PNG flattened by an image editor).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from engines.base import UNLABELLED, InputError
from engines.fileio import other_size_reason, read_file_bytes, write_atomic
from engines.segmentation.base import LabelSet
from engines.segmentation.labels import UNLABELLED_COLOUR

LABEL_SET_KEY = "inpaint-studio-label-set"  # PNG text chunk: the label set's name


class LabelMapError(InputError):
    """A label map or label file is unusable; the message is for the user (one line)."""


def palette_table(label_set: LabelSet) -> np.ndarray:
    """``(256, 3)`` uint8: row ``i`` is the colour of id ``i``; ids the set lacks and
    ``255`` get :data:`UNLABELLED_COLOUR`."""
    table = np.empty((256, 3), np.uint8)
    table[:] = UNLABELLED_COLOUR
    table[:len(label_set)] = label_set.palette[:255]
    return table


def colorize(labels: np.ndarray, label_set: LabelSet) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB picture of a label map in the set's colours."""
    return palette_table(label_set)[_checked_map(labels)]


def _checked_map(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise LabelMapError(f"a label map is (H, W) uint8, got {labels.dtype} of shape "
                            f"{labels.shape}")
    return labels


def _unknown_ids(labels: np.ndarray, label_set: LabelSet) -> list[int]:
    present = np.flatnonzero(np.bincount(labels.ravel(), minlength=256))
    return [int(i) for i in present if i >= len(label_set) and i != UNLABELLED]


def _describe_ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:8]))
    return shown + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")


def check_label_ids(labels: np.ndarray, label_set: LabelSet,
                    what: str = "the label map") -> None:
    """Raise :class:`LabelMapError` when the ``(H, W)`` uint8 ``labels`` hold ids that
    ``label_set`` does not have (255, unlabelled, is always allowed): ``"{what} has ids 7,
    which the label set 'stripes' (ids 0-1) does not have"``."""
    unknown = _unknown_ids(labels, label_set)
    if unknown:
        raise LabelMapError(f"{what} has ids {_describe_ids(unknown)}, which the label set "
                            f"{label_set.name!r} (ids 0-{len(label_set) - 1}) does not have")


def encode_label_png(labels: np.ndarray, label_set: LabelSet) -> bytes:
    """The bytes of an indexed PNG of ``labels`` (see the module docstring).

    Raises :class:`LabelMapError` for ids outside ``label_set`` (other than 255).
    """
    labels = _checked_map(labels)
    check_label_ids(labels, label_set)
    height, width = labels.shape
    picture = Image.frombytes("P", (width, height), np.ascontiguousarray(labels).tobytes())
    picture.putpalette(palette_table(label_set).ravel().tolist())
    info = PngImagePlugin.PngInfo()
    info.add_text(LABEL_SET_KEY, label_set.name)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=6)
    return buffer.getvalue()


def save_label_png(path: str | os.PathLike, labels: np.ndarray, label_set: LabelSet,
                   overwrite: bool = False) -> Path:
    """Write ``labels`` as an indexed PNG at ``path``, atomically.

    Raises :class:`LabelMapError` for a name not ending in ``.png`` or ids the set lacks,
    :class:`FileExistsError` if ``path`` exists and not ``overwrite``, :class:`OSError`.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise LabelMapError(f"{path.name}: label maps are saved as .png (indexed colour)")
    return write_atomic(path, encode_label_png(labels, label_set), overwrite)


def label_set_name(path: str | os.PathLike) -> str | None:
    """The label set name stored in a PNG written by :func:`save_label_png`, else None."""
    try:
        with Image.open(path) as picture:
            return picture.info.get(LABEL_SET_KEY)
    except (UnidentifiedImageError, OSError):
        return None


_MODE_WORDS = {
    "1": "black-and-white (1-bit)", "LA": "grey with transparency",
    "PA": "indexed with transparency", "I": "32-bit integer", "F": "floating-point",
    "RGB": "colour (RGB)", "RGBA": "colour (RGBA)", "CMYK": "CMYK", "YCbCr": "YCbCr",
    "LAB": "Lab", "HSV": "HSV",
}


def describe_mode(mode: str) -> str:
    """Pillow image ``mode`` in words for a message ("I;16" -> "16-bit grey")."""
    if mode.startswith("I;16"):
        return "16-bit grey"
    return _MODE_WORDS.get(mode, mode)


def _ids_from_colours(rgba: np.ndarray, label_set: LabelSet, name: str) -> np.ndarray:
    colours = [tuple(int(v) for v in c) for c in label_set.palette] + [UNLABELLED_COLOUR]
    ids = [*range(len(label_set)), UNLABELLED]
    owners: dict[int, list[int]] = {}
    for class_id, (r, g, b) in zip(ids, colours):
        owners.setdefault((r << 16) | (g << 8) | b, []).append(class_id)
    packed = ((rgba[..., 0].astype(np.uint32) << 16) | (rgba[..., 1].astype(np.uint32) << 8)
              | rgba[..., 2].astype(np.uint32))
    if rgba.shape[2] == 4:
        packed[rgba[..., 3] == 0] = (UNLABELLED_COLOUR[0] << 16) | (UNLABELLED_COLOUR[1] << 8) \
            | UNLABELLED_COLOUR[2]
    values, inverse = np.unique(packed.ravel(), return_inverse=True)
    lookup = np.empty(len(values), np.uint8)
    for index, value in enumerate(values):
        candidates = owners.get(int(value))
        if not candidates:
            rgb = f"#{int(value):06x}"
            raise LabelMapError(f"{name} is an RGB picture with colour {rgb}, which is not in "
                                f"the {label_set.name!r} palette; save label maps as indexed "
                                "(palette) PNG whose pixel values are class ids")
        if len(candidates) > 1:
            raise LabelMapError(f"{name}: colour #{int(value):06x} belongs to several classes "
                                f"of {label_set.name!r}; use an indexed PNG instead")
        lookup[index] = candidates[0]
    return lookup[inverse].reshape(packed.shape)


def decode_label_png(data: bytes, label_set: LabelSet | None = None,
                     name: str = "the label map") -> np.ndarray:
    """Class ids ``(H, W)`` uint8 from the bytes of a label PNG (see the module docstring).

    With ``label_set``, ids it lacks (other than 255) are refused. Raises
    :class:`LabelMapError` with a one-line reason.
    """
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format != "PNG":
                raise LabelMapError(f"{name} is a {picture.format} file; label maps are PNG")
            mode = picture.mode
            if mode in ("P", "L"):
                labels = np.array(picture, dtype=np.uint8)
            elif mode in ("RGB", "RGBA"):
                if label_set is None:
                    raise LabelMapError(f"{name} is an RGB picture, not a label map: save it as "
                                        "an indexed (palette) PNG whose pixel values are ids")
                labels = _ids_from_colours(np.array(picture), label_set, name)
            else:
                raise LabelMapError(f"{name} is a {describe_mode(mode)} PNG; label maps are "
                                    "indexed (palette) "
                                    "or 8-bit grey PNG files whose pixel values are class ids")
    except UnidentifiedImageError:  # its message names an in-memory buffer: say ours
        what = "an empty file" if not data else "not a picture this program can read"
        raise LabelMapError(f"{name} is not a readable PNG ({what})") from None
    except (OSError, SyntaxError) as exc:
        raise LabelMapError(f"{name} is not a readable PNG ({exc})") from None
    if label_set is not None:
        check_label_ids(labels, label_set, name)
    return np.ascontiguousarray(labels)


def load_label_png(path: str | os.PathLike, shape: tuple[int, int] | None = None,
                   label_set: LabelSet | None = None, name: str | None = None) -> np.ndarray:
    """Read a label map file: ``(H, W)`` uint8 class ids, 255 = unlabelled.

    ``shape`` = ``(H, W)`` refuses a map of another size (the message gives both sizes).
    Raises :class:`LabelMapError`, or :class:`~engines.fileio.ImageFileError` (an
    :class:`OSError`) when the file cannot be read, saying why as the picture readers do
    (``"is a folder, not an image"``). The messages name the file as ``name`` (default: its
    file name; the editor gives its full path).
    """
    path = Path(path)
    name = path.name if name is None else name
    labels = decode_label_png(read_file_bytes(path), label_set, name)
    if shape is not None:
        require_label_size(labels, shape, name)
    return labels


def require_label_size(labels: np.ndarray, shape: tuple[int, int], name: str) -> None:
    """Raise :class:`LabelMapError` (naming the file ``name`` and both sizes) unless the
    ``(H, W)`` label map ``labels`` is the picture's ``shape`` ``(H, W)``."""
    if labels.shape != tuple(shape[:2]):
        raise LabelMapError(f"{name}: " + other_size_reason(
            "label map", labels.shape[1], labels.shape[0], shape))
