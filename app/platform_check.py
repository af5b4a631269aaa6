"""Whether Qt can open a window on this X11 display, asked before it tries.

On Linux under X11, Qt 6's ``xcb`` platform plugin needs system libraries that a minimal
system may lack (``libxcb-cursor0`` above all, since Qt 6.5). Without them Qt aborts the
whole process with a core dump and a hint naming one of them; the editor says instead, in
one line, every library missing and the Debian/Ubuntu command that installs them. Also
the Qt paths OpenCV sets on import (:data:`OPENCV_QT_VARIABLES`), taken out before Qt
starts. Imports no Qt (``main.py`` reads it for every command).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path

# the libraries Qt 6's xcb plugin and libQt6XcbQpa need (as the loader names them), and the
# Debian/Ubuntu packages that hold them
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libdbus-1.so.3": "libdbus-1-3",
}

# loaded by Qt at run time (dlopen), so the loader's list of what the plugin needs omits it
_LOADED_AT_RUN_TIME = {"libxcb-cursor.so.0": "xcb-cursor"}


def xcb_plugin() -> Path | None:
    """PySide6's ``xcb`` platform plugin, or None when PySide6 or the plugin is not there."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def _not_found_by_ldd(plugin: Path) -> list[str] | None:
    """The libraries ``ldd`` lists as not found for ``plugin`` (with what they need in
    turn); None when ``ldd`` cannot be run."""
    try:
        listed = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                                timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return re.findall(r"^\s*(\S+)\s+=>\s+not found", listed, re.MULTILINE)


def _not_loadable(plugin: Path) -> list[str]:
    """The first library the dynamic loader could not find for ``plugin``, as
    ``dlopen`` names it (it stops at the first); empty when the plugin loads."""
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as error:
        named = re.search(r"(\S+\.so(?:\.\d+)*): cannot open shared object file", str(error))
        return [named.group(1)] if named else []
    return []


def missing_x11_libraries(plugin: Path | None = None,
                          find_library: Callable[[str], str | None] = ctypes.util.find_library
                          ) -> list[str]:
    """The libraries (sonames, e.g. ``libxcb-icccm.so.4``) that Qt's ``xcb`` plugin
    (``plugin``, else PySide6's own) needs and this system lacks, in the loader's order,
    each once; empty when none is missing or there is no such plugin. The plugin is loaded
    first (what Qt does next, a few ms with Qt's libraries loaded): ``ldd`` is run only
    when that fails, to name every library missing, not only the first."""
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return []
    missing = _not_loadable(plugin)
    if missing:
        missing = _not_found_by_ldd(plugin) or missing
    missing += [soname for soname, name in _LOADED_AT_RUN_TIME.items()
                if find_library(name) is None]
    return list(dict.fromkeys(missing))


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will open its windows through the ``xcb`` plugin: on Linux (and other X11
    systems, not Windows or macOS), chosen with ``QT_QPA_PLATFORM=xcb``, or none chosen on
    an X11 display that is not a Wayland session (where Qt prefers its Wayland plugin)."""
    if platform in ("win32", "darwin"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def x11_problem(missing: list[str]) -> str | None:
    """One line saying that Qt cannot open a window for lack of the libraries ``missing``
    (sonames) and which Debian/Ubuntu packages hold them; None when nothing is missing."""
    if not missing:
        return None
    packages = list(dict.fromkeys(XCB_PACKAGES[soname] for soname in missing
                                  if soname in XCB_PACKAGES))
    install = f"; on Debian or Ubuntu: sudo apt install {' '.join(packages)}" if packages \
        else "; install them with your system's package manager"
    return (f"Qt cannot open a window on this X11 display: the system lacks "
            f"{', '.join(missing)}{install}")


def window_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why Qt could not open a window here (:func:`x11_problem` of what its ``xcb`` plugin
    lacks), or None: always None where Qt will not use that plugin (:func:`uses_xcb`)."""
    if not uses_xcb(environ):
        return None
    return x11_problem(missing_x11_libraries())


# What opencv-python's Linux wheels set on ``import cv2`` (its ``config-3.py``): paths into
# its own bundled Qt 5 plugins and fonts. Qt 6 then searches OpenCV's folder before its own
# and, when it cannot open a window, names that folder in its message, misleading.
OPENCV_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


def drop_opencv_qt_paths(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Remove from ``environ`` the :data:`OPENCV_QT_VARIABLES` that point into OpenCV's
    package (importing it first, so that it cannot set them later); a value of the user's
    own elsewhere stays. Call before the ``QApplication`` is made. Returns the names
    removed."""
    import cv2

    opencv = Path(cv2.__file__).resolve().parent
    dropped = []
    for name in OPENCV_QT_VARIABLES:
        value = environ.get(name)
        if value and Path(value).resolve().is_relative_to(opencv):
            del environ[name]
            dropped.append(name)
    return dropped
