"""`inpaint --color FILE`: colour strokes painted in the hole (an RGBA PNG, opaque = painted)
steer the fill's colours; a file that cannot be colour strokes is one clear line, and an
engine that ignores them says so."""

from __future__ import annotations

import numpy as np
import pytest

import main
from engines import registry
from engines.base import Engine, RegionStage
from engines.fileio import load_image, save_colour_strokes, save_image, save_mask

H, W = 64, 96
RED = (230, 20, 20, 255)


@pytest.fixture
def grey(tmp_path):
    """A noisy grey picture with a 24x32 hole in the middle, and a red stroke across the
    hole (far from the hole's edge); returns the folder, the picture and the hole, bool."""
    rng = np.random.default_rng(4)
    values = rng.normal(128, 6, (H, W)).clip(0, 255).astype(np.uint8)
    image = np.repeat(values[..., None], 3, axis=2)
    mask = np.zeros((H, W), np.uint8)
    mask[20:44, 32:64] = 255
    strokes = np.zeros((H, W, 4), np.uint8)
    strokes[29:35, 38:58] = RED
    save_image(tmp_path / "photo.png", image)
    save_mask(tmp_path / "mask.png", mask)
    save_colour_strokes(tmp_path / "strokes.png", strokes)
    return tmp_path, image, mask > 0


def _inpaint(folder, engine: str, *extra) -> tuple[int, np.ndarray | None]:
    out = folder / "out.png"
    code = main.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"),
                      "-o", str(out), "--engine", engine, "--overwrite",
                      *[str(a) for a in extra]])
    return code, load_image(out).rgb if code == 0 else None


def _redness(result: np.ndarray, hole: np.ndarray) -> float:
    """How much redder than green the hole is on average (0 for grey)."""
    pixels = result[hole].astype(np.float64)
    return float((pixels[:, 0] - pixels[:, 1]).mean())


@pytest.mark.parametrize("engine", ["patchmatch", "telea"])
def test_a_red_stroke_makes_the_fill_red_there_and_nothing_else_changes(grey, engine, capsys):
    folder, image, hole = grey
    code, plain = _inpaint(folder, engine)
    assert code == 0 and abs(_redness(plain, hole)) < 5  # grey, as the picture
    code, hinted = _inpaint(folder, engine, "--color", folder / "strokes.png")
    assert code == 0
    assert _redness(hinted, hole) > _redness(plain, hole) + 30
    stroke = np.zeros((H, W), bool)
    stroke[29:35, 38:58] = True
    assert _redness(hinted, hole & stroke) > 100  # the stroke's colour, about 210
    assert np.array_equal(hinted[~hole], image[~hole])
    assert "ignored" not in capsys.readouterr().out  # both follow colour strokes


def test_colour_spelled_the_british_way_is_the_same_option(grey):
    folder, _, hole = grey
    _, american = _inpaint(folder, "telea", "--color", folder / "strokes.png")
    _, british = _inpaint(folder, "telea", "--colour", folder / "strokes.png")
    assert _redness(british, hole) > 30 and np.array_equal(british, american)


def _run_refused(folder, capsys, strokes: str) -> str:
    """Run with ``--color strokes``; checks it is refused with one line and no result,
    and returns that line."""
    code, _ = _inpaint(folder, "telea", "--color", folder / strokes)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (folder / "out.png").exists()
    return err.strip()


def test_strokes_of_another_size_are_refused(grey, capsys):
    folder, _, _ = grey
    save_colour_strokes(folder / "small.png", np.full((40, 50, 4), 255, np.uint8))
    assert _run_refused(folder, capsys, "small.png") == (
        f"error: {folder / 'small.png'}: the colour strokes are 50x40 but the image is "
        f"{W}x{H}; they must be the same size")


def test_a_file_without_transparency_is_refused_saying_what_to_give(grey, capsys):
    folder, _, _ = grey
    save_image(folder / "opaque.png", np.full((H, W, 3), 200, np.uint8))
    line = _run_refused(folder, capsys, "opaque.png")
    assert line.startswith(f"error: {folder / 'opaque.png'}: has no transparency")
    assert "a PNG with transparency" in line and "painted strokes opaque" in line


def test_an_empty_strokes_file_is_refused(grey, capsys):
    folder, _, _ = grey
    save_colour_strokes(folder / "none.png", np.zeros((H, W, 4), np.uint8))
    assert _run_refused(folder, capsys, "none.png") == (
        f"error: {folder / 'none.png'}: holds no colour strokes (every pixel is fully "
        "transparent)")


def test_a_damaged_strokes_file_is_refused(grey, capsys):
    folder, _, _ = grey
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    assert f"{folder / 'broken.png'}: not an image file" in _run_refused(folder, capsys,
                                                                          "broken.png")


def test_the_result_never_replaces_the_strokes_file(grey, capsys):
    folder, _, _ = grey
    before = (folder / "strokes.png").read_bytes()
    code = main.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"),
                      "-o", str(folder / "strokes.png"), "--engine", "telea", "--overwrite",
                      "--color", str(folder / "strokes.png")])
    assert code == 2 and "strokes.png" in capsys.readouterr().err
    assert (folder / "strokes.png").read_bytes() == before


class Flat(Engine):
    """An engine that takes no guidance: fills the hole flat grey."""

    name, title = "flat", "Flat grey"

    def inpaint_region(self, region, cancel):
        yield RegionStage("final", np.full_like(region.image, 128), 1.0, final=True)


def test_an_engine_that_ignores_colour_strokes_says_so(grey, capsys, monkeypatch):
    monkeypatch.setitem(registry._ENGINES, "flat", Flat)
    folder, _, hole = grey
    code, result = _inpaint(folder, "flat", "--color", folder / "strokes.png")
    out = capsys.readouterr().out
    assert code == 0 and abs(_redness(result, hole)) < 2  # grey: the strokes were ignored
    # the engine following the most guidance first, not the first registered (telea)
    assert "note: flat ignored --color; patchmatch follows it (telea and ns too)\n" in out
    strokes = np.zeros((H, W, 4), np.uint8)
    strokes[2:6, 2:20] = RED  # painted for another hole, far from this one: nothing to say
    save_colour_strokes(folder / "elsewhere.png", strokes)
    code, _ = _inpaint(folder, "flat", "--color", folder / "elsewhere.png")
    assert code == 0 and "ignored" not in capsys.readouterr().out
