"""A zero-byte picture or layer file (an interrupted copy or download) is called an empty
file, as a checkpoint is, not "not an image file, or the file is damaged": by the loaders
and by ``inpaint``."""

from __future__ import annotations

import numpy as np
import pytest

import main
from engines.fileio import (
    ImageFileError,
    image_size,
    load_colour_strokes,
    load_image,
    load_mask,
    load_reference,
    save_image,
    save_mask,
)

SAID = "an empty file (0 bytes), as an interrupted copy or download leaves one"


@pytest.fixture
def files(tmp_path):
    """``(picture, mask, empty)``: a 40x60 picture, a mask with a hole, a zero-byte PNG."""
    picture = save_image(tmp_path / "photo.png",
                         np.random.default_rng(0).integers(0, 256, (40, 60, 3), np.uint8))
    hole = np.zeros((40, 60), np.uint8)
    hole[10:20, 20:30] = 255
    empty = tmp_path / "zero.png"
    empty.write_bytes(b"")
    return picture, save_mask(tmp_path / "mask.png", hole), empty


@pytest.mark.parametrize("load", [
    load_image, load_reference, image_size, load_mask,
    lambda path: load_mask(path, (40, 60), "sketch"),
    lambda path: load_colour_strokes(path, (40, 60)),
], ids=["picture", "reference", "size", "mask", "sketch", "colour strokes"])
@pytest.mark.parametrize("name", ["zero.png", "zero.jpg"])
def test_every_loader_calls_a_zero_byte_file_empty(tmp_path, load, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ImageFileError) as raised:
        load(tmp_path / name)
    assert str(raised.value) == f"{tmp_path / name}: {SAID}"


@pytest.mark.parametrize("role", ["picture", "mask", "--sketch", "--include"])
def test_inpaint_says_a_zero_byte_file_is_empty(files, tmp_path, capsys, role):
    picture, mask, empty = files
    arguments = {"picture": [empty, mask], "mask": [picture, empty]}.get(
        role, [picture, mask, role, empty])
    out = tmp_path / "out.png"
    assert main.main(["inpaint", *map(str, arguments), "-o", str(out),
                      "--engine", "telea"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {empty}: {SAID}"
    assert not out.exists()
