"""QA audit 36, F3, F4, F6 and F7 (first bullet): `train semantic` refuses ``--resume`` with no
checkpoint at ``-o`` before any work (a mistyped path would start, and install, a new model);
refuses a ``--batch-size`` or ``--size`` whose step cannot fit in memory, and says a lack of
memory while training as one, naming what to lower, never as a bug; leaves out a picture cut
short or whose data is corrupt naming it once, without the editor's advice; and names which
file is the label map when one is of another size than its picture."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import cli
from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from engines import fileio, weights
from engines.base import InputError
from engines.neural import semantic_training
from engines.neural.semantic import read_checkpoint
from engines.neural.semantic_training import (
    DEFAULT_CHANNELS,
    TrainConfig,
    step_memory,
    train,
    write_label_map,
)
from tests.cli.test_train_labels_unreadable import labelled_pictures
from tests.engines.test_jpeg_damaged import _damaged, _jpeg


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """Two 36x40 pictures and their 2-class label maps."""
    return labelled_pictures(tmp_path, [16, 20])


def _args(images: Path, labels: Path | None, output: Path, *extra: str) -> list[str]:
    given = ["--labels", str(labels)] if labels is not None else []
    return ["train", "semantic", "--images", str(images), *given, "--steps", "1",
            "--batch-size", "1", "--size", "32", "--channels", "4", "--device", "cpu",
            "--no-perceptual", "-o", str(output), *extra]


def _error(capsys) -> str:
    """The one line the run printed to stderr (its error), checked to be the only one."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "looks like a bug" not in err, err
    return err.removeprefix("error: ").rstrip("\n")


# --- F3: --resume with no checkpoint ----------------------------------------------------------


def test_resume_with_no_checkpoint_is_refused_before_any_work(model_cache, folders, tmp_path,
                                                              capsys):
    images, _labels = folders
    typo = tmp_path / "run" / "semnatic.pt"
    typo.parent.mkdir()
    assert cli.main(_args(images, None, typo, "--resume")) == EXIT_USAGE  # installs too
    assert _error(capsys) == (f"--resume: there is no checkpoint at {typo} to continue; check "
                              "the path, or leave --resume out to start a new model")
    assert list(typo.parent.iterdir()) == []  # nothing labelled, nothing saved
    assert not weights.is_present("semantic-local")


def test_resume_with_no_checkpoint_leaves_the_installed_model_alone(model_cache, folders,
                                                                    tmp_path, capsys):
    images, labels = folders
    assert cli.main(_args(images, labels, tmp_path / "semantic.pt")) == EXIT_OK
    installed = weights.require("semantic-local")
    before = installed.read_bytes()
    capsys.readouterr()
    assert cli.main(_args(images, labels, tmp_path / "semnatic.pt", "--resume")) == EXIT_USAGE
    assert "--resume: there is no checkpoint at" in _error(capsys)
    assert installed.read_bytes() == before
    assert not (tmp_path / "semnatic.pt").exists()


def test_train_refuses_resume_with_no_checkpoint(folders, tmp_path):
    images, labels = folders
    output = tmp_path / "none.pt"
    config = TrainConfig(images=images, labels=labels, output=output, steps=1, batch_size=1,
                         size=32, channels=4, device="cpu", perceptual=False, resume=True)
    with pytest.raises(InputError, match=r"^--resume: there is no checkpoint at "):
        train(config)
    assert not output.exists()


# --- F4: a batch or crop size that cannot fit -------------------------------------------------


@pytest.mark.parametrize("option, value, crops", [
    ("--size", "1024", "1 crop of 1024x1024 px"),
    ("--batch-size", "1000", "1000 crops of 32x32 px")])
def test_a_step_that_cannot_fit_in_memory_is_refused_before_any_work(
        model_cache, folders, tmp_path, capsys, monkeypatch, option, value, crops):
    """Against a computer of 512 MB (patched: nothing that large is allocated)."""
    monkeypatch.setattr(semantic_training, "device_memory", lambda device: 2 ** 29)
    images, _labels = folders
    output = tmp_path / "run" / "m.pt"
    args = _args(images, None, output, "--no-install")
    args[args.index(option) + 1] = value
    assert cli.main(args) == EXIT_USAGE
    assert _error(capsys) == (
        f"one training step of {crops} on a network 4 channels wide needs at least 0.8 GB "
        "of memory, more than the 0.5 GB this computer has; lower --batch-size, --size or "
        "--channels")
    assert not output.parent.exists()  # refused before labelling


