"""`inpaint --labels`: a label given to the hole that no pixel the fill may copy from
carries (every such pixel excluded, or none at all) is said in a `note:` line on stdout,
named as the label map's set names it (else by id); the fill still changes only the hole."""

from __future__ import annotations

import numpy as np
from PIL import Image

import main
from engines.fileio import load_image, save_image, save_mask
from engines.segmentation.base import create_parser
from engines.segmentation.labelmap import save_label_png

HEIGHT, WIDTH = 64, 96
SKY, GRASS = 2, 5  # ids of the "ade150" set (scene-lite): "sky", "grass"


def _files(folder, labels: np.ndarray, exclude: np.ndarray | None = None,
           named: bool = True) -> list[str]:
    """The picture, the mask and ``labels`` (saved with the ade150 set's name, or as a grey
    PNG of ids) written in ``folder``: the command's arguments with --labels (and
    --exclude)."""
    rng = np.random.default_rng(5)
    save_image(folder / "photo.png", rng.integers(40, 200, (HEIGHT, WIDTH, 3)).astype(np.uint8),
               overwrite=True)
    save_mask(folder / "mask.png", _hole() * 255, overwrite=True)
    if named:
        save_label_png(folder / "labels.png", labels, create_parser("scene-lite").label_set,
                       overwrite=True)
    else:
        Image.fromarray(labels, "L").save(folder / "labels.png")  # a grey PNG of ids
    args = [str(folder / "photo.png"), str(folder / "mask.png"), "--labels",
            str(folder / "labels.png")]
    if exclude is not None:
        save_mask(folder / "exclude.png", exclude, overwrite=True)
        args += ["--exclude", str(folder / "exclude.png")]
    return args


def _hole() -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    hole[24:40, 40:56] = 1
    return hole


def _labels(hole_label: int) -> np.ndarray:
    labels = np.full((HEIGHT, WIDTH), GRASS, np.uint8)
    labels[:16] = SKY
    labels[_hole() > 0] = hole_label
    return labels


def _inpaint(folder, args, capsys) -> list[str]:
    """Run the command (Guided PatchMatch) and return its stdout's lines; the result's
    pixels outside the hole are checked to be the picture's."""
    out = folder / "out.png"
    code = main.main(["inpaint", *args, "-o", str(out), "--engine", "patchmatch",
                      "--overwrite"])
    assert code == 0
    outside = _hole() == 0
    assert np.array_equal(load_image(out).rgb[outside], load_image(args[0]).rgb[outside])
    return capsys.readouterr().out.splitlines()


def test_a_hole_label_whose_every_pixel_is_excluded_is_noted(tmp_path, capsys):
    exclude = np.zeros((HEIGHT, WIDTH), np.uint8)
    exclude[:16] = 255  # every sky pixel
    lines = _inpaint(tmp_path, _files(tmp_path, _labels(SKY), exclude), capsys)
    assert lines == [
        'note: the fill did not follow the label "sky": the sampling area leaves out every '
        "pixel outside the hole that carries it, so its part of the hole was filled from any "
        "pixel", f"wrote {tmp_path / 'out.png'}"]


def test_a_hole_label_no_other_pixel_carries_is_noted_by_id(tmp_path, capsys):
    lines = _inpaint(tmp_path, _files(tmp_path, _labels(200), named=False), capsys)
    assert lines[0] == ("note: the fill did not follow the label id 200: no pixel outside "
                        "the hole carries it, so its part of the hole was filled from any "
                        "pixel")


def test_labels_with_a_source_give_no_note(tmp_path, capsys):
    lines = _inpaint(tmp_path, _files(tmp_path, _labels(SKY)), capsys)
    assert lines == [f"wrote {tmp_path / 'out.png'}"]
