"""A parser's bug while the editor computes a label map is said as a crash of that parser
(``"<title> failed: ZeroDivisionError: ..."``, the words of :func:`app.semantic.parser_failed`
and of ``segment``), its traceback printed for the report; the document is left as it was."""

from __future__ import annotations

from app.document import Layer
from engines.segmentation.base import create_parser
from tests.app.test_semantic import setup_fixture as setup_fixture  # the "setup" fixture

REGIONS = type(create_parser("regions"))


def test_a_parser_bug_is_named_after_the_parser(qtbot, setup, monkeypatch, capfd):
    controller, document = setup

    def parse(self, image, cancel=None, progress=None):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(REGIONS, "parse", parse)
    errors = []
    controller.error.connect(errors.append)
    with qtbot.waitSignal(controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        assert controller.compute_map("regions", working_size=64) is not None
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert errors == [f"{REGIONS.title} failed: ZeroDivisionError: float division by zero"]
    assert "Traceback" in capfd.readouterr().err  # a bug: its traceback for the report
    assert not document.has_layer(Layer.LABELS) and not document.can_undo()
