"""How to get a checkpoint with no download address is said as doable steps, alike in the
command-line tool and the editor: a file fetched by hand (MI-GAN's) is then imported (its
download alone installs nothing), and the model trained here (``semantic-local``) is trained
or imported, never "ask its authors for the file" (it has none)."""

from __future__ import annotations

import pytest

import cli
from app.model_dialogs import _manual_steps, _tooltip, not_ready_advice, where_to_get
from engines import registry, weights
from engines.base import Readiness
from tests.engines.test_damaged_status import PAGE_REASON, damaged

pytestmark = pytest.mark.timeout(60)

DRIVE = "https://drive.google.com/drive/folders/1xNtvN2lto0p5yFKOEEg9RioMjGrYM74w"
MIGAN_GET = f"download migan_512_places2.pt from the MI-GAN authors' Google Drive folder {DRIVE}"
MIGAN_IMPORT = "then import it with `python main.py models import migan-512-places2 FILE`"
SEMANTIC_TRAIN = ("train one with `python main.py train semantic --images DIR` (or import one "
                  "you have with `python main.py models import semantic-local FILE`)")
GUI_TRAIN = ("train one with the command-line tool's “train semantic” command (it installs the "
             "model when done)")
SEMANTIC = "<b>Semantic-guided two-stage network (trained locally)</b>"
IMPORT_STEP = "File → Models… (select it, then Import file…)"


def listed(capsys, weights_id: str) -> str:
    """The state ``models list`` prints for ``weights_id``."""
    assert cli.main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith(f"{weights_id} "))
    return row


def test_a_damaged_migan_file_is_replaced_by_fetching_it_and_importing_it(model_cache,
                                                                            capsys):
    damaged("migan-512-places2")
    spec = weights.get_spec("migan-512-places2")
    commands = (f"run `python main.py models remove migan-512-places2`, then {MIGAN_GET}, "
                f"{MIGAN_IMPORT}")
    assert weights.replace_commands(spec) == commands
    assert listed(capsys, "migan-512-places2").endswith(f"damaged: {PAGE_REASON}; {commands}")
    assert cli.main(["models", "download", "migan-512-places2"]) == 2
    assert capsys.readouterr().err.endswith(f"; {commands}\n")


def test_missing_migan_weights_say_where_to_get_them_and_the_import(model_cache):
    assert weights.by_hand_steps(weights.get_spec("migan-512-places2")) == (
        f"{MIGAN_GET}, {MIGAN_IMPORT}")
    assert weights.readiness_problem(["migan-512-places2"]) == (
        f"weights migan-512-places2 not installed; {MIGAN_GET}, {MIGAN_IMPORT}")
    with pytest.raises(weights.WeightsMissingError) as raised:
        weights.require("migan-512-places2")
    assert str(raised.value) == ("MI-GAN 512 (Places2) weights are not installed: "
                                 f"{MIGAN_GET}, {MIGAN_IMPORT}")


def test_a_hint_that_says_where_to_get_a_file_is_followed_by_the_import(make_spec):
    shared = make_spec(manual="copy it from the lab's share")
    assert weights.readiness_problem([shared.id]) == (
        f"weights {shared.id} not installed; copy it from the lab's share, then import it with "
        f"`python main.py models import {shared.id} FILE`")
    bare = make_spec()  # no hint: the import command, with the real id, once
    with pytest.raises(weights.WeightsMissingError) as raised:
        weights.require(bare.id)
    assert str(raised.value) == ("Test net weights are not installed: import it with `python "
                                 f"main.py models import {bare.id} FILE`")


