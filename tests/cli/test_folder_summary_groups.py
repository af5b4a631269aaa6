"""What folder runs (`batch`, `segment`, `watermark`) print under their summary line: the
pictures that failed under their own heading, then those skipped, then the notes, so a
damaged picture never reads as one more skipped for its size; and a transparent picture
flattened onto white by a format without transparency is noted, as `inpaint` notes it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cli
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from engines.fileio import load_image
from engines.segmentation.regions import RegionParser
from tests.cli.stopping import ctrl_c, stop_at_call

DAMAGED = "not an image file, or the file is damaged"
FLATTENED = "files have no transparency; the transparent parts were flattened onto white"


def _cutout(height: int = 150, width: int = 200, seed: int = 0) -> np.ndarray:
    """RGBA noise whose right half is fully transparent."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 4)).astype(np.uint8)
    pixels[..., 3] = 255
    pixels[:, width // 2:, 3] = 0
    return pixels


def _opaque(height: int = 150, width: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3)).astype(np.uint8)


@pytest.fixture
def mask(tmp_path):
    """A 200x150 mask whose hole is in the opaque left half of :func:`_cutout`."""
    pixels = np.zeros((150, 200), np.uint8)
    pixels[60:90, 20:60] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(pixels).save(path)
    return path


def _batch(images, mask, out, *extra) -> int:
    return cli.main(["batch", "--images", str(images), "--mask", str(mask), "-o", str(out),
                     "--engine", "telea", *map(str, extra)])


def test_batch_prints_failures_skips_and_notes_under_their_own_headings(tmp_path, mask,
                                                                        capsys):
    images, out = tmp_path / "imgs", tmp_path / "out"
    images.mkdir()
    Image.fromarray(_cutout()).save(images / "cutout.png")
    (images / "damaged.png").write_bytes(b"not a picture")
    Image.fromarray(_opaque(seed=1)).save(images / "done.png")
    Image.fromarray(_opaque(100, 200, seed=2)).save(images / "small.png")
    out.mkdir()
    (out / "done.jpg").write_bytes(b"an earlier run's result")
    assert _batch(images, mask, out, "--format", ".jpg") == EXIT_FAILED  # damaged.png
    assert capsys.readouterr().out.splitlines() == [
        f"1 written to {out}, 1 failed",
        "1 failed:",
        f"  damaged.png: {DAMAGED}",
        "1 skipped: already in the output folder; --overwrite redoes them",
        "1 skipped (another size than the mask; --other-sizes anchor fills them):",
        "  small.png 200x100, the mask 200x150",
        f"note: cutout.jpg: .jpg {FLATTENED}"]
    written = load_image(out / "cutout.jpg")
    assert written.alpha is None
    assert written.rgb[:, 120:].min() >= 240  # the transparent half: white (JPEG's)


def test_batch_says_the_flattening_once_naming_every_picture_flattened(tmp_path, mask,
                                                                       capsys):
    images, out = tmp_path / "imgs", tmp_path / "out"
    images.mkdir()
    for name, seed in (("a.png", 0), ("b.png", 1)):
        Image.fromarray(_cutout(seed=seed)).save(images / name)
    Image.fromarray(_opaque(seed=2)).save(images / "c.png")  # opaque: nothing flattened
    assert _batch(images, mask, out, "--format", "bmp") == EXIT_OK  # a note is no failure
    assert capsys.readouterr().out.splitlines() == [
        f"3 written to {out}, 0 failed",
        f"note: 2 results (a.bmp, b.bmp): .bmp {FLATTENED}"]


def test_batch_keeping_transparency_says_nothing_of_it(tmp_path, mask, capsys):
    images, out = tmp_path / "imgs", tmp_path / "out"
    images.mkdir()
    Image.fromarray(_cutout()).save(images / "cutout.png")
    assert _batch(images, mask, out, "--format", ".webp") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"1 written to {out}, 0 failed"]
    assert _batch(images, mask, tmp_path / "own", "--strip-metadata") == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"1 written to {tmp_path / 'own'}, 0 failed"]
    assert (load_image(tmp_path / "own" / "cutout.png").alpha[:, 100:] == 0).all()


def test_an_interrupted_batch_lists_its_failures_before_its_notes(tmp_path, mask, capsys,
                                                                  monkeypatch):
    images, out = tmp_path / "imgs", tmp_path / "out"
    images.mkdir()
    Image.fromarray(_cutout()).save(images / "a.png")
    (images / "b.png").write_bytes(b"damaged")
    Image.fromarray(_cutout(seed=1)).save(images / "c.png")
    stop_at_call(monkeypatch, engines.batch, "save_result", 2, ctrl_c)  # at c.png's
    assert _batch(images, mask, out, "--format", ".jpg") == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        "1 failed:",
        f"  b.png: {DAMAGED}",
        f"note: a.jpg: .jpg {FLATTENED}"]
    assert printed.err.replace("\r", "\n").strip().splitlines()[-1].startswith(
        "interrupted: 1 result written and kept, 1 picture not done, 1 failed; ")


def test_segment_lists_its_failures_under_a_heading_before_the_skipped(tmp_path, capsys):
    images, out = tmp_path / "imgs", tmp_path / "seg"
    images.mkdir()
    for name, seed in (("a.png", 0), ("b.png", 1)):
        Image.fromarray(_opaque(48, 64, seed)).save(images / name)
    (images / "damaged.png").write_bytes(b"not a picture")
    assert cli.main(["segment", str(images), "-o", str(out)]) == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"2 label maps written to {out}, 1 failed",
        "1 failed:",
        f"  damaged.png: {DAMAGED}"]
    assert cli.main(["segment", str(images), "-o", str(out)]) == EXIT_FAILED  # run again
    assert capsys.readouterr().out.splitlines() == [
        f"0 label maps written to {out}, 1 failed",
        "1 failed:",
        f"  damaged.png: {DAMAGED}",
        "2 skipped: already in the output folder; --overwrite redoes them"]


def test_segment_prints_a_parsers_other_notes_after_its_failures(tmp_path, capsys,
                                                                 monkeypatch):
    images, out = tmp_path / "imgs", tmp_path / "seg"
    images.mkdir()
    for name, seed in (("a.png", 0), ("c.png", 1)):
        Image.fromarray(_opaque(48, 64, seed)).save(images / name)
    (images / "b.png").write_bytes(b"not a picture")
    monkeypatch.setattr(RegionParser, "map_note", lambda self, labels: "a plugin's note")
    assert cli.main(["segment", str(images), "-o", str(out)]) == EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        f"2 label maps written to {out}, 1 failed",
        "1 failed:",
        f"  b.png: {DAMAGED}",
        "note: 2 label maps (a.png, c.png): a plugin's note"]


def test_inpaint_says_the_flattening_as_folder_runs_do(tmp_path, mask, capsys):
    Image.fromarray(_cutout()).save(tmp_path / "cutout.png")
    assert cli.main(["inpaint", str(tmp_path / "cutout.png"), str(mask), "-o",
                     str(tmp_path / "x.jpg"), "--engine", "telea"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"note: .jpg {FLATTENED}",
                                                    f"wrote {tmp_path / 'x.jpg'}"]
