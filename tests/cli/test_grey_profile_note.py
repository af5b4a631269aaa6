"""`inpaint` on a black-and-white photo with a grey colour profile: a fill that adds colour
(colour strokes) writes the result in RGB, where the grey profile cannot go; the CLI says so
in one note. A fill that stays grey keeps the profile, without a note."""

from __future__ import annotations

import numpy as np
from PIL import Image

import main
from engines.fileio import save_colour_strokes, save_mask
from tests.photos import grey_profile

H, W = 48, 64
NOTE = "note: the grey colour profile was left out: the picture has colour now"


def _grey_photo_with_profile(folder):
    rng = np.random.default_rng(2)
    grey = rng.normal(128, 6, (H, W)).clip(0, 255).astype(np.uint8)
    Image.fromarray(grey, "L").save(folder / "bw.png", icc_profile=grey_profile())
    mask = np.zeros((H, W), np.uint8)
    mask[16:32, 20:44] = 255
    save_mask(folder / "mask.png", mask)
    strokes = np.zeros((H, W, 4), np.uint8)
    strokes[22:26, 24:40] = (230, 20, 20, 255)
    save_colour_strokes(folder / "red.png", strokes)
    return grey, mask > 0


def _inpaint(folder, output: str, *extra: str) -> int:
    return main.main(["inpaint", str(folder / "bw.png"), str(folder / "mask.png"),
                      "-o", str(folder / output), "--engine", "telea", *extra])


def test_a_fill_that_adds_colour_says_the_grey_profile_was_left_out(tmp_path, capsys):
    grey, hole = _grey_photo_with_profile(tmp_path)
    assert _inpaint(tmp_path, "colour.png", "--color", str(tmp_path / "red.png")) == 0
    out = capsys.readouterr().out
    assert out.count(NOTE) == 1 and "saved as sRGB" in out
    with Image.open(tmp_path / "colour.png") as saved:
        assert saved.mode == "RGB" and "icc_profile" not in saved.info
        stored = np.asarray(saved)
    assert np.array_equal(stored[~hole], np.dstack([grey] * 3)[~hole])  # numbers kept
    red = stored[hole].astype(int)
    assert (red[:, 0] - red[:, 1]).max() > 100


def test_a_fill_that_stays_grey_keeps_the_profile_without_a_note(tmp_path, capsys):
    _grey_photo_with_profile(tmp_path)
    assert _inpaint(tmp_path, "grey.png") == 0
    assert "colour profile" not in capsys.readouterr().out
    with Image.open(tmp_path / "grey.png") as saved:
        assert saved.mode == "L" and saved.info.get("icc_profile") == grey_profile()


def test_no_profile_note_when_the_metadata_is_stripped(tmp_path, capsys):
    _grey_photo_with_profile(tmp_path)
    assert _inpaint(tmp_path, "colour.png", "--color", str(tmp_path / "red.png"),
                    "--strip-metadata") == 0
    assert "colour profile" not in capsys.readouterr().out


def test_a_webp_result_says_the_grey_profile_was_left_out(tmp_path, capsys):
    _grey_photo_with_profile(tmp_path)
    assert _inpaint(tmp_path, "grey.webp") == 0
    assert "note: the grey colour profile was left out: .webp files are written in colour " \
        "(RGB) here" in capsys.readouterr().out
