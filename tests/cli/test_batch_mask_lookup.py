"""`batch --masks FOLDER` looks each picture's mask file up once (:func:`cli.batch.find_masks`):
the files no result may replace and the masks the pictures are filled with come from that one
lookup, with the same results and messages as before."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import cli.batch
from cli import EXIT_FAILED, EXIT_OK
from engines.fileio import load_image, quoted_name, save_image, skipped_files_note
from tests.cli.test_cli import _folder, run_cli


def _looked_up(monkeypatch) -> list[tuple[str, str]]:
    """Record each :func:`cli.batch.named_file` lookup as ``(picture, word)``."""
    looked_up = []
    named_file = cli.batch.named_file

    def counted(image_path, folder, word="mask", plain=True, **kwargs):
        looked_up.append((image_path.name, word))
        return named_file(image_path, folder, word, plain, **kwargs)

    monkeypatch.setattr(cli.batch, "named_file", counted)
    return looked_up


def test_each_pictures_mask_file_is_looked_up_once(tmp_path, monkeypatch, capsys):
    images, masks = _folder(tmp_path)  # p0.png, p1_mask.png, p2.png in masks/
    save_image(images / "p3.png", np.full((60, 80, 3), 90, np.uint8))  # no mask for it
    looked_up = _looked_up(monkeypatch)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    assert sorted(looked_up) == [(f"p{i}.png", "mask") for i in range(4)]
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"3 written to {out}, 1 failed", "1 failed:",
                       f"  p3.png: no mask for it in {masks} (looked for p3.png and similar)"]
    # each result is the single-picture fill with the mask file found for it
    for i, mask in enumerate(("p0.png", "p1_mask.png", "p2.png")):
        single = tmp_path / f"single{i}.png"
        assert run_cli("inpaint", images / f"p{i}.png", masks / mask, "-o", single,
                       "--engine", "telea") == EXIT_OK
        assert np.array_equal(load_image(out / f"p{i}.png").rgb, load_image(single).rgb)
    assert not (out / "p3.png").exists()


def test_the_masks_found_once_are_protected_and_fill_their_pictures(tmp_path):
    images, masks = _folder(tmp_path)
    pictures = sorted(images.iterdir())
    found = cli.batch.find_masks(pictures, masks)
    assert {p.name: m.name for p, m in found.items()} == {
        "p0.png": "p0.png", "p1.png": "p1_mask.png", "p2.png": "p2.png"}
    assert cli.batch.masks_in_use(None, found) == list(found.values())
    assert cli.batch.masks_in_use(tmp_path / "one.png", found) == [tmp_path / "one.png"]
    assert cli.batch.find_masks(pictures, tmp_path / "missing") == {}
    finder = cli.batch.mask_finder(masks, found)
    mask = finder(pictures[1], load_image(pictures[1]))
    assert mask.shape == (60, 80) and (mask[15:30, 20:40] == 255).all()
    assert mask[:15].max() == 0


def test_a_mask_saved_as_jpeg_is_named_with_why_it_is_not_read(tmp_path, capsys):
    """QA audit 29, F1: a mask saved as JPEG (``y_mask.jpg``, ``x.JPG``) is not taken, and
    the failure names it and says masks are read from PNG files."""
    for case, (picture, mask) in enumerate((("y.png", "y_mask.jpg"), ("x.jpg", "x.JPG"))):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        _fails(folder, picture, mask)
        line = capsys.readouterr().out
        assert (f"{picture}: no mask for it in {folder / 'masks'} (looked for "
                f"{picture.split('.')[0]}.png and similar; {mask} is there, but mask files "
                "are read from .png files only") in line, line


def test_a_mask_whose_stem_differs_in_case_is_named(tmp_path, capsys):
    _fails(tmp_path, "Photo.jpg", "photo_mask.png")
    line = capsys.readouterr().out
    assert ("Photo.jpg: no mask for it in " f"{tmp_path / 'masks'} (looked for Photo.png and "
            "similar; photo_mask.png is there, but its name differs from the picture's in "
            "case: rename it Photo_mask.png)") in line, line


def test_another_picture_of_the_same_stem_is_no_near_miss(tmp_path):
    """With the masks in the pictures' folder, ``y.jpg`` beside ``y.png`` is another
    picture, not a mask saved as JPEG, and ``photo.png`` beside ``Photo.jpg`` is not its mask
    in another case (QA audit 30, F3); a stray ``y_mask.jpg`` there still is a near miss."""
    folder = tmp_path / "both"
    folder.mkdir()
    for name in ("y.png", "y.jpg", "Photo.jpg", "photo.png"):
        save_image(folder / name, np.full((40, 50, 3), 120, np.uint8))
    names = cli.batch.folder_names(folder)
    assert cli.batch.near_miss(folder / "y.png", folder, "mask", names) is None
    assert cli.batch.near_miss(folder / "Photo.jpg", folder, "mask", names) is None
    save_image(folder / "y_mask.jpg", np.full((40, 50, 3), 255, np.uint8))
    names = cli.batch.folder_names(folder)
    assert cli.batch.near_miss(folder / "y.png", folder, "mask", names).startswith(
        "y_mask.jpg is there")


def _fails(folder, picture: str, mask: str) -> None:
    """Run `batch` on ``picture`` in ``folder``/images with only ``mask`` in
    ``folder``/masks; it fails for want of a mask."""
    images, masks = folder / "images", folder / "masks"
    images.mkdir()
    masks.mkdir()
    save_image(images / picture, np.full((40, 50, 3), 120, np.uint8))
    hole = np.zeros((40, 50, 3), np.uint8)
    hole[10:20, 10:20] = 255
    ok, encoded = cv2.imencode(Path(mask).suffix.lower(), hole)  # .png or .jpg, any case
    assert ok
    (masks / mask).write_bytes(encoded.tobytes())
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", folder / "out",
                   "--engine", "telea") == EXIT_FAILED


def test_near_misses_name_every_reason_and_never_another_picture(tmp_path):
    """QA audit 30, F3: a stem in another case saved as JPEG gets both reasons at once; a
    TIFF mask is not told about JPEG."""
    masks = tmp_path / "masks"
    masks.mkdir()
    for name in ("photo_mask.jpg", "shot_mask.tif"):
        (masks / name).write_bytes(b"x")
    names = cli.batch.folder_names(masks)
    assert cli.batch.near_miss(tmp_path / "Photo.jpg", masks, "mask", names) == (
        "photo_mask.jpg is there, but mask files are read from .png files only (a JPEG "
        "blurs their edges) and its name differs from the picture's in case: save it as "
        "Photo_mask.png")
    assert cli.batch.near_miss(tmp_path / "shot.jpg", masks, "mask", names) == (
        "shot_mask.tif is there, but mask files are read from .png files only: save it as "
        "shot_mask.png")


def test_a_near_miss_mask_in_the_pictures_folder_is_left_out_not_filled(tmp_path, capsys):
    """QA audit 31, F6: with the masks among the pictures, ``p_mask.jpg`` (a JPEG) and
    ``q_mask.png`` beside ``Q.jpg`` (another case) are masks saved wrongly: left out as
    masks, so each picture fails once, naming its mask, and nothing else fails; a file that
    has a mask of its own is a picture, even when named like one."""
    folder = tmp_path / "pics"
    folder.mkdir()
    hole = np.zeros((40, 50, 3), np.uint8)
    hole[10:20, 10:20] = 255
    for name in ("p.jpg", "Q.jpg", "r.png", "s.jpg", "s_mask.jpg"):
        save_image(folder / name, np.full((40, 50, 3), 120, np.uint8))
    for name in ("p_mask.jpg", "q_mask.png", "r_mask.png", "s_mask_mask.png"):
        _, encoded = cv2.imencode(Path(name).suffix, hole)
        (folder / name).write_bytes(encoded.tobytes())
    out = tmp_path / "out"
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    captured = capsys.readouterr()
    assert "p.jpg: no mask for it" in captured.out and "save it as p_mask.png" in captured.out
    assert "Q.jpg: no mask for it" in captured.out and "rename it Q_mask.png" in captured.out
    assert "p_mask.jpg:" not in captured.out and "q_mask.png:" not in captured.out
    assert "s.jpg: no mask for it" in captured.out  # s_mask.jpg has a mask: a picture
    assert "3 failed" in captured.out + captured.err
    assert "left out: they are masks, not pictures to fill" in captured.err
    assert sorted(path.name for path in out.iterdir()) == ["r.png", "s_mask.jpg"]


def test_a_mask_name_that_is_a_folder_or_a_broken_link_is_named(tmp_path):
    """QA audit 31, F7: the name the user sees listed is said to be no file."""
    import os

    masks = tmp_path / "masks"
    (masks / "d_mask.png").mkdir(parents=True)
    os.symlink("nowhere.png", masks / "l_mask.png")
    names = cli.batch.folder_names(masks)
    assert cli.batch.near_miss(tmp_path / "d.jpg", masks, "mask", names) == (
        "d_mask.png is there, but it is a folder, not a mask file")
    assert cli.batch.near_miss(tmp_path / "l.jpg", masks, "mask", names) == (
        "l_mask.png is there, but it is a link to nothing, not a mask file")


def test_a_mask_named_with_its_extension_twice_is_named_and_left_out(tmp_path, capsys):
    """QA audit 32, F3: ``x_mask.png.png`` (named where extensions are hidden) is x.png's
    mask saved wrongly: named in x.png's failure, with the name to give it, and left out of
    the pictures; in the pictures' own folder the name looked for first is x_mask.png, not
    the picture itself."""
    folder = tmp_path / "pics"
    folder.mkdir()
    save_image(folder / "x.png", np.full((40, 50, 3), 120, np.uint8))
    save_image(folder / "y.jpg", np.full((40, 50, 3), 90, np.uint8))
    hole = np.zeros((40, 50), np.uint8)
    hole[10:20, 10:20] = 255
    save_image(folder / "x_mask.png.png", np.dstack([hole] * 3))
    save_image(folder / "y_mask.jpg.png", np.dstack([hole] * 3))
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", tmp_path / "out",
                   "--engine", "telea") == EXIT_FAILED
    captured = capsys.readouterr()
    assert (f"x.png: no mask for it in {folder} (looked for x_mask.png and similar; "
            "x_mask.png.png is there, but its name ends in two extensions (.png.png): rename "
            "it x_mask.png)") in captured.out
    assert "y_mask.jpg.png is there, but its name ends in two extensions (.jpg.png): rename "\
        "it y_mask.png" in captured.out
    assert "x_mask.png.png:" not in captured.out and "2 failed" in captured.out + captured.err
    assert ("2 files left out: they are named as pictures' masks saved wrongly "
            "(x_mask.png.png, y_mask.jpg.png), not pictures to fill") in captured.err
    # in another folder the picture's own stem comes first, as before
    names = cli.batch.folder_names(folder)
    assert cli.batch.near_miss(tmp_path / "x.jpg", folder, "mask", names) == (
        "x_mask.png.png is there, but its name ends in two extensions (.png.png): rename it "
        "x_mask.png")
    (folder / "z_mask.PNG.png").write_bytes(b"x")  # said as the user sees it
    assert cli.batch.near_miss(tmp_path / "z.jpg", folder, "mask",
                               cli.batch.folder_names(folder)) == (
        "z_mask.PNG.png is there, but its name ends in two extensions (.PNG.png): rename it "
        "z_mask.png")


def test_a_name_with_a_line_break_stays_on_one_line(tmp_path, capfd):
    """QA audit 32, F5: a picture named with a line break (or a carriage return) is shown
    with escapes in the progress bar and in the failure listing, one line each."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("new\nline.png", "car\rriage.png"):
        save_image(folder / name, np.full((40, 50, 3), 120, np.uint8))
    masks = tmp_path / "masks"
    masks.mkdir()
    assert run_cli("batch", "--images", folder, "--masks", masks, "-o", tmp_path / "out",
                   "--engine", "telea") == EXIT_FAILED
    captured = capfd.readouterr()
    listed = captured.out.splitlines()
    assert any(line.startswith("  new\\nline.png: no mask for it") for line in listed)
    assert any(line.startswith("  car\\rriage.png: no mask for it") for line in listed)
    assert "new\nline" not in captured.out + captured.err
    assert "car\rriage" not in captured.out + captured.err
    assert "new\\nline.png" in captured.err  # the bar names it, escaped


