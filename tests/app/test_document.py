"""The document model: layers, undo/redo as tile diffs, applying results, requests."""

from __future__ import annotations

import itertools
import tracemalloc

import cv2
import numpy as np
import pytest

from app import document as document_module
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, TILE, Document, Layer
from engines.base import UNLABELLED, InputError
from engines.region import Box


def _doc(height=300, width=400, seed=0) -> Document:
    rng = np.random.default_rng(seed)
    return Document(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_layers_are_created_blank_on_first_use():
    doc = _doc()
    assert not doc.has_layer(Layer.SKETCH)
    assert doc.layer(Layer.SKETCH).shape == (300, 400) and not doc.layer(Layer.SKETCH).any()
    assert doc.layer(Layer.COLOR).shape == (300, 400, 4)
    assert (doc.layer(Layer.LABELS) == UNLABELLED).all()


def test_a_drag_is_one_undo_step_and_undo_redo_restore_exact_pixels():
    doc = _doc()
    before = doc.mask.copy()
    doc.begin_step("Mask brush")
    points = [(20 + 7 * i, 50 + 3 * i) for i in range(40)]
    for p0, p1 in itertools.pairwise(points):
        doc.paint_segment(Layer.MASK, p0, p1, 9, 255)
    doc.end_step()
    after = doc.mask.copy()
    assert after.any() and not np.array_equal(before, after)
    assert doc.undo_label() == "Mask brush"
    doc.undo()
    assert np.array_equal(doc.mask, before)
    assert not doc.can_undo()  # the whole drag was one step
    doc.redo()
    assert np.array_equal(doc.mask, after)


def test_many_steps_undo_in_reverse_order_exactly():
    doc = _doc()
    snapshots = [doc.layer(Layer.SKETCH).copy()]
    rng = np.random.default_rng(3)
    for i in range(12):
        doc.begin_step(f"stroke {i}")
        p0 = tuple(rng.uniform(0, 400, 2))
        p1 = tuple(rng.uniform(0, 300, 2))
        doc.paint_segment(Layer.SKETCH, p0, p1, rng.uniform(1, 30), 255 if i % 3 else 0)
        if doc.end_step() is not None:  # an eraser stroke over nothing records nothing
            snapshots.append(doc.layer(Layer.SKETCH).copy())
    assert len(snapshots) > 8
    for expected in reversed(snapshots[:-1]):
        doc.undo()
        assert np.array_equal(doc.layer(Layer.SKETCH), expected)
    for expected in snapshots[1:]:
        doc.redo()
        assert np.array_equal(doc.layer(Layer.SKETCH), expected)


def test_new_edit_after_undo_clears_redo():
    doc = _doc()
    with doc.step("a"):
        doc.paint_segment(Layer.MASK, (10, 10), (10, 10), 5, 255)
    doc.undo()
    with doc.step("b"):
        doc.paint_segment(Layer.MASK, (50, 50), (50, 50), 5, 255)
    assert not doc.can_redo()


def test_step_that_changes_nothing_is_not_recorded():
    doc = _doc()
    with doc.step("nothing"):
        doc.paint_segment(Layer.MASK, (-100, -100), (-90, -90), 3, 255)
    assert not doc.can_undo()


def test_failed_step_restores_the_touched_tiles():
    doc = _doc()
    with pytest.raises(RuntimeError), doc.step("broken"):
        doc.paint_segment(Layer.MASK, (30, 30), (200, 200), 20, 255)
        raise RuntimeError("tool crashed")
    assert not doc.mask.any() and not doc.can_undo() and not doc.in_step


def test_apply_result_is_one_step_and_clears_only_the_used_mask():
    doc = _doc()
    original = doc.image.copy()
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (100, 100), (150, 120), 12, 255)
    used = doc.mask.copy()
    with doc.step("stroke painted while the engine ran"):
        doc.paint_segment(Layer.MASK, (350, 250), (360, 260), 6, 255)
    result = original.copy()
    result[used > 0] = 77
    doc.apply_result(result, used_mask=used)
    assert np.array_equal(doc.image, result)
    assert not doc.mask[used > 0].any()
    assert doc.mask[255, 355] == 255  # the later stroke survives
    doc.undo()
    assert np.array_equal(doc.image, original)
    assert np.array_equal(doc.mask[used > 0], used[used > 0])
    assert doc.image_version == 2  # applied then undone: two picture changes


