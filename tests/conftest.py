"""Shared test setup: offscreen Qt, an isolated model cache, small deterministic images."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny test networks run several times faster on one thread than on a shared pool."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def _isolated_model_cache(tmp_path_factory):
    """Point the model cache at a temporary folder: tests never see the user's cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("INPAINT_STUDIO_MODELS")
    os.environ["INPAINT_STUDIO_MODELS"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("INPAINT_STUDIO_MODELS", None)
    else:
        os.environ["INPAINT_STUDIO_MODELS"] = previous


@pytest.fixture(autouse=True)
def _isolated_preferences(tmp_path, monkeypatch):
    """Editor preferences go to a per-test INI file, never to the user's settings."""
    monkeypatch.setenv("INPAINT_STUDIO_CONFIG", str(tmp_path / "preferences.ini"))


@pytest.fixture
def model_cache(_isolated_model_cache, tmp_path, monkeypatch):
    """A fresh, empty model cache folder for one test."""
    folder = tmp_path / "models"
    monkeypatch.setenv("INPAINT_STUDIO_MODELS", str(folder))
    return folder


@pytest.fixture
def photo() -> np.ndarray:
    """The bundled rocket photo, ``(427, 640, 3)`` uint8 RGB."""
    from engines.fileio import load_image

    return load_image(SAMPLES / "rocket.jpg").rgb


@pytest.fixture
def textured() -> np.ndarray:
    """A 96x128 RGB image with smooth gradients and texture (deterministic)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:96, 0:128]
    base = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.float32)
    noise = rng.normal(0, 8, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def square_mask() -> np.ndarray:
    """A 96x128 mask with a 24x32 hole in the middle (255 = hole)."""
    mask = np.zeros((96, 128), np.uint8)
    mask[36:60, 48:80] = 255
    return mask


@pytest.fixture
def make_spec(model_cache):
    """Register test WeightSpecs with unique ids (removed after the test)."""
    import uuid

    from engines import weights

    made = []

    def make(**fields) -> weights.WeightSpec:
        fields.setdefault("id", f"test-{uuid.uuid4().hex[:8]}")
        fields.setdefault("engine", "test")
        fields.setdefault("title", "Test net")
        fields.setdefault("filename", "net.pth")
        spec = weights.register_spec(weights.WeightSpec(**fields))
        made.append(spec.id)
        return spec

    yield make
    for weights_id in made:
        weights.unregister_spec(weights_id)
