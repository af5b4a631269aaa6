"""A JPEG whose entropy-coded data breaks off partway but whose end marker is there (libjpeg:
"premature end of data segment", every MCU after it decoded flat mid-grey) is treated as a
PNG that breaks off: refused by default in the same words, opened with the part it lacks
masked under ``cut_short_ok`` (upright, as the picture is shown). Other corrupt data, and a
break-off that leaves no grey tail, keep the plain note; a clean JPEG whose bottom really is
flat mid-grey lacks nothing."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from engines.fileio import JPEG_DAMAGED, ImageFileError, load_image
from tests.engines.test_jpeg_damaged import _damaged, _jpeg

SAMPLE = "resources/samples/astronaut.jpg"
END = b"\xff\xd9"
BREAKS_OFF = "the file is damaged: its image data breaks off partway"
# Pillow's subsampling numbers, and each layout's MCU (across, down) in pixels
LAYOUTS = {"4:2:0": (2, (16, 16)), "4:4:4": (0, (8, 8)), "grey": (0, (8, 8))}


def _encoded(layout: str, orientation: int = 1) -> bytes:
    """Part of the sample photo, 203x251 (neither a whole number of MCUs), at quality 70."""
    picture = Image.open(SAMPLE).convert("RGB").crop((0, 0, 251, 203))
    if layout == "grey":
        picture = picture.convert("L")
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=70, subsampling=LAYOUTS[layout][0], exif=exif)
    return buffer.getvalue()


def _broken_off(data: bytes) -> bytes:
    """``data`` cut at half its bytes, its end marker put back."""
    return data[:len(data) // 2] + END


def _pair(tmp_path, data: bytes):
    whole, broken = tmp_path / "whole.jpg", tmp_path / "broken.jpg"
    whole.write_bytes(data)
    broken.write_bytes(_broken_off(data))
    return load_image(whole), broken


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_jpeg_that_breaks_off_is_refused_then_opens_with_its_grey_tail_masked(
        tmp_path, capfd, layout):
    intact, broken = _pair(tmp_path, _encoded(layout))
    with pytest.raises(ImageFileError) as refused:
        load_image(broken)
    assert str(refused.value) == (f"{broken}: {BREAKS_OFF} (the editor opens it with the "
                                  f"missing part masked, to fill)")

    loaded = load_image(broken, cut_short_ok=True)
    missing = loaded.missing > 0
    assert loaded.rgb.shape == intact.rgb.shape and loaded.missing.dtype == np.uint8
    assert loaded.notes == (f"{BREAKS_OFF}: the part it lacks ({missing.mean():.1%} of the "
                            f"picture) is masked as a hole to fill",)
    assert 0.3 < missing.mean() < 0.7
    # what the file holds is kept exactly, and all that differs from the whole file is masked
    differs = (loaded.rgb != intact.rgb).any(axis=2)
    assert np.array_equal(loaded.rgb[~missing], intact.rgb[~missing])
    assert missing[differs].all()
    # the tail in raster order: from one MCU on to the end; above it nothing is masked
    across, down = LAYOUTS[layout][1]
    rows = np.flatnonzero(missing.any(axis=1))
    assert rows[-1] == 202 and missing[rows[0] + 2 * down:].all()
    ring = int(down > 8)  # a subsampled picture's pixel beside the grey
    assert (rows[0] + ring) % down == 0
    cut_row = missing[rows[0] + ring + down // 2]  # in the MCU row where the data ran out
    masked = np.flatnonzero(cut_row)
    assert masked[0] == 0 or (masked[0] + int(across > 8)) % across == 0
    assert cut_row[masked[0]:].all()
    assert not missing[:np.flatnonzero(differs.any(axis=1))[0]].any()
    # the mask is the grey tail, with the MCU being decoded when the data ran out and, for
    # subsampled chroma, the pixel beside it that blends in its grey: nothing decoded well
    grey = (loaded.rgb == 128).all(axis=2)
    assert (grey | differs)[missing].mean() > 0.99
    assert grey[missing].mean() > 0.9
    assert "JPEG" not in capfd.readouterr().err  # libjpeg's own line stays off stderr


def test_the_part_a_turned_jpeg_lacks_is_masked_upright(tmp_path):
    """EXIF orientation 6 (stored turned left): the stored bottom rows, the last decoded,
    are the picture's left columns as shown."""
    intact, broken = _pair(tmp_path, _encoded("4:2:0", orientation=6))
    loaded = load_image(broken, cut_short_ok=True)
    assert loaded.rgb.shape == (251, 203, 3) == intact.rgb.shape
    missing = loaded.missing > 0
    assert missing.shape == (251, 203)
    assert missing[:, :16].all() and not missing[:, -60:].any()
    assert np.array_equal(loaded.rgb[~missing], intact.rgb[~missing])
    assert (loaded.rgb == 128).all(axis=2)[missing].mean() > 0.9
    (tmp_path / "stored.jpg").write_bytes(_broken_off(_encoded("4:2:0")))  # no orientation
    stored = load_image(tmp_path / "stored.jpg", cut_short_ok=True)
    assert np.array_equal(missing, np.rot90(stored.missing > 0, -1))  # turned clockwise


