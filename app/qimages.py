"""Numpy arrays as Qt images: zero-copy wrappers for painting and owned pixmaps for widgets."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage, QPixmap


def wrap_buffer(array: np.ndarray, fmt: QImage.Format) -> QImage:
    """Wrap a ``(h, w, 4)`` uint8 buffer without copying (keep ``array`` alive while used)."""
    return QImage(array.data, array.shape[1], array.shape[0], array.strides[0], fmt)


def scaled_rgb(rgb: np.ndarray, longest: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB scaled (area-averaged) so its longest side is at most
    ``longest`` pixels, contiguous. Qt-free: any thread may make it (a 100-megapixel photo
    takes a moment)."""
    height, width = rgb.shape[:2]
    if max(height, width) <= longest:
        return np.ascontiguousarray(rgb, np.uint8)
    factor = longest / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def rgb_pixmap(rgb: np.ndarray, longest: int | None = None) -> QPixmap:
    """A QPixmap of ``(H, W, 3)`` uint8 RGB, scaled (area-averaged) so its longest side is at
    most ``longest`` pixels when given (:func:`scaled_rgb`)."""
    rgb = (np.ascontiguousarray(rgb, np.uint8) if longest is None
           else scaled_rgb(rgb, longest))
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # the copy owns its pixels
