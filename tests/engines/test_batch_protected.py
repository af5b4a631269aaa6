""":func:`engines.batch.clear_folder`: the files no result may replace are refused as what
they are (:class:`engines.batch.Protected`), before any work; a result of a format without
metadata notes the metadata its picture lost, whether that format was chosen or its own;
``before_fill`` sees each picture's request."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import engines.batch as batch_module
from engines.base import InputError
from engines.batch import Protected, clear_folder, note_lines
from engines.fileio import ImageMetadata, dropped_metadata_note, load_image, save_image

SHAPE = (40, 50)


def _folder(tmp_path, suffix: str = ".png", count: int = 2):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for index in range(count):
        save_image(folder / f"p{index}{suffix}",
                   rng.integers(0, 256, (*SHAPE, 3)).astype(np.uint8))
    return folder


def _hole() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[10:20, 15:30] = 255
    return mask


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_protected_file_is_refused_as_what_it_is(tmp_path, overwrite):
    folder, out = _folder(tmp_path), tmp_path / "out"
    out.mkdir()
    reference = out / "p1.png"
    reference.write_bytes(b"the reference photo")
    protected = {str(reference): Protected("the reference photo refs/p1.png",
                                           "reference photos")}
    with pytest.raises(InputError) as refused:
        clear_folder(folder, out, _hole(), "telea", overwrite=overwrite, protected=protected)
    assert str(refused.value) == ("p1.png would replace the reference photo refs/p1.png; "
                                  "choose another output folder: reference photos are never "
                                  "replaced")
    assert reference.read_bytes() == b"the reference photo"
    assert [p.name for p in out.iterdir()] == ["p1.png"]  # p0.png was not done either


def test_a_file_named_twice_is_refused_as_first_named(tmp_path):
    folder, out = _folder(tmp_path), tmp_path / "out"
    out.mkdir()
    target = out / "p0.png"
    target.write_bytes(b"mask")
    protected = {str(target): Protected(f"a mask file in use ({target})", "masks"),
                 str(out / ".." / "out" / "p0.png"): Protected("the reference photo x",
                                                               "reference photos")}
    with pytest.raises(InputError, match=r"^p0\.png would replace a mask file in use "):
        clear_folder(folder, out, _hole(), "telea", protected=protected)
    assert target.read_bytes() == b"mask"


def test_results_not_replacing_a_protected_file_are_written(tmp_path):
    folder, out = _folder(tmp_path), tmp_path / "out"
    elsewhere = tmp_path / "ref.png"
    save_image(elsewhere, np.zeros((8, 8, 3), np.uint8))
    result = clear_folder(folder, out, _hole(), "telea",
                          protected={elsewhere: Protected("the reference photo", "photos")})
    assert [p.name for p in result.written] == ["p0.png", "p1.png"]


def test_the_metadata_a_gif_of_the_pictures_own_format_loses_is_noted(tmp_path,
                                                                      monkeypatch):
    """A GIF read with XMP (as a reader giving it would) written back as GIF: the note,
    without any ``output_format``; not with ``keep_metadata=False``."""
    folder = _folder(tmp_path, ".gif")
    read = batch_module.load_image

    def with_xmp(path):
        loaded = read(path)
        return replace(loaded, metadata=replace(loaded.metadata, xmp=b"<x:xmpmeta/>"))

    monkeypatch.setattr(batch_module, "load_image", with_xmp)
    result = clear_folder(folder, tmp_path / "out", _hole(), "telea")
    note = dropped_metadata_note(ImageMetadata(xmp=b"x"), ".GIF")
    assert note == ".gif files hold no colour profile, EXIF or XMP; the original's were not kept"
    palette = ("palette image (256 colours), edited in full colour; saving it as GIF keeps "
               "its palette, filled pixels taking the nearest of its colours (saving as PNG or "
               "TIFF keeps them as filled)")  # what reading each GIF says
    assert note_lines(result) == [f"2 results (p0.gif, p1.gif): {palette}",
                                  f"2 results (p0.gif, p1.gif): {note}"]
    stripped = clear_folder(folder, tmp_path / "stripped", _hole(), "telea",
                            keep_metadata=False)
    assert [said for _, said in stripped.notes] == [palette, palette]  # no metadata note
    assert load_image(tmp_path / "out" / "p0.gif").metadata.xmp is None  # lost indeed


def test_nothing_lost_nothing_noted():
    assert dropped_metadata_note(ImageMetadata(), ".bmp") is None  # nothing to lose
    assert dropped_metadata_note(ImageMetadata(exif=b"Exif\0\0"), ".png") is None


def test_before_fill_sees_each_pictures_request_before_its_fill(tmp_path):
    folder = _folder(tmp_path, count=3)
    seen = []
    result = clear_folder(folder, tmp_path / "out", _hole(), "telea",
                          before_fill=lambda picture, request, engine: seen.append(
                              (picture.name, request.mask.shape, engine.name)))
    assert seen == [(f"p{index}.png", SHAPE, "telea") for index in range(3)]
    assert len(result.written) == 3


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_result_written_meanwhile_is_kept_and_its_picture_skipped(tmp_path, overwrite):
    """Another run into the same folder wrote p0's result while this one filled it: kept,
    as one there at the start would have been (no failure saying "choose another name");
    a run told to overwrite replaces it."""
    folder, out = _folder(tmp_path), tmp_path / "out"
    theirs = np.full((*SHAPE, 3), 7, np.uint8)

    def other_run(picture, _request, _engine):
        if picture.name == "p0.png":
            save_image(out / "p0.png", theirs)

    result = clear_folder(folder, out, _hole(), overwrite=overwrite, before_fill=other_run)
    assert not result.failed
    kept = np.array_equal(load_image(out / "p0.png").rgb, theirs)
    assert kept is not overwrite
    assert list(result.skipped) == ([folder / "p0.png"] if not overwrite else [])
    assert (out / "p1.png") in result.written
    assert (out / "p0.png" in result.written) is overwrite
