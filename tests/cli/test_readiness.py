"""The command line refuses an engine that cannot run before it reads or writes anything."""

from __future__ import annotations

import numpy as np

import main
from engines.fileio import save_image


def test_inpaint_with_missing_weights_names_the_download_before_reading_the_picture(
        tmp_path, model_cache, capsys):
    # the picture is not even a picture: the weights are named first, and nothing is written
    (tmp_path / "photo.png").write_bytes(b"not a picture")
    save_image(tmp_path / "mask.png", np.full((8, 8, 3), 255, np.uint8))
    out = tmp_path / "out.png"
    code = main.main(["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "mask.png"),
                      "-o", str(out), "--engine", "lama"])
    error = capsys.readouterr().err
    assert code != 0 and not out.exists()
    assert "LaMa" in error and "python main.py models download" in error, error
    assert "not a picture" not in error and "photo.png" not in error, error
