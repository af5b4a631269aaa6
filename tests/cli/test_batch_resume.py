"""`batch` run again, interrupted, or out of room: results already written are kept and
skipped without any work, and the run says how far it got."""

from __future__ import annotations

import errno
import os

import pytest

import cli.batch
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE
from cli._common import StageBar
from engines.fileio import load_image
from tests.cli.stopping import ctrl_c, full_disk_after, stop_at_call
from tests.cli.test_cli import _folder, run_cli


def _batch(images, masks, out, *extra) -> int:
    return run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea", *extra)


@pytest.fixture
def opened(monkeypatch):
    """The names of the pictures and mask files the batch reads, in order."""
    names: list[str] = []
    load_picture, load_mask = engines.batch.load_image, cli.batch.load_mask

    def picture(path, *args, **kwargs):
        names.append(f"picture {path.name}")
        return load_picture(path, *args, **kwargs)

    def mask(path, *args, **kwargs):
        names.append(f"mask {path.name}")
        return load_mask(path, *args, **kwargs)

    monkeypatch.setattr(engines.batch, "load_image", picture)
    monkeypatch.setattr(cli.batch, "load_mask", mask)
    return names


def _hidden(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_rerun_skips_the_results_already_there_without_reading_them(tmp_path, capsys,
                                                                      opened):
    images, masks = _folder(tmp_path, count=4)
    out = tmp_path / "out"
    assert _batch(images, masks, out) == EXIT_OK
    kept = {name: (out / name).read_bytes() for name in ("p0.png", "p2.png")}
    (out / "p1.png").unlink()
    (out / "p3.png").unlink()
    capsys.readouterr()
    opened.clear()
    assert _batch(images, masks, out) == EXIT_OK  # nothing failed: `batch && next` goes on
    assert opened == ["picture p1.png", "mask p1_mask.png", "picture p3.png", "mask p3.png"]
    assert {name: (out / name).read_bytes() for name in kept} == kept
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 written to ") and lines[0].endswith(", 0 failed")
    assert lines[1] == "2 skipped: already in the output folder; --overwrite redoes them"
    assert not any("already exists" in line or line.startswith("  ") for line in lines)


def test_a_file_already_there_is_kept_unless_overwrite(tmp_path, capsys, opened):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "p0.png").write_bytes(b"someone's file")  # not ours, but under p0's result name
    assert _batch(images, masks, out) == EXIT_OK
    assert (out / "p0.png").read_bytes() == b"someone's file"
    assert "picture p0.png" not in opened
    assert "1 skipped: already in the output folder" in capsys.readouterr().out
    opened.clear()
    assert _batch(images, masks, out, "--overwrite") == EXIT_OK
    assert opened[::2] == ["picture p0.png", "picture p1.png"]  # both computed again
    assert load_image(out / "p0.png").rgb.shape == (60, 80, 3)
    printed = capsys.readouterr().out
    assert printed.startswith("2 written") and "skipped" not in printed


