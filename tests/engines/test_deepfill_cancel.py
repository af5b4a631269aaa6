"""DeepFill v1 and v2 stop part-way through a stage when cancelled.

Their hole-local passes compute each layer from its weights (``forward_box``), not by calling
the layer as a module, so the cancel hooks of :func:`engines.neural.interrupt.watch_layers`
see only whole stages; the passes and the contextual attention's blocks check the token
themselves (:func:`engines.neural.interrupt.check_cancelled`).
"""

from __future__ import annotations

import numpy as np
import pytest

from engines import registry
from engines.base import Cancelled, CancelToken, InpaintRequest
from engines.neural import (
    contextual_attention,
    deepfill_v1_network,
    deepfill_v2_network,
    interrupt,
)
from engines.neural.contextual_attention import ContextualAttention
from engines.neural.deepfill_v1 import DeepFillV1
from engines.neural.deepfill_v2 import DeepFillV2
from engines.neural.interrupt import cancel_checks, watch_layers
from engines.neural.windows import ConvGeometry
from tests.engines.test_contextual_attention import features
from tests.engines.test_deepfill_v2 import hole_mask, lively, photo

# engine name, a tiny randomly initialised network of the upstream architecture
NETWORKS = {"deepfill1": lambda: lively(DeepFillV1(cnum=8), 3, gain=1.3),
            "deepfill2": lambda: lively(DeepFillV2(cnum=8), 4, gain=2.3)}


def request() -> InpaintRequest:
    return InpaintRequest(photo(48, 48), hole_mask(48, 48, 14, 12, 16, 20))


class Convolutions:
    """Counts the convolutions the DeepFill layers compute; :meth:`cancel_after` cancels a
    token right after the n-th, as if the user pressed Esc while that layer ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._cancel_at: tuple[int, CancelToken] | None = None
        original = ConvGeometry.forward_box

        def counting(geometry, *args, **kwargs):
            out = original(geometry, *args, **kwargs)
            self.count += 1
            if self._cancel_at is not None and self.count == self._cancel_at[0]:
                self._cancel_at[1].cancel()
            return out

        monkeypatch.setattr(ConvGeometry, "forward_box", counting)

    def cancel_after(self, count: int, token: CancelToken) -> None:
        self.count, self._cancel_at = 0, (count, token)


class CountingToken(CancelToken):
    """A token that counts how often it is checked."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        super().raise_if_cancelled()


@pytest.mark.parametrize("engine_name", NETWORKS)
@pytest.mark.parametrize("stage", ["coarse", "refined"])
def test_cancel_stops_a_stage_before_its_next_layer(monkeypatch, engine_name, stage):
    """A cancel while a layer in the middle of a stage runs: no later layer computes, the
    run raises Cancelled, and no stage comes after the cancel; the network then serves the
    next request to the end."""
    convolutions = Convolutions(monkeypatch)
    engine = registry.create(engine_name, network=NETWORKS[engine_name]())
    stages = engine.run(request())
    assert next(stages).name == "coarse"
    coarse = convolutions.count
    assert [s.name for s in stages] == ["refined"]
    total = convolutions.count
    middle = coarse // 2 if stage == "coarse" else (coarse + total) // 2

    cancel = CancelToken()
    convolutions.cancel_after(middle, cancel)
    yielded = []
    with pytest.raises(Cancelled):
        for done in engine.run(request(), cancel):
            yielded.append(done.name)
    assert convolutions.count == middle  # the layer that was running, and none after it
    assert yielded == ([] if stage == "coarse" else ["coarse"])

    convolutions.cancel_after(0, CancelToken())
    assert [s.name for s in engine.run(request())] == ["coarse", "refined"]
    assert convolutions.count == total


def test_cancel_stops_the_contextual_attention_between_blocks(monkeypatch):
    """The attention (a watched module, checked once when called) also checks before each
    block of queries, so a cancel while one block runs stops it before the next."""
    blocks = []
    original = contextual_attention._block_scores

    def counting(*args, **kwargs):
        blocks.append(len(blocks))
        if len(blocks) == 3:
            cancel.cancel()
        return original(*args, **kwargs)

    monkeypatch.setattr(contextual_attention, "_block_scores", counting)
    layer = watch_layers(ContextualAttention(fuse_buffer=True, eps_inside=False))
    layer.block_elements = 8 * 64  # 8 queries a block on the 8x8 grid: 8 blocks
    f = features((1, 4, 16, 16), 5)
    cancel = CancelToken()
    with cancel_checks(cancel), pytest.raises(Cancelled):
        layer(f, f)
    assert blocks == [0, 1, 2]

    blocks.clear()
    with cancel_checks(CancelToken()):
        assert layer(f, f).shape == f.shape
    assert len(blocks) == 8


@pytest.mark.parametrize("engine_name", NETWORKS)
def test_the_checks_leave_the_result_bit_identical(monkeypatch, engine_name):
    """An uncancelled run checks the token before every layer it computes and gives the same
    bytes as a run with every check made a no-op."""
    convolutions = Convolutions(monkeypatch)
    network = NETWORKS[engine_name]()
    engine = registry.create(engine_name, network=network)
    token = CountingToken()
    checked = [stage.image for stage in engine.run(request(), token)]
    assert token.checks > convolutions.count  # each layer, the stage hooks, the attention

    for module in (interrupt, deepfill_v1_network, deepfill_v2_network, contextual_attention):
        monkeypatch.setattr(module, "check_cancelled", lambda: None)
    token, convolutions.count = CountingToken(), 0
    unchecked = [stage.image for stage in engine.run(request(), token)]
    assert token.checks < convolutions.count // 4  # only the checks between stages are left
    assert len(checked) == len(unchecked) == 2
    for a, b in zip(checked, unchecked, strict=True):
        assert np.array_equal(a, b)
