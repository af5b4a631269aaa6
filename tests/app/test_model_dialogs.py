"""The download dialog and the model manager, offscreen, against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import time
import uuid

import pytest
import torch
from PySide6.QtWidgets import QDialog, QMessageBox

from app import model_dialogs
from app.model_dialogs import DownloadDialog, ModelManagerDialog, offer_download
from engines import download, weights
from engines.weights import WeightSpec

pytestmark = pytest.mark.timeout(60)


class SlowServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with Range and If-Range support (each
    file's ETag: its sha256), ``delay`` seconds between 8 KiB blocks."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.0
        self.ranges: list[str | None] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                requested = self.headers.get("Range")
                outer.ranges.append(requested)
                etag = f'"{hashlib.sha256(body).hexdigest()}"'
                if self.headers.get("If-Range", etag) != etag:
                    requested = None
                start = int(requested[6:].split("-")[0]) if requested else 0
                self.send_response(206 if start else 200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                for offset in range(start, len(body), 8192):
                    try:
                        self.wfile.write(body[offset:offset + 8192])
                    except OSError:
                        return
                    time.sleep(outer.delay)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    files = SlowServer()
    yield files
    files.close()




def checkpoint_bytes(size: int = 300_000) -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.rand(size // 4, generator=torch.Generator().manual_seed(1))}, buffer)
    return buffer.getvalue()


def served_spec(server, make_spec, **fields) -> tuple[WeightSpec, bytes]:
    body = checkpoint_bytes()
    name = f"/{uuid.uuid4().hex[:6]}.pth"
    server.files[name] = body
    spec = make_spec(urls=(server.url(name),), sha256=hashlib.sha256(body).hexdigest(),
                     size=len(body), license="MIT", **fields)
    return spec, body


def test_download_dialog_downloads_and_accepts(qtbot, server, make_spec):
    spec, body = served_spec(server, make_spec)
    dialog = DownloadDialog(spec.id)
    qtbot.addWidget(dialog)
    succeeded = []
    dialog.succeeded.connect(lambda weights_id, path: succeeded.append((weights_id, path)))

    with qtbot.waitSignal(dialog.finished, timeout=20000) as finished:
        dialog.start()
        dialog.open()

    assert finished.args == [QDialog.Accepted]
    assert succeeded == [(spec.id, str(weights.local_path(spec.id)))]
    assert weights.local_path(spec.id).read_bytes() == body
    assert not dialog.running and dialog.errors == {}


def test_cancel_stops_the_download_and_keeps_the_partial_file(qtbot, server, make_spec,
                                                              monkeypatch):
    spec, body = served_spec(server, make_spec)
    server.delay = 0.02
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    monkeypatch.setattr(model_dialogs, "PROGRESS_INTERVAL_S", 0.0)
    dialog = DownloadDialog([spec.id])
    qtbot.addWidget(dialog)
    dialog.start()
    dialog.open()
    qtbot.waitUntil(lambda: weights.partial_path(spec.id).is_file()
                    and weights.partial_path(spec.id).stat().st_size > 20_000, timeout=20000)
    assert "of" in dialog.detail.text()  # bytes and total shown

    with qtbot.waitSignal(dialog.cancelled, timeout=20000) as cancelled, \
            qtbot.waitSignal(dialog.finished, timeout=20000) as finished:
        dialog.cancel_button.click()

    assert cancelled.args == [spec.id] and finished.args == [QDialog.Rejected]
    kept = weights.partial_path(spec.id).stat().st_size
    assert 0 < kept < len(body) and not weights.is_present(spec.id)
    assert weights.installation(spec.id).state is weights.InstallState.PARTIAL

    server.delay = 0.0
    again = DownloadDialog([spec.id])
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.completed, timeout=20000) as completed:
        again.start()
    assert completed.args == [True]
    assert weights.local_path(spec.id).read_bytes() == body
    assert server.ranges[-1] == f"bytes={kept}-"


def test_download_dialog_says_it_waits_for_another_program(qtbot, server, make_spec,
                                                            checkpoint_held):
    spec, body = served_spec(server, make_spec)
    other = checkpoint_held(spec.id)
    dialog = DownloadDialog([spec.id])
    qtbot.addWidget(dialog)
    dialog.start()
    dialog.open()

    qtbot.waitUntil(lambda: "another Inpaint Studio" in dialog.detail.text(), timeout=20000)
    assert dialog.running and server.ranges == []

    with qtbot.waitSignal(dialog.completed, timeout=20000) as completed:
        other.release()  # it ended without installing: this dialog downloads
    assert completed.args == [True]
    assert weights.local_path(spec.id).read_bytes() == body


def test_model_manager_keeps_a_checkpoint_another_program_holds(qtbot, make_spec, tmp_path,
                                                                checkpoint_held, monkeypatch):
    spec = make_spec()
    source = tmp_path / "net.pth"
    source.write_bytes(checkpoint_bytes(20_000))
    installed = download.import_file(spec.id, source)
    checkpoint_held(spec.id)
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    warnings = []
    monkeypatch.setattr(dialog, "_confirm_remove", lambda ids: True)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    dialog.select([spec.id])

    assert dialog.remove_selected() == 0
    assert installed.is_file() and len(warnings) == 1
    assert spec.id in warnings[0] and "another" in warnings[0]


def test_failed_download_stays_open_with_the_message(qtbot, server, make_spec):
    spec = make_spec(urls=(server.url("/missing.pth"),))
    dialog = DownloadDialog([spec.id])
    qtbot.addWidget(dialog)
    failures = []
    dialog.failed.connect(lambda weights_id, message: failures.append((weights_id, message)))

    with qtbot.waitSignal(dialog.completed, timeout=20000) as completed:
        dialog.start()
        dialog.open()

    assert completed.args == [False]
    assert failures and failures[0][0] == spec.id and "HTTP 404" in failures[0][1]
    assert dialog.isVisible() and "HTTP 404" in dialog.heading.text()
    with qtbot.waitSignal(dialog.finished, timeout=5000) as finished:
        dialog.cancel_button.click()  # now "Close"
    assert finished.args == [QDialog.Rejected]


def test_manager_lists_specs_with_state_and_acts(qtbot, server, make_spec, tmp_path,
                                                 monkeypatch):
    spec, body = served_spec(server, make_spec, title="Served net")
    manual = make_spec(title="Hand-made net", license="CC BY-NC 4.0",
                       manual="ask the authors")
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)

    def row_of(weights_id):
        for row in range(dialog.table.rowCount()):
            if dialog.table.item(row, 1).text() == weights_id:
                return [dialog.table.item(row, c).text() for c in range(len(dialog.COLUMNS))]
        raise AssertionError(f"{weights_id} not listed")

    assert row_of(spec.id) == ["Served net", spec.id, "test", weights.format_size(len(body)),
                               "MIT", "needs download"]
    assert row_of(manual.id)[4:] == ["CC BY-NC 4.0", "manual import"]

    dialog.select([spec.id])
    assert dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    changed = []
    dialog.modelsChanged.connect(lambda: changed.append(1))
    assert dialog.download_selected() is dialog.transfer
    qtbot.waitUntil(lambda: row_of(spec.id)[5] == "installed", timeout=20000)
    assert changed and weights.local_path(spec.id).read_bytes() == body
    assert row_of(spec.id)[3] == weights.format_size(len(body))

    source = tmp_path / "states.pth"
    source.write_bytes(checkpoint_bytes(20_000))
    dialog.import_from(manual.id, source)
    qtbot.waitUntil(lambda: row_of(manual.id)[5] == "installed", timeout=20000)

    monkeypatch.setattr(dialog, "_confirm_remove", lambda ids: True)
    dialog.select([spec.id, manual.id])
    assert dialog.remove_button.isEnabled()
    assert dialog.remove_selected() > len(body)
    assert row_of(spec.id)[5] == "needs download" and row_of(manual.id)[5] == "manual import"


def test_offer_download(qtbot, server, make_spec, monkeypatch):
    spec, body = served_spec(server, make_spec)
    manual = make_spec(manual="ask the authors")
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args: asked.append(args[2]) or QMessageBox.No)
    monkeypatch.setattr(QMessageBox, "information", lambda *args: asked.append(args[2]))

    assert offer_download([spec.id]) is False and "Download now?" in asked[-1]
    assert f"{spec.title} (MIT) (about {weights.format_size(len(body))}) is needed for this " \
        "engine." in asked[-1]
    assert offer_download([spec.id], purpose="face detection") is False
    assert "is needed for face detection. Download now?" in asked[-1]
    assert offer_download([manual.id]) is False
    assert asked[-1] == ("<b>Test net</b> has no download address: ask the authors, then "
                         "install the file in File → Models… (select it, then Import file…).")
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    assert offer_download([spec.id]) is True
    assert weights.local_path(spec.id).read_bytes() == body
    asked.clear()
    assert offer_download([spec.id]) is True and asked == []  # installed: nothing asked



def damaged_slot(spec) -> None:
    """An error page saved in ``spec``'s cache slot instead of the checkpoint."""
    path = weights.local_path(spec.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"<html><body>Quota exceeded</body></html>")


