"""An include area that lands on a picture but covers only hole pixels leaves nothing to
sample from: `inpaint PICTURE MASK --include FILE` refuses it (Guided PatchMatch's "no
source left"), and `batch` fails that picture alone with the same reason, listed with the
other failed pictures, whether the include area is a file for every picture, one moved onto
a smaller picture with the mask, or the picture's own file in a folder. With a reference
photo there is a source left: both fill, saying nothing."""

from __future__ import annotations

import numpy as np
import pytest

from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from engines.fileio import load_image, load_mask, save_image, save_mask
from tests.cli.test_batch_guidance_anchor import anchored as anchored  # a fixture, used by name
from tests.cli.test_batch_guidance_anchor import noise
from tests.cli.test_cli import run_cli

REFUSAL = ("no source left for Guided PatchMatch: the hole and the sampling area (an excluded "
           "area, or the outside of an include area) leave no pixel to copy; widen the "
           "sampling area or add a reference photo")


@pytest.fixture
def files(tmp_path):
    """Pictures a.png and b.png (60x80), a hole, an include area inside it only, and one
    that also covers pixels outside it."""
    images = tmp_path / "images"
    images.mkdir()
    save_image(images / "a.png", noise((60, 80), 1))
    save_image(images / "b.png", noise((60, 80), 2))
    hole = np.zeros((60, 80), np.uint8)
    hole[20:40, 30:50] = 255
    save_mask(tmp_path / "hole.png", hole)
    inside = np.zeros((60, 80), np.uint8)
    inside[25:35, 35:45] = 255
    save_mask(tmp_path / "inside.png", inside)
    wider = np.zeros((60, 80), np.uint8)
    wider[10:50, 20:60] = 255
    save_mask(tmp_path / "wider.png", wider)
    return images, tmp_path / "hole.png", tmp_path / "inside.png", tmp_path / "wider.png"


def test_inpaint_refuses_an_include_area_inside_the_hole(tmp_path, files, capsys):
    images, hole, inside, _wider = files
    out = tmp_path / "a-filled.png"
    assert run_cli("inpaint", images / "a.png", hole, "--include", inside, "-o", out,
                   "--engine", "patchmatch") == EXIT_USAGE
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {REFUSAL}"
    assert not out.exists()


def test_batch_fails_each_picture_its_include_file_leaves_no_source(tmp_path, files, capsys):
    images, hole, inside, _wider = files
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", hole, "--include", inside,
                   "-o", out, "--engine", "patchmatch") == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"0 written to {out}, 2 failed", "2 failed:", f"  a.png: {REFUSAL}",
        f"  b.png: {REFUSAL}"]
    assert list(out.iterdir()) == []  # the folder is made, nothing written in it


def test_batch_fails_only_the_picture_whose_own_include_area_is_inside_its_hole(
        tmp_path, files, capsys):
    images, hole, inside, wider = files
    includes = tmp_path / "includes"
    includes.mkdir()
    (includes / "a.png").write_bytes(inside.read_bytes())
    (includes / "b.png").write_bytes(wider.read_bytes())
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", hole, "--include", includes,
                   "-o", out, "--engine", "patchmatch") == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"1 written to {out}, 1 failed", "1 failed:", f"  a.png: {REFUSAL}"]
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]
    single = tmp_path / "b-single.png"  # b is filled as inpaint fills it
    assert run_cli("inpaint", images / "b.png", hole, "--include", wider, "-o", single,
                   "--engine", "patchmatch") == EXIT_OK
    assert np.array_equal(load_image(out / "b.png").rgb, load_image(single).rgb)


def test_an_include_area_moved_onto_a_smaller_picture_inside_its_hole_fails_it(
        tmp_path, anchored, capsys):
    """Anchored with the mask to the left edge, the include area keeps its part in the hole
    on a 40x60 picture; its part outside the hole (x 60..78) lands off it."""
    images, hole, far = anchored
    save_mask(tmp_path / "include.png", np.maximum(load_mask(hole), load_mask(far)))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", hole, "-o", out,
                   "--engine", "patchmatch", "--other-sizes", "anchor", "--include",
                   tmp_path / "include.png") == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"1 written to {out}, 1 failed", "1 failed:", f"  small.png: {REFUSAL}"]
    assert sorted(p.name for p in out.iterdir()) == ["big.png"]


def test_with_a_reference_photo_both_fill_an_include_area_inside_the_hole(tmp_path, files,
                                                                          capsys):
    images, hole, inside, _wider = files
    reference = tmp_path / "reference.png"
    save_image(reference, noise((50, 50), 7))
    single = tmp_path / "a-single.png"
    assert run_cli("inpaint", images / "a.png", hole, "--include", inside, "-o", single,
                   "--exemplar", reference, "--engine", "patchmatch") == EXIT_OK
    assert "note:" not in capsys.readouterr().out
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", hole, "--include", inside,
                   "-o", out, "--exemplar", reference, "--engine", "patchmatch") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"2 written to {out}, 0 failed"]
    assert np.array_equal(load_image(out / "a.png").rgb, load_image(single).rgb)
