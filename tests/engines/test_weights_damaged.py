"""A checkpoint that cannot be opened: load_checkpoint says which file, why (by the cheap
checks ``models verify`` makes) and, for an installed one, how to replace it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import download, registry, weights
from engines.base import EngineError, InpaintRequest

URL = "https://example.org/net.pth"


class Payload:
    """Pickles as a call of a function: what a malicious checkpoint would hold."""

    def __reduce__(self):
        return print, ("ran",)


def checkpoint(folder: Path, legacy: bool = False) -> Path:
    """A small state dict saved by ``torch.save`` (the zip layout, or the legacy pickle)."""
    path = folder / ("legacy.pth" if legacy else "net.pth")
    torch.save({"conv.weight": torch.rand(64, 32, 3, 3), "conv.bias": torch.zeros(64)}, path,
               _use_new_zipfile_serialization=not legacy)
    return path


def install(make_spec, source: Path, **fields) -> tuple[weights.WeightSpec, Path]:
    """Import ``source`` as a new spec's checkpoint; returns the spec and the installed file."""
    fields.setdefault("urls", (URL,))
    spec = make_spec(size=source.stat().st_size, **fields)
    return spec, download.import_file(spec.id, source)


def refusal(path: Path, format: str = "state_dict") -> str:
    with pytest.raises(weights.WeightsCorruptError) as raised:
        weights.load_checkpoint(path, format)
    message = str(raised.value)
    assert "\n" not in message and "weights_only" not in message, message
    assert raised.value.__cause__ is not None  # torch's error stays in the chain (--debug)
    return message


def remedy(spec: weights.WeightSpec) -> str:
    return (f"; run `python main.py models remove {spec.id}`, then `python main.py models "
            f"download {spec.id}` (or `python main.py models import {spec.id} FILE` with a "
            "copy you have)")


def test_an_installed_web_page_is_named_with_its_full_path_and_the_commands(make_spec,
                                                                             tmp_path):
    spec, path = install(make_spec, checkpoint(tmp_path))
    path.write_text("<html><head><title>Google Drive - Virus scan warning</title></head></html>")
    for format in ("state_dict", "lightning"):
        message = refusal(path, format)
        assert message == (f"{path.absolute()} is damaged: it is a web page, not a checkpoint "
                           "(a download page or an error message was saved instead of the "
                           f"file){remedy(spec)}")


def test_an_installed_zip_cut_short_says_so(make_spec, tmp_path):
    spec, path = install(make_spec, checkpoint(tmp_path))
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    message = refusal(path)
    assert message.startswith(f"{path.absolute()} is damaged: it is a zip archive cut short")
    assert message.endswith(remedy(spec))


def test_an_installed_file_of_another_size_than_installed_says_so(make_spec, tmp_path):
    spec, path = install(make_spec, checkpoint(tmp_path, legacy=True))
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:size - 1000])  # a legacy pickle cut short
    assert re.fullmatch(re.escape(f"{path.absolute()} is damaged: it is ")
                        + r"[\d.]+ kB, but was [\d.]+ kB when installed" + re.escape(remedy(spec)),
                        refusal(path))


def test_a_file_grown_by_a_few_bytes_says_both_sizes_in_bytes(make_spec, tmp_path):
    """QA39 F6: sizes that read the same in kB are said in exact bytes, not "it is 76 kB,
    but was 76 kB when installed"."""
    spec, path = install(make_spec, checkpoint(tmp_path))
    size = path.stat().st_size
    path.write_bytes(path.read_bytes() + bytes(64))
    assert weights.format_size(size + 64) == weights.format_size(size)  # the case at hand
    reason = f"it is {size + 64:,} bytes, but was {size:,} bytes when installed"
    assert weights.damage(spec.id) == reason
    with pytest.raises(weights.HashMismatchError) as raised:  # hashed before it is opened
        weights.load_checkpoint(path)
    assert str(raised.value) == f"{path.absolute()} is damaged: {reason}{remedy(spec)}"


def test_a_zip_cut_short_by_a_few_bytes_says_how_much_of_it_is_left(make_spec, tmp_path):
    """QA40 F8: a checkpoint cut short by 200 bytes read "cut short (76 kB)", the size it
    was installed at; it says how much of it is left, in bytes when both round alike, and
    in the rounded sizes otherwise."""
    spec, path = install(make_spec, checkpoint(tmp_path))
    size = path.stat().st_size
    whole = path.read_bytes()
    path.write_bytes(whole[:size - 200])
    assert weights.format_size(size - 200) == weights.format_size(size)  # the case at hand
    assert weights.damage(spec.id) == (
        f"it is a zip archive cut short ({size - 200:,} bytes of {size:,} bytes), as an "
        "interrupted download or copy leaves it")
    path.write_bytes(whole[:size // 2])
    assert weights.damage(spec.id) == (
        f"it is a zip archive cut short ({weights.format_size(size // 2)} of "
        f"{weights.format_size(size)}), as an interrupted download or copy leaves it")


def test_an_empty_file_without_download_says_how_to_get_it_again(make_spec, tmp_path):
    spec, path = install(make_spec, checkpoint(tmp_path), urls=())
    path.write_bytes(b"")
    assert refusal(path) == (f"{path.absolute()} is damaged: it is an empty file; run `python "
                             f"main.py models remove {spec.id}`, then `python main.py models "
                             f"import {spec.id} FILE`")
    trained, path = install(make_spec, checkpoint(tmp_path), urls=(),
                            manual="train one with `python main.py train it`")
    path.write_bytes(b"")
    assert refusal(path).endswith(f"; run `python main.py models remove {trained.id}`, then "
                                  "train one with `python main.py train it` (or import one "
                                  f"you have with `python main.py models import {trained.id} "
                                  "FILE`)")


def test_a_file_outside_the_cache_gets_the_reason_without_commands(tmp_path):
    path = checkpoint(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    message = refusal(path)
    assert message.startswith(f"{path.absolute()} is not a readable state_dict checkpoint: "
                              "it is a zip archive cut short")
    assert "models remove" not in message


def test_pickled_objects_are_named_without_torchs_advice_to_load_them_unsafely(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state": torch.zeros(2), "extra": Payload()}, path)
    message = refusal(path)
    assert message.startswith(f"{path.absolute()} is not a readable state_dict checkpoint: "
                              "it pickles Python objects (print) besides tensors, which are not loaded")


def test_a_fill_with_a_damaged_installed_checkpoint_says_what_to_do(model_cache):
    """The engine is not ready, saying what the loader would: the cached file's path, why,
    and the commands."""
    path = weights.local_path("deepfill2-places2")
    path.parent.mkdir(parents=True)
    path.write_text("<!DOCTYPE html><html><body>Quota exceeded</body></html>")
    image = np.full((32, 32, 3), 100, np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 10:20] = 255
    with pytest.raises(EngineError, match=re.escape(
            f"{path} is damaged: it is a web page, not a checkpoint")) as raised:
        list(registry.create("deepfill2").run(InpaintRequest(image, mask)))
    assert "models remove deepfill2-places2`, then `python main.py models download " \
           "deepfill2-places2`" in str(raised.value)
