"""QA26 F2, F3, F5, F6: paths that are symbolic link loops are refused naming them (exit 2,
not a "bug"); single-file outputs are never written through links; `segment FOLDER` names
its maps `<stem>.png`; `batch --masks` finds masks whatever the case of what follows the
picture's name, and names written in NFD."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import cli
import cli.batch
from engines.fileio import load_image, save_image, save_mask
from tests.cli.test_train import _args as train_args

SHAPE = (40, 50)


def _picture(path: Path, seed: int = 0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    save_image(path, pixels)
    return pixels


def _hole(top: int = 10) -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[top:top + 12, 15:30] = 255
    return mask


def run(*argv) -> int:
    return cli.main([str(a) for a in argv])


def _tree(folder: Path) -> dict[str, bytes | str]:
    """What ``folder`` holds: each file's bytes, each link's target."""
    return {p.name: os.readlink(p) if p.is_symlink() else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with a picture, its mask, a folder of two pictures and two link loops
    (``loop.png`` and ``loop``); the tests run in it."""
    monkeypatch.chdir(tmp_path)
    _picture(tmp_path / "photo.png")
    save_mask(tmp_path / "mask.png", _hole())
    (tmp_path / "pics").mkdir()
    for index in range(2):
        _picture(tmp_path / "pics" / f"p{index}.png", index + 1)
    os.symlink("loop2.png", tmp_path / "loop.png")
    os.symlink("loop.png", tmp_path / "loop2.png")
    os.symlink("loopb", tmp_path / "loop")
    os.symlink("loop", tmp_path / "loopb")
    return tmp_path


@pytest.mark.parametrize(("argv", "named"), [
    (["inpaint", "loop.png", "mask.png", "-o", "out.png"], "loop.png"),
    (["inpaint", "photo.png", "loop.png", "-o", "out.png"], "loop.png"),
    (["inpaint", "photo.png", "mask.png", "-o", "loop.png"], "-o loop.png"),
    (["inpaint", "photo.png", "mask.png", "-o", "loop/out.png", "--overwrite"],
     "-o loop/out.png: loop"),
    (["inpaint", "photo.png", "mask.png", "-o", "out.png", "--sketch", "loop.png"],
     "--sketch loop.png"),
    (["batch", "--images", "loop", "--mask", "mask.png", "-o", "out"], "--images loop"),
    (["batch", "--images", "pics", "--mask", "loop.png", "-o", "out"], "--mask loop.png"),
    (["batch", "--images", "pics", "--masks", "loop", "-o", "out"], "--masks loop"),
    (["batch", "--images", "pics", "--mask", "mask.png", "-o", "loop"], "-o loop"),
    (["segment", "loop.png", "-o", "out.png"], "loop.png"),
    (["segment", "photo.png", "-o", "loop.png"], "-o loop.png"),
    (["segment", "pics", "-o", "loop"], "-o loop"),
    (["watermark", "--images", "loop", "-o", "out"], "--images loop"),
    (["watermark", "--images", "pics", "-o", "loop"], "-o loop"),
    (["watermark", "--images", "pics", "-o", "out", "--preview", "loop.png"],
     "--preview loop.png"),
    (["train", "semantic", "--images", "pics", "--labels", "loop", "--steps", "1", "-o",
      "m.pt", "--device", "cpu"], "--labels loop"),
])
def test_a_symbolic_link_loop_is_refused_naming_it(work, capsys, argv, named):
    before = _tree(work)
    assert run(*argv) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"error: {named} is a symbolic link loop"), error
    assert error.count("\n") == 1 and "bug" not in error
    assert _tree(work) == before  # nothing written, nothing created


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("command", ["inpaint", "segment"])
def test_an_output_named_by_a_link_is_refused_and_its_target_kept(work, capsys, command,
                                                                  overwrite):
    other = _picture(work / "other photo.png", 9)  # the link's target: another original
    kept = (work / "other photo.png").read_bytes()
    os.symlink("other photo.png", work / "result.png")
    os.symlink("nowhere.png", work / "broken.png")
    inputs = ["photo.png", "mask.png", "--engine", "telea"] if command == "inpaint" \
        else ["photo.png"]
    for link, target in (("result.png", "other photo.png"), ("broken.png", "nowhere.png")):
        argv = [command, *inputs, "-o", link, *(["--overwrite"] if overwrite else [])]
        assert run(*argv) == cli.EXIT_USAGE
        error = capsys.readouterr().err
        assert error == (f"error: -o {link} is a link (to {target}): name the file itself or "
                         "another name; results are never written through links\n")
    assert (work / "other photo.png").read_bytes() == kept  # byte for byte
    assert np.array_equal(load_image(work / "other photo.png").rgb, other)
    assert os.readlink(work / "result.png") == "other photo.png"
    assert os.readlink(work / "broken.png") == "nowhere.png"
    assert not (work / "nowhere.png").exists()
    assert run(command, *inputs, "-o", "new.png") == cli.EXIT_OK  # another name is fine


