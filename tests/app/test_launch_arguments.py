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


def test_a_first_picture_that_cannot_be_opened_gives_way_to_the_next(
        started, tmp_path, capsys, monkeypatch):
    """``inpaint-studio *.jpg`` with a damaged first file opens the next that opens; the mask
    given went with the first, so it is not used, and says so (QA audit 22, finding 4)."""
    errors = []
    monkeypatch.setattr("app.window.MainWindow.show_error",
                        lambda window, text: (setattr(window, "last_error", text),
                                              errors.append(text)))
    second, third = _pictures(tmp_path, 3)[1:]
    missing = str(tmp_path / "missing.png")
    mask = str(save_mask(tmp_path / "hole.png", np.full((H, W), 255, np.uint8)))
    assert main.main([missing, second, third, "--mask", mask]) == 0
    (window,) = started
    assert window.document is not None and (window.document.image == 40).all()
    assert not window.document.layer(Layer.MASK).any() and len(errors) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[0].startswith("error: ") and "missing.png" in err[0]
    assert err[1] == (f"warning: --mask {mask} not used: it goes with missing.png, which "
                      "could not be opened")
    assert err[2] == ("warning: Opened photo1.png; 1 other file named on the command line "
                      f"not opened ({third}): one picture is edited at a time")
    said = window.statusBar().currentMessage()  # started from a file manager: no stderr
    assert f"Could not open {errors[0]}" in said and "missing.png" in errors[0]


def test_a_later_file_that_does_not_exist_is_said_not_found(started, tmp_path, capsys):
    (first,) = _pictures(tmp_path, 1)
    assert main.main([first, str(tmp_path / "nowhere.png")]) == 0
    assert capsys.readouterr().err == "warning: Not found: nowhere.png\n"
    assert started[0].statusBar().currentMessage().endswith("Not found: nowhere.png")


def test_no_picture_that_opens_leaves_the_window_empty_saying_each(started, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr("app.window.MainWindow.show_error",
                        lambda window, text: setattr(window, "last_error", text))
    missing = [str(tmp_path / f"missing{i}.png") for i in range(2)]
    assert main.main(missing) == 0
    assert started[0].document is None
    err = capsys.readouterr().err.splitlines()
    assert [line.startswith("error: ") for line in err] == [True, True]
    assert "missing0.png" in err[0] and "missing1.png" in err[1]


def test_a_picture_named_twice_counts_once(started, tmp_path, capsys):
    first, second = _pictures(tmp_path, 2)
    assert main.main([first, first, str(tmp_path / ".." / tmp_path.name / "photo0.png"),
                      second]) == 0
    assert capsys.readouterr().err == (
        "warning: Opened photo0.png; 1 other file named on the command line not opened "
        f"({second}): one picture is edited at a time\n")


def test_one_picture_says_nothing_of_others(started, tmp_path, capsys):
    (picture,) = _pictures(tmp_path, 1)
    assert main.main([picture]) == 0
    assert "not opened" not in capsys.readouterr().err
    assert "not opened" not in started[0].statusBar().currentMessage()


@pytest.mark.parametrize("options, reason", [
    (["--mask", "a.png", "--mask", "b.png"], "--mask given twice (a.png and b.png); give it once"),
    (["--engine", "telea", "--engine", "ns"], "--engine given twice (telea and ns); give it once"),
])
def test_an_option_given_twice_is_refused_in_one_line_before_any_window(options, reason,
                                                                         tmp_path, capsys,
                                                                         monkeypatch):
    """``--mask a.png --mask b.png`` is refused as the commands refuse an option given twice
    (one line, the ``--help`` hint, exit code 2), not the last taken; wherever the pictures
    stand among the options."""
    monkeypatch.setattr(launch, "launch", lambda *a, **k: pytest.fail("editor opened"))
    first, second = _pictures(tmp_path, 2)
    with pytest.raises(SystemExit) as exited:  # argparse's way, as for the editor's others
        main.main([first, options[0], options[1], second, *options[2:]])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {reason}\n(run inpaint-studio --help for the usage)\n"


def test_the_same_mask_given_twice_is_taken(started, tmp_path, capsys):
    (picture,) = _pictures(tmp_path, 1)
    hole = np.zeros((H, W), np.uint8)
    hole[5:15, 20:40] = 255
    mask = str(save_mask(tmp_path / "hole.png", hole))
    assert main.main([picture, "--mask", mask, "--mask", mask]) == 0
    (window,) = started
    assert np.array_equal(window.document.layer(Layer.MASK), hole)
    assert capsys.readouterr().err == ""
