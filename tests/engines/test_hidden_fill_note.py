"""A fill whose hole lies over fully transparent pixels only is said not to be visible
(:func:`engines.guidance.fill_notes`, QA audit 25 F7): ``inpaint`` prints it as a ``note:``
line, the editor after its fill; a hole that reaches a visible pixel, or a picture without
transparency, gets no such note."""

from __future__ import annotations

import numpy as np
import pytest

import main
from engines.base import InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.fileio import load_image, save_image, save_mask
from engines.guidance import HIDDEN_FILL_NOTE, fill_notes
from engines.registry import create


def _picture() -> tuple[np.ndarray, np.ndarray]:
    """A 48x64 picture, RGB noise, whose left half is fully transparent (black under it)."""
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    alpha = np.full((48, 64), 255, np.uint8)
    alpha[:, :32] = 0
    rgb[:, :32] = 0
    return rgb, alpha


def _mask(left: int, right: int) -> np.ndarray:
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, left:right] = 255
    return mask


@pytest.mark.parametrize("engine", ["patchmatch", "telea"])
def test_a_hole_over_transparent_pixels_only_is_noted(engine):
    rgb, alpha = _picture()
    hidden = InpaintRequest(rgb, _mask(8, 24), alpha=alpha)
    assert fill_notes(hidden, create(engine), []) == [HIDDEN_FILL_NOTE]
    across = InpaintRequest(rgb, _mask(24, 40), alpha=alpha)  # reaches visible pixels
    assert fill_notes(across, create(engine), []) == []
    assert fill_notes(InpaintRequest(rgb, _mask(8, 24)), create(engine), []) == []


def test_a_feathered_edge_over_a_visible_pixel_is_visible():
    rgb, alpha = _picture()
    mask = _mask(8, 24)
    mask[20, 32] = 60  # a soft edge pixel, blended in part, over an opaque pixel
    assert fill_notes(InpaintRequest(rgb, mask, alpha=alpha), PatchMatchEngine(), []) == []


def test_inpaint_prints_the_note(tmp_path, capsys):
    rgb, alpha = _picture()
    save_image(tmp_path / "rgba.png", rgb, alpha)
    save_mask(tmp_path / "mask.png", _mask(8, 24))
    out = tmp_path / "out.png"
    assert main.main(["inpaint", str(tmp_path / "rgba.png"), str(tmp_path / "mask.png"),
                      "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"note: {HIDDEN_FILL_NOTE}\n" in printed
    assert np.array_equal(load_image(out).alpha, alpha)  # the hole stays invisible