@pytest.mark.parametrize("flag", [[], ["--overwrite"], ["--resume"]])
def test_train_refuses_a_checkpoint_named_by_a_link(work, capsys, flag):
    (work / "model.pt").write_bytes(b"a checkpoint trained for days")
    os.symlink("model.pt", work / "link.pt")
    argv = ["train", "semantic", "--images", "pics", "--steps", "1", "-o", "link.pt",
            "--device", "cpu", *flag]
    assert run(*argv) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: -o link.pt is a link (to model.pt): name the file itself or another name; "
        "results are never written through links\n")
    assert (work / "model.pt").read_bytes() == b"a checkpoint trained for days"
    assert os.readlink(work / "link.pt") == "model.pt"
    assert not any(work.glob("link-labels-*"))  # refused before any labelling


def test_watermark_side_files_named_by_links_are_refused(work, capsys):
    kept = (work / "photo.png").read_bytes()
    os.symlink("photo.png", work / "see.png")
    for option in ("--preview", "--mask-out"):
        assert run("watermark", "--images", "pics", "-o", "out", option, "see.png",
                   "--overwrite") == cli.EXIT_USAGE
        assert capsys.readouterr().err == (
            f"error: {option} see.png is a link (to photo.png): name the file itself or "
            "another name; results are never written through links\n")
    assert (work / "photo.png").read_bytes() == kept and not (work / "out").exists()


def test_segment_folder_names_maps_stem_png_as_train_semantic_reads_them(tmp_path, capsys):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    for index, name in enumerate(("UPPER.PNG", "plain.jpg", "Mixed.Jpg", "x.TIF")):
        _picture(images / name, index)
    assert run("segment", images, "-o", labels) == cli.EXIT_OK
    assert sorted(p.name for p in labels.iterdir()) == sorted(
        ["UPPER.png", "plain.png", "Mixed.png", "x.png"])
    assert f"4 label maps written to {labels}, 0 failed" in capsys.readouterr().out
    assert run("segment", images, "-o", labels) == cli.EXIT_OK  # a re-run finds them all
    assert "4 skipped: already in the output folder" in capsys.readouterr().out
    # train semantic --labels finds every picture's map (it looks for <stem>.png)
    assert cli.main(train_args(images, labels, tmp_path / "m.pt", "--no-install")) == 0
    assert "no label map" not in capsys.readouterr().err


def test_segment_folder_refuses_two_pictures_whose_maps_share_a_name(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    _picture(images / "a.png", 1)
    _picture(images / "a.PNG", 2)
    assert run("segment", images, "-o", tmp_path / "labels") == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error == ("error: a.PNG and a.png would be written to a.png, one label map "
                     "replacing another (label maps are always PNG); rename them, or put "
                     "them in separate folders\n")
    assert not (tmp_path / "labels").exists()


def test_batch_masks_match_any_case_after_the_name_and_nfd_names(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    café = unicodedata.normalize("NFC", "café 1")
    names = {"UPPER.JPG": "UPPER.PNG", "low.png": "low_MASK.Png", f"{café}.png":
             unicodedata.normalize("NFD", f"{café}.png"), "plain.png": "plain.mask.PNG"}
    for index, (picture, mask) in enumerate(names.items()):
        _picture(images / picture, index)
        save_mask(masks / mask, _hole(4 + 4 * index))
    assert run("batch", "--images", images, "--masks", masks, "-o", out,
               "--engine", "telea") == cli.EXIT_OK
    assert capsys.readouterr().out.splitlines()[0] == f"4 written to {out}, 0 failed"
    for index, picture in enumerate(names):
        single = tmp_path / f"single{index}{Path(picture).suffix}"
        assert run("inpaint", images / picture, masks / names[picture], "-o", single,
                   "--engine", "telea") == cli.EXIT_OK
        assert np.array_equal(load_image(out / picture).rgb, load_image(single).rgb)


def test_the_exact_name_is_preferred_when_another_case_is_there_too(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    _picture(images / "p.jpg")
    save_mask(masks / "p.PNG", _hole(2))
    save_mask(masks / "p.png", _hole(20))
    save_mask(masks / "q_MASK.png", _hole(2))
    found = cli.batch.find_masks([images / "p.jpg", images / "q.jpg", images / "Q.jpg"],
                                 masks)
    if (masks / "P.png").exists():  # names ignore case here: p.png and p.PNG are one file
        pytest.skip("a file system whose names ignore case")
    assert found == {images / "p.jpg": masks / "p.png", images / "q.jpg": masks / "q_MASK.png"}
    assert cli.batch.named_file(images / "p.jpg", masks) == masks / "p.png"
    assert cli.batch.named_file(images / "p.jpg", masks, plain=False) is None
