"""The editor's Save keeps the original's encoding (a lossless WebP lossless) also with
Keep Photo Metadata off: only the photo's profile, EXIF and XMP are left out, so every pixel
outside the hole is the original's."""

import numpy as np
from PIL import Image

from app.document import Layer
from engines.fileio import load_image
from tests.cli.test_saved_as_stored import _image_chunk, _picture


def test_save_without_metadata_keeps_a_lossless_webp_lossless(qtbot, window, tmp_path):
    source = tmp_path / "shot.webp"
    Image.fromarray(_picture()).save(source, lossless=True)
    assert window.open_path(source)
    window.engine_panel.auto_run.setChecked(False)
    window.actions["keep_metadata"].setChecked(False)
    assert not window.keep_metadata
    with window.document.step("mask"):
        window.document.paint_segment(Layer.MASK, (30, 25), (50, 25), 4, 255)
    hole = window.document.mask > 0
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.actions["fill"].trigger()
    out = tmp_path / "out.webp"
    assert window.save_as(out)
    assert _image_chunk(out) == b"VP8L"
    saved = load_image(out).rgb
    assert np.array_equal(saved[~hole], _picture()[~hole])
    assert np.array_equal(saved, window.document.image)  # what the canvas showed
