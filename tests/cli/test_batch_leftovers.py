"""`batch`: one check refuses a result replacing a mask file or a reference photo, worded by
what the file is; a reference photo in the pictures' folder is left out as mask files are;
the reference photos searched shrunk are said once per run in `inpaint`'s words; and
metadata a BMP or GIF result cannot hold is said whenever it is lost, once per run."""

from __future__ import annotations

import numpy as np
import pytest

import cli.batch
from cli import EXIT_OK, EXIT_USAGE
from engines import region as region_module
from engines.fileio import save_image, save_mask
from tests.cli.test_cli import run_cli
from tests.photos import write_phone_photo

SHAPE = (48, 64)  # (height, width) of the pictures


def _pictures(folder, count: int = 3) -> list[np.ndarray]:
    """``count`` noise pictures ``p0.png``... in ``folder``; returns their pixels."""
    rng = np.random.default_rng(4)
    folder.mkdir(exist_ok=True)
    pixels = []
    for index in range(count):
        picture = rng.integers(20, 200, (*SHAPE, 3)).astype(np.uint8)
        save_image(folder / f"p{index}.png", picture)
        pixels.append(picture)
    return pixels


def _hole() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[18:30, 26:38] = 255
    return mask


@pytest.fixture
def mask(tmp_path):
    path = tmp_path / "mask.png"
    save_mask(path, _hole())
    return path


def _batch(images, mask, out, *extra) -> int:
    return run_cli("batch", "--images", images, "--mask", mask, "-o", out,
                   "--engine", "telea", *extra)


def _notes(err: str) -> list[str]:
    """The ``note:`` lines of stderr, progress bars left out."""
    return [line[line.index("note: "):] for line in err.replace("\r", "\n").splitlines()
            if "note: " in line]


# 1. one check, worded by what the protected file is

def test_a_mask_under_a_results_name_is_refused_as_a_mask(tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    _pictures(images, 2)
    masks.mkdir()
    for index in range(2):
        save_mask(masks / f"p{index}.png", _hole())
    before = {p.name: p.read_bytes() for p in masks.iterdir()}
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", masks,
                   "--engine", "telea", "--overwrite")
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err == (f"error: the output folder {masks} is the --masks folder: results are "
                   "named like the pictures (photo.png), which a later run would read as "
                   "their files there; choose another output folder\n")
    assert {p.name: p.read_bytes() for p in masks.iterdir()} == before


def test_a_file_both_mask_and_reference_is_refused_once(tmp_path, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    _pictures(images, 1)
    out.mkdir()
    shared = out / "p0.png"
    save_mask(shared, _hole())
    before = shared.read_bytes()
    code = run_cli("batch", "--images", images, "--mask", shared, "-o", out,
                   "--engine", "patchmatch", "--exemplar", shared)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1
    assert err.startswith("error: p0.png would replace a mask file in use")
    assert shared.read_bytes() == before and [p.name for p in out.iterdir()] == ["p0.png"]


# 2. a reference photo among the pictures is no picture

def test_a_reference_in_the_pictures_folder_is_left_out_and_said(tmp_path, mask, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    _pictures(images, 2)
    reference = images / "ref.png"
    save_image(reference, np.full((*SHAPE, 3), 120, np.uint8))  # a picture's size
    before = reference.read_bytes()
    assert _batch(images, mask, out, "--exemplar", reference) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == f"2 written to {out}, 0 failed"
    assert ("1 file left out: it is a reference photo (--exemplar), not a picture to fill\n"
            in captured.err)
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]
    assert reference.read_bytes() == before


def test_masks_and_references_left_out_are_said_apart(tmp_path, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    _pictures(images, 2)
    save_mask(images / "watermark.png", _hole())
    save_image(images / "ref.png", np.full((*SHAPE, 3), 120, np.uint8))
    (images / "notes.txt").write_text("x")
    assert _batch(images, images / "watermark.png", out,
                  "--exemplar", images / "ref.png") == EXIT_OK
    assert ("1 file skipped: no picture extension (.txt): notes.txt; 1 file left "
            "out: it is a mask, not a picture to fill; 1 file left out: it is a reference "
            "photo (--exemplar), not a picture to fill\n") in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]


def test_a_folder_of_references_only_is_refused_saying_why(tmp_path, mask, capsys):
    only, out = tmp_path / "only", tmp_path / "out"
    only.mkdir()
    save_image(only / "ref.png", np.full((40, 40, 3), 120, np.uint8))
    assert _batch(only, mask, out, "--exemplar", only / "ref.png") == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"error: {only} holds no pictures (")
    assert error.rstrip().endswith("; 1 file left out: it is a reference photo "
                                   "(--exemplar), not a picture to fill")
    assert not out.exists()


