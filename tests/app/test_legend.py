"""The legend panel: labels with colours and names, search, choosing, parser readiness."""

from __future__ import annotations

import numpy as np
import qimage2ndarray
from PySide6.QtCore import QPoint, Qt

from app import legend as legend_module
from engines.base import Readiness
from engines.segmentation.base import LabelSet
from engines.segmentation.labels import UNLABELLED_COLOUR
from tests.app.test_window import shown_window

COLOURS = np.array([[30, 144, 255], [40, 200, 60], [20, 60, 200], [90, 220, 90]], np.uint8)
SMALL = LabelSet("small", ("sky", "grass", "water", "green roof"), COLOURS)


def _icon_rgb(item) -> tuple[int, int, int]:
    image = item.icon(0).pixmap(14, 14).toImage()
    return tuple(int(v) for v in qimage2ndarray.rgb_view(image)[7, 7])


def _click(qtbot, panel, label_id):
    item = panel._items[label_id]
    rect = panel.labels.visualItemRect(item)
    qtbot.mouseClick(panel.labels.viewport(), Qt.LeftButton, pos=rect.center())


def test_lists_every_label_with_id_name_and_colour_plus_unlabelled(legend):
    legend.set_label_set(SMALL)
    tree = legend.labels
    rows = [(tree.topLevelItem(i).text(0), tree.topLevelItem(i).text(1))
            for i in range(tree.topLevelItemCount())]
    assert rows == [("0", "sky"), ("1", "grass"), ("2", "water"), ("3", "green roof"),
                    ("255", "unlabelled")]
    for label_id in range(4):
        assert _icon_rgb(legend._items[label_id]) == tuple(COLOURS[label_id])
    assert _icon_rgb(legend._items[255]) == UNLABELLED_COLOUR
    assert legend.hint.text() == ""


def test_without_a_label_set_only_unlabelled_is_listed_and_a_hint_shows(legend):
    legend.set_label_set(SMALL)
    legend.set_label_set(None)
    assert legend.shown_ids() == [255]
    assert "compute" in legend.hint.text()


def test_a_map_of_no_known_set_lists_the_ids_it_uses_by_number(legend):
    legend.set_label_set(None)
    counts = np.zeros(256, np.int64)
    counts[[3, 7, 255]] = [500, 300, 200]
    legend.set_counts(counts)
    assert legend.shown_ids() == [3, 7, 255]
    assert legend._items[7].text(1) == legend_module.UNNAMED
    assert legend._items[3].text(2) == "50.0 %"
    assert "no known label set" in legend.hint.text()
    legend.present_only.setChecked(True)
    counts[9] = 10  # painted with a new id: listed at once
    legend.set_counts(counts)
    assert legend.shown_ids() == [3, 7, 9, 255]
    legend.set_label_set(SMALL)  # a named set lists its own ids again
    assert legend._items[3].text(1) == "green roof" and 7 not in legend._items


def test_search_filters_by_name_or_id(qtbot, legend):
    legend.set_label_set(SMALL)
    qtbot.keyClicks(legend.search, "GR")
    assert legend.shown_ids() == [1, 3]  # case-insensitive substring of the name
    legend.search.clear()
    qtbot.keyClicks(legend.search, "2")
    assert legend.shown_ids() == [2]
    legend.search.setText("255")
    assert legend.shown_ids() == [255]
    legend.search.setText("nothing like it")
    assert legend.shown_ids() == []
    legend.search.clear()
    assert legend.shown_ids() == [0, 1, 2, 3, 255]


def test_search_across_a_bundled_set(qtbot, legend):
    from engines.segmentation.base import create_parser

    legend.set_label_set(create_parser("face").label_set)
    qtbot.keyClicks(legend.search, "brow")
    shown = legend.shown_ids()
    assert shown and all("brow" in legend.label_name(i) for i in shown)


def test_clicking_a_label_emits_it_and_highlights_it(qtbot, legend):
    legend.set_label_set(SMALL)
    with qtbot.waitSignal(legend.labelChosen, timeout=2000) as chosen:
        _click(qtbot, legend, 2)
    assert chosen.args == [2]
    assert legend.current_label == 2
    assert legend.labels.currentItem() is legend._items[2]
    assert legend._items[2].font(1).bold() and not legend._items[0].font(1).bold()
    assert legend.current_text.text() == "2 water"