def test_a_resumed_run_that_cannot_fit_names_only_what_it_may_change(
        model_cache, folders, tmp_path, capsys, monkeypatch):
    images, labels = folders
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, labels, output, "--no-install")) == EXIT_OK
    capsys.readouterr()
    monkeypatch.setattr(semantic_training, "device_memory", lambda device: 2 ** 29)
    resumed = ["train", "semantic", "--images", str(images), "--labels", str(labels),
               "--steps", "2", "--batch-size", "4000", "--size", "32", "--device", "cpu",
               "--no-perceptual", "--no-install", "--resume", "-o", str(output)]
    assert cli.main(resumed) == EXIT_USAGE  # one line: no "resuming" notice before it
    error = _error(capsys)
    assert error.startswith("one training step of 4000 crops of 32x32 px on a network 4 "
                            "channels wide needs at least ")  # the checkpoint's width
    assert error.endswith("; lower --batch-size or --size")
    assert read_checkpoint(output)["meta"]["step"] == 1


def test_realistic_settings_are_far_below_the_refusal():
    """The default run (8 crops of 256 px, 32 channels, the 254 classes of the regions
    parser) counts at most 4 GB, which a small GPU has; 2 of 512 px as much."""
    config = TrainConfig(images=Path("."))
    assert (config.batch_size, config.size, config.channels) == (8, 256, None)
    assert step_memory(config, 254) < 4 * 2 ** 30
    assert step_memory(TrainConfig(images=Path("."), batch_size=2, size=512,
                                   channels=DEFAULT_CHANNELS), 254) < 4 * 2 ** 30


def test_the_refusal_counts_more_for_a_wider_network_and_more_classes():
    narrow = TrainConfig(images=Path("."), channels=4)
    wide = TrainConfig(images=Path("."), channels=64)
    assert step_memory(narrow, 1) < step_memory(wide, 1) < step_memory(wide, 254)
    assert step_memory(TrainConfig(images=Path("."), batch_size=16), 1) \
        == 2 * step_memory(TrainConfig(images=Path("."), batch_size=8), 1)


def _insufficient_memory() -> cv2.error:
    return cv2.error("OpenCV(5.0.0) /io/opencv/modules/core/src/alloc.cpp:73: error: "
                     "(-4:Insufficient memory) Failed to allocate 42932548233 bytes in "
                     "function 'OutOfMemoryError'")


@pytest.mark.parametrize("error, where", [
    (_insufficient_memory, "computer"),
    (MemoryError, "computer"),
    (lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                          "can't allocate memory: you tried to allocate 85899345920 bytes"),
     "computer"),
    (lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
     "GPU")])
def test_running_out_of_memory_in_a_step_is_said_as_such(model_cache, folders, tmp_path,
                                                        capsys, monkeypatch, error, where):
    def step(self, *batch):
        raise error()

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    output = tmp_path / "m.pt"
    assert cli.main(_args(*folders, output, "--no-install")) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.endswith(f"error: out of memory on the {where} for a training step of 1 crop "
                        "of 32x32 px: lower --batch-size or --size\n")
    assert "looks like a bug" not in err and not output.exists()


