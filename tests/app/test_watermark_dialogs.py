"""Watermark clearing in the GUI: estimate a folder's mask with a preview, clear the folder
(inputs untouched, results written), cancel, apply a mask to a folder, and the text
detector's proposal as one undo step."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.document import Document, Layer
from app.watermark_dialogs import (
    FolderApplyDialog,
    TextMaskController,
    WatermarkDialog,
    propose_text_mask,
)
from app.worker import Worker
from engines.base import CancelToken, Engine, Region, RegionStage, Strategy
from engines.fileio import (
    ImageMetadata,
    encode_image,
    list_images,
    read_rgb,
    save_image,
    write_atomic,
)
from tests.engines.test_textdetect import flat, recall_precision, render
from tests.engines.test_watermark import backgrounds, iou, stamp, true_mask, watermark_alpha
from tests.photos import embedded_metadata, srgb_profile

pytestmark = pytest.mark.timeout(120)
SIZE = (120, 160)  # height, width: small images keep the tests fast
COUNT = 8


def write(folder: Path, images, suffix: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        path = folder / f"img{index:02d}{suffix}"
        write_atomic(path, encode_image(image, suffix))
        paths.append(path)
    return paths


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def alpha() -> np.ndarray:
    return watermark_alpha(SIZE, opacity=0.5)


@pytest.fixture
def folder(tmp_path, alpha) -> Path:
    """COUNT watermarked images of one size, and one of another size."""
    inputs = tmp_path / "in"
    write(inputs, [stamp(b, alpha) for b in backgrounds(COUNT, seed=11, size=SIZE)])
    odd = backgrounds(1, seed=12, size=(90, 150))[0]
    write_atomic(inputs / "odd.png", encode_image(odd, ".png"))
    return inputs


@pytest.fixture
def dialog(qtbot, tmp_path, folder):
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    return dialog


def estimate(qtbot, dialog):
    with qtbot.waitSignal(dialog.estimated, timeout=60000) as estimated:
        assert dialog.run_estimate() is not None
    return estimated.args[0]


def clear(qtbot, dialog, start):
    with qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert start() is not None
    return cleared.args[0]


def test_estimate_shows_a_preview_and_the_mask(qtbot, dialog, alpha):
    assert not dialog.clear_button.isEnabled()
    result = estimate(qtbot, dialog)
    assert result is dialog.estimate and result.found and result.used == COUNT
    assert [name for name, _ in result.skipped] == ["odd.png"]
    assert iou(result.mask, true_mask(alpha)) >= 0.6
    pixmap = dialog.preview.pixmap()
    assert not pixmap.isNull() and (pixmap.width(), pixmap.height()) == (SIZE[1], SIZE[0])
    assert f"Estimated from {COUNT} images of 160×120; 1 left out" in dialog.counts.text()
    assert "odd.png" in dialog.counts.toolTip()
    assert dialog.clear_button.isEnabled() and dialog.correct_button.isEnabled()
    with qtbot.waitSignal(dialog.correctRequested) as correct:
        assert dialog.request_correction()
    path, mask = correct.args
    assert Path(path).name == "img00.png" and mask is result.mask


def test_a_refused_estimate_takes_away_the_counts_of_the_one_before(qtbot, dialog, tmp_path,
                                                                    alpha):
    """After a successful estimate, one refused (too few readable pictures) leaves no counts
    or left-out list of the earlier one; its long message wraps in the status line, which
    can be selected to copy it."""
    dialog.resize(560, 480)
    dialog.show()
    qtbot.waitExposed(dialog)
    estimate(qtbot, dialog)
    assert "1 left out" in dialog.counts.text()
    assert dialog.counts.toolTip() == (  # the words a refused estimate uses
        "<p>1 left out of the estimate: odd.png: 150x90 differs from the common size "
        "160x120</p>")

    few = tmp_path / "few"
    write(few, [stamp(b, alpha) for b in backgrounds(2, seed=13, size=SIZE)])
    for index in range(8):
        (few / f"damaged picture {index}.jpg").write_bytes(b"not a picture")
    dialog.input.set_path(few)
    assert dialog.run_estimate() is not None
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    message = dialog.status.text()
    assert "needs at least 5 of one size" in message
    assert "8 left out of the estimate: damaged picture 0.jpg: not an image file" in message
    assert message.endswith(" and 3 more")
    assert dialog.counts.text().strip() == "" and dialog.counts.toolTip() == ""
    # the earlier estimate goes whole: no mask preview, nothing to clear or correct with
    assert dialog.estimate is None
    assert dialog.preview.pixmap().isNull()
    assert dialog.preview.text() == "Estimate the watermark to see its mask here."
    assert not dialog.clear_button.isEnabled() and not dialog.correct_button.isEnabled()
    assert dialog.estimate_button.isEnabled()
    assert dialog.run_clear() is None and dialog.status.text() == "Estimate the watermark first."
    assert not dialog.request_correction()

    status = dialog.status
    assert status.wordWrap()
    assert status.textInteractionFlags() & Qt.TextSelectableByMouse
    qtbot.waitUntil(lambda: status.height() > 2 * status.fontMetrics().height(), timeout=5000)
    assert status.fontMetrics().horizontalAdvance(message) > status.width()  # so it wraps
    assert dialog.width() < 700  # and the dialog did not grow to hold it on one line


def test_clear_writes_results_and_leaves_inputs_untouched(qtbot, dialog, folder, tmp_path):
    before = digests(folder)
    result = estimate(qtbot, dialog)
    batch = clear(qtbot, dialog, dialog.run_clear)
    assert digests(folder) == before
    out = tmp_path / "out"
    names = {p.name for p in list_images(out)}
    assert {f"img{i:02d}.png" for i in range(COUNT)} <= names
    assert len(batch.written) == len(names)
    assert f"Wrote {len(batch.written)} images to {out}" in dialog.status.text()
    hole = result.mask >= 128
    for index in range(COUNT):
        source = read_rgb(folder / f"img{index:02d}.png")
        cleared = read_rgb(out / f"img{index:02d}.png")
        assert np.array_equal(cleared[~hole], source[~hole])  # PNG: exact outside the mask
        assert not np.array_equal(cleared[hole], source[hole])
    assert not dialog.running and dialog.bar.isHidden() and dialog.clear_button.isEnabled()


def test_clearing_into_the_input_folder_is_refused(qtbot, dialog, folder):
    before = digests(folder)
    estimate(qtbot, dialog)
    dialog.output.set_path(folder)
    dialog.run_clear()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    assert "is the input folder" in dialog.status.text()
    assert digests(folder) == before


class SlowEngine(Engine):
    """Fills the hole grey after ``delay`` seconds, checking the cancel token."""

    name = "slow-test"
    title = "Slow"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        for _ in range(10):
            cancel.raise_if_cancelled()
            time.sleep(0.02)
        image = region.image.copy()
        image[region.hole] = 128
        yield RegionStage("refined", image, 1.0, final=True)


def test_a_second_run_keeps_the_results_already_there_and_says_so(qtbot, tmp_path, folder):
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    first = clear(qtbot, dialog, dialog.run_apply)
    kept = {p: p.read_bytes() for p in first.written}
    again = clear(qtbot, dialog, dialog.run_apply)
    assert not again.written and len(again.skipped) == COUNT
    assert {p: p.read_bytes() for p in first.written} == kept
    assert f"{COUNT} already in the output folder, kept" in dialog.status.text()


def test_apply_mask_to_folder_and_cancel(qtbot, tmp_path, folder):
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    (folder / "camera.cr3").write_bytes(b"\0\0\0\x18ftypcrx ")  # RAW, not read here: said so
    before = digests(folder)
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    batch = clear(qtbot, dialog, dialog.run_apply)
    assert len(batch.written) == COUNT and batch.ok  # the odd size is skipped by default
    [odd] = batch.other_size
    assert (odd.path.name, odd.size, odd.mask_size) == ("odd.png", (150, 90), (160, 120))
    assert "failed" not in dialog.status.text()
    assert ("1 skipped, another size than the 160×120 mask: odd.png 150×90 (Other sizes: "
            "\"Move the mask with its nearest corner or edge\" fills them)") \
        in dialog.status.text()
    assert "1 file skipped: no picture extension (.cr3): camera.cr3" \
        in dialog.status.text()
    written = read_rgb(tmp_path / "out" / "img03.png")
    assert np.array_equal(written[mask == 0], read_rgb(folder / "img03.png")[mask == 0])
    assert digests(folder) == before

    slow = FolderApplyDialog(mask, "telea", factory=lambda name, **options: SlowEngine())
    qtbot.addWidget(slow)
    slow.input.set_path(folder)
    slow.output.set_path(tmp_path / "slow")
    slow.run_apply()
    assert slow.running and slow.cancel_button.isEnabled()
    assert not slow.apply_button.isEnabled() and not slow.input.isEnabled()
    qtbot.waitUntil(lambda: slow.bar.value() > 0, timeout=30000)  # the first image is done
    closed = []
    slow.finished.connect(closed.append)
    slow.reject()  # closing while running cancels first, then closes
    assert slow.running and not closed
    qtbot.waitUntil(lambda: bool(closed), timeout=30000)
    assert closed == [FolderApplyDialog.Rejected] and not slow.running
    assert "Cancelled" in slow.status.text()
    written = list_images(tmp_path / "slow") if (tmp_path / "slow").exists() else []
    assert len(written) < COUNT


def test_real_failures_and_other_sizes_are_told_apart(qtbot, tmp_path, folder):
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    batch = clear(qtbot, dialog, dialog.run_apply)
    assert [path.name for path, _ in batch.failed] == ["broken.png"]
    status = dialog.status.text()
    assert "1 failed: broken.png" in status and "odd.png" not in status.split("skipped")[0]
    assert "1 skipped, another size than the 160×120 mask: odd.png 150×90" in status
    dialog.other_sizes.setCurrentIndex(dialog.other_sizes.findData("anchor"))
    anchored = clear(qtbot, dialog, dialog.run_apply)  # the odd one is filled now
    assert not anchored.other_size and (tmp_path / "out" / "odd.png").exists()
    assert "another size" not in dialog.status.text()


@pytest.fixture
def browse_calls(monkeypatch) -> list[str]:
    """The folder choosers opened (their captions); none really opens."""
    from PySide6.QtWidgets import QFileDialog

    calls: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda parent, caption, folder: calls.append(caption)
                                     or ""))
    return calls


def _shown_folder_dialog(qtbot, kind: str):
    """The Watermark dialog (``kind`` "watermark") or Apply to Folder with a small mask
    ("apply"), shown."""
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    dialog = WatermarkDialog(engine="telea") if kind == "watermark" else \
        FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


@pytest.mark.parametrize("kind", ["watermark", "apply"])
def test_enter_in_a_folder_field_keeps_the_typed_path(qtbot, tmp_path, browse_calls, kind):
    from PySide6.QtCore import Qt

    dialog = _shown_folder_dialog(qtbot, kind)
    for field in (dialog.input, dialog.output):
        typed = str(tmp_path / f"typed-{field is dialog.input}")
        field.edit.setFocus()
        qtbot.keyClicks(field.edit, typed)
        qtbot.keyClick(field.edit, Qt.Key_Return)
        qtbot.keyClick(field.edit, Qt.Key_Enter)
        assert browse_calls == [] and field.edit.text() == typed
        assert dialog.isVisible() and not dialog.running and not dialog.status.text().strip()
    assert not dialog.input.browse.autoDefault() and not dialog.output.browse.autoDefault()
    qtbot.keyClick(dialog.input.browse, Qt.Key_Space)  # the button itself still browses
    assert browse_calls == ["Folder with the images"]
    main = dialog.estimate_button if kind == "watermark" else dialog.apply_button
    pressed = []
    main.clicked.connect(lambda: pressed.append(True))
    dialog.keep_metadata.setFocus()
    qtbot.keyClick(dialog.keep_metadata, Qt.Key_Return)  # elsewhere: the dialog's action
    assert pressed == [True] and len(browse_calls) == 1
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)  # no such folder: said so


@pytest.mark.parametrize("kind", ["watermark", "apply"])
def test_tab_goes_through_the_form_then_the_actions_then_close(qtbot, kind):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    dialog = _shown_folder_dialog(qtbot, kind)
    if kind == "watermark":  # enable every button, as after an estimate
        for button in (dialog.clear_button, dialog.correct_button):
            button.setEnabled(True)
        actions = [dialog.estimate_button, dialog.correct_button, dialog.clear_button]
    else:
        actions = [dialog.apply_button]
    dialog.cancel_button.setEnabled(True)
    expected = [dialog.input.edit, dialog.input.browse, dialog.output.edit,
                dialog.output.browse, dialog.engine, dialog.other_sizes, dialog.overwrite,
                dialog.keep_metadata, *actions, dialog.cancel_button,
                dialog.buttons.button(QDialogButtonBox.Close), dialog.input.edit]
    dialog.input.edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.input.edit)
    seen = [QApplication.focusWidget()]
    for _ in expected[1:]:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Tab)
        seen.append(QApplication.focusWidget())
    assert seen == expected
    xs = [button.mapTo(dialog, button.rect().center()).x()
          for button in (dialog.cancel_button, dialog.buttons.button(QDialogButtonBox.Close))]
    assert xs == sorted(xs)  # Cancel, then Close, as they read


def test_a_folder_without_pictures_is_said_and_nothing_is_created(qtbot, tmp_path):
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(empty)
    dialog.output.set_path(tmp_path / "out")
    dialog.run_apply()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    assert "the folder empty has no pictures to fill" in dialog.status.text()
    assert not (tmp_path / "out").exists()


def test_folder_runs_use_the_editors_strategy_seed_and_device(qtbot, tmp_path, folder):
    seen = []

    class Recording(Engine):
        name = "recording"

        def run(self, request, cancel=None):
            seen.append((request.strategy, request.crop_margin, request.seed, request.device))
            yield from super().run(request, cancel)

        def inpaint_region(self, region, cancel):
            yield RegionStage("refined", region.image, 1.0, final=True)

    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    settings = {"strategy": Strategy.RESIZE, "crop_margin": 40, "seed": 7, "device": "cpu"}
    dialog = FolderApplyDialog(mask, "telea", factory=lambda name, **options: Recording(),
                               request_settings=lambda: settings)
    qtbot.addWidget(dialog)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    clear(qtbot, dialog, dialog.run_apply)
    assert seen and set(seen) == {(Strategy.RESIZE, 40, 7, "cpu")}


@pytest.mark.parametrize("keep", [True, False])
def test_folder_results_keep_metadata_as_the_checkbox_says(qtbot, tmp_path, folder, keep):
    icc = srgb_profile()
    save_image(folder / "img01.png", read_rgb(folder / "img01.png"), overwrite=True,
               metadata=ImageMetadata(icc_profile=icc))
    mask = np.zeros(SIZE, np.uint8)
    mask[80:110, 20:60] = 255
    dialog = FolderApplyDialog(mask, "telea")
    qtbot.addWidget(dialog)
    assert dialog.keep_metadata.isChecked()  # the default
    dialog.keep_metadata.setChecked(keep)
    dialog.input.set_path(folder)
    dialog.output.set_path(tmp_path / "out")
    clear(qtbot, dialog, dialog.run_apply)
    assert embedded_metadata(tmp_path / "out" / "img01.png")[0] == (icc if keep else None)


def test_propose_text_mask_is_one_undo_step(qtbot):
    image, text = render(flat((90, 120, 160)), "Hello World 2024", (20, 120), 1.0, 2,
                         (255, 255, 255))
    document = Document(image)
    document.begin_step("Mask brush")  # the user's own stroke stays
    document.paint_segment(Layer.MASK, (300, 20), (330, 20), 5, 255)
    document.end_step()
    stroke = document.mask.copy()
    step = propose_text_mask(document)
    assert step is not None and document.undo_label() == "Detect text"
    recall, precision = recall_precision(document.mask & ~stroke, text)
    assert recall >= 0.8 and precision >= 0.8
    assert (document.mask[stroke > 0] == 255).all()
    document.undo()
    assert np.array_equal(document.mask, stroke)
    assert propose_text_mask(Document(flat((90, 120, 160)))) is None  # nothing found


def test_text_detection_runs_on_the_worker(qtbot):
    image, text = render(flat((200, 190, 170)), "Sample Caption", (30, 200), 0.9, 2,
                         (0, 0, 0), cv2.FONT_HERSHEY_DUPLEX)
    worker = Worker()
    try:
        controller = TextMaskController(worker)
        document = Document(image)
        with qtbot.waitSignal(controller.proposed, timeout=30000) as proposed:
            controller.run(document)
        assert proposed.args[0] is not None and document.undo_label() == "Detect text"
        assert recall_precision(document.mask, text)[0] >= 0.8
        # a result for a picture that has changed since is dropped
        messages = []
        controller.message.connect(messages.append)
        with qtbot.waitSignal(controller.busyChanged, timeout=30000,
                              check_params_cb=lambda busy: not busy):
            controller.run(document)
            changed = document.image.copy()
            changed[0, 0] = 0
            document.apply_result(changed, "Fill")
        assert "changed" in messages[-1] and document.undo_label() == "Fill"
    finally:
        worker.shutdown()


@pytest.mark.parametrize("kind", ["watermark", "apply"])
def test_an_engine_not_ready_is_explained_in_the_editors_words(qtbot, model_cache, kind):
    dialog = _shown_folder_dialog(qtbot, kind)
    index = dialog.engine.findData("lama")
    assert dialog.engine.itemText(index).endswith("(needs download)")
    tip = dialog.engine.itemData(index, Qt.ToolTipRole)
    assert tip == ("Its weights are not installed: download them in File → Models… (or Import "
                   "file… with a copy you have)")
    assert dialog.engine.itemData(dialog.engine.findData("telea"), Qt.ToolTipRole) is None


@pytest.mark.parametrize("kind", ["watermark", "apply"])
def test_the_folder_dialogs_list_engines_as_the_engine_panel_does(qtbot, model_cache, kind):
    from engines import weights

    slot = weights.local_path("deepfill2-places2")
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # a zip cut short
    dialog = _shown_folder_dialog(qtbot, kind)

    def listed(name: str) -> str:
        return dialog.engine.itemText(dialog.engine.findData(name))

    assert listed("deepfill2") == "DeepFill v2 (Places2) (damaged)"
    assert listed("migan-256") == "MI-GAN 256 (Places2) (manual import)"
    assert listed("lama") == "LaMa (big) (needs download)"
    assert listed("telea") == "OpenCV Telea"
