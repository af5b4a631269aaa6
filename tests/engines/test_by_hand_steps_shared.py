"""Every message about a checkpoint with no download address words how to install it by hand
as :func:`engines.weights.by_hand_steps` does: the refused download
(:func:`engines.download._no_address_message`), the LaMa/MI-GAN engines' status and missing
weights (:meth:`~engines.neural.sources.DualSourceEngine._how_to_install`) and the commands
that replace a damaged file (:func:`engines.weights.replace_commands`). A hint that is a
training step is trained or imported ("train one ... (or import one you have ...)"), never
"train one ..., then run `... import ...`"; a hint that says where to get the file is then
imported; no hint, the import command. The checkpoints are made with ``make_spec``, as the
command line never reaches these words for the one model trained here (its own refusal)."""

from __future__ import annotations

import pytest

from engines import download, weights
from engines.base import Readiness
from engines.neural.migan import MiganEngine
from tests.engines.test_damaged_status import damaged

pytestmark = pytest.mark.timeout(60)

TRAIN = "train one with `python main.py train semantic --images DIR`"


def _import(spec: weights.WeightSpec) -> str:
    return f"`python main.py models import {spec.id} FILE`"


def _engine(weights_id: str, alternative_id: str | None = None) -> MiganEngine:
    """A MI-GAN engine whose official weights are ``weights_id`` and whose TorchScript
    export is ``alternative_id``."""
    engine_class = type("TestDualSource", (MiganEngine,),
                        {"weights_id": weights_id, "alternative_id": alternative_id})
    return engine_class()


def test_a_refused_download_of_a_trained_checkpoint_says_train_or_import(make_spec):
    spec = make_spec(manual=TRAIN)
    said = (f"Test net has no download address: {TRAIN} (or import one you have with "
            f"{_import(spec)})")
    assert download._no_address_message(spec) == said
    with pytest.raises(download.NoDownloadAddressError) as refused:
        download.download(spec.id)
    assert str(refused.value) == said
    assert "then run" not in said and said.count("models import") == 1


@pytest.mark.parametrize("manual", ["ask the authors", "", TRAIN])
def test_a_refused_download_says_the_by_hand_steps(make_spec, manual):
    spec = make_spec(manual=manual)
    assert download._no_address_message(spec) == (
        f"Test net has no download address: {weights.by_hand_steps(spec)}")


def test_the_engine_says_train_or_import_for_a_trained_checkpoint(make_spec):
    spec = make_spec(manual=TRAIN)
    engine = _engine(spec.id)
    steps = f"{TRAIN} (or import one you have with {_import(spec)})"
    assert engine._how_to_install() == steps
    status = engine.status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert status.detail == f"weights not installed: {steps}"
    with pytest.raises(weights.WeightsMissingError) as raised:
        engine.checkpoint_path()
    assert str(raised.value) == f"MI-GAN 512 (Places2) weights are not installed: {steps}"


def test_the_engine_puts_a_download_first_then_the_by_hand_steps(make_spec):
    by_hand = make_spec(manual="copy it from the lab's share")
    bare = make_spec()
    traced = make_spec(urls=("https://example.invalid/net.pt",))
    assert _engine(by_hand.id, traced.id)._how_to_install() == (
        f"run `python main.py models download {traced.id}`, or copy it from the lab's share, "
        f"then import it with {_import(by_hand)}")
    assert _engine(bare.id)._how_to_install() == f"import it with {_import(bare)}"


def test_a_damaged_checkpoint_with_no_hint_is_removed_then_imported(make_spec):
    """Unchanged: with no hint, the two commands (as with a download address)."""
    spec = make_spec()
    assert weights.replace_commands(spec) == (
        f"run `python main.py models remove {spec.id}`, then {_import(spec)}")


@pytest.mark.parametrize("manual", ["copy it from the lab's share", TRAIN])
def test_replace_commands_end_in_the_by_hand_steps(make_spec, manual):
    spec = make_spec(manual=manual)
    assert weights.replace_commands(spec) == (
        f"run `python main.py models remove {spec.id}`, then {weights.by_hand_steps(spec)}")


def test_a_damaged_checkpoint_with_an_address_is_downloaded_again(make_spec):
    """Unchanged: a checkpoint that has a download address is downloaded again (or
    imported)."""
    spec = make_spec(urls=("https://example.invalid/net.pth",))
    assert weights.replace_commands(spec) == (
        f"run `python main.py models remove {spec.id}`, then `python main.py models download "
        f"{spec.id}` (or {_import(spec)} with a copy you have)")


def test_a_damaged_file_of_the_engine_says_the_same_steps(make_spec):
    """A damaged installed file: the engine's status names it with
    :func:`~engines.weights.replace_commands`, and so the by-hand steps."""
    spec = make_spec(manual=TRAIN)
    damaged(spec.id)
    detail = _engine(spec.id).status().detail
    assert detail.endswith(f"; {weights.replace_commands(spec)}")
    assert detail.endswith(f"then {TRAIN} (or import one you have with {_import(spec)})")
