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
    Strategy,
)
from engines.region import crop_boxes, paste_hole, plan_boxes
from tests.engines.test_region import RecordingEngine
from tests.engines.test_seam_bands import KINDS, _mask, reference_paste

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



# --- the region's preparation: cutting the box's layers, whether it is grey, the colour
# strokes in its hole; and a stage made grey. Each runs in bands of rows on a picture of more
# than one band, with a look between bands.

class PreparedEngine(CopyingEngine):
    """:class:`CopyingEngine` that also follows colour strokes (so whether its hole holds
    some is read)."""

    name = "prepared"
    guidance = frozenset({Guidance.LABELS, Guidance.COLOR})


class ScalingEngine(PreparedEngine):
    """:class:`PreparedEngine` whose region is the box scaled down."""

    name = "prepared-scaled"
    working_size = 40


LAYERS = ("image", "mask", "sketch", "color", "labels", "sample_include", "sample_exclude")


def _guided_request(grey: bool = True, strategy: Strategy = Strategy.CROP) -> InpaintRequest:
    """:func:`_request` (its crop box leaves out the first column: every layer is copied)
    with more layers: a sketch along the stroke, an exclude area, a colour stroke away from
    the hole (every band read to know that none lies in it); ``grey``: a black-and-white
    picture (every band read to know it)."""
    base = _request()
    image = np.repeat(base.image[..., :1], 3, axis=2) if grey else base.image
    sketch = np.zeros((H, W), np.uint8)
    cv2.line(sketch, (20, 13), (140, 113), 255, 1)
    exclude = np.zeros((H, W), np.uint8)
    exclude[:40, 60:] = 255
    color = np.zeros((H, W, 4), np.uint8)
    cv2.circle(color, (150, 12), 4, (200, 30, 30, 255), -1)
    return InpaintRequest(image, base.mask, sketch=sketch, color=color, labels=base.labels,
                          sample_exclude=exclude, strategy=strategy, crop_margin=8)


@pytest.fixture
def prepared(monkeypatch) -> dict[str, int]:
    """Counts the preparation's work: boxes cut (``_prepared_region`` called), layers copied
    (``_copied``) or resized (``cv2.resize``); and the token's looks when a box was last
    cut (``at_build``)."""
    counts = {"built": 0, "copied": 0, "resized": 0, "at_build": -1}
    building, copying, resizing = region._prepared_region, region._copied, cv2.resize

    def built(request, box, scale, cancel):
        counts["built"] += 1
        counts["at_build"] = cancel.looks
        return building(request, box, scale, cancel)

    def copied(image, cancel):
        counts["copied"] += 1
        return copying(image, cancel)

    def resized(*args, **kwargs):
        counts["resized"] += 1
        return resizing(*args, **kwargs)

    monkeypatch.setattr(region, "_prepared_region", built)
    monkeypatch.setattr(region, "_copied", copied)
    monkeypatch.setattr(region.cv2, "resize", resized)
    return counts


def _looks_at_the_engine(engine_type: type[CopyingEngine], request: InpaintRequest) -> int:
    """How many times an uncancelled run looks at its token before the engine starts."""
    token = CancelsAtLook()
    seen = []

    class Noting(engine_type):
        def inpaint_region(self, region, cancel):
            seen.append(token.looks)
            yield from super().inpaint_region(region, cancel)

    list(Noting().run(request, token))
    return seen[0]


@pytest.mark.parametrize("engine_type", [PreparedEngine, ScalingEngine])
def test_a_cancel_while_the_region_is_cut_and_checked_stops_before_the_engine(
        prepared, engine_type):
    """Between the look before a box is cut and the engine's start: the copy of each layer
    in bands (scaled: a look before each layer), then the grey check's bands and the colour
    strokes'. A cancel at any of those looks raises Cancelled from it: nothing is cut,
    copied or resized after it and the engine never runs."""
    request = _guided_request()
    engine_at = _looks_at_the_engine(engine_type, request)
    first = prepared["at_build"] + 1
    bands = H // BAND_ROWS
    cut = len(LAYERS) - 1  # all but the include area
    if engine_type is PreparedEngine:  # each layer's bands, a look before each; the grey
        looks = cut * bands + 2 * (bands - 1)  # check's bands, the colour strokes'
    else:  # a look before each layer; the grey check's bands (the region is one band)
        looks = cut + bands - 1
    assert engine_at - first + 1 == looks
    at_cancel: dict[str, int] = {}
    for at in range(first, engine_at + 1):
        prepared.update(built=0, copied=0, resized=0)
        at_cancel.clear()
        token = CancelsAtLook(at, when=lambda: at_cancel.update(prepared))
        engine = engine_type()
        with pytest.raises(Cancelled):
            list(engine.run(request, token))
        assert token.looks == at  # the look that saw the cancel was the last
        assert prepared == at_cancel  # nothing cut, copied or resized after it
        assert engine.regions == []  # the engine never ran


@pytest.mark.parametrize("engine_type", [PreparedEngine, ScalingEngine])
def test_a_picture_of_one_band_is_prepared_without_a_look(prepared, monkeypatch,
                                                          engine_type):
    """Looks are made between bands only: with the whole picture one band, the engine
    starts right after the look before its box is cut."""
    monkeypatch.setattr(region, "BAND_PIXELS", H * W)
    assert _looks_at_the_engine(engine_type, _guided_request()) == prepared["at_build"]


