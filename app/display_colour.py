"""Showing pictures in their true colours: the embedded colour profile, converted to sRGB.

Phones save Display P3, cameras often Adobe RGB. Shown as they are, their colours look dull
(a profile with wider primaries means the same numbers stand for more saturated colours).
The editor converts them to sRGB, the space it assumes for the screen, for display only:
the document's pixels, the engines and the saved file keep the original numbers, and the
profile goes back into the saved file (:class:`engines.fileio.ImageMetadata`).

LittleCMS (through Pillow's ``ImageCms``) does the conversion. Qt-free.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageCms

_BAND_PIXELS = 1 << 20  # pictures above this are converted in bands, on every core
_GRID = np.linspace(0, 255, 17).round().astype(np.uint8)  # colours tried for identity


class DisplayTransform:
    """Converts ``(h, w, 3)`` uint8 RGB in a profile's colour space to uint8 sRGB."""

    def __init__(self, transform: ImageCms.ImageCmsTransform, description: str) -> None:
        self._transform = transform
        self.description = description

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """A converted copy of ``rgb`` ``(h, w, 3)`` uint8 (C-contiguous or not)."""
        if rgb.shape[0] * rgb.shape[1] <= _BAND_PIXELS:
            return self._convert(rgb)
        bands = np.array_split(rgb, min(os.cpu_count() or 1, 8) * 2)
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # LittleCMS releases the GIL
            return np.concatenate(list(pool.map(self._convert, bands)))

    def _convert(self, rgb: np.ndarray) -> np.ndarray:
        picture = Image.fromarray(np.ascontiguousarray(rgb))
        ImageCms.applyTransform(picture, self._transform, inPlace=True)
        return np.asarray(picture)


def display_transform(icc_profile: bytes | None) -> DisplayTransform | None:
    """The conversion from ``icc_profile`` to sRGB, or None where none is needed or possible.

    None for no profile, a profile LittleCMS cannot read (the picture is then shown as sRGB,
    as before), or one that keeps every colour of a 17x17x17 grid within one level (sRGB
    itself, under whatever name).
    """
    if not icc_profile:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB",
                                            "RGB", ImageCms.Intent.RELATIVE_COLORIMETRIC)
        description = ImageCms.getProfileDescription(source).strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    converter = DisplayTransform(transform, description or "embedded profile")
    grid = np.stack(np.meshgrid(_GRID, _GRID, _GRID, indexing="ij"), -1).reshape(1, -1, 3)
    if np.abs(converter(grid).astype(np.int16) - grid).max() <= 1:
        return None
    return converter