def test_objects_can_be_removed_one_after_another():
    doc = _doc()
    original = doc.image.copy()
    results = []
    for k, x in enumerate((50, 200, 330)):
        with doc.step("mask"):
            doc.paint_segment(Layer.MASK, (x, 100), (x + 20, 150), 10, 255)
        result = doc.image.copy()
        result[doc.mask > 0] = 10 * (k + 1)
        doc.apply_result(result)
        results.append(result)
    assert np.array_equal(doc.image, results[-1])
    for expected in (results[1], results[0]):
        doc.undo()  # fill
        doc.undo()  # mask stroke
        assert np.array_equal(doc.image, expected)
    doc.undo()
    doc.undo()
    assert np.array_equal(doc.image, original)


def test_apply_result_rejects_wrong_shape():
    doc = _doc()
    with pytest.raises(InputError):
        doc.apply_result(np.zeros((10, 10, 3), np.uint8))


def test_replace_layer_records_only_changed_tiles():
    doc = _doc(1024, 1024)
    labels = doc.layer(Layer.LABELS).copy()
    labels[10:20, 10:20] = 3
    step = doc.replace_layer(Layer.LABELS, labels, "labels")
    assert len(step.diffs) == 1 and step.diffs[0].row == 0 and step.diffs[0].col == 0
    assert TILE == 256


def test_memory_stays_bounded_on_24_megapixels_with_hundreds_of_strokes():
    doc = Document(np.zeros((4000, 6000, 3), np.uint8))
    rng = np.random.default_rng(1)
    for i in range(300):
        doc.begin_step("stroke")
        x, y = rng.uniform(0, 6000), rng.uniform(0, 4000)
        for _ in range(5):
            nx, ny = x + rng.normal(0, 60), y + rng.normal(0, 60)
            doc.paint_segment(Layer.MASK if i % 2 else Layer.SKETCH, (x, y), (nx, ny),
                              rng.uniform(5, 40), 255)
            x, y = nx, ny
        doc.end_step()
    # 300 strokes over a 24 MP picture: the history holds compressed tiles, not layers
    doc.settle()
    assert doc.history_bytes < 32 * 1024 * 1024
    assert len(doc._undo) == 300


def test_history_is_trimmed_to_the_budget():
    doc = _doc(512, 512)
    doc.undo_budget = 20_000
    rng = np.random.default_rng(2)
    for _ in range(40):
        noise = rng.integers(0, 256, (512, 512), dtype=np.uint8)
        doc.replace_layer(Layer.SKETCH, noise, "noise")
    doc.settle()
    assert doc.history_bytes <= 20_000 or len(doc._undo) == 1


def test_modified_tracks_saves_and_undo():
    doc = _doc()
    assert not doc.modified
    with doc.step("s"):
        doc.paint_segment(Layer.MASK, (5, 5), (5, 5), 3, 255)
    assert doc.modified
    doc.mark_saved()
    assert not doc.modified
    doc.undo()
    assert doc.modified
    doc.redo()
    assert not doc.modified


def test_an_edit_after_undoing_past_the_save_is_a_change():
    """Undo one step past the save, then edit anew: as many steps deep as when saved,
    but not what was saved."""
    doc = _doc()
    for y in (5, 15):
        with doc.step("s"):
            doc.paint_segment(Layer.MASK, (y, 5), (y, 5), 3, 255)
    doc.mark_saved()
    doc.undo()
    with doc.step("other"):
        doc.paint_segment(Layer.MASK, (25, 25), (25, 25), 3, 255)
    assert doc.modified


def test_a_save_of_an_earlier_state_leaves_later_edits_unsaved():
    doc = _doc()
    with doc.step("s"):
        doc.paint_segment(Layer.MASK, (5, 5), (5, 5), 3, 255)
    written = doc.state  # what a save in the background copied
    with doc.step("during the save"):
        doc.paint_segment(Layer.MASK, (25, 25), (25, 25), 3, 255)
    doc.mark_saved(written)
    assert doc.modified
    doc.undo()
    assert not doc.modified


