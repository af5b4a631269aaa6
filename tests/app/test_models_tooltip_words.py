"""The Models table's tooltip for a damaged file (QA39 F6): it says why the file cannot be
used in the words of :func:`engines.weights.damage` (which tell another file, "a web page,
not a checkpoint", from the checkpoint damaged, "a zip archive cut short"), never "It is not
the checkpoint" of a file that is the checkpoint, damaged; and how to replace it, for a
trained model as ``models list`` says (train one again, or import one)."""

from __future__ import annotations

import pytest
import torch

from app.model_dialogs import ModelManagerDialog, _tooltip
from engines import download, weights
from tests.engines.test_damaged_status import PAGE_REASON, damaged

pytestmark = pytest.mark.timeout(60)
URL = "https://example.org/net.pth"


def cut_short(make_spec, tmp_path, **fields) -> weights.WeightSpec:
    """A spec whose imported ``torch.save`` zip lost its last 200 bytes."""
    source = tmp_path / "net.pth"
    torch.save({"conv.weight": torch.rand(16, 8, 3, 3)}, source)
    spec = make_spec(size=source.stat().st_size, **fields)
    path = download.import_file(spec.id, source)
    path.write_bytes(path.read_bytes()[:-200])
    return spec


def tooltip(weights_id: str) -> str:
    entry = weights.installation(weights_id)
    assert entry.state is weights.InstallState.DAMAGED
    return _tooltip(entry)


def test_another_file_in_the_slot_says_what_it_is_and_to_download_it_again(make_spec):
    spec = make_spec(urls=(URL,))
    damaged(spec.id)
    assert (f"It cannot be used: {PAGE_REASON}. Download it again, or Remove it and Import "
            "file… with a copy you have.") in tooltip(spec.id)
    assert "It is not the checkpoint" not in tooltip(spec.id)


def test_the_checkpoint_damaged_is_not_called_another_file(make_spec, tmp_path):
    spec = cut_short(make_spec, tmp_path)
    said = tooltip(spec.id)
    reason = weights.damage(spec.id)
    assert reason.startswith("it is a zip archive cut short (")
    assert (f"It cannot be used: {reason}. Remove it, then Import file… with a copy you "
            "have.") in said
    assert "not the checkpoint" not in said


def test_a_damaged_trained_model_is_told_to_be_trained_again_or_imported(model_cache,
                                                                         qtbot):
    """As ``models list`` (:func:`engines.weights.replace_commands`): train one again with
    the command-line tool, or import one you have; not only "Import file…"."""
    path = damaged("semantic-local")
    said = tooltip("semantic-local")
    assert (f"It cannot be used: {PAGE_REASON}. Remove it, then train one with the "
            "command-line tool's “train semantic” command, or Import file… with a model file "
            "you have.") in said
    commands = weights.replace_commands(weights.get_spec("semantic-local"))
    assert commands == ("run `python main.py models remove semantic-local`, then train one "
                        "with `python main.py train semantic --images DIR` (or import one you "
                        "have with `python main.py models import semantic-local FILE`)")

    dialog = ModelManagerDialog()  # the table shows that tooltip
    qtbot.addWidget(dialog)
    row = next(row for row in range(dialog.table.rowCount())
               if dialog.table.item(row, 1).text() == "semantic-local")
    assert dialog.table.item(row, 5).text() == "damaged"
    assert dialog.table.item(row, 5).toolTip() == said
    assert str(path) in said
