"""QA audit 34, F1 and F2: a TIFF whose PackBits or JPEG-compressed data is corrupt opens
with the damaged-data note, as one whose LZW data is; and a layer file (a mask, a sketch)
whose data is corrupt is refused, never read half wrong: a mask read wrong would leave part
of the hole unfilled. OpenCV's log level, silenced as main.py silences it, is put back."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from engines.fileio import (
    JPEG_DAMAGED,
    LAYER_DAMAGED,
    ImageFileError,
    keep_decoder_messages,
    load_image,
    load_mask,
)
from tests.engines.test_jpeg_damaged import _damaged, _jpeg


@pytest.fixture
def silenced():
    """OpenCV's log level SILENT, as main.py sets it; put back afterwards."""
    levels = cv2.utils.logging
    before = levels.getLogLevel()
    levels.setLogLevel(levels.LOG_LEVEL_SILENT)
    yield levels
    levels.setLogLevel(before)


def _photo() -> np.ndarray:
    """A 120x160 RGB picture with texture (deterministic)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:120, 0:160]
    base = np.stack([x, y * 2, x + y], axis=-1) + rng.normal(0, 12, (120, 160, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def _tiff(pixels: np.ndarray, compression: str) -> bytearray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "TIFF", compression=compression)
    return bytearray(buffer.getvalue())


def test_a_tiff_with_corrupt_packbits_data_opens_with_the_note(tmp_path, silenced, capfd):
    data = _tiff(_photo(), "packbits")
    (tmp_path / "sound.tif").write_bytes(bytes(data))
    assert load_image(tmp_path / "sound.tif").notes == ()
    data[3000:3400] = np.random.default_rng(0).integers(0, 255, 400, np.uint8).tobytes()
    (tmp_path / "damaged.tif").write_bytes(bytes(data))
    loaded = load_image(tmp_path / "damaged.tif")
    assert JPEG_DAMAGED in loaded.notes and loaded.rgb.shape == (120, 160, 3)
    assert silenced.getLogLevel() == silenced.LOG_LEVEL_SILENT
    assert "TIFF" not in capfd.readouterr().err


def test_a_jpeg_compressed_tiff_whose_data_is_zeroed_opens_with_the_note(tmp_path, silenced):
    data = _tiff(_photo(), "jpeg")
    (tmp_path / "sound.tif").write_bytes(bytes(data))
    assert load_image(tmp_path / "sound.tif").notes == ()
    data[1500:2500] = bytes(1000)
    (tmp_path / "damaged.tif").write_bytes(bytes(data))
    assert JPEG_DAMAGED in load_image(tmp_path / "damaged.tif").notes


def _mask() -> np.ndarray:
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 50:100] = 255
    return mask


def test_a_mask_tiff_whose_lzw_data_is_corrupt_is_refused(tmp_path, silenced):
    data = _tiff(_mask(), "tiff_lzw")
    (tmp_path / "sound.tif").write_bytes(bytes(data))
    assert np.array_equal(load_mask(tmp_path / "sound.tif") > 0, _mask() > 0)
    data[200:260] = np.random.default_rng(1).integers(0, 255, 60, np.uint8).tobytes()
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(data))
    assert JPEG_DAMAGED in load_image(damaged).notes  # as a picture: opened, noted
    with pytest.raises(ImageFileError) as refused:
        load_mask(damaged, (120, 160))
    assert str(refused.value) == f"{damaged}: {LAYER_DAMAGED}"


def test_a_sketch_jpeg_whose_data_is_corrupt_is_refused(tmp_path):
    path = tmp_path / "sketch.jpg"
    path.write_bytes(_damaged(_jpeg(progressive=True)))
    with pytest.raises(ImageFileError, match="part of its image data is corrupt; save or "
                                             "export it again"):
        load_mask(path, (512, 512), what="sketch")


def test_the_command_line_refuses_the_damaged_mask_and_writes_nothing(tmp_path, capsys):
    import cli

    Image.fromarray(_photo()).save(tmp_path / "photo.png")
    data = _tiff(_mask(), "tiff_lzw")
    data[200:260] = np.random.default_rng(1).integers(0, 255, 60, np.uint8).tobytes()
    (tmp_path / "mask.tif").write_bytes(bytes(data))
    assert cli.main(["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "mask.tif"),
                     "-o", str(tmp_path / "out.png"), "--engine", "telea"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'mask.tif'}: {LAYER_DAMAGED}\n"
    assert not (tmp_path / "out.png").exists()


def test_debug_writes_back_what_the_decoder_said(tmp_path, capfd):
    """QA audit 34, F7: the decoders' own lines, held aside while a decode listens, reach
    stderr with ``--debug`` (and only then); the note is the same either way."""
    import cv2 as _cv2

    import main

    Image.fromarray(_mask()).save(tmp_path / "mask.png")
    data = _tiff(_photo(), "tiff_lzw")
    data[len(data) // 2:len(data) // 2 + 200] = np.random.default_rng(0).integers(
        0, 256, 200, np.uint8).tobytes()
    (tmp_path / "damaged.tif").write_bytes(bytes(data))
    command = ["inpaint", str(tmp_path / "damaged.tif"), str(tmp_path / "mask.png"), "-o",
               str(tmp_path / "out.png"), "--engine", "telea", "--overwrite"]
    before = _cv2.utils.logging.getLogLevel()
    try:
        assert main.main(["--debug", *command]) == 0
        debug = capfd.readouterr()
        assert main.main(command) == 0
        plain = capfd.readouterr()
    finally:
        keep_decoder_messages(False)  # as a plain run leaves it
        _cv2.utils.logging.setLogLevel(before)
    assert "TIFF_Error" in debug.err and "TIFF_Error" not in plain.err
    assert f"note: {JPEG_DAMAGED}" in debug.out and f"note: {JPEG_DAMAGED}" in plain.out
