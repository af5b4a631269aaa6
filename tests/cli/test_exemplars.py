"""`inpaint --exemplar`: transparency, references too small for a patch, the option written
before the picture and the mask, files named twice, huge references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

import main
from engines import region as region_module
from engines.fileio import load_image, save_image, save_mask


@pytest.fixture
def files(tmp_path):
    """A dark picture with a hole, and an exclude file covering the whole picture: the
    fill can only come from the references."""
    rng = np.random.default_rng(2)
    save_image(tmp_path / "photo.png", rng.integers(20, 60, (48, 64, 3)).astype(np.uint8))
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255
    save_mask(tmp_path / "mask.png", mask)
    save_mask(tmp_path / "all.png", np.full((48, 64), 255, np.uint8))
    return tmp_path, mask


def _rgba(path, rgba) -> str:
    Image.fromarray(rgba, "RGBA").save(path)
    return str(path)


def _inpaint(folder, *extra) -> int:
    return main.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"),
                      "-o", str(folder / "out.png"), "--exclude", str(folder / "all.png"),
                      "--overwrite", *[str(a) for a in extra]])


def test_transparent_pixels_of_a_reference_are_never_copied(files):
    folder, mask = files
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 1] = 255  # green, invisible (alpha 0) on the left, half visible in the middle
    rgba[:, 24:32, 3] = 128
    rgba[:, 32:] = (200, 200, 200, 255)
    assert _inpaint(folder, "--exemplar", _rgba(folder / "cut.png", rgba)) == 0
    hole = load_image(folder / "out.png").rgb[mask > 0].astype(int)
    assert (np.abs(hole - 200) <= 2).all()  # grey only, no green


@pytest.mark.parametrize("size, patch, wanted", [
    ((2, 2), 7, "2x2 pixels, too small for one 7x7 patch"),
    ((20, 20), 31, "20x20 pixels, too small for one 31x31 patch"),
])
def test_a_reference_smaller_than_a_patch_is_refused_naming_it(files, capsys, size, patch,
                                                                 wanted):
    folder, _ = files
    save_image(folder / "tiny.png", np.full((*size, 3), 200, np.uint8))
    code = _inpaint(folder, "--option", f"patch_size={patch}", "--exemplar",
                    folder / "tiny.png")
    err = capsys.readouterr().err
    assert code == 2 and "tiny.png" in err and wanted in err and err.count("\n") == 1
    assert not (folder / "out.png").exists()


def test_a_fully_transparent_reference_is_refused_naming_it(files, capsys):
    folder, _ = files
    clear = _rgba(folder / "clear.png", np.zeros((40, 40, 4), np.uint8))
    assert _inpaint(folder, "--exemplar", clear) == 2
    err = capsys.readouterr().err
    assert "clear.png has no fully opaque pixel" in err and "patch_size" not in err


def test_exemplar_before_the_picture_and_mask_says_how_to_write_it(files, capsys):
    folder, _ = files
    save_image(folder / "ref.png", np.full((40, 40, 3), 200, np.uint8))
    code = main.main(["inpaint", "--exemplar", str(folder / "ref.png"),
                      str(folder / "photo.png"), str(folder / "mask.png"),
                      "-o", str(folder / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--exemplar takes every file name after it" in err
    assert "IMAGE and MASK are missing" in err
    assert (f"inpaint {folder / 'photo.png'} {folder / 'mask.png'} -o {folder / 'out.png'} "
            f"--exemplar {folder / 'ref.png'}") in err
    # the documented order works, and so does a list ended by another option
    assert _inpaint(folder, "--exemplar", folder / "ref.png") == 0
    assert main.main(["inpaint", "--exemplar", str(folder / "ref.png"), "--overwrite",
                      "--exclude", str(folder / "all.png"), str(folder / "photo.png"),
                      str(folder / "mask.png"), "-o", str(folder / "out.png")]) == 0


def test_a_missing_mask_is_still_named(files, capsys):
    folder, _ = files
    code = main.main(["inpaint", str(folder / "photo.png"), "-o", str(folder / "out.png")])
    assert code == 2 and "required: MASK" in capsys.readouterr().err


def test_exemplar_repeated_adds_up_and_a_file_named_twice_is_searched_once(files, capsys,
                                                                            monkeypatch):
    folder, _ = files
    save_image(folder / "grey.png", np.full((40, 40, 3), 200, np.uint8))
    save_image(folder / "blue.png", np.full((40, 40, 3), (20, 20, 230), np.uint8))
    seen = []
    original = region_module._prepared_region  # each box's region, as the run makes it

    def recorded(request, box, scale, cancel):
        seen.append(len(request.exemplars))
        return original(request, box, scale, cancel)

    monkeypatch.setattr(region_module, "_prepared_region", recorded)
    same = folder / "sub" / ".." / "grey.png"
    (folder / "sub").mkdir()
    assert _inpaint(folder, "--exemplar", folder / "grey.png", same,
                    "--exemplar", folder / "blue.png") == 0
    assert seen == [2]  # grey once, and blue from the second --exemplar
    err = capsys.readouterr().err
    assert f"--exemplar {same} names a file given before; it is searched once" in err


def test_a_huge_reference_is_searched_shrunk_and_says_so(files, capsys, monkeypatch):
    folder, mask = files
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    save_image(folder / "big.png", np.full((300, 400, 3), 200, np.uint8))
    assert _inpaint(folder, "--exemplar", folder / "big.png") == 0
    err = capsys.readouterr().err
    assert "note: --exemplar" in err and "big.png (400x300) is searched at" in err
    hole = load_image(folder / "out.png").rgb[mask > 0].astype(int)
    assert (np.abs(hole - 200) <= 2).all()


def test_huge_references_are_named_in_one_note_and_shrunk_once_for_every_box(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    rng = np.random.default_rng(2)
    save_image(tmp_path / "wide.png", rng.integers(20, 60, (64, 400, 3)).astype(np.uint8))
    mask = np.zeros((64, 400), np.uint8)
    mask[28:36, 20:28] = mask[28:36, 370:378] = 255  # two holes, boxes far apart
    save_mask(tmp_path / "mask.png", mask)
    save_image(tmp_path / "big.png", np.full((300, 400, 3), 200, np.uint8))
    save_image(tmp_path / "huge.png", np.full((360, 480, 3), 90, np.uint8))
    shrunk = []
    original = cv2.resize

    def counted(src, *args, **kwargs):
        if src.shape[:2] == (300, 400):
            shrunk.append(args[0])
        return original(src, *args, **kwargs)

    monkeypatch.setattr(cv2, "resize", counted)
    assert main.main(["inpaint", str(tmp_path / "wide.png"), str(tmp_path / "mask.png"),
                      "-o", str(tmp_path / "out.png"), "--margin", "8", "--exemplar",
                      str(tmp_path / "big.png"), str(tmp_path / "huge.png")]) == 0
    assert len(shrunk) == 1  # both 64x64 boxes search big.png at the same size
    width, height = shrunk[0]
    lines = [line for line in capsys.readouterr().err.splitlines() if "searched at" in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"note: --exemplar {tmp_path / 'big.png'} (400x300) is "
                               f"searched at {width}x{height}, --exemplar "
                               f"{tmp_path / 'huge.png'} (480x360) at ")
    assert "reference photos are shrunk to at most 4 times the pixels of the area filled" \
        in lines[0]


def test_the_references_are_told_apart_once_and_noted_under_their_first_names(
        files, capsys, monkeypatch):
    import cli._common

    folder, _ = files
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    save_image(folder / "big.png", np.full((300, 400, 3), 200, np.uint8))
    save_image(folder / "huge.png", np.full((360, 480, 3), 200, np.uint8))
    (folder / "sub").mkdir()
    again = folder / "sub" / ".." / "big.png"
    calls = []
    original = cli._common.unique_paths

    def counted(paths, *args, **kwargs):
        calls.append(list(paths or ()))
        return original(paths, *args, **kwargs)

    monkeypatch.setattr(cli._common, "unique_paths", counted)
    import cli.inpaint  # the command's module, once main has loaded it

    monkeypatch.setattr(cli.inpaint, "unique_paths", counted, raising=False)
    assert _inpaint(folder, "--exemplar", folder / "big.png", again, folder / "huge.png") == 0
    assert len(calls) == 1  # the named files are resolved and told apart once per run
    [note] = [line for line in capsys.readouterr().err.splitlines() if "searched at" in line]
    assert note.startswith(f"note: --exemplar {folder / 'big.png'} (400x300) is searched at ")
    assert f"--exemplar {folder / 'huge.png'} (480x360) at " in note and str(again) not in note
