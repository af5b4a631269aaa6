"""Several pictures named on the editor's command line (``inpaint-studio *.jpg``): the first
opens, and the window and stderr say the others were not opened, as for several files
dropped on the window; not a usage error. The exit code is the editor's own: 0 once the
window is closed (QA audit 21, finding 9)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

import main
from app import launch
from app.document import Layer
from engines.fileio import save_image, save_mask

H, W = 40, 60


@pytest.fixture
def started(qtbot, monkeypatch):
    """The windows :func:`main.main` opens, run for real up to the event loop, which
    returns 0 at once (as when the user closes the window); their workers shut down
    afterwards."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(launch, "warm_up_in_background", lambda: None)
    app = QApplication.instance()
    monkeypatch.setattr(type(app), "exec", lambda *args: 0)
    names = app.applicationName(), app.organizationName()  # launch names the application
    windows = []
    open_window = launch.open_window

    def opened(*args, **kwargs):
        window = open_window(*args, **kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    monkeypatch.setattr(launch, "open_window", opened)
    yield windows
    for window in windows:
        window.worker.shutdown()
    app.setApplicationName(names[0])
    app.setOrganizationName(names[1])


def _pictures(tmp_path, count: int) -> list[str]:
    return [str(save_image(tmp_path / f"photo{i}.png", np.full((H, W, 3), 40 * i, np.uint8)))
            for i in range(count)]


def test_two_pictures_open_the_first_and_say_the_other_was_not_opened(started, tmp_path,
                                                                      capsys):
    first, second = _pictures(tmp_path, 2)
    assert main.main([first, second]) == 0  # not argparse's usage error (2)
    captured = capsys.readouterr()
    assert "usage:" not in captured.err
    assert captured.err == ("warning: Opened photo0.png; 1 other file named on the command "
                            f"line not opened ({second}): one picture is edited at a time\n")
    (window,) = started
    assert window.document is not None and (window.document.image == 0).all()
    assert window.windowTitle() == "photo0.png[*] — Inpaint Studio"
    assert window.statusBar().currentMessage().endswith(
        "Opened photo0.png; 1 other file named on the command line not opened: one picture "
        "is edited at a time")


def test_the_mask_goes_with_the_first_picture_wherever_it_is_given(started, tmp_path, capsys):
    pictures = _pictures(tmp_path, 5)
    hole = np.zeros((H, W), np.uint8)
    hole[10:20, 10:30] = 255
    mask = str(save_mask(tmp_path / "hole.png", hole))
    assert main.main([pictures[0], pictures[1], "--mask", mask, *pictures[2:]]) == 0
    (window,) = started
    assert np.array_equal(window.document.layer(Layer.MASK), hole)
    err = capsys.readouterr().err
    assert err == ("warning: Opened photo0.png; 4 other files named on the command line not "
                   f"opened ({pictures[1]}, {pictures[2]}, {pictures[3]}, …): one picture "
                   "is edited at a time\n")


def test_a_first_picture_that_cannot_be_opened_is_said_and_so_are_the_others(
        started, tmp_path, capsys, monkeypatch):
    errors = []
    monkeypatch.setattr("app.window.MainWindow.show_error",
                        lambda window, text: (setattr(window, "last_error", text),
                                              errors.append(text)))
    (second,) = _pictures(tmp_path, 1)
    missing = str(tmp_path / "missing.png")
    assert main.main([missing, second]) == 0  # the window stays open, empty
    (window,) = started
    assert window.document is None and len(errors) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("error: ") and "missing.png" in err[0]
    assert err[1] == ("warning: 1 other file named on the command line not opened "
                      f"({second}): one picture is edited at a time")


def test_one_picture_says_nothing_of_others(started, tmp_path, capsys):
    (picture,) = _pictures(tmp_path, 1)
    assert main.main([picture]) == 0
    assert "not opened" not in capsys.readouterr().err
    assert "not opened" not in started[0].statusBar().currentMessage()