def test_enter_in_the_search_chooses_the_first_label_shown(qtbot, legend):
    legend.set_label_set(SMALL)
    qtbot.keyClicks(legend.search, "water")
    with qtbot.waitSignal(legend.labelChosen, timeout=2000) as chosen:
        qtbot.keyClick(legend.search, Qt.Key_Return)
    assert chosen.args == [2]


def test_set_current_label_highlights_without_emitting(qtbot, legend):
    legend.set_label_set(SMALL)
    emitted = []
    legend.labelChosen.connect(emitted.append)
    legend.set_current_label(3)
    legend.set_current_label(255)
    assert emitted == []
    assert legend.labels.currentItem() is legend._items[255]
    assert legend.current_text.text() == "255 unlabelled"
    legend.set_current_label(40)  # an id this set lacks (a map made with another set)
    assert legend.labels.currentItem() is None
    assert "not in this label set" in legend.current_text.text()


def test_a_new_set_without_the_current_label_chooses_a_valid_one_and_says_so(legend):
    legend.set_label_set(SMALL)
    legend._choose(3)  # "green roof"
    chosen = []
    legend.labelReplaced.connect(chosen.append)
    picked = []
    legend.labelChosen.connect(picked.append)
    same_name = LabelSet("other", ("background", "sand", "green roof"), COLOURS[:3])
    legend.set_label_set(same_name)  # id 3 is gone; the same name is id 2
    assert chosen == [2] and legend.current_label == 2
    assert legend.current_text.text() == "2 green roof"
    assert legend.labels.currentItem() is legend._items[2]
    legend.set_label_set(SMALL)  # id 2 exists here ("water"): kept, nothing emitted
    assert chosen == [2] and legend.current_label == 2
    legend._choose(3)
    chosen.clear()
    without = LabelSet("without", ("background", "sand"), COLOURS[:2])
    legend.set_label_set(without)  # no "green roof": the first label that is not background
    assert chosen == [1] and legend.current_text.text() == "1 sand"
    assert picked == [3]  # only the user's own choice; replacements are another signal


def test_unlabelled_and_maps_of_no_known_set_keep_the_current_label(legend):
    legend.set_label_set(SMALL)
    chosen = []
    legend.labelReplaced.connect(chosen.append)
    picked = []
    legend.labelChosen.connect(picked.append)
    legend.set_current_label(255)
    legend.set_label_set(LabelSet("tiny", ("sky",), COLOURS[:1]))
    assert chosen == [] and legend.current_label == 255
    legend.set_current_label(40)
    legend.set_label_set(None)  # a map of no known set may hold any id
    assert chosen == [] and legend.current_label == 40


def test_after_undo_to_a_smaller_set_the_brush_paints_only_its_ids(qtbot, tmp_path):
    from app.document import Layer
    from app.window import SAMPLE_IMAGE
    from engines.segmentation.base import create_parser
    from engines.segmentation.labelmap import save_label_png

    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    try:
        window.open_path(SAMPLE_IMAGE)
        window.engine_panel.auto_run.setChecked(False)
        height, width = window.document.height, window.document.width
        face = create_parser("face").label_set
        coco = create_parser("scene").label_set
        save_label_png(tmp_path / "face.png", np.zeros((height, width), np.uint8), face)
        save_label_png(tmp_path / "coco.png", np.full((height, width), 156, np.uint8), coco)
        assert window.import_labels(tmp_path / "face.png")
        assert window.import_labels(tmp_path / "coco.png")
        window.legend.labels.scrollToItem(window.legend._items[150])
        _click(qtbot, window.legend, 150)  # a COCO-Stuff id beyond face19's 0..18
        assert window.tool_settings.label == 150
        window.select_tool("mask")
        window.undo()  # back to the face19 map
        assert window.legend.label_set.name == face.name
        assert window.canvas.tool.name == "mask"  # the replacement chose no tool
        assert window.tool_settings.label < len(face)
        assert "not in this label set" not in window.legend.current_text.text()
        window.select_tool("label")
        canvas = window.canvas
        _drag_on(qtbot, canvas, [_screen(canvas, x, 200) for x in range(300, 361, 10)])
        labels = window.document.layer(Layer.LABELS)
        assert labels[200, 330] == window.tool_settings.label != 0  # it painted, visibly
        assert set(np.unique(labels).tolist()) <= set(range(len(face)))
        assert window.export_labels(tmp_path / "out.png", overwrite=True)
    finally:
        window.worker.shutdown()


