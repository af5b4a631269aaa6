"""The engine panel names the engine modules that could not be loaded; the editor starts."""

from __future__ import annotations

from app.panels import EnginePanel
from tests.engines.test_plugins import GOOD, plugin_folder_fixture, write_plugin  # noqa: F401


def _names(panel: EnginePanel) -> list[str]:
    return [panel.engine.itemData(i) for i in range(panel.engine.count())]


def test_the_panel_lists_the_engines_and_names_a_module_left_out(qtbot, plugin_folder):
    broken = write_plugin(plugin_folder, "qa_missing_dependency",
                          "import qa_not_installed_dependency  # noqa\n")
    write_plugin(plugin_folder, "qa_z_good", GOOD)
    panel = EnginePanel()
    qtbot.addWidget(panel)
    assert {"telea", "patchmatch", "qa-good"} <= set(_names(panel))
    assert panel.not_loaded.isVisibleTo(panel)
    assert panel.not_loaded.text() == (f"Not loaded: {broken}: ModuleNotFoundError: No module "
                                       "named 'qa_not_installed_dependency'")


def test_the_panel_says_nothing_when_every_module_loaded(qtbot, plugin_folder):
    write_plugin(plugin_folder, "qa_z_good", GOOD)
    panel = EnginePanel()
    qtbot.addWidget(panel)
    assert "qa-good" in _names(panel) and not panel.not_loaded.isVisibleTo(panel)


def test_the_editor_starts_beside_a_module_whose_engine_name_is_taken(qtbot, plugin_folder):
    from app.window import MainWindow
    from tests.engines.test_plugins import DUPLICATE

    duplicate = write_plugin(plugin_folder, "qa_duplicate", DUPLICATE)
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        panel = window.engine_panel
        assert panel.select_engine("telea") and panel.engine.currentText() == "OpenCV Telea"
        assert f"Not loaded: {duplicate}: ValueError: engine name 'telea' is taken" \
            in panel.not_loaded.text()
    finally:
        window.worker.shutdown()


def test_the_panel_names_each_engines_guidance_as_the_user_knows_it(qtbot):
    panel = EnginePanel()
    qtbot.addWidget(panel)
    panel.select_engine("patchmatch")
    assert panel.status.text().endswith("Guidance: sketch, label edits, sampling area, "
                                        "reference photos, colour strokes.")
    panel.select_engine("lama")
    assert panel.status.text().endswith("Guidance: none.")
