"""The editor's Save As on a black-and-white photo with a grey colour profile: once an edit
adds colour the picture is written in RGB without the grey profile, and the status bar
says so; while it stays grey the profile is kept and nothing is said about it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.app.test_window import shown_window
from tests.photos import grey_profile


def test_save_as_says_when_the_grey_profile_is_left_out(tmp_path, qtbot):
    y, x = np.mgrid[0:60, 0:80]
    grey = (30 + 2 * x + y).astype(np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "bw.png", icc_profile=grey_profile())
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(tmp_path / "bw.png")
        doc = window.document
        assert doc.grey and doc.metadata.icc_profile == grey_profile()
        assert window.save_as(tmp_path / "grey.png")
        assert "colour profile" not in window.statusBar().currentMessage()
        with Image.open(tmp_path / "grey.png") as saved:
            assert saved.mode == "L" and saved.info.get("icc_profile") == grey_profile()
        coloured = doc.image.copy()
        coloured[25:35, 35:45] = (220, 60, 20)  # e.g. a fill from a colour photo
        doc.apply_result(coloured)
        assert window.save_as(tmp_path / "colour.png")
        message = window.statusBar().currentMessage()
        assert message.startswith(f"Saved {tmp_path / 'colour.png'}; the grey colour profile "
                                  "was left out: the picture has colour now")
        assert "saved as sRGB" in message
        with Image.open(tmp_path / "colour.png") as saved:
            assert saved.mode == "RGB" and "icc_profile" not in saved.info
            stored = np.asarray(saved)
        assert np.array_equal(stored[:25], np.dstack([grey] * 3)[:25])  # numbers kept
    finally:
        window.worker.shutdown()


def test_a_folder_run_says_which_results_left_the_grey_profile_out(tmp_path, qtbot):
    from app.watermark_dialogs import FolderApplyDialog

    folder = tmp_path / "in"
    folder.mkdir()
    y, x = np.mgrid[0:40, 0:56]
    for name in ("a", "b"):  # AVIF has no grey form: written in colour
        Image.fromarray((40 + 2 * x + y).astype(np.uint8), "L").save(
            folder / f"{name}.avif", icc_profile=grey_profile(), quality=90)
    Image.fromarray((40 + 2 * x + y).astype(np.uint8), "L").save(  # stays grey: kept
        folder / "c.png", icc_profile=grey_profile())
    mask = np.zeros((40, 56), np.uint8)
    mask[10:20, 20:30] = 255
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    with qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert dialog.run_apply() is not None
    assert [path.name for path, _ in cleared.args[0].notes] == ["a.avif", "b.avif"]
    status = dialog.status.text()
    assert ("Wrote 3 images to" in status and ". Note: 2 results (a.avif, b.avif): the grey "
            "colour profile was left out: .avif files are written in colour (RGB) here" in status)
    assert "c.png" not in status
