"""The editor opens a JPEG whose image data breaks off partway (its end marker still there)
with the part it lacks masked, as a PNG that breaks off, and says so in the status bar
(tests/engines/test_jpeg_broken_off.py has the loading)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import load_image
from tests.app.test_qa21_window_items import status
from tests.app.test_qa21_window_items import window as window
from tests.engines.test_jpeg_broken_off import _broken_off, _encoded

pytestmark = pytest.mark.timeout(120)


def test_a_jpeg_that_breaks_off_opens_with_its_missing_part_masked(window, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(_broken_off(_encoded("4:2:0", orientation=6)))
    lacking = load_image(broken, cut_short_ok=True).missing > 0
    assert window.open_path(broken)
    hole = window.document.mask > 0
    assert hole.shape == (251, 203) and np.array_equal(hole, lacking)
    assert hole[:, 0].all() and not hole[:, -1].any()  # upright: the stored bottom is left
    assert not window.document.modified
    said = status(window)
    assert "the file is damaged: its image data breaks off partway: the part it lacks (" \
        in said and "is masked as a hole to fill" in said
