"""Choosing an engine whose weights are missing offers their download; declined, the status
bar says in the GUI's words (no command line) which engine is selected, that its weights
are not installed, and how to get them in File → Models…."""

from __future__ import annotations

import pytest

from app.model_dialogs import weights_needed_message
from engines import weights

pytestmark = pytest.mark.timeout(60)


def _decline(window) -> list[tuple[str, ...]]:
    offered: list[tuple[str, ...]] = []
    window.offer_download = lambda ids: offered.append(tuple(ids)) or False
    return offered


def test_declining_the_download_says_what_is_selected_and_how_to_get_it(window, model_cache):
    offered = _decline(window)
    assert window.engine_panel.select_engine("lama")
    assert offered == [("lama-big",)]
    said = window.statusBar().currentMessage()
    assert said == ("LaMa (big) is selected, but its weights are not installed: download "
                    "them in File → Models… (or Import file… with a copy you have)")
    assert "python" not in said and "`" not in said and "lama-big" not in said
    assert window.controller.settings.engine == "lama"  # still the engine chosen


def test_a_damaged_weights_file_is_said_plainly_too(window, model_cache):
    path = weights.local_path("lama-big")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # an empty file: damaged
    window.engine_panel.reload_engines()
    _decline(window)
    assert window.engine_panel.select_engine("lama")
    said = window.statusBar().currentMessage()
    assert said == ("LaMa (big) is selected, but its weights file is damaged: replace it in "
                    "File → Models… (Download, or Import file… with a copy you have)")
    assert str(path) not in said and "python" not in said


def test_weights_without_a_download_address_point_to_import(make_spec):
    manual = make_spec(manual="ask the authors for the file")
    assert weights_needed_message("Test engine", [manual.id]) == (
        "Test engine is selected, but its weights are not installed: File → Models… says "
        "where to get them, then Import file… installs them")
    downloadable = make_spec(urls=("https://example.invalid/net.pth",))
    assert "download them in File → Models…" in weights_needed_message(
        "Test engine", [manual.id, downloadable.id])
