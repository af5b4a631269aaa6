"""``train semantic --labels``: each refusal of a label map names it as the label map, with
its folder ("the label map labels/p1.png ..."), never by its bare name: its picture is
often p1.png too, and an empty picture is only left out while an empty label map refuses
the run (QA audit 38, F6)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import cli
from cli import EXIT_OK, EXIT_USAGE
from engines import fileio
from engines.neural.semantic_training import TrainingLabelMapError, read_label_map
from tests.cli.test_train_labels_unreadable import labelled_pictures
from tests.cli.test_train_qa36 import _args, _error

EMPTY = "an empty file (0 bytes), as an interrupted copy or download leaves one"


@pytest.fixture
def folders(tmp_path):
    """Three 36x40 PNG pictures p0..p2.png with their label maps p0..p2.png."""
    return labelled_pictures(tmp_path, [10, 16, 22])


def test_an_empty_label_map_is_told_from_an_empty_picture(model_cache, folders, tmp_path,
                                                          capsys):
    images, labels = folders
    label_map = (labels / "p1.png").read_bytes()
    (labels / "p1.png").write_bytes(b"")
    assert cli.main(_args(images, labels, tmp_path / "a.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == f"the label map labels/p1.png is {EMPTY}"
    assert not (tmp_path / "a.pt").exists()

    (labels / "p1.png").write_bytes(label_map)
    (images / "p1.png").write_bytes(b"")
    assert cli.main(_args(images, labels, tmp_path / "b.pt", "--no-install")) == EXIT_OK
    err = capsys.readouterr().err
    # named with its folder, as the label maps are (QA closing note, train)
    assert f"left out images/p1.png: {EMPTY}" in err and "label map" not in err
    assert (tmp_path / "b.pt").is_file()


@pytest.mark.parametrize(("mode", "words"), [("RGB", "colour (RGB)"),
                                             ("LA", "grey with transparency")])
def test_a_label_map_of_another_kind_is_named_with_its_folder(model_cache, folders, tmp_path,
                                                              capsys, mode, words):
    images, labels = folders
    Image.new(mode, (40, 36)).save(labels / "p2.png")
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == (f"the label map labels/p2.png cannot be used: label maps must "
                              f"be indexed or 8-bit grey PNGs of class ids, not {words} "
                              "pictures")


def test_a_label_map_that_is_no_png_is_named_with_its_folder(model_cache, folders, tmp_path,
                                                             capsys):
    images, labels = folders
    (labels / "p0.png").write_bytes(fileio.encode_image(np.zeros((36, 40, 3), np.uint8),
                                                        ".png")[:40])  # cut short
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == "the label map labels/p0.png is not a readable PNG"


# --- QA audit 40, F3 and F4 ------------------------------------------------------------------

CUT_SHORT = "cut short, as an interrupted copy or download leaves it"


def test_a_label_map_cut_short_is_refused_up_front(model_cache, folders, tmp_path, capsys):
    """Its header is whole (mode and size pass): it is decoded in full before any step."""
    images, labels = folders
    whole = (labels / "p1.png").read_bytes()
    (labels / "p1.png").write_bytes(whole[:len(whole) // 2])
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == f"the label map labels/p1.png is {CUT_SHORT}"
    assert not (tmp_path / "m.pt").exists()


def test_a_label_map_damaged_inside_is_refused_up_front(model_cache, folders, tmp_path,
                                                        capsys):
    images, labels = folders
    label = np.zeros((36, 40), np.uint8)
    label[:, 16:] = 1
    Image.fromarray(label).save(labels / "p1.png", compress_level=0)  # IDAT bytes as stored
    data = bytearray((labels / "p1.png").read_bytes())
    start = data.index(b"IDAT") + 4
    data[start + 2:start + 200] = bytes(198)  # the zlib stream broken, its end still there
    (labels / "p1.png").write_bytes(bytes(data))
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == ("the label map labels/p1.png is damaged: its image data cannot "
                              "be decoded")
    assert not (tmp_path / "m.pt").exists()


def test_a_folder_in_place_of_a_label_map_is_said_to_be_one(model_cache, folders, tmp_path,
                                                            capsys):
    images, labels = folders
    (labels / "p1.png").unlink()
    (labels / "p1.png").mkdir()
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == "labels/p1.png is a folder, not a label map"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_in_place_of_a_label_map_is_refused_by_name(model_cache, folders, tmp_path,
                                                           capsys):
    """Never counted as "no label map", nor opened (a pipe would wait for a writer)."""
    images, labels = folders
    (labels / "p1.png").unlink()
    os.mkfifo(labels / "p1.png")
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == ("labels/p1.png is a special file (a pipe, socket or device), "
                              "not a label map")
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_read_as_a_label_map_is_refused_without_waiting(tmp_path):
    """As a label map replaced by a pipe while training runs is read: refused at once."""
    os.mkfifo(tmp_path / "p1.png")
    with pytest.raises(TrainingLabelMapError) as raised:
        read_label_map(tmp_path / "p1.png")
    assert str(raised.value) == (f"the label map {tmp_path.name}/p1.png is a special file (a "
                                 "pipe, socket or device), not a label map")


def test_a_picture_left_out_of_images_given_as_the_current_folder_is_named_from_it(
        model_cache, folders, tmp_path, capsys, monkeypatch):
    """``--images .``: the empty picture is ./p1.png, as ``--labels .`` names label maps."""
    images, labels = folders
    monkeypatch.chdir(images)
    (images / "p1.png").write_bytes(b"")
    assert cli.main(_args(".", labels, tmp_path / "m.pt", "--no-install")) == EXIT_OK
    assert f"left out ./p1.png: {EMPTY}" in capsys.readouterr().err


@pytest.mark.parametrize("given", [".", "./"])
def test_labels_given_as_the_current_folder_are_named_from_it(model_cache, folders, tmp_path,
                                                              capsys, monkeypatch, given):
    """``--labels .``: the label map is ./p1.png, never p1.png as its picture."""
    images, labels = folders
    monkeypatch.chdir(labels)
    (labels / "p1.png").write_bytes(b"")
    assert cli.main(_args(images, given, tmp_path / "a.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == f"the label map ./p1.png is {EMPTY}"
    Image.new("L", (41, 36)).save(labels / "p1.png")
    assert cli.main(_args(images, given, tmp_path / "b.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == ("the label map ./p1.png is 41x36 but its picture p1.png is "
                              "40x36; a label map must match its picture's size")
