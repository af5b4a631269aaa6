"""An installed checkpoint damaged in place (its size kept: bit rot, a bad sector) is refused
when loaded: the install record keeps the file's stat signature beside its sha256, and a file
whose signature changed is hashed once before it is loaded. An untouched file is never
hashed; a file touched but identical is hashed once, then its new signature is recorded."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import download, registry, weights
from engines.base import InpaintRequest
from engines.device import MODEL_SLOT, file_signature
from tests.engines.test_replaced_checkpoint import migan_file

URL = "https://example.org/net.pth"


@pytest.fixture(autouse=True)
def _fresh_state():
    """No digest remembered from another test, and no network held."""
    weights._HASHED.clear()
    MODEL_SLOT.clear()
    yield
    weights._HASHED.clear()
    MODEL_SLOT.clear()


def hashes(monkeypatch) -> list[Path]:
    """Count the files :func:`weights.file_digests` hashes from now on."""
    calls: list[Path] = []
    original = weights.file_digests

    def counting(path, *args, **kwargs):
        calls.append(Path(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(weights, "file_digests", counting)
    return calls


def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return {"conv.weight": torch.rand(64, 32, 3, 3), "conv.bias": torch.rand(64)}


def install(make_spec, tmp_path: Path) -> tuple[weights.WeightSpec, Path]:
    """Import a small ``torch.save`` state dict as a new spec's checkpoint (the way a user's
    ``models import`` does); the spec and the installed file."""
    source = tmp_path / "net.pth"
    torch.save(state(), source)
    spec = make_spec(urls=(URL,), size=source.stat().st_size)
    return spec, download.import_file(spec.id, source)


def later(path: Path) -> None:
    """Move the file's modification time one second on (a touch)."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


