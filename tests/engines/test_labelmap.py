"""Label sets shipped in resources/labels and indexed-PNG label map files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.base import UNLABELLED
from engines.segmentation import labelmap
from engines.segmentation.labelmap import LabelMapError, load_label_png, save_label_png
from engines.segmentation.labels import (
    UNLABELLED_COLOUR,
    bundled_label_set,
    generated_palette,
    read_label_tsv,
)

REFERENCE = Path("/work/shared/reference/labels")
FACE = bundled_label_set("face_parsing19", "face19")
COCO = bundled_label_set("cocostuff182", "cocostuff182")
ADE = bundled_label_set("ade150", "ade150")


def reference_names(name: str) -> list[str]:
    lines = (REFERENCE / name).read_text().splitlines()
    return [line.split("\t")[1] for line in lines if line]


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference lists not on this machine")
def test_bundled_names_equal_the_reference_lists():
    assert list(FACE.names) == reference_names("face_parsing19.tsv")
    assert list(COCO.names) == reference_names("cocostuff182.tsv")


def test_ade20k_names_are_the_150_scene_parsing_classes():
    assert len(ADE) == 150 and len(set(ADE.names)) == 150
    assert ADE.names[:5] == ("wall", "building", "sky", "floor", "tree")
    assert ADE.names[7] == "bed" and ADE.names[12] == "person" and ADE.names[-1] == "flag"


@pytest.mark.parametrize("label_set", [FACE, COCO, ADE], ids=lambda s: s.name)
def test_palettes_are_distinct_and_unlike_unlabelled(label_set):
    colours = {tuple(c) for c in label_set.palette.tolist()}
    assert label_set.palette.shape == (len(label_set), 3)
    assert len(colours) == len(label_set)
    assert UNLABELLED_COLOUR not in colours


def test_face_colours_are_celebamask_hq_colours_by_name():
    assert tuple(FACE.palette[FACE.names.index("skin")]) == (204, 0, 0)
    assert tuple(FACE.palette[FACE.names.index("hair")]) == (0, 0, 204)


def test_generated_palette_is_distinct_and_never_grey():
    palette = generated_palette(255).astype(int)
    assert len({tuple(c) for c in palette}) == 255
    assert (palette.max(axis=1) - palette.min(axis=1) > 40).all()


def test_label_file_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("0\tsky\n2\tgrass\n")
    with pytest.raises(ValueError, match="line 2: expected index 1"):
        read_label_tsv(path)
    path.write_text("0\tsky\t#00ff00\n1\tgrass\tgreen\n")
    with pytest.raises(ValueError, match="line 2"):
        read_label_tsv(path)


def random_labels(label_set, shape=(37, 53), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(label_set), shape).astype(np.uint8)
    labels[:5, :5] = UNLABELLED
    return labels


def test_round_trip_keeps_ids_and_writes_an_indexed_png(tmp_path):
    labels = random_labels(ADE)
    path = save_label_png(tmp_path / "labels.png", labels, ADE)
    with Image.open(path) as picture:
        assert picture.mode == "P"
        assert np.array_equal(np.array(picture), labels)  # pixel values are the class ids
        palette = np.array(picture.getpalette()[:768]).reshape(256, 3)
    assert np.array_equal(palette[:150], ADE.palette)
    assert tuple(palette[255]) == UNLABELLED_COLOUR
    assert labelmap.label_set_name(path) == "ade150"
    assert np.array_equal(load_label_png(path, labels.shape, ADE), labels)


def test_saving_refuses_ids_outside_the_set_and_existing_files(tmp_path):
    labels = random_labels(FACE)
    labels[3, 3] = 40
    with pytest.raises(LabelMapError, match="ids 40"):
        save_label_png(tmp_path / "a.png", labels, FACE)
    good = random_labels(FACE)
    save_label_png(tmp_path / "a.png", good, FACE)
    with pytest.raises(FileExistsError):
        save_label_png(tmp_path / "a.png", good, FACE)
    save_label_png(tmp_path / "a.png", np.zeros_like(good), FACE, overwrite=True)
    assert not load_label_png(tmp_path / "a.png").any()
    with pytest.raises(LabelMapError, match=r"saved as \.png"):
        save_label_png(tmp_path / "a.jpg", good, FACE)


def test_grey_png_values_are_ids(tmp_path):
    labels = random_labels(COCO)
    Image.fromarray(labels, mode="L").save(tmp_path / "grey.png")
    assert np.array_equal(load_label_png(tmp_path / "grey.png", labels.shape, COCO), labels)


def test_rgb_png_needs_the_exact_palette(tmp_path):
    labels = random_labels(FACE)
    Image.fromarray(labelmap.colorize(labels, FACE)).save(tmp_path / "rgb.png")
    with pytest.raises(LabelMapError, match="indexed"):
        load_label_png(tmp_path / "rgb.png")
    assert np.array_equal(load_label_png(tmp_path / "rgb.png", label_set=FACE), labels)
    picture = labelmap.colorize(labels, FACE)
    picture[10, 10] = (1, 2, 3)
    Image.fromarray(picture).save(tmp_path / "edited.png")
    with pytest.raises(LabelMapError, match="#010203"):
        load_label_png(tmp_path / "edited.png", label_set=FACE)


def test_loading_checks_size_ids_and_format(tmp_path):
    labels = random_labels(FACE)
    save_label_png(tmp_path / "l.png", labels, FACE)
    with pytest.raises(LabelMapError, match="53x37 but the image is 60x40"):
        load_label_png(tmp_path / "l.png", (40, 60))
    save_label_png(tmp_path / "coco.png", random_labels(COCO), COCO)
    with pytest.raises(LabelMapError, match="does not have"):
        load_label_png(tmp_path / "coco.png", label_set=FACE)
    Image.fromarray(labels).save(tmp_path / "l.jpg")
    with pytest.raises(LabelMapError, match="JPEG"):
        load_label_png(tmp_path / "l.jpg")
    (tmp_path / "junk.png").write_bytes(b"not a picture")
    with pytest.raises(LabelMapError, match="not a readable PNG"):
        load_label_png(tmp_path / "junk.png")


@pytest.mark.parametrize(("picture", "words"), [
    (Image.new("1", (8, 6)), "black-and-white (1-bit)"),
    (Image.fromarray(np.zeros((6, 8), np.uint16)), "16-bit grey"),
    (Image.new("LA", (8, 6)), "grey with transparency"),
])
def test_label_maps_of_other_kinds_are_refused_in_words(tmp_path, picture, words):
    picture.save(tmp_path / "other.png")
    with pytest.raises(LabelMapError, match=rf"other.png is a {re.escape(words)} PNG; label maps are"):
        load_label_png(tmp_path / "other.png")
