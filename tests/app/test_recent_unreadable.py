"""Open Recent with entries the user can no longer read (a folder whose permissions changed, a
path too long for the system): each entry is checked on its own, marked with the reason (and
kept choosable), and choosing one says why it cannot be opened."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from app import preferences
from app.window import MainWindow
from engines.fileio import save_image
from tests.app.test_recent_missing import wait_for_recent_checks
from tests.app.test_window import shown_window


def _picture(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, np.full((24, 32, 3), 90, np.uint8))
    return path


def _listed(*paths: Path) -> None:
    """Store ``paths`` as the recent list, as an earlier session left it."""
    preferences.store().setValue("files/recent", json.dumps([str(p) for p in paths]))


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot)
    window.errors = []
    window.show_error = window.errors.append  # what the error box would say
    yield window
    window.worker.shutdown()


def _checked(window: MainWindow) -> dict[str, tuple[str, str]]:
    """(status tip, the mark after the name) of each Open Recent entry by path, once the
    menu opened and the check of every entry answered; every entry stays enabled."""
    window.recent_menu.aboutToShow.emit()
    wait_for_recent_checks(window)
    entries = [a for a in window.recent_menu.actions() if a.data()]
    assert all(a.isEnabled() for a in entries)
    return {a.data(): (a.statusTip(), a.text().partition(".png")[2].strip())
            for a in entries}


def test_each_entry_is_checked_on_its_own_with_the_reason_it_cannot_be_opened(
        qtbot, window, tmp_path, monkeypatch):
    locked, long = tmp_path / "locked" / "a.png", tmp_path / "long" / "b.png"
    gone, ok = tmp_path / "gone.png", _picture(tmp_path / "ok.png")
    _listed(locked, long, gone, ok)
    is_file = Path.is_file

    def checked(path):  # what the system says of each, whoever runs the tests
        if path == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        if path == long:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", checked)
    assert _checked(window) == {
        str(locked): (f"{locked} (cannot be read: permission denied)", "(unreadable)"),
        str(long): (f"{long} (cannot be read: file name too long)", "(unreadable)"),
        str(gone): (f"{gone} (no longer there)", "(missing)"),
        str(ok): (str(ok), "")}


def test_a_path_too_long_for_the_system_is_marked_and_choosing_it_says_why(
        qtbot, window, tmp_path):
    long = tmp_path / ("x" * 300 + ".png")  # longer than any file name may be
    ok = _picture(tmp_path / "ok.png")
    _listed(long, ok)
    assert _checked(window) == {
        str(long): (f"{long} (cannot be read: file name too long)", "(unreadable)"),
        str(ok): (str(ok), "")}
    [entry] = [a for a in window.recent_menu.actions() if a.data() == str(long)]
    entry.trigger()  # choosable: opening it fails, saying why
    assert len(window.errors) == 1 and str(long) in window.errors[0]
    assert preferences.load_recent() == [str(long), str(ok)]  # kept: not known to be gone
    assert window.open_recent(str(ok))


def test_a_picture_in_a_folder_the_user_may_no_longer_enter(qtbot, window, tmp_path):
    picture = _picture(tmp_path / "locked" / "a.png")
    ok = _picture(tmp_path / "ok.png")
    _listed(picture, tmp_path / "gone.png", ok)
    picture.parent.chmod(0)
    try:
        try:
            picture.stat()
        except PermissionError:
            pass
        else:
            pytest.skip("permissions are not enforced for this user (root): covered with a "
                        "check that raises PermissionError above")
        assert _checked(window) == {
            str(picture): (f"{picture} (cannot be read: permission denied)", "(unreadable)"),
            str(tmp_path / "gone.png"): (f"{tmp_path / 'gone.png'} (no longer there)",
                                         "(missing)"),
            str(ok): (str(ok), "")}
        assert not window.open_recent(str(picture))
        assert len(window.errors) == 1 and "permission denied" in window.errors[0]
        assert str(picture) in preferences.load_recent()  # the permission may come back
    finally:
        picture.parent.chmod(0o755)
