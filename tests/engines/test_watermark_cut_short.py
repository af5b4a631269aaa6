"""A JPEG or PNG cut short after its header is unreadable for a watermark estimate from the
start: it is not counted among the "readable images" of the first refusal, nor read for its
pixels, and the left-out list names it in the loader's words."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from engines.base import InputError
from engines.fileio import encode_image, ends_early, write_atomic
from engines.watermark import estimate_watermark_mask, left_out_note
from tests.engines.test_watermark import CUT_SHORT, backgrounds

SIZE = (120, 160)


def _folder(folder, good: int, cut: bytes | None = None, name: str = "cut.jpg"):
    """``good`` PNGs p0.png... of :data:`SIZE`, and ``cut`` (the bytes of a file of that size,
    cut or not) as ``name``."""
    folder.mkdir()
    for index, image in enumerate(backgrounds(good, seed=4, size=SIZE)):
        write_atomic(folder / f"p{index}.png", encode_image(image, ".png"))
    if cut is not None:
        (folder / name).write_bytes(cut)
    return folder


def _jpeg(**options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(backgrounds(1, seed=9, size=SIZE)[0]).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _with_thumbnail(jpeg: bytes) -> bytes:
    """``jpeg`` with an APP1 segment holding a whole small JPEG (as an EXIF thumbnail is),
    with its own scan and end-of-image marker, before the picture's own."""
    thumbnail = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(thumbnail, "JPEG")
    payload = b"Exif\0\0" + thumbnail.getvalue()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_a_jpeg_cut_in_half_is_left_out_before_the_pixels_are_read(tmp_path):
    data = _jpeg()
    folder = _folder(tmp_path / "in", 5, data[:len(data) // 2])
    read: list[str] = []
    estimate = estimate_watermark_mask(folder, progress=lambda f, text: read.append(text))
    assert estimate.used == 5
    assert estimate.skipped == (("cut.jpg", CUT_SHORT),)
    assert "reading cut.jpg" not in read  # never counted among the pictures to read
    assert left_out_note(estimate.skipped) == f"1 left out of the estimate: cut.jpg: {CUT_SHORT}"


def test_the_first_refusal_does_not_count_a_jpeg_cut_in_half(tmp_path):
    data = _jpeg()
    folder = _folder(tmp_path / "in", 4, data[:len(data) // 2])
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(folder)
    assert str(refused.value) == (
        "found 4 readable images of size 160x120; estimating a watermark needs at least 5 of "
        f"one size. 1 left out of the estimate: cut.jpg: {CUT_SHORT}")


@pytest.mark.parametrize("options", [{}, {"progressive": True}], ids=["baseline", "progressive"])
def test_a_jpeg_whose_thumbnail_is_whole_but_picture_cut_is_left_out(tmp_path, options):
    data = _with_thumbnail(_jpeg(**options))
    assert not ends_early(data)
    cut = data[:len(data) * 3 // 4]
    assert ends_early(cut)
    estimate = estimate_watermark_mask(_folder(tmp_path / "in", 5, cut))
    assert estimate.used == 5 and estimate.skipped == (("cut.jpg", CUT_SHORT),)


def test_a_png_cut_short_is_left_out_too(tmp_path):
    data = encode_image(backgrounds(1, seed=9, size=SIZE)[0], ".png")
    assert not ends_early(data) and ends_early(data[:len(data) // 2])
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(_folder(tmp_path / "in", 4, data[:len(data) // 2], "cut.png"))
    assert str(refused.value).startswith("found 4 readable images of size 160x120; ")
    assert str(refused.value).endswith(f"1 left out of the estimate: cut.png: {CUT_SHORT}")


def test_whole_files_with_data_after_their_end_are_used(tmp_path):
    """A JPEG followed by other data (a phone's motion photo, a second picture) is whole."""
    data = _with_thumbnail(_jpeg()) + b"\0\0\0\x18ftypmp42" + bytes(500)
    assert not ends_early(data)
    estimate = estimate_watermark_mask(_folder(tmp_path / "in", 4, data, "whole.jpg"))
    assert estimate.used == 5 and estimate.skipped == ()
