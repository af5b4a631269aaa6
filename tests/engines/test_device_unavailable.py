"""An accelerator asked for that this machine lacks: :class:`DeviceUnavailableError`, whose
message is the command line's (``--device``) and whose fields let the editor name its own
setting."""

from __future__ import annotations

import pickle

import pytest
import torch

from engines.base import EngineError
from engines.device import DeviceUnavailableError, pick_device, require_device

CUDA = "CUDA was requested but no CUDA GPU is available"
MPS = "MPS was requested but is not available on this machine"


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("device,reason", [("cuda", CUDA), ("cuda:1", CUDA), ("mps", MPS),
                                           ("MPS", MPS)])
def test_a_missing_accelerator_is_named_with_the_command_lines_way_out(no_accelerator, device,
                                                                       reason):
    for check in (pick_device, require_device):
        with pytest.raises(DeviceUnavailableError) as raised:
            check(device)
        error = raised.value
        assert isinstance(error, EngineError)
        assert str(error) == f"{reason}; use --device cpu"
        assert error.device == device.lower() and error.reason == reason
        again = pickle.loads(pickle.dumps(error))  # from an engine's process
        assert (str(again), again.device, again.reason) == (str(error), error.device, reason)


def test_an_unknown_device_is_not_an_unavailable_one(no_accelerator):
    with pytest.raises(EngineError) as raised:
        pick_device("tpu")
    assert not isinstance(raised.value, DeviceUnavailableError)
    assert str(raised.value) == "unknown device 'tpu'; use auto, cpu, cuda or mps"
