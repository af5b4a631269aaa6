"""The CUDA check of PatchMatch's ``backend="auto"`` imports torch (about 500 MB) only where
a GPU driver is present (:func:`engines.device.gpu_driver_present`), or where torch is
already imported."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from engines import device
from engines.classical.patchmatch import engine as patchmatch

ROOT = Path(__file__).resolve().parents[2]


def _in_fresh_python(driver: bool, code: str) -> str:
    """Run ``code`` in a new interpreter with the driver probe answering ``driver``; its
    stdout."""
    script = textwrap.dedent(f"""
        import sys
        from engines.classical.patchmatch import engine
        engine.gpu_driver_present = lambda: {driver}
    """) + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_a_driver_a_run_and_the_warm_up_leave_torch_unimported():
    out = _in_fresh_python(False, """
        import numpy as np
        from engines.base import InpaintRequest
        image = np.zeros((40, 40, 3), np.uint8)
        image[:, 20:] = 200
        mask = np.zeros((40, 40), np.uint8)
        mask[15:25, 15:25] = 255
        stages = list(engine.PatchMatchEngine().run(InpaintRequest(image, mask)))
        assert stages[-1].final and (stages[-1].image[mask == 0] == image[mask == 0]).all()
        print("after run", "torch" in sys.modules)
        engine.warm_up()
        print("after warm-up", "torch" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["after run False", "after warm-up False"]


def test_with_a_driver_torch_is_asked():
    out = _in_fresh_python(True, """
        print(engine._torch_device("auto", required=False), "torch" in sys.modules)
    """)
    # this machine has no CUDA GPU: torch, imported to be asked, says so
    cuda = torch.cuda.is_available()
    assert out.strip() == ("cuda True" if cuda else "None True")


def test_torch_already_imported_is_asked_without_the_probe(monkeypatch):
    def probe():
        raise AssertionError("the driver probe runs only while torch is not imported")

    monkeypatch.setattr(patchmatch, "gpu_driver_present", probe)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert patchmatch._torch_device("auto", required=False).type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert patchmatch._torch_device("auto", required=False) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux probe")
@pytest.mark.parametrize("loads, kfd, present", [
    ({"libcuda.so.1"}, False, True),  # NVIDIA's driver
    (set(), True, True),  # AMD's ROCm kernel driver
    (set(), False, False),
])
def test_the_linux_probe_looks_for_the_nvidia_library_and_the_rocm_device(
        monkeypatch, loads, kfd, present):
    tried = []

    def cdll(name, *args, **kwargs):
        tried.append(name)
        if name not in loads:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists",
                        lambda path: kfd if path == "/dev/kfd" else real_exists(path))
    assert device.gpu_driver_present() is present
    assert tried == ["libcuda.so.1"]


def test_macos_has_no_cuda(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert device.gpu_driver_present() is False
