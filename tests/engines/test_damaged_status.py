"""Engines and parsers whose status is computed from several checkpoints say "damaged" (the
file's path, why, and the commands that replace it) for a damaged installed file, as
``models list`` does, and still say how to download a missing one
(:func:`engines.weights.readiness_problem`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engines import registry, weights
from engines.base import EngineError, InpaintRequest, Readiness
from engines.segmentation.base import create_parser

PAGE = b"<!DOCTYPE html><html><body>Quota exceeded</body></html>"
PAGE_REASON = ("it is a web page, not a checkpoint (a download page or an error message was "
               "saved instead of the file)")
URL = "https://example.org/net.pth"


def damaged(weights_id: str, content: bytes = PAGE) -> Path:
    """Put ``content`` (by default a saved error page) in ``weights_id``'s cache slot."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def installed(weights_id: str) -> Path:
    """A small torch.save file in ``weights_id``'s slot with a manifest of its size, so the
    cheap checks (:func:`weights.damage`) pass."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"w": torch.zeros(2)}, path)
    weights.write_manifest(weights_id, "0" * 64, "test", "cheap")
    assert weights.is_present(weights_id)
    return path


def replaced_by_download(weights_id: str) -> str:
    return (f"run `python main.py models remove {weights_id}`, then `python main.py models "
            f"download {weights_id}`")


def says_damaged(detail: str, path: Path, weights_id: str) -> None:
    assert f"{path.absolute()} is damaged: {PAGE_REASON}" in detail, detail
    assert replaced_by_download(weights_id) in detail, detail
    assert "not installed" not in detail, detail


# --------------------------------------------------------------------------- the shared rule


def test_readiness_problem_names_damaged_files_first_then_how_to_get_missing_ones(make_spec):
    broken = make_spec(urls=(URL,), title="Broken net")
    fetch_a, fetch_b = make_spec(urls=(URL,)), make_spec(urls=(URL,))
    trained = make_spec(manual="train one with `python main.py train it`")
    imported = make_spec()
    good = make_spec(urls=(URL,))
    installed(good.id)
    path = damaged(broken.id)
    ids = [fetch_a.id, trained.id, good.id, broken.id, imported.id, fetch_b.id, fetch_a.id]
    assert weights.readiness_problem(ids) == "; ".join((
        f"{path.absolute()} is damaged: {PAGE_REASON}; run `python main.py models remove "
        f"{broken.id}`, then `python main.py models download {broken.id}` (or `python main.py "
        f"models import {broken.id} FILE` with a copy you have)",
        f"weights {fetch_a.id}, {fetch_b.id} not installed; run `python main.py models "
        f"download {fetch_a.id} {fetch_b.id}`",
        f"weights {trained.id} not installed; train one with `python main.py train it` (or "
        f"import one you have with `python main.py models import {trained.id} FILE`)",
        f"weights {imported.id} not installed; import it with `python main.py models import "
        f"{imported.id} FILE`"))
    assert weights.readiness_problem([good.id]) is None
    assert weights.readiness_problem([]) is None


def test_an_unfinished_download_counts_as_missing(make_spec):
    spec = make_spec(urls=(URL,))
    part = weights.partial_path(spec.id)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 10)
    assert weights.installation(spec.id).state is weights.InstallState.PARTIAL
    assert weights.readiness_problem([spec.id]) == (
        f"weights {spec.id} not installed; run `python main.py models download {spec.id}`")


def test_a_single_checkpoint_engine_keeps_its_messages(model_cache):
    status = registry.create("deepfill1").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert status.detail == ("weights deepfill1-imagenet not installed; run `python main.py "
                             "models download deepfill1-imagenet`")
    path = damaged("deepfill1-imagenet", b"")
    assert registry.create("deepfill1").status().detail == (
        f"{path.absolute()} is damaged: it is an empty file; "
        f"{weights.replace_commands(weights.get_spec('deepfill1-imagenet'))}")


# --------------------------------------------------------------------------- LaMa and MI-GAN


@pytest.mark.parametrize("name, weights_id, other", [
    ("lama", "lama-big", "lama-big-torchscript"),
    ("lama", "lama-big-torchscript", "lama-big"),
    ("migan", "migan-traced", "migan-512-places2"),
])
def test_dual_source_engine_with_a_damaged_file_says_damaged(model_cache, name, weights_id,
                                                             other):
    missing = registry.create(name).status()
    assert missing.readiness is Readiness.NEEDS_DOWNLOAD
    assert f"models download {weights_id}" in missing.detail
    path = damaged(weights_id)
    engine = registry.create(name)
    status = engine.status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    says_damaged(status.detail, path, weights_id)
    assert f"download {other}`" not in status.detail  # only what is wrong with the file
    with pytest.raises(weights.WeightsCorruptError) as raised:
        engine.checkpoint_path()
    assert str(raised.value) == status.detail
    with pytest.raises(EngineError, match="is damaged"):
        list(engine.run(InpaintRequest(torch.zeros(8, 8, 3, dtype=torch.uint8).numpy(),
                                       torch.full((8, 8), 255, dtype=torch.uint8).numpy())))


def test_dual_source_engine_with_one_source_only_names_that_files_damage(model_cache):
    path = damaged("lama-big")
    status = registry.create("lama", source="native").status()
    says_damaged(status.detail, path, "lama-big")
    # the TorchScript source has its own (missing) file: how to download it
    status = registry.create("lama", source="torchscript").status()
    assert "is damaged" not in status.detail
    assert "models download lama-big-torchscript" in status.detail


# --------------------------------------------------------------------------- DeepFill v2


def test_deepfill2_with_a_damaged_tf_file_and_no_pt_file_says_damaged(model_cache):
    path = damaged("deepfill2-places2-tf")
    engine = registry.create("deepfill2")
    status = engine.status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    says_damaged(status.detail, path, "deepfill2-places2-tf")
    with pytest.raises(weights.WeightsCorruptError, match="is damaged"):
        engine.checkpoint_path()
    pt = damaged("deepfill2-places2")
    detail = registry.create("deepfill2").status().detail
    says_damaged(detail, pt, "deepfill2-places2")
    says_damaged(detail, path, "deepfill2-places2-tf")
    assert detail.index(str(pt.absolute())) < detail.index(str(path.absolute()))


# --------------------------------------------------------------------------- EdgeConnect


def test_edgeconnect_names_the_damaged_file_then_the_missing_one(model_cache):
    edge, inpaint = "edgeconnect-celeba-edge", "edgeconnect-celeba-inpaint"
    path = damaged(edge)
    status = registry.create("edgeconnect-face").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert status.detail.startswith(f"{path.absolute()} is damaged: {PAGE_REASON}; "
                                    f"{replaced_by_download(edge)}")
    assert status.detail.endswith(f"; weights {inpaint} not installed; run `python main.py "
                                  f"models download {inpaint}`")
    installed(inpaint)
    detail = registry.create("edgeconnect-face").status().detail
    says_damaged(detail, path, edge)
    assert inpaint not in detail


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize("name, broken, others", [
    ("face", "face-bisenet", ("face-detection-resnet50",)),
    ("face", "face-detection-resnet50", ("face-bisenet",)),
    ("scene", "deeplab2-cocostuff164k", ()),
    ("scene-lite", "segformer-b2-ade", ()),
])
def test_parser_with_a_damaged_file_says_damaged(model_cache, name, broken, others):
    path = damaged(broken)
    parser = create_parser(name)
    status = parser.status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert status.detail.startswith(f"{parser.title}: {path.absolute()} is damaged: ")
    assert f"is damaged: {PAGE_REASON}; {replaced_by_download(broken)}" in status.detail
    for other in others:  # still missing: how to download it, after the damaged file
        assert status.detail.endswith(f"weights {other} not installed; run `python main.py "
                                      f"models download {other}`")
    for other in others:
        installed(other)
    says_damaged(create_parser(name).status().detail, path, broken)


def test_face_parser_ignores_a_damaged_detector_when_faces_are_given(model_cache):
    damaged("face-detection-resnet50")
    installed("face-bisenet")
    assert create_parser("face", faces=[]).status().ready
    assert not create_parser("face").status().ready


# --------------------------------------------------------------------------- semantic


def test_semantic_engine_with_a_damaged_model_says_damaged_and_how_to_replace_it(model_cache):
    path = damaged("semantic-local")
    status = registry.create("semantic").status()
    assert status.readiness is Readiness.NEEDS_TRAINING
    assert status.detail == (f"{path.absolute()} is damaged: {PAGE_REASON}; run `python "
                             "main.py models remove semantic-local`, then train one with "
                             "`python main.py train semantic --images DIR` (or import one you "
                             "have with `python main.py models import semantic-local FILE`)")
    path.unlink()
    assert "no semantic model yet" in registry.create("semantic").status().detail
