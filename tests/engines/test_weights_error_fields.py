"""Errors about weights carry fields (the checkpoints concerned, the installed file at fault,
the reason without advice) so that the editor can say them in its own words; their message
stays the command-line tool's, commands included."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import download, faces, registry, weights
from engines.base import (
    EngineError,
    EngineNotReadyError,
    Guidance,
    InpaintRequest,
    Readiness,
    Status,
    Strategy,
)
from engines.device import MODEL_SLOT
from engines.neural.semantic import (
    TRAIN_HINT,
    LabelMapNeededError,
    SemanticInpaintNet,
    checkpoint_dict,
    read_checkpoint,
)
from engines.neural.semantic_training import install, save_checkpoint
from engines.segmentation.base import create_parser
from engines.weights import (
    CheckpointMismatchError,
    HashMismatchError,
    WeightsCorruptError,
    WeightsError,
    WeightsMissingError,
)

URL = "https://example.invalid/net.pth"
COMMAND = "python main.py"
NOT_A_PICKLE = b"\x80\x02 is the start of a pickle, the rest is not"


@pytest.fixture(autouse=True)
def _free_model_slot():
    yield
    MODEL_SLOT.clear()


def placed(spec_id: str, content: bytes) -> Path:
    """Put ``content`` in the cache slot of ``spec_id`` by hand (no manifest)."""
    path = weights.local_path(spec_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def installed_as(weights_id: str, state: dict) -> Path:
    """``state`` saved in ``weights_id``'s slot and recorded as installed (its size then
    passes the quick checks, whatever the spec expects)."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    weights.write_manifest(weights_id, weights.file_digests(path)["sha256"], "test", "size")
    assert weights.is_present(weights_id)
    return path


def state_dict_file(folder: Path) -> Path:
    path = folder / "net.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, path)
    return path


def hole_request(labels=None) -> InpaintRequest:
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 10:22] = 255
    return InpaintRequest(np.full((32, 32, 3), 120, np.uint8), mask, labels=labels,
                          strategy=Strategy.ORIGINAL)


def test_missing_weights_name_their_checkpoint_and_keep_the_commands(make_spec):
    spec = make_spec(urls=(URL,), title="Test net")
    with pytest.raises(WeightsMissingError) as raised:
        weights.require(spec.id)
    error = raised.value
    assert str(error) == (f"Test net weights are not installed: download it with `python main.py "
                          f"models download {spec.id}`, or import a file you have with `python "
                          f"main.py models import {spec.id} FILE`")
    assert error.weights_ids == (spec.id,) and error.path is None
    assert error.reason == "Test net weights are not installed"


def test_an_installed_file_that_passes_the_quick_checks_but_cannot_be_read(make_spec):
    spec = make_spec(urls=(URL,), title="Test net")
    path = placed(spec.id, NOT_A_PICKLE)
    assert weights.is_present(spec.id)  # a legacy pickle's first bytes, no size to compare
    with pytest.raises(WeightsCorruptError) as raised:
        weights.load_checkpoint(path)
    error = raised.value
    assert error.weights_ids == (spec.id,) and error.path == path.absolute()
    assert error.reason  # the loader's own first sentence
    assert COMMAND not in error.reason and str(path) not in error.reason
    assert str(error) == weights.damaged_message(spec, path, error.reason)  # the CLI's
    assert COMMAND in str(error)


def test_a_file_outside_the_cache_names_no_checkpoint(tmp_path):
    path = tmp_path / "net.pth"
    path.write_bytes(NOT_A_PICKLE)
    with pytest.raises(WeightsCorruptError) as raised:
        weights.load_checkpoint(path)
    error = raised.value
    assert error.weights_ids == () and error.path is None
    assert error.reason == str(error) and str(error).startswith(
        f"{path.absolute()} is not a readable state_dict checkpoint: ")


def test_a_missing_installed_file_names_its_checkpoint(make_spec):
    spec = make_spec(urls=(URL,))
    with pytest.raises(WeightsMissingError) as raised:
        weights.load_checkpoint(weights.local_path(spec.id))
    assert str(raised.value) == f"{weights.local_path(spec.id)}: no such file"
    assert raised.value.weights_ids == (spec.id,) and raised.value.path is None