def _hole(top: int, left: int) -> np.ndarray:
    hole = np.zeros((40, 50), np.uint8)
    hole[top:top + 10, left:left + 12] = 255
    return hole


def test_a_stray_mask_beside_the_proper_one_is_left_out_not_filled(tmp_path, capsys):
    """QA audit 34, F4: with the masks among the pictures, ``d_mask.png.png`` and
    ``d_mask.PNG.png.png`` (tripled) beside ``d.png``'s proper ``d_mask.png`` are masks
    saved wrongly, never pictures to fill: left out as masks; ``d.png`` is filled with
    ``d_mask.png``. A file named like a mask that has a mask of its own
    (``g_mask.png.png``) is a picture. QA audit 35, F1: ``d-mask.jpg`` (one extension, a
    photo's name) beside the proper mask may be a photo: it is not left out, and fails by
    name as a picture without a mask."""
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in ("d.png", "g.png", "g_mask.png.png"):
        save_image(folder / name, rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    for name, hole in (("d_mask.png", _hole(5, 5)), ("d_mask.png.png", _hole(25, 30)),
                       ("d_mask.PNG.png.png", _hole(25, 5)), ("g_mask.png", _hole(5, 30)),
                       ("g_mask.png_mask.png", _hole(20, 20))):
        save_image(folder / name, np.dstack([hole] * 3))
    ok, encoded = cv2.imencode(".jpg", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    assert ok
    (folder / "d-mask.jpg").write_bytes(encoded.tobytes())
    out = tmp_path / "out"
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"3 written to {out}, 1 failed", "1 failed:",
        f"  d-mask.jpg: no mask for it in {folder} (looked for d-mask_mask.png and similar)"]
    assert ("2 files left out: they are named as pictures' masks saved wrongly "
            "(d_mask.png.png, d_mask.PNG.png.png), not pictures to fill; 3 files left out: "
            "they are masks, not pictures to fill") in captured.err
    assert sorted(path.name for path in out.iterdir()) == ["d.png", "g.png", "g_mask.png.png"]
    for i, (picture, mask) in enumerate((("d.png", "d_mask.png"), ("g.png", "g_mask.png"),
                                         ("g_mask.png.png", "g_mask.png_mask.png"))):
        single = tmp_path / f"single{i}.png"
        assert run_cli("inpaint", folder / picture, folder / mask, "-o", single,
                       "--engine", "telea") == EXIT_OK
        assert np.array_equal(load_image(out / picture).rgb, load_image(single).rgb)
    filled, original = load_image(out / "d.png").rgb, load_image(folder / "d.png").rgb
    outside = _hole(5, 5) == 0
    assert np.array_equal(filled[outside], original[outside])  # only d_mask.png's hole
    # every near miss, d.png's failure (were it to fail) naming the first; those of a
    # picture with its mask are the doubled ones only
    names = cli.batch.folder_names(folder)
    assert [name for name, _ in cli.batch.near_miss_files(folder / "d.png", folder, "mask",
                                                          names)] == [
        "d-mask.jpg", "d_mask.PNG.png.png", "d_mask.png.png"]
    assert [name for name, _ in cli.batch.near_miss_files(
        folder / "d.png", folder, "mask", names, doubled_only=True)] == [
        "d_mask.PNG.png.png", "d_mask.png.png"]


def _b_with_a_mask_beside_it(tmp_path, capsys, mask_name: str):
    """``(folder, out, captured)`` of a ``batch`` run, failed, over ``pics/`` holding b.png
    and, beside it, its mask saved as ``mask_name`` (a near miss), the masks read from the
    pictures' own folder."""
    folder = tmp_path / "pics"
    folder.mkdir()
    save_image(folder / "b.png", np.full((40, 50, 3), 120, np.uint8))
    save_image(folder / mask_name, np.dstack([_hole(10, 10)] * 3))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    return folder, out, capsys.readouterr()


def test_a_mask_named_with_its_extension_thrice_is_named_and_left_out(tmp_path, capsys):
    """QA audit 34, F4: ``b_mask.png.png.png`` is b.png's mask saved wrongly, as the doubled
    name is: named in b.png's failure with its three extensions as written and the name to
    give it, and left out of the pictures rather than failed."""
    folder, out, captured = _b_with_a_mask_beside_it(tmp_path, capsys, "b_mask.png.png.png")
    assert captured.out.splitlines()[-1] == (
        f"  b.png: no mask for it in {folder} (looked for b_mask.png and similar; "
        "b_mask.png.png.png is there, but its name ends in three extensions (.png.png.png): "
        "rename it b_mask.png)")
    assert "b_mask.png.png.png:" not in captured.out and "1 failed" in captured.out
    assert ("1 file left out: it is named as a picture's mask saved wrongly "
            "(b_mask.png.png.png), not a picture to fill") in captured.err
    assert not out.exists() or not any(out.iterdir())
    # in another folder, the picture's own stem, the extensions' case kept; a JPEG one too
    masks = tmp_path / "masks"
    masks.mkdir()
    for name in ("B.PNG.png.Png", "c_mask.PNG.jpg.jpeg.png"):
        (masks / name).write_bytes(b"x")
    names = cli.batch.folder_names(masks)
    assert cli.batch.near_miss(tmp_path / "B.jpg", masks, "mask", names) == (
        "B.PNG.png.Png is there, but its name ends in three extensions (.PNG.png.Png): "
        "rename it B.png")
    assert cli.batch.near_miss(tmp_path / "c.jpg", masks, "mask", names) == (
        "c_mask.PNG.jpg.jpeg.png is there, but its name ends in four extensions "
        "(.PNG.jpg.jpeg.png): rename it c_mask.png")


SPACED = ("k_mask .png.png is there, but its name ends in two extensions (.png.png) and it "
          "has a space before its extensions: rename it k_mask.png")


def test_a_mask_saved_with_a_space_before_its_extensions_is_a_near_miss(tmp_path, capsys):
    """QA: ``k_mask .png.png`` (a space typed before the extensions, then doubled where
    extensions are hidden) is k.png's mask saved wrongly, as ``k_mask.png.png`` is: named in
    k.png's failure with the name to give it, and left out of the pictures. ``j_mask .png``
    (one extension) beside j.png's proper ``j_mask.png`` is no photo's name either: left out,
    not filled."""
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("k.png", "j.png"):
        save_image(folder / name, np.full((40, 50, 3), 120, np.uint8))
    for name in ("k_mask .png.png", "j_mask.png", "j_mask .png"):
        save_image(folder / name, np.dstack([_hole(10, 10)] * 3))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"1 written to {out}, 1 failed", "1 failed:",
        f"  k.png: no mask for it in {folder} (looked for k_mask.png and similar; {SPACED})"]
    assert ("2 files left out: they are named as pictures' masks saved wrongly "
            "(j_mask .png, k_mask .png.png), not pictures to fill") in captured.err
    assert sorted(path.name for path in out.iterdir()) == ["j.png"]


