"""`inpaint` on a floating-point TIFF whose values go above 1.0 says how far they go and that
they were shown clipped, and the TIFF it writes keeps them where the fill did not reach."""

from __future__ import annotations

import numpy as np
import pytest

import cli
from engines.fileio import save_mask

tifffile = pytest.importorskip("tifffile")


def test_inpaint_names_the_values_above_1_it_clipped(tmp_path, capsys):
    samples = np.full((48, 64, 3), 0.25, np.float32)
    samples[:, 32:] = 4.0  # the right half, four times full scale
    picture = tmp_path / "hdr.tif"
    tifffile.imwrite(picture, samples, photometric="rgb")
    hole = np.zeros((48, 64), np.uint8)
    hole[16:32, 8:20] = 255  # in the left half
    save_mask(tmp_path / "mask.png", hole)
    out = tmp_path / "out.tif"

    assert cli.main(["inpaint", str(picture), str(tmp_path / "mask.png"), "-o", str(out),
                     "--engine", "telea"]) == 0

    said = capsys.readouterr().out
    assert ("note: floating-point image with values up to 4.0 (above 1.0 in 50% of its "
            "samples), shown and edited clipped to 1.0") in said
    written = tifffile.imread(out)
    assert np.array_equal(written[:, 32:], samples[:, 32:])  # not clipped on saving
