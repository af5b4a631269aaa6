"""A cancel is honoured while the region machinery prepares a run (finding the holes, the
labels a crop offers, the working copy) and while it pastes and copies a stage, a band of
rows at a time: the run raises :class:`Cancelled` at the next look and does no more work.
The banded passes give what whole-picture passes gave."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from engines import region
from engines.base import (
    Cancelled,
    CancelToken,
    Guidance,
    InpaintRequest,
    Region,
    RegionStage,
)
from engines.region import crop_boxes, paste_hole, plan_boxes
from tests.engines.test_region import RecordingEngine

H, W = 120, 160
BAND_ROWS = 8  # rows per band in these tests: many bands on a small picture


@pytest.fixture(autouse=True)
def narrow_bands(monkeypatch):
    monkeypatch.setattr(region, "BAND_PIXELS", BAND_ROWS * W)


class CopyingEngine(RecordingEngine):
    """Copies sources as labels say (so the labels are read to plan the crop), yields a
    preview and a final fill; records each region it was given."""

    name = "copying"
    guidance = frozenset({Guidance.LABELS})
    copies_sources = True
    working_size = None

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        self.regions.append(region)
        out = region.image.copy()
        out[region.hole] = (250, 10, 10)
        yield RegionStage("coarse", out, 0.5)
        yield RegionStage("refined", np.clip(out.astype(int) + 9, 0, 255).astype(np.uint8),
                          1.0, final=True)


class CancelsAtLook(CancelToken):
    """Cancels itself at its ``at``-th look (1-based; None: never), and counts looks."""

    def __init__(self, at: int | None = None, when=None) -> None:
        super().__init__()
        self.at, self.looks, self.when = at, 0, when

    def raise_if_cancelled(self) -> None:
        self.looks += 1
        if self.looks == self.at:
            self.cancel()
            if self.when is not None:
                self.when()
        super().raise_if_cancelled()


def _request() -> InpaintRequest:
    """A diagonal stroke across most rows (many bands to label) and a label map that the
    hole's label must be looked up in (a source far from the hole)."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), np.uint8)
    cv2.line(mask, (20, 10), (140, 110), 255, 5)
    labels = np.ones((H, W), np.uint8)
    labels[:, :6] = 3
    return InpaintRequest(image, mask, labels=labels, crop_margin=8)


@pytest.fixture
def work(monkeypatch) -> dict[str, int]:
    """Counts of the region machinery's passes: bands labelled, band copies made."""
    counts = {"labelled": 0, "copied": 0}
    labelling = cv2.connectedComponentsWithStats
    copying = region._copied

    def labelled(*args, **kwargs):
        counts["labelled"] += 1
        return labelling(*args, **kwargs)

    def copied(image, cancel):
        counts["copied"] += 1
        return copying(image, cancel)

    monkeypatch.setattr(region.cv2, "connectedComponentsWithStats", labelled)
    monkeypatch.setattr(region, "_copied", copied)
    return counts


def _looks_before_the_engine(request: InpaintRequest) -> int:
    """How many times an uncancelled run looks at its token before the engine starts."""
    token = CancelsAtLook()
    seen = []

    class Counting(CopyingEngine):
        def inpaint_region(self, region, cancel):
            seen.append(token.looks)
            yield from super().inpaint_region(region, cancel)

    list(Counting().run(request, token))
    return seen[0]


def test_a_request_cancelled_before_it_starts_does_no_region_work(work):
    token = CancelToken()
    token.cancel()
    engine = CopyingEngine()
    with pytest.raises(Cancelled):
        list(engine.run(_request(), token))
    assert work == {"labelled": 0, "copied": 0} and engine.regions == []


