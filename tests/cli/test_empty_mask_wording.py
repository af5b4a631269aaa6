"""An empty mask file is refused in the same words by ``inpaint``, ``batch --mask`` and
``batch --masks``: the file named, "the mask is empty (no white pixels)". Each names it by
its path as given, ``batch`` with ``--mask`` as with ``--masks``, as a mask file that cannot be
read (a 0-byte one) is named (QA audit 38, F7: ``--mask`` and ``inpaint`` named it by its
name only)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import main
from engines.fileio import save_image, save_mask

EMPTY = "the mask is empty (no white pixels)"


def run_cli(*argv) -> int:
    return main.main([str(arg) for arg in argv])


@pytest.fixture
def folder(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        save_image(pictures / name, rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    hole = np.zeros((48, 64), np.uint8)
    hole[16:32, 20:40] = 255
    save_mask(tmp_path / "empty.png", np.zeros((48, 64), np.uint8))
    masks = tmp_path / "masks"
    masks.mkdir()
    save_mask(masks / "a.png", np.zeros((48, 64), np.uint8))
    save_mask(masks / "b.png", hole)
    return tmp_path


def test_inpaint_names_the_empty_mask_file(folder, capsys):
    code = run_cli("inpaint", folder / "pictures" / "a.png", folder / "empty.png",
                   "-o", folder / "out.png", "--engine", "telea")
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {folder / 'empty.png'}: {EMPTY}\n"
    assert not (folder / "out.png").exists()


def test_batch_with_one_empty_mask_is_refused_in_the_same_words(folder, capsys):
    code = run_cli("batch", "--images", folder / "pictures", "--mask", folder / "empty.png",
                   "-o", folder / "out", "--engine", "telea")
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {folder / 'empty.png'}: {EMPTY}\n"
    assert "nothing to clear" not in err
    assert not (folder / "out").exists()


def test_batch_names_an_empty_mask_by_its_path_as_given_with_mask_and_masks(folder, capsys,
                                                                           monkeypatch):
    """Given relative to the folder the run starts in: said so, an empty file and a 0-byte
    one alike, with ``--mask`` and in a ``--masks`` picture's failure."""
    monkeypatch.chdir(folder)
    (folder / "zero.png").write_bytes(b"")
    said = {}
    for mask in ("empty.png", "zero.png", os.path.join("masks", "..", "empty.png")):
        code = run_cli("batch", "--images", "pictures", "--mask", mask, "-o", "out",
                       "--engine", "telea")
        said[mask] = (code, capsys.readouterr().err)
    zero = "an empty file (0 bytes), as an interrupted copy or download leaves one"
    assert said == {"empty.png": (2, f"error: empty.png: {EMPTY}\n"),
                    "zero.png": (2, f"error: zero.png: {zero}\n"),
                    os.path.join("masks", "..", "empty.png"):
                        (2, f"error: {os.path.join('masks', '..', 'empty.png')}: {EMPTY}\n")}
    (folder / "masks" / "b.png").write_bytes(b"")
    assert run_cli("batch", "--images", "pictures", "--masks", "masks", "-o", "out",
                   "--engine", "telea") == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"  a.png: {os.path.join('masks', 'a.png')}: {EMPTY}",
        f"  b.png: {os.path.join('masks', 'b.png')}: {zero}"]


def test_a_pictures_empty_mask_is_named_and_the_others_are_filled(folder, capsys):
    code = run_cli("batch", "--images", folder / "pictures", "--masks", folder / "masks",
                   "-o", folder / "out", "--engine", "telea")
    out = capsys.readouterr().out
    assert code == 1
    assert f"a.png: {folder / 'masks' / 'a.png'}: {EMPTY}" in out
    assert "paint over" not in out  # the editor's advice has no place in a folder run
    assert sorted(path.name for path in (folder / "out").iterdir()) == ["b.png"]
