"""`batch --exemplar`: reference photos as extra patch sources for every picture of a folder,
read once, refused before any work when unreadable, never replaced by a result, and noted
in `inpaint`'s words when the engine ignores them or a fill could not use one."""

from __future__ import annotations

import numpy as np
import pytest

from cli import EXIT_OK, EXIT_USAGE
from cli import _common as common_module
from cli import batch as batch_module
from engines.fileio import load_image, save_image, save_mask
from tests.cli.test_cli import run_cli

SHAPE = (48, 64)  # (height, width) of the pictures
SIDE = 18  # the striped square of each picture; its hole leaves a 2 px outline of it
OUTLINE = 2
CORNERS = [(10, 12), (20, 30), (14, 40)]  # (top, left) of each picture's square


def _stripes(height: int, width: int) -> np.ndarray:
    """Red and yellow diagonal stripes, 2 px wide: a colour texture grey noise never has."""
    y, x = np.mgrid[0:height, 0:width]
    odd = (((y + x) // 2) % 2)[..., None] == 1
    return np.where(odd, [250, 220, 40], [220, 30, 30]).astype(np.uint8)


def _grey_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return np.repeat(rng.integers(40, 200, (height, width, 1)), 3, axis=2).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    """``(images, reference, truths)``: three grey-noise pictures, each with a striped
    square whose inside is a hole (painted black in the file, white in its mask
    ``masks/pN.png``) so that the stripes show only as a 2 px outline, too thin for one 7x7
    patch; a reference photo ``refs/stripes.png`` holding a large striped area; and each
    picture's ``(truth, mask, picture as written)``."""
    images, masks, refs = tmp_path / "images", tmp_path / "masks", tmp_path / "refs"
    for made in (images, masks, refs):
        made.mkdir()
    reference = _grey_noise(np.random.default_rng(9), 40, 40)
    reference[4:36, 4:36] = _stripes(32, 32)
    save_image(refs / "stripes.png", reference)
    truths = []
    for index, (top, left) in enumerate(CORNERS):
        picture = _grey_noise(np.random.default_rng(index), *SHAPE)
        picture[top:top + SIDE, left:left + SIDE] = \
            _stripes(*SHAPE)[top:top + SIDE, left:left + SIDE]
        truth = picture.copy()
        mask = np.zeros(SHAPE, np.uint8)
        mask[top + OUTLINE:top + SIDE - OUTLINE, left + OUTLINE:left + SIDE - OUTLINE] = 255
        picture[mask > 0] = 0
        save_image(images / f"p{index}.png", picture)
        save_mask(masks / f"p{index}.png", mask)
        truths.append((truth, mask, picture))
    return images, refs / "stripes.png", truths


def _batch(images, out, *extra) -> int:
    return run_cli("batch", "--images", images, "--masks", images.parent / "masks", "-o",
                   out, *extra)


def _hole_error(out, truths) -> list[float]:
    """Each result's mean absolute difference from its truth inside the hole, after
    checking that every pixel outside the hole is the picture's own (PNG: exact)."""
    errors = []
    for index, (truth, mask, picture) in enumerate(truths):
        result = load_image(out / f"p{index}.png").rgb
        assert np.array_equal(result[mask == 0], picture[mask == 0]), index
        errors.append(float(np.abs(result.astype(int) - truth)[mask > 0].mean()))
    return errors


def test_the_reference_fills_the_hole_of_every_picture(folder, tmp_path, capsys):
    images, reference, truths = folder
    with_reference, without = tmp_path / "with", tmp_path / "without"
    assert _batch(images, with_reference, "--engine", "patchmatch",
                  "--exemplar", reference) == EXIT_OK
    assert _batch(images, without, "--engine", "patchmatch") == EXIT_OK
    assert all(error < 5 for error in _hole_error(with_reference, truths))
    assert all(error > 40 for error in _hole_error(without, truths))  # grey noise instead
    printed = capsys.readouterr().out
    assert f"3 written to {with_reference}, 0 failed" in printed and "note:" not in printed


def test_each_reference_is_read_once_for_the_whole_folder(folder, tmp_path, monkeypatch):
    images, reference, _ = folder
    reads = []
    load_before = common_module.load_reference

    def counting(path, *args, **kwargs):
        reads.append(str(path))
        return load_before(path, *args, **kwargs)

    monkeypatch.setattr(common_module, "load_reference", counting)
    assert _batch(images, tmp_path / "out", "--engine", "patchmatch",
                  "--exemplar", reference) == EXIT_OK
    assert reads == [str(reference)]
    assert len(list((tmp_path / "out").iterdir())) == 3


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_an_unreadable_reference_is_refused_before_anything_is_created(folder, tmp_path,
                                                                      capsys, damage):
    images, reference, _ = folder
    bad = tmp_path / "refs" / "bad.png"
    if damage == "corrupt":
        bad.write_bytes(b"not a picture")
    out = tmp_path / "out" / "deeper"
    code = _batch(images, out, "--engine", "patchmatch", "--exemplar", reference, bad)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.count("\n") == 1 and "bad.png" in err and err.startswith("error: ")
    assert not (tmp_path / "out").exists()
    # the line inpaint gives for the same --exemplar
    photo, mask = images / "p0.png", tmp_path / "masks" / "p0.png"
    assert run_cli("inpaint", photo, mask, "-o", tmp_path / "one.png", "--engine",
                   "patchmatch", "--exemplar", bad) == EXIT_USAGE
    assert capsys.readouterr().err == err


def test_a_reference_too_small_for_the_patch_size_is_refused_as_inpaint_refuses_it(
        folder, tmp_path, capsys):
    images, _, _ = folder
    tiny = tmp_path / "refs" / "tiny.png"
    save_image(tiny, np.full((12, 12, 3), 200, np.uint8))
    out = tmp_path / "out"
    code = _batch(images, out, "--engine", "patchmatch", "--option", "patch_size=31",
                  "--exemplar", tiny)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and not out.exists()
    assert err == (f"error: --exemplar {tiny} is 12x12 pixels, too small for one 31x31 "
                   "patch, so nothing can be copied from it; leave it out or choose smaller "
                   "patches (--option patch_size=N, now 31)\n")


def test_a_reference_a_fill_left_out_is_noted_naming_it_and_the_results(folder, tmp_path,
                                                                         capsys, monkeypatch):
    """A reference that passed the check at loading but that the fills leave out (as one
    may after the check: the check at another patch size here) is named in the summary in
    `inpaint`'s words, once for the results it concerns."""
    images, _, _ = folder
    tiny = tmp_path / "refs" / "tiny.png"
    save_image(tiny, np.full((12, 12, 3), 200, np.uint8))
    monkeypatch.setattr(batch_module, "load_references",
                        lambda paths, engine, options: common_module.load_exemplars(paths, 3))
    out = tmp_path / "out"
    code = _batch(images, out, "--engine", "patchmatch", "--option", "patch_size=31",
                  "--exemplar", tiny)
    assert code == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"3 written to {out}, 0 failed",
        f"note: 3 results (p0.png, p1.png, p2.png): the fill left out --exemplar {tiny} at "
        "Patch size 31: it is 12x12 pixels, too small for one 31x31 patch, so nothing can be "
        "copied from it"]


def test_an_engine_that_ignores_references_says_so_once(folder, tmp_path, capsys):
    images, reference, _ = folder
    with_reference, without = tmp_path / "with", tmp_path / "without"
    assert _batch(images, with_reference, "--engine", "telea",
                  "--exemplar", reference) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        f"3 written to {with_reference}, 0 failed",
        "note: telea ignored --exemplar; patchmatch follows it"]
    assert _batch(images, without, "--engine", "telea") == EXIT_OK
    for index in range(len(CORNERS)):  # ignored indeed
        assert np.array_equal(load_image(with_reference / f"p{index}.png").rgb,
                              load_image(without / f"p{index}.png").rgb)
    other = tmp_path / "refs" / "other.png"
    save_image(other, np.full((20, 20, 3), 90, np.uint8))
    capsys.readouterr()
    assert _batch(images, tmp_path / "two", "--engine", "ns",
                  "--exemplar", reference, other) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == [
        "note: ns ignored --exemplar; patchmatch follows them"]


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_reference_under_a_results_name_is_never_replaced(folder, tmp_path, capsys,
                                                            overwrite):
    images, reference, _ = folder
    out = tmp_path / "out"
    out.mkdir()
    inside = out / "p1.png"
    inside.write_bytes(reference.read_bytes())
    code = _batch(images, out, "--engine", "patchmatch", "--exemplar", inside, *overwrite)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err == (f"error: p1.png would replace the reference photo --exemplar {inside}; "
                   "choose another output folder: reference photos are never replaced\n")
    assert inside.read_bytes() == reference.read_bytes()
    assert [p.name for p in out.iterdir()] == ["p1.png"]  # nothing else done


