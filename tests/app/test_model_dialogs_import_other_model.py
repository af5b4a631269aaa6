"""Models → Import file… of another model's installed, sound checkpoint: the dialog says whose
checkpoint it is and to choose the chosen model's own file, not "give this engine its own
weights"; the error keeps the import's fields (the checkpoint being imported, no installed
file at fault) and nothing is installed."""

from __future__ import annotations

import dataclasses

import pytest

from app.model_dialogs import ModelManagerDialog, weights_error_text
from engines import download, weights
from engines.weights import OtherModelsCheckpointError
from tests.engines.test_own_specs import conv_loader
from tests.engines.test_weights import URL, state_dict_file

pytestmark = pytest.mark.timeout(120)


def dense_loader(own):
    """A ``check_contents`` loading a network that needs ``dense.weight``, saying ``own``."""
    def check(path) -> None:
        if "dense.weight" not in weights.load_checkpoint(path):
            raise weights.mismatch_error(path, "the dense network", "missing: dense.weight",
                                         own=own)
    return check


@pytest.fixture
def two_models(make_spec, tmp_path, monkeypatch):
    """(Conv net, Dense net, Conv net's installed sound file)."""
    conv = make_spec(urls=(URL,), title="Conv net")
    dense = make_spec(urls=(URL,), title="Dense net")
    for spec, loader in ((conv, conv_loader), (dense, dense_loader)):
        monkeypatch.setitem(weights._SPECS, spec.id, dataclasses.replace(
            spec, check_contents=loader((spec.id,))))
    path = download.import_file(conv.id, state_dict_file(tmp_path))
    return conv, dense, path


def said(conv) -> str:
    return (f"net.pth is not the Dense net checkpoint: it does not fit the dense network "
            f"(missing: dense.weight): it is the Conv net checkpoint ({conv.id}), not one for "
            "the dense network; that checkpoint is installed already: choose the Dense net "
            "file instead")


def test_importing_another_models_file_says_to_choose_this_ones(two_models):
    conv, dense, path = two_models
    with pytest.raises(OtherModelsCheckpointError) as raised:
        download.import_file(dense.id, path)
    error = raised.value
    assert str(error) == said(conv) and weights_error_text(error) == said(conv)
    assert error.weights_ids == (dense.id,) and error.path is None
    assert weights.attach_file(error, path) is error and error.weights_ids == (dense.id,)
    assert not weights.local_path(dense.id).exists()
    assert weights.installation(conv.id).state is weights.InstallState.INSTALLED


def test_the_import_dialog_says_it_in_the_same_words(qtbot, two_models):
    conv, dense, path = two_models
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    transfer = dialog.import_from(dense.id, path)
    qtbot.waitUntil(lambda: not transfer.running, timeout=20000)
    assert transfer.heading.text() == f"Failed: Dense net: {said(conv)}"
    assert "give this engine" not in transfer.heading.text()
    assert not weights.local_path(dense.id).exists()
    assert weights.installation(conv.id).state is weights.InstallState.INSTALLED
