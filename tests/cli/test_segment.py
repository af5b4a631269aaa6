"""`segment IMAGE -o LABELS.png --parser NAME`: indexed PNG output and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

import cli
from engines import weights
from engines.device import MODEL_SLOT
from engines.segmentation import segformer
from engines.segmentation.labels import UNLABELLED_COLOUR, generated_palette


@pytest.fixture
def halves(tmp_path):
    """A 90x120 PNG: orange top, teal bottom."""
    image = np.zeros((90, 120, 3), np.uint8)
    image[:45] = (230, 120, 30)
    image[45:] = (20, 140, 150)
    path = tmp_path / "halves.png"
    Image.fromarray(image).save(path)
    return path


def test_regions_write_a_palette_png_of_ids(halves, tmp_path, capsys):
    output = tmp_path / "labels.png"
    assert cli.main(["segment", str(halves), "-o", str(output), "--model", "regions"]) == 0
    with Image.open(output) as written:
        assert written.mode == "P"
        ids = np.array(written)
        palette = np.array(written.getpalette()[:768]).reshape(256, 3)
    assert ids[:45].min() == ids[:45].max() != ids[45:].min() == ids[45:].max()
    assert set(np.unique(ids).tolist()) == {0, 1}
    assert np.array_equal(palette[:2], generated_palette(2))
    assert tuple(palette[255]) == UNLABELLED_COLOUR
    assert "wrote" in capsys.readouterr().out


def test_an_existing_output_needs_overwrite(halves, tmp_path, capsys):
    output = tmp_path / "labels.png"
    output.write_bytes(b"keep me")
    assert cli.main(["segment", str(halves), "-o", str(output)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert output.read_bytes() == b"keep me"
    assert cli.main(["segment", str(halves), "-o", str(output), "--overwrite"]) == 0
    assert Image.open(output).mode == "P"


def test_the_picture_itself_is_never_replaced(halves, capsys):
    original = halves.read_bytes()
    assert cli.main(["segment", str(halves), "-o", str(halves), "--overwrite",
                     "--model", "regions"]) == 2
    assert "is one of the input files" in capsys.readouterr().err
    assert halves.read_bytes() == original


@pytest.mark.parametrize("device, message", [("gpu", "unknown device 'gpu'"),
                                             ("cuda", "no CUDA GPU is available")])
def test_an_accelerator_asked_for_must_exist(halves, tmp_path, capsys, monkeypatch, device,
                                             message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    output = tmp_path / "l.png"
    assert cli.main(["segment", str(halves), "-o", str(output), "--model", "regions",
                     "--device", device]) == 2
    assert message in capsys.readouterr().err and not output.exists()


def test_missing_weights_give_the_download_command(halves, tmp_path, model_cache, capsys):
    code = cli.main(["segment", str(halves), "-o", str(tmp_path / "l.png"), "--model", "scene"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "python main.py models download deeplab2-cocostuff164k" in error
    assert not (tmp_path / "l.png").exists()


def test_a_plugin_parser_missing_its_weights_gives_the_download_command(
        halves, tmp_path, make_spec, monkeypatch, capsys):
    from engines.segmentation import base as parsers
    from engines.segmentation.labels import generated_palette

    spec = make_spec(urls=("https://example.invalid/stripes.pth",))

    class Stripes(parsers.Parser):  # as a plugin declares one
        name, title, weights = "qa-stripes", "QA stripes", (spec.id,)
        label_set = parsers.LabelSet("qa", ("even", "odd"), generated_palette(2))

        def parse(self, image, cancel=None, progress=None):
            raise AssertionError("a parser without its weights must not run")

    monkeypatch.setitem(parsers._PARSERS, Stripes.name, Stripes)
    output = tmp_path / "l.png"
    assert cli.main(["segment", str(halves), "-o", str(output), "--parser", "qa-stripes"]) == 2
    error = capsys.readouterr().err
    assert error == (f"error: --parser qa-stripes: QA stripes: weights {spec.id} not installed; "
                     f"run `python main.py models download {spec.id}`\n")
    assert not output.exists()


@pytest.mark.parametrize("arguments, message", [
    (["--parser", "sky"], "unknown parser 'sky'"),
    (["--parser", "scene", "--regions", "4"], "--regions applies to --parser regions"),
    (["-o", "labels.jpg"], "written as .png"),
])
def test_bad_requests_are_one_line_errors(halves, tmp_path, monkeypatch, capsys, arguments,
                                          message):
    monkeypatch.chdir(tmp_path)
    argv = ["segment", str(halves), *(["-o", "out.png"] if "-o" not in arguments else []),
            *arguments]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1  # refused before any work: no progress bar


def test_scene_lite_with_a_cached_hub_checkpoint(halves, tmp_path, model_cache, capsys):
    from safetensors.torch import save_model

    torch.manual_seed(0)
    path = weights.local_path("segformer-b0-ade")
    path.parent.mkdir(parents=True)
    save_model(segformer.build_network("b0"), str(path))
    output = tmp_path / "ade.png"
    code = cli.main(["segment", str(halves), "-o", str(output), "--model", "scene-lite",
                     "--variant", "b0", "--device", "cpu"])
    MODEL_SLOT.clear()
    assert code == 0
    summary = capsys.readouterr().out.splitlines()[-1]  # a network's ids are named classes
    assert re.search(r": 120x90, \d+ class(es)? \(", summary), summary
    with Image.open(output) as written:
        ids = np.array(written)
    assert written.mode == "P" and ids.shape == (90, 120) and ids.max() < 150


def test_one_region_is_said_in_the_singular(tmp_path, capsys):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(plain)
    assert cli.main(["segment", str(plain), "-o", str(tmp_path / "l.png")]) == 0
    printed = capsys.readouterr().out
    assert "1 label (region 0 100%)" in printed and "labels" not in printed


def test_colour_regions_are_labels_as_the_editor_says(halves, tmp_path, capsys):
    """The regions parser's ids are numbered regions, not classes: "2 labels", as the
    editor's "2 labels found"."""
    assert cli.main(["segment", str(halves), "-o", str(tmp_path / "l.png")]) == 0
    printed = capsys.readouterr().out
    assert "120x90, 2 labels (region 0 50%, region 1 50%)" in printed
    assert "class" not in printed


