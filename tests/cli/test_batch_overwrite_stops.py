"""`batch --overwrite` stopped part way says which results are still an earlier run's (and
the advice it gives does what it says); `--other-sizes` is refused with `--masks`; a link or
a folder at a result's name is never written through or replaced, with one message either
way, so nothing is written outside the output folder."""

from __future__ import annotations

import os

import numpy as np
import pytest

import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from engines.fileio import encode_image, load_image
from tests.cli.stopping import ctrl_c, full_disk_after, stop_at_call
from tests.cli.test_cli import _folder, run_cli

LINK_REASON = "a link of that name is in the way (to {}); remove it: results are never " \
    "written through links"
FOLDER_REASON = "a folder of that name is in the way; move it"


def _batch(images, masks, out, *extra) -> int:
    return run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea", *extra)


def _earlier_results(out, names) -> dict[str, bytes]:
    """Results an earlier run left: flat grey pictures (no fill looks like them)."""
    out.mkdir(exist_ok=True)
    earlier = {}
    for name in names:
        earlier[name] = encode_image(np.full((60, 80, 3), 77, np.uint8), ".png")
        (out / name).write_bytes(earlier[name])
    return earlier


def _last_line(err: str) -> str:
    return err.replace("\r", "\n").strip().splitlines()[-1]


def test_an_interrupted_overwrite_lists_the_earlier_results_and_its_advice_works(
        tmp_path, capsys, monkeypatch):
    images, masks = _folder(tmp_path, count=5)
    fresh = tmp_path / "fresh"
    assert _batch(images, masks, fresh) == EXIT_OK  # what every result should be
    out = tmp_path / "out"
    earlier = _earlier_results(out, ["p0.png", "p1.png", "p2.png", "p4.png"])  # none for p3
    capsys.readouterr()
    fill = stop_at_call(monkeypatch, engines.batch, "_final_image", 3, ctrl_c)  # at p2
    assert _batch(images, masks, out, "--overwrite") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        f"2 results in {out} are still from before this run (not redone):",
        "  p2.png", "  p4.png"]
    assert _last_line(printed.err) == (
        "interrupted: 2 results written and kept, 3 pictures not done; the 2 results listed "
        "above are still from before this run: run the same command again to redo every "
        "picture, or delete those 2 files and run it without --overwrite to finish only the "
        "rest")
    assert {name: (out / name).read_bytes() for name in ("p2.png", "p4.png")} == \
        {name: earlier[name] for name in ("p2.png", "p4.png")}
    assert (out / "p0.png").read_bytes() != earlier["p0.png"]

    # the second way: delete the files listed, run without --overwrite
    monkeypatch.setattr(engines.batch, "_final_image", fill)
    (out / "p2.png").unlink()
    (out / "p4.png").unlink()
    assert _batch(images, masks, out) == EXIT_OK
    assert "3 written to" in capsys.readouterr().out  # p2, p3, p4
    for index in range(5):
        name = f"p{index}.png"
        assert np.array_equal(load_image(out / name).rgb, load_image(fresh / name).rgb), name


def test_running_the_same_overwrite_again_redoes_every_picture(tmp_path, capsys, monkeypatch):
    images, masks = _folder(tmp_path, count=3)
    fresh = tmp_path / "fresh"
    assert _batch(images, masks, fresh) == EXIT_OK
    out = tmp_path / "out"
    _earlier_results(out, ["p0.png", "p1.png", "p2.png"])
    fill = stop_at_call(monkeypatch, engines.batch, "_final_image", 2, ctrl_c)
    assert _batch(images, masks, out, "--overwrite") == EXIT_INTERRUPTED
    assert "run the same command again to redo every picture" in \
        _last_line(capsys.readouterr().err)
    monkeypatch.setattr(engines.batch, "_final_image", fill)
    assert _batch(images, masks, out, "--overwrite") == EXIT_OK
    assert "3 written to" in capsys.readouterr().out
    for index in range(3):
        name = f"p{index}.png"
        assert np.array_equal(load_image(out / name).rgb, load_image(fresh / name).rgb), name


def test_a_failed_picture_keeps_its_earlier_result_and_is_listed(tmp_path, capsys,
                                                                 monkeypatch):
    images, masks = _folder(tmp_path, count=3)
    (images / "p1.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    earlier = _earlier_results(out, ["p0.png", "p1.png"])  # none for p2
    stop_at_call(monkeypatch, engines.batch, "_final_image", 2, ctrl_c)  # p0, then p2
    assert _batch(images, masks, out, "--overwrite") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0] == "1 failed:" and lines[1].startswith("  p1.png: ")
    assert lines[2:] == [f"1 result in {out} is still from before this run (not redone):",
                         "  p1.png"]
    assert _last_line(printed.err) == (
        "interrupted: 1 result written and kept, 1 picture not done, 1 failed; the result "
        "listed above is still from before this run: run the same command again to redo "
        "every picture, or delete that file and run it without --overwrite to finish only "
        "the rest")
    assert (out / "p1.png").read_bytes() == earlier["p1.png"]


def test_without_earlier_results_the_overwrite_advice_is_to_run_without_it(tmp_path, capsys,
                                                                           monkeypatch):
    images, masks = _folder(tmp_path, count=3)
    out = tmp_path / "out"
    stop_at_call(monkeypatch, engines.batch, "_final_image", 2, ctrl_c)
    assert _batch(images, masks, out, "--overwrite") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out == ""
    assert _last_line(printed.err) == (
        "interrupted: 1 result written and kept, 2 pictures not done; run the same command "
        "without --overwrite to finish the rest")


