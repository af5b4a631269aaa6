"""The CUDA path, on a machine with a CUDA GPU (skipped elsewhere: CI has none).

Guided PatchMatch's torch solver and the neural engines run on the GPU when one is there;
these tests run them there and hold them to what the CPU path promises: pixels outside the
hole untouched, the hole filled, the same seed giving the same fill, guidance followed
(``test_patchmatch.py``'s labels and exclusion test runs on CUDA too), a
failed GPU allocation turned into the user-facing error with the GPU's memory given back.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engines import registry  # noqa: E402
from engines.base import (  # noqa: E402
    Cancelled,
    CancelToken,
    EngineError,
    InpaintRequest,
    Strategy,
)
from engines.classical.patchmatch import engine as patchmatch  # noqa: E402
from engines.classical.patchmatch.engine import PatchMatchEngine  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _textured(height: int = 96, width: int = 128, seed: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([80 + x, 60 + y, 150 + np.sin(x / 3) * 40], axis=-1)
    return np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)


def _square(height: int = 96, width: int = 128) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[32:60, 44:76] = 255
    return mask


def _hole_psnr(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    hole = mask >= 128
    error = result[hole].astype(np.float64) - original[hole]
    return float(10 * np.log10(255.0 ** 2 / max(np.mean(error ** 2), 1e-9)))


def _final(engine, request: InpaintRequest) -> np.ndarray:
    return list(engine.run(request))[-1].image


# --- Guided PatchMatch ---------------------------------------------------------------------


def test_patchmatch_runs_on_the_gpu_when_it_is_named():
    assert patchmatch._torch_device("cuda", required=False).type == "cuda"
    assert patchmatch._torch_device("auto", required=True).type == "cuda"  # backend=torch
    assert patchmatch._torch_device("auto", required=False) is None  # numba: faster


def test_patchmatch_on_cuda_repeats_keeps_the_outside_and_fills_like_the_cpu():
    image, mask = _textured(), _square()
    hole = mask >= 128
    on_gpu = _final(PatchMatchEngine(backend="torch"), InpaintRequest(image, mask, seed=3))
    again = _final(PatchMatchEngine(), InpaintRequest(image, mask, seed=3, device="cuda"))
    on_numba = _final(PatchMatchEngine(), InpaintRequest(image, mask, seed=3, device="cpu"))
    np.testing.assert_array_equal(on_gpu, again)  # same seed, same fill
    np.testing.assert_array_equal(on_gpu[~hole], image[~hole])
    gpu_psnr, numba_psnr = _hole_psnr(on_gpu, image, mask), _hole_psnr(on_numba, image, mask)
    assert gpu_psnr > 22.0 and abs(gpu_psnr - numba_psnr) < 3.0
    assert np.abs(on_gpu[hole].astype(int) - on_numba[hole]).mean() < 12.0


def test_patchmatch_on_cuda_fills_like_the_torch_solver_on_the_cpu():
    image, mask = _textured(), _square()
    hole = mask >= 128
    engine = PatchMatchEngine(backend="torch")
    on_gpu = _final(engine, InpaintRequest(image, mask, seed=5, device="cuda"))
    on_cpu = _final(engine, InpaintRequest(image, mask, seed=5, device="cpu"))
    # the same algorithm and hash-drawn candidates; float sums may round apart
    assert np.abs(on_gpu[hole].astype(int) - on_cpu[hole]).mean() < 6.0
    assert abs(_hole_psnr(on_gpu, image, mask) - _hole_psnr(on_cpu, image, mask)) < 1.5


def test_patchmatch_on_cuda_stops_between_iterations_when_cancelled(monkeypatch):
    from engines.classical.patchmatch import torch_solver

    token = CancelToken()
    steps = []

    class Counting(torch_solver.TorchLevelSolver):
        def step(self, *args, **kwargs):
            steps.append(self.device.type)
            result = super().step(*args, **kwargs)
            if len(steps) == 2:
                token.cancel()
            return result

    monkeypatch.setattr(torch_solver, "TorchLevelSolver", Counting)
    with pytest.raises(Cancelled):
        list(PatchMatchEngine().run(InpaintRequest(_textured(), _square(), device="cuda"),
                                    token))
    assert steps == ["cuda", "cuda"]


# --- neural engines ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lama", "migan", "deepfill2", "deepfill1"])
def test_a_neural_engine_on_cuda_fills_only_the_hole_like_the_cpu(name):
    """Random weights (no download): the network's output is noise, but the GPU's must be
    the CPU's noise (float16 autocast where the engine allows it) and land only in the hole."""
    torch.manual_seed(0)
    network = registry.engine_class(name)().create_network()
    image, mask = _textured(256, 256), np.zeros((256, 256), np.uint8)
    mask[96:160, 80:176] = 255
    hole = mask >= 128
    results = {}
    for device in ("cpu", "cuda"):
        engine = registry.create(name, network=copy.deepcopy(network), device=device)
        results[device] = _final(engine, InpaintRequest(image, mask, seed=0))
    on_gpu, on_cpu = results["cuda"], results["cpu"]
    np.testing.assert_array_equal(on_gpu[~hole], image[~hole])
    assert (on_gpu[hole] != image[hole]).any()
    assert np.abs(on_gpu[hole].astype(int) - on_cpu[hole]).mean() < 4.0


def test_a_real_gpu_allocation_failure_is_the_user_facing_error_and_frees_the_gpu():
    engine = registry.create("lama", network=registry.engine_class("lama")().create_network(),
                             device="cuda")
    image, mask = _textured(64, 64), _square(64, 64)
    list(engine.run(InpaintRequest(image, mask)))  # the network now lives on the GPU
    before = torch.cuda.memory_allocated()
    big = np.zeros((4096, 4096, 3), np.uint8)  # LaMa's activations at 4096^2: tens of GB
    hole = np.zeros((4096, 4096), np.uint8)
    hole[1000:3000, 1000:3000] = 255
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, (before + 2 ** 30) / total))
    try:
        with pytest.raises(EngineError) as raised:
            list(engine.run(InpaintRequest(big, hole, strategy=Strategy.ORIGINAL)))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    message = str(raised.value)
    assert isinstance(raised.value.__cause__, torch.OutOfMemoryError)
    assert "not enough memory on the GPU" in message and "--device cpu" in message, message
    assert "4096x4096 px region" in message
    assert torch.cuda.memory_allocated() <= before + 2 ** 20  # what the run held is freed


# --- training ------------------------------------------------------------------------------


def test_training_knows_the_gpu_memory_and_refuses_a_step_that_cannot_fit():
    from engines.base import InputError
    from engines.neural import semantic_training

    device = torch.device("cuda")
    total = torch.cuda.get_device_properties(0).total_memory
    assert semantic_training.device_memory(device) == total
    config = semantic_training.TrainConfig(images=Path("."), batch_size=64, size=4096,
                                           num_classes=19)
    assert semantic_training.step_memory(config, 19) > total
    with pytest.raises(InputError, match=r"than the [\d,]+ GB the GPU has"):
        semantic_training._check_memory(config, device, resuming=False)
