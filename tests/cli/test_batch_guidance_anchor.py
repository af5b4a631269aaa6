"""`batch` guidance for every picture under `--other-sizes anchor`, when it lands wholly off
a smaller picture (an include area fails that picture, naming the file and why; a sketch is
left out, with a note naming the picture); notes on pictures name the pictures, not their
results; each picture's guidance files are looked up once; a run stopped by Ctrl+C says the
notes a finished run says."""

from __future__ import annotations

import numpy as np
import pytest

import cli.batch
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from engines import region as region_module
from engines.fileio import load_image, save_image, save_mask
from tests.cli.stopping import ctrl_c, stop_at_call
from tests.cli.test_cli import run_cli


def noise(shape, seed: int) -> np.ndarray:
    """An ``(*shape, 3)`` uint8 picture of noise (60..199), the same for a ``seed``."""
    return np.random.default_rng(seed).integers(60, 200, (*shape, 3)).astype(np.uint8)


@pytest.fixture
def anchored(tmp_path):
    """Pictures 80x60 and 40x60, a hole near the left edge (it stays put on the smaller
    one) and a layer file holding something only at x 60..78 (off the smaller one)."""
    images = tmp_path / "images"
    images.mkdir()
    save_image(images / "big.png", noise((60, 80), 1))
    save_image(images / "small.png", noise((60, 40), 2))
    hole = np.zeros((60, 80), np.uint8)
    hole[10:30, 6:26] = 255
    save_mask(tmp_path / "hole.png", hole)
    far = np.zeros((60, 80), np.uint8)
    far[5:50, 60:78] = 255
    save_mask(tmp_path / "far.png", far)
    return images, tmp_path / "hole.png", tmp_path / "far.png"


def _anchor(images, hole, out, *extra) -> int:
    return run_cli("batch", "--images", images, "--mask", hole, "-o", out, "--engine",
                   "patchmatch", "--other-sizes", "anchor", *extra)


def test_an_include_area_wholly_off_a_picture_fails_it_saying_why(tmp_path, anchored,
                                                                 capsys):
    images, hole, far = anchored
    out = tmp_path / "out"
    assert _anchor(images, hole, out, "--include", far) == EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"1 written to {out}, 1 failed", "1 failed:"]
    assert lines[2].startswith(f"  small.png: --include {far} lies wholly off this 40x60 "
                               "picture once moved with the mask, so it leaves no pixel to "
                               "sample from")
    assert sorted(p.name for p in out.iterdir()) == ["big.png"]


def test_a_sketch_wholly_off_a_picture_is_left_out_and_noted(tmp_path, anchored, capsys):
    images, hole, far = anchored
    assert _anchor(images, hole, tmp_path / "plain") == EXIT_OK
    capsys.readouterr()
    out = tmp_path / "out"
    assert _anchor(images, hole, out, "--sketch", far) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"2 written to {out}, 0 failed",
        f"note: small.png: --sketch {far} lies wholly off the picture once moved with the "
        "mask: filled without a sketch"]
    assert np.array_equal(load_image(out / "small.png").rgb,  # as filled without one
                          load_image(tmp_path / "plain" / "small.png").rgb)


def test_the_no_sketch_file_note_names_the_pictures(tmp_path, capsys):
    images, sketches = tmp_path / "images", tmp_path / "sketches"
    images.mkdir()
    sketches.mkdir()
    for index, name in enumerate(("a", "b", "c")):
        save_image(images / f"{name}.jpg", noise((40, 50), index))
    hole = np.zeros((40, 50), np.uint8)
    hole[10:20, 15:30] = 255
    save_mask(tmp_path / "hole.png", hole)
    line = np.zeros((40, 50), np.uint8)
    line[15, :] = 255
    save_mask(sketches / "a_sketch.png", line)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--engine", "patchmatch", "--format", ".png", "--sketch",
                   sketches) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"note: 2 pictures (b.jpg, c.jpg): no sketch file in {sketches}: filled without a "
        "sketch"]


def test_each_pictures_guidance_files_are_looked_up_once(tmp_path, monkeypatch, capsys):
    images, sketches = tmp_path / "images", tmp_path / "sketches"
    images.mkdir()
    sketches.mkdir()
    for index in range(3):
        save_image(images / f"p{index}.png", noise((40, 50), index))
    hole = np.zeros((40, 50), np.uint8)
    hole[10:20, 15:30] = 255
    save_mask(tmp_path / "hole.png", hole)
    save_mask(sketches / "p1.png", hole)
    looked_up = []
    named_file = cli.batch.named_file
    monkeypatch.setattr(cli.batch, "named_file",
                        lambda *args, **kwargs: looked_up.append(args[0].name)
                        or named_file(*args, **kwargs))
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o",
                   tmp_path / "out", "--engine", "patchmatch", "--sketch",
                   sketches) == EXIT_OK
    assert sorted(looked_up) == ["p0.png", "p1.png", "p2.png"]
    assert "note: 2 pictures (p0.png, p2.png): no sketch file" in capsys.readouterr().out


def test_a_run_stopped_by_ctrl_c_says_what_the_engine_ignored(tmp_path, anchored,
                                                              monkeypatch, capsys):
    images, hole, _far = anchored
    save_image(images / "third.png", noise((60, 80), 3))
    exclude = tmp_path / "exclude.png"  # not the mask: a file has one use
    exclude.write_bytes(hole.read_bytes())
    stop_at_call(monkeypatch, engines.batch, "save_result", 2, ctrl_c)
    assert run_cli("batch", "--images", images, "--mask", hole, "-o", tmp_path / "out",
                   "--engine", "telea", "--other-sizes", "anchor", "--exclude",
                   exclude) == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == ["note: telea ignored --exclude; patchmatch follows it"]
    assert "interrupted: 1 result written and kept" in printed.err


def test_a_run_stopped_by_ctrl_c_says_the_references_searched_shrunk(tmp_path, anchored,
                                                                     monkeypatch, capsys):
    images, hole, _far = anchored
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    reference = tmp_path / "reference.png"
    save_image(reference, np.full((300, 400, 3), 200, np.uint8))
    stop_at_call(monkeypatch, engines.batch, "save_result", 2, ctrl_c)
    assert run_cli("batch", "--images", images, "--mask", hole, "-o", tmp_path / "out",
                   "--engine", "patchmatch", "--other-sizes", "anchor", "--exemplar",
                   reference) == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    [note] = printed.out.splitlines()
    assert note.startswith(f"note: big.png: --exemplar {reference} (400x300) is searched at ")
    assert "note:" not in printed.err  # not above the bar: with the other notes
