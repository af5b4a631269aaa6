"""PNG files cut short, opened with ``cut_short_ok`` (engines.fileio._decoded_as_far_as_it_goes,
_png_rows_arrived): a PNG that is not interlaced lacks exactly the rows after the last whole
row its image data holds, so only those are masked, whatever the rows that arrived are
made of: a palette PNG whose first entry is its white background, a grey or RGB PNG on a
black background reaching the bottom-right corner (QA41 F3: the arrived background that
touched the missing part was masked too, from row 0)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from engines.fileio import decode_image, load_image

HEIGHT, WIDTH = 60, 80


def _drawing(channels: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Samples as stored: a background of zeros (it reaches the bottom-right corner and every
    row), a noisy object in the middle rows (so the bytes spread over them), and a frame
    line down the left edge, never zero (so every row that did not arrive decodes
    differently from the whole file's)."""
    rng = np.random.default_rng(5)
    shape = (height, width, channels) if channels > 1 else (height, width)
    samples = np.zeros(shape, np.uint8)
    top, bottom = height * 2 // 15, height * 13 // 15
    samples[top:bottom, width // 8:width * 5 // 8] = rng.integers(
        1, 16, samples[top:bottom, width // 8:width * 5 // 8].shape)
    samples[:, 0] = 9
    return samples


def _palette_png() -> bytes:
    """A palette PNG whose first entry is its white background (as quantisers write it)."""
    palette = np.random.default_rng(6).integers(0, 255, (16, 3)).astype(np.uint8)
    palette[0] = 255
    picture = Image.fromarray(_drawing(1), "P")
    picture.putpalette(palette.tobytes())
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _pillow_png(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(samples).save(buffer, "PNG")
    return buffer.getvalue()


def _cv2_png(samples: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", samples)
    assert ok
    return encoded.tobytes()


def _pillow_rows(data: bytes) -> np.ndarray:
    """Pillow's own decoding of ``data``, a file cut short read as far as it goes."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            return np.array(picture)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def _first_row_missing(cut: bytes, whole: bytes) -> int:
    """The first row Pillow decodes from ``cut`` unlike from ``whole`` (the frame line makes
    every row that did not arrive whole differ: Pillow leaves zeros in a partial row)."""
    partial, full = _pillow_rows(cut), _pillow_rows(whole)
    same = [np.array_equal(partial[row], full[row]) for row in range(full.shape[0])]
    return same.index(False) if False in same else full.shape[0]


CASES = {
    "palette, white index 0": _palette_png,
    "grey, black background": lambda: _pillow_png(_drawing(1)),
    "rgb, black background": lambda: _pillow_png(_drawing(3)),
    "rgb by OpenCV, black background": lambda: _cv2_png(_drawing(3)),
}


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("case", list(CASES))
def test_only_the_rows_after_the_last_whole_row_are_masked(tmp_path, case, fraction):
    whole_bytes = CASES[case]()
    cut = whole_bytes[:int(len(whole_bytes) * fraction)]
    first = _first_row_missing(cut, whole_bytes)
    assert 0 < first < HEIGHT  # cut inside the image data
    path = tmp_path / "cut.png"
    path.write_bytes(cut)
    loaded = load_image(path, cut_short_ok=True)
    whole = decode_image(whole_bytes)
    assert loaded.missing is not None, loaded.notes
    masked = loaded.missing > 0
    assert not masked[:first].any()  # the background that arrived is not a hole
    assert masked[first:].all()  # the partial row and all after it are
    assert np.array_equal(loaded.rgb[:first], whole.rgb[:first])
    if case.startswith("palette"):
        assert (loaded.rgb[:first][:, -1] == 255).all()  # the white background arrived
    else:
        assert (loaded.rgb[:first][:, -1] == 0).all()  # the black background arrived
    share = (HEIGHT - first) / HEIGHT
    assert "cut short" in loaded.notes[0]
    assert f"the part it lacks ({share:.1%} of the picture)" in loaded.notes[0]


def test_a_png_of_many_image_data_chunks_cut_short_is_masked_from_its_last_whole_row(tmp_path):
    height, width = 400, 300
    whole_bytes = _cv2_png(_drawing(3, height, width))
    assert whole_bytes.count(b"IDAT") > 1
    cut = whole_bytes[:len(whole_bytes) // 2]
    first = _first_row_missing(cut, whole_bytes)
    assert 0 < first < height
    path = tmp_path / "cut.png"
    path.write_bytes(cut)
    loaded = load_image(path, cut_short_ok=True)
    masked = loaded.missing > 0
    assert not masked[:first].any() and masked[first:].all()
    assert np.array_equal(loaded.rgb[:first], decode_image(whole_bytes).rgb[:first])
