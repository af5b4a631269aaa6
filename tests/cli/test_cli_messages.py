"""Top-level messages: `inpaint` names everything missing and refuses the picture as its own
mask; `--help` is one help; the editor without a display says so instead of aborting."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import main
from engines import fileio


def test_inpaint_without_arguments_names_all_that_is_missing(capsys):
    assert main.main(["inpaint"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: the following arguments are required: IMAGE, MASK, -o/--output"


def test_inpaint_without_output_names_it(tmp_path, capsys):
    assert main.main(["inpaint", str(tmp_path / "a.png"), str(tmp_path / "m.png")]) == 2
    assert "required: -o/--output" in capsys.readouterr().err


def test_the_picture_given_as_its_own_mask_is_refused(tmp_path, capsys):
    picture = tmp_path / "photo.png"
    fileio.write_atomic(picture, fileio.encode_image(np.full((8, 8, 3), 255, np.uint8), ".png"))
    output = tmp_path / "x.png"
    assert main.main(["inpaint", str(picture), str(tmp_path / "." / "photo.png"),
                      "-o", str(output)]) == 2
    assert "the mask is the picture itself" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_one_help_with_the_editor_and_the_commands(flag, capsys):
    assert main.main([flag]) == 0
    out = capsys.readouterr().out
    assert out.count("usage:") == 1 and out.count("options:") == 1
    assert "--mask MASK" in out and "inpaint" in out and "train" in out


def test_the_editor_without_a_display_says_so_before_qt(monkeypatch, capsys):
    import app.launch

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(app.launch, "launch", lambda *a, **k: pytest.fail("Qt started"))
    assert main.main([]) == 2
    err = capsys.readouterr().err
    assert err == ("error: no display found: run on a desktop, or set "
                   "QT_QPA_PLATFORM=offscreen for a headless check\n")


@pytest.mark.parametrize("env", [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"},
                                 {"QT_QPA_PLATFORM": "offscreen"}])
def test_the_editor_opens_with_a_display_or_a_chosen_platform(monkeypatch, env):
    import app.launch

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", "linux")
    opened = []
    monkeypatch.setattr(app.launch, "launch", lambda *a, **k: opened.append(a) or 0)
    assert main.main([]) == 0 and opened == [(None,)]


def test_the_size_limit_names_the_program_not_the_editor():
    """The command line meets the limit too: the message fits both."""
    data = fileio.encode_image(np.zeros((40, 50, 3), np.uint8), ".png")
    with pytest.raises(fileio.ImageFileError) as refused:
        fileio.decode_image(data, "big.png", max_pixels=1000)
    assert "megapixels this program handles" in str(refused.value)
    assert "editor" not in str(refused.value)