def test_opencv_running_out_of_memory_for_a_crop_is_said_as_such(model_cache, folders,
                                                                 tmp_path, capsys,
                                                                 monkeypatch):
    """The audit's --size 100000: OpenCV cannot allocate the picture scaled for a crop."""
    def crop(*args):
        raise _insufficient_memory()

    monkeypatch.setattr(semantic_training, "random_crop", crop)
    assert cli.main(_args(*folders, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert capsys.readouterr().err.endswith(
        "error: out of memory on the computer for a training step of 1 crop of 32x32 px: "
        "lower --batch-size or --size\n")


def test_running_out_of_memory_after_a_step_saves_it(model_cache, folders, tmp_path, capsys,
                                                     monkeypatch):
    original = semantic_training._Trainer.train_step

    def step(self, *batch):
        if self.step == 1:
            raise MemoryError
        return original(self, *batch)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    output = tmp_path / "m.pt"
    args = _args(*folders, output)  # not installed: the run failed
    args[args.index("--steps") + 1] = "3"
    assert cli.main(args) == EXIT_FAILED  # the work ran and kept its step: not refused (2)
    assert capsys.readouterr().err.endswith(
        "error: out of memory on the computer for a training step of 1 crop of 32x32 px: "
        "lower --batch-size or --size; saved m.pt at step 1 (--resume continues it)\n")
    assert read_checkpoint(output)["meta"]["step"] == 1
    assert not weights.is_present("semantic-local")


def test_running_out_of_memory_building_the_networks_names_the_width(model_cache, folders,
                                                                    tmp_path, capsys,
                                                                    monkeypatch):
    def build(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(semantic_training, "_Trainer", build)
    assert cli.main(_args(*folders, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert capsys.readouterr().err.endswith(
        "error: out of memory on the computer building a network 4 channels wide: lower "
        "--channels\n")


def test_a_lack_of_memory_while_labelling_is_not_blamed_on_the_batch(model_cache, folders,
                                                                     tmp_path, capsys,
                                                                     monkeypatch):
    def labels(*args):
        raise MemoryError

    monkeypatch.setattr(semantic_training, "build_training_set", labels)
    assert cli.main(_args(*folders, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert "--batch-size" not in capsys.readouterr().err


# --- F6: a picture left out is named once, without the editor's advice ------------------------


def test_a_cut_short_or_damaged_picture_is_left_out_in_its_own_words(model_cache, tmp_path,
                                                                     capsys):
    images, _labels = labelled_pictures(tmp_path, [16, 20])
    buffer = io.BytesIO()
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (images / "cut.png").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) * 2 // 3])
    (images / "damaged.jpg").write_bytes(_damaged(_jpeg(progressive=True)))
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, None, output, "--no-install")) == EXIT_OK
    lines = capsys.readouterr().err.replace("\r", "\n").splitlines()
    left_out = [line for line in lines if line.startswith("left out")]
    assert left_out == [
        "left out images/cut.png: the file is cut short, as an interrupted download or copy leaves it",
        "left out images/damaged.jpg: the file is damaged: part of its image data is corrupt"]
    assert sorted(path.name for path in (tmp_path / "m-labels-regions").glob("*.png")) \
        == ["p0.png", "p1.png"]


def test_read_training_rgb_refuses_what_a_picture_opens_noted(tmp_path):
    (tmp_path / "damaged.jpg").write_bytes(_damaged(_jpeg(progressive=True)))
    assert fileio.JPEG_DAMAGED in fileio.load_image(tmp_path / "damaged.jpg").notes
    with pytest.raises(fileio.ImageFileError) as refused:
        fileio.read_training_rgb(tmp_path / "damaged.jpg")
    assert refused.value.strerror == "the file is damaged: part of its image data is corrupt"
    sound = np.full((8, 12, 3), 90, np.uint8)
    fileio.save_image(tmp_path / "sound.png", sound)
    assert np.array_equal(fileio.read_training_rgb(tmp_path / "sound.png"), sound)


# --- F7: a label map of another size ----------------------------------------------------------


def test_a_label_map_of_another_size_is_told_from_its_picture(model_cache, folders, tmp_path,
                                                              capsys):
    images, labels = folders
    write_label_map(labels / "p0.png", np.zeros((20, 24), np.uint8))
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == ("the label map labels/p0.png is 24x20 but its picture p0.png is "
                              "40x36; a label map must match its picture's size")


def test_an_empty_label_map_is_called_an_empty_file(model_cache, folders, tmp_path, capsys):
    """QA audit 37, F6: as every picture, mask and layer file says it; named as the label map,
    with its folder (QA audit 38, F6: its picture may be p0.png too)."""
    images, labels = folders
    (labels / "p0.png").write_bytes(b"")
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == "the label map labels/p0.png is an empty file (0 bytes), as an " \
                             "interrupted copy or download leaves one"
    (labels / "p0.png").write_bytes(b"not a png at all")
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == EXIT_USAGE
    assert _error(capsys) == "the label map labels/p0.png is not a readable PNG"
