"""The editor shows a GIF's note on opening, as it shows a palette PNG's: edited in full
colour, saved as GIF on its own palette (:func:`engines.fileio._storage_note`)."""

from __future__ import annotations

from PIL import Image

SAMPLE = "resources/samples/astronaut.jpg"


def test_opening_a_gif_says_it_is_saved_on_its_palette(tmp_path, window):
    Image.open(SAMPLE).convert("RGB").quantize(32).save(tmp_path / "in.gif")
    assert window.open_path(tmp_path / "in.gif")
    message = window.statusBar().currentMessage()
    assert "palette image (32 colours), edited in full colour; saving it as GIF keeps its " \
        "palette, filled pixels taking the nearest of its colours" in message
    assert window.document.notes == (
        "palette image (32 colours), edited in full colour; saving it as GIF keeps its "
        "palette, filled pixels taking the nearest of its colours (saving as PNG or TIFF "
        "keeps them as filled)",)
