"""Save As to JPEG says the quality it wrote: the original JPEG's, estimated from its
quantisation tables, or the default for pictures that were no JPEG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engines.fileio import DEFAULT_QUALITY, estimate_jpeg_quality
from tests.app.test_window import shown_window


def _photo() -> np.ndarray:
    y, x = np.mgrid[0:64, 0:96]
    return np.dstack([40 + x, 60 + y, 200 - (x + y) // 3]).astype(np.uint8)


def test_save_as_jpeg_names_the_quality_written(tmp_path, qtbot):
    Image.fromarray(_photo()).save(tmp_path / "q70.jpg", quality=70)
    Image.fromarray(_photo()).save(tmp_path / "lossless.png")
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(tmp_path / "q70.jpg")
        assert window.save_as(tmp_path / "copy.jpg")
        assert window.statusBar().currentMessage() == (
            f"Saved {tmp_path / 'copy.jpg'} at JPEG quality 70, the original's")
        with Image.open(tmp_path / "copy.jpg") as saved:
            assert estimate_jpeg_quality(saved.quantization) == 70
        assert window.save_as(tmp_path / "copy.png")  # no quality for a lossless file
        assert window.statusBar().currentMessage() == f"Saved {tmp_path / 'copy.png'}"

        assert window.open_path(tmp_path / "lossless.png")
        assert window.save_as(tmp_path / "from_png.jpg")
        assert window.statusBar().currentMessage() == (
            f"Saved {tmp_path / 'from_png.jpg'} at JPEG quality {DEFAULT_QUALITY}")
        with Image.open(tmp_path / "from_png.jpg") as saved:
            assert estimate_jpeg_quality(saved.quantization) == DEFAULT_QUALITY
    finally:
        window.worker.shutdown()
