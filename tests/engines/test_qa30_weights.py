"""QA30 F4 and F5 on checkpoints.

F4: `models import` takes the folder that holds a zip member when that folder has the
member's folder name in the zip (``big-lama/models``, EdgeConnect's ``places2``), never
another dataset's folder holding a file of the same name (``celeba`` for places2); a
refused folder names the file to give where one can be found.

F5: a checkpoint whose sha256 was found to differ from its install record (a load, `models
verify`) is recorded so, beside its stat signature: later processes show it as damaged with
the same reason and refuse it without hashing it again, while the file keeps that
signature; a file changed again, or installed again, is judged afresh."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from cli import EXIT_OK, EXIT_USAGE
from engines import download, registry, weights
from tests.cli.test_qa28_leftovers import big_lama_folder  # noqa: F401 (fixture)
from tests.engines.test_qa28_leftovers_weights import installed  # noqa: F401 (fixture)
from tests.engines.test_replaced_checkpoint import fill, migan_file
from tests.engines.test_weights import state_dict_file
from tests.engines.test_weights_corrupt_in_place import (
    _fresh_state,
    flip_middle,
    hashes,
    later,
)

pytestmark = pytest.mark.usefixtures("_fresh_state")
assert _fresh_state  # the fixture, imported

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_ID = "migan-256-places2"  # the `installed` fixture's (the migan-256 engine's)

# --- F4: the member's own folder -----------------------------------------------------------


def test_lama_big_imports_the_models_folder_that_holds_best_ckpt(
        model_cache, big_lama_folder, capsys):  # noqa: F811 (the fixture imported)
    models = big_lama_folder / "models"
    assert cli.main(["models", "import", "lama-big", str(models)]) == EXIT_OK
    installed_at = weights.local_path("lama-big")
    assert capsys.readouterr().out.startswith(f"lama-big: installed at {installed_at} (")
    assert installed_at.read_bytes() == (models / "best.ckpt").read_bytes()
    assert weights.installation("lama-big").state is weights.InstallState.INSTALLED
    assert (models / "best.ckpt").is_file()  # copied, not moved


def test_edgeconnect_takes_its_own_dataset_folder(model_cache, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for dataset in ("celeba", "places2"):
        (checkpoints / dataset).mkdir(parents=True)
        state_dict_file(checkpoints / dataset, "EdgeModel_gen.pth")
    places2 = checkpoints / "places2"
    assert weights.import_source("edgeconnect-places2-edge", places2) \
        == places2 / "EdgeModel_gen.pth"
    assert weights.import_source("edgeconnect-places2-edge", str(places2) + "/") \
        == places2 / "EdgeModel_gen.pth"


def test_another_datasets_folder_is_refused_naming_the_right_file(model_cache, tmp_path,
                                                                  capsys):
    checkpoints = tmp_path / "checkpoints"
    for dataset in ("celeba", "places2"):
        (checkpoints / dataset).mkdir(parents=True)
        state_dict_file(checkpoints / dataset, "EdgeModel_gen.pth")
    celeba = checkpoints / "celeba"
    assert cli.main(["models", "import", "edgeconnect-places2-edge", str(celeba)]) \
        == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {celeba}: a folder without places2/EdgeModel_gen.pth; give the file in the "
        f"places2 folder beside it, {checkpoints / 'places2' / 'EdgeModel_gen.pth'}\n")
    assert not weights.local_path("edgeconnect-places2-edge").parent.exists()


def test_another_datasets_folder_alone_is_refused_as_before(model_cache, tmp_path, capsys):
    """No places2 file beside it: which dataset a lone EdgeModel_gen.pth is cannot be told."""
    celeba = tmp_path / "checkpoints" / "celeba"
    celeba.mkdir(parents=True)
    state_dict_file(celeba, "EdgeModel_gen.pth")
    with pytest.raises(IsADirectoryError) as raised:
        weights.import_source("edgeconnect-places2-edge", celeba)
    assert raised.value.strerror.startswith("a folder without places2/EdgeModel_gen.pth; give ")
    assert str(celeba / "EdgeModel_gen.pth") not in raised.value.strerror


def test_a_folder_holding_best_ckpt_under_another_name_names_it(model_cache, tmp_path,
                                                                capsys):
    """best.ckpt is one file in big-lama.zip: a folder of another name holding it is refused
    (only the member's own folder name is taken), naming the file in it to give."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    state_dict_file(folder, "best.ckpt")
    assert cli.main(["models", "import", "lama-big", str(folder)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {folder}: a folder without big-lama/models/best.ckpt; give the file in it, "
        f"{folder / 'best.ckpt'}\n")


# --- F5: a sha256 mismatch, recorded ------------------------------------------------------


def _new_process() -> None:
    """What a later process starts with: no digest remembered."""
    weights._HASHED.clear()


def _reason(installed: Path) -> str:  # noqa: F811 (a path, not the fixture)
    found = hashlib.sha256(installed.read_bytes()).hexdigest()
    recorded = weights.read_manifest(WEIGHTS_ID)["sha256"]
    return (f"it has sha256 {found[:12]}…, not the {recorded[:12]}… recorded when it was "
            "installed")


@pytest.mark.parametrize("found_by", ["a load", "models verify"])
def test_a_refused_file_shows_damaged_in_later_processes_without_hashing(
        installed, monkeypatch, capsys, found_by):  # noqa: F811 (the fixture imported)
    flip_middle(installed)
    if found_by == "a load":
        with pytest.raises(weights.HashMismatchError):
            fill(registry.create("migan-256", device="cpu"))
    else:
        assert cli.main(["models", "verify", WEIGHTS_ID]) != EXIT_OK
        capsys.readouterr()
    _new_process()
    counted = hashes(monkeypatch)
    reason = _reason(installed)
    assert weights.damage(WEIGHTS_ID) == reason
    entry = weights.installation(WEIGHTS_ID)
    assert entry.state is weights.InstallState.DAMAGED and not entry.changed
    assert entry.problem == reason
    assert cli.main(["models", "list"]) == EXIT_OK
    listed = next(line for line in capsys.readouterr().out.splitlines()
                  if line.startswith(WEIGHTS_ID + " "))
    assert f"damaged: {reason}; run `python main.py models remove {WEIGHTS_ID}`" in listed
    with pytest.raises(weights.HashMismatchError) as raised:  # refused again, unhashed
        weights.load_checkpoint(installed, "state_dict")
    assert raised.value.reason == reason
    with pytest.raises(weights.HashMismatchError) as raised:
        weights.verify(WEIGHTS_ID)
    assert str(raised.value).startswith(f"{installed.absolute()} is damaged: {reason}; ")
    assert counted == []


def test_a_new_process_says_damaged(installed, capsys):  # noqa: F811 (the fixture imported)
    flip_middle(installed)
    assert cli.main(["models", "verify", WEIGHTS_ID]) != EXIT_OK
    capsys.readouterr()
    shown = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "models", "list"], capture_output=True,
        text=True, cwd=ROOT, env=os.environ | {"QT_QPA_PLATFORM": "offscreen"}, timeout=120,
        check=True).stdout
    listed = next(line for line in shown.splitlines() if line.startswith(WEIGHTS_ID + " "))
    assert f"damaged: {_reason(installed)}; " in listed