def test_manager_shows_a_damaged_file_and_replaces_it(qtbot, server, make_spec):
    spec, body = served_spec(server, make_spec)
    damaged_slot(spec)
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    row = next(row for row in range(dialog.table.rowCount())
               if dialog.table.item(row, 1).text() == spec.id)
    assert dialog.table.item(row, 5).text() == "damaged"
    assert "it is a web page" in dialog.table.item(row, 5).toolTip()

    dialog.select([spec.id])
    assert dialog.download_button.isEnabled() and dialog.remove_button.isEnabled()
    assert dialog.download_selected() is dialog.transfer
    qtbot.waitUntil(lambda: dialog.table.item(row, 5).text() == "installed", timeout=20000)
    assert weights.local_path(spec.id).read_bytes() == body


def test_offer_download_replaces_a_damaged_file(qtbot, server, make_spec, monkeypatch):
    spec, body = served_spec(server, make_spec)
    damaged_slot(spec)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args: asked.append(args[2]) or QMessageBox.Yes)

    assert offer_download([spec.id]) is True
    assert "damaged (it is a web page" in asked[0] and "replaced" in asked[0]
    assert weights.local_path(spec.id).read_bytes() == body


CLOSING_SCRIPT = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app import window as window_module
from app.model_dialogs import DownloadDialog
from engines import download, weights
from engines.base import Cancelled