def test_a_cancel_while_the_region_is_prepared_stops_at_the_next_look(work):
    request = _request()
    before = _looks_before_the_engine(request)
    assert before > 2 * (H // BAND_ROWS)  # every band of the mask and of the labels
    labelled_in_full = work["labelled"]
    at_cancel: dict[str, int] = {}
    for at in range(1, before + 1):
        work.update(labelled=0, copied=0)
        at_cancel.clear()
        token = CancelsAtLook(at, when=lambda: at_cancel.update(work))
        engine = CopyingEngine()
        with pytest.raises(Cancelled):
            list(engine.run(request, token))
        assert token.looks == at  # the look that saw the cancel was the last
        assert work == at_cancel  # nothing labelled or copied after it
        assert engine.regions == []
    assert 0 < at_cancel["labelled"] == labelled_in_full  # the last one: all labelled


def test_a_cancel_while_a_stage_is_pasted_or_copied_hands_nothing_over():
    """Looks between the engine's preview and its hand-over: the paste's bands and the
    copy's. A cancel at any of them raises before the preview is yielded."""
    request = _request()
    token = CancelsAtLook()
    looks_at_stage = []

    class Noting(CopyingEngine):
        def inpaint_region(self, region, cancel):
            for stage in super().inpaint_region(region, cancel):
                looks_at_stage.append(token.looks)
                yield stage

    stages = Noting().run(request, token)
    next(stages)
    handed_over = token.looks
    stages.close()
    first = looks_at_stage[0] + 1  # the look after the preview arrived
    assert handed_over - first > H // BAND_ROWS  # the paste's and the copy's bands
    for at in range(first + 1, handed_over + 1):
        token = CancelsAtLook(at)
        with pytest.raises(Cancelled):
            next(Noting().run(request, token))
        assert token.looks == at


@pytest.mark.parametrize("seed", range(30))
def test_banded_passes_find_what_whole_picture_passes_find(seed, monkeypatch):
    """Holes of every kind (specks, lines, diagonals touching across band edges, faint
    mask values) and labels: the same boxes and plan with bands of 1 to 9 rows as with
    one band, and the same components as OpenCV finds on the whole mask."""
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(1, 70, size=2))
    mask = np.zeros((height, width), np.uint8)
    kind = seed % 3
    if kind == 0:
        mask[rng.random((height, width)) < rng.choice([0.02, 0.3, 0.6])] = rng.integers(1, 256)
    elif kind == 1:
        for _ in range(4):
            ends = [tuple(int(v) for v in rng.integers(0, 70, size=2)) for _ in range(2)]
            cv2.line(mask, *ends, 255, 1)
    else:
        for i in range(min(height, width)):
            mask[i, i if seed % 2 else width - 1 - i] = 200
    count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).view(np.uint8), 8)
    components = sorted((int(y), int(x), int(y + h), int(x + w))
                        for x, y, w, h, _ in stats[1:count])
    labels = rng.integers(0, 4, (height, width), dtype=np.uint8)
    request = InpaintRequest(np.zeros((height, width, 3), np.uint8), mask, labels=labels,
                             crop_margin=int(rng.integers(0, 20)))
    results = []
    for rows in (1, int(rng.integers(2, 10)), 10_000):
        monkeypatch.setattr(region, "BAND_PIXELS", rows * width)
        found = sorted((b.top, b.left, b.bottom, b.right)
                       for b in region._component_boxes(mask, CancelToken()))
        assert found == components
        results.append((crop_boxes(mask, 5, 30), plan_boxes(request, CopyingEngine())
                        if mask.any() else None))
    assert results[0] == results[1] == results[2]


def test_banded_paste_is_the_whole_picture_paste(monkeypatch):
    """A feathered mask and a result that needs the seam's colour offset: the same pixels
    with bands of 3 rows as in one band."""
    rng = np.random.default_rng(7)
    original = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    result = np.clip(original.astype(int) + rng.integers(-40, 40, (H, W, 3)), 0,
                     255).astype(np.uint8)
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (80, 60), 30, 255, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)
    pasted = []
    for rows in (3, 10_000):
        monkeypatch.setattr(region, "BAND_PIXELS", rows * W)
        pasted.append(paste_hole(original, result, mask))
    assert np.array_equal(pasted[0], pasted[1])
    assert np.array_equal(pasted[0][mask == 0], original[mask == 0])