def test_inpainting_with_the_semantic_engine_asks_for_a_map_made_here(halves, tmp_path, capsys,
                                                                       monkeypatch):
    import cli.inpaint

    def never(*args, **kwargs):
        raise AssertionError("the picture was read before the missing map was named")

    monkeypatch.setattr(cli.inpaint, "load_image", never)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full((90, 120), 255, np.uint8)).save(mask)
    code = cli.main(["inpaint", str(halves), str(mask), "-o", str(tmp_path / "out.png"),
                     "--engine", "semantic",
                     "--option", f"weights_path={tmp_path / 'semantic.pt'}"])  # reads as ready
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1, error
    assert "--labels" in error and "python main.py segment" in error
    assert not (tmp_path / "out.png").exists()


def test_unlabelled_pixels_are_not_counted_as_a_label(halves, tmp_path, monkeypatch, capsys):
    """A parser that leaves pixels unlabelled (255, as :mod:`engines.segmentation.base`
    allows): the summary counts the classes it labelled, as the editor's "N labels found"
    does, and gives the unlabelled share apart."""
    from engines.segmentation import base as parsers

    class Partial(parsers.Parser):  # as a plugin declares one, needing no weights
        name, title = "qa-partial", "QA partial"
        label_set = parsers.LabelSet("qa", ("sky", "sea"), generated_palette(2))

        def parse(self, image, cancel=None, progress=None):
            labels = np.full(image.shape[:2], 255, np.uint8)  # the bottom quarter: unlabelled
            labels[:45] = 0
            labels[45:68] = 1
            return labels

    monkeypatch.setitem(parsers._PARSERS, Partial.name, Partial)
    output = tmp_path / "l.png"
    assert cli.main(["segment", str(halves), "-o", str(output), "--parser", "qa-partial"]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.endswith(": 120x90, 2 classes (sky 50%, sea 26%; 24% unlabelled)"), summary
    with Image.open(output) as written:
        assert (np.array(written)[68:] == 255).all()


def test_a_map_with_no_label_says_none(tmp_path):
    from cli.segment import _summary

    assert _summary(np.full((4, 5), 255, np.uint8), ("sky",)) == "0 classes (100% unlabelled)"
    one = np.full((4, 5), 255, np.uint8)
    one[0, :2] = 7  # an id the label set leaves unnamed is counted, by its number
    assert _summary(one, ("sky",), "label") == "1 label (id 7 10%; 90% unlabelled)"


def test_a_share_that_rounds_to_nothing_is_said_under_one_percent():
    from cli.segment import _summary

    labels = np.zeros((100, 300), np.uint8)
    labels[0, :10] = 1  # 10 of 30,000 pixels
    labels[1, :10] = 255
    assert _summary(labels, ("sky", "sun")) == (
        "2 classes (sky 100%, sun <1%; <1% unlabelled)")


def _note(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]


def test_a_map_written_under_its_pictures_mask_name_is_noted(tmp_path, capsys):
    """QA: `segment photo.jpg -o photo.png` in the pictures' own folder wrote the label map
    under the name `batch --masks` there takes as photo.jpg's mask. The map is written all
    the same (the user chose the name), with a note naming another name; only where batch
    would take it."""
    import cli.batch

    folder = tmp_path / "pics"
    folder.mkdir()
    image = np.zeros((40, 50, 3), np.uint8)
    image[:20] = (200, 80, 20)
    picture = folder / "photo.jpg"
    Image.fromarray(image).save(picture)
    for name in ("photo.png", "photo_MASK.png", "photo.mask.png"):
        output = folder / name
        assert cli.main(["segment", str(picture), "-o", str(output), "--parser",
                         "regions"]) == 0
        assert _note(capsys) == [
            f"note: batch --masks on this folder would take {name} as photo.jpg's mask; "
            "name the label map photo_labels.png to keep them apart"]
        assert cli.batch.find_masks([picture], folder) == {picture: output}  # as said
        output.unlink()
    # the name suggested, another picture's name, another folder (a folder of label maps,
    # not the pictures'): no note
    elsewhere = tmp_path / "maps"
    elsewhere.mkdir()
    for output in (folder / "photo_labels.png", folder / "p.png", elsewhere / "photo.png"):
        assert cli.main(["segment", str(picture), "-o", str(output), "--parser",
                         "regions"]) == 0
        assert _note(capsys) == [] and output.is_file()
        if output.parent == folder:
            assert cli.batch.find_masks([picture], folder) == {}
        output.unlink()
    # a mask batch would take before the map: the map is not taken (no note); the map named
    # first is, before the mask that is there (noted)
    mask = np.zeros((40, 50), np.uint8)
    Image.fromarray(mask).save(folder / "photo_mask.png")
    Image.fromarray(mask).save(folder / "photo-mask.png")
    assert cli.main(["segment", str(picture), "-o", str(folder / "photo.mask.png"),
                     "--parser", "regions"]) == 0
    assert _note(capsys) == []
    assert cli.main(["segment", str(picture), "-o", str(folder / "photo.png"), "--parser",
                     "regions"]) == 0
    assert len(_note(capsys)) == 1
    assert cli.batch.find_masks([picture], folder) == {picture: folder / "photo.png"}


def test_a_map_written_under_another_pictures_mask_name_is_noted(tmp_path, capsys):
    """`segment photo.jpg -o other.png` beside other.jpg: `batch --masks` there would take the
    map as other.jpg's mask; noted as for its own picture's mask name, naming other.jpg, in
    the pictures' folder and in another folder holding other.jpg (named then)."""
    import cli.batch

    folder = tmp_path / "pics"
    folder.mkdir()
    image = np.zeros((40, 50, 3), np.uint8)
    image[:20] = (200, 80, 20)
    picture, other = folder / "photo.jpg", folder / "other.jpg"
    Image.fromarray(image).save(picture)
    Image.fromarray(image[::-1]).save(other)
    elsewhere = tmp_path / "maps"
    elsewhere.mkdir()
    Image.fromarray(image).save(elsewhere / "other.jpg")
    for output, where in ((folder / "other.png", "this folder"),
                          (folder / "other_mask.png", "this folder"),
                          (elsewhere / "other.png", str(elsewhere))):
        assert cli.main(["segment", str(picture), "-o", str(output), "--parser",
                         "regions"]) == 0
        assert _note(capsys) == [
            f"note: batch --masks on {where} would take {output.name} as other.jpg's mask; "
            "name the label map photo_labels.png to keep them apart"]
        taker = output.parent / "other.jpg"
        assert cli.batch.find_masks([taker], output.parent) == {taker: output}  # as said
        output.unlink()
    # a name no picture there takes (a stem only alike): no note
    for output in (folder / "oth.png", folder / "other2.png", elsewhere / "photo.png"):
        assert cli.main(["segment", str(picture), "-o", str(output), "--parser",
                         "regions"]) == 0
        assert _note(capsys) == [] and output.is_file()
        output.unlink()
