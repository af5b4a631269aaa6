"""``train semantic --labels``: a file in --images that is not a picture is left out (as
without --labels), never asked for a label map; readable pictures without one are refused,
counted in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cli
from engines import fileio
from engines.neural.semantic import read_checkpoint
from engines.neural.semantic_training import write_label_map


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """Three 36x40 pictures with 2-class label maps, and bad.png, which is not a picture
    and has no label map."""
    images, labels = labelled_pictures(tmp_path, [10, 16, 22])
    (images / "bad.png").write_bytes(b"not png")
    return images, labels


def labelled_pictures(folder: Path, edges: list[int]) -> tuple[Path, Path]:
    """``folder``/images and ``folder``/labels: a 36x40 two-colour picture ``p<i>.png`` per
    column in ``edges`` where its label 1 (green) begins, label 0 (red) left of it, and its
    label map."""
    images, labels = folder / "images", folder / "labels"
    images.mkdir()
    labels.mkdir()
    for index, edge in enumerate(edges):
        label = np.zeros((36, 40), np.uint8)
        label[:, edge:] = 1
        image = np.where(label[..., None] == 1, [40, 180, 60], [200, 40, 40]).astype(np.uint8)
        fileio.write_atomic(images / f"p{index}.png", fileio.encode_image(image, ".png"))
        write_label_map(labels / f"p{index}.png", label)
    return images, labels


def _args(images: Path, labels: Path, output: Path) -> list[str]:
    return ["train", "semantic", "--images", str(images), "--labels", str(labels),
            "--steps", "1", "--batch-size", "2", "--size", "32", "--channels", "4",
            "--device", "cpu", "--save-every", "0", "--no-install", "-o", str(output)]


def test_an_unreadable_picture_is_left_out_not_asked_for_a_label_map(model_cache, folders,
                                                                      tmp_path, capsys):
    output = tmp_path / "m.pt"
    assert cli.main(_args(*folders, output)) == 0
    err = capsys.readouterr().err
    assert "left out images/bad.png:" in err
    assert "no label map" not in err
    meta = read_checkpoint(output)["meta"]
    assert meta["step"] == 1 and meta["num_classes"] == 2


def test_a_readable_picture_without_a_label_map_is_refused(model_cache, folders, tmp_path,
                                                         capsys):
    images, labels = folders
    (labels / "p2.png").unlink()
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, labels, output)) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "left out images/bad.png:" in err
    assert f"1 image has no label map in {labels} (expected e.g. p2.png)" in err
    assert "image(s)" not in err and not output.exists()


def test_several_pictures_without_label_maps_are_counted(model_cache, folders, tmp_path,
                                                         capsys):
    images, labels = folders
    (labels / "p1.png").unlink()
    (labels / "p2.png").unlink()
    assert cli.main(_args(images, labels, tmp_path / "m.pt")) == cli.EXIT_USAGE
    assert f"2 images have no label map in {labels} (expected e.g. p1.png)" in \
        capsys.readouterr().err