# 3. references searched shrunk: once per run, in inpaint's words

@pytest.fixture
def big_reference(tmp_path, monkeypatch):
    """A reference photo above the (lowered) size from which a fill searches it shrunk."""
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    path = tmp_path / "big.png"
    save_image(path, np.full((300, 400, 3), 200, np.uint8))
    return path


def test_the_references_searched_shrunk_are_said_once_in_inpaints_words(
        tmp_path, mask, big_reference, capsys, monkeypatch):
    images, out = tmp_path / "images", tmp_path / "out"
    _pictures(images, 3)
    assert run_cli("inpaint", images / "p0.png", mask, "-o", tmp_path / "one.png",
                   "--engine", "patchmatch", "--exemplar", big_reference) == EXIT_OK
    [inpaints] = _notes(capsys.readouterr().err)
    assert inpaints.startswith(f"note: --exemplar {big_reference} (400x300) is searched at ")
    calls = []
    worded = cli.batch.shrunk_references_note

    def counted(*args):
        calls.append(args)
        return worded(*args)

    monkeypatch.setattr(cli.batch, "shrunk_references_note", counted)
    assert run_cli("batch", "--images", images, "--mask", mask, "-o", out, "--engine",
                   "patchmatch", "--exemplar", big_reference) == EXIT_OK
    captured = capsys.readouterr()
    assert _notes(captured.err) == []  # not above the progress bar: with the other notes
    assert len(calls) == 1  # said at the first picture: nothing worked out after it
    assert captured.out.splitlines() == [f"3 written to {out}, 0 failed",
                                         "note: p0.png: " + inpaints.removeprefix("note: ")]
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_nothing_is_said_when_no_reference_is_shrunk(tmp_path, mask, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    _pictures(images, 2)
    small = tmp_path / "small.png"
    save_image(small, np.full((40, 40, 3), 200, np.uint8))
    assert run_cli("batch", "--images", images, "--mask", mask, "-o", out, "--engine",
                   "patchmatch", "--exemplar", small) == EXIT_OK
    captured = capsys.readouterr()
    assert _notes(captured.err) == [] and _notes(captured.out) == []


# 4. metadata a BMP or GIF cannot hold: whenever lost, once per run

def _phone_photos(folder, count: int) -> None:
    rng = np.random.default_rng(6)
    folder.mkdir()
    for index in range(count):
        write_phone_photo(folder / f"p{index}.jpg",
                          rng.integers(20, 200, (*SHAPE, 3)).astype(np.uint8))


def test_metadata_lost_is_said_once_naming_the_first_results(tmp_path, mask, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    _phone_photos(images, 7)
    save_image(images / "plain.png", np.full((*SHAPE, 3), 90, np.uint8))  # none to lose
    assert run_cli("inpaint", images / "p0.jpg", mask, "-o", tmp_path / "one.gif",
                   "--engine", "telea") == EXIT_OK
    inpaints = [line for line in capsys.readouterr().out.splitlines() if "EXIF" in line]
    assert inpaints == ["note: .gif files hold no colour profile, EXIF or XMP; the "
                        "original's were not kept"]
    assert _batch(images, mask, out, "--format", "gif") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"8 written to {out}, 0 failed",
        "note: 7 results (p0.gif, p1.gif, p2.gif, p3.gif, p4.gif and 2 more): "
        + inpaints[0].removeprefix("note: ")]
    assert len(list(out.iterdir())) == 8


def test_no_metadata_note_when_none_is_lost(tmp_path, mask, capsys):
    images = tmp_path / "images"
    _phone_photos(images, 2)
    assert _batch(images, mask, tmp_path / "stripped", "--format", "bmp",
                  "--strip-metadata") == EXIT_OK
    assert "note:" not in capsys.readouterr().out
    plain = tmp_path / "plain"
    _pictures(plain, 2)  # nothing to lose
    assert _batch(plain, mask, tmp_path / "bmp", "--format", ".bmp") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"2 written to {tmp_path / 'bmp'}, 0 failed"]
    assert _batch(images, mask, tmp_path / "own") == EXIT_OK  # JPEGs keep theirs
    assert "note:" not in capsys.readouterr().out
