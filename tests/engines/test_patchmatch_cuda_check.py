"""Guided PatchMatch's ``backend="auto"`` runs the numba kernels on the CPU, GPU or not (they
are faster than the torch solver on an H100: bench/README.md), so a fill imports no torch
(about 500 MB); a device named in the request (``--device cuda``) runs the torch solver
there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from engines.base import EngineError
from engines.classical.patchmatch import engine as patchmatch

ROOT = Path(__file__).resolve().parents[2]


def test_auto_runs_numba_and_imports_no_torch_even_where_cuda_is_there():
    """A fresh interpreter where torch, if it were asked, would say a GPU is there."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from engines.base import InpaintRequest
        from engines.classical.patchmatch import engine
        image = np.zeros((40, 40, 3), np.uint8)
        image[:, 20:] = 200
        mask = np.zeros((40, 40), np.uint8)
        mask[15:25, 15:25] = 255
        stages = list(engine.PatchMatchEngine().run(InpaintRequest(image, mask)))
        assert stages[-1].final and (stages[-1].image[mask == 0] == image[mask == 0]).all()
        print("after run", "torch" in sys.modules)
        engine.warm_up()
        print("after warm-up", "torch" in sys.modules)
        print(engine._torch_device("auto", required=False), "torch" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["after run False", "after warm-up False",
                                           "None False"]


def test_a_gpu_present_is_used_only_when_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert patchmatch._torch_device("auto", required=False) is None
    assert patchmatch._torch_device("cpu", required=False) is None
    assert patchmatch._torch_device("cuda", required=False).type == "cuda"
    assert patchmatch._torch_device("auto", required=True).type == "cuda"  # backend=torch
    assert patchmatch._torch_device("cpu", required=True).type == "cpu"


def test_a_gpu_named_but_missing_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EngineError, match="no CUDA GPU"):
        patchmatch._torch_device("cuda", required=False)
    assert patchmatch._torch_device("auto", required=True).type == "cpu"
