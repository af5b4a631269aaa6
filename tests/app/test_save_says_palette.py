"""Save As to PNG says when it keeps the original PNG's palette or few-bit grey storage
(filled pixels then take the nearest of its colours), and says nothing of it for a format
that keeps full colour."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.app.test_window import shown_window


def _palette_png(path) -> None:
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.dstack([x * 4, y * 5, 255 - x * 2]).astype(np.uint8)
    Image.fromarray(rgb).quantize(colors=64).save(path)


def test_save_as_png_names_the_palette_or_bit_depth_kept(tmp_path, qtbot):
    _palette_png(tmp_path / "palette.png")
    Image.fromarray((np.indices((32, 40)).sum(axis=0) % 2 * 255).astype(np.uint8)).convert(
        "1").save(tmp_path / "bilevel.png")
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(tmp_path / "palette.png")
        with Image.open(tmp_path / "palette.png") as original:
            colours = len(original.getpalette()) // 3
        assert window.save_as(tmp_path / "copy.png")
        assert window.statusBar().currentMessage() == (
            f"Saved {tmp_path / 'copy.png'} on its {colours}-colour palette, as the original")
        with Image.open(tmp_path / "copy.png") as saved:
            assert saved.mode == "P"
        assert window.save_as(tmp_path / "copy.tif")  # full colour: nothing to say
        assert window.statusBar().currentMessage() == f"Saved {tmp_path / 'copy.tif'}"

        assert window.open_path(tmp_path / "bilevel.png")
        assert window.save_as(tmp_path / "bilevel_copy.png")
        assert window.statusBar().currentMessage() == (
            f"Saved {tmp_path / 'bilevel_copy.png'} at 1 bit, black and white, as the "
            "original")
        with Image.open(tmp_path / "bilevel_copy.png") as saved:
            assert saved.mode == "1"
    finally:
        window.worker.shutdown()


def test_save_as_gif_names_the_gif_palette_kept(tmp_path, qtbot):
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.dstack([x * 4, y * 5, 255 - x * 2]).astype(np.uint8)
    Image.fromarray(rgb).quantize(colors=32).save(tmp_path / "palette.gif")
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(tmp_path / "palette.gif")
        with Image.open(tmp_path / "palette.gif") as original:
            palette = original.getpalette()
        assert window.save_as(tmp_path / "copy.gif")
        assert window.statusBar().currentMessage() == (
            f"Saved {tmp_path / 'copy.gif'} on its {len(palette) // 3}-colour palette, as "
            "the original")
        with Image.open(tmp_path / "copy.gif") as saved:
            assert saved.getpalette() == palette  # kept, in its order
        assert window.save_as(tmp_path / "copy.png")  # full colour: nothing to say
        assert window.statusBar().currentMessage() == f"Saved {tmp_path / 'copy.png'}"
    finally:
        window.worker.shutdown()
