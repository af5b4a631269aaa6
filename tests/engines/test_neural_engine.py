"""What every neural engine shares (engines.neural.common.NeuralEngine): running out of
memory ends a run with a user-facing error, and the script options are type-checked."""

from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest
import torch

from engines import registry
from engines.base import EngineCrashed, EngineError, InpaintRequest, InputError, Strategy
from engines.neural import common

CPU_ALLOCATOR = ("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: can't "
                 "allocate memory: you tried to allocate 2073600000 bytes. Error code 12 "
                 "(Cannot allocate memory)")
FAILURES = {
    "memory": MemoryError(),
    "cpu allocator": RuntimeError(CPU_ALLOCATOR),
    "cuda": torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0)"),
}


class Failing(torch.nn.Module):
    """A network whose every use raises ``failure`` (LaMa calls it, DeepFill its stages)."""

    def __init__(self, failure: BaseException) -> None:
        super().__init__()
        self.failure = failure
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, *inputs):
        raise self.failure

    def coarse_stage(self, *inputs):
        raise self.failure


def request(strategy: Strategy = Strategy.ORIGINAL, **options) -> InpaintRequest:
    image = np.full((64, 80, 3), 120, np.uint8)
    mask = np.zeros((64, 80), np.uint8)
    mask[20:30, 30:44] = 255
    return InpaintRequest(image, mask, strategy=strategy, options=options)


@pytest.fixture
def freed(monkeypatch) -> list[bool]:
    """Records each call of the accelerator cache release."""
    calls: list[bool] = []
    monkeypatch.setattr(common, "free_accelerator_memory", lambda: calls.append(True),
                        raising=False)
    return calls


@pytest.mark.parametrize("engine", ["lama", "deepfill2", "deepfill1"])
@pytest.mark.parametrize("kind", list(FAILURES))
def test_running_out_of_memory_is_an_engine_error_naming_the_region(engine, kind, freed):
    failure = FAILURES[kind]
    with pytest.raises(EngineError) as raised:
        list(registry.create(engine, network=Failing(failure)).run(request()))
    message = str(raised.value)
    assert "not enough memory" in message and "80x64 px region" in message
    assert "the Crop or Resize region (--strategy crop or resize)" in message
    on_gpu = kind == "cuda"
    assert ("on the GPU" in message and "--device cpu" in message) == on_gpu
    assert "alloc_cpu" not in message and "\n" not in message
    assert raised.value.__cause__ is failure  # the traceback chain is kept for --debug
    assert freed  # cached accelerator memory was handed back


