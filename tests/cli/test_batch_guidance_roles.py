"""`batch` with a guidance file for every picture: a file that is also a mask in use is
refused before any work, and a file the engine ignores is not read and does not decide which
pictures are skipped as another size."""

from __future__ import annotations

import numpy as np
import pytest

from cli import EXIT_OK, EXIT_USAGE
from engines.fileio import save_image, save_mask
from tests.cli.test_cli import run_cli


def _picture(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), np.uint8)


def _hole(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[height // 3:height // 2, width // 3:width // 2] = 255
    return mask


@pytest.mark.parametrize("option", ["--sketch", "--include", "--exclude"])
def test_the_mask_for_every_picture_given_as_guidance_is_refused(tmp_path, capsys, option):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    save_image(images / "a.png", _picture(40, 50, 0))
    save_mask(tmp_path / "mask.png", _hole(40, 50))
    code = run_cli(*["batch", "--images", str(images), "--mask", str(tmp_path / "mask.png"),
                    "-o", str(out), option, str(tmp_path / "mask.png")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and not out.exists()
    dest = option.lstrip("-")
    assert (f"{tmp_path / 'mask.png'} would be both a mask and the {dest} file for every "
            f"picture ({option})") in err


def test_a_mask_of_the_masks_folder_given_as_guidance_is_refused(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    for index, name in enumerate(("a", "b")):
        save_image(images / f"{name}.png", _picture(40, 50, index))
        save_mask(masks / f"{name}.png", _hole(40, 50))
    code = run_cli(*["batch", "--images", str(images), "--masks", str(masks), "-o", str(out),
                    "--sketch", str(masks / "a.png")])
    assert code == EXIT_USAGE and not out.exists()
    assert f"{masks / 'a.png'} would be both a mask and the sketch file" in \
        capsys.readouterr().err


def test_a_guidance_file_the_engine_ignores_skips_no_picture(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    sizes = {"small": (40, 50), "big": (60, 80)}
    for index, (name, (height, width)) in enumerate(sizes.items()):
        save_image(images / f"{name}.png", _picture(height, width, index))
        save_mask(masks / f"{name}.png", _hole(height, width))
    sketch = np.zeros((40, 50), np.uint8)
    sketch[20, 5:45] = 255
    save_mask(tmp_path / "sketch.png", sketch)
    code = run_cli(*["batch", "--images", str(images), "--masks", str(masks), "-o", str(out),
                    "--sketch", str(tmp_path / "sketch.png"), "--engine", "telea"])
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert sorted(path.name for path in out.iterdir()) == ["big.png", "small.png"]
    assert "skipped" not in captured.out + captured.err
    assert "telea ignored --sketch" in captured.out + captured.err
    # the same file followed: the picture of another size is skipped, as before
    code = run_cli(*["batch", "--images", str(images), "--masks", str(masks), "-o",
                    str(tmp_path / "followed"), "--sketch", str(tmp_path / "sketch.png")])
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert [path.name for path in (tmp_path / "followed").iterdir()] == ["small.png"]
    assert "another size than the guidance files" in captured.out + captured.err