def test_a_mask_with_a_space_before_its_extensions_is_named_in_a_masks_folder(tmp_path,
                                                                              capsys):
    """The same near miss in a separate masks folder: named in k.png's failure."""
    images, masks = tmp_path / "pics", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    save_image(images / "k.png", np.full((40, 50, 3), 120, np.uint8))
    save_image(masks / "k_mask .png.png", np.dstack([_hole(10, 10)] * 3))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"0 written to {out}, 1 failed", "1 failed:",
        f"  k.png: no mask for it in {masks} (looked for k.png and similar; {SPACED})"]
    # one extension, other whitespace, several spaces, a space between the extensions
    for name in ("a_mask .png", "b-mask\t.png", "c.mask  .jpg", "d_mask.png .png"):
        (masks / name).write_bytes(b"x")
    names = cli.batch.folder_names(masks)
    said = {stem: cli.batch.near_miss(tmp_path / f"{stem}.jpg", masks, "mask", names)
            for stem in "abcd"}
    assert said == {
        "a": "a_mask .png is there, but it has a space before its extension: rename it "
             "a_mask.png",
        "b": "b-mask\t.png is there, but it has whitespace before its extension: rename it "
             "b-mask.png",
        "c": "c.mask  .jpg is there, but it has spaces before its extension and mask files "
             "are read from .png files only (a JPEG blurs their edges): save it as "
             "c.mask.png",
        "d": "d_mask.png .png is there, but its name ends in two extensions (.png .png) and "
             "it has a space between its extensions: rename it d_mask.png"}
    # a picture whose own name ends in a space keeps its plain name's near miss
    (masks / "e .png.png").write_bytes(b"x")
    assert cli.batch.near_miss(tmp_path / "e .jpg", masks, "mask",
                               cli.batch.folder_names(masks)) == (
        "e .png.png is there, but its name ends in two extensions (.png.png): rename it "
        "e .png")


