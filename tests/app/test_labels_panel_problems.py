"""The labels panel names the parser modules that could not be loaded, as the engine panel
names engine ones; what such a module registered before failing is not offered."""

from __future__ import annotations

from app.legend import LegendPanel
from app.panels import EnginePanel
from engines import registry
from tests.engines.test_plugins import (  # noqa: F401
    BROKEN,
    GOOD_PARSER,
    REGISTERS_THEN_RAISES,
    parser_plugin_folder_fixture,
    plugin_folder_fixture,
    write_plugin,
)


def _parsers(panel: LegendPanel) -> list[str]:
    return [panel.parser.itemData(i) for i in range(panel.parser.count())]


def test_a_parser_module_that_failed_is_named_and_what_it_registered_is_gone(
        qtbot, parser_plugin_folder, plugin_folder):
    failed = write_plugin(parser_plugin_folder, "qa_half_made", REGISTERS_THEN_RAISES)
    write_plugin(parser_plugin_folder, "qa_z_halves", GOOD_PARSER)
    write_plugin(plugin_folder, "qa_syntax", BROKEN["qa_syntax"][0])  # an engine module
    panel = LegendPanel()
    qtbot.addWidget(panel)
    assert "qa-halves" in _parsers(panel) and "qa-half-parser" not in _parsers(panel)
    assert panel.not_loaded.isVisibleTo(panel)
    assert panel.not_loaded.text() == f"Not loaded: {failed}: RuntimeError: no licence key found"
    assert "qa-half" not in registry.names()
    engines = EnginePanel()  # names every module left out, the parser one too
    qtbot.addWidget(engines)
    assert f"Not loaded: {failed}: RuntimeError" in engines.not_loaded.text()


def test_the_labels_panel_says_nothing_when_every_parser_module_loaded(qtbot,
                                                                      parser_plugin_folder):
    write_plugin(parser_plugin_folder, "qa_z_halves", GOOD_PARSER)
    panel = LegendPanel()
    qtbot.addWidget(panel)
    assert "qa-halves" in _parsers(panel) and not panel.not_loaded.isVisibleTo(panel)