def flip_middle(path: Path, count: int = 4096) -> None:
    """Invert ``count`` bytes in the middle of the file in place, keeping its size, and
    move its modification time on."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        block = handle.read(count)
        handle.seek(size // 2)
        handle.write(bytes(byte ^ 0xFF for byte in block))
    assert path.stat().st_size == size
    later(path)


def remedy(spec: weights.WeightSpec) -> str:
    return (f"run `python main.py models remove {spec.id}`, then `python main.py models "
            f"download {spec.id}` (or `python main.py models import {spec.id} FILE` with a "
            "copy you have)")


def recorded_signature(spec: weights.WeightSpec) -> tuple[int, ...]:
    record = json.loads(weights.manifest_path(spec.id).read_text(encoding="utf-8"))
    return tuple(record["signature"][name]
                 for name in ("dev", "ino", "size", "mtime_ns", "ctime_ns"))


def same(loaded: dict, expected: dict) -> bool:
    return loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k])
                                                    for k in expected)


def test_the_install_records_the_files_signature_beside_its_sha256(make_spec, tmp_path):
    spec, path = install(make_spec, tmp_path)
    record = weights.read_manifest(spec.id)
    assert record["sha256"] == weights.file_digests(path)["sha256"]
    assert recorded_signature(spec) == file_signature(path)


def test_a_file_damaged_in_place_is_refused_naming_it(make_spec, tmp_path, monkeypatch):
    spec, path = install(make_spec, tmp_path)
    recorded = weights.read_manifest(spec.id)["sha256"]
    flip_middle(path)
    assert weights.damage(spec.id) is None  # the cheap checks pass: same size, a sound zip
    counted = hashes(monkeypatch)
    with pytest.raises(weights.WeightsCorruptError) as raised:
        weights.load_checkpoint(path)
    error = raised.value
    assert isinstance(error, weights.HashMismatchError)
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    reason = (f"it has sha256 {found[:12]}…, not the {recorded[:12]}… recorded when it was "
              "installed")
    assert str(error) == f"{path.absolute()} is damaged: {reason}; {remedy(spec)}"
    assert (error.weights_ids, error.path, error.reason) == ((spec.id,), path.absolute(), reason)
    assert counted == [path]
    with pytest.raises(weights.HashMismatchError):  # the same file again: not hashed again
        weights.load_checkpoint(path)
    assert counted == [path]
    assert weights.read_manifest(spec.id)["sha256"] == recorded  # the record is kept


def test_an_untouched_file_loads_without_being_hashed(make_spec, tmp_path, monkeypatch):
    spec, path = install(make_spec, tmp_path)
    counted = hashes(monkeypatch)
    assert same(weights.load_checkpoint(path), state())
    assert same(weights.load_checkpoint(path), state())
    assert counted == []
    assert not weights.installation(spec.id).changed


def test_a_touched_identical_file_is_hashed_once_and_its_signature_recorded(
        make_spec, tmp_path, monkeypatch):
    spec, path = install(make_spec, tmp_path)
    later(path)
    assert weights.installation(spec.id).changed
    counted = hashes(monkeypatch)
    assert same(weights.load_checkpoint(path), state())
    assert counted == [path]
    assert same(weights.load_checkpoint(path), state())
    assert counted == [path]  # remembered for this signature
    assert recorded_signature(spec) == file_signature(path)  # and recorded
    assert not weights.installation(spec.id).changed
    weights._HASHED.clear()  # another process: the record alone spares the hash
    assert same(weights.load_checkpoint(path), state())
    assert counted == [path]


def test_an_older_record_without_a_signature_is_hashed_once_then_given_one(
        make_spec, tmp_path, monkeypatch):
    spec, path = install(make_spec, tmp_path)
    manifest = weights.manifest_path(spec.id)
    record = json.loads(manifest.read_text(encoding="utf-8"))
    del record["signature"]
    manifest.write_text(json.dumps(record), encoding="utf-8")
    counted = hashes(monkeypatch)
    assert same(weights.load_checkpoint(path), state())
    assert counted == [path]
    assert recorded_signature(spec) == file_signature(path)


def test_an_older_record_without_a_sha256_keeps_loading_unhashed(make_spec, tmp_path,
                                                                  monkeypatch):
    spec, path = install(make_spec, tmp_path)
    manifest = weights.manifest_path(spec.id)
    record = json.loads(manifest.read_text(encoding="utf-8"))
    del record["sha256"], record["signature"]
    manifest.write_text(json.dumps(record), encoding="utf-8")
    flip_middle(path)
    counted = hashes(monkeypatch)
    weights.load_checkpoint(path)  # today's behaviour: nothing to compare with
    assert counted == []


def test_verify_records_the_signature_it_confirmed(make_spec, tmp_path, monkeypatch):
    spec, path = install(make_spec, tmp_path)
    later(path)
    assert weights.verify(spec.id).startswith(f"{spec.id}: sha256")
    assert recorded_signature(spec) == file_signature(path)
    counted = hashes(monkeypatch)
    weights._HASHED.clear()
    assert same(weights.load_checkpoint(path), state())
    assert counted == []


def test_verify_of_a_file_damaged_in_place_records_nothing(make_spec, tmp_path):
    spec, path = install(make_spec, tmp_path)
    before = recorded_signature(spec)
    flip_middle(path)
    with pytest.raises(weights.HashMismatchError):
        weights.verify(spec.id)
    assert recorded_signature(spec) == before


def test_an_engine_refuses_its_checkpoint_damaged_in_place(model_cache, tmp_path):
    migan_file(tmp_path / "a.pt", 1)
    path = download.import_file("migan-256-places2", tmp_path / "a.pt")
    flip_middle(path)
    engine = registry.create("migan-256", device="cpu")
    mask = np.zeros((48, 64), np.uint8)
    mask[12:36, 20:44] = 255
    picture = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with pytest.raises(weights.WeightsCorruptError) as raised:
        list(engine.run(InpaintRequest(picture, mask)))
    assert str(raised.value).startswith(f"{path.absolute()} is damaged: it has sha256 ")
    assert raised.value.weights_ids == ("migan-256-places2",)
    assert raised.value.path == path.absolute()
