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
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INPAINT_STUDIO_MODELS", str(folder))
        yield folder


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_plugins(tmp_path_factory):
    """An empty user plugin folder: tests never load the user's plugins (loaded once per
    process, so it is set for the whole session)."""
    folder = tmp_path_factory.mktemp("user-plugins")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INPAINT_STUDIO_PLUGINS", str(folder))
        yield folder


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
def rgb() -> np.ndarray:
    """A 60x40 RGB gradient, ``(40, 60, 3)`` uint8, for the file format tests."""
    y, x = np.mgrid[0:40, 0:60]
    return np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.uint8)


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
def make_spec(model_cache, monkeypatch):
    """Register test WeightSpecs with unique ids (removed after the test). The registration
    goes through ``monkeypatch``, so a test that replaces such a spec with
    ``monkeypatch.setitem(weights._SPECS, ...)`` gets it removed all the same (undone in
    reverse order: the replacement, then the registration), not put back."""
    import uuid

    from engines import weights

    def make(**fields) -> weights.WeightSpec:
        fields.setdefault("id", f"test-{uuid.uuid4().hex[:8]}")
        fields.setdefault("engine", "test")
        fields.setdefault("title", "Test net")
        fields.setdefault("filename", "net.pth")
        spec = weights.WeightSpec(**fields)
        monkeypatch.setitem(weights._SPECS, spec.id, spec)  # undone: removed
        monkeypatch.setitem(weights._SPEC_MODULES, spec.id, __name__)
        return weights.register_spec(spec)  # identical: already there

    return make


class OtherProcess:
    """A separate Python process holding one checkpoint's lock (see ``checkpoint_held``)."""

    SCRIPT = ("import sys\n"
              "from engines import weights\n"
              "spec = weights.WeightSpec(id=sys.argv[1], engine='test', title='t', "
              "filename='net.pth')\n"
              "weights.register_spec(spec)\n"
              "with weights.checkpoint_lock(spec.id):\n"
              "    print('locked', flush=True)\n"
              "    sys.stdin.readline()\n")

    def __init__(self, weights_id: str) -> None:
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, weights_id], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        """Let go of the lock and exit, as after a finished download."""
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.wait(20) == 0

    def crash(self) -> None:
        """Die without releasing anything (the OS drops the lock)."""
        self.process.kill()
        self.process.wait(20)


@pytest.fixture
def checkpoint_held():
    """``checkpoint_held(weights_id)``: another process that holds the checkpoint's lock
    (as while it downloads it) until ``.release()`` or ``.crash()``."""
    holders: list[OtherProcess] = []

    def hold(weights_id: str) -> OtherProcess:
        holders.append(OtherProcess(weights_id))
        return holders[-1]

    yield hold
    for holder in holders:
        if holder.process.poll() is None:
            holder.crash()
