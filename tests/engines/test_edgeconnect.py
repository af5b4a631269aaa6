"""EdgeConnect: upstream key layout, upstream file format through the user path, stages,
sketch guidance and the known-pixels guarantee (random weights, small CPU images)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import registry, weights
from engines.base import Cancelled, CancelToken, EngineError, InpaintRequest, Readiness
from engines.neural.edgeconnect import (
    EDGE_FILE,
    INPAINT_FILE,
    SKETCH_COLOR,
    EdgeConnectNetwork,
    canny_edges,
)

KEYS_TSV = Path(__file__).with_name("edgeconnect_keys.tsv")
ENGINES = {"edgeconnect": "places2", "edgeconnect-face": "celeba", "edgeconnect-psv": "psv"}




def _save_upstream(state: dict, path: Path, iteration: int = 123) -> None:
    """Write a generator file as upstream's BaseModel.save did for the release (PyTorch 1.0:
    ``torch.save`` of ``{"iteration", "generator"}`` in the legacy, pre-zip pickle format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"iteration": iteration, "generator": state}, path,
               _use_new_zipfile_serialization=False)


@pytest.fixture(scope="module")
def network() -> EdgeConnectNetwork:
    torch.manual_seed(3)
    net = EdgeConnectNetwork().eval()
    for module in net.modules():  # non-trivial power-iteration vectors, as after training
        if hasattr(module, "weight_u"):
            module.weight_u.normal_()
            module.weight_v.normal_()
    return net


@pytest.fixture(scope="module")
def upstream_folder(network, tmp_path_factory) -> Path:
    """An upstream ``checkpoints/<dataset>`` folder with both generator files."""
    folder = tmp_path_factory.mktemp("edgeconnect") / "places2"
    _save_upstream(network.edge.state_dict(), folder / EDGE_FILE)
    _save_upstream(network.inpaint.state_dict(), folder / INPAINT_FILE)
    return folder