class FailingInside(torch.nn.Module):
    """A network that makes an activation and hands it to a layer that fails to allocate:
    the activation is held by the failed layer's call (torch's hooked module call keeps its
    inputs in a closure, which clearing the frames' locals does not release)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = Failing(MemoryError())
        self.made: list[weakref.ref] = []

    def forward(self, *inputs):
        activation = torch.ones(256, 256)
        self.made.append(weakref.ref(activation))
        return self.layer(activation)


def test_running_out_of_memory_lets_go_of_the_activations_while_the_error_is_kept():
    network = FailingInside()
    with pytest.raises(EngineError) as raised:
        list(registry.create("lama", network=network).run(request()))
    gc.collect()
    assert network.made and network.made[0]() is None  # freed, though the error is kept
    failure = raised.value.__cause__
    assert isinstance(failure, MemoryError) and failure.__traceback__ is None
    # where the failed allocation was, for --debug (in __notes__ on Python 3.10 too: QA39 F7)
    note = "\n".join(failure.__notes__)
    assert note.startswith("Where the allocation failed") and "in forward" in note


def test_a_cropped_or_resized_region_names_its_working_size_and_suggests_a_smaller_one(freed):
    image = np.full((300, 400, 3), 120, np.uint8)
    mask = np.zeros((300, 400), np.uint8)
    mask[140:160, 190:210] = 255
    engine = registry.create("deepfill2", network=Failing(MemoryError()))
    # a crop of DeepFill's smallest context (256 px) around the hole, at scale 1
    with pytest.raises(EngineError, match=re.escape(
            "fill a 256x256 px region; try a smaller Working size (--option working_size=N, "
            "now 512), or ")):
        list(engine.run(InpaintRequest(image, mask, crop_margin=24)))
    # the whole picture scaled to the request's working size
    with pytest.raises(EngineError, match=re.escape(
            "fill a 128x96 px region; try a smaller Working size (--option working_size=N, "
            "now 128)")):
        list(engine.run(InpaintRequest(image, mask, strategy=Strategy.RESIZE,
                                       options={"working_size": 128})))


def test_other_runtime_errors_are_not_taken_for_lack_of_memory(freed):
    failure = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(EngineCrashed) as raised:  # a bug, named after the engine
        list(registry.create("lama", network=Failing(failure)).run(request()))
    assert str(raised.value) == ("LaMa (big) failed: RuntimeError: mat1 and mat2 shapes "
                                 "cannot be multiplied")
    assert raised.value.__cause__ is failure and not freed


def test_out_of_memory_outside_an_engine_run_is_described_for_the_user():
    from cli._errors import describe_error

    for failure, where in ((MemoryError(), "computer"), (RuntimeError(CPU_ALLOCATOR), "computer"),
                           (FAILURES["cuda"], "GPU")):
        message, expected = describe_error(failure)
        assert expected and message.startswith(f"not enough memory on the {where}"), message
    assert describe_error(RuntimeError("boom")) == ("RuntimeError: boom", False)


# --- script options ----------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "texts", "refusal"), [
    ("deepfill2", {"local": "no"}, "option local=no is refused: local takes true or false"),
    ("deepfill1", {"local": "off"}, "option local=off is refused: local takes true or false"),
    ("lama", {"network": "foo"}, "option network takes a Python object, not text"),
    ("migan", {"network": "foo"}, "option network takes a Python object, not text"),
])
def test_script_options_typed_on_the_command_line_are_checked(engine, texts, refusal):
    with pytest.raises(InputError, match=re.escape(refusal)):
        registry.engine_class(engine).parse_options(texts)


def test_text_script_options_keep_the_text_as_typed():
    parsed = registry.engine_class("lama").parse_options(
        {"weights_path": "123", "device": "1", "source": "native", "seam_feather": "3"})
    assert parsed == {"weights_path": "123", "device": "1", "source": "native",
                      "seam_feather": 3.0}
    assert registry.engine_class("deepfill2").parse_options(
        {"local": "false", "half": "true"}) == {"local": False, "half": True}


@pytest.mark.parametrize(("engine", "options", "refusal"), [
    ("lama", {"weights_path": 123}, "weights_path=123 is refused: weights_path takes text"),
    ("lama", {"device": 1}, "device=1 is refused: device takes text"),
    ("lama", {"source": True}, "source=true is refused: source takes text"),
    ("deepfill2", {"local": "no"}, "local=no is refused: local takes true or false"),
    ("edgeconnect", {"network": "foo"}, "network='foo' is refused: network takes a torch"),
])
def test_script_options_given_from_python_are_type_checked(engine, options, refusal):
    with pytest.raises(InputError, match=re.escape(refusal)):
        registry.create(engine, **options)


def test_a_python_only_option_is_known_but_not_listed_for_the_command_line(capsys):
    import argparse

    from cli.engines import run

    for cls in registry.engine_classes():
        if issubclass(cls, common.NeuralEngine):
            assert "network" in cls.known_options() and "network" not in cls.script_options
    run(argparse.Namespace(verbose=True))
    listed = [line for line in capsys.readouterr().out.splitlines() if "for scripts:" in line]
    assert any("weights_path" in line for line in listed)
    assert not any("network" in line for line in listed)


# --- request options ---------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "key", "value", "instead"), [
    ("lama", "weights_path", "/elsewhere/big-lama.ckpt", "registry.create('lama', weights_path"),
    ("migan", "device", "cpu", "the request's device field"),
    ("deepfill2", "network", None, "registry.create('deepfill2', network"),
    ("lama", "source", "native", "registry.create('lama', source"),
])
def test_an_option_that_picks_the_network_is_refused_in_a_request(engine, key, value, instead):
    # accepted and silently ignored before: the run used the engine's own network
    loads: list[str] = []
    created = registry.create(engine, network=Failing(MemoryError()))
    created.load_network = lambda *args: loads.append("load")
    with pytest.raises(InputError, match=re.escape(f"option {key} is refused in a request")) \
            as raised:
        list(created.run(request(**{key: value})))
    assert instead in str(raised.value) and not loads


def test_request_options_reach_deepfill_as_its_own_do(monkeypatch):
    """``half`` and ``local`` sent with the request (as the editor sends region options) are
    used as if given to the engine; the engine's own win."""
    from engines.neural import deepfill_v2

    seen = []
    original = deepfill_v2.reduced_precision

    def recording(device, half, half_safe):
        seen.append(half)
        return original(device, False, half_safe)
    monkeypatch.setattr(deepfill_v2, "reduced_precision", recording)
    boxes = []
    around = deepfill_v2.Box.around
    monkeypatch.setattr(deepfill_v2.Box, "around",
                        staticmethod(lambda hole: boxes.append(1) or around(hole)))
    network = deepfill_v2.DeepFillV2(cnum=8).eval()

    list(registry.create("deepfill2", network=network).run(
        request(half=True, local=False)))
    assert set(seen) == {True} and not boxes
    seen.clear()
    list(registry.create("deepfill2", network=network, half=False).run(request(half=True)))
    assert set(seen) == {False} and boxes


@pytest.mark.parametrize(("engine", "options", "refusal"), [
    ("lama", {"working_size": 100}, "working_size=100 is refused: working_size takes 128..4096"),
    ("lama", {"working_size": "big"}, "working_size=big is refused"),
    ("lama", {"seam_feather": -5}, "seam_feather=-5 is refused: seam_feather takes 0..32"),
    ("deepfill2", {"half": "yes"}, "half=yes is refused: half takes auto|true|false"),
    ("deepfill2", {"local": "no"}, "local=no is refused: local takes true or false"),
    ("telea", {"seam_feather": -5}, "seam_feather=-5 is refused"),
    ("telea", {"working_size": "big"}, "working_size=big is refused"),
    ("patchmatch", {"working_size": 0}, "working_size=0 is refused"),
])
def test_request_option_values_are_checked_as_engine_options_are(engine, options, refusal):
    with pytest.raises(InputError, match=re.escape(refusal)):
        next(registry.create(engine).run(request(**options)))


class Counting(torch.nn.Module):
    """A small network that records being moved and switched between train and eval."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        self.calls: list[str] = []

    def to(self, *args, **kwargs):
        self.calls.append("to")
        return super().to(*args, **kwargs)

    def train(self, mode: bool = True):
        self.calls.append(f"train {mode}")
        return super().train(mode)


def test_a_given_network_is_moved_and_switched_to_eval_only_when_it_must_be():
    network = Counting()  # built in train mode, on the CPU
    assert common.given_network_on(network, "cpu") is network
    assert network.calls == ["train False"] and not network.training
    common.given_network_on(network, torch.device("cpu"))  # every run: nothing to do
    assert network.calls == ["train False"]
    common.given_network_on(network, "meta")  # another device: moved there
    assert network.calls == ["train False", "to"]
    assert network.conv.weight.device.type == "meta"
    assert all(getattr(layer, "_forward_pre_hooks", None) for layer in network.modules())