def test_the_trained_model_missing_is_trained_or_imported_everywhere(model_cache, capsys):
    spec = weights.get_spec("semantic-local")
    assert weights.by_hand_steps(spec) == SEMANTIC_TRAIN
    assert weights.readiness_problem(["semantic-local"]) == (
        f"weights semantic-local not installed; {SEMANTIC_TRAIN}")
    with pytest.raises(weights.WeightsMissingError) as raised:
        weights.require("semantic-local")
    assert str(raised.value).endswith(f"are not installed: {SEMANTIC_TRAIN}")
    assert listed(capsys, "semantic-local").endswith("manual import")

    entry = weights.installation("semantic-local")
    steps = _manual_steps(entry)
    assert steps == (f"{SEMANTIC} has no download address: {GUI_TRAIN}, or install a model "
                     f"file you have in {IMPORT_STEP}.")
    assert "authors" not in steps and "`" not in steps
    assert where_to_get(spec) == GUI_TRAIN
    said = _tooltip(entry)
    assert (f"Get it by hand: {GUI_TRAIN}, or Import file… with a model file you have"
            in said)
    assert "no download address known" not in said and "`" not in said


def test_the_trained_model_damaged_is_trained_again_or_imported_everywhere(model_cache,
                                                                           capsys):
    damaged("semantic-local")
    spec = weights.get_spec("semantic-local")
    commands = f"run `python main.py models remove semantic-local`, then {SEMANTIC_TRAIN}"
    assert weights.replace_commands(spec) == commands
    assert listed(capsys, "semantic-local").endswith(f"damaged: {PAGE_REASON}; {commands}")

    entry = weights.installation("semantic-local")
    assert _manual_steps(entry) == (
        f"{SEMANTIC}: the installed file is damaged ({PAGE_REASON}), and it has no download "
        f"address: Remove it in File → Models…, then {GUI_TRAIN}, or replace it with a model "
        f"file you have in {IMPORT_STEP}.")
    advice = not_ready_advice(Readiness.NEEDS_TRAINING, registry.engine_class("semantic"))
    assert advice == ("its model file is damaged: replace it in File → Models… (Import file… "
                      f"with a model file you have), or Remove it there, then {GUI_TRAIN}")
    said = _tooltip(entry)  # the advice once, with the damage (QA41: it came twice)
    assert said.count(GUI_TRAIN.split(" (")[0]) == 1 and "Get it by hand" not in said
    assert "Remove it, then train one with" in said


def test_a_trained_model_installed_still_says_it_is_trained(model_cache, tmp_path):
    """With a sound model installed the engine is ready (nothing to train now), yet the
    Models table's tooltip says how such a model is got: trained, not "no download address
    known" nor "ask its authors"."""
    from engines.neural.semantic import SemanticInpaintNet, checkpoint_dict
    from engines.neural.semantic_training import install, save_checkpoint

    checkpoint = tmp_path / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(SemanticInpaintNet(4, channels=4, memory=4),
                                                {"step": 1}))
    install(checkpoint)
    entry = weights.installation("semantic-local")
    assert entry.state is weights.InstallState.INSTALLED
    assert registry.create("semantic").status().ready
    said = _tooltip(entry)
    assert f"Get it by hand: {GUI_TRAIN}, or Import file… with a model file you have" in said


def test_every_spec_without_a_download_address_gives_a_doable_step(model_cache):
    """Each real checkpoint with no download address: the command-line words end in a
    command that installs it (import, or training, which installs), the editor's in Import
    file… or training; none asks its authors or knows no way."""
    by_hand = [spec for spec in weights.all_specs() if not spec.urls]
    assert {spec.id for spec in by_hand} >= {"migan-512-places2", "semantic-local"}
    for spec in by_hand:
        steps = weights.by_hand_steps(spec)
        assert f"`python main.py models import {spec.id} FILE`" in steps, steps
        entry = weights.installation(spec.id)
        for said in (_manual_steps(entry), _tooltip(entry)):
            assert "authors for the file" not in said and "no download address known" not in said
            assert "Import file…" in said, said
        damaged(spec.id)
        replace = weights.replace_commands(spec)
        assert f"`python main.py models import {spec.id} FILE`" in replace, replace
        weights.remove(spec.id)
