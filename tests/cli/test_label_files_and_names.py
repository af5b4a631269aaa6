"""Label map files on the command line: a folder given as `--labels` is refused in the words
the other guidance files use, and `segment FOLDER` refuses pictures whose maps would share a
name with advice that fits label maps (always PNG), while `batch` keeps its own."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import main
from engines.batch import _same_output_message
from engines.fileio import ImageFileError, save_image, save_mask
from engines.segmentation.labelmap import load_label_png


def _inpaint(folder, *extra) -> int:
    save_image(folder / "photo.png", np.full((32, 48, 3), 120, np.uint8), overwrite=True)
    mask = np.zeros((32, 48), np.uint8)
    mask[10:20, 10:20] = 255
    save_mask(folder / "mask.png", mask, overwrite=True)
    return main.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"), "-o",
                      str(folder / "out.png"), "--engine", "patchmatch",
                      *[str(a) for a in extra]])


@pytest.mark.parametrize("option", ["--labels", "--sketch", "--include", "--exclude"])
def test_a_folder_given_as_a_guidance_file_is_one_line_in_the_same_words(tmp_path, capsys,
                                                                       option):
    folder = tmp_path / "odd"
    folder.mkdir()
    assert _inpaint(tmp_path, option, folder) == 2
    assert capsys.readouterr().err == f"error: {folder}: is a folder, not an image\n"
    assert not (tmp_path / "out.png").exists()


def test_a_label_map_that_is_no_file_is_said_in_words(tmp_path, capsys):
    assert _inpaint(tmp_path, "--labels", tmp_path / "gone.png") == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'gone.png'}: no such file\n"


def test_reading_a_folder_as_a_label_map_raises_the_pictures_error(tmp_path):
    with pytest.raises(ImageFileError) as raised:
        load_label_png(tmp_path)
    assert str(raised.value) == f"{tmp_path}: is a folder, not an image"


def test_segment_pictures_whose_maps_share_a_name_get_advice_that_fits_label_maps(tmp_path,
                                                                                capsys):
    images = tmp_path / "in"
    images.mkdir()
    picture = np.zeros((24, 32, 3), np.uint8)
    picture[:, 16:] = 200
    Image.fromarray(picture).save(images / "a.png")
    Image.fromarray(picture).save(images / "a.tif")
    out = tmp_path / "out"
    assert main.main(["segment", str(images), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "error: a.png and a.tif would be written to a.png, one label map replacing another "
        "(label maps are always PNG); rename them, or put them in separate folders\n")
    assert not out.exists()


def test_batch_keeps_its_advice_to_keep_each_pictures_format(tmp_path):
    groups = [(tmp_path / "a.png", [tmp_path / "a.png", tmp_path / "a.tif"])]
    assert _same_output_message(groups) == (
        "a.png and a.tif would be written to a.png, one result replacing another; keep each "
        "picture's own format, or rename them")
    groups = [(tmp_path / "a.png", [tmp_path / "a.png", tmp_path / "x" / "a.png"])]
    assert _same_output_message(groups).endswith("one result replacing another; rename them")