def test_the_saved_state_stays_known_when_history_is_trimmed():
    doc = _doc()
    doc.undo_budget = 1  # keeps only the newest step
    with doc.step("a"):
        doc.paint_segment(Layer.MASK, (5, 5), (5, 5), 3, 255)
    doc.mark_saved()
    with doc.step("b"):
        doc.paint_segment(Layer.MASK, (25, 25), (25, 25), 3, 255)
    doc.settle()
    assert len(doc._undo) == 1 and doc.modified  # "a" dropped from the history
    doc.undo()
    assert not doc.modified  # back at "a", as saved


def test_listeners_hear_the_changed_box():
    doc = _doc()
    heard = []
    doc.add_listener(lambda layer, box: heard.append((layer, box)))
    with doc.step("s"):
        doc.paint_segment(Layer.MASK, (100, 100), (110, 100), 5, 255)
    layer, box = heard[-1]
    assert layer is Layer.MASK
    assert box.left <= 95 and box.right >= 115 and box.top <= 95 and box.bottom >= 105


def test_build_request_snapshots_present_layers_only():
    doc = _doc()
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (100, 100), (120, 100), 8, 255)
    doc.layer(Layer.SKETCH)  # created but empty: not sent
    sampling = doc.layer(Layer.SAMPLING).copy()
    sampling[:50] = SAMPLE_EXCLUDE
    sampling[250:] = SAMPLE_INCLUDE
    doc.replace_layer(Layer.SAMPLING, sampling, "sampling")
    request = doc.build_request(seed=4)
    assert request.sketch is None and request.labels is None
    assert request.sample_exclude[:50].all() and not request.sample_exclude[50:].any()
    assert request.sample_include[250:].all() and not request.sample_include[:250].any()
    assert request.seed == 4
    mask_before = request.mask.copy()
    with doc.step("more"):
        doc.paint_segment(Layer.MASK, (300, 200), (310, 200), 8, 255)
    assert np.array_equal(request.mask, mask_before)  # a snapshot, not a view
    assert not request.mask.flags.writeable


def test_reference_photos_travel_with_requests_as_exemplars():
    doc = _doc()
    assert doc.build_request().exemplars == ()
    photo = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    doc.add_reference(photo, "beach.jpg")
    doc.add_reference(photo[:20, :30], "crop.png")
    photo[:] = 0  # the document kept its own copy
    request = doc.build_request()
    assert [e.shape for e in request.exemplars] == [(50, 70, 3), (20, 30, 3)]
    assert request.exemplars[0].any() and not request.exemplars[0].flags.writeable
    assert [r.name for r in doc.references] == ["beach.jpg", "crop.png"]
    doc.remove_references([0])
    assert [r.name for r in doc.references] == ["crop.png"]
    assert doc.build_request().exemplars[0].shape == (20, 30, 3)
    assert not doc.modified  # references are not edits of the picture


@pytest.mark.parametrize("bad, message", [
    (np.zeros((40, 40), np.uint8), "must be RGB"),
    (np.zeros((40, 40, 3), np.uint16), "must be RGB"),
    (np.zeros((5, 40, 3), np.uint8), "too small"),
])
def test_unusable_reference_photos_are_refused(bad, message):
    doc = _doc()
    with pytest.raises(InputError, match=message):
        doc.add_reference(bad, "bad.png")
    assert doc.references == ()



def test_the_16_bit_original_is_kept_read_only_and_must_match():
    deep = np.full((20, 30, 3), 1000, np.uint16)
    doc = Document(np.zeros((20, 30, 3), np.uint8), deep_original=deep)
    assert doc.deep_original is not None and np.shares_memory(doc.deep_original, deep)
    with pytest.raises(ValueError, match="read-only"):
        doc.deep_original[0, 0, 0] = 1
    with pytest.raises(InputError, match="does not match"):
        Document(np.zeros((20, 30, 3), np.uint8), deep_original=deep[:10])

