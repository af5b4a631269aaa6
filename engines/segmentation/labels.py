"""Label sets shipped in ``resources/labels/`` and display palettes.

A label file is UTF-8 text, one class a line: ``index<TAB>name[<TAB>#rrggbb]``. Indices must
run 0, 1, 2... in order; the colour column is optional (all lines or none), and a file without
it gets :func:`generated_palette`. ``255`` is never a class: it marks unlabelled pixels, shown
in :data:`UNLABELLED_COLOUR`.
"""

from __future__ import annotations

import colorsys
import functools
from pathlib import Path

import numpy as np

from engines.segmentation.base import LabelSet

LABELS_DIR = Path(__file__).resolve().parents[2] / "resources" / "labels"
UNLABELLED_COLOUR = (128, 128, 128)  # neutral grey; generated palettes are never grey
MAX_CLASSES = 255  # ids 0..254; 255 is UNLABELLED
# the most regions the colour-regions parser makes (engines.segmentation.regions); here, where
# the CLI reads it for --regions without loading numba
MAX_REGIONS = 254

_GOLDEN = 0.618033988749895
_SATURATIONS = (0.85, 0.55, 1.0)
_VALUES = (0.95, 0.7, 0.5)


def generated_palette(count: int) -> np.ndarray:
    """``(count, 3)`` uint8 RGB colours, well apart in hue and never grey.

    Hues step by the golden angle; saturation and brightness cycle through three levels so
    neighbouring ids differ in more than hue. Deterministic.
    """
    colours = np.empty((count, 3), np.uint8)
    for i in range(count):
        hue = (i * _GOLDEN) % 1.0
        saturation = _SATURATIONS[i % 3]
        value = _VALUES[(i // 3) % 3]
        rgb = colorsys.hsv_to_rgb(hue, saturation, value)
        colours[i] = [round(c * 255) for c in rgb]
    return colours


def _parse_colour(text: str, where: str) -> tuple[int, int, int]:
    if len(text) != 7 or not text.startswith("#"):
        raise ValueError(f"{where}: colour {text!r} is not #rrggbb")
    try:
        value = int(text[1:], 16)
    except ValueError:
        raise ValueError(f"{where}: colour {text!r} is not #rrggbb") from None
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def read_label_tsv(path: str | Path, name: str | None = None) -> LabelSet:
    """Read a label file (see the module docstring) into a :class:`LabelSet`.

    ``name`` defaults to the file's stem. Raises :class:`ValueError` naming the line at fault.
    """
    path = Path(path)
    names: list[str] = []
    colours: list[tuple[int, int, int]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[1].strip():
            raise ValueError(f"{where}: expected 'index<TAB>name[<TAB>#rrggbb]'")
        if fields[0] != str(len(names)):
            raise ValueError(f"{where}: expected index {len(names)}, got {fields[0]!r}")
        names.append(fields[1].strip())
        if len(fields) == 3:
            colours.append(_parse_colour(fields[2].strip(), where))
    if not names or len(names) > MAX_CLASSES:
        raise ValueError(f"{path.name}: a label set has 1 to {MAX_CLASSES} classes, "
                         f"got {len(names)}")
    if colours and len(colours) != len(names):
        raise ValueError(f"{path.name}: either every line has a colour or none does")
    palette = np.array(colours, np.uint8) if colours else generated_palette(len(names))
    return LabelSet(name or path.stem, tuple(names), palette)


@functools.cache
def bundled_label_set(file_stem: str, name: str) -> LabelSet:
    """The label set of ``resources/labels/<file_stem>.tsv``, named ``name`` (cached)."""
    return read_label_tsv(LABELS_DIR / f"{file_stem}.tsv", name)


def numbered_label_set(name: str, prefix: str, count: int) -> LabelSet:
    """A label set of generic names ``"<prefix> 0"`` .. ``"<prefix> <count - 1>"``: each
    name carries its id, as the legend and the CLI show them side by side."""
    names = tuple(f"{prefix} {i}" for i in range(count))
    return LabelSet(name, names, generated_palette(count))
