"""A loader says which checkpoints are its own (``own`` of
:func:`engines.weights.mismatch_error`): a file in one of their slots that does not fit is
not that checkpoint, said with no second load of it; another model's installed, sound file is
checked with that model's ``check_contents`` (once) and named."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engines import registry, weights
from engines.segmentation.neural import load_strict
from engines.weights import CheckpointMismatchError, OtherModelsCheckpointError
from tests.engines.test_deepfill_v2 import pt_state
from tests.engines.test_migan import random_generator
from tests.engines.test_weights import URL, commands, placed, state_dict_file


def counted_checks(monkeypatch, *weights_ids: str) -> dict[str, int]:
    """How many times each of ``weights_ids``' ``check_contents`` runs from now on."""
    calls = dict.fromkeys(weights_ids, 0)
    for weights_id in weights_ids:
        spec = weights.get_spec(weights_id)

        def counting(path, check=spec.check_contents, weights_id=weights_id):
            calls[weights_id] += 1
            return check(path)

        monkeypatch.setitem(weights._SPECS, weights_id,
                            dataclasses.replace(spec, check_contents=counting))
    return calls


def conv_loader(own):
    """A ``check_contents`` loading a network that needs ``conv.weight``, saying ``own``."""
    def check(path) -> None:
        if "conv.weight" not in weights.load_checkpoint(path):
            raise weights.mismatch_error(path, "the conv network", "missing: conv.weight",
                                         own=own)
    return check


def dense_file(folder):
    path = folder / "dense.pth"
    torch.save({"dense.weight": torch.zeros(3, 3)}, path)
    return path


# --- checkpoints made for the test --------------------------------------------------------


def test_a_deep_verify_loads_its_own_file_once(make_spec, tmp_path, monkeypatch):
    spec = make_spec(urls=(URL,), title="Conv net")
    monkeypatch.setitem(weights._SPECS, spec.id, dataclasses.replace(
        spec, check_contents=conv_loader((spec.id,))))
    path = placed(spec, dense_file(tmp_path).read_bytes())
    calls = counted_checks(monkeypatch, spec.id)
    with pytest.raises(CheckpointMismatchError) as raised:
        weights.verify(spec.id, deep=True)
    assert calls == {spec.id: 1}
    assert str(raised.value) == (f"{path.absolute()} does not fit the conv network (missing: "
                                 f"conv.weight): it is not the Conv net checkpoint; "
                                 f"{commands(spec)}")


def test_another_models_file_is_checked_by_its_own_loader_once(make_spec, tmp_path,
                                                               monkeypatch):
    conv = make_spec(urls=(URL,), title="Conv net")
    monkeypatch.setitem(weights._SPECS, conv.id, dataclasses.replace(
        conv, check_contents=conv_loader((conv.id,))))
    dense = make_spec(urls=(URL,), title="Dense net")
    path = placed(conv, state_dict_file(tmp_path).read_bytes())  # conv's sound file
    calls = counted_checks(monkeypatch, conv.id, dense.id)
    error = weights.mismatch_error(path, "the dense network", "missing: dense.weight",
                                   own=(dense.id,))
    assert type(error) is OtherModelsCheckpointError
    assert calls == {conv.id: 1, dense.id: 0}
    assert str(error).endswith(f": it is the Conv net checkpoint ({conv.id}), not one for the "
                               "dense network; give this engine its own weights")
    # the same file to a loader that calls it its own: not that checkpoint, no load at all
    error = weights.mismatch_error(path, "the conv network", "x", own=(conv.id,))
    assert type(error) is CheckpointMismatchError and calls[conv.id] == 1
    assert str(error).endswith(f": it is not the Conv net checkpoint; {commands(conv)}")


def test_a_loader_that_does_not_say_takes_the_slot_as_its_own(make_spec, tmp_path,
                                                              monkeypatch):
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=conv_loader(None))
    path = placed(spec, state_dict_file(tmp_path).read_bytes())
    calls = counted_checks(monkeypatch, spec.id)
    error = weights.mismatch_error(path, "the dense network", "x")  # own not said
    assert type(error) is CheckpointMismatchError and calls == {spec.id: 0}
    assert str(error).endswith(f": it is not the Conv net checkpoint; {commands(spec)}")


def test_a_parser_loader_names_its_own_checkpoint(make_spec, tmp_path, monkeypatch):
    spec = make_spec(urls=(URL,), title="Conv net")
    monkeypatch.setitem(weights._SPECS, spec.id, dataclasses.replace(
        spec, check_contents=conv_loader((spec.id,))))
    path = placed(spec, state_dict_file(tmp_path).read_bytes())
    calls = counted_checks(monkeypatch, spec.id)
    network = torch.nn.Sequential(torch.nn.Linear(3, 3))
    with pytest.raises(CheckpointMismatchError) as raised:
        load_strict(network, weights.load_checkpoint(path), "Conv net", path, own=(spec.id,))
    assert calls == {spec.id: 0}
    assert str(raised.value).endswith(f": it is not the Conv net checkpoint; {commands(spec)}")
    with pytest.raises(OtherModelsCheckpointError) as raised:  # a loader of another network
        load_strict(network, weights.load_checkpoint(path), "Linear net", path, own=())
    assert calls == {spec.id: 1}
    assert f"it is the Conv net checkpoint ({spec.id})" in str(raised.value)


# --- a real engine (NeuralEngine.network) --------------------------------------------------


def install(weights_id: str, state) -> str:
    """Save ``state`` as ``weights_id``'s installed file (by hand); its path."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return str(path)


def load(engine: str, weights_path: str):
    created = registry.create(engine, weights_path=weights_path, device="cpu")
    return created.network(torch.device("cpu"))


def test_an_engine_never_loads_its_own_checkpoint_twice(model_cache, monkeypatch):
    slot = install("deepfill2-places2", random_generator(256).state_dict())  # misplaced
    calls = counted_checks(monkeypatch, "deepfill2-places2", "deepfill2-places2-tf")
    with pytest.raises(CheckpointMismatchError) as raised:
        load("deepfill2", slot)
    assert calls == {"deepfill2-places2": 0, "deepfill2-places2-tf": 0}
    spec = weights.get_spec("deepfill2-places2")
    assert str(raised.value).endswith(f"): it is not the {spec.title} checkpoint; "
                                      f"{weights.replace_commands(spec)}")


def test_an_engine_given_another_models_file_names_it(model_cache, monkeypatch):
    migan = install("migan-256-places2", random_generator(256).state_dict())
    install("deepfill2-places2", {"G": pt_state(4)})
    calls = counted_checks(monkeypatch, "migan-256-places2", "deepfill2-places2")
    with pytest.raises(OtherModelsCheckpointError) as raised:
        load("deepfill2", migan)
    assert calls == {"migan-256-places2": 1, "deepfill2-places2": 0}
    assert str(raised.value).endswith(
        "): it is the MI-GAN 256 (Places2) checkpoint (migan-256-places2), not one for "
        "DeepFillV2; give this engine its own weights")
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED
