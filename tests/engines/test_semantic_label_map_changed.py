"""A label map that cannot be read any more while training runs (damaged or removed after
the up-front check) stops the run with a message naming it, the steps done saved for
``--resume`` (QA audit 40, F3); the up-front check decodes each label map in full."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFile

from engines.base import InputError
from engines.neural.semantic import read_checkpoint
from engines.neural.semantic_training import (
    TrainConfig,
    TrainingLabelMapError,
    TrainingSet,
    TrainingStopped,
    read_label_map,
    train,
)
from tests.cli.test_train_labels_unreadable import labelled_pictures

CUT_SHORT = "is cut short, as an interrupted copy or download leaves it"


def _config(images, labels, output, **changes) -> TrainConfig:
    settings = dict(images=images, labels=labels, output=output, steps=4, batch_size=1,
                    size=32, channels=4, memory=4, disc_channels=4, device="cpu",
                    perceptual=False, save_every=0, seed=0)
    settings.update(changes)
    return TrainConfig(**settings)


def _cut_short(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _twice_as_large(path) -> None:
    """Replace the label map at ``path`` by a readable one of twice its size."""
    from PIL import Image

    with Image.open(path) as labels:
        larger = labels.resize((labels.width * 2, labels.height * 2), Image.NEAREST)
    larger.save(path)


@pytest.mark.parametrize(("damage", "said"), [
    (_cut_short, f"it {CUT_SHORT}"),
    (lambda path: path.unlink(), "it is missing"),
    (lambda path: path.write_bytes(b""), "it is an empty file (0 bytes)"),
    (lambda path: _twice_as_large(path),  # QA audit 41, F4: it was stretched silently
     "it is 80x72 but its picture p0.png is 40x36 (the crop would stretch it)"),
])
def test_a_label_map_damaged_while_training_runs_stops_it_saved(model_cache, tmp_path, damage,
                                                                said):
    images, labels = labelled_pictures(tmp_path, [10])  # one picture: each step reads it
    output = tmp_path / "m.pt"

    def progress(event) -> None:
        if event.phase == "train" and event.step == 2:
            damage(labels / "p0.png")

    with pytest.raises(TrainingStopped) as raised:  # steps saved: the CLI exits 1, not 2
        train(_config(images, labels, output), progress=progress)
    assert (raised.value.checkpoint, raised.value.step) == (output, 2)
    assert isinstance(raised.value.__cause__, TrainingLabelMapError)
    message = str(raised.value)
    assert message.startswith(f"the label map labels/p0.png changed while training ran: "
                              f"{said}"), message
    assert message.endswith("; saved m.pt at step 2 (--resume continues it)"), message
    assert read_checkpoint(output)["meta"]["step"] == 2


def test_a_label_map_damaged_before_the_first_step_saves_nothing(model_cache, tmp_path):
    images, labels = labelled_pictures(tmp_path, [10])
    output = tmp_path / "m.pt"

    def progress(event) -> None:
        if event.phase == "start":  # after the up-front check, before any step
            _cut_short(labels / "p0.png")

    with pytest.raises(InputError) as raised:
        train(_config(images, labels, output), progress=progress)
    assert str(raised.value) == ("the label map labels/p0.png changed while training ran: "
                                 f"it {CUT_SHORT}")
    assert not output.exists()


def test_a_batch_raises_for_a_label_map_not_readable_any_more(tmp_path):
    """The picture is kept (a label map is not left out as a picture is): the run stops."""
    images, labels = labelled_pictures(tmp_path, [10, 16])
    pictures = sorted(images.glob("*.png"))
    training = TrainingSet(pictures, [labels / p.name for p in pictures])
    (labels / "p1.png").unlink()
    (labels / "p1.png").mkdir()
    folder = r"^the label map labels/p1\.png is a folder, not a label map$"
    with pytest.raises(TrainingLabelMapError, match=folder):
        training.batch(np.random.default_rng(0), 8, 32)
    assert len(training) == 2


def test_a_label_map_cut_short_is_refused_even_where_pillow_reads_it_so(tmp_path,
                                                                        monkeypatch):
    """Pillow decodes a file cut short as far as it goes while ``LOAD_TRUNCATED_IMAGES`` is
    set (fileio sets it for one load at a time): a label map is refused all the same."""
    _images, labels = labelled_pictures(tmp_path, [10])
    _cut_short(labels / "p0.png")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(TrainingLabelMapError, match=f"^the label map labels/p0.png {CUT_SHORT}$"):
        read_label_map(labels / "p0.png")


def test_a_whole_label_map_reads_as_its_class_ids(tmp_path):
    _images, labels = labelled_pictures(tmp_path, [10])
    ids = read_label_map(labels / "p0.png")
    assert ids.shape == (36, 40) and ids.dtype == np.uint8
    assert (ids[:, :10] == 0).all() and (ids[:, 10:] == 1).all()
