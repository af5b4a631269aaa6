"""What `segment FOLDER` says besides the maps it wrote: the pictures in which the face parser
found no face (their maps are written, all background, and the exit code stays 0), "label
maps" when a run is stopped part way, and "loading" only when a network really loads."""

from __future__ import annotations

import errno
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import cli
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from engines.device import MODEL_SLOT
from engines.segmentation import face, segformer
from engines.segmentation.base import create_parser
from engines.segmentation.labelmap import load_label_png
from tests.cli.stopping import ctrl_c, stop_at_call
from tests.engines.test_segmentation import face_at, picture, put_in_cache


@pytest.fixture(autouse=True)
def _free_networks():
    yield
    MODEL_SLOT.clear()


def segment(*argv) -> int:
    return cli.main(["segment", *(str(a) for a in argv)])


def _folder(tmp_path, count: int, bright: tuple[int, ...] = ()) -> tuple:
    """``in/p0.png ... p{count-1}.png`` (120x160; those in ``bright`` light, the others
    dark) and the output folder ``out``."""
    images = tmp_path / "in"
    images.mkdir()
    for index in range(count):
        pixels = picture(120, 160, seed=index) // 3
        if index in bright:
            pixels = 255 - pixels
        Image.fromarray(pixels).save(images / f"p{index}.png")
    return images, tmp_path / "out"


@pytest.fixture
def face_parser(model_cache, monkeypatch):
    """The face parser's checkpoints in facexlib's released formats (random weights) in the
    cache; a "face" is found in light pictures only, and parsed as a square of nose."""
    torch.manual_seed(2)
    torch.save(face.build_parsing_network("bisenet").state_dict(), put_in_cache("face-bisenet"))
    from facexlib.detection.retinaface import RetinaFace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = RetinaFace(network_name="mobile0.25", device=torch.device("cpu"))
    torch.save({f"module.{k}": v for k, v in detector.state_dict().items()},
               put_in_cache("face-detection-mobilenet"))

    def light_pictures_have_a_face(self, image, detector=None):
        return [face_at(0.15, 20, 10)] if image.mean() > 128 else []

    def square_of_nose(self, crop, network=None):
        labels = np.zeros((512, 512), np.uint8)
        labels[256:356, 206:306] = 10
        return labels

    monkeypatch.setattr(face.FaceParser, "find_faces", light_pictures_have_a_face)
    monkeypatch.setattr(face.FaceParser, "parse_crop", square_of_nose)


@pytest.fixture
def scene_lite(model_cache):
    """SegFormer-B0 in the hub's safetensors format (random weights) in the cache."""
    from safetensors.torch import save_model

    torch.manual_seed(0)
    save_model(segformer.build_network("b0"), str(put_in_cache("segformer-b0-ade")))


def test_pictures_without_a_face_are_named_and_their_maps_written(tmp_path, face_parser,
                                                                  capsys):
    images, out = _folder(tmp_path, 4, bright=(1,))
    assert segment(images, "-o", out, "--parser", "face", "--detector", "mobilenet",
                   "--device", "cpu") == EXIT_OK
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"4 label maps written to {out}, 0 failed"
    summary = printed.index("note: 3 pictures had no face: their maps are all background")
    assert printed[summary + 1:] == ["  p0.png", "  p2.png", "  p3.png"]
    for index in range(4):  # written all the same: a re-run skips them
        labels = load_label_png(out / f"p{index}.png")
        assert labels.shape == (120, 160)
        assert labels.any() == (index == 1)


def test_one_picture_without_a_face_is_said_in_the_singular(tmp_path, face_parser, capsys):
    images, out = _folder(tmp_path, 2, bright=(0,))
    assert segment(images, "-o", out, "--parser", "face", "--detector", "mobilenet",
                   "--device", "cpu") == EXIT_OK
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == ["note: 1 picture had no face: its map is all background",
                            "  p1.png"]


def test_an_interrupted_face_run_names_what_it_wrote_as_label_maps(tmp_path, face_parser,
                                                                   monkeypatch, capsys):
    images, out = _folder(tmp_path, 3)
    stop_at_call(monkeypatch, engines.batch, "save_label_png", 3, ctrl_c)
    assert segment(images, "-o", out, "--parser", "face", "--detector", "mobilenet",
                   "--device", "cpu") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [  # as a finished run lists them
        "note: 2 pictures had no face: their maps are all background", "  p0.png", "  p1.png"]
    message = printed.err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("interrupted: 2 label maps written and kept, 1 picture not done")


def test_the_network_is_said_loading_once_for_a_folder(tmp_path, scene_lite, capsys):
    images, out = _folder(tmp_path, 3)
    assert segment(images, "-o", out, "--parser", "scene-lite", "--variant", "b0",
                   "--device", "cpu") == EXIT_OK
    err = capsys.readouterr().err
    assert err.count("loading SegFormer") == 1
    # on a line of its own before the bar, whose clock starts with the pictures
    assert err.startswith("scene-lite: loading SegFormer\n")
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_a_network_loaded_again_mid_run_is_said_on_that_picture(tmp_path, scene_lite,
                                                                monkeypatch, capsys):
    images, out = _folder(tmp_path, 3)
    # the slot emptied as the second picture is read (another network took it)
    stop_at_call(monkeypatch, engines.batch, "load_image", 2, MODEL_SLOT.clear)
    assert segment(images, "-o", out, "--parser", "scene-lite", "--variant", "b0",
                   "--device", "cpu") == EXIT_OK
    err = capsys.readouterr().err
    assert err.count("loading SegFormer") == 2
    assert "p1.png: loading SegFormer" in err and "p2.png: loading" not in err


def test_a_run_stopped_for_lack_of_room_names_label_maps(tmp_path, monkeypatch, capsys):
    images, out = _folder(tmp_path, 3)

    def disk_full() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "p1.png"))

    stop_at_call(monkeypatch, engines.batch, "save_label_png", 2, disk_full)
    assert segment(images, "-o", out, "--parser", "regions") == EXIT_FAILED
    error = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "1 label map written and kept, 2 pictures not done" in error
    assert error.endswith("free some space and run again: the label maps already there are "
                          "skipped")


def test_a_parse_says_loading_only_when_the_network_loads(scene_lite):
    parser = create_parser("scene-lite", variant="b0", device="cpu")
    steps: list[list[str]] = []
    for clear in (False, False, True):
        if clear:
            MODEL_SLOT.clear()  # another network took the slot: this one loads again
        steps.append([])
        parser.parse(picture(24, 32), progress=lambda f, text: steps[-1].append(text))
    assert [s[0] for s in steps] == ["loading SegFormer", "parsing the scene",
                                     "loading SegFormer"]
    assert [s.count("loading SegFormer") for s in steps] == [1, 0, 1]
