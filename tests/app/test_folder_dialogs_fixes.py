"""Folder dialogs (Clear Watermark from Folder, Apply to Folder): Correct in editor opens a
picture the estimate used, a cancelled estimate says nothing was written, a relative output
folder lies next to the input folder (shown in full), and an engine without its weights
offers their download, in one wording for every engine, then runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import app.watermark_dialogs as dialogs
from app.watermark_dialogs import FolderApplyDialog, WatermarkDialog
from engines.base import CancelToken, Engine, Readiness, Region, RegionStage, Status
from engines.fileio import encode_image, list_images, read_rgb, write_atomic
from tests.engines.test_watermark import backgrounds, stamp, watermark_alpha

pytestmark = pytest.mark.timeout(120)
SIZE = (120, 160)  # height, width
COUNT = 6


def _mask() -> np.ndarray:
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    return mask


@pytest.fixture
def folder(tmp_path) -> Path:
    """COUNT watermarked JPEGs, and first in name order a JPEG of the same size cut short
    (its header, hence its size, reads; its pixels do not)."""
    inputs = tmp_path / "photos"
    inputs.mkdir()
    alpha = watermark_alpha(SIZE, opacity=0.5)
    pictures = [stamp(b, alpha) for b in backgrounds(COUNT + 1, seed=21, size=SIZE)]
    for index, picture in enumerate(pictures[:COUNT]):
        write_atomic(inputs / f"img{index:02d}.jpg", encode_image(picture, ".jpg"))
    whole = encode_image(pictures[COUNT], ".jpg")
    (inputs / "a00_cut.jpg").write_bytes(whole[:len(whole) // 2])
    return inputs


def _estimate(qtbot, dialog: WatermarkDialog):
    with qtbot.waitSignal(dialog.estimated, timeout=60000) as estimated:
        assert dialog.run_estimate() is not None
    return estimated.args[0]


# --- D4: Correct in editor ---------------------------------------------------------------


def test_correct_in_editor_opens_a_picture_the_estimate_used(qtbot, folder):
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    estimate = _estimate(qtbot, dialog)
    assert estimate.found and estimate.used == COUNT
    assert "a00_cut.jpg" in {name for name, _reason in estimate.skipped}
    with qtbot.waitSignal(dialog.correctRequested) as correct:
        assert dialog.request_correction()
    path, mask = correct.args
    assert Path(path).name == "img00.jpg" and mask is estimate.mask
    read_rgb(path)  # whole: it reads without error

    # a picture of the mask's size that came after the estimate was not used: not opened
    write_atomic(folder / "a01_new.jpg", (folder / "img00.jpg").read_bytes())
    for name in ("img00.jpg", "img01.jpg"):
        (folder / name).unlink()
    with qtbot.waitSignal(dialog.correctRequested) as correct:
        assert dialog.request_correction()
    assert Path(correct.args[0]).name == "img02.jpg"
    for index in range(2, COUNT):
        (folder / f"img{index:02d}.jpg").unlink()
    with qtbot.assertNotEmitted(dialog.correctRequested):
        assert not dialog.request_correction()
    assert "None of the pictures the estimate used" in dialog.status.text()


# --- M1: cancelling an estimate ------------------------------------------------------------


def test_a_cancelled_estimate_says_nothing_was_written(qtbot, folder, monkeypatch):
    started = threading.Event()

    def waiting_estimate(images, progress=None, cancel=None, **options):
        started.set()
        while True:
            cancel.raise_if_cancelled()
            time.sleep(0.01)

    monkeypatch.setattr(dialogs, "estimate_watermark_mask", waiting_estimate)
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    assert dialog.run_estimate() is not None
    assert started.wait(30)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    assert dialog.status.text() == "Estimate cancelled; nothing was written."
    assert dialog.estimate is None and not dialog.clear_button.isEnabled()


# --- M8: relative folders ------------------------------------------------------------------


def test_a_relative_output_folder_lies_next_to_the_input_folder(qtbot, tmp_path, folder,
                                                                 monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the editor's working directory plays no part
    dialog = FolderApplyDialog(_mask(), "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path("cleared")
    resolved = tmp_path / "cleared"
    assert dialog.output.path() == resolved
    assert str(resolved) in dialog.output.edit.toolTip()
    with qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert dialog.run_apply() is not None
    assert len(cleared.args[0].written) == COUNT
    assert {p.name for p in list_images(resolved)} == {f"img{i:02d}.jpg" for i in range(COUNT)}
    assert not (elsewhere / "cleared").exists()
    assert f"to {resolved}" in dialog.status.text()

    dialog.output.set_path("../sub/../out2")  # resolved as typed, shown without the detours
    assert dialog.output.path() == tmp_path.parent / "out2"


def test_a_relative_input_folder_is_refused_with_a_message(qtbot, tmp_path, folder,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)  # "photos" would be found here: still refused
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path("photos")
    assert dialog.run_estimate() is None and not dialog.running
    assert "full path" in dialog.status.text()
    apply = FolderApplyDialog(_mask(), "telea")
    qtbot.addWidget(apply)
    apply.input.set_path("photos")
    apply.output.set_path(tmp_path / "out")
    assert apply.run_apply() is None and not apply.running
    assert "full path" in apply.status.text()
    assert not (tmp_path / "out").exists()
    apply.output.set_path("out")  # relative to an input that is relative itself: refused
    assert "full path" in apply.output.edit.toolTip()


# --- M9: weights missing: the download is offered ----------------------------------------


@pytest.fixture
def offers(monkeypatch) -> list[tuple[tuple[str, ...], str]]:
    """The downloads offered (weights ids, purpose), each declined."""
    offered: list[tuple[tuple[str, ...], str]] = []

    def offer(ids, parent=None, purpose="this engine"):
        offered.append((tuple(ids), purpose))
        return False

    monkeypatch.setattr(dialogs, "offer_download", offer)
    return offered


@pytest.mark.parametrize("engine", ["lama", "deepfill2"])
def test_an_engine_without_weights_offers_their_download(qtbot, tmp_path, folder, model_cache,
                                                         offers, engine):
    from engines import registry

    cls = registry.engine_class(engine)
    dialog = FolderApplyDialog(_mask(), engine)
    qtbot.addWidget(dialog)
    assert dialog.engine_name() == engine
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    assert dialog.run_apply() is None and not dialog.running
    assert offers == [(cls.weights, f"clearing a folder with {cls.title}")]
    assert dialog.status.text() == (f"{cls.title} needs its weights: run again to download "
                                    "them, or get them in File → Models…")
    assert "python main.py" not in dialog.status.text()
    assert not (tmp_path / "out").exists()


class _DownloadedEngine(Engine):
    """Needs the weights ``test-weights`` until :attr:`installed` is set; fills grey."""

    name = "downloaded-test"
    title = "Downloaded"
    weights = ("test-weights",)
    installed = False

    def status(self) -> Status:
        return Status(Readiness.READY) if _DownloadedEngine.installed else \
            Status(Readiness.NEEDS_DOWNLOAD, "weights test-weights not installed; run `python "
                   "main.py models download test-weights`")

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        image = region.image.copy()
        image[region.hole] = 128
        yield RegionStage("refined", image, 1.0, final=True)


def test_after_the_download_the_run_goes_on(qtbot, tmp_path, folder, monkeypatch):
    offered = []

    def install(ids, parent=None, purpose="this engine"):
        offered.append(tuple(ids))
        _DownloadedEngine.installed = True
        return True

    monkeypatch.setattr(dialogs, "offer_download", install)
    monkeypatch.setattr(_DownloadedEngine, "installed", False)
    dialog = FolderApplyDialog(_mask(), "telea",
                               factory=lambda name, **options: _DownloadedEngine())
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    with qtbot.waitSignal(dialog.modelsChanged), \
            qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert dialog.run_apply() is not None
    assert offered == [("test-weights",)]
    assert len(cleared.args[0].written) == COUNT
    filled = read_rgb(tmp_path / "out" / "img00.jpg")[_mask() > 0]
    assert abs(float(filled.mean()) - 128) < 8  # JPEG: about the grey the engine filled
    assert dialog.run_apply() is not None and offered == [("test-weights",)]  # asked once
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
