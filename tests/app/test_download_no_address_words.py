"""The editor's download dialog says a checkpoint with no download address in the editor's
words (File → Models…, Import file…), never the command line's `python main.py models
import`."""

from __future__ import annotations

from app.model_dialogs import DownloadDialog, gui_error_text
from engines import download

EDITOR_WORDS = ("The Test net weights are not installed: File → Models… says where to get "
                "them, then Import file… installs them")


def test_the_error_in_the_editors_words(make_spec):
    spec = make_spec(manual="ask the authors")
    try:
        download.download(spec.id)
    except download.DownloadError as exc:
        assert gui_error_text(exc) == EDITOR_WORDS
    else:
        raise AssertionError("downloaded a checkpoint with no address")


def test_the_download_dialog_shows_the_editors_words(qtbot, make_spec):
    spec = make_spec(manual="ask the authors")
    dialog = DownloadDialog([spec.id])
    qtbot.addWidget(dialog)
    failures = []
    dialog.failed.connect(lambda weights_id, message: failures.append((weights_id, message)))
    with qtbot.waitSignal(dialog.completed, timeout=20000) as completed:
        dialog.start()
    assert completed.args == [False]
    assert failures == [(spec.id, EDITOR_WORDS)]
    assert "python main.py" not in dialog.heading.text()
