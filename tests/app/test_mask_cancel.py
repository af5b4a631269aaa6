"""Mask > Grow / Shrink: the busy dialog's Cancel stops the operation and keeps the mask."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressDialog, QPushButton

from app import maskops
from engines.base import CancelToken
from engines.fileio import save_image
from tests.app.test_window import SAMPLE_IMAGE


def _slow_until_cancelled(calls: list):
    """Stands in for maskops.grow / shrink: runs until its token is cancelled (10 s at most,
    a safety net only), then raises Cancelled as the real ones do between levels."""

    def operation(mask, pixels, *, method=None, cancel=None):
        calls.append(cancel)
        deadline = time.monotonic() + 10
        while cancel is not None and not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        if cancel is not None:
            cancel.raise_if_cancelled()
        return np.full_like(mask, 255)

    return operation


@pytest.mark.parametrize(("command", "name", "label"), [
    ("grow_mask", "grow", "Grow mask 250px"),
    ("shrink_mask", "shrink", "Shrink mask 250px"),
])
def test_cancelling_grow_or_shrink_keeps_the_mask_and_makes_no_step(
        tmp_path, window, monkeypatch, command, name, label):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    mask = np.zeros((427, 640), np.uint8)
    mask[100:150, 100:150] = 255
    save_image(tmp_path / "m.png", mask)
    assert window.import_mask(tmp_path / "m.png")
    undo_label = window.document.undo_label()
    calls: list = []
    monkeypatch.setattr(maskops, name, _slow_until_cancelled(calls))
    clicked: list[str] = []

    def click_cancel():
        for dialog in window.findChildren(QProgressDialog):
            if dialog.isVisible() and not clicked:
                clicked.append(dialog.labelText())
                dialog.findChild(QPushButton).click()

    timer = QTimer(interval=20)
    timer.timeout.connect(click_cancel)
    timer.start()
    getattr(window, command)(250)
    timer.stop()
    assert clicked == [f"{label}..."]
    assert len(calls) == 1 and isinstance(calls[0], CancelToken) and calls[0].cancelled
    assert np.array_equal(window.document.mask, mask)
    assert window.document.undo_label() == undo_label  # no new step
    assert window.statusBar().currentMessage() == f"{label} cancelled; the mask is unchanged"
    assert not any(d.isVisible() for d in window.findChildren(QProgressDialog))


def test_grow_not_cancelled_still_makes_one_step(tmp_path, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    mask = np.zeros((427, 640), np.uint8)
    mask[100:150, 100:150] = 255
    save_image(tmp_path / "m.png", mask)
    assert window.import_mask(tmp_path / "m.png")
    window.grow_mask(5)
    assert np.array_equal(window.document.mask, maskops.grow(mask, 5))
    assert window.document.undo_label() == "Grow mask 5px"
    window.undo()
    assert np.array_equal(window.document.mask, mask)