def test_the_reference_is_refused_by_the_one_check_of_the_folder_run(folder, tmp_path,
                                                                     capsys, monkeypatch):
    """The refusal comes from :func:`engines.batch.clear_folder`'s own check of its outputs
    (told the reference is one: ``protected``), worded as a reference photo, not a mask."""
    import engines.batch

    images, reference, _ = folder
    checks = []
    check_outputs = engines.batch._check_outputs

    def counted(*args, **kwargs):
        checks.append(args)
        return check_outputs(*args, **kwargs)

    monkeypatch.setattr(engines.batch, "_check_outputs", counted)
    out = tmp_path / "out"
    out.mkdir()
    inside = out / "p0.png"
    inside.write_bytes(reference.read_bytes())
    code = _batch(images, out, "--engine", "patchmatch", "--exemplar", inside, "--overwrite")
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and len(checks) == 1
    assert err == (f"error: p0.png would replace the reference photo --exemplar {inside}; "
                   "choose another output folder: reference photos are never replaced\n")
    assert "mask" not in err
    assert inside.read_bytes() == reference.read_bytes()
    assert [p.name for p in out.iterdir()] == ["p0.png"]


def test_the_help_documents_exemplar(capsys):
    assert run_cli("batch", "--help") == EXIT_OK
    printed = " ".join(capsys.readouterr().out.split())
    assert "--exemplar FILE [FILE ...]" in printed
    assert "reference photos whose content may fill the holes of every picture" in printed
