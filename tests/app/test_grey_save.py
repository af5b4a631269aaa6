"""The editor's Save As writes a black-and-white photo back as a grey file."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engines import registry
from engines.base import InpaintRequest
from tests.app.test_window import shown_window


def test_save_as_writes_an_edited_grey_photo_grey(tmp_path, qtbot):
    y, x = np.mgrid[0:60, 0:80]
    grey = (30 + 2 * x + y).astype(np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "bw.tif")
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(tmp_path / "bw.tif")
        doc = window.document
        hole = np.zeros((60, 80), np.uint8)
        hole[20:40, 30:50] = 255
        fill = [*registry.create("telea").run(InpaintRequest(doc.image, hole))][-1].image
        doc.apply_result(fill, used_mask=hole)
        assert window.save_as(tmp_path / "out.tif") and window.save_as(tmp_path / "out.jpg")
        with Image.open(tmp_path / "out.tif") as saved:
            assert saved.mode == "L"
            stored = np.asarray(saved)
        assert np.array_equal(stored[hole == 0], grey[hole == 0])
        assert np.array_equal(stored, doc.image[..., 0]) and (stored != grey).any()
        with Image.open(tmp_path / "out.jpg") as saved:
            assert saved.mode == "L"
        coloured = doc.image.copy()
        coloured[25:35, 35:45] = (220, 60, 20)
        doc.apply_result(coloured)
        assert window.save()  # to out.jpg, the last name saved to
        with Image.open(tmp_path / "out.jpg") as saved:
            assert saved.mode == "RGB"
    finally:
        window.worker.shutdown()