marker = Path(sys.argv[1])
window_module.CLOSE_WAIT_MS = 1500
for name in ("stuck", "polite"):
    weights.register_spec(weights.WeightSpec(id=f"test-{name}", engine="test", title=name,
                                             filename="net.pth", urls=("http://127.0.0.1:9/x",)))

def fake_download(weights_id, progress, cancel, force=False, waiting=None):
    if weights_id == "test-stuck":
        time.sleep(60)  # a read from a server that stalls: it never sees the cancel
    while not cancel.cancelled:
        time.sleep(0.02)
    time.sleep(0.3)  # tidying up after the cancel
    marker.write_text("ended")
    raise Cancelled()

download.download = fake_download
app = QApplication([])
window = window_module.MainWindow()
window.show()
dialogs = [DownloadDialog([weights_id], window) for weights_id in ("test-stuck", "test-polite")]
for dialog in dialogs:
    dialog.start()
    dialog.open()
window.ask_stop_runs = lambda text: print("asked:", text, flush=True) or True

def close():
    window.close()
    print("closed", flush=True)
    app.quit()

QTimer.singleShot(500, close)
sys.exit(app.exec())
"""


def test_closing_the_window_during_a_download_that_ignores_cancelling_exits_cleanly(tmp_path):
    """Closing (asked first, answered Stop and quit) cancels every transfer and waits for
    them (one shared deadline); one stuck in a blocked read is left to the end of the
    program, which neither hangs nor aborts (a running QThread destroyed at exit would:
    SIGABRT)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "close_during_download.py"
    script.write_text(CLOSING_SCRIPT)
    marker = tmp_path / "polite-ended"
    root = str(Path(__file__).resolve().parents[2])
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), str(marker)], capture_output=True,
                          text=True, timeout=50, cwd=root,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": root,
                               "INPAINT_STUDIO_MODELS": str(tmp_path / "models"),
                               "INPAINT_STUDIO_CONFIG": str(tmp_path / "preferences.ini")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "closed" in done.stdout
    assert ("asked: A download of weights is in progress. A download of weights is in "
            "progress. Stop them and quit?") in done.stdout  # Stop and quit
    assert marker.read_text() == "ended"  # the cooperative download was cancelled and awaited
    assert time.monotonic() - started < 40  # the stuck one did not hold the program open


def test_the_faces_panel_asks_for_face_detection_not_an_engine(qtbot, monkeypatch):
    from app.faces import FacePanel

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args: asked.append(args[2]) or QMessageBox.No)
    panel = FacePanel()
    qtbot.addWidget(panel)

    assert panel.download_models() is False
    assert len(asked) == 1 and "needed for face detection and Auto-sketch" in asked[0]
    assert "engine" not in asked[0]