def _restart_interval_gone() -> bytes:
    """The sample photo with restart markers every 32 MCUs, most of one interval's data
    gone: libjpeg's data runs out at the next marker ("premature end of data segment"), that
    interval's rest is grey, and the intervals after it decode again."""
    photo = cv2.imread(SAMPLE)
    _ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 90,
                                                cv2.IMWRITE_JPEG_RST_INTERVAL, 32])
    data = encoded.tobytes()
    restarts = [found.start() for found in re.finditer(rb"\xff[\xd0-\xd7]", data)]
    start, end = restarts[len(restarts) // 2:len(restarts) // 2 + 2]
    return data[:start + 12] + data[end - 10:]


@pytest.mark.parametrize("damage", ["bad Huffman code", "a restart interval gone"])
def test_a_jpeg_without_a_grey_tail_keeps_the_plain_note(tmp_path, damage):
    """Bad Huffman codes, or data that runs out inside a restart interval (a grey gap, but
    the last blocks decoded): not a break-off, the picture opens as decoded, with the note."""
    damaged = (_damaged(_jpeg(progressive=True)) if damage == "bad Huffman code"
               else _restart_interval_gone())
    path = tmp_path / "damaged.jpg"
    path.write_bytes(damaged)
    assert load_image(path).notes == (JPEG_DAMAGED,)
    loaded = load_image(path, cut_short_ok=True)
    assert loaded.missing is None and loaded.notes == (JPEG_DAMAGED,)
    if damage != "bad Huffman code":
        assert (loaded.rgb == 128).all(axis=2).mean() > 0.01  # the gap is there


def test_a_clean_jpeg_whose_bottom_is_mid_grey_lacks_nothing(tmp_path, capfd):
    picture = np.asarray(Image.open(SAMPLE).convert("RGB").crop((0, 0, 256, 192))).copy()
    picture[96:] = 128
    path = tmp_path / "grey_bottom.jpg"
    Image.fromarray(picture).save(path, quality=70)
    loaded = load_image(path, cut_short_ok=True)
    assert (loaded.rgb[112:] == 128).all()  # decoded flat mid-grey as a break-off would be
    assert loaded.missing is None and loaded.notes == ()
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("layer", ["mask", "sketch"])
def test_a_layer_file_cut_short_is_refused_asking_for_it_again(tmp_path, layer):
    """A mask or sketch cut short is no picture to fill: the refusal asks for the file again
    rather than promising the editor opens it with the part it lacks masked."""
    from engines.fileio import load_mask, save_mask

    hole = np.zeros((120, 160), np.uint8)
    hole[::3, ::5] = 255  # detail all over: the image data runs to the file's end
    whole = tmp_path / f"{layer}.png"
    save_mask(whole, hole)
    cut = tmp_path / f"{layer}_cut.png"
    cut.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 2])
    with pytest.raises(ImageFileError) as refused:
        load_mask(cut, (120, 160), what=layer)
    assert str(refused.value) == (f"{cut}: the file is cut short, as an interrupted download "
                                  "or copy leaves it; save or export it again")
    # the same bytes as a picture keep the editor's offer
    with pytest.raises(ImageFileError, match=r"\(the editor opens it with the missing part "
                                             r"masked, to fill\)$"):
        load_image(cut)
