"""PNG files cut short, opened with ``cut_short_ok`` (engines.fileio._decoded_as_far_as_it_goes,
_png_as_far_as_it_goes): a 16-bit one's rows that arrived read as the whole file reads them
(sample / 257 rounded, its 16-bit samples kept to save), not clipped to white; and the rows
that did not arrive are masked whatever the file's transparency key or palette makes of
the zeros Pillow leaves there (a grey or RGB key that is not black, a palette whose first
entry is not black)."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from engines.fileio import decode_image, load_image, save_result

HEIGHT, WIDTH = 60, 80


def _noise(low: int, high: int, channels: int = 0, dtype=np.uint16) -> np.ndarray:
    """Random samples in ``low .. high`` (never 0 when ``low`` > 0): they compress alike on
    every row, so cutting the bytes at 60 % cuts the rows about there."""
    rng = np.random.default_rng(7)
    shape = (HEIGHT, WIDTH, channels) if channels else (HEIGHT, WIDTH)
    return rng.integers(low, high + 1, shape).astype(dtype)


def _chunk(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I", len(content)) + kind + content + struct.pack(
        ">I", zlib.crc32(kind + content))


def _png(samples: np.ndarray, colour_type: int, trns: bytes | None = None) -> bytes:
    """A 16-bit PNG of ``samples`` (``(H, W, C)`` uint16, as stored), of ``colour_type``,
    written by hand: neither Pillow nor OpenCV writes 16-bit grey+alpha or an RGB key."""
    height, width = samples.shape[:2]
    rows = samples.astype(">u2").reshape(height, -1).view(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + (_chunk(b"tRNS", trns) if trns is not None else b"")
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _cv2_png(samples: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", samples)
    assert ok
    return encoded.tobytes()


def _cut(tmp_path, whole: bytes):
    """``whole`` cut at 60 % of its bytes, opened as the editor opens it, and its whole
    decoding."""
    path = tmp_path / "cut.png"
    path.write_bytes(whole[:len(whole) * 3 // 5])
    return load_image(path, cut_short_ok=True), decode_image(whole)


def _arrived(loaded) -> np.ndarray:
    """The rows that arrived (bool, ``(H,)``), asserting that the rest are masked whole and
    that about 40 % of the picture is."""
    assert loaded.missing is not None, loaded.notes
    masked = (loaded.missing > 0).all(axis=1)
    first = int(np.argmax(masked))
    assert masked[first:].all() and not (loaded.missing[:first] > 0).any()
    assert 0.2 < 1 - first / HEIGHT < 0.6
    assert "cut short" in loaded.notes[0]
    assert f"{(loaded.missing > 0).mean():.1%}" in loaded.notes[0]
    return ~masked


def _same_where_arrived(loaded, whole) -> np.ndarray:
    """Assert the rows that arrived read as the whole file reads them (8-bit pixels, alpha
    and the 16-bit samples kept); return those rows."""
    rows = _arrived(loaded)
    assert np.array_equal(loaded.rgb[rows], whole.rgb[rows])
    if whole.alpha is not None:
        assert loaded.alpha is not None and np.array_equal(loaded.alpha[rows], whole.alpha[rows])
    assert whole.deep_original is not None and loaded.deep_original is not None
    assert loaded.deep_original.dtype == np.uint16
    assert np.array_equal(loaded.deep_original[rows], whole.deep_original[rows])
    assert loaded.source_depth == 16
    assert any(note.startswith("16-bit image") for note in loaded.notes)
    return rows


def test_a_16_bit_grey_png_cut_short_is_scaled_not_clipped(tmp_path):
    samples = _noise(256, 60000)
    samples[0, 0] = 4003
    loaded, whole = _cut(tmp_path, _cv2_png(samples))
    assert whole.rgb[0, 0, 0] == 16  # 4003 / 257, rounded
    assert loaded.rgb[0, 0].tolist() == [16, 16, 16]  # was 255: clipped
    rows = _same_where_arrived(loaded, whole)
    expected = (samples[rows].astype(np.int64) + 128) // 257
    assert np.array_equal(loaded.rgb[rows][..., 0], expected)
    assert loaded.grey and loaded.alpha is None


@pytest.mark.parametrize("channels", [3, 4], ids=["rgb", "rgba"])
def test_a_16_bit_colour_png_cut_short_keeps_its_samples(tmp_path, channels):
    samples = _noise(1, 65535, channels)
    loaded, whole = _cut(tmp_path, _cv2_png(samples))
    _same_where_arrived(loaded, whole)


def test_a_16_bit_grey_alpha_png_cut_short_keeps_its_samples(tmp_path):
    samples = _noise(1, 65535, 2)
    loaded, whole = _cut(tmp_path, _png(samples, 4))
    rows = _same_where_arrived(loaded, whole)
    grey = loaded.deep_original[rows]
    assert np.array_equal(grey[..., 0], samples[rows][..., 0])
    assert np.array_equal(grey[..., 3], samples[rows][..., 1])


def test_a_16_bit_rgb_png_with_a_key_cut_short_is_masked_and_keyed(tmp_path):
    samples = _noise(1, 65535, 3)
    key = (1000, 2000, 3000)  # not black: the zeros Pillow leaves are not transparent
    samples[:, :10] = key
    loaded, whole = _cut(tmp_path, _png(samples, 2, struct.pack(">HHH", *key)))
    assert whole.alpha is not None and (whole.alpha[:, :10] == 0).all()
    rows = _same_where_arrived(loaded, whole)
    assert (loaded.alpha[rows][:, :10] == 0).all() and (loaded.alpha[rows][:, 10:] == 255).all()


def test_a_16_bit_png_cut_short_saves_its_arrived_rows_at_16_bits(tmp_path):
    samples = _noise(256, 60000, 3)
    loaded, _whole = _cut(tmp_path, _cv2_png(samples))
    rows = _arrived(loaded)
    out = save_result(tmp_path / "out.png", loaded.rgb, loaded, edited=loaded.missing > 0)
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16
    assert np.array_equal(written[rows], samples[rows])


def _grey_with_key(bits: int) -> tuple[np.ndarray, int, bytes]:
    """Grey samples at ``bits`` (raw) whose left columns hold a transparent shade that is
    not black, the rest never black nor that shade; the shade; the PNG as Pillow writes it."""
    full = (1 << bits) - 1
    key = max(1, full // 8)
    samples = _noise((full + 1) // 2, full, dtype=np.uint16 if bits == 16 else np.uint8)
    samples[:, :6] = key
    buffer = io.BytesIO()
    if bits == 16:
        Image.fromarray(samples).save(buffer, "PNG", transparency=key)
    else:
        shades = (samples.astype(np.int64) * 255 // full).astype(np.uint8)
        Image.fromarray(shades, "L").save(buffer, "PNG", bits=bits, transparency=key)
    return samples, key, buffer.getvalue()


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_a_grey_png_with_a_key_not_black_cut_short_is_masked(tmp_path, bits):
    samples, key, whole_bytes = _grey_with_key(bits)
    if bits == 8:  # the shade 34, as the report had it
        assert key == 31
        samples = np.where(samples == key, 34, samples).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(samples, "L").save(buffer, "PNG", transparency=34)
        whole_bytes = buffer.getvalue()
    loaded, whole = _cut(tmp_path, whole_bytes)
    rows = _arrived(loaded)
    assert np.array_equal(loaded.rgb[rows], whole.rgb[rows])
    assert loaded.alpha is not None and whole.alpha is not None
    assert np.array_equal(loaded.alpha[rows], whole.alpha[rows])
    assert (loaded.alpha[rows][:, :6] == 0).all() and (loaded.alpha[rows][:, 6:] == 255).all()
    assert (loaded.alpha[~rows] == 255).all()  # the missing rows are black, not the key
    if bits == 16:
        assert np.array_equal(loaded.deep_original[rows], whole.deep_original[rows])


def test_an_rgb_png_with_a_key_not_black_cut_short_is_masked(tmp_path):
    samples = _noise(1, 255, 3, np.uint8)
    samples[:, :6] = (40, 50, 60)
    buffer = io.BytesIO()
    Image.fromarray(samples).save(buffer, "PNG", transparency=(40, 50, 60))
    loaded, whole = _cut(tmp_path, buffer.getvalue())
    rows = _arrived(loaded)
    assert np.array_equal(loaded.rgb[rows], whole.rgb[rows])
    assert np.array_equal(loaded.alpha[rows], whole.alpha[rows])
    assert (loaded.alpha[rows][:, :6] == 0).all()


def test_a_palette_png_whose_first_colour_is_not_black_cut_short_is_masked(tmp_path):
    indices = _noise(1, 15, dtype=np.uint8)  # not the first: Pillow leaves it where none came
    palette = np.zeros((16, 3), np.uint8)
    palette[:, 0] = 200  # no entry is black, the first included
    palette[:, 1] = np.arange(16) * 16
    picture = Image.fromarray(indices, "P")
    picture.putpalette(palette.tobytes())
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    loaded, whole = _cut(tmp_path, buffer.getvalue())
    rows = _arrived(loaded)
    assert np.array_equal(loaded.rgb[rows], whole.rgb[rows])