def test_a_burst_then_a_stall_still_shows_the_last_bytes(qtbot, make_spec, monkeypatch):
    """Reports come faster than the throttle passes them, then none for a long time: the
    latest one still reaches the dialog (not 0 B of the total until the next byte)."""
    monkeypatch.setattr(model_dialogs, "PROGRESS_INTERVAL_S", 0.5)
    spec = make_spec(urls=("http://127.0.0.1:9/net.pth",), size=402_000)
    stalled = threading.Event()
    release = threading.Event()

    def job(progress, cancel, waiting):
        for done in (0, 8192, 40_000, 66_000):  # within microseconds: one interval
            progress(done, 402_000)
        stalled.set()
        release.wait(30)  # the server says nothing more
        raise download.DownloadError("stalled")

    dialog = model_dialogs.TransferDialog([(spec.id, job)], "Downloading weights")
    qtbot.addWidget(dialog)
    dialog.start()
    assert stalled.wait(20)
    try:
        qtbot.waitUntil(lambda: dialog.detail.text().startswith("66 kB of 402 kB"),
                        timeout=20000)
    finally:
        release.set()
    dialog.wait(20000)


def test_a_failed_download_says_a_kept_partial_file_is_resumed(qtbot, server, make_spec,
                                                                monkeypatch):
    spec, body = served_spec(server, make_spec)
    gone = make_spec(urls=(server.url("/missing.pth"),))
    part = weights.partial_path(spec.id)

    def cut_short(weights_id, progress, cancel, force=False, waiting=None):
        if weights_id == gone.id:
            return download.download(weights_id, progress, cancel, force, waiting)
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(body[:1000])
        raise download.DownloadError("the download keeps failing")

    monkeypatch.setattr(download, "download", cut_short)
    texts = []
    for weights_id in (spec.id, gone.id):
        dialog = DownloadDialog([weights_id])
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.completed, timeout=20000):
            dialog.start()
        texts.append(dialog.detail.text())

    assert texts[0].startswith("The partial download of Test net is kept: downloading "
                               "again resumes it.")
    assert texts[1].startswith("Try again later.") and "partial" not in texts[1]


def failing_specs(server, make_spec) -> tuple[WeightSpec, WeightSpec, str, str]:
    """(Missing net, Html net, why each fails): a checkpoint the server does not have (HTTP
    404) and one for which it sends a web page."""
    host = f"127.0.0.1:{server.httpd.server_address[1]}"
    missing = make_spec(urls=(server.url("/nope.pth"),), size=300_000, title="Missing net")
    server.files["/page.pth"] = b"<!DOCTYPE html><html><body>Quota exceeded</body></html>" * 10
    page = make_spec(urls=(server.url("/page.pth"),), size=300_000, title="Html net")
    return (missing, page,
            f"{host} has no such file (HTTP 404, {server.url('/nope.pth')}): the file may have "
            "moved; get it by hand and import it",
            f"the file from {host} is a web page, not the Html net checkpoint (the server sent "
            "a page instead of the file); the bad file was removed")


def finish(qtbot, dialog: DownloadDialog) -> list:
    """Run ``dialog``'s queue to its end; ``completed``'s arguments."""
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=30000) as completed:
        dialog.start()
        dialog.open()
    return completed.args


def test_a_queue_partly_installed_says_what_was_and_what_failed(qtbot, server, make_spec):
    missing, page, not_there, web_page = failing_specs(server, make_spec)
    good, body = served_spec(server, make_spec, title="Good net")
    dialog = DownloadDialog([missing.id, page.id, good.id])

    assert finish(qtbot, dialog) == [False]

    assert weights.local_path(good.id).read_bytes() == body
    assert dialog.heading.text() == ("1 of 3 installed (Good net); 2 failed:\n"
                                     f"Missing net: {not_there}\nHtml net: {web_page}")
    assert (dialog.bar.value(), dialog.bar.maximum()) == (1, 3)  # the share installed
    assert dialog.detail.text() == ("Try downloading Missing net and Html net again later. Or "
                                    "import a file you downloaded yourself from the model "
                                    "manager.")
    assert dialog.isVisible() and dialog.cancel_button.text() == "Close"


