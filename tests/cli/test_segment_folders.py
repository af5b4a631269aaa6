"""`segment FOLDER -o OUTFOLDER`: one label map per picture, named after it; what the folder
holds besides pictures is named, damaged pictures are listed and the run goes on; maps
already there are kept; Ctrl+C and SIGTERM say what was written and kept."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cli
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE
from cli._common import StageBar
from engines.base import InputError
from engines.segmentation.base import create_parser
from engines.segmentation.labelmap import LABEL_SET_KEY, load_label_png
from tests.cli.refusals import argument_error
from tests.cli.stopping import ctrl_c, stop_at_call


def _picture(seed: int) -> np.ndarray:
    """A 48x64 picture of two or three flat colour blocks, different for each seed."""
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = (230, 120, 30)
    image[:, 20 + 4 * seed:] = (20, 140, 150)
    if seed % 2:
        image[30:] = (250, 250, 250)
    return image


@pytest.fixture
def folder(tmp_path):
    """``in/`` with p0.png, p1.jpg, p2.png, p3.tif; then ``notes.txt`` and ``sub/``."""
    images = tmp_path / "in"
    images.mkdir()
    for index, suffix in enumerate((".png", ".jpg", ".png", ".tif")):
        Image.fromarray(_picture(index)).save(images / f"p{index}{suffix}", quality=95)
    (images / "notes.txt").write_text("not a picture")
    (images / "sub").mkdir()
    Image.fromarray(_picture(0)).save(images / "sub" / "deep.png")  # never searched
    return images


def segment(*argv) -> int:
    return cli.main(["segment", *(str(a) for a in argv)])


def _listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_folder_gives_one_map_per_picture_named_after_it(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert segment(folder, "-o", out) == EXIT_OK
    printed = capsys.readouterr()
    assert _listing(out) == ["p0.png", "p1.png", "p2.png", "p3.png"]  # stems kept, as .png
    for index, name in enumerate(("p0.png", "p1.jpg", "p2.png", "p3.tif")):
        single = tmp_path / f"single{index}.png"
        assert segment(folder / name, "-o", single) == EXIT_OK  # the single-picture mode
        assert np.array_equal(load_label_png(out / f"p{index}.png"), load_label_png(single))
        with Image.open(out / f"p{index}.png") as written:
            assert written.mode == "P" and written.info[LABEL_SET_KEY] == "regions"
    assert printed.out.splitlines()[0] == f"4 label maps written to {out}, 0 failed"
    assert ("1 file skipped: no picture extension (.txt): notes.txt" in printed.err)
    assert "1 subfolder not searched (folder runs do not look into subfolders): sub/" \
        in printed.err
    assert not (out / "deep.png").exists() and not (out / "sub").exists()


def test_a_damaged_picture_is_listed_and_the_others_are_done(folder, tmp_path, capsys):
    (folder / "p1.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    assert segment(folder, "-o", out) == EXIT_FAILED
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"3 label maps written to {out}, 1 failed"
    listed = [line for line in printed if line.startswith("  ")]
    assert len(listed) == 1 and listed[0].startswith("  p1.jpg: ")
    assert _listing(out) == ["p0.png", "p2.png", "p3.png"]  # no partial or hidden file


def test_debug_prints_the_failed_pictures_traceback_as_batch_does(folder, tmp_path, capsys):
    """``segment FOLDER --debug`` shows why a picture failed, as ``batch --debug`` does
    (QA audit 40, F7); the list on stdout is the same as without it."""
    (folder / "p1.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert segment(folder, "-o", tmp_path / "out") == EXIT_FAILED
    plain = capsys.readouterr()
    assert "Traceback" not in plain.err
    assert segment(folder, "-o", tmp_path / "out", "--debug") == EXIT_FAILED  # p1 again
    debug = capsys.readouterr()
    failure = [line for line in plain.out.splitlines() if line.startswith("  p1.jpg: ")]
    assert len(failure) == 1 and failure[0] in debug.out.splitlines()  # listed as before
    assert debug.err.count("p1.jpg failed:\nTraceback (most recent call last):") == 1


def test_a_rerun_keeps_the_maps_there_unread_unless_overwrite(folder, tmp_path, capsys,
                                                              monkeypatch):
    out = tmp_path / "out"
    assert segment(folder, "-o", out) == EXIT_OK
    (out / "p2.png").unlink()
    (out / "p0.png").write_bytes(b"someone's file")  # under p0's map name: kept
    kept = {name: (out / name).read_bytes() for name in ("p0.png", "p1.png", "p3.png")}
    read, load = [], engines.batch.load_image

    def reading(path, *args, **kwargs):
        read.append(path.name)
        return load(path, *args, **kwargs)

    monkeypatch.setattr(engines.batch, "load_image", reading)
    capsys.readouterr()
    assert segment(folder, "-o", out) == EXIT_OK
    assert read == ["p2.png"]
    assert {name: (out / name).read_bytes() for name in kept} == kept
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"1 label map written to {out}, 0 failed",
                         "3 skipped: already in the output folder; --overwrite redoes them"]
    read.clear()
    assert segment(folder, "-o", out, "--overwrite") == EXIT_OK
    assert read == ["p0.png", "p1.jpg", "p2.png", "p3.tif"]
    assert load_label_png(out / "p0.png").shape == (48, 64)


@pytest.mark.parametrize("output", ["in", "./in/.", "in/../in"])
def test_the_input_folder_is_refused_as_output(folder, tmp_path, monkeypatch, capsys, output):
    monkeypatch.chdir(tmp_path)
    before = _listing(folder)
    for extra in ((), ("--overwrite",)):
        assert segment("in", "-o", output, *extra) == EXIT_USAGE
        error = capsys.readouterr().err
        assert (f"-o {Path(output)} is the input folder; choose another folder: the originals "
                "are never replaced, and label maps there would be taken for pictures") in error
        assert error.splitlines()[-1].startswith("error:")  # no progress bar: no work
    assert _listing(folder) == before


@pytest.mark.parametrize("make, words", [
    (lambda out: out.write_bytes(b"x"), "is a file"),
    (lambda out: None, "names a picture, but"),
])
def test_an_output_that_is_not_a_folder_is_refused(folder, tmp_path, capsys, make, words):
    out = tmp_path / "labels.png"
    make(out)
    assert segment(folder, "-o", out) == EXIT_USAGE
    assert words in capsys.readouterr().err
    assert not out.is_dir()


def test_a_folder_without_pictures_is_refused_naming_what_it_holds(tmp_path, capsys):
    images = tmp_path / "in"
    images.mkdir()
    (images / "notes.txt").write_text("x")
    assert segment(images, "-o", tmp_path / "out") == EXIT_USAGE
    error = capsys.readouterr().err
    assert "holds no pictures" in error and "notes.txt" in error
    assert not (tmp_path / "out").exists()


def test_pictures_whose_maps_would_share_a_name_are_refused_before_any_work(folder, tmp_path,
                                                                            capsys):
    Image.fromarray(_picture(5)).save(folder / "p0.jpg")
    out = tmp_path / "out"
    assert segment(folder, "-o", out) == EXIT_USAGE
    assert "p0.jpg and p0.png would be written to p0.png" in capsys.readouterr().err
    assert not out.exists()


def _stop_at_the_third_picture(monkeypatch, stop) -> None:
    """Call ``stop()`` as the third picture's map is about to be written."""
    stop_at_call(monkeypatch, engines.batch, "save_label_png", 3, stop)


