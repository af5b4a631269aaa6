"""A folder run keeps, per picture, the notes on guidance its fill could not follow
(:func:`engines.guidance.source_notes`, as `inpaint` prints them): a reference photo too
small for the patch size, a label of the hole that no pixel outside it carries. They are
notes, not failures: the run goes on and says them once per kind
(:func:`engines.batch.note_lines`)."""

from __future__ import annotations

import numpy as np

from engines.batch import clear_folder, note_lines
from engines.fileio import load_image, save_image

HEIGHT, WIDTH = 60, 80
ORPHAN = 200  # a label id no pixel outside a.png's hole carries
LEFT_OUT = ("the fill left out tiny.png at Patch size 31: it is 12x12 pixels, too small for "
            "one 31x31 patch, so nothing can be copied from it")
UNFOLLOWED = ("the fill did not follow the label id 200: no pixel outside the hole carries "
              "it, so its part of the hole was filled from any pixel")


def _hole(top: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[top:top + 12, 30:46] = 255
    return mask


def test_each_pictures_source_notes_are_kept_and_the_run_goes_on(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for name in ("a.png", "b.png"):
        save_image(folder / name, rng.integers(40, 90, (HEIGHT, WIDTH, 3)).astype(np.uint8))
    (folder / "c.png").write_bytes(b"not a picture")  # fails; the run goes on
    holes = {"a.png": _hole(10), "b.png": _hole(40), "c.png": _hole(10)}
    labels = np.full((HEIGHT, WIDTH), 5, np.uint8)
    labels[holes["a.png"] > 0] = ORPHAN  # a.png's hole only: b.png's carries label 5
    tiny = np.full((12, 12, 3), 200, np.uint8)
    out = tmp_path / "out"
    result = clear_folder(folder, out, lambda path, image: holes[path.name], "patchmatch",
                          engine_options={"patch_size": 31},
                          request_settings={"exemplars": (tiny,), "labels": labels},
                          reference_names=("tiny.png",))
    assert result.written == (out / "a.png", out / "b.png")
    assert result.failed == ((folder / "c.png", "not an image file, or the file is damaged"),)
    assert result.notes == ((out / "a.png", LEFT_OUT), (out / "a.png", UNFOLLOWED),
                            (out / "b.png", LEFT_OUT))
    assert note_lines(result) == [f"2 results (a.png, b.png): {LEFT_OUT}",
                                  f"a.png: {UNFOLLOWED}"]
    for name in ("a.png", "b.png"):  # filled all the same
        filled = load_image(out / name).rgb
        assert not np.array_equal(filled, load_image(folder / name).rgb)


def test_unnamed_references_and_no_guidance(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    save_image(folder / "a.png", np.full((HEIGHT, WIDTH, 3), 70, np.uint8))
    tiny = np.full((12, 12, 3), 200, np.uint8)
    result = clear_folder(folder, tmp_path / "out", _hole(20), "patchmatch",
                          engine_options={"patch_size": 31},
                          request_settings={"exemplars": (tiny,)})
    assert result.notes == ((tmp_path / "out" / "a.png",
                             LEFT_OUT.replace("tiny.png", "a reference photo")),)
    plain = clear_folder(folder, tmp_path / "plain", _hole(20), "patchmatch")
    assert plain.notes == () and plain.written == (tmp_path / "plain" / "a.png",)