def test_a_mask_with_whitespace_around_its_name_is_a_near_miss(tmp_path, capsys):
    """QA audit 37, F6: `` u.png`` (a space before the name) was not mentioned at all, and
    ``v.png `` (after the extension) was told to be saved as a PNG, which it is."""
    images, masks = tmp_path / "pics", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in "uvw":
        save_image(images / f"{stem}.jpg", np.full((40, 50, 3), 120, np.uint8))
    for name in (" u.png", "v.png ", " w_mask .png  "):
        (masks / name).write_bytes(b"x")
    names = cli.batch.folder_names(masks)
    said = {stem: cli.batch.near_miss(images / f"{stem}.jpg", masks, "mask", names)
            for stem in "uvw"}
    assert said == {  # quoted, whitespace around it being invisible (QA audit 38, F7)
        "u": '" u.png" is there, but it has a space before its name: rename it u.png',
        "v": '"v.png " is there, but it has a space after its extension: rename it v.png',
        "w": '" w_mask .png  " is there, but it has spaces before its name, before its '
             "extension and after its extension: rename it w_mask.png"}
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    printed = capsys.readouterr().out
    assert f"u.jpg: no mask for it in {masks} (looked for u.png and similar; {said['u']})" \
        in printed


def test_a_near_miss_name_is_quoted_only_where_whitespace_begins_or_ends_it(tmp_path,
                                                                             capsys):
    """QA audit 38, F7: `` p1.png`` was said as ``(...;  p1.png is there, ...: rename it
    p1.png)``, its space shown only as a double one. A name that whitespace begins or ends
    is quoted (a tab escaped, as every name printed), in the failure printed too; one with
    whitespace inside only, or none, is not."""
    images, masks = tmp_path / "pics", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in ("p1", "p2", "p3", "p4"):
        save_image(images / f"{stem}.jpg", np.full((40, 50, 3), 120, np.uint8))
    for name in (" p1.png", "p2_mask.png\t", "p3_mask .png", "P4.png"):
        (masks / name).write_bytes(b"x")
    (masks / " p5_mask.png").mkdir()
    save_image(images / "p5.jpg", np.full((40, 50, 3), 120, np.uint8))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    failed = sorted(capsys.readouterr().out.splitlines()[2:])
    assert failed == [f"  p{i}.jpg: no mask for it in {masks} (looked for p{i}.png and "
                      f"similar; {said})" for i, said in enumerate((
        '" p1.png" is there, but it has a space before its name: rename it p1.png',
        '"p2_mask.png\\t" is there, but it has whitespace after its extension: rename it '
        "p2_mask.png",
        "p3_mask .png is there, but it has a space before its extension: rename it "
        "p3_mask.png",
        "P4.png is there, but its name differs from the picture's in case: rename it p4.png",
        '" p5_mask.png" is there, but it is a folder, not a mask file'), start=1)]


