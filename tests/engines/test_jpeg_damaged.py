"""A JPEG whose entropy-coded data is corrupt (its end marker still there) opens with a note
saying so, from libjpeg's own warnings, which are kept off stderr; harmless ones (extraneous
bytes before the end marker, as some cameras write) give no note."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from engines import fileio
from engines.fileio import JPEG_DAMAGED, load_image

SAMPLE = "resources/samples/astronaut.jpg"
END = b"\xff\xd9"


def _jpeg(progressive: bool) -> bytes:
    buffer = io.BytesIO()
    Image.open(SAMPLE).convert("RGB").save(buffer, "JPEG", quality=90,
                                           progressive=progressive)
    return buffer.getvalue()


def _damaged(data: bytes) -> bytes:
    """``data`` with 16 bytes in the middle of its scan data replaced by eight stuffed 0xFF
    bytes: 64 one-bits, which no Huffman code is (libjpeg: "bad Huffman code")."""
    start, end = data.find(b"\xff\xda"), data.rfind(END)
    middle = (start + end) // 2
    while data[middle - 1] == 0xFF:
        middle += 1
    return data[:middle] + b"\xff\x00" * 8 + data[middle + 16:]


def _padded(data: bytes) -> bytes:
    """``data`` with bytes before its end marker, as some cameras write them (libjpeg:
    "Corrupt JPEG data: 32 extraneous bytes before marker 0xd9")."""
    end = data.rfind(END)
    return data[:end] + bytes(range(1, 33)) + data[end:]


def test_a_damaged_jpeg_says_so_and_stderr_stays_quiet(tmp_path, capfd):
    path = tmp_path / "damaged.jpg"
    path.write_bytes(_damaged(_jpeg(progressive=True)))
    loaded = load_image(path)
    assert JPEG_DAMAGED in loaded.notes
    assert loaded.rgb.shape == (512, 512, 3)
    assert "JPEG" not in capfd.readouterr().err


@pytest.mark.parametrize("progressive", [False, True])
def test_extraneous_bytes_before_the_end_give_no_note(tmp_path, capfd, progressive):
    data = _jpeg(progressive)
    path = tmp_path / "padded.jpg"
    path.write_bytes(_padded(data))
    loaded = load_image(path)
    assert not any("damaged" in note for note in loaded.notes)
    (tmp_path / "clean.jpg").write_bytes(data)
    assert np.array_equal(loaded.rgb, load_image(tmp_path / "clean.jpg").rgb)
    assert "JPEG" not in capfd.readouterr().err


def test_a_clean_jpeg_gives_no_note(tmp_path, capfd):
    (tmp_path / "clean.jpg").write_bytes(_jpeg(progressive=True))
    assert load_image(tmp_path / "clean.jpg").notes == ()
    assert capfd.readouterr().err == ""


def test_other_stderr_output_during_a_jpeg_decode_is_kept(tmp_path, capfd):
    """Only libjpeg's lines are held back: what else goes to stderr meanwhile comes out."""
    with fileio._quiet_decoders.overheard() as written:
        os.write(2, b"Corrupt JPEG data: bad Huffman code\nsomeone else's line\n")
        assert b"bad Huffman code" in written()
    assert capfd.readouterr().err == "someone else's line\n"
