"""``inpaint`` and ``batch`` on a picture with transparency: the colour stored under fully
transparent pixels (black here) does not bleed into the visible fill, and nothing outside
the hole changes, alpha and the colour under transparent pixels included."""

from __future__ import annotations

import numpy as np
import pytest

import main
from engines.fileio import load_image, save_image, save_mask
from tests.engines.test_transparent_sources import DARK, _picture


def run_cli(*argv) -> int:
    return main.main([str(a) for a in argv])


@pytest.mark.parametrize("command", ["inpaint", "batch"])
def test_the_fill_of_a_transparent_png_takes_no_black(tmp_path, command, capsys):
    image, alpha, mask = _picture()
    (tmp_path / "in").mkdir()
    save_image(tmp_path / "in" / "cut.png", image, alpha)
    save_mask(tmp_path / "mask.png", mask)
    if command == "inpaint":
        out = tmp_path / "out.png"
        argv = ["inpaint", tmp_path / "in" / "cut.png", tmp_path / "mask.png", "-o", out]
    else:
        out = tmp_path / "out" / "cut.png"
        argv = ["batch", "--images", tmp_path / "in", "--mask", tmp_path / "mask.png",
                "-o", tmp_path / "out"]
    assert run_cli(*argv, "--engine", "telea") == 0, capsys.readouterr().err
    result = load_image(out)
    assert np.array_equal(result.alpha, alpha)
    assert np.array_equal(result.rgb[mask == 0], image[mask == 0])
    visible = (mask == 255) & (alpha == 255)
    assert int((result.rgb[visible].max(axis=1) < DARK).sum()) == 0

