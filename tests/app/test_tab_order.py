"""Tab from the canvas: the Engine panel's controls as shown (its engine's options right after
Fill, Apply and Cancel, also once the options are rebuilt for another engine), then the tab
bar of the tabbed panels and the Labels panel its tab shows, the toolbars and the canvas again; the panels' Float buttons are no stops; the
parser list has an accessible name."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QTabBar,
    QToolBar,
    QWidget,
)

from app.window import SAMPLE_IMAGE

pytestmark = pytest.mark.timeout(60)


def _walk(qtbot, window, limit: int = 100) -> list[QWidget]:
    """The widgets Tab reaches from the canvas (focusNextChild), in order, until the canvas
    comes back."""
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas)
    stops = []
    for _ in range(limit):
        window.focusNextChild()
        widget = QApplication.focusWidget()
        if widget is window.canvas:
            return stops
        stops.append(widget)
    raise AssertionError(f"Tab never came back to the canvas: {stops}")


def _reached(widget: QWidget) -> QWidget:
    """The control a focus widget belongs to (a spin box for its line edit)."""
    parent = widget.parentWidget()
    return parent if parent is not None and parent.focusProxy() is widget else widget


def _stops(qtbot, window) -> list[QWidget]:
    return [_reached(widget) for widget in _walk(qtbot, window)]


@pytest.fixture
def editor(qtbot, window, model_cache):
    """The editor on the sample picture, Guided PatchMatch (which has options) chosen."""
    assert window.open_path(SAMPLE_IMAGE)
    assert window.engine_panel.select_engine("patchmatch")
    _wait_shown(qtbot, window.engine_panel.options)
    return window


def _wait_shown(qtbot, form) -> None:
    """Until the option fields show: Qt shows a widget added to a shown layout from the
    event loop, and Tab passes over hidden ones."""
    qtbot.waitUntil(lambda: all(field.isVisible() for field in form.fields.values()))


def _panel_stops(window) -> list[QWidget]:
    panel, legend = window.engine_panel, window.legend
    fixed = [panel.engine, panel.strategy, panel.margin, panel.seed, panel.device,
             panel.auto_run, panel.auto_apply, panel.fill_button, panel.apply_button,
             panel.cancel_button]
    options = [*panel.options.fields.values(), panel.options.defaults_button]
    # the tab bar choosing among the Labels, Overlays, Faces and References panels comes
    # before them (QA audit 21)
    bars = [bar for bar in window.findChildren(QTabBar, options=Qt.FindDirectChildrenOnly)
            if bar.isVisible()]
    labels = [*bars, legend.parser, legend.compute_button, legend.search, legend.present_only,
              legend.labels]
    return [widget for widget in (*fixed, *options, *labels) if widget.isEnabled()]


def test_tab_goes_from_the_canvas_through_the_engine_panel_then_the_labels(qtbot, editor):
    panel = editor.engine_panel
    assert len(panel.options.fields) >= 3  # PatchMatch has options of its own
    stops = _stops(qtbot, editor)
    expected = _panel_stops(editor)
    assert stops[:len(expected)] == expected
    # then the panels behind the Labels panel (none takes the focus), and the toolbars last
    rest = stops[len(expected):]
    toolbars = [stop for stop in rest if isinstance(stop.parentWidget(), QToolBar)]
    assert toolbars and rest[-len(toolbars):] == toolbars
    assert editor.size_box in rest
    # no panel's Float (or Close) button is a stop
    assert not any(isinstance(stop, QAbstractButton) and isinstance(stop.parentWidget(),
                                                                     QDockWidget)
                   for stop in stops)


def test_options_rebuilt_for_another_engine_stay_after_the_buttons(qtbot, editor):
    panel = editor.engine_panel
    assert panel.select_engine("telea")
    assert panel.select_engine("patchmatch")  # every field built anew
    _wait_shown(qtbot, panel.options)
    fields = list(panel.options.fields.values())
    fields[1].setFocus()  # a value changed: Defaults is enabled, after the fields
    fields[1].stepBy(2)
    assert panel.options.defaults_button.isEnabled()
    stops = _stops(qtbot, editor)
    expected = _panel_stops(editor)
    assert panel.options.defaults_button in expected
    assert stops[:len(expected)] == expected


def test_the_parser_list_and_the_options_have_accessible_names(editor):
    assert editor.legend.parser.accessibleName() == "Parser"
    form = editor.engine_panel.options
    for field in form.fields.values():  # a check box's own text is empty: its row's label
        assert field.accessibleName() == form._form.labelForField(field).text() != ""

