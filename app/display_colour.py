"""Showing pictures in their true colours: the embedded colour profile, converted to sRGB.

Phones save Display P3, cameras often Adobe RGB. Shown as they are, their colours look dull
(a profile with wider primaries means the same numbers stand for more saturated colours).
The editor converts them to sRGB, the space it assumes for the screen, for display only:
the document's pixels, the engines and the saved file keep the original numbers, and the
profile goes back into the saved file (:class:`engines.fileio.ImageMetadata`).

LittleCMS (through Pillow's ``ImageCms``) does the conversion. Qt-free.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageCms

from engines.fileio import srgb_conversion

_BAND_PIXELS = 1 << 20  # pictures above this are converted in bands, on every core


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

    None for no profile, one of another space than RGB, a profile LittleCMS cannot read (the
    picture is then shown as sRGB, as before), or one that keeps every colour of a 17x17x17
    grid within one level (sRGB itself, under whatever name):
    :func:`engines.fileio.srgb_conversion`, which saving without the profile follows too.
    """
    conversion = srgb_conversion(icc_profile)  # the rule saving without a profile follows
    return None if conversion is None else DisplayTransform(*conversion)
