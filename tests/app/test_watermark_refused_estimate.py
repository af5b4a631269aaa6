"""A refused watermark estimate takes the earlier estimate away whole, so that the dialog
never offers to clear a folder with a mask whose counts it no longer shows; a cancelled one,
which answered nothing, leaves the earlier one as it was."""

from __future__ import annotations

import pytest

from app.watermark_dialogs import WatermarkDialog
from tests.app.test_watermark_dialogs import COUNT, SIZE, alpha, estimate, folder, write  # noqa: F401
from tests.engines.test_watermark import backgrounds, stamp

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def dialog(qtbot, tmp_path, folder):  # noqa: F811 - the fixture
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    return dialog


def test_the_same_folder_refused_after_losing_pictures_shows_no_mask(
        qtbot, dialog, folder, tmp_path):  # noqa: F811 - the fixture
    earlier = estimate(qtbot, dialog)
    assert earlier.found and dialog.clear_button.isEnabled()
    assert not dialog.preview.pixmap().isNull()
    for path in sorted(folder.glob("img*.png"))[3:]:  # too few left to estimate from
        path.unlink()
    assert dialog.run_estimate() is not None
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert "needs at least 5" in dialog.status.text()
    assert dialog.estimate is None and dialog.preview.pixmap().isNull()
    assert dialog.preview.text() == "Estimate the watermark to see its mask here."
    assert dialog.counts.text().strip() == ""
    assert not dialog.clear_button.isEnabled() and not dialog.correct_button.isEnabled()
    assert dialog.run_clear() is None
    assert not (tmp_path / "out").exists()  # nothing cleared with the earlier mask


def test_an_estimate_after_a_refused_one_shows_its_mask_again(qtbot, dialog, tmp_path,
                                                              folder, alpha):  # noqa: F811 - the fixtures
    few = tmp_path / "few"
    write(few, [stamp(b, alpha) for b in backgrounds(2, seed=13, size=SIZE)])
    dialog.input.set_path(few)
    assert dialog.run_estimate() is not None
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert dialog.estimate is None and not dialog.clear_button.isEnabled()
    dialog.input.set_path(folder)
    again = estimate(qtbot, dialog)
    assert again.found and dialog.estimate is again
    assert not dialog.preview.pixmap().isNull() and dialog.clear_button.isEnabled()
    assert f"Estimated from {COUNT} images" in dialog.counts.text()
