"""`batch` and `watermark` on black-and-white photos with a grey colour profile: a result
written in colour (WebP, HEIC/HEIF and AVIF hold no grey) cannot hold the grey profile, and
the run says so once per kind of note, naming the results, as `inpaint` does for one
picture. Results that stay grey keep the profile without a note."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cli
from engines.fileio import save_mask
from tests.engines.test_watermark import backgrounds, stamp, watermark_alpha
from tests.photos import grey_profile

WEBP_NOTE = ("the grey colour profile was left out: .webp files are written in colour (RGB) "
             "here, which a grey profile cannot describe; it is saved as sRGB, as the editor "
             "shows it (its greys may look slightly different from the original's in "
             "colour-managed viewers)")
AVIF_NOTE = ("the grey colour profile was left out: .avif files are written in colour (RGB) "
             "here")


def save_grey(path, grey: np.ndarray) -> None:
    """``grey`` ``(H, W)`` uint8 as a grey picture carrying a grey colour profile."""
    Image.fromarray(grey, "L").save(path, icc_profile=grey_profile(), quality=90)


def notes(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("note:")]


@pytest.fixture
def grey_folder(tmp_path):
    """Three grey-profiled grey PNGs and a colour one without a profile, and one mask."""
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for index in range(3):
        save_grey(images / f"p{index}.png",
                  rng.normal(120, 8, (40, 56)).clip(0, 255).astype(np.uint8))
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(images / "c.png")
    mask = np.zeros((40, 56), np.uint8)
    mask[10:24, 16:36] = 255
    save_mask(tmp_path / "mask.png", mask)
    return images, tmp_path / "mask.png"


def batch(images, mask, out, *extra) -> int:
    return cli.main(["batch", "--images", str(images), "--mask", str(mask), "-o", str(out),
                     "--engine", "telea", *extra])


def test_batch_says_once_which_results_left_the_grey_profile_out(grey_folder, tmp_path,
                                                                 capsys):
    images, mask = grey_folder
    assert batch(images, mask, tmp_path / "webp", "--format", ".webp") == 0
    assert notes(capsys.readouterr().out) == [
        f"note: 3 results (p0.webp, p1.webp, p2.webp): {WEBP_NOTE}"]  # not c.webp: no profile
    with Image.open(tmp_path / "webp" / "p1.webp") as saved:
        assert "icc_profile" not in saved.info or not saved.info["icc_profile"]


def test_batch_results_that_stay_grey_or_carry_no_metadata_have_no_note(grey_folder, tmp_path,
                                                                        capsys):
    images, mask = grey_folder
    assert batch(images, mask, tmp_path / "grey") == 0
    assert notes(capsys.readouterr().out) == []
    with Image.open(tmp_path / "grey" / "p0.png") as saved:
        assert saved.mode == "L" and saved.info.get("icc_profile") == grey_profile()
    assert batch(images, mask, tmp_path / "stripped", "--format", ".webp",
                 "--strip-metadata") == 0
    assert notes(capsys.readouterr().out) == []


def test_one_result_is_named_alone(grey_folder, tmp_path, capsys):
    images, mask = grey_folder
    save_grey(images / "p1.avif", np.full((40, 56), 90, np.uint8))
    for index in (0, 1, 2):
        (images / f"p{index}.png").unlink()
    assert batch(images, mask, tmp_path / "out") == 0
    [line] = notes(capsys.readouterr().out)
    assert line.startswith(f"note: p1.avif: {AVIF_NOTE}")


def test_watermark_says_which_results_left_the_grey_profile_out(tmp_path, capsys):
    size = (120, 160)
    alpha = watermark_alpha(size)
    source = tmp_path / "in"
    source.mkdir()
    for index, background in enumerate(backgrounds(12, seed=2, size=size)):
        save_grey(source / f"photo{index:02d}.avif", stamp(background, alpha)[..., 1])
    assert cli.main(["watermark", "--images", str(source), "-o", str(tmp_path / "out"),
                     "--engine", "telea"]) == 0
    out = capsys.readouterr().out
    assert "12 written to " in out
    [line] = notes(out)
    assert line.startswith("note: 12 results (photo00.avif, photo01.avif, photo02.avif, "
                           f"photo03.avif, photo04.avif and 7 more): {AVIF_NOTE}")