def test_a_hash_mismatch_names_the_checkpoint_the_path_and_the_bare_reason(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Test net")
    path = download.import_file(spec.id, state_dict_file(tmp_path))
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size: the quick checks pass
    path.write_bytes(bytes(content))
    assert weights.is_present(spec.id)
    with pytest.raises(HashMismatchError) as raised:
        weights.verify(spec.id)
    error = raised.value
    assert error.weights_ids == (spec.id,) and error.path == path.absolute()
    assert error.reason.startswith("it has sha256 ") and error.reason.endswith(
        "recorded when it was installed")
    assert str(error) == weights.damaged_message(spec, path, error.reason)


def test_a_mismatch_in_the_cache_and_outside(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Test net")
    path = download.import_file(spec.id, state_dict_file(tmp_path))
    error = weights.mismatch_error(path, "the test generator", "missing: conv2.weight")
    assert isinstance(error, CheckpointMismatchError)
    assert str(error) == (f"{path.absolute()} does not fit the test generator (missing: "
                          f"conv2.weight): it is not the Test net checkpoint; "
                          f"{weights.replace_commands(spec)}")
    assert error.weights_ids == (spec.id,) and error.path == path.absolute()
    assert error.reason == "it does not fit the test generator (missing: conv2.weight)"
    outside = weights.mismatch_error(tmp_path / "net.pth", "the test generator", "x")
    assert outside.weights_ids == () and outside.path is None
    assert outside.reason == str(outside)


def test_a_file_to_import_that_does_not_fit_names_the_checkpoint_but_no_installed_file(
        make_spec, tmp_path):
    other = make_spec(urls=(URL,), title="Other net")
    installed = placed(other.id, NOT_A_PICKLE)  # another checkpoint's file, unreadable
    spec = make_spec(urls=(URL,), title="Test net", check_contents=weights.load_checkpoint)
    with pytest.raises(WeightsCorruptError) as raised:
        download.import_file(spec.id, installed)
    error = raised.value
    assert COMMAND in str(error)  # the command line names how to replace the other file
    assert error.weights_ids == (spec.id,) and error.path is None
    assert error.reason.startswith(f"{installed.name} is not the Test net checkpoint: it ")
    assert COMMAND not in error.reason and not weights.is_present(spec.id)


def test_dual_source_engines_name_the_damaged_or_missing_checkpoints(model_cache):
    engine = registry.create("lama")
    with pytest.raises(WeightsMissingError) as raised:
        engine.checkpoint_path()
    assert raised.value.weights_ids == ("lama-big", "lama-big-torchscript")
    assert str(raised.value).startswith(f"{engine.title} weights are not installed: run "
                                        "`python main.py models download lama-big`")
    path = placed("lama-big", b"")
    with pytest.raises(WeightsCorruptError) as raised:
        engine.checkpoint_path()
    error = raised.value
    assert str(error) == weights.damaged_problem(("lama-big", "lama-big-torchscript"))
    assert error.weights_ids == ("lama-big",) and error.path == path.absolute()
    assert error.reason == "it is an empty file"


def test_a_checkpoint_of_another_network_fails_during_the_run_with_its_fields(model_cache):
    path = installed_as("migan-256-places2", {"x": torch.zeros(2)})
    engine = registry.create("migan-256")
    assert engine.status().ready
    with pytest.raises(CheckpointMismatchError) as raised:
        list(engine.run(hole_request()))
    error = raised.value
    spec = weights.get_spec("migan-256-places2")
    assert str(error).startswith(f"{path.absolute()} does not fit the MI-GAN 256 generator (")
    assert str(error).endswith(f": it is not the {spec.title} checkpoint; "
                               f"{weights.replace_commands(spec)}")
    assert error.weights_ids == (spec.id,) and error.path == path.absolute()
    assert error.reason.startswith("it does not fit the MI-GAN 256 generator (missing: ")
    assert COMMAND not in error.reason


def test_a_loaders_own_refusal_of_an_installed_file_gets_the_fields(model_cache):
    path = installed_as("edgeconnect-places2-edge", {"x": torch.zeros(2)})
    installed_as("edgeconnect-places2-inpaint", {"x": torch.zeros(2)})
    with pytest.raises(WeightsCorruptError) as raised:
        list(registry.create("edgeconnect").run(hole_request()))
    error = raised.value
    assert str(error) == ("EdgeModel_gen.pth is not an EdgeConnect generator file (no "
                          "'generator' entry)")  # the loader's message, as it was
    assert error.weights_ids == ("edgeconnect-places2-edge",) and error.path == path.absolute()
    assert error.reason == "it is not an EdgeConnect generator file (no 'generator' entry)"


def test_lamas_installed_file_without_generator_tensors_gets_the_commands(model_cache):
    """LaMa's "no generator tensors" goes through mismatch_error (which names another model's
    installed checkpoint given to it: tests/engines/test_other_model_lama_edgeconnect.py);
    its own slot holding such a file is not its checkpoint."""
    path = installed_as("lama-big", {"x": torch.zeros(2)})
    with pytest.raises(CheckpointMismatchError) as raised:
        list(registry.create("lama", source="native").run(hole_request()))
    error = raised.value
    spec = weights.get_spec("lama-big")
    assert str(error) == (f"{path.absolute()} does not fit the LaMa big generator (no "
                          f"'generator.*' tensors; found x): it is not the {spec.title} "
                          f"checkpoint; {weights.replace_commands(spec)}")
    assert error.weights_ids == ("lama-big",) and error.path == path.absolute()
    assert error.reason == ("it does not fit the LaMa big generator (no 'generator.*' tensors; "
                            "found x)")


def test_an_installed_file_that_is_no_semantic_checkpoint(model_cache):
    path = installed_as("semantic-local", {"x": torch.zeros(2)})
    with pytest.raises(WeightsCorruptError) as raised:
        read_checkpoint(path)
    error = raised.value
    assert str(error) == f"semantic.pt is not a semantic-network checkpoint ({TRAIN_HINT})"
    assert error.weights_ids == ("semantic-local",) and error.path == path.absolute()
    assert error.reason == "it is not a semantic-network checkpoint"


def test_the_semantic_engine_without_a_label_map_says_which_guidance_is_missing(
        model_cache, tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(SemanticInpaintNet(4, channels=4, memory=4),
                                                {"step": 1}))
    install(checkpoint)
    engine = registry.create("semantic")
    assert engine.status().ready
    with pytest.raises(LabelMapNeededError) as raised:
        list(engine.run(hole_request()))
    error = raised.value
    assert isinstance(error, EngineError)
    assert str(error) == ("this engine needs a label map: compute one first (Labels panel, "
                          "Compute map) or, on the command line, give --labels FILE made with "
                          "`python main.py segment`")
    assert error.engine == engine.title and error.missing_guidance is Guidance.LABELS


def test_the_fields_survive_retelling_and_pickling(make_spec):
    spec = make_spec(urls=(URL,))
    path = placed(spec.id, b"")
    error = WeightsCorruptError("message", weights_ids=[spec.id], path=path, reason="it is empty")
    for copy in (error.retold("another message"), pickle.loads(pickle.dumps(error))):
        assert isinstance(copy, WeightsCorruptError) and isinstance(copy, WeightsError)
        assert copy.weights_ids == (spec.id,) and copy.path == path
        assert copy.reason == "it is empty"
    assert str(error.retold("another message")) == "another message"
    plain = WeightsMissingError("no such file")  # a raiser that says nothing more
    assert plain.weights_ids == () and plain.path is None and plain.reason == "no such file"


# --- an engine run while not ready ------------------------------------------------------------


def test_an_engine_run_while_not_ready_names_its_status_and_weights(model_cache):
    engine = registry.create("deepfill1")
    status = engine.status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    with pytest.raises(EngineNotReadyError) as raised:
        list(engine.run(hole_request()))
    error = raised.value
    assert isinstance(error, EngineError)
    assert str(error) == ("DeepFill v1 (ImageNet): weights deepfill1-imagenet not installed; "
                          "run `python main.py models download deepfill1-imagenet`")  # the CLI's
    assert error.status == status and error.name == "deepfill1"
    assert error.title == "DeepFill v1 (ImageNet)" and not error.parser
    assert error.weights_ids == ("deepfill1-imagenet",)
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, EngineNotReadyError) and str(copy) == str(error)
    assert (copy.status, copy.name, copy.title, copy.weights_ids, copy.parser) == (
        status, "deepfill1", "DeepFill v1 (ImageNet)", ("deepfill1-imagenet",), False)


def test_an_engine_whose_file_was_damaged_after_it_said_ready(model_cache):
    path = installed_as("deepfill1-imagenet", {"x": torch.zeros(2)})
    engine = registry.create("deepfill1")
    assert engine.status().ready
    path.write_bytes(b"")  # damaged outside the program
    with pytest.raises(EngineNotReadyError) as raised:
        engine.require_ready()
    error = raised.value
    assert error.status == engine.status()
    assert str(error) == f"{engine.title}: {error.status.detail}"
    assert str(error).startswith(f"{engine.title}: {path.absolute()} is damaged: it is an empty "
                                 "file; ") and COMMAND in str(error)
    assert error.weights_ids == ("deepfill1-imagenet",)


def test_a_not_ready_error_with_no_fields_given():
    error = EngineNotReadyError("QA: needs a GPU")
    assert str(error) == "QA: needs a GPU"
    assert error.status is None and error.name == error.title == ""
    assert error.weights_ids == () and not error.parser
    given = EngineNotReadyError("x", status=Status(Readiness.UNAVAILABLE, "y"), name="qa")
    assert given.title == "qa"  # the name, when no title is given


# --- checkpoints that fail once loaded ------------------------------------------------------------


def test_deepfill2_with_only_damaged_files_names_them(model_cache):
    engine = registry.create("deepfill2")
    pt = placed("deepfill2-places2", b"")
    placed("deepfill2-places2-tf", b"")
    with pytest.raises(WeightsCorruptError) as raised:
        engine.checkpoint_path()
    error = raised.value
    assert str(error) == weights.damaged_problem(("deepfill2-places2", "deepfill2-places2-tf"))
    assert error.weights_ids == ("deepfill2-places2", "deepfill2-places2-tf")
    assert error.path == pt.absolute() and error.reason == "it is an empty file"


def _run(name: str):
    return lambda: list(registry.create(name).run(hole_request()))


def _parse_scene():
    create_parser("scene").parse(np.zeros((16, 16, 3), np.uint8))


def _load_face_parser():
    parser = create_parser("face", faces=[])
    parser.networks(parser.device())


# (weights id, what the file holds, how it is loaded, the message, the reason): each
# installed file passes the quick checks but its loader refuses it; the message is the one
# the loader has always given (the command line's), "{path}" standing for the file's path
LOADER_REFUSALS = {
    "deepfill1": ("deepfill1-imagenet", [1, 2], _run("deepfill1"),
                  "{path} is not a state dict", "it is not a state dict"),
    "deepfill2": ("deepfill2-places2", {"x": "text"}, _run("deepfill2"),
                  "{path} is not a DeepFill v2 checkpoint (expected a dict with key 'G')",
                  "it is not a DeepFill v2 checkpoint (expected a dict with key 'G')"),
    "deepfill2 TF layout": (
        "deepfill2-places2", {"conv1.conv.weight": torch.zeros(1), "odd.weight": torch.zeros(1)},
        _run("deepfill2"),
        "unexpected tensor 'odd.weight' in a DeepFill v2 (TF layout) checkpoint",
        "unexpected tensor 'odd.weight' in a DeepFill v2 (TF layout) checkpoint"),
    "edgeconnect": ("edgeconnect-places2-edge", {"x": torch.zeros(1)}, _run("edgeconnect"),
                    "EdgeModel_gen.pth is not an EdgeConnect generator file (no 'generator' "
                    "entry)",
                    "it is not an EdgeConnect generator file (no 'generator' entry)"),
    "scene parser": ("deeplab2-cocostuff164k", [1], _parse_scene,
                     "deeplabv2_resnet101_msc-cocostuff164k-100000.pth is not a state dict",
                     "it is not a state dict"),
    "face parser": ("face-bisenet", [1], _load_face_parser,
                    "parsing_bisenet.pth is not a state dict", "it is not a state dict"),
    "face detector": ("face-detection-resnet50", [1], lambda: faces.load_detector("resnet50"),
                      "detection_Resnet50_Final.pth is not a RetinaFace ResNet-50 face "
                      "detector state dict",
                      "it is not a RetinaFace ResNet-50 face detector state dict"),
}


@pytest.mark.parametrize("case", LOADER_REFUSALS)
def test_a_loaders_refusal_of_an_installed_file_names_it(model_cache, case):
    weights_id, content, load, message, reason = LOADER_REFUSALS[case]
    path = installed_as(weights_id, content)
    if case == "edgeconnect":  # the engine is ready with both generators installed
        installed_as("edgeconnect-places2-inpaint", {"x": torch.zeros(1)})
    with pytest.raises(WeightsCorruptError) as raised:
        load()
    error = raised.value
    assert str(error) == message.format(path=path.absolute())  # the command line's, as it was
    assert error.weights_ids == (weights_id,) and error.path == path.absolute()
    assert error.reason == reason


def test_a_file_given_by_weights_path_names_no_checkpoint(model_cache, tmp_path):
    path = tmp_path / "generator.pt"
    torch.save([1, 2], path)
    with pytest.raises(WeightsCorruptError) as raised:
        list(registry.create("deepfill1", weights_path=str(path)).run(hole_request()))
    error = raised.value
    assert str(error) == f"{path.absolute()} is not a state dict"
    assert error.weights_ids == () and error.path is None and error.reason == str(error)
