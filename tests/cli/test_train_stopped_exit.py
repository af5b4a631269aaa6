"""A `train semantic` run stopped by an error after it saved the steps it had done (a label
map changed while training ran, a step out of memory) exits 1, the work ran and was kept in
part, not 2, which says it was refused before any result was written (QA audit 43, F2); one
stopped so before any step still exits 2. ``--debug`` shows its traceback first."""

from __future__ import annotations

import pytest
from PIL import Image

import cli
from cli import EXIT_FAILED, EXIT_USAGE
from cli._errors import BUG_HINT
from engines.neural import semantic_training
from engines.neural.semantic import read_checkpoint
from tests.cli.test_train_labels_unreadable import labelled_pictures


def _args(images, labels, output, steps: int, *extra: str) -> list[str]:
    return ["train", "semantic", "--images", str(images), "--labels", str(labels),
            "--steps", str(steps), "--batch-size", "1", "--size", "32", "--channels", "4",
            "--device", "cpu", "--no-perceptual", "--no-install", "--save-every", "0",
            "-o", str(output), *extra]


def _resize_during_step(monkeypatch, label_map, at_step: int) -> None:
    """While step ``at_step + 1`` runs, ``label_map`` becomes twice its picture's size."""
    original = semantic_training._Trainer.train_step

    def step(self, *batch):
        if self.step == at_step:
            with Image.open(label_map) as labels:
                larger = labels.resize((labels.width * 2, labels.height * 2), Image.NEAREST)
            larger.save(label_map)
        return original(self, *batch)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)


@pytest.mark.parametrize("debug", [False, True])
def test_a_label_map_changed_after_saved_steps_exits_1(model_cache, tmp_path, monkeypatch,
                                                       capsys, debug):
    images, labels = labelled_pictures(tmp_path, [10])  # one picture: each step reads it
    output = tmp_path / "m.pt"
    _resize_during_step(monkeypatch, labels / "p0.png", at_step=1)
    extra = ("--debug",) if debug else ()
    assert cli.main(_args(images, labels, output, 5, *extra)) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.endswith(
        "error: the label map labels/p0.png changed while training ran: it is 80x72 but its "
        "picture p0.png is 40x36 (the crop would stretch it); saved m.pt at step 2 (--resume "
        "continues it)\n"), err
    assert BUG_HINT not in err
    assert ("Traceback" in err) == debug
    assert read_checkpoint(output)["meta"]["step"] == 2


def test_a_label_map_changed_before_the_first_step_still_exits_2(model_cache, tmp_path,
                                                                  monkeypatch, capsys):
    """Nothing was saved: the run was refused before any result was written."""
    images, labels = labelled_pictures(tmp_path, [10])
    output = tmp_path / "m.pt"
    original = semantic_training.TrainingSet.batch

    def batch(self, *args, **kwargs):
        (labels / "p0.png").unlink()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(semantic_training.TrainingSet, "batch", batch)
    assert cli.main(_args(images, labels, output, 3)) == EXIT_USAGE
    assert capsys.readouterr().err.endswith(
        "error: the label map labels/p0.png changed while training ran: it is missing\n")
    assert not output.exists()


def test_out_of_memory_after_saved_steps_exits_1_with_debug_too(model_cache, tmp_path,
                                                                monkeypatch, capsys):
    images, labels = labelled_pictures(tmp_path, [16, 20])
    output = tmp_path / "m.pt"
    original = semantic_training._Trainer.train_step

    def step(self, *batch):
        if self.step == 1:
            raise MemoryError
        return original(self, *batch)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    assert cli.main(_args(images, labels, output, 3, "--debug")) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "Traceback" in err and "MemoryError" in err
    assert err.endswith("error: out of memory on the computer for a training step of 1 crop "
                        "of 32x32 px: lower --batch-size or --size; saved m.pt at step 1 "
                        "(--resume continues it)\n"), err
    assert read_checkpoint(output)["meta"]["step"] == 1
