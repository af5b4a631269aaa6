"""A folder run writing a transparent picture to a format without transparency (JPEG, BMP)
flattens it onto white and notes it on that result (:attr:`engines.batch.BatchResult.notes`),
as `inpaint` says it (:func:`engines.batch.flattened_note`): once per kind, naming the
results (:func:`engines.batch.note_lines`). A note, not a failure."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engines.batch import clear_folder, note_lines
from engines.fileio import flattened_note, load_image

HEIGHT, WIDTH = 60, 80
JPG = ".jpg files have no transparency; the transparent parts were flattened onto white"


def _hole() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[20:32, 10:26] = 255
    return mask


def _folder(tmp_path, alphas: dict[str, int]):
    """``pictures/`` with one PNG per name, the right half of each at that alpha."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name, alpha in alphas.items():
        pixels = np.full((HEIGHT, WIDTH, 4), (40, 90, 160, 255), np.uint8)
        pixels[:, WIDTH // 2:, 3] = alpha
        Image.fromarray(pixels).save(folder / name)
    return folder


def test_the_note_names_the_results_flattened_and_only_them(tmp_path):
    folder = _folder(tmp_path, {"a.png": 0, "b.png": 255, "c.png": 128})
    out = tmp_path / "out"
    result = clear_folder(folder, out, _hole(), "telea", output_format="jpg")
    assert result.ok and result.written == (out / "a.jpg", out / "b.jpg", out / "c.jpg")
    assert result.notes == ((out / "a.jpg", JPG), (out / "c.jpg", JPG))  # b.png is opaque
    assert note_lines(result) == [f"2 results (a.jpg, c.jpg): {JPG}"]
    assert load_image(out / "a.jpg").rgb[:, WIDTH // 2 + 4:].min() >= 245  # white


def test_one_note_per_format_and_none_where_transparency_is_kept(tmp_path):
    folder = _folder(tmp_path, {"a.png": 0})
    assert clear_folder(folder, tmp_path / "png", _hole(), "telea").notes == ()
    assert clear_folder(folder, tmp_path / "tif", _hole(), "telea",
                        output_format=".TIF").notes == ()
    bmp = clear_folder(folder, tmp_path / "bmp", _hole(), "telea", output_format=".bmp",
                       keep_metadata=False)
    assert note_lines(bmp) == [
        "a.bmp: .bmp files have no transparency; the transparent parts were flattened onto "
        "white"]


def test_flattened_note_says_it_only_when_something_is_flattened():
    alpha = np.full((4, 4), 255, np.uint8)
    assert flattened_note(None, ".jpg") is None
    assert flattened_note(alpha, ".jpg") is None  # fully opaque
    alpha[0, 0] = 254
    assert flattened_note(alpha, ".JPEG") == (
        ".jpeg files have no transparency; the transparent parts were flattened onto white")
    assert flattened_note(alpha, ".png") is None