def _import_from_zip(engine_name: str, folder: Path, tmp_path: Path) -> None:
    """Pack ``folder`` as the official zip does (``<dataset>/<file>``) and import both files
    through the model manager, which extracts each spec's member into the cache."""
    from engines.download import import_file

    archive = tmp_path / "checkpoints.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed:
        for filename in (EDGE_FILE, INPAINT_FILE):
            packed.write(folder / filename, f"{folder.name}/{filename}")
    for weights_id in registry.engine_class(engine_name).weights:
        import_file(weights_id, archive)


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 50x70 image (not a multiple of 4) with shapes crossing a hole."""
    import cv2

    rng = np.random.default_rng(1)
    image = np.full((50, 70, 3), 90, np.uint8)
    cv2.rectangle(image, (5, 5), (40, 30), (200, 40, 40), -1)
    cv2.circle(image, (50, 32), 12, (30, 210, 90), -1)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((50, 70), np.uint8)
    mask[18:36, 22:52] = 255
    return image, mask


def test_state_dict_matches_upstream_key_list():
    rows = [line.split("\t") for line in KEYS_TSV.read_text().splitlines() if line]
    expected = [(name, shape, dtype) for name, shape, dtype in rows]
    state = EdgeConnectNetwork().state_dict()
    actual = [(name, str(tuple(t.shape)), str(t.dtype).removeprefix("torch."))
              for name, t in state.items()]
    assert actual == expected


def test_engines_registered_with_sketch_guidance():
    for name, dataset in ENGINES.items():
        cls = registry.engine_class(name)
        assert "sketch" in {g.value for g in cls.guidance}
        specs = [weights.get_spec(w) for w in cls.weights]
        assert [s.archive_member for s in specs] == [f"{dataset}/{EDGE_FILE}",
                                                     f"{dataset}/{INPAINT_FILE}"]
        assert all("13G_Bszli37e4An-owPLXSBsayVafqfGX" in s.urls[0] for s in specs)


def test_status_without_weights_says_how_to_download(model_cache):
    status = registry.create("edgeconnect-face").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert "models download edgeconnect-celeba-edge edgeconnect-celeba-inpaint" in status.detail
    with pytest.raises(EngineError, match="not installed"):
        list(registry.create("edgeconnect-face").run(
            InpaintRequest(np.zeros((8, 8, 3), np.uint8), np.full((8, 8), 255, np.uint8))))


def test_canny_preprocessing_ignores_the_hole(scene):
    image, mask = scene
    hole = mask >= 128
    gray, edges = canny_edges(image, hole)
    assert gray.shape == hole.shape and gray.min() >= 0.0 and gray.max() <= 1.0
    assert edges[hole].sum() == 0  # the hole's content never produces edges
    assert edges[~hole].sum() > 10  # the shapes' outlines outside it do
    hidden = image.copy()
    hidden[hole] = 255 - hidden[hole]
    assert np.array_equal(canny_edges(hidden, hole)[1], edges)


def test_user_path_runs_on_upstream_files(model_cache, upstream_folder, scene, tmp_path):
    assert (upstream_folder / EDGE_FILE).read_bytes()[:2] == b"\x80\x02"  # legacy pickle
    _import_from_zip("edgeconnect", upstream_folder, tmp_path)
    for weights_id in ("edgeconnect-places2-edge", "edgeconnect-places2-inpaint"):
        assert weights.local_path(weights_id).is_file()
    engine = registry.create("edgeconnect", device="cpu")
    assert engine.status().ready
    image, mask = scene
    stages = list(engine.run(InpaintRequest(image, mask, crop_margin=16), CancelToken()))
    assert [s.name for s in stages] == ["edges", "refined"]
    assert [s.final for s in stages] == [False, True]
    outside = mask == 0
    for stage in stages:
        assert stage.image.shape == image.shape
        assert np.array_equal(stage.image[outside], image[outside])
    assert not np.array_equal(stages[-1].image[mask == 255], image[mask == 255])
    engine.release()


def test_forward_matches_generators_composed_as_upstream(network, scene):
    """completed = edge_out*m + canny*(1-m); output = inpaint(cat(img*(1-m)+m, completed))."""
    image, mask = scene
    image, mask = image[:48, :68], mask[:48, :68]
    hole = mask >= 128
    gray, edges = canny_edges(image, hole)
    plane = lambda a: torch.from_numpy(a.astype(np.float32))[None, None]  # noqa: E731
    img = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    m = plane(hole)
    with torch.no_grad():
        completed, output = network(img, plane(gray), plane(edges), m)
        edge_out = network.edge(torch.cat((plane(gray) * (1 - m) + m, plane(edges) * (1 - m), m),
                                          1))
        expected = network.inpaint(torch.cat((img * (1 - m) + m, completed), 1))
    assert torch.equal(completed[m.bool()], edge_out[m.bool()])
    assert torch.equal(completed[~m.bool()], plane(edges)[~m.bool()])
    assert torch.equal(output, expected)
    assert output.min() >= 0.0 and output.max() <= 1.0


def test_sketch_lines_become_edges_in_the_hole(model_cache, network, upstream_folder, scene):
    image, mask = scene
    sketch = np.zeros_like(mask)
    sketch[27, 0:70] = 255  # a horizontal line through the hole and the known area
    engine = registry.create("edgeconnect", weights_path=str(upstream_folder), device="cpu")
    request = InpaintRequest(image, mask, crop_margin=16)
    plain = list(engine.run(request))
    guided = list(engine.run(request.evolve(sketch=sketch)))
    line_in_hole = (sketch == 255) & (mask == 255)
    assert np.all(guided[0].image[line_in_hole] == SKETCH_COLOR.astype(np.uint8))
    outside = mask == 0
    assert np.array_equal(guided[0].image[outside], image[outside])  # sketch outside: ignored
    assert not np.array_equal(guided[-1].image, plain[-1].image)  # the painter followed it
    hole = mask >= 128
    gray, edges = canny_edges(image[:48, :68], hole[:48, :68])
    plane = lambda a: torch.from_numpy(a.astype(np.float32))[None, None]  # noqa: E731
    with torch.no_grad():
        completed = network.complete_edges(plane(gray), plane(edges), plane(hole[:48, :68]),
                                           plane(line_in_hole[:48, :68]))
    assert torch.all(completed[0, 0][torch.from_numpy(line_in_hole[:48, :68])] == 1)


def test_cancel_stops_the_edge_generator_part_way(upstream_folder, scene):
    """The networks the model slot holds stop at their next layer once cancelled: a cancel
    inside the edge generator ends the run before the edges stage, and the painter never
    runs."""
    engine = registry.create("edgeconnect", weights_path=str(upstream_folder), device="cpu")
    loaded = engine.network(torch.device("cpu"))  # what the run will take from the slot
    edge_layers = [m for m in loaded.edge.modules() if not list(m.children())]
    painter_layers = [m for m in loaded.inpaint.modules() if not list(m.children())]
    cancel, ran = CancelToken(), []
    hooks = [edge_layers[len(edge_layers) // 2].register_forward_hook(lambda *_: cancel.cancel()),
             edge_layers[-1].register_forward_hook(lambda *_: ran.append("edge end")),
             painter_layers[0].register_forward_hook(lambda *_: ran.append("painter"))]
    try:
        stages = engine.run(InpaintRequest(*scene), cancel)
        with pytest.raises(Cancelled):
            next(stages)
        assert ran == []
        assert list(engine.run(InpaintRequest(*scene)))[-1].final  # and runs again
        assert ran == ["edge end", "painter"]
    finally:
        for hook in hooks:
            hook.remove()


def test_hole_content_does_not_matter(upstream_folder, scene):
    image, mask = scene
    engine = registry.create("edgeconnect-psv", weights_path=str(upstream_folder), device="cpu")
    first = list(engine.run(InpaintRequest(image, mask, crop_margin=16)))[-1].image
    scribbled = image.copy()
    scribbled[mask == 255] = 255 - scribbled[mask == 255]
    second = list(engine.run(InpaintRequest(scribbled, mask, crop_margin=16)))[-1].image
    assert np.array_equal(first[mask == 255], second[mask == 255])


def test_data_parallel_prefix_is_accepted(tmp_path, network, scene):
    folder = tmp_path / "celeba"
    _save_upstream({f"module.{k}": v for k, v in network.edge.state_dict().items()},
                   folder / EDGE_FILE)
    _save_upstream(network.inpaint.state_dict(), folder / INPAINT_FILE)
    engine = registry.create("edgeconnect-face", weights_path=str(folder), device="cpu")
    image, mask = scene
    assert list(engine.run(InpaintRequest(image, mask)))[-1].final


def test_swapped_files_are_rejected_with_a_clear_error(tmp_path, upstream_folder, scene):
    folder = tmp_path / "swapped"
    folder.mkdir()
    shutil.copy(upstream_folder / INPAINT_FILE, folder / EDGE_FILE)
    shutil.copy(upstream_folder / EDGE_FILE, folder / INPAINT_FILE)
    engine = registry.create("edgeconnect", weights_path=str(folder), device="cpu")
    image, mask = scene
    with pytest.raises(weights.WeightsCorruptError, match="does not fit the EdgeConnect"):
        list(engine.run(InpaintRequest(image, mask)))


def test_file_without_generator_entry_is_rejected(tmp_path, upstream_folder, scene):
    folder = tmp_path / "bare"
    folder.mkdir()
    torch.save(EdgeConnectNetwork().edge.state_dict(), folder / EDGE_FILE)
    shutil.copy(upstream_folder / INPAINT_FILE, folder / INPAINT_FILE)
    engine = registry.create("edgeconnect", weights_path=str(folder), device="cpu")
    image, mask = scene
    with pytest.raises(weights.WeightsCorruptError, match="no 'generator' entry"):
        list(engine.run(InpaintRequest(image, mask)))