def test_a_left_out_near_miss_that_whitespace_begins_is_quoted_in_the_list(tmp_path,
                                                                           capsys):
    """QA audit 38, F7's leftover: the "files left out" list named `` b_mask.png`` bare
    (``(... saved wrongly ( b_mask.png), ...)``); it is quoted there as in the failure."""
    _folder, _out, captured = _b_with_a_mask_beside_it(tmp_path, capsys, " b_mask.png")
    assert ('1 file left out: it is named as a picture\'s mask saved wrongly '
            '(" b_mask.png"), not a picture to fill') in captured.err
    assert '" b_mask.png" is there, but it has a space before its name' in captured.out


def test_a_near_miss_without_a_picture_extension_is_said_once_as_skipped(tmp_path, capsys):
    """QA audit 40, F5: with the masks in the pictures' folder, ``"p1_mask.png "`` (no picture
    extension: ``.png ``) was said as skipped, bare, and named again among the files left
    out, whose count (2) did not match its three names. Each file is in one list, the count
    matches the names, and the skipped list quotes a name (and an extension) that
    whitespace begins or ends, as the near misses' lists do."""
    folder = tmp_path / "same"
    folder.mkdir()
    for stem in ("p0", "p1", "p2"):
        save_image(folder / f"{stem}.png", np.full((40, 50, 3), 120, np.uint8))
    for name in (" p0_mask.png", "p1_mask.png ", "p2_mask .png"):
        save_image(tmp_path / "mask.png", _hole(10, 10))
        (tmp_path / "mask.png").rename(folder / name)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", folder, "--masks", folder, "-o", out,
                   "--engine", "telea") == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == (
        '1 file skipped: no picture extension (".png "): "p1_mask.png "; 2 files left out: '
        'they are named as pictures\' masks saved wrongly (" p0_mask.png", p2_mask .png), '
        "not pictures to fill")
    assert '"p1_mask.png " is there, but it has a space after its extension' in captured.out
    assert captured.out.startswith("0 written to ") and ", 3 failed\n" in captured.out


def test_the_skipped_list_quotes_names_that_whitespace_begins_or_ends(tmp_path):
    """QA audit 40, F5: :func:`engines.fileio.skipped_files_note` quotes as
    :func:`cli.batch._named` does, for every kind it names: files without a picture
    extension (and such an extension), subfolders and broken links; other names bare."""
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    (tmp_path / " lead.txt").write_bytes(b"x")
    (tmp_path / " sub").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "gone.png ").symlink_to(tmp_path / "nowhere")
    assert skipped_files_note(tmp_path) == (
        '2 files skipped: no picture extension (.txt): " lead.txt", notes.txt; 2 subfolders '
        'not searched (folder runs do not look into subfolders): " sub/", sub/; 1 broken '
        'link skipped (pointing to nothing): "gone.png "')
    assert quoted_name(" lead.txt") == '" lead.txt"' and quoted_name("a b") == "a b"