def test_a_file_changed_again_is_judged_afresh(installed, tmp_path):  # noqa: F811
    good = installed.read_bytes()
    flip_middle(installed)
    with pytest.raises(weights.HashMismatchError):
        weights.load_checkpoint(installed, "state_dict")
    _new_process()
    assert weights.installation(WEIGHTS_ID).state is weights.InstallState.DAMAGED
    installed.write_bytes(good)  # put back as it was: another signature
    _new_process()
    entry = weights.installation(WEIGHTS_ID)
    assert entry.state is weights.InstallState.INSTALLED and entry.changed
    weights.load_checkpoint(installed, "state_dict")  # hashed: the installed file
    _new_process()
    entry = weights.installation(WEIGHTS_ID)
    assert (entry.state, entry.changed) == (weights.InstallState.INSTALLED, False)
    assert "mismatch" not in json.loads(weights.manifest_path(WEIGHTS_ID).read_text("utf-8"))


def test_an_import_over_a_refused_file_clears_it(installed, tmp_path):  # noqa: F811
    flip_middle(installed)
    with pytest.raises(weights.HashMismatchError):
        weights.verify(WEIGHTS_ID)
    source = tmp_path / "again.pt"
    migan_file(source, seed=0)
    download.import_file(WEIGHTS_ID, source)
    _new_process()
    entry = weights.installation(WEIGHTS_ID)
    assert (entry.state, entry.changed) == (weights.InstallState.INSTALLED, False)


def test_a_touched_identical_file_stays_plainly_installed_in_later_processes(
        installed, monkeypatch):  # noqa: F811 (the fixture imported)
    later(installed)
    fill(registry.create("migan-256", device="cpu"))  # hashed: the same file
    _new_process()
    counted = hashes(monkeypatch)
    entry = weights.installation(WEIGHTS_ID)
    assert (entry.state, entry.changed) == (weights.InstallState.INSTALLED, False)
    weights.load_checkpoint(installed, "state_dict")
    assert counted == []
