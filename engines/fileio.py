"""Small, Qt-free image file helpers the engines' batch tools use (the GUI has app.imagefile).

* :func:`write_atomic`: write bytes via a temporary file in the target folder and a rename,
  so a file is either complete or untouched; refuses to replace a file unless told;
* :func:`read_rgb`: decode a file to upright RGB uint8 (EXIF orientation applied, 16-bit and
  grey files converted, transparency dropped);
* :func:`encode_rgb`: encode RGB uint8 (or a grey ``(H, W)`` map) for a file extension;
* :func:`image_size`: ``(width, height)`` of an image file, upright, without decoding pixels;
* :func:`list_images`: the image files of a folder, sorted by name.

Failures raise :class:`OSError` subclasses whose ``filename`` is the path and whose
``strerror`` is a one-line reason for the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def _error(kind: type[OSError], code: int, reason: str, path: Path) -> OSError:
    return kind(code, reason, str(path))


def write_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Either the complete new file is there afterwards or the previous state is untouched.
    Raises :class:`FileExistsError` if ``path`` exists and not ``overwrite``,
    :class:`FileNotFoundError` if its folder does not exist, another :class:`OSError` otherwise.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise _error(FileExistsError, errno.EEXIST,
                     "already exists; choose another name or allow overwriting", path)
    folder = path.parent
    if not folder.is_dir():
        raise _error(FileNotFoundError, errno.ENOENT, f"the folder {folder} does not exist", path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists() and not overwrite:  # appeared meanwhile
            raise _error(FileExistsError, errno.EEXIST, "already exists", path)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return path


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to upright ``(H, W, 3)`` uint8 RGB.

    EXIF orientation is applied and 16-bit or grey files are converted (as OpenCV's
    ``IMREAD_COLOR`` does); an alpha channel is dropped. Raises :class:`OSError`.
    """
    path = Path(path)
    data = path.read_bytes()
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or pixels.size == 0:
        raise _error(OSError, errno.EINVAL, "not an image file, or the file is damaged", path)
    return np.ascontiguousarray(pixels[..., ::-1])


def encode_rgb(pixels: np.ndarray, suffix: str, quality: int = 95) -> bytes:
    """Encode ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 grey as a file of type ``suffix``.

    JPEG and WebP use ``quality``; PNG is lossless. Raises :class:`ValueError` for an
    extension not in :data:`IMAGE_SUFFIXES`.
    """
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"cannot write {suffix or 'files without an extension'}; "
                         f"use one of {', '.join(IMAGE_SUFFIXES)}")
    bgr = pixels if pixels.ndim == 2 else np.ascontiguousarray(pixels[..., ::-1])
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101 if quality >= 100 else int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise ValueError(f"could not encode the image as {suffix}")
    return encoded.tobytes()


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file as :func:`read_rgb` returns it (upright).

    Reads the header only. Raises :class:`OSError` if the file is not a readable image.
    """
    path = Path(path)
    try:
        with Image.open(path) as probe:
            width, height = probe.size
            try:
                orientation = int(probe.getexif().get(0x0112, 1))
            except (ValueError, TypeError, OSError, SyntaxError):
                orientation = 1  # malformed EXIF: OpenCV ignores it too
    except (UnidentifiedImageError, Image.DecompressionBombError, ValueError, SyntaxError):
        raise _error(OSError, errno.EINVAL, "not an image file, or the file is damaged",
                     path) from None
    if orientation in _SWAPPED_ORIENTATIONS:
        width, height = height, width
    return width, height


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (by extension, see :data:`IMAGE_SUFFIXES`) directly in ``folder``, by name.

    Hidden files (a leading dot, as the temporary files of :func:`write_atomic`) are left out.
    Raises :class:`FileNotFoundError` or :class:`NotADirectoryError` for a bad folder.
    """
    folder = Path(folder)
    if not folder.exists():
        raise _error(FileNotFoundError, errno.ENOENT, "no such folder", folder)
    if not folder.is_dir():
        raise _error(NotADirectoryError, errno.ENOTDIR, "is a file, not a folder", folder)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))