def test_the_expected_output_name_decides_what_is_already_there(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    assert _batch(images, masks, out) == EXIT_OK  # p0.png, p1.png
    capsys.readouterr()
    assert _batch(images, masks, out, "--format", ".jpg") == EXIT_OK  # other names: all done
    assert sorted(p.name for p in out.iterdir()) == ["p0.jpg", "p0.png", "p1.jpg", "p1.png"]
    printed = capsys.readouterr().out
    assert printed.startswith("2 written") and "skipped" not in printed


@pytest.mark.parametrize("make, words", [
    (lambda path: path.write_bytes(b""), "an empty file"),
    (lambda path: path.mkdir(), "a folder"),
])
def test_an_empty_file_or_a_folder_under_the_name_is_not_taken_for_a_result(tmp_path, capsys,
                                                                             make, words):
    images, masks = _folder(tmp_path, count=2)
    out = tmp_path / "out"
    out.mkdir()
    make(out / "p0.png")
    assert _batch(images, masks, out) == EXIT_FAILED
    printed = capsys.readouterr().out
    assert "1 written" in printed and "1 failed" in printed and "skipped" not in printed
    line = next(line for line in printed.splitlines() if line.startswith("  p0.png: "))
    assert words in line and "out/p0.png" in line


def test_the_input_folder_is_still_refused_as_output(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    before = sorted(p.name for p in images.iterdir())
    assert _batch(images, masks, images) == EXIT_USAGE
    assert _batch(images, masks, images, "--overwrite") == EXIT_USAGE
    assert "is the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in images.iterdir()) == before


def test_an_interrupted_run_says_what_it_kept_and_the_rerun_finishes(tmp_path, capsys,
                                                                     monkeypatch, opened):
    images, masks = _folder(tmp_path, count=4)
    out = tmp_path / "out"
    # Ctrl+C while the third picture is computed
    fill = stop_at_call(monkeypatch, engines.batch, "_final_image", 3, ctrl_c)
    assert _batch(images, masks, out) == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]  # nothing partial
    assert printed.out == ""  # one message, on stderr after the bar
    message = printed.err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("interrupted: 2 results written and kept, 2 pictures not done")
    assert "run the same command again" in message
    monkeypatch.setattr(engines.batch, "_final_image", fill)
    opened.clear()
    assert _batch(images, masks, out) == EXIT_OK
    assert [name for name in opened if name.startswith("picture")] == \
        ["picture p2.png", "picture p3.png"]
    assert "2 skipped: already in the output folder" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png", "p3.png"]


def test_a_kill_stops_batch_as_ctrl_c_does_and_says_terminated(tmp_path, capsys,
                                                               monkeypatch):
    """SIGTERM (a logout, ``kill``, a job scheduler) ends the run at once, keeping what
    is written, saying so, with exit code 143; the handler before is back afterwards."""
    import signal

    images, masks = _folder(tmp_path, count=4)
    out = tmp_path / "out"
    before = signal.getsignal(signal.SIGTERM)
    stop_at_call(monkeypatch, engines.batch, "_final_image", 3,
                 lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert _batch(images, masks, out) == EXIT_TERMINATED
    message = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("terminated: 2 results written and kept, 2 pictures not done")
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("code, advice", [(errno.ENOSPC, "free some space"),
                                          (errno.EDQUOT, "free some space"),
                                          (errno.EROFS, "make the folder writable")])
def test_the_run_stops_at_the_first_write_that_no_room_allows(tmp_path, capsys, monkeypatch,
                                                              opened, code, advice):
    images, masks = _folder(tmp_path, count=5)
    out = tmp_path / "out"
    sync = full_disk_after(monkeypatch, 2, code)  # the third result's bytes do not fit
    assert _batch(images, masks, out) == EXIT_FAILED
    printed = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]  # no partial file
    assert [n for n in opened if n.startswith("picture")] == \
        ["picture p0.png", "picture p1.png", "picture p2.png"]  # p3, p4 never computed
    errors = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, printed.err
    assert os.strerror(code) in errors[0] and "p2.png" in errors[0]
    assert "2 results written and kept, 3 pictures not done" in errors[0]
    assert advice in errors[0] and "results already there are skipped" in errors[0]
    assert "failed" not in printed.out  # not 3 lines of the same write error
    monkeypatch.setattr(os, "fsync", sync)
    assert _batch(images, masks, out) == EXIT_OK  # room again: the rest is done
    assert len(list(out.iterdir())) == 5 and not _hidden(out)


def test_an_earlier_failure_is_still_listed_when_the_run_stops(tmp_path, capsys, monkeypatch):
    images, masks = _folder(tmp_path, count=3)
    (images / "p0.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 1)
    assert _batch(images, masks, out) == EXIT_FAILED
    printed = capsys.readouterr()
    listed = [line for line in printed.out.splitlines() if line.startswith("  ")]
    assert len(listed) == 1 and listed[0].startswith("  p0.png: ")
    assert "1 result written and kept, 1 picture not done, 1 failed" in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["p1.png"]


def test_the_bar_counts_a_picture_once_its_result_is_written(tmp_path, monkeypatch, capsys):
    """Ctrl+C as the third result is being saved: the bar and the message both say 2."""
    images, masks = _folder(tmp_path, count=4)
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    show = StageBar.show

    def recording(self, n, stage):
        seen.append((int(n), len(list(out.glob("*.png"))) if out.is_dir() else 0))
        show(self, n, stage)

    save, saves = engines.batch.save_result, []

    def interrupted_saving_the_third(*args, **kwargs):
        saves.append(1)
        if len(saves) == 3:
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(StageBar, "show", recording)
    monkeypatch.setattr(engines.batch, "save_result", interrupted_saving_the_third)
    assert _batch(images, masks, out) == EXIT_INTERRUPTED
    assert all(done <= written for done, written in seen), seen
    assert max(done for done, _ in seen) == 2
    assert "interrupted: 2 results written and kept" in capsys.readouterr().err
    monkeypatch.setattr(engines.batch, "save_result", save)
    seen.clear()
    assert _batch(images, masks, out, "--overwrite") == EXIT_OK
    assert all(done <= written for done, written in seen) and seen[-1] == (4, 4)
