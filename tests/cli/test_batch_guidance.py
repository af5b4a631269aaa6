"""`batch --sketch/--color/--labels/--include/--exclude PATH`: guidance for a folder run, one
file for every picture (read once, following --other-sizes with the mask) or a folder of
files named like the pictures (a picture without one filled unguided and named once in the
summary; a bad one failing that picture alone); guidance files are never replaced."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
import pytest

from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from engines.fileio import load_image, save_image, save_mask
from tests.cli.test_cli import run_cli


def _noisy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _edge_picture(seed: int) -> np.ndarray:
    """Dark above row 48, light below: a straight edge the hole at the right interrupts."""
    image = np.full((96, 96, 3), 200.0)
    image[:48] = 50
    return _noisy(image, 6.0, seed)


EDGE_HOLE = np.zeros((96, 96), np.uint8)
EDGE_HOLE[16:80, 40:96] = 255
COLUMNS = np.arange(44, 96)
DRAWN = 48 + 22 * (COLUMNS - 40) / 55  # the bent line of the sketch


def _edge_rows(result: np.ndarray) -> np.ndarray:
    gray = result.mean(axis=2)
    return np.array([np.argmax(gray[:, c] > 125) for c in COLUMNS])


def _sketch() -> np.ndarray:
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (30, 48), (40, 48), 255, 1)
    cv2.line(sketch, (40, 48), (95, 70), 255, 1)
    return sketch


def _dirs(tmp_path, *names):
    made = [tmp_path / name for name in names]
    for folder in made:
        folder.mkdir()
    return made


def test_a_folder_of_sketches_steers_the_pictures_that_have_one(tmp_path, capsys):
    images, masks, sketches = _dirs(tmp_path, "images", "masks", "sketches")
    pictures = {}
    for index, name in enumerate(("a", "b", "c")):
        pictures[name] = _edge_picture(index)
        save_image(images / f"{name}.png", pictures[name])
        save_mask(masks / f"{name}.png", EDGE_HOLE)
    save_mask(sketches / "a_sketch.png", _sketch())  # only a has a sketch
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "patchmatch", "--sketch", sketches)
    printed = capsys.readouterr().out
    assert code == EXIT_OK, printed
    assert "3 written" in printed
    guided = load_image(out / "a.png").rgb
    assert np.abs(_edge_rows(guided) - DRAWN).max() <= 3  # the edge follows the sketch
    for name in ("b", "c"):  # unguided: the edge does not bend
        plain = load_image(out / f"{name}.png").rgb
        assert np.abs(_edge_rows(plain) - DRAWN)[-10:].min() > 10
    for name, picture in pictures.items():  # PNG: every pixel outside the hole exact
        result = load_image(out / f"{name}.png").rgb
        assert np.array_equal(result[EDGE_HOLE == 0], picture[EDGE_HOLE == 0]), name
    notes = [line for line in printed.splitlines() if "no sketch file" in line]
    assert notes == [f"note: 2 pictures (b.png, c.png): no sketch file in {sketches}: "
                     "filled without a sketch"]


def test_one_exclude_file_keeps_its_colour_out_of_every_hole(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    hole = np.zeros((64, 96), np.uint8)
    hole[24:40, 16:32] = 255  # inside the green half: green is its natural fill
    pictures = []
    for index in range(2):
        picture = np.zeros((64, 96, 3), np.float64)
        picture[:, :48] = (20, 210, 20)  # the only green: excluded
        picture[:, 48:] = (128, 128, 128)
        pictures.append(_noisy(picture, 4.0, index))
        save_image(images / f"p{index}.png", pictures[-1])
    save_mask(tmp_path / "hole.png", hole)
    exclude = np.zeros((64, 96), np.uint8)
    exclude[:, :48] = 255
    save_mask(tmp_path / "keepout.png", exclude)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--engine", "patchmatch", "--exclude", tmp_path / "keepout.png") == EXIT_OK
    for index, picture in enumerate(pictures):
        result = load_image(out / f"p{index}.png").rgb.astype(int)
        filled = result[hole > 0]
        assert ((filled[:, 1] - filled[:, [0, 2]].max(axis=1)) < 40).all()  # no green
        assert np.array_equal(result[hole == 0], picture[hole == 0])
    assert "2 written" in capsys.readouterr().out


def test_a_folder_of_label_maps_fills_the_relabelled_hole(tmp_path, capsys):
    images, masks = _dirs(tmp_path, "images", "masks")
    picture = np.zeros((64, 96, 3), np.float64)
    picture[:, :48] = (220, 30, 30)
    picture[:, 48:] = (30, 30, 220)
    picture = _noisy(picture, 4.0, 1)
    hole = np.zeros((64, 96), np.uint8)
    hole[22:42, 12:32] = 255  # inside the red half
    labels = np.ones((64, 96), np.uint8)
    labels[:, 48:] = 2
    labels[hole > 0] = 2  # the hole relabelled "blue"
    save_image(images / "photo.png", picture)
    save_mask(masks / "photo_mask.png", hole)
    cv2.imwrite(str(masks / "photo_labels.png"), labels)  # beside the mask: a shared folder
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "patchmatch", "--labels", masks) == EXIT_OK
    result = load_image(out / "photo.png").rgb
    filled = result[hole > 0].astype(int)
    assert (filled[:, 2] > 150).all() and (filled[:, 0] < 80).all()
    assert np.array_equal(result[hole == 0], picture[hole == 0])
    assert "no labels file" not in capsys.readouterr().out


def test_a_guidance_file_of_another_size_fails_its_picture_alone(tmp_path, capsys):
    images, masks, sketches = _dirs(tmp_path, "images", "masks", "sketches")
    for name in ("a", "b"):
        save_image(images / f"{name}.png", _edge_picture(3))
        save_mask(masks / f"{name}.png", EDGE_HOLE)
    save_mask(sketches / "a.png", cv2.resize(_sketch(), (50, 40)))  # plain name: own folder
    save_mask(sketches / "b.png", _sketch())
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "patchmatch", "--sketch", sketches)
    lines = capsys.readouterr().out.splitlines()
    assert code == EXIT_FAILED
    assert "1 written" in lines[0] and "1 failed" in lines[0]
    failure = next(line for line in lines if line.startswith("  a.png: "))
    assert "sketches/a.png" in failure
    assert "the sketch is 50x40 but the image is 96x96" in failure
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]


def test_a_file_for_every_picture_follows_other_sizes(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    hole = np.zeros((60, 80), np.uint8)
    hole[10:30, 6:26] = 255  # near the left edge: anchored there on a wider picture
    include = np.zeros((60, 80), np.uint8)
    include[0:40, 30:50] = 255  # centred: anchored on its own, it would move to the centre
    save_mask(tmp_path / "hole.png", hole)
    save_mask(tmp_path / "include.png", include)
    same = _noisy(np.full((60, 80, 3), 128.0), 20.0, 1)
    wide = np.full((60, 120, 3), 128.0)
    wide[0:40, 30:50] = (30, 30, 220)  # where the include area is, moved with the mask
    wide[0:40, 50:70] = (30, 220, 30)  # where it would be, anchored by itself
    wide = _noisy(wide, 6.0, 2)
    save_image(images / "same.png", same)
    save_image(images / "wide.png", wide)
    command = ("batch", "--images", images, "--mask", tmp_path / "hole.png", "--engine",
               "patchmatch", "--include", tmp_path / "include.png")
    assert run_cli(*command, "-o", tmp_path / "skip") == EXIT_OK
    printed = capsys.readouterr().out
    assert "  wide.png 120x60, the mask 80x60" in printed
    assert sorted(p.name for p in (tmp_path / "skip").iterdir()) == ["same.png"]

    assert run_cli(*command, "-o", tmp_path / "anchor", "--other-sizes", "anchor") == EXIT_OK
    result = load_image(tmp_path / "anchor" / "wide.png").rgb
    placed = np.zeros((60, 120), np.uint8)
    placed[:, :80] = hole  # the mask kept its distance to the left edge
    assert np.array_equal(result[placed == 0], wide[placed == 0])
    filled = result[placed > 0].astype(int)
    # the include area moved with the mask: the hole is blue, never green
    assert (filled[:, 2] - filled[:, :2].max(axis=1) > 100).mean() > 0.9
    assert (filled[:, 1] < 120).all()


def test_one_guidance_file_of_another_size_than_the_mask_is_refused(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    save_image(images / "p.png", np.full((60, 80, 3), 90, np.uint8))
    hole = np.zeros((60, 80), np.uint8)
    hole[10:30, 10:30] = 255
    save_mask(tmp_path / "hole.png", hole)
    save_mask(tmp_path / "small.png", np.full((40, 50), 255, np.uint8))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--exclude", tmp_path / "small.png") == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--exclude {tmp_path / 'small.png'} is 50x40 but the mask" in err
    assert "80x60" in err and not out.exists()


def test_a_guidance_file_in_the_output_folder_is_refused_before_any_work(tmp_path, capsys):
    images, masks, out = _dirs(tmp_path, "images", "masks", "out")
    for name in ("p0", "p1"):
        save_image(images / f"{name}.png", _edge_picture(5))
        save_mask(masks / f"{name}.png", EDGE_HOLE)
    save_mask(out / "p1.png", _sketch())  # the output folder is also the sketches folder
    before = (out / "p1.png").read_bytes()
    for sketch in (out, out / "p1.png"):  # as a folder, and as one file for every picture
        assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                       "--sketch", sketch, "--overwrite") == EXIT_USAGE
        err = capsys.readouterr().err
        if sketch == out:  # the whole folder: refused for what a later run would read
            assert f"the output folder {out} is the --sketch folder" in err
        else:
            assert "p1.png would replace a guidance file in use (--sketch " in err
            assert "guidance files are never replaced" in err
        assert [p.name for p in out.iterdir()] == ["p1.png"]  # p0.png not written either
        assert (out / "p1.png").read_bytes() == before


def test_guidance_files_in_the_pictures_folder_are_not_pictures(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    save_image(images / "a.png", _edge_picture(6))
    save_mask(images / "a_mask.png", EDGE_HOLE)
    save_mask(images / "a_sketch.png", _sketch())
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", images, "-o", out,
                   "--engine", "patchmatch", "--sketch", images) == EXIT_OK
    printed = capsys.readouterr()
    assert ("1 file left out: it is a guidance file (--sketch, --color, --labels, --include, "
            "--exclude), not a picture to fill") in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert np.abs(_edge_rows(load_image(out / "a.png").rgb) - DRAWN).max() <= 3


def test_a_file_that_would_be_a_mask_and_a_sketch_is_refused(tmp_path, capsys):
    images, masks = _dirs(tmp_path, "images", "masks")
    for name in ("photo", "photo_sketch"):
        save_image(images / f"{name}.png", _edge_picture(7))
        save_mask(masks / f"{name}.png", EDGE_HOLE)  # photo_sketch.png: a mask, or a sketch?
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--sketch", masks) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "photo_sketch.png would be both a mask and a sketch file (--sketch)" in err
    assert not out.exists()


def test_an_engine_ignoring_the_guidance_says_so_once(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    for name in ("p0", "p1"):
        save_image(images / f"{name}.png", _edge_picture(8))
    save_mask(tmp_path / "hole.png", EDGE_HOLE)
    save_mask(tmp_path / "sketch.png", _sketch())
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o",
                   tmp_path / "out", "--engine", "telea", "--sketch",
                   tmp_path / "sketch.png") == EXIT_OK
    notes = [line for line in capsys.readouterr().out.splitlines() if "ignored" in line]
    assert len(notes) == 1 and notes[0].startswith("note: telea ignored --sketch; ")


def test_an_engine_needing_labels_is_refused_without_them_before_any_work(tmp_path, capsys):
    images, = _dirs(tmp_path, "images")
    save_image(images / "p0.png", _edge_picture(8))
    save_mask(tmp_path / "hole.png", EDGE_HOLE)
    save_mask(tmp_path / "sketch.png", _sketch())
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", tmp_path / "hole.png", "-o", out,
                   "--engine", "semantic", "--sketch", tmp_path / "sketch.png",
                   "--option", f"weights_path={tmp_path / 'semantic.pt'}") == EXIT_USAGE
    assert "needs each picture's labels" in capsys.readouterr().err
    assert not out.exists()


def test_help_names_the_guidance_options(capsys):
    with contextlib.suppress(SystemExit):
        run_cli("batch", "--help")
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--sketch PATH", "--color PATH, --colour PATH", "--labels PATH",
                   "--include PATH", "--exclude PATH"):
        assert option in text
    assert "photo_WORD.png" in text and "only the names with the WORD count" in text


def test_with_masks_a_file_for_every_picture_skips_pictures_of_another_size(tmp_path,
                                                                            capsys):
    images, masks = _dirs(tmp_path, "images", "masks")
    for name, width in (("p0", 80), ("wide", 120)):
        save_image(images / f"{name}.png", _noisy(np.full((60, width, 3), 128.0), 20.0, 3))
        hole = np.zeros((60, width), np.uint8)
        hole[10:30, 10:30] = 255
        save_mask(masks / f"{name}.png", hole)
    save_mask(tmp_path / "include.png", np.full((60, 80), 255, np.uint8))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--include", tmp_path / "include.png") == EXIT_OK
    printed = capsys.readouterr().out
    assert "1 skipped (another size than the guidance files for every picture" in printed
    assert f"  wide.png 120x60, --include {tmp_path / 'include.png'} 80x60" in printed
    assert sorted(p.name for p in out.iterdir()) == ["p0.png"]


@pytest.mark.parametrize("flag", ["--masks", "--sketch"])
def test_the_output_folder_may_not_be_a_masks_or_guidance_folder(tmp_path, capsys, flag):
    """Results are named like the pictures: in the masks folder a later run would take
    photo.png (a result) as photo.jpg's mask, before photo_mask.png."""
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    picture = np.full((40, 60, 3), 120, np.uint8)
    save_image(images / "photo.png", picture)
    hole = np.zeros((40, 60), np.uint8)
    hole[10:20, 20:30] = 255
    save_image(masks / "photo_mask.png", hole)
    save_image(masks / "photo_sketch.png", np.zeros((40, 60), np.uint8))
    argv = ["batch", "--images", str(images), "--masks", str(masks), "-o", str(masks),
            "--engine", "telea"] + (["--sketch", str(masks)] if flag == "--sketch" else [])
    if flag == "--sketch":  # the sketch folder is the output, the masks are elsewhere
        other = tmp_path / "other_masks"
        other.mkdir()
        save_image(other / "photo_mask.png", hole)
        argv[4] = str(other)
    before = sorted(path.name for path in masks.iterdir())
    assert run_cli(*argv) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"the output folder {masks} is the {flag} folder" in error
    assert sorted(path.name for path in masks.iterdir()) == before  # nothing written


def test_a_guidance_folder_the_engine_ignores_is_not_read_per_picture(tmp_path, capsys):
    images, masks, sketches = _dirs(tmp_path, "images", "masks", "sketches")
    for name in ("p0", "p1"):
        save_image(images / f"{name}.png", _edge_picture(8))
        save_mask(masks / f"{name}.png", EDGE_HOLE)
    (sketches / "p0_sketch.png").write_bytes(b"not a picture")  # would fail p0 if read
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "out",
                   "--engine", "telea", "--sketch", sketches) == EXIT_OK
    out = capsys.readouterr().out
    assert "2 written" in out and "note: telea ignored --sketch; " in out
    assert "no sketch file" not in out  # p1 has none, but no sketch was followed anyway