def _disc(radius: int) -> np.ndarray:
    """The pixels within ``radius`` of the centre: the margin by which edited labels grow
    into the hole (maskops.grow's disc)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def test_edited_labels_become_the_hole_and_one_undo_reverts_both():
    doc = _doc(200, 200)
    computed = np.zeros((200, 200), np.uint8)
    computed[:, 100:] = 1
    doc.replace_layer(Layer.LABELS, computed, "Compute map")
    doc.computed_labels = computed.copy()
    doc.label_hole_margin = 4
    assert not doc.mask.any()  # setting the computed map itself changes nothing
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (40, 100), (60, 100), 6, 1)
    changed = doc.layer(Layer.LABELS) != computed
    expected = cv2.dilate(changed.astype(np.uint8) * 255, _disc(4))
    assert np.array_equal(doc.mask, expected)  # exactly the changed area plus the margin
    doc.undo()
    assert not doc.mask.any() and np.array_equal(doc.layer(Layer.LABELS), computed)
    doc.redo()
    assert np.array_equal(doc.mask, expected)


def test_label_edits_add_to_a_painted_mask_without_erasing_it():
    doc = _doc(200, 200)
    doc.computed_labels = doc.layer(Layer.LABELS).copy()
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (150, 150), (160, 160), 5, 255)
    painted = doc.mask.copy()
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (30, 30), (30, 30), 5, 2)
    assert (doc.mask[painted > 0] == 255).all() and doc.mask[30, 30] == 255


def test_a_label_stroke_after_undoing_the_map_makes_only_its_own_hole():
    doc = _doc(300, 300)
    computed = np.full((300, 300), 4, np.uint8)
    doc.computed_labels = computed.copy()
    doc.replace_layer(Layer.LABELS, computed, "Compute map")
    doc.undo()  # the layer is unlabelled again
    doc.label_hole_margin = 3
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (100, 100), (105, 100), 4, 1)
    assert 0 < (doc.mask > 0).sum() < 400  # the stroke and its margin, not whole tiles


def test_each_label_edit_adds_only_what_it_changed():
    doc = _doc(200, 200)
    doc.replace_layer(Layer.LABELS, np.zeros((200, 200), np.uint8), "Compute map")
    doc.label_hole_margin = 2
    with doc.step("first"):
        doc.paint_segment(Layer.LABELS, (40, 40), (40, 40), 5, 1)
    doc.apply_result(doc.image.copy())  # the first hole is filled: the mask is cleared
    assert not doc.mask.any()
    with doc.step("second"):
        doc.paint_segment(Layer.LABELS, (80, 80), (80, 80), 5, 1)  # same 256x256 tile
    assert doc.mask[80, 80] == 255 and doc.mask[40, 40] == 0


def test_bound_method_listeners_do_not_keep_their_owner_alive():
    import gc
    import weakref as weak

    doc = _doc()

    class View:
        def __init__(self):
            self.heard = 0

        def on_change(self, layer, box):
            self.heard += 1

    view = View()
    doc.add_listener(view.on_change)
    with doc.step("s"):
        doc.paint_segment(Layer.MASK, (5, 5), (5, 5), 3, 255)
    assert view.heard == 1
    ref = weak.ref(view)
    del view
    gc.collect()
    assert ref() is None
    with doc.step("t"):
        doc.paint_segment(Layer.MASK, (50, 50), (50, 50), 3, 255)  # no error, no call


def test_when_idle_runs_now_or_right_after_the_open_step():
    doc = _doc()
    calls = []
    doc.when_idle(lambda: calls.append("now"))
    assert calls == ["now"]
    doc.begin_step("drag")
    doc.when_idle(lambda: calls.append("after drag"))
    doc.paint_segment(Layer.MASK, (10, 10), (20, 20), 3, 255)
    assert calls == ["now"]
    doc.end_step()
    assert calls == ["now", "after drag"]
    doc.begin_step("abandoned")
    doc.when_idle(lambda: calls.append("after cancel"))
    doc.cancel_step()
    assert calls[-1] == "after cancel"


def test_a_label_step_touching_unchanged_tiles_far_away_derives_the_hole_correctly():
    doc = _doc(600, 600)
    doc.replace_layer(Layer.LABELS, np.zeros((600, 600), np.uint8), "map")
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (550, 550), (550, 550), 5, 0)  # same label: no change
        doc.paint_segment(Layer.LABELS, (40, 40), (40, 40), 5, 3)
    assert doc.mask[40, 40] == 255 and not doc.mask[300:].any()


def test_a_new_label_map_undoes_with_its_label_set_and_computed_map():
    doc = _doc(300, 300)
    faces = np.full((300, 300), 3, np.uint8)
    scene = np.full((300, 300), 7, np.uint8)
    first = doc.replace_label_map(faces, "faces", "Compute map (faces)")
    assert first is not None and doc.undo_label() == "Compute map (faces)"
    doc.replace_label_map(scene, "scene", "Compute map (scene)")
    assert doc.label_set == "scene" and np.array_equal(doc.computed_labels, scene)
    assert not doc.computed_labels.flags.writeable and not doc.mask.any()
    changed = []
    doc.add_listener(lambda layer, box: changed.append(layer))
    doc.undo()
    assert doc.label_set == "faces" and np.array_equal(doc.computed_labels, faces)
    assert np.array_equal(doc.layer(Layer.LABELS), faces) and Layer.LABELS in changed
    doc.undo()
    assert doc.label_set is None and doc.computed_labels is None
    assert (doc.layer(Layer.LABELS) == UNLABELLED).all()
    doc.redo()
    doc.redo()
    assert doc.label_set == "scene" and np.array_equal(doc.computed_labels, scene)


def test_a_label_map_that_only_renames_the_set_is_still_one_step():
    doc = _doc(64, 64)
    labels = np.full((64, 64), 2, np.uint8)
    doc.replace_label_map(labels, "faces", "Compute map")
    changed = []
    doc.add_listener(lambda layer, box: changed.append(layer))
    assert doc.replace_label_map(labels, "faces", "Compute map again") is None
    assert not changed and doc.undo_label() == "Compute map"  # nothing changed: no step
    step = doc.replace_label_map(labels, "regions", "Import label map")
    assert step is not None and not step.diffs and doc.label_set == "regions"
    doc.undo()
    assert doc.label_set == "faces" and Layer.LABELS in changed  # listeners hear of it


def test_a_wrong_sized_label_map_changes_nothing():
    doc = _doc(64, 64)
    with pytest.raises(InputError, match="labels must be"):
        doc.replace_label_map(np.zeros((32, 64), np.uint8), "faces", "Compute map")
    assert doc.label_set is None and not doc.can_undo()


def test_a_grey_photo_is_saved_grey_while_its_pixels_are(tmp_path):
    from PIL import Image

    from engines import registry
    from engines.fileio import load_image, save_image

    y, x = np.mgrid[0:48, 0:64]
    Image.fromarray((40 + 2 * x + y).astype(np.uint8), "L").save(tmp_path / "bw.png")
    loaded = load_image(tmp_path / "bw.png")
    doc = Document(loaded.rgb, loaded.alpha, str(tmp_path / "bw.png"), loaded.notes,
                   loaded.metadata, loaded.deep_original, loaded.grey)
    assert doc.grey and not Document(loaded.rgb).grey

    def saved_mode(name: str) -> str:
        path = save_image(tmp_path / name, doc.image, doc.alpha, metadata=doc.metadata,
                          deep_original=doc.deep_original, grey=doc.grey)
        with Image.open(path) as saved:
            return saved.mode

    hole = np.zeros((48, 64), np.uint8)
    hole[16:32, 20:44] = 255
    doc.replace_layer(Layer.MASK, hole, "Mask")
    doc.apply_result([*registry.create("telea").run(doc.build_request())][-1].image)
    assert saved_mode("filled.png") == "L"
    with Image.open(tmp_path / "filled.png") as saved:
        stored = np.asarray(saved)
    assert np.array_equal(stored, doc.image[..., 0]) and (stored != loaded.rgb[..., 0]).any()
    coloured = doc.image.copy()
    coloured[20:30, 25:35] = (30, 90, 200)  # a fill from a colour reference photo
    doc.apply_result(coloured)
    assert saved_mode("coloured.png") == "RGB"
    doc.undo()
    assert saved_mode("undone.png") == "L"


@pytest.mark.parametrize("margin", [0, 1, 8, 37, 70])
def test_the_hole_grown_tile_by_tile_is_the_whole_change_grown(margin, monkeypatch):
    tile = 32  # small tiles, so that margins reach across several
    monkeypatch.setattr(document_module, "TILE", tile)
    rng = np.random.default_rng(margin)
    height, width = 4 * tile + 9, 5 * tile + 3  # edge tiles cut short
    doc = _doc(height, width, seed=margin)
    doc.replace_layer(Layer.LABELS, np.zeros((height, width), np.uint8), "map")
    doc.label_hole_margin = margin
    with doc.step("Mask brush"):  # a painted hole, soft-edged, that the label hole joins
        doc.paint_segment(Layer.MASK, (100, 90), (140, 100), 6, 128)
    painted = doc.mask.copy()
    labels = doc.layer(Layer.LABELS)
    with doc.step("Label edits"):
        doc.touch(Layer.LABELS, Box(0, 0, height, width))
        labels[tile:2 * tile, tile:2 * tile] = 1  # exactly one whole tile
        labels[2 * tile + 5:2 * tile + 9, 3 * tile - 2:3 * tile + 3] = 2  # across a corner
        labels[height - 3:, :7] = 3  # at the picture's edge
        labels[rng.integers(0, height, 12), rng.integers(0, width, 12)] = 4  # single pixels
    changed = (labels != 0).astype(np.uint8) * 255
    grown = changed if margin == 0 else cv2.dilate(changed, _disc(margin))
    expected = np.maximum(painted, grown)
    assert np.array_equal(doc.mask, expected)
    doc.undo()
    assert np.array_equal(doc.mask, painted) and not labels.any()
    doc.redo()
    assert np.array_equal(doc.mask, expected)


def test_a_large_label_edit_grows_only_around_the_edge_of_its_change(monkeypatch):
    """A change that covers whole tiles and ends along a line: the pixels grown are a strip
    along that line, not the tiles it crosses, and the hole is still the change grown."""
    height, width, margin, edge = 4 * TILE, 6 * TILE, 8, 2 * TILE + 188
    doc = _doc(height, width)
    doc.replace_layer(Layer.LABELS, np.zeros((height, width), np.uint8), "map")
    doc.label_hole_margin = margin
    grown = []
    grow = document_module.maskops.grow
    monkeypatch.setattr(document_module.maskops, "grow",
                        lambda mask, pixels: grown.append(mask.size) or grow(mask, pixels))
    labels = doc.layer(Layer.LABELS)
    with doc.step("Label fill"):
        doc.touch(Layer.LABELS, Box(0, 0, height, edge))
        labels[:, :edge] = 4
    expected = np.zeros((height, width), np.uint8)
    expected[:, :edge + margin] = 255  # the change grown: straight edges grow straight
    assert np.array_equal(doc.mask, expected)
    # one strip per row of tiles: the margin beyond the edge, and the margin either side
    # of that where the growth comes from (the tiles it crosses are 4 * 256 * 272 px)
    assert sum(grown) <= height * 4 * margin
    doc.undo()
    assert not doc.mask.any() and not labels.any()
    doc.settle()


def test_a_large_label_edit_grows_its_hole_without_temporaries_of_its_size():
    height, width = 6 * TILE, 8 * TILE
    doc = _doc(height, width)
    doc.replace_layer(Layer.LABELS, np.zeros((height, width), np.uint8), "map")
    doc.replace_layer(Layer.MASK, np.full((height, width), 255, np.uint8), "all hole")
    labels = doc.layer(Layer.LABELS)
    doc.settle()
    doc.begin_step("Label fill")
    doc.touch(Layer.LABELS, Box(0, 0, 4 * TILE, 6 * TILE))
    labels[:4 * TILE, :6 * TILE] = 5  # half the picture
    tracemalloc.start()  # no compression job runs: the earlier ones have ended
    try:
        step = doc.end_step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the mask is all hole already: no mask tile is backed up; the change alone is 1.5 MB
    assert {d.layer for d in step.diffs} == {Layer.LABELS}
    assert peak < height * width / 8
    doc.undo()
    assert not labels.any() and (doc.mask == 255).all()