def test_a_cancel_while_a_grey_stage_is_made_grey_hands_nothing_over():
    """A black-and-white picture's stage is made grey in bands before it is pasted: those
    looks come on top of a colour picture's, and a cancel at any look between the stage's
    arrival and its hand-over raises before it is yielded."""
    def looks_for(request: InpaintRequest) -> tuple[int, int]:
        token = CancelsAtLook()
        arrived = []

        class Noting(PreparedEngine):
            def inpaint_region(self, region, cancel):
                for stage in super().inpaint_region(region, cancel):
                    arrived.append(token.looks)
                    yield stage

        stages = Noting().run(request, token)
        next(stages)
        stages.close()
        return arrived[0] + 1, token.looks  # the look after the preview arrived, handed over

    first, handed_over = looks_for(_guided_request(grey=True))
    colour_first, colour_handed_over = looks_for(_guided_request(grey=False))
    assert (handed_over - first) - (colour_handed_over - colour_first) == H // BAND_ROWS - 1
    request = _guided_request(grey=True)
    for at in range(first + 1, handed_over + 1):
        token = CancelsAtLook(at)
        with pytest.raises(Cancelled):
            next(PreparedEngine().run(request, token))
        assert token.looks == at


@pytest.mark.parametrize("rows", [1, 3, 7])
def test_banded_preparation_gives_what_one_band_gives(monkeypatch, rows):
    """The box's layers cut in bands (at scale 1 and scaled), the grey check, the colour
    strokes' check and a stage made grey: the same as with the picture one band; the layers
    at scale 1 the bytes of the former whole copies (``np.ascontiguousarray``), the grey
    stage OpenCV's over the whole box."""
    request = _guided_request(grey=False).evolve(
        sample_include=np.full((H, W), 255, np.uint8))
    stroked = request.evolve(color=np.full((H, W, 4), 255, np.uint8))  # in the hole too
    box = region.Box(5, 1, H - 3, W)
    colour = request.image[box.slices]
    grey = np.repeat(colour[..., :1], 3, axis=2)
    almost = grey.copy()
    almost[-1, -1, 2] ^= 1  # grey but for the last pixel of the last band
    engine, token = PreparedEngine(), CancelToken()
    results = []
    for band_rows in (rows, 10_000):
        monkeypatch.setattr(region, "BAND_PIXELS", band_rows * W)
        whole = region.build_region(request, box, 1.0, cancel=token)
        scaled = region.build_region(request, box, 0.3, cancel=token)
        hinted = region.build_region(stroked, box, 1.0, cancel=token)
        checks = (region._is_grey(grey, token), region._is_grey(almost, token),
                  region._is_grey(colour, token),
                  region._colour_hinted(engine, whole, token),
                  region._colour_hinted(engine, hinted, token))
        results.append((whole, scaled, checks, region._greyed(colour, token)))
    (whole, scaled, checks, greyed), (one_whole, one_scaled, one_checks, one_greyed) = results
    for name in LAYERS:
        layer = getattr(whole, name)
        assert np.array_equal(layer, np.ascontiguousarray(getattr(request, name)[box.slices]))
        assert layer.flags.c_contiguous and layer.flags.writeable
        assert np.array_equal(layer, getattr(one_whole, name))
        assert np.array_equal(getattr(scaled, name), getattr(one_scaled, name))
    assert checks == one_checks == (True, False, False, False, True)
    expected = cv2.cvtColor(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    assert np.array_equal(greyed, expected) and np.array_equal(one_greyed, expected)


def test_a_whole_picture_layer_is_handed_over_without_a_copy():
    """At scale 1 over the whole picture (ORIGINAL) the request's arrays are contiguous:
    the engine is given views of them (read-only, as they are), as before the banding."""
    request = _guided_request(strategy=Strategy.ORIGINAL)
    built = region.build_region(request, region.Box.frame((H, W)), 1.0, CancelToken())
    for name in ("image", "mask", "sketch", "color", "labels", "sample_exclude"):
        layer = getattr(built, name)
        assert np.shares_memory(layer, getattr(request, name)) and not layer.flags.writeable


@pytest.mark.parametrize("grey", [False, True])
@pytest.mark.parametrize("engine_type", [PreparedEngine, ScalingEngine])
def test_runs_with_banded_preparation_equal_one_band_runs(monkeypatch, grey, engine_type):
    """Whole runs, colour and black-and-white, at scale 1 and scaled: every stage the same
    bytes with bands of 1 and 5 rows as with the picture one band."""
    stages = []
    for rows in (1, 5, 10_000):
        monkeypatch.setattr(region, "BAND_PIXELS", rows * W)
        stages.append([s.image for s in engine_type().run(_guided_request(grey))])
    for run in stages[1:]:
        assert len(run) == len(stages[0]) == 2
        for a, b in zip(run, stages[0], strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("feather", [0.0, 2.5, 6.0])
@pytest.mark.parametrize("rows", [3, 10_000])
def test_the_paste_of_a_bands_masked_box_is_the_whole_formula(monkeypatch, kind, feather,
                                                              rows):
    """Each band pastes only the bounding box of its masked pixels: strokes, holes on the
    edges, almost all the picture, feathered spots give the whole-picture paste's bytes."""
    rng = np.random.default_rng(len(kind) + rows + round(feather * 10))
    shape = (int(rng.integers(150, 260)), int(rng.integers(150, 330)))
    original = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = np.clip(original.astype(int) + rng.integers(-40, 41, (*shape, 3)), 0,
                     255).astype(np.uint8)
    mask = _mask(kind, shape, rng)
    monkeypatch.setattr(region, "BAND_PIXELS", rows * shape[1])
    pasted = paste_hole(original, result, mask, feather)
    np.testing.assert_array_equal(pasted, reference_paste(original, result, mask, feather))
