"""The editor window driven like a person would: open, brush, fill, undo, save, keys."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import qimage2ndarray
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app import file_commands, maskops
from app.document import Layer
from app.window import SAMPLE_IMAGE, MainWindow
from engines.fileio import ImageMetadata, load_image, save_image
from tests.photos import (
    embedded_metadata,
    phone_exif,
    wide_gamut_profile,
    write_heic,
    write_phone_photo,
)


def shown_window(qtbot, size: tuple[int, int] | None = (1000, 700),
                 restore: bool = False) -> MainWindow:
    """A main window shown on screen; ``size`` None keeps what ``restore`` (the last
    session's preferences) gave it."""
    window = MainWindow()
    qtbot.addWidget(window)
    if restore:
        window.restore_preferences()
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def thread_recorder(threads: list) -> Callable[[Callable], Callable]:
    """A wrapper maker: each call of a wrapped function appends the thread it ran on to
    ``threads``, then calls it."""
    def recorded(function: Callable) -> Callable:
        def call(*args, **kwargs):
            threads.append(threading.current_thread())
            return function(*args, **kwargs)
        return call
    return recorded


def _drag(qtbot, canvas, points):
    qtbot.mousePress(canvas, Qt.LeftButton, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=points[-1])


def _screen(canvas, x, y) -> QPoint:
    return QPoint(round(x * canvas.zoom + canvas.offset.x()),
                  round(y * canvas.zoom + canvas.offset.y()))


def test_opens_the_sample_and_shows_it(window):
    assert window.open_path(SAMPLE_IMAGE)
    assert window.document.image.shape == (427, 640, 3)
    assert "rocket.jpg" in window.windowTitle()
    shot = qimage2ndarray.rgb_view(window.canvas.grab().toImage())
    centre = _screen(window.canvas, 320, 100)
    expected = window.document.image[100, 320].astype(int)
    assert np.abs(shot[centre.y(), centre.x()].astype(int) - expected).max() < 40


def test_a_brush_drag_paints_the_mask_as_one_step_and_shows_the_overlay(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    canvas = window.canvas
    points = [_screen(canvas, x, 200) for x in range(100, 301, 20)]
    _drag(qtbot, canvas, points)
    mask = window.document.mask
    assert mask[200, 100:300].all() and not mask[50].any()
    assert window.document.undo_label() == "Mask brush"
    shot = qimage2ndarray.rgb_view(canvas.grab().toImage())
    p = _screen(canvas, 200, 200)
    original = window.document.image[200, 200].astype(int)
    assert shot[p.y(), p.x(), 0] > original[0] + 30  # the red tint shows
    window.actions["undo"].trigger()
    assert not window.document.mask.any()
    window.actions["redo"].trigger()
    assert window.document.mask[200, 200] == 255


def test_fill_runs_in_the_background_and_applies(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    original = window.document.image.copy()
    _drag(qtbot, window.canvas, [_screen(window.canvas, 200, y) for y in range(120, 400, 20)])
    mask = window.document.mask.copy()
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.actions["fill"].trigger()
    image = window.document.image
    assert np.array_equal(image[mask == 0], original[mask == 0])
    assert (image[mask > 0] != original[mask > 0]).any()
    assert window.document.modified


def test_a_photo_cut_short_opens_with_its_missing_part_masked_and_fills(
        qtbot, tmp_path, window):
    photo = load_image(SAMPLE_IMAGE).rgb
    whole = (tmp_path / "whole.png")
    save_image(whole, photo)
    cut = tmp_path / "download.png"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size * 2 // 3])
    assert window.open_path(cut)
    document = window.document
    hole = document.mask > 0
    assert hole[-1].all() and not hole[0].any()  # the tail the file lacks is the hole
    assert not document.image[hole].any()  # decoded as black there
    assert np.array_equal(document.image[~hole], photo[~hole])  # the rest as in the file
    assert not document.modified and "cut short" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.actions["fill"].trigger()
    filled = window.document.image
    assert filled[hole].mean() > 40  # the black part is painted from the photo
    assert np.array_equal(filled[~hole], photo[~hole])
    assert cut.read_bytes() == whole.read_bytes()[:whole.stat().st_size * 2 // 3]


def test_auto_run_fills_after_a_stroke(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(True)
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        _drag(qtbot, window.canvas, [_screen(window.canvas, 450, y) for y in range(150, 350, 25)])
    assert not window.document.mask.any()


def test_save_never_replaces_the_original_unless_confirmed(tmp_path, window):
    source = tmp_path / "photo.png"
    save_image(source, load_image(SAMPLE_IMAGE).rgb)
    before = source.read_bytes()
    window.open_path(source)
    with window.document.step("edit"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 5, 255)
    window.ask_save_path = lambda *a: str(source)
    assert not window.save()  # confirm() answers no
    assert source.read_bytes() == before
    target = tmp_path / "photo_inpainted.png"
    window.ask_save_path = lambda *a: str(target)
    assert window.save() and target.exists() and not window.document.modified
    assert source.read_bytes() == before


def test_masks_and_label_maps_are_never_exported_over_the_picture(tmp_path, window):
    source = tmp_path / "photo.png"
    save_image(source, load_image(SAMPLE_IMAGE).rgb)
    link = tmp_path / "link.png"
    link.symlink_to(source)
    before = source.read_bytes()
    window.open_path(source)
    errors = []
    window.show_error = errors.append
    with window.document.step("edit"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 5, 255)
    doc = window.document
    doc.replace_label_map(np.full((doc.height, doc.width), 1, np.uint8), None, "map")
    window.ask_save_path = lambda *a: str(source)
    assert not window.export_mask()
    assert not window.export_labels(link, overwrite=True)  # a link to it is the same file
    assert source.read_bytes() == before and link.is_symlink()
    assert len(errors) == 2 and "photo.png is the picture being edited" in errors[0]
    assert "link.png is the picture being edited: choose another name for the label map" \
        in errors[1]
    assert window.export_mask(tmp_path / "photo_mask.png")


def test_replacing_a_multi_page_original_says_the_other_pages_are_lost(tmp_path, window):
    rgb = load_image(SAMPLE_IMAGE).rgb
    pages = [Image.fromarray(np.roll(rgb, 9 * i, axis=1)) for i in range(3)]
    source = tmp_path / "scan.tif"
    pages[0].save(source, save_all=True, append_images=pages[1:])
    window.open_path(source)
    questions = []
    window.confirm = lambda title, text: questions.append(text) or False
    window.ask_save_path = lambda *a: str(source)
    assert not window.save()
    assert "It has 3 pages: replacing it keeps only the first" in questions[0]
    assert "the other 2 are lost" in questions[0]
    with Image.open(source) as still:
        assert still.n_frames == 3


def test_a_name_typed_without_an_extension_gets_the_originals(tmp_path, window):
    source = tmp_path / "photo.jpg"
    save_image(source, load_image(SAMPLE_IMAGE).rgb)
    window.open_path(source)
    window.ask_save_path = lambda *a: str(tmp_path / "clean")
    assert window.save_as() and (tmp_path / "clean.jpg").exists()
    before = (tmp_path / "clean.jpg").read_bytes()
    questions = []
    window.confirm = lambda title, text: questions.append(text) or False
    with window.document.step("edit"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 5, 255)
    assert not window.save_as()  # clean.jpg exists now: asked, and the answer was no
    assert questions == ["clean.jpg already exists. Replace it?"]
    assert (tmp_path / "clean.jpg").read_bytes() == before


def test_a_fill_applied_while_saving_leaves_the_picture_modified(tmp_path, window,
                                                                  monkeypatch):
    import app.file_commands

    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    doc = window.document
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (300, 200), (340, 200), 10, 255)
    write = app.file_commands.save_image

    def slow_save(*args, **kwargs):  # a slow disk: the fill lands while this writes
        deadline = time.monotonic() + 20
        while doc.mask.any() and time.monotonic() < deadline:
            time.sleep(0.02)
        return write(*args, **kwargs)

    monkeypatch.setattr(app.file_commands, "save_image", slow_save)
    window.controller.settings.engine = "telea"
    window.controller.run()
    assert window.save_as(tmp_path / "during.png")
    assert not doc.mask.any()  # the fill was applied during the save...
    assert not np.array_equal(load_image(tmp_path / "during.png").rgb, doc.image)
    assert doc.modified  # ...and is not in the file: closing must ask


def test_saving_a_transparent_picture_as_jpeg_asks_and_flattens_onto_white(tmp_path,
                                                                           window):
    rgb = np.full((60, 80, 3), 40, np.uint8)
    alpha = np.full((60, 80), 255, np.uint8)
    alpha[:, :40] = 0
    assert window.open_path(save_image(tmp_path / "cut.png", rgb, alpha))
    asked = []
    window.confirm = lambda title, text: asked.append(text) or False
    assert not window.save_as(tmp_path / "cut.jpg")
    assert not (tmp_path / "cut.jpg").exists() and "no transparency" in asked[0]
    window.confirm = lambda title, text: True
    assert window.save_as(tmp_path / "cut.jpg")
    flat = load_image(tmp_path / "cut.jpg").rgb
    assert (flat[:, :35] > 245).all() and (np.abs(flat[:, 45:].astype(int) - 40) < 4).all()
    asked.clear()
    window.confirm = lambda title, text: asked.append(text) or False
    assert window.save_as(tmp_path / "kept.webp") and not asked  # WebP keeps it


def test_opening_another_picture_asks_before_dropping_a_fill_not_applied(qtbot, tmp_path,
                                                                         window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_apply.setChecked(False)
    window.engine_panel.auto_run.setChecked(False)
    doc = window.document
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (300, 200), (340, 200), 10, 255)
    doc.mark_saved()  # nothing else to lose
    window.controller.settings.engine = "telea"
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result
    asked = []
    window.confirm = lambda title, text: asked.append(title) or False
    other = save_image(tmp_path / "other.png", np.full((50, 70, 3), 90, np.uint8))
    assert not window.open_path(other)
    assert asked == ["Fill not applied"] and window.document is doc
    assert window.controller.has_result  # still there to apply


def test_saving_as_bmp_says_that_the_metadata_is_not_kept(tmp_path, window):
    source = tmp_path / "phone.jpg"
    write_phone_photo(source, load_image(SAMPLE_IMAGE).rgb[:120, :160])
    assert window.open_path(source)
    assert window.save_as(tmp_path / "plain.bmp")
    assert "without the colour profile and EXIF" in window.statusBar().currentMessage()
    assert window.save_as(tmp_path / "kept.png")
    assert "without" not in window.statusBar().currentMessage()


def test_saving_keeps_the_photos_metadata_unless_turned_off(tmp_path, window):
    source = tmp_path / "phone.jpg"
    icc = write_phone_photo(source, load_image(SAMPLE_IMAGE).rgb[:200, :300], orientation=6)
    assert window.open_path(source)
    assert window.document.width == 200  # shown upright
    assert window.keep_metadata
    assert window.save_as(tmp_path / "kept.png")
    profile, tags = embedded_metadata(tmp_path / "kept.png")
    assert profile == icc and tags[0x010F] == "PhoneMaker" and tags[0x0112] == 1

    window.actions["keep_metadata"].trigger()
    assert not window.keep_metadata
    assert "no colour profile" in window.statusBar().currentMessage()
    assert window.save_as(tmp_path / "stripped.png")
    assert embedded_metadata(tmp_path / "stripped.png") == (None, {})
    window.document.replace_layer(Layer.MASK, np.full((300, 200), 255, np.uint8), "all")
    dialog = window.apply_mask_to_folder()
    try:
        assert not dialog.keep_metadata.isChecked()  # folder runs follow the same choice
    finally:
        dialog.close()


def test_a_phone_heic_opens_upright_and_is_saved_as_heic(tmp_path, window):
    pixels = load_image(SAMPLE_IMAGE).rgb[:200, :300]
    source = write_heic(tmp_path / "IMG_0042.HEIC", pixels, phone_exif(pixels, orientation=6))
    assert window.open_path(source)
    assert (window.document.width, window.document.height) == (200, 300)  # upright
    with window.document.step("edit"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 5, 255)
    offered = []
    window.ask_save_path = lambda title, suggestion, filters: offered.append(
        (suggestion, filters)) or suggestion
    assert window.save()
    [(suggestion, filters)] = offered
    assert suggestion.endswith("IMG_0042_inpainted.heic") and "*.heic" in filters
    with Image.open(suggestion) as saved:
        assert saved.format == "HEIF" and saved.size == (200, 300)
        assert saved.getexif()[0x010F] == "PhoneMaker"


def test_a_wide_gamut_photo_is_shown_converted_and_saved_unchanged(tmp_path, window):
    pixels = load_image(SAMPLE_IMAGE).rgb[:120, :160]
    source = save_image(tmp_path / "wide.png", pixels,
                        metadata=ImageMetadata(icc_profile=wide_gamut_profile()))
    assert window.open_path(source)
    assert "from its Wide Test RGB profile" in window.statusBar().currentMessage()
    shown = window.canvas.view.levels[0].base[..., 2::-1]
    assert np.abs(shown.astype(int) - pixels).max() > 10
    assert window.save_as(tmp_path / "out.png")
    saved = load_image(tmp_path / "out.png")
    assert np.array_equal(saved.rgb, pixels)
    assert saved.metadata.icc_profile == wide_gamut_profile()



def test_the_notes_on_a_picture_go_when_another_opens(tmp_path, window):
    deep = np.random.default_rng(4).integers(0, 65536, (60, 80, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "scan.png"), deep[..., ::-1])
    assert window.open_path(tmp_path / "scan.png")
    assert "16-bit" in window.statusBar().currentMessage()
    save_image(tmp_path / "plain.png", np.zeros((20, 30, 3), np.uint8))
    assert window.open_path(tmp_path / "plain.png")
    assert window.statusBar().currentMessage() == ""


def test_a_16_bit_photo_is_saved_at_16_bits_and_the_status_says_so(tmp_path, window):
    deep = np.random.default_rng(4).integers(0, 65536, (60, 80, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "scan.png"), deep[..., ::-1])
    assert window.open_path(tmp_path / "scan.png")
    painted = window.document.image.copy()
    painted[:10, :10] = 255
    window.document.apply_result(painted)
    assert window.save_as(tmp_path / "out.tif")
    assert "at 16 bits per channel" in window.statusBar().currentMessage()
    samples = cv2.imread(str(tmp_path / "out.tif"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert np.array_equal(samples[10:], deep[10:]) and (samples[:10, :10] == 65535).all()
    assert window.save_as(tmp_path / "out.jpg")
    assert "at 8 bits per channel (.jpg has no deeper form" in \
        window.statusBar().currentMessage()


def test_a_floating_point_tiff_is_saved_in_floating_point_and_the_status_says_so(tmp_path,
                                                                                window):
    import tifffile

    hdr = np.random.default_rng(6).random((60, 80, 3)).astype(np.float32) * 2.0
    tifffile.imwrite(tmp_path / "hdr.tif", hdr, photometric="rgb")
    assert window.open_path(tmp_path / "hdr.tif")
    painted = window.document.image.copy()
    painted[:10, :10] = 255  # white over pixels above 1.0, shown as 255 already
    hole = np.zeros((60, 80), np.uint8)
    hole[:10, :10] = 255
    window.document.apply_result(painted, used_mask=hole)
    assert window.save_as(tmp_path / "out.tif")
    assert "in floating point" in window.statusBar().currentMessage()
    samples = tifffile.imread(tmp_path / "out.tif")
    assert np.array_equal(samples[10:], hdr[10:]) and (samples[:10, :10] == 1.0).all()
    assert window.save_as(tmp_path / "out.png")
    assert "at 16 bits per channel" in window.statusBar().currentMessage()

def test_dropping_a_file_on_the_window_opens_it(tmp_path, window):
    path = save_image(tmp_path / "dropped.png", np.full((50, 70, 3), 120, np.uint8))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    centre = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(centre.toPoint(), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(centre, Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, drop)
    assert window.document.path == str(path) and window.document.width == 70


def _drag_and_drop(window, urls: list[QUrl]) -> tuple[bool, bool]:
    """Whether the window took the drag, and the drop, of ``urls``."""
    data = QMimeData()
    data.setUrls(urls)
    centre = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(centre.toPoint(), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(centre, Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    drop.ignore()
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


def test_dropping_several_files_opens_the_first_and_says_so(tmp_path, window):
    first = save_image(tmp_path / "first.png", np.full((30, 40, 3), 90, np.uint8))
    others = [save_image(tmp_path / f"other{i}.png", np.zeros((8, 8, 3), np.uint8))
              for i in range(2)]
    assert _drag_and_drop(window, [QUrl.fromLocalFile(str(p)) for p in [first, *others]]) \
        == (True, True)
    assert window.document.path == str(first)
    message = window.statusBar().currentMessage()
    assert "2 other dropped files not opened" in message and "first.png" in message


def test_a_web_address_is_not_taken_by_drag_and_drop(window):
    window.open_path(SAMPLE_IMAGE)
    assert _drag_and_drop(window, [QUrl("https://example.com/photo.jpg")]) == (False, False)
    assert window.document.path == str(SAMPLE_IMAGE) and window.last_error == ""


def test_bad_files_show_a_message_and_keep_the_document(tmp_path, window):
    window.open_path(SAMPLE_IMAGE)
    (tmp_path / "junk.jpg").write_bytes(b"junk")
    assert not window.open_path(tmp_path / "junk.jpg")
    assert "not an image" in window.last_error
    assert window.document.path == str(SAMPLE_IMAGE)
    small = tmp_path / "small.png"
    save_image(small, np.zeros((10, 10, 3), np.uint8))
    assert not window.import_mask(small)
    assert "same size" in window.last_error


def test_mask_import_export_and_operations(tmp_path, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    mask = np.zeros((427, 640), np.uint8)
    mask[100:150, 100:150] = 255
    save_image(tmp_path / "m.png", mask)
    assert window.import_mask(tmp_path / "m.png")
    assert np.array_equal(window.document.mask, mask)
    window.grow_mask(5)
    assert window.document.mask[96, 120] == 255
    window.invert_mask()
    assert window.document.mask[0, 0] == 255
    window.clear_mask()
    assert not window.document.mask.any()
    for _ in range(3):
        window.undo()
    assert np.array_equal(window.document.mask, mask)
    assert window.export_mask(tmp_path / "out.png")
    assert np.array_equal(load_image(tmp_path / "out.png").rgb[..., 0], mask)


def test_mask_files_and_operations_run_off_the_gui_thread(tmp_path, window, monkeypatch):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    mask = np.zeros((427, 640), np.uint8)
    mask[100:150, 100:150] = 255
    save_image(tmp_path / "m.png", mask)
    threads = []

    recorded = thread_recorder(threads)
    monkeypatch.setattr(file_commands, "load_mask", recorded(file_commands.load_mask))
    monkeypatch.setattr(file_commands, "load_reference", recorded(file_commands.load_reference))
    monkeypatch.setattr(file_commands, "save_mask", recorded(file_commands.save_mask))
    monkeypatch.setattr(maskops, "grow", recorded(maskops.grow))
    assert window.import_mask(tmp_path / "m.png")
    window.grow_mask(3)
    assert window.add_references([tmp_path / "m.png"]) == 1
    assert window.export_mask(tmp_path / "out.png")
    assert len(threads) == 4 and threading.main_thread() not in threads
    assert window.document.mask[98, 120] == 255  # the grown mask arrived


@pytest.mark.parametrize("operation", ["grow_mask", "shrink_mask", "feather_mask",
                                       "clear_mask"])
def test_operations_on_an_empty_mask_say_so_and_make_no_step(window, operation):
    window.open_path(SAMPLE_IMAGE)
    assert not window.document.can_undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # feathering nothing once overflowed a float
        getattr(window, operation)(*(() if operation == "clear_mask" else (4,)))
    assert "The mask is empty: nothing to" in window.statusBar().currentMessage()
    assert not window.document.can_undo() and not window.document.mask.any()


def test_keys_switch_tools_and_change_brush_size(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_P)
    assert canvas.tool.name == "sketch"
    qtbot.keyClick(canvas, Qt.Key_B)
    assert canvas.tool.name == "mask"
    before = canvas.tool.radius
    qtbot.keyClick(canvas, Qt.Key_BracketRight)
    assert canvas.tool.radius > before
    qtbot.keyClick(canvas, Qt.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key_BracketLeft)
    assert canvas.tool.radius < before
    assert window.size_box.value() == round(canvas.tool.radius * 2)


def test_bracket_keys_resize_the_brush_wherever_the_focus_is(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    window.engine_panel.engine.setFocus()  # after choosing an engine
    qtbot.waitUntil(lambda: window.engine_panel.engine.hasFocus(), timeout=2000)
    before = canvas.tool.radius
    qtbot.keyClick(window.engine_panel.engine, Qt.Key_BracketRight)
    assert canvas.tool.radius > before
    search = window.legend.search  # typing into a text field keeps its brackets
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    grown = canvas.tool.radius
    qtbot.keyClicks(search, "[1]")
    assert search.text() == "[1]" and canvas.tool.radius == grown


def test_holding_o_shows_the_original(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    with window.document.step("m"):
        window.document.paint_segment(Layer.MASK, (300, 200), (340, 200), 20, 255)
    p = _screen(canvas, 320, 200)
    tinted = qimage2ndarray.rgb_view(canvas.grab().toImage())[p.y(), p.x()].copy()
    qtbot.keyPress(window, Qt.Key_O)
    plain = qimage2ndarray.rgb_view(canvas.grab().toImage())[p.y(), p.x()].copy()
    qtbot.keyRelease(window, Qt.Key_O)
    again = qimage2ndarray.rgb_view(canvas.grab().toImage())[p.y(), p.x()].copy()
    original = window.document.image[200, 320].astype(int)
    assert np.abs(plain.astype(int) - original).max() < 30
    assert np.array_equal(tinted, again) and not np.array_equal(tinted, plain)


def test_panel_clicks_leave_the_keys_to_the_canvas_and_fields_keep_return(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    canvas, combo = window.canvas, window.engine_panel.engine
    window.activateWindow()
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    qtbot.mouseClick(window.engine_panel.fill_button, Qt.LeftButton)  # nothing to fill yet
    assert canvas.hasFocus() and combo.focusPolicy() == Qt.TabFocus  # Tab still reaches it
    engine = window.controller.settings.engine
    qtbot.keyPress(QApplication.focusWidget(), Qt.Key_O)  # hold O: the original...
    assert canvas.view.show_original
    qtbot.keyRelease(QApplication.focusWidget(), Qt.Key_O)
    assert not canvas.view.show_original and window.controller.settings.engine == engine

    with window.document.step("Mask brush"):  # a fill shown, waiting for Enter
        window.document.paint_segment(Layer.MASK, (300, 200), (340, 200), 10, 255)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result
    search = window.legend.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=5000)
    with qtbot.waitSignal(search.returnPressed, timeout=5000):
        qtbot.keyClick(search, Qt.Key_Return)  # the field's Return, not Apply
    box = window.size_box
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "60")
    qtbot.keyClick(box, Qt.Key_Return)
    assert box.value() == 60 and window.controller.has_result  # still not applied
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    with qtbot.waitSignal(window.controller.applied, timeout=5000):
        qtbot.keyClick(canvas, Qt.Key_Return)  # on the canvas, Return applies


def test_folder_dialogs_get_the_panels_run_settings(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.seed.setValue(11)
    window.engine_panel.device.setCurrentText("cpu")
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (300, 200), (340, 200), 10, 255)
    dialog = window.apply_mask_to_folder()
    settings = dialog._request_settings()
    assert settings["seed"] == 11 and settings["device"] == "cpu"
    assert settings["strategy"] == window.controller.settings.strategy
    dialog.close()


def test_second_keys_of_an_action_work_too(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    keys = {name: [k.toString() for k in window.actions[name].shortcuts()]
            for name in ("zoom_in", "redo")}
    assert keys == {"zoom_in": ["Ctrl+=", "Ctrl++"], "redo": ["Ctrl+Shift+Z", "Ctrl+Y"]}
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    zoom = window.canvas.zoom
    qtbot.keyClick(window.canvas, Qt.Key_Plus, Qt.ControlModifier)
    assert window.canvas.zoom > zoom


def test_space_released_while_elsewhere_does_not_leave_the_canvas_panning(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    window.activateWindow()
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    qtbot.keyPress(canvas, Qt.Key_Space)
    window.legend.search.setFocus()  # a message box took the focus while Space was down
    qtbot.waitUntil(window.legend.search.hasFocus, timeout=5000)
    qtbot.keyRelease(window.legend.search, Qt.Key_Space)
    offset = (canvas.offset.x(), canvas.offset.y())
    _drag(qtbot, canvas, [_screen(canvas, x, 200) for x in range(100, 301, 20)])
    assert window.document.mask.any()  # it painted...
    assert (canvas.offset.x(), canvas.offset.y()) == offset  # ...and did not pan


def test_holding_o_shows_the_picture_as_opened_after_a_fill(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas, doc = window.canvas, window.document
    as_opened = doc.image.copy()
    filled = doc.image.copy()
    filled[180:220, 300:340] = (0, 255, 0)
    doc.apply_result(filled)

    def shown() -> np.ndarray:
        p = _screen(canvas, 320, 200)
        return qimage2ndarray.rgb_view(canvas.grab().toImage())[p.y(), p.x()].astype(int)

    assert np.abs(shown() - (0, 255, 0)).max() < 30
    qtbot.keyPress(window, Qt.Key_O)
    assert np.abs(shown() - as_opened[200, 320]).max() < 30  # as opened, not the fill
    second = doc.image.copy()
    second[190:210, 310:330] = (0, 0, 255)  # a result applied while O is held
    doc.apply_result(second)
    assert np.abs(shown() - as_opened[200, 320]).max() < 30
    qtbot.keyRelease(window, Qt.Key_O)
    assert np.abs(shown() - (0, 0, 255)).max() < 30
    p = _screen(canvas, 302, 182)  # the first fill, outside the second: shown again too
    assert np.abs(qimage2ndarray.rgb_view(canvas.grab().toImage())[p.y(), p.x()].astype(int)
                  - (0, 255, 0)).max() < 30


def test_wheel_zooms_around_the_cursor_and_fit_and_100(window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    anchor = QPointF(300, 250)
    before = canvas.image_point(anchor)
    event = QWheelEvent(anchor, canvas.mapToGlobal(anchor), QPoint(0, 0), QPoint(0, 240),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)
    after = canvas.image_point(anchor)
    assert canvas.zoom > 1.0
    assert abs(before[0] - after[0]) < 0.01 and abs(before[1] - after[1]) < 0.01
    window.actions["actual_size"].trigger()
    assert canvas.zoom == 1.0
    window.actions["fit"].trigger()
    assert canvas.zoom * 640 <= canvas.width() and canvas.zoom * 427 <= canvas.height()


def test_space_drag_pans_without_painting(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    canvas.setFocus()
    offset = QPointF(canvas.offset)
    qtbot.keyPress(canvas, Qt.Key_Space)
    _drag(qtbot, canvas, [QPoint(300, 300), QPoint(340, 320), QPoint(380, 340)])
    qtbot.keyRelease(canvas, Qt.Key_Space)
    assert canvas.offset.x() - offset.x() == pytest.approx(80, abs=1)
    assert not window.document.mask.any()


def test_compute_map_edit_labels_and_fill_with_a_label_engine(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.select_engine("telea")
    with qtbot.waitSignal(window.semantic.labelsReplaced, timeout=60000):
        window.legend.computeRequested.emit("regions")
    labels = window.document.layer(Layer.LABELS).copy()
    assert (labels != 255).all() and window.document.label_set == "regions"
    assert not window.document.mask.any()  # a computed map is not an edit
    ground = int(labels[415, 320])
    assert ground != labels[40, 300]
    window.choose_label(ground)
    assert window.canvas.tool.name == "label"
    _drag(qtbot, window.canvas, [_screen(window.canvas, x, 40) for x in range(250, 400, 15)])
    assert (window.document.layer(Layer.LABELS)[40, 260:390] == ground).all()
    assert window.document.mask[40, 300] == 255  # the edited area became the hole
    assert window.controller.settings.engine == "patchmatch"  # an engine that follows labels
    window.undo()
    assert not window.document.mask.any()
    assert np.array_equal(window.document.layer(Layer.LABELS), labels)


def test_choosing_an_engine_without_weights_offers_the_download(window):
    offered = []
    window.offer_download = lambda ids: offered.append(tuple(ids)) or False
    window.engine_panel.select_engine("lama")
    assert offered and offered[0] == ("lama-big",)
    assert window.statusBar().currentMessage().startswith("LaMa (big) is selected")


def test_importing_a_map_of_no_known_set_lists_its_ids(qtbot, window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    height, width = window.document.height, window.document.width
    labels = np.full((height, width), 4, np.uint8)
    labels[:, : width // 3] = 12
    cv2.imwrite(str(tmp_path / "plain.png"), labels)  # an indexed map naming no set
    assert window.import_labels(tmp_path / "plain.png")
    qtbot.waitUntil(lambda: window.legend.shown_ids() == [4, 12, 255], timeout=10000)
    assert window.legend._items[12].text(2) != ""  # its share of the picture is shown


def test_a_fill_and_a_label_map_computed_together_both_arrive(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    doc = window.document
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (300, 200), (340, 200), 10, 255)
    window.controller.settings.engine = "telea"
    window.semantic.compute_map("regions", working_size=128, max_regions=4)
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.controller.run()  # used to cancel the map: they shared one worker
    qtbot.waitUntil(lambda: doc.has_layer(Layer.LABELS), timeout=60000)
    assert not doc.mask.any() and doc.computed_labels is not None


def test_models_dialog_opens_from_the_menu(qtbot, window):
    from app.model_dialogs import ModelManagerDialog

    window.actions["models"].trigger()
    dialogs = [w for w in window.findChildren(ModelManagerDialog)]
    assert dialogs and dialogs[0].isVisible()
    dialogs[0].close()


def test_face_edit_from_a_box_round_trips_into_the_photo(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    photo = window.document
    original = photo.image.copy()
    window._on_face_box((280, 100, 360, 200))  # as if dragged with the face-box tool
    crop = window.document
    assert crop is not photo and crop.image.shape == (512, 512, 3)
    assert "Face in rocket.jpg" in window.windowTitle()
    assert not window.actions["save"].isEnabled()  # the crop is not the photo
    window.faces.auto_sketch(use_parser=False)
    assert crop.layer(Layer.SKETCH).any()
    with crop.step("Mask brush"):
        crop.paint_segment(Layer.MASK, (200, 300), (320, 300), 30, 255)
    window.engine_panel.select_engine("telea")
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.controller.run()
    assert window.paste_face_back()
    assert window.document is photo and photo.undo_label() == "Face edit"
    changed = (photo.image != original).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any()
    assert ys.min() >= 90 and ys.max() <= 230  # only around the face's box
    assert xs.min() >= 260 and xs.max() <= 380
    photo.undo()
    assert np.array_equal(photo.image, original)


def test_leaving_a_face_with_strokes_or_a_fill_shown_asks_first(qtbot, window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.select_engine("telea")
    window._on_face_box((280, 100, 360, 200))
    crop = window.document
    asked = []
    window.confirm = lambda title, text: asked.append(title) or False  # "No" to everything
    assert window.leave_face()  # nothing done in the face yet: no question
    window._on_face_box((280, 100, 360, 200))
    crop = window.document
    with crop.step("Mask brush"):
        crop.paint_segment(Layer.MASK, (200, 300), (320, 300), 30, 255)
    assert not window.leave_face() and asked == ["Leave the face?"]
    window.controller.settings.auto_apply = False
    window.controller.run()
    qtbot.waitUntil(lambda: window.controller.has_result, timeout=30000)  # shown, not applied
    assert not window.leave_face() and window.document is crop

    save_image(tmp_path / "other.png", np.zeros((40, 50, 3), np.uint8))
    asked.clear()
    assert not window.open_path(tmp_path / "other.png")  # "No" to the one question
    assert asked == ["Unsaved changes"] and window.document is crop and window.faces.edit
    window.confirm = lambda title, text: True
    assert window.open_path(tmp_path / "other.png") and window.faces.edit is None


def test_compare_applies_the_chosen_engine(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    original = window.document.image.copy()
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (200, 150), (200, 250), 10, 255)
    mask = window.document.mask.copy()
    dialog = window.compare_engines()
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert dialog.choose("ns")
    image = window.document.image
    assert np.array_equal(image[mask == 0], original[mask == 0])
    assert (image[mask > 0] != original[mask > 0]).any()
    assert window.document.undo_label() == "Fill (OpenCV Navier-Stokes)"  # as a fill names it
    assert "Applied OpenCV Navier-Stokes" in window.statusBar().currentMessage()


def test_engine_options_set_in_the_panel_reach_the_engines(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.select_engine("patchmatch")
    window.engine_panel.options.fields["patch_size"].setValue(11)
    window.engine_panel.options.fields["quality"].setCurrentIndex(0)
    expected = {"patch_size": 11, "quality": "fast"}
    assert window.controller.settings.options_for("patchmatch") == expected
    assert window.create_engine("patchmatch").options == expected  # the dialogs' engines
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (200, 150), (200, 190), 8, 255)
    submitted = []
    submit = window.worker.submit
    window.worker.submit = lambda task: (submitted.append(task), submit(task))[1]
    window.controller.run()
    assert dict(submitted[-1].engine_options) == expected
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60000)
    window.engine_panel.select_engine("telea")
    assert window.controller.settings.engine == "telea"
    assert window.engine_panel.options.fields["radius"].value() == 5
    window.engine_panel.select_engine("patchmatch")
    assert window.engine_panel.options.fields["patch_size"].value() == 11


def test_detect_text_proposes_an_undoable_mask(qtbot, window, tmp_path):
    import cv2

    picture = np.full((200, 400, 3), 90, np.uint8)
    cv2.putText(picture, "SAMPLE TEXT", (30, 110), cv2.FONT_HERSHEY_SIMPLEX, 1.6,
                (250, 250, 250), 4)
    save_image(tmp_path / "text.png", picture)
    window.open_path(tmp_path / "text.png")
    window.engine_panel.auto_run.setChecked(False)
    with qtbot.waitSignal(window.text_masks.proposed, timeout=30000):
        window.actions["detect_text"].trigger()
    mask = window.document.mask
    text = (picture[..., 0] > 200)
    assert mask[text].mean() > 200  # the letters are covered
    assert window.document.undo_label() == "Detect text"
    window.undo()
    assert not window.document.mask.any()


def test_text_detection_and_a_fill_run_side_by_side_and_esc_cancels_both(
        qtbot, window, tmp_path, monkeypatch):
    from app import watermark_dialogs
    from engines import registry
    from engines.base import Engine, RegionStage

    gate = threading.Event()

    class Slow(Engine):
        name = "slow"

        def inpaint_region(self, region, cancel):
            yield RegionStage("coarse", np.full_like(region.image, 10), 0.5)
            while not gate.wait(0.05):
                cancel.raise_if_cancelled()
            yield RegionStage("refined", np.full_like(region.image, 20), 1.0, final=True)

    found = np.zeros((120, 160), np.uint8)
    found[40:60, 30:120] = 255
    monkeypatch.setitem(registry._ENGINES, "slow", Slow)
    monkeypatch.setattr(watermark_dialogs, "detect_text_mask", lambda image: found)
    save_image(tmp_path / "plain.png", np.full((120, 160, 3), 90, np.uint8))
    window.open_path(tmp_path / "plain.png")
    window.engine_panel.auto_run.setChecked(False)
    window.controller.settings.engine = "slow"
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (10, 10), (10, 30), 4, 255)
    with qtbot.waitSignal(window.controller.previewChanged, timeout=30000):
        window.controller.run()
    # Ctrl+T while the fill runs: the detection ends, the fill goes on
    with qtbot.waitSignal(window.text_masks.proposed, timeout=30000) as proposed:
        window.actions["detect_text"].trigger()
    assert proposed.args[0] is not None and window.document.mask[50, 70] == 255
    assert window.controller.busy
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        gate.set()
    assert window.document.image[20, 10].max() < 90  # the fill landed

    # Esc cancels every run, here a fill and a detection together
    gate.clear()
    steps = window.document.undo_label()
    release = threading.Event()
    monkeypatch.setattr(watermark_dialogs, "detect_text_mask",
                        lambda image: release.wait(20) and found)
    window.controller.run()
    window.actions["detect_text"].trigger()
    assert window.controller.busy and window.text_masks.busy
    window.cancel_or_discard()
    release.set()
    qtbot.waitUntil(lambda: not window.controller.busy and not window.text_masks.busy,
                    timeout=30000)
    assert window.document.undo_label() == steps  # nothing new was applied
    # face detection, like maps, runs beside fills too: every client has its own worker
    clients = (window.controller, window.semantic, window.faces, window.text_masks)
    assert len({id(client.worker) for client in clients}) == 4


def test_reference_photos_are_added_listed_used_and_removed(qtbot, window, tmp_path):
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 255, (96, 96, 3)).astype(np.float32)
    scene = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 255,
                          cv2.NORM_MINMAX).astype(np.uint8)
    save_image(tmp_path / "photo.png", scene[16:80, 16:80])
    save_image(tmp_path / "other_view.png", scene[8:88, 4:84])  # the same scene, reframed
    (tmp_path / "broken.jpg").write_bytes(b"junk")
    window.engine_panel.auto_run.setChecked(False)
    assert window.open_path(tmp_path / "photo.png")
    assert window.engine_panel.select_engine("patchmatch")
    window.ask_open_paths = lambda *a: [str(tmp_path / "other_view.png"),
                                        str(tmp_path / "broken.jpg")]
    assert window.actions["add_references"].isEnabled()
    window.actions["add_references"].trigger()
    panel = window.reference_panel
    assert [r.name for r in window.document.references] == ["other_view.png"]
    assert panel.list.count() == 1 and panel.list.item(0).text() == "other_view.png"
    assert "broken.jpg" in window.last_error  # named; the good one was still added
    assert panel.hint.text() == "1 reference photo searched by the fill."

    original = window.document.image.copy()
    mask = np.zeros((64, 64), np.uint8)
    mask[22:42, 22:42] = 255
    window.document.replace_layer(Layer.MASK, mask, "hole")
    with qtbot.waitSignal(window.controller.applied, timeout=60000):
        window.actions["fill"].trigger()
    filled = window.document.image
    error = filled[mask > 0].astype(float) - original[mask > 0]
    assert 10 * np.log10(255.0 ** 2 / max(float(np.mean(error ** 2)), 1e-9)) > 35.0
    assert np.array_equal(filled[mask == 0], original[mask == 0])

    window.engine_panel.select_engine("telea")
    assert "does not use reference photos" in panel.hint.text()
    panel.list.item(0).setSelected(True)
    qtbot.mouseClick(panel.remove_button, Qt.LeftButton)
    assert window.document.references == () and panel.list.count() == 0
    assert not panel.clear_button.isEnabled()
