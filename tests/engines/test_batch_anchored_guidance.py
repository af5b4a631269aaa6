""":func:`engines.batch.clear_folder` with guidance for every picture under
``other_sizes="anchor"``: a layer landing wholly off a smaller picture is left out of its fill
with a note naming the picture (an include area the engine follows, or guidance the engine
cannot fill without, fails that picture instead); the mask's shift is worked out once per
picture; layers of different sizes are refused naming their files; notes on pictures name
the pictures, not their results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engines.batch as batch_module
import engines.watermark as watermark_module
from engines import registry
from engines.base import UNLABELLED, Guidance, InputError
from engines.batch import BatchResult, PictureNote, clear_folder, note_lines
from engines.fileio import load_image, save_image

BIG, SMALL = (60, 80), (60, 40)  # (height, width)
NAMES = {"sketch": "--sketch far.png", "color": "--color far.png",
         "labels": "--labels far.png", "sample_include": "--include far.png",
         "sample_exclude": "--exclude far.png"}


def _folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for name, shape in (("big", BIG), ("small", SMALL)):
        save_image(folder / f"{name}.png", rng.integers(60, 200, (*shape, 3)).astype(np.uint8))
    return folder


def _hole() -> np.ndarray:
    """Near the left edge: anchored there, it stays put on the narrower picture."""
    mask = np.zeros(BIG, np.uint8)
    mask[10:30, 6:26] = 255
    return mask


def _far(field: str) -> np.ndarray:
    """A layer of ``field`` holding something only at x 60..78: off a 40-wide picture once
    moved with the mask (which does not move)."""
    if field == "color":
        layer = np.zeros((*BIG, 4), np.uint8)
        layer[5:50, 60:78] = (255, 0, 0, 255)
    elif field == "labels":
        layer = np.full(BIG, UNLABELLED, np.uint8)
        layer[5:50, 60:78] = 3
    else:
        layer = np.zeros(BIG, np.uint8)
        layer[5:50, 60:78] = 255
    return layer


def _run(tmp_path, layers, engine="patchmatch", **kwargs) -> BatchResult:
    return clear_folder(_folder(tmp_path), tmp_path / "out", _hole(), engine,
                        other_sizes="anchor", fixed_guidance=layers,
                        fixed_names={field: NAMES[field] for field in layers}, **kwargs)


def test_an_include_area_wholly_off_a_picture_fails_that_picture_alone(tmp_path):
    result = _run(tmp_path, {"sample_include": _far("sample_include")})
    assert result.written == (tmp_path / "out" / "big.png",)
    [(picture, reason)] = result.failed
    assert picture.name == "small.png"
    assert reason.startswith("--include far.png lies wholly off this 40x60 picture once "
                             "moved with the mask, so it leaves no pixel to sample from")
    assert not (tmp_path / "out" / "small.png").exists()


@pytest.mark.parametrize("field, without", [("sketch", "a sketch"),
                                            ("color", "colour strokes"),
                                            ("labels", "a label map"),
                                            ("sample_exclude", "an exclude area")])
def test_other_guidance_wholly_off_a_picture_is_left_out_and_noted(tmp_path, field, without):
    result = _run(tmp_path, {field: _far(field)})
    assert not result.failed and len(result.written) == 2
    small = tmp_path / "in" / "small.png"
    assert result.notes == ((small, f"{NAMES[field]} lies wholly off the picture once moved "
                                    f"with the mask: filled without {without}"),)
    assert isinstance(result.notes[0][1], PictureNote)
    assert note_lines(result) == [f"small.png: {result.notes[0][1]}"]


def test_the_fill_goes_without_the_layer_off_the_picture(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(batch_module, "_final_image",
                        lambda engine, request, cancel, report: seen.setdefault(
                            request.image.shape[:2], request).image)
    _run(tmp_path, {"sketch": _far("sketch"), "sample_exclude": _far("sample_exclude")})
    assert seen[SMALL].sketch is None and seen[SMALL].sample_exclude is None
    assert seen[BIG].sketch is not None and seen[BIG].sample_exclude is not None


def test_guidance_an_engine_ignores_is_not_noted(tmp_path):
    result = _run(tmp_path, {"sketch": _far("sketch"),
                             "sample_include": _far("sample_include")}, engine="telea")
    assert not result.failed and not result.notes and len(result.written) == 2


def test_guidance_the_engine_cannot_fill_without_fails_the_picture(tmp_path, monkeypatch):
    engine = registry.create("patchmatch")
    monkeypatch.setattr(type(engine), "required_guidance", frozenset({Guidance.LABELS}))
    result = _run(tmp_path, {"labels": _far("labels")}, engine=engine,
                  guidance_given={Guidance.LABELS})
    [(picture, reason)] = result.failed
    assert picture.name == "small.png"
    assert reason == ("--labels far.png lies wholly off this 40x60 picture once moved with "
                      f"the mask, and {engine.title or engine.name} cannot fill without a "
                      "label map")


def test_a_layer_partly_on_the_picture_is_kept(tmp_path):
    sketch = _far("sketch")
    sketch[20:22, 10:70] = 255  # a line crossing into the narrower picture
    result = _run(tmp_path, {"sketch": sketch})
    assert not result.failed and not result.notes


def test_the_masks_shift_is_worked_out_once_per_picture_of_another_size(tmp_path,
                                                                       monkeypatch):
    calls = []
    shift = batch_module.anchored_shift

    def counted(held, target):
        calls.append(target)
        return shift(held, target)

    for module in (batch_module, watermark_module):  # place_mask's own too
        monkeypatch.setattr(module, "anchored_shift", counted)
    result = _run(tmp_path, {"sketch": _far("sketch")}, engine="telea")
    assert len(result.written) == 2
    assert calls == [(40, 60)]  # the small picture's, for its mask and sketch together
    placed = load_image(tmp_path / "out" / "small.png").rgb
    original = load_image(tmp_path / "in" / "small.png").rgb
    hole = _hole()[:, :40]
    assert np.array_equal(placed[hole == 0], original[hole == 0])
    assert not np.array_equal(placed[hole > 0], original[hole > 0])


def test_layers_of_different_sizes_are_refused_naming_their_files(tmp_path):
    small = np.zeros((40, 50), np.uint8)
    small[5:10, 5:10] = 255
    with pytest.raises(InputError) as refused:
        _run(tmp_path, {"sample_exclude": small}, mask_name="the mask (hole.png)")
    assert str(refused.value) == ("--exclude far.png is 50x40 but the mask (hole.png) is "
                                  "80x60; the files for every picture must be one size")
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError) as unnamed:  # without names: the fields
        clear_folder(tmp_path / "in", tmp_path / "out2", _hole(), "telea",
                     fixed_guidance={"sketch": small})
    assert str(unnamed.value).startswith("sketch is 50x40 but the mask is 80x60")


def test_notes_on_pictures_name_the_pictures_and_notes_on_results_the_results(tmp_path):
    lacking = PictureNote("no sketch file in sketches: filled without a sketch")
    result = BatchResult(written=(Path("out/a.png"), Path("out/b.png"), Path("out/c.png")),
                         failed=(), notes=((Path("in/b.jpg"), lacking),
                                           (Path("out/b.png"), "a result's note"),
                                           (Path("in/c.jpg"), lacking),
                                           (Path("out/c.png"), "a result's note")))
    assert note_lines(result) == [f"2 pictures (b.jpg, c.jpg): {lacking}",
                                  "2 results (b.png, c.png): a result's note"]
