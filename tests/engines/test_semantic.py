"""The semantic-guided two-stage network: training on tiny synthetic data, checkpoints, label
guidance, and the engine's readiness and stages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines import fileio, registry, weights
from engines.base import (
    Cancelled,
    CancelToken,
    EngineError,
    InpaintRequest,
    InputError,
    Readiness,
    Status,
)
from engines.neural.semantic import (
    SemanticInpaintNet,
    checkpoint_dict,
    network_from_checkpoint,
    padded_input,
    read_checkpoint,
)
from engines.neural.semantic_training import (
    TrainConfig,
    TrainingInterrupted,
    TrainingSet,
    install,
    read_label_map,
    save_checkpoint,
    train,
    vgg16_weights_path,
    write_label_map,
)
from engines.segmentation import base as segmentation

COLORS = np.array([[200, 40, 40], [40, 180, 60], [30, 60, 220]], np.uint8)




def make_dataset(folder: Path, count: int = 6) -> tuple[Path, Path]:
    """Images whose colours follow 3-class label maps (a split and a horizontal band)."""
    rng = np.random.default_rng(0)
    images, labels = folder / "images", folder / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for index in range(count):
        label = np.zeros((40, 48), np.uint8)
        label[:, rng.integers(10, 30):] = 1
        top = rng.integers(5, 25)
        label[top:top + 10] = 2
        image = COLORS[label].astype(np.float32) + rng.normal(0, 6, (40, 48, 3))
        image = np.clip(image, 0, 255).astype(np.uint8)
        fileio.write_atomic(images / f"img{index}.png", fileio.encode_image(image, ".png"))
        write_label_map(labels / f"img{index}.png", label)
    return images, labels


def tiny_config(images: Path, labels: Path | None, output: Path, **changes) -> TrainConfig:
    settings = dict(images=images, labels=labels, output=output, steps=40, batch_size=4,
                    size=32, channels=8, memory=8, disc_channels=8, lr=1e-3, device="cpu",
                    save_every=0, seed=0)
    settings.update(changes)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    return make_dataset(tmp_path_factory.mktemp("semantic-data"))


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    notices = []
    output = tmp_path_factory.mktemp("semantic-run") / "semantic.pt"
    result = train(tiny_config(*dataset, output),
                   progress=lambda event: notices.append(event))
    return result, notices


def _inputs(size: int = 32, seed: int = 5):
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.uniform(-1, 1, (1, 3, size, size)).astype(np.float32))
    mask = torch.zeros(1, 1, size, size)
    mask[..., 8:24, 8:24] = 1
    labels = torch.zeros(1, size, size, dtype=torch.int64)
    labels[..., :, size // 2:] = 1
    return image, mask, labels


def test_training_loss_falls(trained):
    result, notices = trained
    assert result.step == 40 and len(result.history) == 40
    l1 = [losses["l1"] for losses in result.history]
    assert np.isfinite(l1).all()
    assert np.mean(l1[-10:]) < 0.8 * np.mean(l1[:10])
    assert {"l1", "adv", "d"} <= set(result.history[-1])
    assert [e.step for e in notices if e.phase == "train"] == list(range(1, 41))
    assert result.num_classes == 3 and result.label_set == "custom"
    assert result.perceptual == vgg16_weights_path().is_file()


def test_checkpoint_round_trip_loads_weights_only(trained, tmp_path):
    result, _ = trained
    data = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    assert {"generator", "discriminator", "optimizer_g", "optimizer_d", "meta"} <= set(data)
    assert data["meta"] == {"label_set": "custom", "image_size": 32, "step": 40,
                            "num_classes": 3, "channels": 8, "memory": 8}
    first = network_from_checkpoint(read_checkpoint(result.checkpoint))
    copy = tmp_path / "copy.pt"
    save_checkpoint(copy, checkpoint_dict(first, {"step": 40}))
    second = network_from_checkpoint(read_checkpoint(copy))
    with torch.no_grad():
        for a, b in zip(first(*_inputs()), second(*_inputs())):
            assert torch.equal(a, b)


def test_same_weights_follow_the_label_map(trained):
    network = network_from_checkpoint(read_checkpoint(trained[0].checkpoint))
    image, mask, labels = _inputs()
    edited = labels.clone()
    edited[..., 8:24, 8:24] = 2  # paint class 2 into the hole
    with torch.no_grad():
        coarse_a, fine_a = network(image, mask, labels)
        coarse_b, fine_b = network(image, mask, edited)
    assert torch.equal(coarse_a, coarse_b)  # stage 1 does not see the labels
    hole = mask.bool().expand_as(fine_a)
    assert (fine_a[hole] - fine_b[hole]).abs().mean() > 1e-3


def test_known_pixels_do_not_leak_from_the_hole():
    network = SemanticInpaintNet(3, channels=8, memory=8).eval()
    image, mask, labels = _inputs()
    scribbled = image.clone()
    scribbled[mask.bool().expand_as(image)] = 0.9
    with torch.no_grad():
        for a, b in zip(network(image, mask, labels), network(scribbled, mask, labels)):
            assert torch.equal(a, b)


def test_resume_continues_from_the_checkpoint(trained, dataset, tmp_path):
    output = tmp_path / "resumed.pt"
    output.write_bytes(trained[0].checkpoint.read_bytes())
    result = train(tiny_config(*dataset, output, steps=43, resume=True, channels=None,
                               memory=4))
    assert result.step == 43 and len(result.history) == 3
    meta = read_checkpoint(output)["meta"]
    assert (meta["channels"], meta["memory"]) == (8, 8)  # the checkpoint's architecture


def test_resume_refuses_another_width_or_a_step_already_reached(trained, dataset, tmp_path):
    output = tmp_path / "resumed.pt"
    output.write_bytes(trained[0].checkpoint.read_bytes())
    with pytest.raises(InputError, match=r"resumed\.pt has 8 channels, not 4"):
        train(tiny_config(*dataset, output, steps=43, resume=True, channels=4))
    with pytest.raises(InputError, match=r"already at step 40; nothing to train \(raise"):
        train(tiny_config(*dataset, output, steps=40, resume=True))
    assert output.read_bytes() == trained[0].checkpoint.read_bytes()


def test_an_interruption_saves_and_says_what_the_file_holds(dataset, tmp_path):
    output = tmp_path / "stopped.pt"

    def interrupt_after_two(event):
        if event.phase == "train" and event.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as stopped:
        train(tiny_config(*dataset, output), progress=interrupt_after_two)
    assert (stopped.value.step, stopped.value.saved) == (2, True)
    assert str(stopped.value) == "interrupted: saved stopped.pt at step 2"
    assert read_checkpoint(output)["meta"]["step"] == 2


def test_cancel_saves_the_checkpoint(dataset, tmp_path):
    cancel = CancelToken()
    output = tmp_path / "cancelled.pt"

    def stop_after_two(event):
        if event.phase == "train" and event.step == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train(tiny_config(*dataset, output), progress=stop_after_two, cancel=cancel)
    assert read_checkpoint(output)["meta"]["step"] == 2


class _StripesParser(segmentation.Parser):
    name = "stripes-test"
    ready = True

    @property
    def label_set(self) -> segmentation.LabelSet:
        return segmentation.LabelSet("stripes4", ("a", "b", "c", "d"),
                                     np.zeros((4, 3), np.uint8))

    def status(self):
        return Status(Readiness.READY if self.ready else Readiness.NEEDS_DOWNLOAD, "no weights")

    def parse(self, image, cancel=None, progress=None):
        return (np.arange(image.shape[1])[None, :] // 12 % 4).repeat(image.shape[0], 0) \
            .astype(np.uint8)


class _MissingParser(_StripesParser):
    name = "missing-test"
    ready = False


def test_a_parser_that_is_not_ready_is_refused_not_replaced(dataset, tmp_path, monkeypatch):
    segmentation.parser_names()  # register the real parsers first, then stand in for them
    monkeypatch.setitem(segmentation._PARSERS, "regions", _StripesParser)
    monkeypatch.setitem(segmentation._PARSERS, "missing-test", _MissingParser)
    events = []
    output = tmp_path / "parsed.pt"
    with pytest.raises(EngineError, match="--parser missing-test: no weights"):
        train(tiny_config(dataset[0], None, output, steps=2, parser="missing-test"),
              progress=events.append)
    assert events == [] and not output.exists() and list(tmp_path.iterdir()) == []


def test_labels_are_computed_by_a_parser_when_absent(dataset, tmp_path, monkeypatch):
    segmentation.parser_names()  # register the real parsers first, then stand in for them
    monkeypatch.setitem(segmentation._PARSERS, "stripes-test", _StripesParser)
    events = []
    output = tmp_path / "parsed.pt"
    result = train(tiny_config(dataset[0], None, output, steps=2, parser="stripes-test"),
                   progress=events.append)
    assert result.label_set == "stripes4" and result.num_classes == 4
    maps = sorted((tmp_path / "parsed-labels-stripes-test").glob("*.png"))
    assert len(maps) == 6
    assert [e.step for e in events if e.phase == "labels"] == list(range(7))  # 0: starting


def test_computed_labels_are_reused_only_for_the_picture_they_were_made_from(tmp_path,
                                                                             monkeypatch):
    images, _ = make_dataset(tmp_path / "data", count=3)
    segmentation.parser_names()
    parsed = []

    class Counting(_StripesParser):
        def parse(self, image, cancel=None, progress=None):
            parsed.append(image.shape)
            return super().parse(image, cancel, progress)

    monkeypatch.setitem(segmentation._PARSERS, "stripes-test", Counting)
    output = tmp_path / "parsed.pt"
    config = tiny_config(images, None, output, steps=1, parser="stripes-test", overwrite=True)
    train(config)
    assert len(parsed) == 3
    train(config)
    assert len(parsed) == 3  # nothing changed: every map reused
    replaced = np.zeros((56, 64, 3), np.uint8)  # another picture under the same name
    fileio.write_atomic(images / "img1.png", fileio.encode_image(replaced, ".png"),
                        overwrite=True)
    train(config)
    assert parsed[3:] == [(56, 64, 3)]  # only the replaced picture is labelled again
    labels = read_label_map(tmp_path / "parsed-labels-stripes-test" / "img1.png")
    assert labels.shape == (56, 64)


def test_an_unreadable_picture_is_left_out_with_a_notice_not_the_end_of_training(
        tmp_path, monkeypatch):
    images, labels = make_dataset(tmp_path / "data", count=3)
    (images / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # damaged
    segmentation.parser_names()
    monkeypatch.setitem(segmentation._PARSERS, "stripes-test", _StripesParser)
    for folder in (None, labels):  # labels computed, or given beside the pictures
        events = []
        output = tmp_path / f"run-{folder is None}.pt"
        config = tiny_config(images, folder, output, steps=2, parser="stripes-test")
        result = train(config, progress=events.append)
        assert result.step == 2 and output.is_file()
        notices = [e.message for e in events if e.phase == "notice"]
        assert [n for n in notices if n.startswith("left out images/img1.png: ")], notices
    assert not (tmp_path / "run-True-labels-stripes-test" / "img1.png").exists()
    for index in (0, 2):
        (images / f"img{index}.png").write_bytes(b"GIF89a broken")
    with pytest.raises(InputError, match=r"none of the 3 images in .* can be read"):
        train(tiny_config(images, None, tmp_path / "none.pt", steps=1, parser="stripes-test"))
    one = tmp_path / "one"
    one.mkdir()
    (one / "img0.png").write_bytes(b"GIF89a broken")
    with pytest.raises(InputError, match=r"^the one image in .* cannot be read$"):
        train(tiny_config(one, None, tmp_path / "one.pt", steps=1, parser="stripes-test"))


def test_a_picture_damaged_during_training_is_dropped_and_another_drawn(dataset, tmp_path):
    images, labels = dataset
    paths = [tmp_path / p.name for p in fileio.list_images(images)]
    for source, copy in zip(fileio.list_images(images), paths):
        copy.write_bytes(source.read_bytes())
    training = TrainingSet(paths, [labels / p.name for p in paths])
    damaged = paths[2]
    damaged.write_bytes(b"")  # emptied after the set was built
    notices = []
    image = training.batch(np.random.default_rng(1), 12, 32, notices.append)[0]
    assert image.shape == (12, 3, 32, 32) and len(training) == 5
    assert damaged not in training.images and len(paths) == 6  # the caller's list is kept
    assert [e.message.split(":")[0] for e in notices] == [f"left out {tmp_path.name}/{damaged.name}"]
    for path in training.images:
        path.write_bytes(b"")
    with pytest.raises(InputError, match="no training image can be read any more"):
        training.batch(np.random.default_rng(1), 2, 32)


def test_two_pictures_sharing_a_stem_are_refused(tmp_path):
    images, labels = make_dataset(tmp_path / "data", count=2)
    (images / "img0.jpg").write_bytes((images / "img0.png").read_bytes())
    with pytest.raises(InputError, match=r"img0\.(jpg|png) and img0\.(png|jpg)"):
        train(tiny_config(images, labels, tmp_path / "x.pt"))


def test_unknown_parser_is_a_user_error(dataset, tmp_path):
    with pytest.raises(EngineError, match="unknown parser"):
        train(tiny_config(dataset[0], None, tmp_path / "x.pt", parser="no-such-parser"))


def test_bad_settings_and_missing_label_maps_are_input_errors(dataset, tmp_path):
    with pytest.raises(InputError, match="multiple of 4"):
        train(tiny_config(*dataset, tmp_path / "x.pt", size=30))
    labels = tmp_path / "few-labels"
    labels.mkdir()
    with pytest.raises(InputError, match="no label map"):
        train(tiny_config(dataset[0], labels, tmp_path / "x.pt"))
    with pytest.raises(InputError, match="nope: no such folder"):
        train(tiny_config(dataset[0], tmp_path / "nope", tmp_path / "x.pt"))
    for classes in (0, 256):
        with pytest.raises(InputError, match="number of classes must be from 1 to 255"):
            train(tiny_config(*dataset, tmp_path / "x.pt", num_classes=classes))
    images = fileio.list_images(dataset[0])
    for name, picture in (("small", np.zeros((10, 10), np.uint8)),
                          ("colour", np.zeros((*fileio.read_rgb(images[0]).shape[:2], 3),
                                              np.uint8))):
        wrong = tmp_path / name
        shutil.copytree(dataset[1], wrong)
        Image.fromarray(picture).save(wrong / f"{images[0].stem}.png")
        message = ("must match its picture's size" if name == "small" else
                   r"not colour \(RGB\) pictures")
        with pytest.raises(InputError, match=message):
            train(tiny_config(dataset[0], wrong, tmp_path / "x.pt"))
    assert not (tmp_path / "x.pt").exists()


def test_training_batches_are_reproducible_with_partial_masks(dataset):
    images, labels = dataset
    paths = fileio.list_images(images)
    training = TrainingSet(paths, [labels / p.name for p in paths])
    first = training.batch(np.random.default_rng(4), 8, 32)
    again = training.batch(np.random.default_rng(4), 8, 32)
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    image, mask, ids = first
    assert image.shape == (8, 3, 32, 32) and image.min() >= -1 and image.max() <= 1
    fractions = mask.mean(dim=(1, 2, 3))
    assert mask.shape == (8, 1, 32, 32) and bool(((fractions > 0) & (fractions < 1)).all())
    assert ids.dtype == torch.int64 and set(ids.unique().tolist()) <= {0, 1, 2}


# --- the engine -----------------------------------------------------------------------------


def _request(labels: np.ndarray | None) -> InpaintRequest:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (46, 58, 3), dtype=np.uint8)
    mask = np.zeros((46, 58), np.uint8)
    mask[12:30, 15:40] = 255
    return InpaintRequest(image, mask, labels=labels, crop_margin=8)


def test_engine_needs_training_without_a_checkpoint(model_cache):
    engine = registry.create("semantic")
    status = engine.status()
    assert status.readiness is Readiness.NEEDS_TRAINING
    assert "python main.py train semantic --images DIR" in status.detail
    with pytest.raises(EngineError, match="train semantic"):
        list(engine.run(_request(np.zeros((46, 58), np.uint8))))


def test_engine_ready_after_install_and_yields_coarse_then_refined(model_cache, trained):
    install(trained[0].checkpoint)
    assert weights.is_present("semantic-local")
    stored = torch.load(weights.local_path("semantic-local"), weights_only=True)
    assert "discriminator" not in stored and stored["meta"]["num_classes"] == 3
    engine = registry.create("semantic", device="cpu")
    assert engine.status().ready
    labels = np.zeros((46, 58), np.uint8)
    labels[:, 29:] = 1
    labels[0:5] = 255
    request = _request(labels)
    stages = list(engine.run(request))
    assert [s.name for s in stages] == ["coarse", "refined"]
    assert [s.final for s in stages] == [False, True]
    known = request.mask == 0
    for stage in stages:
        assert np.array_equal(stage.image[known], request.image[known])
    edited = labels.copy()
    edited[12:30, 15:40] = 2
    changed = list(engine.run(request.evolve(labels=edited)))
    hole = request.mask == 255
    assert np.array_equal(changed[0].image, stages[0].image)
    assert not np.array_equal(changed[1].image[hole], stages[1].image[hole])
    engine.release()


def test_engine_rejects_missing_or_foreign_labels(model_cache, trained):
    install(trained[0].checkpoint)
    engine = registry.create("semantic", device="cpu")
    with pytest.raises(EngineError, match="needs a label map"):
        list(engine.run(_request(None)))
    with pytest.raises(EngineError, match="uses class 7"):
        list(engine.run(_request(np.full((46, 58), 7, np.uint8))))
    engine.release()


def test_small_regions_are_padded_to_at_least_eight_pixels_each_way():
    tiny = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = padded_input(tiny)
    assert padded.shape == (8, 8, 3) and np.array_equal(padded[:2, :3], tiny)
    assert set(np.unique(padded)) == set(np.unique(tiny))  # mirrored, no new values
    assert padded_input(np.zeros((4, 30), np.uint8)).shape == (8, 32)
    assert padded_input(np.zeros((9, 10), bool)).shape == (12, 12)
    ordinary = np.zeros((12, 16), np.uint8)
    assert padded_input(ordinary) is ordinary


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (4, 4), (3, 5), (4, 9), (1, 30)],
                         ids=lambda size: f"{size[1]}x{size[0]}")
def test_engine_inpaints_tiny_pictures(size):
    torch.manual_seed(0)
    network = SemanticInpaintNet(3, channels=4, memory=4).eval()
    engine = registry.create("semantic", device="cpu", network=network)
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    mask = np.zeros(size, np.uint8)
    mask[0, 0] = 255
    labels = np.zeros(size, np.uint8)
    request = InpaintRequest(image, mask, labels=labels)
    stages = list(engine.run(request))
    assert [s.name for s in stages] == ["coarse", "refined"] and stages[-1].final
    for stage in stages:
        assert stage.image.shape == (*size, 3) and stage.image.dtype == np.uint8
        assert np.array_equal(stage.image[mask == 0], image[mask == 0])


def test_models_import_checks_that_the_file_is_a_semantic_checkpoint(model_cache, trained,
                                                                     tmp_path):
    from engines import download

    foreign = tmp_path / "other.pt"
    torch.save({"a": torch.zeros(3)}, foreign)  # a PyTorch file, of something else
    with pytest.raises(weights.WeightsCorruptError, match="not a semantic-network checkpoint"):
        download.import_file("semantic-local", foreign)
    assert not weights.is_present("semantic-local")
    assert not weights.local_path("semantic-local").parent.exists()
    installed = download.import_file("semantic-local", trained[0].checkpoint)
    assert installed.read_bytes() == Path(trained[0].checkpoint).read_bytes()
    assert registry.create("semantic", device="cpu").status().ready


def test_install_refuses_other_files(model_cache, tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"generator": {}}, other)
    with pytest.raises(weights.WeightsCorruptError, match="not a semantic-network checkpoint"):
        install(other)
    assert not weights.is_present("semantic-local")