def test_a_queue_with_one_failure_or_all_failed_names_them_by_title(qtbot, server,
                                                                    make_spec):
    missing, page, not_there, web_page = failing_specs(server, make_spec)
    good, _ = served_spec(server, make_spec, title="Good net")
    one = DownloadDialog([good.id, missing.id])
    assert finish(qtbot, one) == [False]
    assert one.heading.text() == f"1 of 2 installed (Good net); failed: Missing net: {not_there}"
    assert (one.bar.value(), one.bar.maximum()) == (1, 2)
    assert one.detail.text().startswith("Try downloading Missing net again later. Or import")

    both = DownloadDialog([missing.id, page.id])
    assert finish(qtbot, both) == [False]
    assert both.heading.text() == f"2 failed:\nMissing net: {not_there}\nHtml net: {web_page}"
    assert both.bar.value() == 0
    assert both.detail.text() == ("Try again later. Or import a file you downloaded yourself "
                                  "from the model manager.")

    alone = DownloadDialog([missing.id])
    assert finish(qtbot, alone) == [False]
    assert alone.heading.text() == f"Failed: Missing net: {not_there}"


def test_a_queue_cancelled_after_a_failure_names_both(qtbot, server, make_spec, monkeypatch):
    missing, _, not_there, _ = failing_specs(server, make_spec)
    slow, _ = served_spec(server, make_spec, title="Slow net")
    server.delay = 0.02
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    dialog = DownloadDialog([missing.id, slow.id])
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: weights.partial_path(slow.id).is_file(), timeout=20000)
    with qtbot.waitSignal(dialog.completed, timeout=20000) as completed:
        dialog.cancel()
    assert completed.args == [False]
    assert dialog.heading.text() == f"Slow net cancelled; failed: Missing net: {not_there}"


