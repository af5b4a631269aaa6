"""Small picture folders for the folder commands' tests (`segment`, `batch`, `watermark`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.fileio import encode_image, save_image, save_mask, write_atomic
from tests.engines.test_watermark import backgrounds, stamp, watermark_alpha

SIZE = (120, 160)  # (height, width)


def watermarked_folder(folder: Path, count: int = 8, seed: int = 3) -> Path:
    """``folder`` (created) holding ``count`` PNG pictures ``photo0.png`` ... of
    :data:`SIZE`, varied backgrounds sharing one watermark: every folder command runs on
    them (`watermark` finds the mark)."""
    folder.mkdir()
    alpha = watermark_alpha(SIZE)
    for index, picture in enumerate(backgrounds(count, seed=seed, size=SIZE)):
        write_atomic(folder / f"photo{index}.png", encode_image(stamp(picture, alpha), ".png"))
    return folder


def box_mask(path: Path, top: int = 40, left: int = 50, side: int = 24) -> Path:
    """A mask file of :data:`SIZE` at ``path``: a white ``side`` square, black elsewhere."""
    hole = np.zeros(SIZE, np.uint8)
    hole[top:top + side, left:left + side] = 255
    save_mask(path, hole)
    return path


def photo_and_mask(folder: Path) -> tuple[Path, Path]:
    """``(photo.png, mask.png)`` written in ``folder``: a 48x64 noise picture and a mask with
    a 16x20 square hole (255), for the single-picture commands."""
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, 20:40] = 255
    save_image(folder / "photo.png", image)
    save_mask(folder / "mask.png", mask)
    return folder / "photo.png", folder / "mask.png"
