"""A JPEG cut short (its end gone, as an interrupted download leaves it) is masked as a JPEG
that breaks off before its end marker is: its trailing mid-grey MCUs with the one being
decoded when the data ran out (:func:`engines.fileio._jpeg_grey_tail`). Everything that
differs from the whole file's decode is masked, and nothing decoded well above that MCU; the
flood fill widened by 16 pixels that did this before left damaged pixels of that MCU
unmasked on some cuts (both 4:2:0 ones here) and masked rows of good pixels around it."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import load_image
from tests.engines.test_jpeg_broken_off import LAYOUTS, _encoded

CUT_SHORT = "the file is cut short, as an interrupted download or copy leaves it"


@pytest.mark.parametrize("share", [0.5, 0.97])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_jpeg_cut_short_masks_its_grey_mcus_and_the_one_before(tmp_path, layout, share):
    data = _encoded(layout)
    (tmp_path / "whole.jpg").write_bytes(data)
    intact = load_image(tmp_path / "whole.jpg")
    (tmp_path / "cut.jpg").write_bytes(data[:int(len(data) * share)])
    loaded = load_image(tmp_path / "cut.jpg", cut_short_ok=True)
    missing = loaded.missing > 0
    assert loaded.notes[0] == (f"{CUT_SHORT}: the part it lacks ({missing.mean():.1%} of the "
                               "picture) is masked as a hole to fill")
    differs = (loaded.rgb != intact.rgb).any(axis=2)
    assert missing[differs].all()  # all that the file lacks is masked
    assert np.array_equal(loaded.rgb[~missing], intact.rgb[~missing])
    # in raster order from one MCU (and, for subsampled chroma, the pixel beside it that
    # blends in the grey) to the end; no row above it masked
    across, down = LAYOUTS[layout][1]
    ring = int(down > 8)
    rows = np.flatnonzero(missing.any(axis=1))
    assert rows[-1] == 202 and (rows[0] + ring) % down == 0
    assert missing[rows[0] + ring + down:].all()
    cut_row = missing[min(rows[0] + ring + down // 2, 202)]  # the last MCU row: 3 high
    masked = np.flatnonzero(cut_row)
    assert masked[0] == 0 or (masked[0] + int(across > 8)) % across == 0
    assert cut_row[masked[0]:].all()
    # masked and decoded as the whole file decodes: at most that one MCU's pixels and the ring
    good = missing & ~differs & ~(loaded.rgb == 128).all(axis=2)
    assert good.sum() <= (across + 2 * ring) * (down + 2 * ring) + ring * 2 * missing.shape[1]


def test_a_cmyk_jpeg_cut_short_still_opens_decoded_as_far_as_it_goes(tmp_path):
    """CMYK: no known MCU grey (the flat-tail search finds none either)."""
    import io

    from PIL import Image

    picture = Image.open("resources/samples/astronaut.jpg").convert("CMYK").crop(
        (0, 0, 251, 203))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=70)
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    loaded = load_image(tmp_path / "cut.jpg", cut_short_ok=True)
    assert loaded.missing is None
    assert loaded.notes[0] == (f"{CUT_SHORT}: it was decoded as far as it goes (the picture "
                               "may lack detail)")
