"""QA audit 35, F2 and F3: a reference photo whose data is corrupt or cut short is refused
(a fill would copy the garbage), in the editor's Add Reference and in ``--exemplar``, with
advice that fits a reference; the same file opened as a picture is noted or masked."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import cli
from engines.fileio import (
    JPEG_DAMAGED,
    REFERENCE_DAMAGED,
    ImageFileError,
    load_image,
    load_reference,
    save_image,
    save_mask,
)
from tests.app.test_references_added import patchmatch_window
from tests.engines.test_jpeg_damaged import _damaged, _jpeg

CUT_SHORT_ADVICE = "; a reference photo must be whole (open it as a picture to mend it)"


@pytest.fixture
def files(tmp_path):
    """damaged.jpg (corrupt data), cut.png (its end gone), sound.png, and a 48x64 picture
    with a hole: photo.png and mask.png, in ``tmp_path``."""
    (tmp_path / "damaged.jpg").write_bytes(_damaged(_jpeg(progressive=True)))
    buffer = io.BytesIO()
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) * 2 // 3])
    save_image(tmp_path / "sound.png", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    save_image(tmp_path / "photo.png", rng.integers(20, 60, (48, 64, 3), dtype=np.uint8))
    mask = np.zeros((48, 64), np.uint8)
    mask[20:30, 20:40] = 255
    save_mask(tmp_path / "mask.png", mask)
    return tmp_path


def test_load_reference_refuses_what_load_image_notes_or_masks(files):
    assert JPEG_DAMAGED in load_image(files / "damaged.jpg").notes
    with pytest.raises(ImageFileError) as damaged:
        load_reference(files / "damaged.jpg")
    assert str(damaged.value) == f"{files / 'damaged.jpg'}: {REFERENCE_DAMAGED}"
    assert load_image(files / "cut.png", cut_short_ok=True).missing is not None
    with pytest.raises(ImageFileError) as cut:
        load_reference(files / "cut.png")
    assert str(cut.value).endswith(CUT_SHORT_ADVICE)
    assert "the editor opens it" not in str(cut.value)
    assert np.array_equal(load_reference(files / "sound.png").rgb,
                          load_image(files / "sound.png").rgb)


@pytest.mark.parametrize(("name", "ending"), [("damaged.jpg", REFERENCE_DAMAGED),
                                              ("cut.png", CUT_SHORT_ADVICE)])
def test_exemplar_refuses_a_damaged_reference_before_any_work(files, capsys, name, ending):
    out = files / "out.png"
    assert cli.main(["inpaint", str(files / "photo.png"), str(files / "mask.png"), "-o",
                     str(out), "--engine", "patchmatch", "--exemplar", str(files / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {files / name}: ") and err.rstrip().endswith(ending)
    assert not out.exists()


def test_the_editor_does_not_add_a_damaged_reference(qtbot, files, tmp_path):
    (tmp_path / "editor").mkdir()
    window = patchmatch_window(qtbot, tmp_path / "editor")  # its own folder
    try:
        assert window.add_references([files / "damaged.jpg", files / "cut.png",
                                      files / "sound.png"]) == 1
        assert REFERENCE_DAMAGED in window.last_error and CUT_SHORT_ADVICE in window.last_error
        assert [r.name for r in window.document.references] == ["sound.png"]
    finally:
        window.worker.shutdown()
