"""QA28 leftover: a checkpoint file changed on disk after it was installed (same size, another
modification time) is not shown as plainly ready before it is loaded. `models list` (and the
Models dialog) says ``installed (changed since it was verified; checked at its next use)``,
`engines` says ``ready (weights changed since verified)`` with the file in ``-v``, the Engine
panel says so too; none of them hashes the file. Once a load has hashed it and refused it,
it shows as damaged."""

from __future__ import annotations

import pytest

import cli
from cli.engines import engine_rows
from engines import download, registry, weights
from engines.base import Readiness
from tests.engines.test_replaced_checkpoint import fill, migan_file
from tests.engines.test_weights_corrupt_in_place import _fresh_state, flip_middle, hashes, later

pytestmark = pytest.mark.usefixtures("_fresh_state")
assert _fresh_state  # the fixture, imported

WEIGHTS_ID = "migan-256-places2"  # the migan-256 engine's


@pytest.fixture
def installed(model_cache, tmp_path):
    """MI-GAN 256 imported as a user's `models import` does; its installed path."""
    source = tmp_path / "migan_256_places2.pt"
    migan_file(source, seed=0)
    return download.import_file(WEIGHTS_ID, source)


def _row(name: str) -> tuple[str, str]:
    row = next(row for row in engine_rows() if row[0] == name)
    return row[3], row[4]


def test_an_untouched_file_is_plainly_installed_and_ready(installed):
    assert weights.installation(WEIGHTS_ID).label == "installed"
    assert _row("migan-256") == ("ready", "")


@pytest.mark.parametrize("change", ["touched", "damaged in place"])
def test_a_changed_file_is_said_so_without_hashing(installed, monkeypatch, capsys, change):
    if change == "touched":
        later(installed)
    else:
        flip_middle(installed)
    counted = hashes(monkeypatch)
    entry = weights.installation(WEIGHTS_ID)
    assert entry.state is weights.InstallState.INSTALLED and entry.changed
    assert entry.label == "installed (changed since it was verified; checked at its next use)"
    state, detail = _row("migan-256")
    assert state == "ready (weights changed since verified)"
    assert detail == (f"{installed.absolute()} changed since it was verified; checked at its "
                      "next use")
    assert registry.create("migan-256").status().readiness is Readiness.READY  # it can run
    assert cli.main(["models", "list"]) == cli.EXIT_OK
    listed = next(line for line in capsys.readouterr().out.splitlines()
                  if line.startswith(WEIGHTS_ID + " "))
    assert listed.endswith("installed (changed since it was verified; checked at its next use)")
    assert cli.main(["engines", "-v"]) == cli.EXIT_OK
    shown = capsys.readouterr().out
    assert "ready (weights changed since verified)" in shown
    assert f"    {installed.absolute()} changed since it was verified" in shown
    assert counted == []  # a status never hashes


def test_once_hashed_a_touched_identical_file_is_plainly_ready(installed):
    later(installed)
    fill(registry.create("migan-256", device="cpu"))  # the load hashes it: the same file
    assert not weights.installation(WEIGHTS_ID).changed
    assert _row("migan-256") == ("ready", "")


def test_once_hashed_and_refused_a_file_damaged_in_place_shows_damaged(installed):
    flip_middle(installed)
    with pytest.raises(weights.HashMismatchError):
        fill(registry.create("migan-256", device="cpu"))
    entry = weights.installation(WEIGHTS_ID)
    assert entry.state is weights.InstallState.DAMAGED and not entry.changed
    assert entry.problem.startswith("it has sha256 ")
    assert entry.problem.endswith("recorded when it was installed")
    state, detail = _row("migan-256")
    assert state == "damaged" and str(installed.absolute()) in detail


def test_the_engine_panel_says_a_changed_file_is_checked_at_its_next_use(installed):
    from app.panels import readiness_text

    engine = registry.engine_class("migan-256")
    assert readiness_text(Readiness.READY, "", engine) == "Ready"
    later(installed)
    assert readiness_text(Readiness.READY, "", engine) == (
        "Ready; its weights file changed since it was verified, and is checked when it is "
        "next used")
