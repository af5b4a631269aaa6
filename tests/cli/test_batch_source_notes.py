"""`batch` prints the notes on guidance each picture's fill could not follow, as `inpaint`
does (:func:`engines.guidance.source_notes`), named by the pictures' results, and goes on:
notes change no exit code. `batch` itself gives no reference photo or label map, so the
tests give its requests one as an API caller of :func:`engines.batch.clear_folder` may."""

from __future__ import annotations

import numpy as np
import pytest

from cli import EXIT_FAILED, EXIT_OK
from cli import batch as batch_module
from tests.cli.test_cli import _folder, run_cli

LEFT_OUT = ("the fill left out a reference photo at Patch size 31: it is 12x12 pixels, too "
            "small for one 31x31 patch, so nothing can be copied from it")


@pytest.fixture
def tiny_reference(monkeypatch):
    """Every request of a `batch` run carries a 12x12 reference photo."""
    settings = batch_module.request_settings

    def with_reference(args):
        return {**settings(args), "exemplars": (np.full((12, 12, 3), 200, np.uint8),)}

    monkeypatch.setattr(batch_module, "request_settings", with_reference)


def test_a_folder_run_prints_its_pictures_notes(tmp_path, capsys, tiny_reference):
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "patchmatch", "--option", "patch_size=31")
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert printed.splitlines() == [
        f"3 written to {out}, 0 failed",
        f"note: 3 results (p0.png, p1.png, p2.png): {LEFT_OUT}"]


def test_a_run_with_notes_and_a_failure_says_both_and_fails_as_before(tmp_path, capsys,
                                                                      tiny_reference):
    images, masks = _folder(tmp_path)
    (images / "p1.png").write_bytes(b"damaged")
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "patchmatch", "--option", "patch_size=31")
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert printed.splitlines() == [
        f"2 written to {out}, 1 failed",
        "1 failed:",  # under its own heading, before the notes
        "  p1.png: not an image file, or the file is damaged",
        f"note: 2 results (p0.png, p2.png): {LEFT_OUT}"]
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p2.png"]


def test_a_patch_size_that_takes_the_reference_prints_no_note(tmp_path, capsys,
                                                              tiny_reference):
    images, masks = _folder(tmp_path)
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "out",
                   "--engine", "patchmatch", "--option", "patch_size=11")
    assert code == EXIT_OK
    assert "note:" not in capsys.readouterr().out
