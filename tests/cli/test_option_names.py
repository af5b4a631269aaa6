"""One option name per concept across the commands, with the old spellings still taken:
`--parser` (segment's old `--model`), `--context` (the crop context, `inpaint`'s and `batch`'s
old `--margin`), `--grow` (watermark's mask growth, its old `--margin`); and `watermark` takes
the engine options `inpaint` and `batch` take, with the same meaning."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

import cli
import cli._common
import engines.batch
from cli import EXIT_OK, EXIT_USAGE
from engines import registry
from engines.base import Strategy
from engines.fileio import load_mask
from engines.segmentation.labelmap import load_label_png
from tests.cli.pictures import box_mask, watermarked_folder
from tests.cli.refusals import argument_error, refusal

ENGINE_OPTIONS = ("--engine", "--strategy", "--context", "--device", "--seed", "--option")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Each command's parser by name (``train`` by its model: ``train semantic``)."""
    def commands(parser):
        return next(a for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction)).choices

    found = dict(commands(cli.build_parser()))
    found["train semantic"] = commands(found.pop("train"))["semantic"]
    return found


def option(parser: argparse.ArgumentParser, name: str) -> argparse.Action:
    return parser._option_string_actions[name]


def test_the_engine_options_mean_the_same_in_every_command_that_fills():
    parsers = subcommands()
    for name in ENGINE_OPTIONS:
        actions = [option(parsers[command], name) for command in ("inpaint", "batch",
                                                                  "watermark")]
        # watermark's --margin is its --grow, so its --context help names no old name
        described = {(a.dest, None if name == "--engine" else
                      a.help.replace("; --margin is its old name", ""), a.metavar,
                      tuple(a.choices or ()), a.nargs, type(a), getattr(a.type, "__name__", None))
                     for a in actions}
        assert len(described) == 1, (name, described)
        defaults = {repr(a.default) for a in actions}
        assert len(defaults) == 1 or name == "--engine", (name, defaults)  # telea: watermark


def test_one_device_option_everywhere():
    parsers = subcommands()
    helps = {command: option(parser, "--device").help for command, parser in parsers.items()
             if "--device" in parser._option_string_actions}
    assert set(helps) == {"inpaint", "batch", "watermark", "segment", "train semantic"}
    assert len(set(helps.values())) == 1


def test_parser_is_one_option_in_segment_and_train():
    parsers = subcommands()
    segment, train = (option(parsers[c], "--parser") for c in ("segment", "train semantic"))
    assert (segment.dest, segment.default, segment.metavar) == \
        (train.dest, train.default, train.metavar) == ("parser", "regions", "NAME")


@pytest.mark.parametrize("command, old, new", [
    ("segment", "--model", "--parser"),
    ("inpaint", "--margin", "--context"),
    ("batch", "--margin", "--context"),
    ("watermark", "--margin", "--grow"),
])
def test_an_old_name_is_hidden_from_help_but_named_there_and_parsed_alike(command, old, new,
                                                                          capsys):
    parser = subcommands()[command]
    assert option(parser, old).dest == option(parser, new).dest
    assert option(parser, old).help == argparse.SUPPRESS
    assert cli.main([command, "--help"]) == EXIT_OK
    text = " ".join(capsys.readouterr().out.split())
    assert f"{new} " in text and f"{old} is its old name" in text
    assert f"[{old} " not in text and f" {old} PX " not in text and f"{old} MODEL" not in text


# --- segment --------------------------------------------------------------------------------


def test_segment_model_and_parser_label_alike(tmp_path, capsys):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 30:] = (20, 140, 150)
    Image.fromarray(image).save(tmp_path / "p.png")
    for spelling in ("--parser", "--model"):
        assert cli.main(["segment", str(tmp_path / "p.png"), "-o", str(tmp_path / f"{spelling}.png"),
                         spelling, "regions", "--regions", "3"]) == EXIT_OK
    assert np.array_equal(load_label_png(tmp_path / "--parser.png"),
                          load_label_png(tmp_path / "--model.png"))
    capsys.readouterr()
    assert cli.main(["segment", str(tmp_path / "p.png"), "-o", str(tmp_path / "x.png"),
                     "--model", "scene", "--regions", "3"]) == EXIT_USAGE
    assert capsys.readouterr().err == \
        "error: --regions applies to --parser regions, not scene\n"
    assert not (tmp_path / "x.png").exists()


# --- the crop context: inpaint and batch ----------------------------------------------------


@pytest.fixture
def requests_made(monkeypatch) -> list:
    """Every :class:`InpaintRequest` the commands build (one picture's, or a folder's)."""
    made = []

    def recording(real):
        def build(*args, **kwargs):
            request = real(*args, **kwargs)
            made.append(request)
            return request
        return build

    monkeypatch.setattr(cli._common, "InpaintRequest", recording(cli._common.InpaintRequest))
    monkeypatch.setattr(engines.batch, "InpaintRequest", recording(engines.batch.InpaintRequest))
    return made


