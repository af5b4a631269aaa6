"""Compare → Stop while an engine is between its stages: that engine's card says it was
stopped, its partial picture cleared and its "Use" button off; the engines that never began
say "not run"; finished results stay."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from app.compare import CompareDialog
from app.document import Document, Layer
from engines import registry
from engines.base import CancelToken, Engine, Region, RegionStage

pytestmark = pytest.mark.timeout(120)


class GatedEngine(Engine):
    """Yields a magenta coarse stage, then waits (until cancelled or ``gate`` is set) before
    its final stage."""

    name = "qa-gated"
    title = "QA gated"
    gate = threading.Event()

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        coarse = np.zeros_like(region.image)
        coarse[..., 0] = coarse[..., 2] = 255
        yield RegionStage("coarse", coarse, 0.5)
        while not GatedEngine.gate.wait(0.01):
            cancel.raise_if_cancelled()
        yield RegionStage("refined", region.image, 1.0, final=True)


def factory(name: str, **options) -> Engine:
    return GatedEngine() if name == GatedEngine.name else registry.create(name, **options)


def test_stop_mid_run_says_stopped_on_the_running_card_only(qtbot, textured, square_mask):
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    GatedEngine.gate.clear()
    dialog = CompareDialog(document.build_request(), ["telea", GatedEngine.name, "ns"],
                           factory=factory)
    qtbot.addWidget(dialog)
    dialog.start()
    gated = dialog.cards[GatedEngine.name]
    qtbot.waitUntil(lambda: gated.info.text() == "coarse…", timeout=60000)
    partial = gated.picture.pixmap()
    assert partial is not None and not partial.isNull()  # the coarse stage is shown
    with qtbot.waitSignal(dialog.completed, timeout=30000):
        dialog.cancel()
    assert not dialog.running and set(dialog.results) == {"telea"}
    assert GatedEngine.name not in dialog.reasons

    telea, ns = dialog.cards["telea"], dialog.cards["ns"]
    assert telea.info.text().endswith(" s") and telea.use_button.isEnabled()
    assert gated.info.text() == "stopped, no result"
    assert gated.picture.text() == "no result"
    pixmap = gated.picture.pixmap()
    assert pixmap is None or pixmap.isNull()  # the partial picture is gone
    assert not gated.use_button.isEnabled() and gated.bar.isHidden()
    assert ns.info.text() == "not run" and not ns.use_button.isEnabled()
    assert not dialog.set_current(GatedEngine.name) and not dialog.choose(GatedEngine.name)
