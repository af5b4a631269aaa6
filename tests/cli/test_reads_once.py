"""The CLI does each piece of work once: a folder is listed once, the mask files in use are
found once, a parser's readiness is checked once, a label map file is read once."""

from __future__ import annotations

import builtins
import io
import re
from pathlib import Path

import numpy as np
import pytest

import cli
import cli.batch
import engines.fileio
from cli._common import folder_pictures, load_labels
from engines.segmentation import base as parsers
from engines.segmentation.labelmap import LabelMapError, save_label_png
from engines.segmentation.labels import generated_palette
from tests.cli.test_cli import _folder, run_cli


def _counting(monkeypatch, owner, name: str) -> list:
    """Replace ``owner.name`` by a wrapper recording each call's arguments."""
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_folder_is_listed_once(tmp_path, monkeypatch, capsys):
    images, _masks = _folder(tmp_path)
    (images / "notes.txt").write_text("not a picture")
    (images / "sub").mkdir()
    reads = _counting(monkeypatch, engines.fileio, "_folder_entries")
    pictures = folder_pictures(images, tmp_path / "out", "results")
    assert [p.name for p in pictures] == ["p0.png", "p1.png", "p2.png"]
    assert reads == [(images,)]
    note = capsys.readouterr().err  # what else the folder holds, from the same read
    assert "notes.txt" in note and "sub/" in note


def test_batch_finds_the_mask_files_in_use_once(tmp_path, monkeypatch, capsys):
    images, masks = _folder(tmp_path)
    found = _counting(monkeypatch, cli.batch, "masks_in_use")
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == cli.EXIT_OK
    assert len(found) == 1
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_masks_in_the_pictures_folder_are_found_once_and_left_out(tmp_path, monkeypatch,
                                                                   capsys):
    images, masks = _folder(tmp_path)
    for mask in masks.iterdir():  # p0.png, p1_mask.png, p2.png
        mask.rename(images / f"{mask.stem.removesuffix('_mask')}_mask.png")
    found = _counting(monkeypatch, cli.batch, "masks_in_use")
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", images, "-o", out,
                   "--engine", "telea") == cli.EXIT_OK
    assert len(found) == 1
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert "3 files left out: they are masks, not pictures to fill" in capsys.readouterr().err


@pytest.mark.parametrize("as_folder", [False, True])
def test_segment_asks_the_parser_for_its_status_once(tmp_path, monkeypatch, capsys,
                                                     as_folder):
    images, _masks = _folder(tmp_path)
    asked = _counting(monkeypatch, parsers.Parser, "status")
    source, out = ((images, tmp_path / "maps") if as_folder
                   else (images / "p0.png", tmp_path / "p0-labels.png"))
    assert cli.main(["segment", str(source), "-o", str(out)]) == cli.EXIT_OK
    assert len(asked) == 1
    assert out.exists()


@pytest.mark.parametrize("as_folder", [False, True])
def test_a_parser_without_its_weights_is_named_by_the_flag(tmp_path, make_spec, monkeypatch,
                                                           capsys, as_folder):
    spec = make_spec(urls=("https://example.invalid/stripes.pth",))

    class Stripes(parsers.Parser):  # as a plugin declares one
        name, title, weights = "qa-stripes", "QA stripes", (spec.id,)
        label_set = parsers.LabelSet("qa", ("even", "odd"), generated_palette(2))

        def parse(self, image, cancel=None, progress=None):
            raise AssertionError("a parser without its weights must not run")

    monkeypatch.setitem(parsers._PARSERS, Stripes.name, Stripes)
    images, _masks = _folder(tmp_path)
    source, out = ((images, tmp_path / "maps") if as_folder
                   else (images / "p0.png", tmp_path / "p0-labels.png"))
    assert cli.main(["segment", str(source), "-o", str(out), "--parser", "qa-stripes"]
                    ) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: --parser qa-stripes: QA stripes: weights {spec.id} not installed; "
        f"run `python main.py models download {spec.id}`\n")
    assert not out.exists()


def _opened(monkeypatch, path: Path) -> list[str]:
    """Record each time ``path`` is opened (pathlib and Pillow open files through the first
    two, the picture readers of :mod:`engines.fileio` through ``os.open``)."""
    opened = []
    for owner in (builtins, io, engines.fileio.os):
        original = owner.open

        def counted(file, *args, original=original, **kwargs):
            if isinstance(file, (str, Path)) and Path(file).resolve() == path.resolve():
                opened.append(str(file))
            return original(file, *args, **kwargs)

        monkeypatch.setattr(owner, "open", counted)
    return opened


def test_a_label_map_file_is_read_once_with_the_set_it_names(tmp_path, monkeypatch):
    label_set = parsers.LabelSet("qa", ("a", "b", "c", "d"), generated_palette(4))
    labels = np.zeros((6, 8), np.uint8)
    labels[:, 4:] = 3
    path = save_label_png(tmp_path / "labels.png", labels, label_set)
    opened = _opened(monkeypatch, path)
    loaded, named = load_labels(str(path), (6, 8))
    assert len(opened) == 1
    assert np.array_equal(loaded, labels) and named == "qa"
    assert load_labels(None, (6, 8)) == (None, None)
    with pytest.raises(LabelMapError, match=re.escape(
            "labels.png: the label map is 8x6 but the image is 9x6; they must be the same size")):
        load_labels(str(path), (6, 9))
