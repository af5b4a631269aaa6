"""Starting the editor where Qt cannot open a window says why in one line (exit 2) instead
of Qt aborting the process; OpenCV's Qt paths are taken out of the environment before Qt
starts, and a user's own values stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from app import platform_check
from app.platform_check import OPENCV_QT_VARIABLES, drop_opencv_qt_paths

ROOT = Path(__file__).resolve().parents[2]
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("environ, platform, expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:dpi=96"}, "linux", True),
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "win32", False),
    ({"DISPLAY": ":0"}, "darwin", False),
])
def test_the_xcb_plugin_is_checked_only_where_qt_will_use_it(environ, platform, expected):
    assert platform_check.uses_xcb(environ, platform) is expected


def test_every_missing_library_is_named_once_with_its_package(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    calls = []

    def ldd(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, LDD_OUTPUT, "")

    def dlopen(path, mode=0):  # the loader names the first library it misses
        raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file or "
                      "directory")

    monkeypatch.setattr(platform_check.subprocess, "run", ldd)
    monkeypatch.setattr(platform_check.ctypes, "CDLL", dlopen)
    missing = platform_check.missing_x11_libraries(plugin, find_library=lambda name: None)
    assert calls == [["ldd", str(plugin)]]
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]
    assert platform_check.x11_problem(missing) == (
        "Qt cannot open a window on this X11 display: the system lacks libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1, libxcb-cursor.so.0; on Debian or Ubuntu: sudo apt install "
        "libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0")
    found = platform_check.missing_x11_libraries(
        plugin, find_library=lambda name: f"lib{name}.so.0")
    assert found == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]  # the cursor library is there


def test_without_ldd_the_loaders_own_message_names_the_first_missing(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")

    def no_ldd(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "ldd")

    def dlopen(path, mode=0):
        assert path == str(plugin)
        raise OSError("libxcb-keysyms.so.1: cannot open shared object file: No such file or "
                      "directory")

    monkeypatch.setattr(platform_check.subprocess, "run", no_ldd)
    monkeypatch.setattr(platform_check.ctypes, "CDLL", dlopen)
    assert platform_check.missing_x11_libraries(plugin, find_library=lambda name: "x") == \
        ["libxcb-keysyms.so.1"]


def test_a_plugin_that_loads_is_not_checked_further_with_ldd(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    loaded = []
    monkeypatch.setattr(platform_check.ctypes, "CDLL",
                        lambda path, mode=0: loaded.append(path))
    monkeypatch.setattr(platform_check.subprocess, "run",
                        lambda *args, **kwargs: pytest.fail("ldd was run"))
    assert platform_check.missing_x11_libraries(plugin, find_library=lambda name: "x") == []
    assert loaded == [str(plugin)]
    assert platform_check.missing_x11_libraries(plugin, find_library=lambda name: None) == \
        ["libxcb-cursor.so.0"]  # loaded by Qt at run time: asked for on its own


def test_libraries_without_a_known_package_are_named_still():
    assert platform_check.x11_problem(["libfoo.so.2"]) == (
        "Qt cannot open a window on this X11 display: the system lacks libfoo.so.2; install "
        "them with your system's package manager")
    assert platform_check.x11_problem([]) is None


def test_nothing_is_checked_where_qt_will_not_use_xcb(monkeypatch):
    monkeypatch.setattr(platform_check, "missing_x11_libraries",
                        lambda: pytest.fail("checked"))
    assert platform_check.window_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


@pytest.mark.skipif(platform_check.xcb_plugin() is None, reason="PySide6 has no xcb plugin")
def test_the_real_plugin_is_found_and_checked_with_ldd():
    plugin = platform_check.xcb_plugin()
    assert plugin.name == "libqxcb.so" and plugin.is_file()
    listed = platform_check._not_found_by_ldd(plugin)
    if listed is not None:  # what ldd misses, dlopen misses too, and the other way round
        assert bool(listed) == bool(platform_check._not_loadable(plugin))


def test_the_editor_says_why_and_exits_2_instead_of_letting_qt_abort(tmp_path):
    env = {**os.environ, "DISPLAY": ":97", "HOME": str(tmp_path)}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = _python("import sys\n"
                   "import app.launch as launch\n"
                   "launch.window_problem = lambda: 'Qt cannot open a window: lacks libx.so.1'\n"
                   "sys.exit(launch.launch())\n", env)
    assert done.returncode == 2, done.stderr  # Qt never started (it would abort: -6)
    assert done.stderr.strip().splitlines()[-1] == \
        "error: Qt cannot open a window: lacks libx.so.1"


def test_opencvs_qt_paths_are_dropped_and_the_users_own_stay():
    opencv = Path(cv2.__file__).resolve().parent
    environ = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(opencv / "qt" / "plugins"),
               "QT_QPA_FONTDIR": "/usr/share/fonts/mine", "PATH": "/bin"}
    assert drop_opencv_qt_paths(environ) == ["QT_QPA_PLATFORM_PLUGIN_PATH"]
    assert environ == {"QT_QPA_FONTDIR": "/usr/share/fonts/mine", "PATH": "/bin"}
    assert drop_opencv_qt_paths(environ) == []
    assert set(OPENCV_QT_VARIABLES) == {"QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"}


def test_main_keeps_the_qt_paths_as_they_were_before_opencv_was_imported():
    env = {**os.environ, "QT_QPA_FONTDIR": "/usr/share/fonts/mine"}
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    done = _python("import os, sys\n"
                   "import main\n"
                   "assert 'cv2' not in sys.modules\n"
                   "main._quiet_decoders()\n"
                   "assert 'cv2' in sys.modules\n"
                   "print(os.environ.get('QT_QPA_FONTDIR'),"
                   " os.environ.get('QT_QPA_PLATFORM_PLUGIN_PATH'))\n", env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/usr/share/fonts/mine", "None"]


def test_torchscripts_deprecation_is_kept_off_stderr():
    """TorchScript checkpoints (LaMa's and MI-GAN's exports) still load under torch 2.15,
    which warns that ``torch.jit.load`` is deprecated: nothing a user can act on."""
    done = _python("import warnings, main\n"
                   "main._quiet_decoders()\n"
                   "warnings.warn('`torch.jit.load` is deprecated. Please switch to "
                   "`torch.export`.', FutureWarning)\n"
                   "warnings.warn('another FutureWarning', FutureWarning)\n", dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "torch.jit.load" not in done.stderr and "another FutureWarning" in done.stderr
