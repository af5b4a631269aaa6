"""A checkpoint replaced on disk while its old network is held in the model slot (Models ->
Import file..., ``models import`` or ``train semantic`` in another process) is loaded again at
the next run, for a neural engine, the face detector and the segmentation parsers; an
unchanged file is never loaded twice, and the old network's memory is released."""

from __future__ import annotations

import gc
import os
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import download, faces, registry, weights
from engines.base import InpaintRequest
from engines.device import MODEL_SLOT
from engines.neural.migan import Migan256Engine
from engines.neural.migan_network import MiganGenerator
from engines.segmentation import face, segformer
from engines.segmentation.base import create_parser

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _empty_model_slot():
    MODEL_SLOT.clear()
    yield
    MODEL_SLOT.clear()


def counted(monkeypatch, owner, name: str) -> list[tuple]:
    """Replace ``owner.name`` by a wrapper that records each call, then calls the original."""
    calls: list[tuple] = []
    original = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def same_state(network: torch.nn.Module, state: dict) -> bool:
    loaded = network.state_dict()
    return loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


# --- a neural engine (NeuralEngine.network) -------------------------------------------------


def migan_file(path: Path, seed: int) -> dict:
    """A MI-GAN 256 state dict as upstream saves it, random (non-zero biases), at ``path``."""
    torch.manual_seed(seed)
    network = MiganGenerator(256)
    with torch.no_grad():
        for name, tensor in network.named_parameters():
            if name.endswith(("bias", "noise_strength")):
                tensor.copy_(torch.randn_like(tensor) * 0.1)
    state = network.state_dict()
    torch.save(state, path)
    return state


def fill(engine) -> np.ndarray:
    mask = np.zeros((48, 64), np.uint8)
    mask[12:36, 20:44] = 255
    return list(engine.run(InpaintRequest(picture(48, 64), mask)))[-1].image


def test_an_engine_loads_a_checkpoint_imported_over_the_one_it_holds(model_cache, tmp_path,
                                                                     monkeypatch):
    loads = counted(monkeypatch, Migan256Engine, "load_network")
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    state_a, state_b = migan_file(first, 1), migan_file(second, 2)
    download.import_file("migan-256-places2", first)
    engine = registry.create("migan-256", device="cpu")
    with_a = fill(engine)
    held = weakref.ref(engine.network(CPU))
    assert same_state(held(), state_a) and len(loads) == 1
    assert np.array_equal(fill(engine), with_a) and len(loads) == 1  # unchanged: no reload

    download.import_file("migan-256-places2", second)  # atomic replace at the same path
    with_b = fill(registry.create("migan-256", device="cpu"))
    assert len(loads) == 2 and same_state(engine.network(CPU), state_b)
    assert not np.array_equal(with_b, with_a)
    gc.collect()
    assert held() is None  # the slot let the old network go


def test_a_checkpoint_rewritten_in_place_with_its_size_and_time_kept_loads_again(
        tmp_path, monkeypatch):
    loads = counted(monkeypatch, Migan256Engine, "load_network")
    path = tmp_path / "migan_256_places2.pt"
    migan_file(path, 1)
    before = path.stat()
    engine = registry.create("migan-256", weights_path=str(path), device="cpu")
    with_a = fill(engine)

    state_b = migan_file(path, 2)  # same inode, same size, then the old time put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)
    assert not np.array_equal(fill(engine), with_a)
    assert len(loads) == 2 and same_state(engine.network(CPU), state_b)


# --- face detection (engines.faces.detect_faces) --------------------------------------------


def retinaface_file(path: Path, seed: int) -> None:
    """RetinaFace MobileNet-0.25 as facexlib releases it (DataParallel ``module.`` keys)."""
    from facexlib.detection.retinaface import RetinaFace

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = RetinaFace(network_name="mobile0.25", device=CPU)
    torch.save({f"module.{k}": v for k, v in network.state_dict().items()}, path)


def detections(found: list[faces.Face]) -> list[tuple]:
    return [(face.box, face.score, face.landmarks.tobytes()) for face in found]


def test_face_detection_uses_a_detector_imported_over_the_held_one(model_cache, tmp_path,
                                                                   monkeypatch):
    loads = counted(monkeypatch, faces, "load_detector")
    image = picture(96, 128, seed=3)

    def detect(**options):
        return detections(faces.detect_faces(image, "mobilenet", min_score=0.0,
                                             detect_size=None, device="cpu", **options))

    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    retinaface_file(first, 1)
    retinaface_file(second, 2)
    download.import_file("face-detection-mobilenet", first)
    with_a = detect()
    assert detect() == with_a and len(loads) == 1  # unchanged: no reload

    download.import_file("face-detection-mobilenet", second)
    with_b = detect()
    assert len(loads) == 2 and with_b != with_a
    assert with_b == detect(network=faces.load_detector("mobilenet", CPU, second))


# --- segmentation parsers (NeuralParser.networks) -------------------------------------------


def test_a_parser_uses_a_checkpoint_imported_over_the_held_one(model_cache, tmp_path,
                                                               monkeypatch):
    from safetensors.torch import save_model

    loads = counted(monkeypatch, segformer.SceneLiteParser, "load_networks")
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    states = []
    for seed, path in ((1, first), (2, second)):
        torch.manual_seed(seed)
        network = segformer.build_network("b0")
        save_model(network, str(path))
        states.append(network.state_dict())
    image = picture(48, 80, seed=4)
    parser = create_parser("scene-lite", variant="b0", device="cpu")

    def parse():
        return create_parser("scene-lite", variant="b0", device="cpu").parse(image)

    download.import_file("segformer-b0-ade", first)
    with_a = parse()
    assert np.array_equal(parse(), with_a) and len(loads) == 1  # unchanged: no reload

    download.import_file("segformer-b0-ade", second)
    with_b = parse()
    assert len(loads) == 2 and not np.array_equal(with_b, with_a)
    assert same_state(parser.networks(CPU), states[1]) and len(loads) == 2


def test_the_face_parser_reloads_when_only_its_detector_is_replaced(model_cache, tmp_path,
                                                                    monkeypatch):
    loads = counted(monkeypatch, face.FaceParser, "load_networks")
    parsing_path = weights.local_path("face-bisenet")
    parsing_path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(face.build_parsing_network("bisenet").state_dict(), parsing_path)
    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    retinaface_file(first, 1)
    retinaface_file(second, 2)
    download.import_file("face-detection-mobilenet", first)
    parser = create_parser("face", detector="mobilenet", device="cpu")
    held = parser.networks(CPU)
    assert parser.networks(CPU) is held and len(loads) == 1

    download.import_file("face-detection-mobilenet", second)
    _, detector = parser.networks(CPU)
    expected = faces.load_detector("mobilenet", CPU, second)
    assert len(loads) == 2 and same_state(detector, expected.state_dict())
