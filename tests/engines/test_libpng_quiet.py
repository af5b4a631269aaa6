"""libpng (inside OpenCV) prints its own "libpng error: ..." lines on the C stderr; the loader
keeps them off it (engines.fileio._QuietDecoders), so that a damaged or cut-short PNG is
reported once, in the program's own words, by the loader and by every command."""

from __future__ import annotations

import os
import struct
import threading

import numpy as np
import pytest

import cli
import main
from engines import fileio
from engines.fileio import ImageFileError, encode_image, load_image, save_mask, write_atomic
from tests.engines.test_watermark import backgrounds, stamp, watermark_alpha

CUT_SHORT = "the file is cut short, as an interrupted download or copy leaves it"
SIZE = (200, 200)  # in several IDAT chunks: libpng itself meets the cut


def _noise_png() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    return encode_image(noise, ".png")


@pytest.fixture
def cut_png(tmp_path):
    """A PNG cut short inside its pixel data (libpng: "PNG input buffer is incomplete")."""
    data = _noise_png()
    path = tmp_path / "cut.png"
    path.write_bytes(data[:len(data) // 2])
    return path


@pytest.mark.parametrize("cut_short_ok", [False, True])
def test_a_cut_short_png_is_said_only_in_our_words(cut_png, capfd, cut_short_ok):
    if cut_short_ok:
        loaded = load_image(cut_png, cut_short_ok=True)
        assert loaded.missing is not None and loaded.missing.any()
        assert any(CUT_SHORT in note for note in loaded.notes)
    else:
        with pytest.raises(ImageFileError, match=CUT_SHORT):
            load_image(cut_png)
    assert "libpng" not in capfd.readouterr().err


def test_a_damaged_png_gives_no_libpng_line(tmp_path, capfd):
    data = bytearray(_noise_png())
    start = data.find(b"IDAT")
    length = struct.unpack(">I", data[start - 4:start])[0]
    data[start + 4 + length] ^= 0xFF  # the IDAT chunk's CRC: "libpng error: IDAT: CRC error"
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageFileError, match=r"crc\.png: "):
        load_image(tmp_path / "crc.png")
    assert "libpng" not in capfd.readouterr().err


def test_other_stderr_output_meanwhile_is_kept_and_fd_2_comes_back(capfd):
    with fileio._quiet_decoders:
        with fileio._quiet_decoders:  # nested (as by another thread): still caught
            os.write(2, b"libpng error: PNG input buffer is incomplete\n[ WARN:0@0.1] global "
                        b"grfmt_png.cpp:793 readFromStreamOrBuffer PNG input buffer is "
                        b"incomplete\n")
        os.write(2, b"someone else's line\nlibpng warning: iCCP: too short\n")
        assert capfd.readouterr().err == ""  # held until the last user leaves
    assert capfd.readouterr().err == "someone else's line\n"
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_messages_of_threads_decoding_together_are_dropped_with_their_newlines(capfd):
    """libpng writes a message and its newline apart: two threads' interleave."""
    with fileio._quiet_decoders:
        os.write(2, b"libpng error: PNG input buffer is incompletelibpng error: IDAT: CRC "
                    b"error\n\nsomeone else's line\n\n")
    assert capfd.readouterr().err == "someone else's line\n\n"


def test_threads_decoding_together_leave_stderr_as_it_was(cut_png, capfd):
    data = cut_png.read_bytes()
    errors: list[BaseException] = []

    def decode() -> None:
        for _ in range(20):
            try:
                fileio.decode_image(data, "cut.png")
            except ImageFileError:
                pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=decode) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_inpaint_and_batch_say_a_cut_short_png_once(tmp_path, cut_png, capfd):
    mask = np.zeros(SIZE, np.uint8)
    mask[20:30, 30:40] = 255
    save_mask(tmp_path / "mask.png", mask)
    assert main.main(["inpaint", str(cut_png), str(tmp_path / "mask.png"), "-o",
                      str(tmp_path / "r.png"), "--engine", "telea"]) == 2
    err = capfd.readouterr().err
    assert f"cut.png: {CUT_SHORT}" in err and "libpng" not in err
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "cut.png").write_bytes(cut_png.read_bytes())
    write_atomic(pictures / "fine.png", _noise_png())
    main.main(["batch", "--images", str(pictures), "--mask", str(tmp_path / "mask.png"),
               "-o", str(tmp_path / "out"), "--engine", "telea"])
    captured = capfd.readouterr()
    assert captured.out.count(f"cut.png: {CUT_SHORT}") == 1
    assert "libpng" not in captured.err + captured.out


def test_watermark_says_a_cut_short_png_without_libpng(tmp_path, cut_png, capfd):
    """Checked twice by the command (the estimate leaves it out, the clearing fails it)."""
    alpha = watermark_alpha(SIZE)
    source = tmp_path / "in"
    source.mkdir()
    for index, image in enumerate(stamp(b, alpha) for b in backgrounds(6, seed=2, size=SIZE)):
        write_atomic(source / f"photo{index}.png", encode_image(image, ".png"))
    data = (source / "photo5.png").read_bytes()
    (source / "photo5.png").write_bytes(data[:len(data) // 2])
    cli.main(["watermark", "--images", str(source), "-o", str(tmp_path / "out")])
    captured = capfd.readouterr()
    assert "libpng" not in captured.err + captured.out
    assert captured.out.count(f"photo5.png: {CUT_SHORT}") == 2


def test_blank_lines_of_others_are_kept_and_only_a_messages_own_newline_goes(capfd):
    """A traceback's blank line (before "The above exception ...") or a print("") written
    while a PNG decodes stays; each removed message takes only its own newline."""
    with fileio._quiet_decoders:
        os.write(2, b"one\n\nlibpng warning: iCCP: too short\n\ntwo\n")
    assert capfd.readouterr().err == "one\n\n\ntwo\n"


def test_what_was_caught_goes_out_before_what_comes_after(capfd):
    with fileio._quiet_decoders:
        os.write(2, b"first\n")
    os.write(2, b"second\n")
    assert capfd.readouterr().err == "first\nsecond\n"
