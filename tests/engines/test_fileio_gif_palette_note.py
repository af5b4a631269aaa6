"""Opening a GIF says, as opening a palette PNG does, that it is edited in full colour and
saved as GIF on its own palette again, filled pixels taking the nearest of its colours
(:func:`engines.fileio._storage_note`); the note's promise is what saving does."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engines.fileio import load_image, save_result

SAMPLE = "resources/samples/astronaut.jpg"
HOLE = (slice(100, 180), slice(150, 260))
FILL = (200, 30, 160)  # a colour far from the palette's
GIF_NOTE = ("palette image (64 colours), edited in full colour; saving it as GIF keeps its "
            "palette, filled pixels taking the nearest of its colours (saving as PNG or TIFF "
            "keeps them as filled)")
PNG_NOTE = ("palette image (64 colours), edited in full colour; saving it as PNG keeps its "
            "palette, filled pixels taking the nearest of its colours (saving as TIFF keeps "
            "them as filled)")


def _quantised() -> Image.Image:
    return Image.open(SAMPLE).convert("RGB").quantize(64)


def test_a_gif_is_noted_as_a_palette_picture_saved_on_its_palette(tmp_path):
    _quantised().save(tmp_path / "in.gif")
    loaded = load_image(tmp_path / "in.gif")
    assert loaded.notes == (GIF_NOTE,)
    rgb = loaded.rgb.copy()
    rgb[HOLE] = FILL
    saved = save_result(tmp_path / "out.gif", rgb, loaded)
    with Image.open(tmp_path / "in.gif") as before, Image.open(saved) as after:
        assert after.getpalette() == before.getpalette()  # its palette, in its order
        palette = {tuple(c) for c in np.array(before.getpalette()).reshape(-1, 3)}
    again = load_image(saved)
    keep = np.ones(rgb.shape[:2], bool)
    keep[HOLE] = False
    assert np.array_equal(again.rgb[keep], loaded.rgb[keep])
    assert {tuple(c) for c in again.rgb[HOLE].reshape(-1, 3)} <= palette  # the nearest
    assert not np.array_equal(again.rgb[HOLE][0], FILL)
    as_png = load_image(save_result(tmp_path / "out.png", rgb, loaded))  # full colour
    assert (as_png.rgb[HOLE] == FILL).all()


def test_the_gif_note_is_the_palette_pngs_in_its_own_formats(tmp_path):
    _quantised().save(tmp_path / "in.png")
    assert load_image(tmp_path / "in.png").notes == (PNG_NOTE,)


def test_the_note_counts_the_gifs_palette_entries_and_follows_the_frames_note(tmp_path):
    frames = [Image.fromarray(np.full((20, 30, 3), shade, np.uint8)).convert("P")
              for shade in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with Image.open(tmp_path / "anim.gif") as written:
        entries = len(written.getpalette()) // 3
    notes = load_image(tmp_path / "anim.gif").notes
    assert notes[0] == "only the first of its 2 frames is edited and saved"
    assert notes[1].startswith(f"palette image ({entries} colours), edited in full colour; "
                               "saving it as GIF keeps its palette")