def _screen(canvas, x, y) -> QPoint:
    return QPoint(round(x * canvas.zoom + canvas.offset.x()),
                  round(y * canvas.zoom + canvas.offset.y()))


def _drag_on(qtbot, widget, points):
    qtbot.mousePress(widget, Qt.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(widget, point)
    qtbot.mouseRelease(widget, Qt.LeftButton, pos=points[-1])


def test_counts_show_shares_and_present_only_hides_absent_labels(legend):
    legend.set_label_set(SMALL)
    assert not legend.present_only.isEnabled()
    counts = np.zeros(256, np.int64)
    counts[[0, 2, 255]] = [600, 300, 100]
    legend.set_counts(counts)
    assert legend._items[0].text(2) == "60.0 %"
    assert legend._items[1].text(2) == ""
    assert legend._items[255].text(2) == "10.0 %"
    legend.present_only.setChecked(True)
    assert legend.shown_ids() == [0, 2, 255]
    legend.search.setText("sky")
    assert legend.shown_ids() == [0]
    legend.set_label_set(SMALL)  # a new set forgets counts made for the old map
    assert not legend.present_only.isEnabled() and legend.shown_ids() == [0]


def test_a_parser_with_a_damaged_checkpoint_is_listed_as_damaged(qtbot, legend):
    from engines import weights

    slot = weights.local_path("face-bisenet")
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # a zip cut short
    assert weights.installation("face-bisenet").state is weights.InstallState.DAMAGED
    legend.reload_parsers()
    combo = legend.parser
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert texts["face"].endswith("(damaged)")
    assert texts["scene"].endswith("(needs download)")


def test_parsers_that_need_weights_are_shown_as_such(qtbot, legend):
    combo = legend.parser
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert texts["regions"] == "Colour regions (no download)"
    assert texts["scene"].endswith("(needs download)")
    assert texts["face"].endswith("(needs download)")
    assert legend.current_parser() == "regions"  # the first ready one is chosen
    assert not legend.status.isVisibleTo(legend)
    scene = combo.findData("scene")
    # in the GUI's words, as the Engine panel says it: no command line, no weights id
    said = ("Its weights are not installed: download them in File → Models… (or Import "
            "file… with a copy you have)")
    assert combo.itemData(scene, Qt.ToolTipRole) == said
    legend.select_parser("scene")
    assert legend.status.isVisibleTo(legend)
    assert legend.status.text() == said
    assert legend.parser_readiness("scene")[1].startswith("Scene parsing")  # its own words
    with qtbot.waitSignal(legend.computeRequested, timeout=2000) as requested:
        qtbot.mouseClick(legend.compute_button, Qt.LeftButton)
    assert requested.args == ["scene"]


def test_reload_keeps_the_choice_and_shows_new_readiness(legend, monkeypatch):
    legend.select_parser("scene")
    monkeypatch.setattr(legend_module, "parser_entries", lambda: [
        ("scene", "Scene", Readiness.READY, ""),
        ("regions", "Regions", Readiness.READY, "")])
    legend.reload_parsers()
    assert legend.current_parser() == "scene"
    assert legend.parser.currentText() == "Scene"
    assert legend.parser_readiness("scene") == (Readiness.READY, "")
    assert not legend.status.isVisibleTo(legend)


def test_busy_blocks_a_second_request(legend):
    legend.set_busy(True)
    assert not legend.compute_button.isEnabled() and not legend.parser.isEnabled()
    assert legend.compute_button.text() == "Computing…"
    legend.set_busy(False)
    assert legend.compute_button.isEnabled() and legend.compute_button.text() == "Compute map"