def _hidden(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_ctrl_c_says_what_was_written_and_kept_and_the_rerun_finishes(folder, tmp_path,
                                                                      monkeypatch, capsys):
    shown: list[float] = []
    show = StageBar.show
    monkeypatch.setattr(StageBar, "show",
                        lambda self, n, stage: (shown.append(n), show(self, n, stage)))
    _stop_at_the_third_picture(monkeypatch, ctrl_c)
    out = tmp_path / "out"
    assert segment(folder, "-o", out) == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert _listing(out) == ["p0.png", "p1.png"] and not _hidden(out)
    assert printed.out == ""  # one message, on stderr after the bar
    message = printed.err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("interrupted: 2 label maps written and kept, 2 pictures not done")
    assert "run the same command again" in message
    assert int(max(shown)) == 2  # the bar counted what was written, no more
    monkeypatch.undo()
    assert segment(folder, "-o", out) == EXIT_OK
    assert "2 skipped: already in the output folder" in capsys.readouterr().out
    assert _listing(out) == ["p0.png", "p1.png", "p2.png", "p3.png"]


def test_sigterm_stops_like_ctrl_c_exits_143_and_restores_the_handler(folder, tmp_path,
                                                                     monkeypatch, capsys):
    before = signal.getsignal(signal.SIGTERM)
    _stop_at_the_third_picture(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGTERM))
    out = tmp_path / "out"
    assert segment(folder, "-o", out, "--overwrite") == EXIT_TERMINATED
    message = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("terminated: 2 label maps written and kept, 2 pictures not done")
    assert "without --overwrite to finish the rest" in message
    assert _listing(out) == ["p0.png", "p1.png"] and not _hidden(out)
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_bar_counts_a_picture_once_its_map_is_written(folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    seen: list[tuple[int, int, str]] = []
    show = StageBar.show

    def recording(self, n, stage):
        seen.append((int(n), len(list(out.glob("*.png"))) if out.is_dir() else 0, stage))
        show(self, n, stage)

    monkeypatch.setattr(StageBar, "show", recording)
    assert segment(folder, "-o", out) == EXIT_OK
    assert all(done <= written for done, written, _ in seen), seen
    assert seen[-1][:2] == (4, 4)
    stages = [stage for _, _, stage in seen]
    assert "p1.jpg: writing" in stages and "p1.jpg: finding colour regions" in stages


def test_help_states_the_naming_rule(capsys):
    assert cli.main(["segment", "--help"]) == EXIT_OK
    assert "photo.jpg -> OUTPUT/photo.png" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("count", ["0", "255", "300"])
def test_regions_out_of_range_is_a_usage_error_naming_the_flag(folder, tmp_path, capsys,
                                                               count):
    out = tmp_path / "out"
    assert segment(folder, "-o", out, "--regions", count) == EXIT_USAGE
    error = argument_error(capsys, "segment")
    assert error == f"argument --regions: {count} is out of range; it must be from 1 to 254"
    assert "max_regions" not in error and not out.exists()
    with pytest.raises(InputError, match="max_regions"):  # callers of the engine are told too
        create_parser("regions", max_regions=int(count))


def test_a_parser_without_its_weights_is_refused_before_any_work(folder, tmp_path,
                                                                 model_cache, capsys):
    out = tmp_path / "out"
    assert segment(folder, "-o", out, "--model", "scene") == EXIT_USAGE
    error = capsys.readouterr().err
    assert "python main.py models download deeplab2-cocostuff164k" in error
    assert error.splitlines()[-1].startswith("error:") and not out.exists()


def test_a_network_is_loaded_once_for_the_folder(folder, tmp_path, model_cache, monkeypatch):
    import torch
    from safetensors.torch import save_model

    from engines.device import MODEL_SLOT
    from engines.segmentation import segformer
    from tests.engines.test_segmentation import put_in_cache

    torch.manual_seed(0)
    save_model(segformer.build_network("b0"), str(put_in_cache("segformer-b0-ade")))
    loads, load = [], segformer.SceneLiteParser.load_networks

    def counted(self, device):
        loads.append(device)
        return load(self, device)

    monkeypatch.setattr(segformer.SceneLiteParser, "load_networks", counted)
    out = tmp_path / "out"
    try:
        code = segment(folder, "-o", out, "--model", "scene-lite", "--variant", "b0",
                       "--device", "cpu")
    finally:
        MODEL_SLOT.clear()
    assert code == EXIT_OK and len(loads) == 1
    assert _listing(out) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert all(load_label_png(out / name).max() < 150 for name in _listing(out))
