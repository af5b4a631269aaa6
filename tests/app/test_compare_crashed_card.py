"""A comparison card of an engine that crashed says what it raised, without naming the engine
again (the card is titled with it); a failure meant for the user is shown as it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.compare import CompareDialog
from app.document import Document, Layer
from engines.base import CancelToken, Engine, EngineError, Region, RegionStage

pytestmark = pytest.mark.timeout(120)


class CrashingEngine(Engine):
    name = "qa-crashing"
    title = "QA crashing"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        yield RegionStage("refined", region.image, 1 / 0, final=True)


class RefusingEngine(Engine):
    name = "qa-refusing"
    title = "QA refusing"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        raise EngineError("the weights file is damaged")
        yield  # pragma: no cover


def test_a_crashed_engines_card_says_what_it_raised_once(qtbot, textured, square_mask):
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    engines = {"qa-crashing": CrashingEngine, "qa-refusing": RefusingEngine}
    dialog = CompareDialog(document.build_request(), list(engines),
                           factory=lambda name, **options: engines[name]())
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=60000):
        assert dialog.start() is not None
    assert dialog.reasons == {"qa-crashing": "ZeroDivisionError: division by zero",
                              "qa-refusing": "the weights file is damaged"}
    for name, card in dialog.cards.items():
        assert card.info.text() == dialog.reasons[name]
        assert card.picture.text() == "no result"
