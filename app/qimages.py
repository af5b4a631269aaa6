"""Numpy arrays as Qt images: zero-copy wrappers for painting and owned pixmaps for widgets."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage, QPixmap


def wrap_buffer(array: np.ndarray, fmt: QImage.Format) -> QImage:
    """Wrap a ``(h, w, 4)`` uint8 buffer without copying (keep ``array`` alive while used)."""
    return QImage(array.data, array.shape[1], array.shape[0], array.strides[0], fmt)


def rgb_pixmap(rgb: np.ndarray, longest: int | None = None) -> QPixmap:
    """A QPixmap of ``(H, W, 3)`` uint8 RGB, scaled (area-averaged) so its longest side is at
    most ``longest`` pixels when given."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    height, width = rgb.shape[:2]
    if longest is not None and max(height, width) > longest:
        factor = longest / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # the copy owns its pixels
