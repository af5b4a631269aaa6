"""`batch`: a bad setup is refused once before any work; a picture's failure names its file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engines import weights
from engines.fileio import load_image, save_image
from tests.cli.test_cli import _folder, run_cli


def _refused_once(capsys, out, words: str) -> str:
    """The one error line, after checking it says ``words``, no picture was tried (no
    per-picture lines, no summary) and the output folder was not created."""
    printed = capsys.readouterr()
    text = printed.out + printed.err
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], text
    assert "written" not in printed.out and "  p0.png" not in printed.out
    assert "Traceback" not in text
    assert not out.exists()
    return errors[0]


@pytest.mark.parametrize("engine", ["telea", "migan-256"])
def test_a_missing_accelerator_is_refused_once_before_any_work(tmp_path, capsys, monkeypatch,
                                                                engine):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    # a checkpoint named by path: the engine reads as ready, its file is never reached
    ready = ["--option", f"weights_path={tmp_path / 'never-read.pt'}"] \
        if engine != "telea" else []
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out, "--engine", engine,
                   "--device", "cuda", *ready)
    assert code == 2
    _refused_once(capsys, out, "CUDA was requested but no CUDA GPU is available")


def test_a_damaged_checkpoint_is_read_once_and_refused_before_any_work(tmp_path, capsys,
                                                                         monkeypatch,
                                                                         model_cache):
    from engines.neural.deepfill_v2 import DeepFill2Engine

    cached = weights.local_path(DeepFill2Engine.weights_id)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 cut off in the middle of the download")
    loads = []
    original = DeepFill2Engine.load_network

    def counted(self, path, device):
        loads.append(path)
        return original(self, path, device)

    monkeypatch.setattr(DeepFill2Engine, "load_network", counted)
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "deepfill2")
    assert code == 2
    assert loads == []  # its readiness already says it is damaged
    _refused_once(capsys, out, cached.name)


def test_an_engine_needing_label_maps_is_refused_before_any_work(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "semantic",
                   "--option", f"weights_path={tmp_path / 'semantic.pt'}")  # reads as ready
    assert code == 2
    err = _refused_once(capsys, out, "cannot fill a folder")
    assert "needs each picture's labels" in err


def test_a_damaged_mask_is_named_and_a_damaged_picture_is_not_blamed_on_a_folder(tmp_path,
                                                                                  capsys):
    images, masks = _folder(tmp_path)
    whole = (masks / "p0.png").read_bytes()
    (masks / "p0.png").write_bytes(whole[:len(whole) // 2])  # p0's mask: a cut-off PNG
    (images / "p2.png").write_bytes(b"not a picture")  # p2 itself is damaged
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea")
    assert code == 1  # picture-level problems: skipped, the rest written
    lines = capsys.readouterr().out.splitlines()
    assert "1 written" in lines[0] and "2 failed" in lines[0]
    assert load_image(out / "p1.png").rgb.shape == (60, 80, 3)
    mask_line = next(line for line in lines if line.startswith("  p0.png: "))
    assert mask_line.startswith("  p0.png: masks/p0.png: ")
    picture_line = next(line for line in lines if line.startswith("  p2.png: "))
    assert "/" not in picture_line  # the picture is the damaged file: no other file named


def test_batch_writes_grey_pictures_grey_and_colour_ones_in_colour(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    grey = load_image(images / "p0.png").rgb[..., 0]
    Image.fromarray(grey, "L").save(images / "p0.png")  # a black-and-white photo
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == 0
    with Image.open(out / "p0.png") as saved, Image.open(out / "p1.png") as colour:
        assert (saved.mode, colour.mode) == ("L", "RGB")
        stored = np.asarray(saved)
    hole = load_image(masks / "p0.png").rgb[..., 0] > 0
    assert np.array_equal(stored[~hole], grey[~hole]) and (stored[hole] != grey[hole]).any()


def test_one_mask_skips_pictures_of_another_size_without_failing(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    save_image(images / "wide.png", np.full((60, 120, 3), 90, np.uint8))
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--mask", masks / "p0.png", "-o", out,
                   "--engine", "telea")
    printed = capsys.readouterr().out
    assert code == 0, printed  # skipped as asked (--other-sizes skip): no failure
    lines = printed.splitlines()
    assert "2 written" in lines[0] and "0 failed" in lines[0]
    assert "1 skipped (another size than the mask; --other-sizes anchor fills them):" in lines
    assert "  wide.png 120x60, the mask 80x60" in lines
    assert not (out / "wide.png").exists()
    (images / "p1.png").write_bytes(b"not a picture")  # a real failure still fails
    code = run_cli("batch", "--images", images, "--mask", masks / "p0.png", "-o", out,
                   "--engine", "telea", "--overwrite")
    printed = capsys.readouterr().out
    assert code == 1 and "1 failed" in printed and "  p1.png: " in printed
    assert "  wide.png 120x60, the mask 80x60" in printed


def test_batch_names_the_subfolders_and_links_it_leaves_out(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    elsewhere = tmp_path / "elsewhere"
    (images / "sub").mkdir()
    elsewhere.mkdir()
    for picture in (images / "sub" / "nested.png", elsewhere / "p9.png"):
        save_image(picture, np.full((60, 80, 3), 90, np.uint8))
    (images / "linkdir").symlink_to(elsewhere)
    (images / "p8.png").symlink_to(tmp_path / "gone.png")
    (images / "p9.png").symlink_to(elsewhere / "p9.png")  # a link to a picture: filled
    mask = np.zeros((60, 80), np.uint8)
    mask[10:20, 10:20] = 255
    for name in ("p8.png", "p9.png", "nested.png"):
        save_image(masks / name, np.repeat(mask[..., None], 3, axis=2))
    out = images / "results"  # the run's own output folder inside: not news
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == 0
    printed = capsys.readouterr()
    assert ("2 subfolders not searched (folder runs do not look into subfolders): "
            "linkdir/ (link), sub/; 1 broken link skipped (pointing to nothing): p8.png") \
        in printed.err
    assert "3 written" in printed.out
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p9.png"]
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == 0  # again, now that the output folder exists
    assert "results/" not in capsys.readouterr().err


def test_batch_names_the_pictures_that_would_share_an_output_name(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    for suffix in (".jpg", ".webp"):
        save_image((images / "p0").with_suffix(suffix), np.full((60, 80, 3), 90, np.uint8))
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--format", ".png") == 2
    error = _refused_once(capsys, out, "p0.jpg, p0.png and p0.webp would all be written to "
                                       "p0.png")
    assert "keep each picture's own format, or rename them" in error


def test_results_keep_the_pictures_names_exactly_unless_another_format_is_asked(tmp_path,
                                                                               capsys):
    images, masks = _folder(tmp_path, count=2)
    (images / "p0.png").rename(images / "p0.PNG")  # as cameras and old systems name them
    save_image(images / "p1.JPG", load_image(images / "p1.png").rgb)
    (images / "p1.png").unlink()
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["p0.PNG", "p1.JPG"]  # "the same names"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out) == 0
    assert "2 skipped: already in the output folder" in capsys.readouterr().out
    converted = tmp_path / "converted"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", converted,
                   "--format", "PNG") == 0
    assert sorted(p.name for p in converted.iterdir()) == ["p0.PNG", "p1.png"]
    assert load_image(converted / "p1.png").rgb.shape == (60, 80, 3)


def test_names_differing_only_in_the_extensions_case_are_one_output(tmp_path, capsys):
    """x.PNG and x.png are one file where names ignore case: refused as sharing a name."""
    images, masks = _folder(tmp_path, count=1)
    (images / "p0.png").rename(images / "p0.PNG")  # kept as p0.PNG
    save_image(images / "p0.jpg", np.full((60, 80, 3), 90, np.uint8))  # written as p0.png
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--format", ".png") == 2
    error = _refused_once(capsys, out, " would be written to p0.png")
    assert "p0.PNG" in error and "p0.jpg" in error
