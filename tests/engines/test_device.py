"""Device choice and the one-model slot: reuse, switching frees, a failed load rolls back."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
import torch

from engines.base import EngineError
from engines.device import ModelSlot, pick_device


class Net(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.layer = torch.nn.Linear(2, 2)


def test_same_key_reuses_the_loaded_model():
    slot = ModelSlot()
    loads = []

    def load():
        loads.append(1)
        return Net("a")

    first = slot.get(("a", "cpu"), load)
    assert slot.get(("a", "cpu"), load) is first
    assert len(loads) == 1 and slot.key == ("a", "cpu")


def test_switching_frees_the_previous_model():
    slot = ModelSlot()
    first = slot.get("a", lambda: Net("a"))
    first_ref = weakref.ref(first)
    del first

    second = slot.get("b", lambda: Net("b"))
    gc.collect()

    assert first_ref() is None  # nothing in the slot keeps the old network alive
    assert slot.key == "b" and second.name == "b"
    assert slot.get("a", lambda: Net("a again")).name == "a again"  # switching back reloads


def test_failed_load_keeps_the_previous_model():
    slot = ModelSlot()
    first = slot.get("a", lambda: Net("a"))

    def broken():
        raise EngineError("checkpoint damaged")

    with pytest.raises(EngineError, match="checkpoint damaged"):
        slot.get("b", broken)

    assert slot.key == "a"
    assert slot.get("a", lambda: pytest.fail("must not reload")) is first


def test_clear_drops_the_model():
    slot = ModelSlot()
    ref = weakref.ref(slot.get("a", lambda: Net("a")))
    slot.clear()
    gc.collect()

    assert slot.key is None and ref() is None


def test_concurrent_gets_load_once():
    slot = ModelSlot()
    loads = []
    started = threading.Barrier(4)

    def load():
        loads.append(1)
        return Net("a")

    def worker():
        started.wait()
        slot.get("a", load)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(loads) == 1


def test_switching_empties_the_cuda_cache_when_there_is_one(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    slot = ModelSlot()
    slot.get("a", lambda: Net("a"))
    slot.get("b", lambda: Net("b"))

    assert len(emptied) == 2


def test_pick_device_order(monkeypatch):
    mps = torch.backends.mps
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(mps, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device(None) == torch.device("cpu")
    assert pick_device("CPU") == torch.device("cpu")


def test_pick_device_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    with pytest.raises(EngineError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(EngineError, match="MPS was requested"):
        pick_device("mps")
    with pytest.raises(EngineError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_reduced_precision_defaults_to_float32_on_the_cpu():
    import contextlib

    import torch

    from engines.device import cpu_has_native_bf16, reduced_precision

    cpu = torch.device("cpu")
    assert isinstance(reduced_precision(cpu, None, True), contextlib.nullcontext)
    assert isinstance(reduced_precision(cpu, True, False), contextlib.nullcontext)
    asked = reduced_precision(cpu, True, True)
    if cpu_has_native_bf16():
        with asked:
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16
            assert torch.is_autocast_enabled("cpu")
    else:
        assert isinstance(asked, contextlib.nullcontext)
