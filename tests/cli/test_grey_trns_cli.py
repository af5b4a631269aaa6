"""``inpaint`` and ``batch`` on a grey PNG whose transparency is one shade (a ``tRNS`` key):
the result is a grey PNG at the same depth with the same key, every pixel outside the hole
as it was (the transparent ones too), the visible fill taking nothing of the transparent
shade, and the notes true of it."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import load_image, save_mask
from tests.cli.test_cli import run_cli
from tests.engines.test_fileio_grey_trns import (
    EDGE,
    _chunks,
    _depth_type_key,
    _hole_mask,
    _outside,
    _raw,
    _write,
)


@pytest.mark.parametrize("bits", [1, 4, 8, 16])
def test_inpaint_keeps_the_key_depth_and_transparent_pixels(tmp_path, bits, capsys):
    _write(tmp_path / "key.png", bits)
    original = (tmp_path / "key.png").read_bytes()
    save_mask(tmp_path / "mask.png", _hole_mask().astype(np.uint8) * 255)
    out = tmp_path / "out.png"
    code = run_cli("inpaint", tmp_path / "key.png", tmp_path / "mask.png", "-o", out,
                   "--engine", "telea")
    printed = capsys.readouterr()
    assert code == 0, printed.err
    written = out.read_bytes()
    assert _depth_type_key(written) == (bits, 0, _chunks(original)[b"tRNS"])
    assert np.array_equal(_raw(written)[_outside()], _raw(original)[_outside()])
    result, source = load_image(out), load_image(tmp_path / "key.png")
    assert np.array_equal(result.alpha, source.alpha)
    assert (result.alpha[:, :EDGE] == 0).all()
    visible = _hole_mask() & (source.alpha == 255)
    assert result.rgb[visible].min() >= 120  # no dark transparent shade bled in
    notes = [line for line in printed.out.splitlines() if line.startswith("note:")]
    if bits == 16:
        assert any("16-bit image" in note and "keeps 16 bits" in note for note in notes)
    elif bits < 8:
        assert any(f"{bits}-bit grey image" in note and "keeps" in note for note in notes)
    else:
        assert notes == []


def test_batch_keeps_the_key(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    _write(tmp_path / "in" / "key.png", 8)
    original = (tmp_path / "in" / "key.png").read_bytes()
    save_mask(tmp_path / "mask.png", _hole_mask().astype(np.uint8) * 255)
    code = run_cli("batch", "--images", tmp_path / "in", "--mask", tmp_path / "mask.png",
                   "-o", tmp_path / "out", "--engine", "telea")
    assert code == 0, capsys.readouterr().err
    written = (tmp_path / "out" / "key.png").read_bytes()
    assert _depth_type_key(written) == (8, 0, _chunks(original)[b"tRNS"])
    assert np.array_equal(_raw(written)[_outside()], _raw(original)[_outside()])