def test_segment_folder_names_its_label_maps(tmp_path, capsys, monkeypatch):
    images, _ = _folder(tmp_path, count=3)
    out = tmp_path / "maps"
    earlier = _earlier_results(out, ["p1.png", "p2.png"])
    stop_at_call(monkeypatch, engines.batch, "save_label_png", 2, ctrl_c)  # at p1
    assert run_cli("segment", images, "-o", out, "--overwrite") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        f"2 label maps in {out} are still from before this run (not redone):",
        "  p1.png", "  p2.png"]
    assert "; the 2 label maps listed above are still from before this run: " in \
        _last_line(printed.err)
    assert {name: (out / name).read_bytes() for name in earlier} == earlier


def test_a_full_disk_stop_of_an_overwrite_lists_the_earlier_results(tmp_path, capsys,
                                                                    monkeypatch):
    images, masks = _folder(tmp_path, count=4)
    out = tmp_path / "out"
    earlier = _earlier_results(out, ["p0.png", "p2.png", "p3.png"])  # none for p1
    full_disk_after(monkeypatch, 2)  # p0 and p1 are written, p2's bytes do not fit
    assert _batch(images, masks, out, "--overwrite") == EXIT_FAILED
    printed = capsys.readouterr()
    assert printed.out.splitlines()[-3:] == [
        f"2 results in {out} are still from before this run (not redone):",
        "  p2.png", "  p3.png"]
    errors = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "2 results written and kept, 2 pictures not done" in errors[0]
    assert {name: (out / name).read_bytes() for name in ("p2.png", "p3.png")} == \
        {name: earlier[name] for name in ("p2.png", "p3.png")}
    assert (out / "p0.png").read_bytes() != earlier["p0.png"]


def test_a_full_disk_stop_without_overwrite_lists_nothing_from_before(tmp_path, capsys,
                                                                      monkeypatch):
    images, masks = _folder(tmp_path, count=3)
    out = tmp_path / "out"
    _earlier_results(out, ["p2.png"])  # kept and skipped: not this run's to redo
    full_disk_after(monkeypatch, 1)
    assert _batch(images, masks, out) == EXIT_FAILED
    assert "still from before this run" not in capsys.readouterr().out


# --- --other-sizes with --masks -----------------------------------------------------------


@pytest.mark.parametrize("policy", ["anchor", "skip"])
def test_other_sizes_is_refused_with_a_masks_folder(tmp_path, capsys, policy):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    assert _batch(images, masks, out, "--other-sizes", policy) == EXIT_USAGE
    printed = capsys.readouterr()
    assert printed.err == ("error: --other-sizes applies to --mask (one mask for every "
                           "picture), not --masks: each mask there must be its picture's "
                           "size\n")
    assert printed.out == "" and not out.exists()


def test_other_sizes_still_works_with_one_mask(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--mask", masks / "p0.png", "-o", out,
                   "--engine", "telea", "--other-sizes", "anchor") == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]


# --- links and folders at a result's name ---------------------------------------------------


def _tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("dangling", [True, False])
def test_a_link_at_a_results_name_is_refused_and_nothing_goes_outside(tmp_path, capsys,
                                                                      overwrite, dangling):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.png"
    if not dangling:
        elsewhere.write_bytes(b"someone else's file")
    (out / "p0.png").symlink_to("../elsewhere.png")
    before = _tree(tmp_path)
    assert _batch(images, masks, out, *(["--overwrite"] if overwrite else [])) == EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 written to ") and lines[0].endswith(", 1 failed")
    assert f"  p0.png: out/p0.png: {LINK_REASON.format('../elsewhere.png')}" in lines
    assert (out / "p0.png").is_symlink()
    assert os.readlink(out / "p0.png") == "../elsewhere.png"
    assert elsewhere.exists() is not dangling  # not created, or not replaced
    if not dangling:
        assert elsewhere.read_bytes() == b"someone else's file"
    assert _tree(tmp_path) == sorted([*before, "out/p1.png"])  # only p1's result is new


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_at_a_results_name_gets_one_message(tmp_path, capsys, overwrite):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    (out / "p0.png").mkdir(parents=True)
    assert _batch(images, masks, out, *(["--overwrite"] if overwrite else [])) == EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert f"  p0.png: out/p0.png: {FOLDER_REASON}" in lines
    assert (out / "p0.png").is_dir() and (out / "p1.png").is_file()


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_name_clash_names_the_result_not_the_links_target(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=1)
    (images / "p0.jpg").write_bytes((images / "p0.png").read_bytes())  # also p0.png with .png
    out = tmp_path / "out"
    out.mkdir()
    (out / "p0.png").symlink_to("../elsewhere.png")
    assert _batch(images, masks, out, "--format", ".png") == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: p0.jpg and p0.png would be written to p0.png, one result "
                          "replacing another")
    assert "elsewhere" not in err and not (tmp_path / "elsewhere.png").exists()


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_segment_folder_refuses_a_link_too(tmp_path, capsys):
    images, _ = _folder(tmp_path, count=2)
    out = tmp_path / "maps"
    out.mkdir()
    (out / "p1.png").symlink_to("../elsewhere.png")
    assert run_cli("segment", images, "-o", out) == EXIT_FAILED
    assert f"  p1.png: maps/p1.png: {LINK_REASON.format('../elsewhere.png')}" in \
        capsys.readouterr().out.splitlines()
    assert not (tmp_path / "elsewhere.png").exists() and (out / "p0.png").is_file()
