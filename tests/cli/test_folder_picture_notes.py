"""A folder run (`batch`) tells what reading each picture converted, in the words `inpaint`
prints for that picture alone (:func:`engines.fileio.picture_notes`): 16 bits edited at 8,
only the first frame of an animation, turned upright by its EXIF orientation, transparency
flattened onto white. A picture cut short is refused by both with the same reason. A mask
the size a photo is stored at, the photo shown turned by its EXIF orientation, is refused
(`--masks`) or listed apart (`--mask`) saying so, as `inpaint` says it
(:func:`engines.fileio.other_size_reason`)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cli import EXIT_FAILED, EXIT_OK
from engines.fileio import save_mask
from tests.cli.test_cli import run_cli
from tests.photos import phone_exif, write_jpeg

HEIGHT, WIDTH = 60, 80  # every picture as shown (upright)
DEEP = "16-bit image, edited at 8 bits per channel; saving it as PNG or TIFF keeps 16 bits"
FRAMES = "only the first of its 3 frames is edited and saved"
GIF_PALETTE = ("palette image (256 colours), edited in full colour; saving it as GIF keeps its "
               "palette, filled pixels taking the nearest of its colours (saving as PNG or TIFF "
               "keeps them as filled)")
TURNED = "rotated upright as its EXIF orientation says"
EIGHT_BIT_JPEG = "the .jpg result is 8 bits per channel (JPEG holds no more)"
FLATTENED = ".jpg files have no transparency; the transparent parts were flattened onto white"
CUT_SHORT = ("the file is cut short, as an interrupted download or copy leaves it (the editor "
             "opens it with the missing part masked, to fill)")
ON_STORED = ("the mask is 60x80 but the image is 80x60 (turned upright by its EXIF "
             "orientation; stored as 60x80): draw the mask on the upright picture")


def _noise(height: int, width: int, channels: int = 3, seed: int = 0,
           dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, (height, width, channels),
                                                 dtype=dtype, endpoint=True)


def _hole(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[15:35, 20:45] = 255
    return mask


def _deep_png(path: Path, alpha: bool = False) -> None:
    """A 16-bit PNG; with ``alpha``, its right half half-transparent."""
    pixels = _noise(HEIGHT, WIDTH, 4 if alpha else 3, seed=1, dtype=np.uint16)
    if alpha:
        pixels[..., 3] = 65535
        pixels[:, WIDTH // 2:, 3] = 30000
    cv2.imwrite(str(path), pixels)


def _animated_gif(path: Path) -> None:
    frames = [Image.fromarray(_noise(HEIGHT, WIDTH, seed=seed)).convert("P")
              for seed in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)


def _turned_jpeg(path: Path) -> None:
    """A phone photo stored 60 wide and 80 high, shown 80x60 (EXIF orientation 6)."""
    stored = _noise(WIDTH, HEIGHT, seed=2)
    write_jpeg(path, stored, phone_exif(stored, orientation=6))


def _cut_short(path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_noise(HEIGHT, WIDTH, seed=3)).save(buffer, fmt)
    data = buffer.getvalue()
    path.write_bytes(data[:len(data) // 2])


def _inpaint(capsys, picture: Path, mask: Path, output: Path) -> tuple[int, list[str], str]:
    """``inpaint``'s exit code, its ``note:`` lines (without ``note: ``) and its last error
    line (``""`` without one)."""
    code = run_cli("inpaint", picture, mask, "-o", output, "--engine", "telea")
    printed = capsys.readouterr()
    notes = [line.removeprefix("note: ") for line in printed.out.splitlines()
             if line.startswith("note: ")]
    errors = [line for line in printed.err.replace("\r", "\n").splitlines()
              if line.startswith("error: ")]
    return code, notes, errors[-1] if errors else ""


def _batch(capsys, *argv) -> tuple[int, list[str]]:
    code = run_cli("batch", *argv, "--engine", "telea")
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture
def mask(tmp_path) -> Path:
    path = tmp_path / "mask.png"
    save_mask(path, _hole())
    return path


def test_a_folder_run_notes_each_pictures_reading_as_inpaint_prints_it(tmp_path, mask,
                                                                       capsys):
    images = tmp_path / "images"
    images.mkdir()
    _animated_gif(images / "anim.gif")
    _deep_png(images / "deep.png")
    Image.fromarray(_noise(HEIGHT, WIDTH, seed=4)).save(images / "plain.png")
    _turned_jpeg(images / "turned.jpg")
    alone = {}
    for picture in sorted(images.iterdir()):
        code, notes, _ = _inpaint(capsys, picture, mask, tmp_path / f"alone_{picture.name}")
        assert code == EXIT_OK
        alone[picture.name] = notes
    assert alone == {"anim.gif": [FRAMES, GIF_PALETTE], "deep.png": [DEEP], "plain.png": [],
                     "turned.jpg": [TURNED]}

    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", out)
    assert code == EXIT_OK
    assert lines == [f"4 written to {out}, 0 failed",
                     *(f"note: {name}: {note}" for name, notes in alone.items()
                       for note in notes)]


def test_the_notes_of_one_picture_come_in_inpaints_order(tmp_path, mask, capsys):
    """16 bits, then the JPEG result being 8-bit, then the transparency it flattened: one
    note line each, as `inpaint` prints them, with `--format .jpg`."""
    images = tmp_path / "images"
    images.mkdir()
    _deep_png(images / "cutout.png", alpha=True)
    code, alone, _ = _inpaint(capsys, images / "cutout.png", mask, tmp_path / "alone.jpg")
    assert code == EXIT_OK and alone == [DEEP, EIGHT_BIT_JPEG, FLATTENED]
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", tmp_path / "out",
                         "--format", ".jpg")
    assert code == EXIT_OK
    assert lines[1:] == [f"note: cutout.jpg: {note}" for note in alone]


def test_the_same_note_on_several_results_is_said_once_naming_them(tmp_path, mask, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png"):
        _deep_png(images / name)
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", tmp_path / "out")
    assert code == EXIT_OK
    assert lines[1:] == [f"note: 2 results (a.png, b.png): {DEEP}"]


@pytest.mark.parametrize("name, fmt", [("cut.jpg", "JPEG"), ("cut.png", "PNG")])
def test_a_picture_cut_short_fails_with_inpaints_reason(tmp_path, mask, capsys, name, fmt):
    images = tmp_path / "images"
    images.mkdir()
    _cut_short(images / name, fmt)
    Image.fromarray(_noise(HEIGHT, WIDTH, seed=5)).save(images / "whole.png")
    code, _, error = _inpaint(capsys, images / name, mask, tmp_path / f"alone_{name}")
    assert code != EXIT_OK and error == f"error: {images / name}: {CUT_SHORT}"
    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", out)
    assert code == EXIT_FAILED
    assert lines == [f"1 written to {out}, 1 failed", "1 failed:", f"  {name}: {CUT_SHORT}"]


def test_a_mask_file_of_the_stored_size_is_refused_as_inpaint_refuses_it(tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    _turned_jpeg(images / "turned.jpg")
    save_mask(masks / "turned.png", _hole(WIDTH, HEIGHT))  # 60 wide, 80 high: as stored
    Image.fromarray(_noise(HEIGHT, WIDTH, seed=6)).save(images / "plain.png")
    save_mask(masks / "plain.png", _hole())
    code, _, error = _inpaint(capsys, images / "turned.jpg", masks / "turned.png",
                              tmp_path / "alone.jpg")
    assert code != EXIT_OK and error == f"error: {masks / 'turned.png'}: {ON_STORED}"
    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--masks", masks, "-o", out)
    assert code == EXIT_FAILED
    assert lines == [f"1 written to {out}, 1 failed", "1 failed:",
                     f"  turned.jpg: masks/turned.png: {ON_STORED}"]


def test_a_mask_file_of_another_size_still_says_they_must_be_the_same_size(tmp_path,
                                                                          capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    _turned_jpeg(images / "turned.jpg")
    save_mask(masks / "turned.png", _hole(50, 70))
    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--masks", masks, "-o", out)
    assert code == EXIT_FAILED
    assert lines[-1] == ("  turned.jpg: masks/turned.png: the mask is 70x50 but the image "
                         "is 80x60; they must be the same size")


def test_one_mask_of_a_photos_stored_size_lists_it_apart_saying_why(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    _turned_jpeg(images / "turned.jpg")
    Image.fromarray(_noise(WIDTH, HEIGHT, seed=7)).save(images / "tall.png")  # 60x80, upright
    mask = tmp_path / "mask.png"
    save_mask(mask, _hole(WIDTH, HEIGHT))  # 60 wide, 80 high
    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", out)
    assert code == EXIT_OK
    assert lines == [
        f"1 written to {out}, 0 failed",
        "1 skipped (another size than the mask; --other-sizes anchor fills them):",
        "  turned.jpg 80x60, the mask 60x80 (turned upright by its EXIF orientation; "
        "stored as 60x80)"]
    assert (out / "tall.png").exists() and not (out / "turned.jpg").exists()


def test_a_picture_of_yet_another_size_is_listed_as_before(tmp_path, mask, capsys):
    images = tmp_path / "images"
    images.mkdir()
    _turned_jpeg(images / "turned.jpg")  # 80x60 shown, 60x80 stored: the mask is 80x60
    Image.fromarray(_noise(40, 50, seed=8)).save(images / "small.png")
    out = tmp_path / "out"
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", out)
    assert code == EXIT_OK
    assert lines == [
        f"1 written to {out}, 0 failed",
        "1 skipped (another size than the mask; --other-sizes anchor fills them):",
        "  small.png 50x40, the mask 80x60",
        f"note: turned.jpg: {TURNED}"]


def test_the_palette_note_comes_only_with_a_result_that_keeps_the_palette(tmp_path, mask,
                                                                           capsys):
    """A GIF's result written as PNG keeps the fill's colours: "saving it as GIF keeps its
    palette" would be no news there (QA audit 27, finding 8)."""
    images = tmp_path / "images"
    images.mkdir()
    _animated_gif(images / "anim.gif")
    code, as_gif, _ = _inpaint(capsys, images / "anim.gif", mask, tmp_path / "alone.gif")
    assert code == EXIT_OK and as_gif == [FRAMES, GIF_PALETTE]
    code, as_png, _ = _inpaint(capsys, images / "anim.gif", mask, tmp_path / "alone.png")
    assert code == EXIT_OK and as_png == [FRAMES]
    code, lines = _batch(capsys, "--images", images, "--mask", mask, "-o", tmp_path / "out",
                         "--format", ".png")
    assert code == EXIT_OK and lines[1:] == [f"note: anim.png: {FRAMES}"]