@pytest.mark.parametrize("spelling", ["--context", "--margin"])
def test_inpaint_and_batch_take_the_context_under_both_names(tmp_path, requests_made,
                                                             spelling):
    images = watermarked_folder(tmp_path / "in", count=2)
    mask = box_mask(tmp_path / "hole.png")
    assert cli.main(["inpaint", str(images / "photo0.png"), str(mask), "-o",
                     str(tmp_path / "one.png"), "--engine", "telea", spelling, "40"]) == EXIT_OK
    assert cli.main(["batch", "--images", str(images), "--mask", str(mask), "-o",
                     str(tmp_path / "out"), "--engine", "telea", spelling, "40"]) == EXIT_OK
    assert [request.crop_margin for request in requests_made] == [40, 40, 40]


@pytest.mark.parametrize("spelling", ["--context", "--margin"])
def test_an_out_of_range_context_names_the_spelling_typed(tmp_path, capsys, spelling):
    images = watermarked_folder(tmp_path / "in", count=1)
    assert cli.main(["batch", "--images", str(images), "--mask", str(tmp_path / "m.png"),
                     "-o", str(tmp_path / "out"), spelling, "5000"]) == EXIT_USAGE
    assert (argument_error(capsys, "batch")
            == f"argument {spelling}: 5000 is out of range; it must be from 0 to 2048")
    assert not (tmp_path / "out").exists()


# --- watermark ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["--grow", "--margin"])
def test_watermark_grows_its_mask_under_both_names(tmp_path, spelling):
    images = watermarked_folder(tmp_path / "in")
    masks = {}
    for grow in ("0", "6"):
        mask_out = tmp_path / f"mask{grow}.png"
        assert cli.main(["watermark", "--images", str(images), "-o", str(tmp_path / grow),
                         "--mask-out", str(mask_out), spelling, grow]) == EXIT_OK
        masks[grow] = load_mask(mask_out) > 0
    assert (masks["6"] >= masks["0"]).all() and masks["6"].sum() > masks["0"].sum()


@pytest.mark.parametrize("strategy", ["resize", "original"])
@pytest.mark.parametrize("command", ["inpaint", "batch", "watermark"])
def test_a_context_with_another_strategy_is_refused_not_ignored(tmp_path, capsys, command,
                                                                strategy):
    images = watermarked_folder(tmp_path / "in", count=2)
    mask = box_mask(tmp_path / "hole.png")
    output = tmp_path / ("out.png" if command == "inpaint" else "out")
    given = {"inpaint": [str(images / "photo0.png"), str(mask)],
             "batch": ["--images", str(images), "--mask", str(mask)],
             "watermark": ["--images", str(images)]}[command]
    assert cli.main([command, *given, "-o", str(output), "--strategy", strategy,
                     "--margin" if command != "watermark" else "--context", "40"]) == EXIT_USAGE
    error = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert error == f"error: --context applies to --strategy crop, not {strategy}"
    assert not output.exists()


@pytest.mark.parametrize("extra, strategy, context", [
    (["--strategy", "resize"], Strategy.RESIZE, 128),
    (["--context", "40"], Strategy.CROP, 40),
])
def test_watermark_passes_the_engine_options_to_every_fill(tmp_path, requests_made,
                                                           monkeypatch, extra, strategy,
                                                           context):
    created = []
    create = registry.create

    def recording(name, **options):
        engine = create(name, **options)
        created.append(engine)
        return engine

    monkeypatch.setattr(registry, "create", recording)
    images = watermarked_folder(tmp_path / "in", count=6)
    assert cli.main(["watermark", "--images", str(images), "-o", str(tmp_path / "out"),
                     "--engine", "ns", "--option", "radius=9", *extra, "--seed", "7",
                     "--device", "cpu"]) == EXIT_OK
    assert [(engine.name, engine.options["radius"]) for engine in created] == [("ns", 9)]
    assert len(requests_made) == 6
    assert {(r.strategy, r.crop_margin, r.seed, r.device) for r in requests_made} == \
        {(strategy, context, 7, "cpu")}


def test_watermark_keeps_the_defaults_it_had(tmp_path, requests_made):
    images = watermarked_folder(tmp_path / "in", count=6)
    assert cli.main(["watermark", "--images", str(images), "-o", str(tmp_path / "out")]) == 0
    assert {(r.strategy, r.crop_margin, r.seed, r.device) for r in requests_made} == \
        {(Strategy.CROP, 128, 0, "auto")}


@pytest.mark.parametrize("extra, words", [
    (["--option", "radius=99"], "radius"),
    (["--option", "no_such=1"], "no_such"),
    (["--seed", "-1"], "argument --seed"),
    (["--context", "-1"], "argument --context"),
    (["--device", "cuda"], "CUDA"),
])
def test_watermark_refuses_bad_engine_options_before_any_work(tmp_path, capsys, monkeypatch,
                                                              extra, words):
    if extra[0] == "--device" and torch.cuda.is_available():
        pytest.skip("this machine has the accelerator")
    import cli.watermark

    def no_estimate(*args, **kwargs):
        raise AssertionError("the estimate ran before the options were checked")

    monkeypatch.setattr(cli.watermark, "estimate_watermark_mask", no_estimate)
    images = watermarked_folder(tmp_path / "in", count=6)
    assert cli.main(["watermark", "--images", str(images), "-o", str(tmp_path / "out"),
                     *extra]) == EXIT_USAGE
    assert words in refusal(capsys, "watermark")  # argparse's or ours, one form
    assert not (tmp_path / "out").exists()
