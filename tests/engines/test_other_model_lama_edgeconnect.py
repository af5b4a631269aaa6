"""LaMa and EdgeConnect given another model's installed checkpoint name it as MI-GAN and
DeepFill do (:func:`engines.weights.mismatch_error` with ``own=``): "it is the X checkpoint
(id), not one for ..."; importing it as ``lama-big`` is told that checkpoint is installed
already. EdgeConnect given a file where it takes a folder says so."""

from __future__ import annotations

import pytest
import torch

import main
from cli import EXIT_USAGE
from engines import registry, weights
from engines.neural.edgeconnect import EDGE_FILE, INPAINT_FILE
from engines.weights import (
    CheckpointMismatchError,
    OtherModelsCheckpointError,
    WeightsCorruptError,
    WeightsMissingError,
)
from tests.cli.test_weights_path_other_model import inpaint, install, last_error
from tests.engines.test_deepfill_v2 import pt_state
from tests.engines.test_migan import random_generator

MIGAN_256 = "it is the MI-GAN 256 (Places2) checkpoint (migan-256-places2), not one for "
FOLDER = f"a folder holding the two files {EDGE_FILE} and {INPAINT_FILE}"


def network(engine: str, weights_path) -> None:
    """Load ``engine``'s network from ``weights_path`` (on the CPU)."""
    created = registry.create(engine, weights_path=str(weights_path), device="cpu")
    created.network(torch.device("cpu"))


@pytest.fixture
def migan(model_cache) -> str:
    """MI-GAN 256's installed, sound checkpoint (upstream's state dict layout)."""
    return install("migan-256-places2", random_generator(256).state_dict())


def test_lama_names_another_models_installed_checkpoint(migan):
    with pytest.raises(OtherModelsCheckpointError) as raised:
        network("lama", migan)
    assert str(raised.value) == (
        f"{migan} does not fit the LaMa big generator (no 'generator.*' tensors; found "
        "synthesis.b4.conv1.conv1.weight, synthesis.b4.conv1.conv1.bias, "
        "synthesis.b4.conv1.conv2.weight, synthesis.b4.conv2.conv1.weight, "
        f"synthesis.b4.conv2.conv1.bias): {MIGAN_256}the LaMa big generator; give this "
        "engine its own weights")
    assert raised.value.weights_ids == () and raised.value.path is None
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED


def test_lama_names_deepfills_installed_checkpoint(model_cache):
    deepfill = install("deepfill2-places2", {"G": pt_state(4)})  # the PyTorch fine-tune's layout
    with pytest.raises(OtherModelsCheckpointError) as raised:
        network("lama", deepfill)
    assert str(raised.value).endswith(
        "(no 'generator.*' tensors; found G): it is the DeepFill v2 Places2 (PyTorch "
        "fine-tune) checkpoint (deepfill2-places2), not one for the LaMa big generator; give "
        "this engine its own weights")


def test_lama_given_a_file_of_no_model_says_what_it_lacks(model_cache, tmp_path):
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"x": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointMismatchError) as raised:
        network("lama", other)
    assert type(raised.value) is CheckpointMismatchError
    assert str(raised.value) == (f"{other.absolute()} does not fit the LaMa big generator (no "
                                 "'generator.*' tensors; found x)")


def test_importing_another_models_file_as_lama_says_to_choose_lamas(migan, capsys):
    assert main.main(["models", "import", "lama-big", migan, "--force"]) == EXIT_USAGE
    error = last_error(capsys)
    assert error.startswith("error: migan_256_places2.pt is not the LaMa big (official) "
                            "checkpoint: it does not fit the LaMa big generator (no "
                            "'generator.*' tensors; found synthesis.")
    assert error.endswith(f"): {MIGAN_256}the LaMa big generator; that checkpoint is "
                          "installed already: choose the LaMa big (official) file instead")
    assert not weights.local_path("lama-big").exists()
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED


def test_edgeconnect_names_another_models_installed_checkpoint(migan):
    with pytest.raises(OtherModelsCheckpointError) as raised:
        network("edgeconnect", migan)
    assert str(raised.value) == (
        f"{migan} does not fit the EdgeConnect generators (a file, not {FOLDER}): "
        f"{MIGAN_256}the EdgeConnect generators; give this engine its own weights")
    assert "Not a directory" not in str(raised.value)
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED


@pytest.mark.parametrize("own", [False, True])
def test_edgeconnect_given_a_file_says_it_takes_a_folder(model_cache, tmp_path, own):
    """A file of no model, or one of its own installed files (not damaged for that: no
    commands to replace it)."""
    if own:
        given = install("edgeconnect-places2-edge", {"generator": {"x": torch.zeros(2)}})
    else:
        given = str(tmp_path / EDGE_FILE)
        torch.save({"generator": {"x": torch.zeros(2)}}, given)
    with pytest.raises(WeightsCorruptError) as raised:
        network("edgeconnect", given)
    assert type(raised.value) is WeightsCorruptError
    assert str(raised.value) == (f"{given} is a file: EdgeConnect (scenes) takes as "
                                 f"weights_path {FOLDER}, such as upstream's "
                                 "checkpoints/<dataset> folder")


def test_edgeconnect_weights_path_file_in_the_cli(model_cache, tmp_path, capsys):
    given = tmp_path / "best.ckpt"
    torch.save({"x": torch.zeros(2)}, given)
    assert inpaint(tmp_path, "edgeconnect", f"weights_path={given}") == EXIT_USAGE
    error = last_error(capsys)
    assert error == (f"error: {given} is a file: EdgeConnect (scenes) takes as weights_path "
                     f"{FOLDER}, such as upstream's checkpoints/<dataset> folder")
    assert not (tmp_path / "out.png").exists()


def test_edgeconnect_given_a_missing_folder_says_no_such_folder(model_cache, tmp_path):
    given = tmp_path / "checkpoints" / "places2"
    with pytest.raises(WeightsMissingError) as raised:
        network("edgeconnect", given)
    assert str(raised.value) == (f"{given}: no such folder; EdgeConnect (scenes) takes as "
                                 f"weights_path {FOLDER}, such as upstream's "
                                 "checkpoints/<dataset> folder")


def test_edgeconnect_given_another_models_cache_folder_says_whose(migan):
    folder = weights.local_path("migan-256-places2").parent
    with pytest.raises(WeightsMissingError) as raised:
        network("edgeconnect", folder)
    assert str(raised.value) == (
        f"{folder}: it holds no {EDGE_FILE} and no {INPAINT_FILE} (it is where the MI-GAN 256 "
        f"(Places2) checkpoint is installed); EdgeConnect (scenes) takes as weights_path "
        f"{FOLDER}, such as upstream's checkpoints/<dataset> folder")


def test_edgeconnect_given_a_folder_lacking_one_file_names_it(model_cache, tmp_path):
    torch.save({"generator": {"x": torch.zeros(2)}}, tmp_path / EDGE_FILE)
    with pytest.raises(WeightsMissingError, match=f"{tmp_path}: it holds no {INPAINT_FILE}; "):
        network("edgeconnect", tmp_path)


def test_edgeconnect_missing_folder_in_the_cli(model_cache, tmp_path, capsys):
    given = tmp_path / "nowhere"
    assert inpaint(tmp_path, "edgeconnect", f"weights_path={given}") != 0
    assert last_error(capsys).startswith(f"error: {given}: no such folder; EdgeConnect")
    assert not (tmp_path / "out.png").exists()
