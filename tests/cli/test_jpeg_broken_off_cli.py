"""`inpaint` refuses a JPEG whose image data breaks off partway (its end marker still there)
in the words it refuses such a PNG in, and writes nothing; libjpeg's own line stays off
stderr (tests/engines/test_jpeg_broken_off.py has the loading)."""

from __future__ import annotations

import numpy as np

from engines.fileio import save_mask
from tests.cli.test_cli import run_cli
from tests.engines.test_jpeg_broken_off import _broken_off, _encoded


def test_inpaint_refuses_a_jpeg_that_breaks_off(tmp_path, capfd):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(_broken_off(_encoded("4:2:0")))  # 251x203
    hole = np.zeros((203, 251), np.uint8)
    hole[20:40, 30:60] = 255
    save_mask(tmp_path / "mask.png", hole)
    out = tmp_path / "out.jpg"
    assert run_cli("inpaint", broken, tmp_path / "mask.png", "-o", out,
                   "--engine", "telea") == 2
    err = capfd.readouterr().err
    assert ("broken.jpg: the file is damaged: its image data breaks off partway (the editor "
            "opens it with the missing part masked, to fill)") in err
    assert "Corrupt JPEG data" not in err
    assert not out.exists()
