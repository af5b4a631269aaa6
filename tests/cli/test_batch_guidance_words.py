"""The words for what a fill without each guidance layer goes without live in one place,
:data:`engines.batch.GUIDANCE_WITHOUT`: `batch`'s note on a picture with no file in a
guidance folder (:attr:`cli.batch.GuidanceOption.without`) and the engine's note on a layer
landing wholly off a picture both say them."""

from __future__ import annotations

import cli.batch
import engines.batch
from cli import EXIT_OK
from engines.fileio import load_mask, save_image, save_mask
from tests.cli.test_batch_guidance_anchor import anchored as anchored  # a fixture, used by name
from tests.cli.test_batch_guidance_anchor import noise
from tests.cli.test_cli import run_cli


def test_the_cli_takes_the_engines_words():
    assert {option.field: option.without for option in cli.batch.GUIDANCE_OPTIONS} == {
        "sketch": "a sketch", "color": "colour strokes", "labels": "a label map",
        "sample_include": "an include area", "sample_exclude": "an exclude area"}
    assert {option.field for option in cli.batch.GUIDANCE_OPTIONS} == set(
        engines.batch.GUIDANCE_WITHOUT)


def test_both_notes_say_the_words_given_in_engines(anchored, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(engines.batch.GUIDANCE_WITHOUT, "sketch", "QA lines")
    images, _, far_file = anchored  # far.png: off the smaller picture once anchored
    sketches = tmp_path / "sketches"
    sketches.mkdir()
    far = load_mask(far_file)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--engine", "patchmatch", "--other-sizes", "anchor", "--sketch",
                   tmp_path / "far.png") == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"note: small.png: --sketch {tmp_path / 'far.png'} lies wholly off the picture once "
        "moved with the mask: filled without QA lines"]
    (images / "small.png").unlink()
    save_image(images / "small.png", noise((60, 80), 2))  # now big.png's size
    save_mask(sketches / "big.png", far)
    out = tmp_path / "out2"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--engine", "patchmatch", "--sketch", sketches) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"note: small.png: no sketch file in {sketches}: filled without QA lines"]