def test_a_bad_download_is_not_said_to_be_kept(qtbot, server, make_spec):
    body = checkpoint_bytes()
    server.files["/cut.pth"] = body[:len(body) * 2 // 3]
    spec = make_spec(urls=(server.url("/cut.pth"),))
    dialog = DownloadDialog([spec.id])
    qtbot.addWidget(dialog)

    with qtbot.waitSignal(dialog.completed, timeout=20000):
        dialog.start()

    assert "is a zip archive cut short" in dialog.heading.text()
    assert "the bad file was removed" in dialog.heading.text()
    assert "not a PyTorch checkpoint" not in dialog.heading.text()
    assert "kept" not in dialog.detail.text()


def test_remove_during_this_programs_own_download_says_so(qtbot, server, make_spec,
                                                          monkeypatch):
    spec, _body = served_spec(server, make_spec)
    server.delay = 0.05
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    warnings = []
    monkeypatch.setattr(manager, "_confirm_remove", lambda ids: True)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    manager.select([spec.id])
    transfer = manager.download_selected()
    qtbot.waitUntil(lambda: weights.partial_path(spec.id).is_file(), timeout=20000)

    manager.select([spec.id])
    assert manager.remove_selected() == 0
    transfer.cancel()
    assert transfer.wait(20000)

    assert len(warnings) == 1
    assert f"{spec.id} is being downloaded here, by this Inpaint Studio" in warnings[0]
    assert "another" not in warnings[0]


def test_open_folder_says_why_the_folder_cannot_be_made(qtbot, make_spec, tmp_path,
                                                        monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(weights.CACHE_ENV, str(blocker / "models"))
    spec = make_spec()
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    warnings, opened = [], []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    monkeypatch.setattr(model_dialogs.QDesktopServices, "openUrl",
                        lambda url: opened.append(url) or True)
    manager.select([spec.id])

    assert manager.open_folder() is False
    assert len(warnings) == 1 and not opened
    assert str(weights.local_path(spec.id).parent) in warnings[0]
    assert f"{blocker} is a file, not a folder" in warnings[0]
    assert weights.CACHE_ENV in warnings[0]


def test_models_table_leaves_tab_to_the_buttons_and_delete_removes(qtbot, make_spec,
                                                                   tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    spec = make_spec()
    source = tmp_path / "net.pth"
    source.write_bytes(checkpoint_bytes(20_000))
    installed = download.import_file(spec.id, source)
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    manager.show()
    manager.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is manager, timeout=5000)
    manager.table.setFocus()
    manager.select([spec.id])

    QTest.keyClick(manager.table, Qt.Key_Tab)
    assert QApplication.focusWidget() is not manager.table
    assert QApplication.focusWidget() in (manager.download_button, manager.import_button,
                                          manager.remove_button, manager.folder_button)

    asked = []
    monkeypatch.setattr(manager, "_confirm_remove", lambda ids: asked.append(ids) or True)
    QTest.keyClick(manager, Qt.Key_R, Qt.AltModifier)  # the Remove button's mnemonic
    qtbot.waitUntil(lambda: asked == [[spec.id]], timeout=5000)  # an animated click
    assert not installed.exists()

    download.import_file(spec.id, source)
    manager.refresh()
    manager.select([spec.id])
    manager.table.setFocus()
    QTest.keyClick(manager.table, Qt.Key_Delete)
    assert asked == [[spec.id], [spec.id]] and not installed.exists()
    for button in (manager.download_button, manager.import_button, manager.remove_button,
                   manager.folder_button):
        assert "&" in button.text()


# --- importing a file over an installed checkpoint --------------------------------------------


def test_import_asks_before_replacing_a_sound_installed_checkpoint(qtbot, make_spec, tmp_path,
                                                                   monkeypatch):
    spec = make_spec()
    first, second = tmp_path / "first.pth", tmp_path / "second.pth"
    first.write_bytes(checkpoint_bytes(20_000))
    second.write_bytes(checkpoint_bytes(30_000))
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    chosen = [first]
    monkeypatch.setattr(manager, "_ask_import_file", lambda weights_id: str(chosen[0]))
    asked = []
    answers = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, buttons, default:
                        asked.append((text, default)) or answers.pop(0))
    manager.select([spec.id])

    manager.import_button.click()  # nothing installed: nothing to ask
    qtbot.waitUntil(lambda: weights.is_present(spec.id), timeout=20000)
    qtbot.waitUntil(lambda: not manager.transfer.running, timeout=20000)
    installed = weights.local_path(spec.id)
    assert asked == [] and installed.read_bytes() == first.read_bytes()

    chosen[0], answers[:] = second, [QMessageBox.No]
    manager.transfer = None
    manager.select([spec.id])
    manager.import_button.click()
    assert asked == [(f"{spec.title} is installed and works. Replace it with second.pth? (If "
                      "second.pth is not this checkpoint, it is refused and the installed "
                      "file is kept.)", QMessageBox.No)]  # No is the default
    assert manager.transfer is None and installed.read_bytes() == first.read_bytes()

    answers[:] = [QMessageBox.Yes]
    manager.select([spec.id])
    manager.import_button.click()
    assert len(asked) == 2 and manager.transfer is not None
    qtbot.waitUntil(lambda: installed.read_bytes() == second.read_bytes(), timeout=20000)
    # the import ends after the file is in place: wait, so that it does not end in the next
    # test, after this one's checkpoint spec is gone
    qtbot.waitUntil(lambda: not manager.transfer.running, timeout=20000)
    assert not manager.transfer.errors


def test_import_replaces_a_damaged_checkpoint_without_asking(qtbot, make_spec, tmp_path,
                                                             monkeypatch):
    spec = make_spec()
    damaged_slot(spec)
    source = tmp_path / "net.pth"
    source.write_bytes(checkpoint_bytes(20_000))
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)
    monkeypatch.setattr(manager, "_ask_import_file", lambda weights_id: str(source))
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail("asked"))
    manager.select([spec.id])

    manager.import_button.click()
    qtbot.waitUntil(lambda: weights.is_present(spec.id), timeout=20000)
    assert weights.local_path(spec.id).read_bytes() == source.read_bytes()


@pytest.mark.parametrize("installed_before", [False, True])
def test_a_failed_import_says_what_to_do_without_download_advice(qtbot, make_spec, tmp_path,
                                                                 installed_before):
    spec = make_spec(urls=("https://example.org/net.pth",))
    if installed_before:
        sound = tmp_path / "net.pth"
        sound.write_bytes(checkpoint_bytes(20_000))
        download.import_file(spec.id, sound)
    page = tmp_path / "page.pth"
    page.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    manager = ModelManagerDialog()
    qtbot.addWidget(manager)

    dialog = manager.import_from(spec.id, page)
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)

    assert "page.pth is a web page" in dialog.heading.text()
    unchanged = f" The installed {spec.title} file is unchanged." if installed_before else ""
    assert dialog.detail.text() == (f"page.pth was not installed.{unchanged} Choose the file "
                                    "of this model (its details in Models say where to get "
                                    "it) and import it again.")
    assert weights.is_present(spec.id) is installed_before
