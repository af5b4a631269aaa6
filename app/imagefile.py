"""Reading and writing image files. Qt-free; shared by the GUI and the CLI.

Reading honours EXIF orientation, keeps the alpha channel, accepts 8- and 16-bit (and float)
PNG, JPEG, WebP, TIFF and BMP, and says what it converted. Writing is atomic (a temporary
file in the target folder, then a rename) and refuses to replace an existing file unless told.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from app.maskops import mask_from_rgba

MAX_PIXELS = 300_000_000  # about 17000 x 17000; beyond that editing is impractical
READ_FORMATS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
WRITE_FORMATS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
_ALPHA_FORMATS = (".png", ".webp", ".tif", ".tiff")

# EXIF orientation -> the operations that bring the pixels upright
_ORIENTATION = {
    2: (cv2.flip, 1), 3: (cv2.rotate, cv2.ROTATE_180), 4: (cv2.flip, 0),
    5: "transpose", 6: (cv2.rotate, cv2.ROTATE_90_CLOCKWISE), 7: "transverse",
    8: (cv2.rotate, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


class ImageFileError(Exception):
    """An image file cannot be read or written; the message is for the user."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB, upright.
        alpha: ``(H, W)`` uint8 transparency (255 = opaque) or ``None`` if the file had none.
        notes: what was converted on the way ("16-bit image converted to 8 bits", ...).
        source_depth: bits per channel in the file (8, 16 or 32).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    notes: tuple[str, ...]
    source_depth: int


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageFileError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise ImageFileError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _header(path: Path, data: bytes) -> tuple[tuple[int, int], int]:
    """(width, height) and EXIF orientation, read from the header without decoding pixels."""
    import io

    Image.MAX_IMAGE_PIXELS = None  # we apply our own, clearer limit below
    try:
        with Image.open(io.BytesIO(data)) as probe:
            size = probe.size
            try:
                orientation = int(probe.getexif().get(0x0112, 1))
            except Exception:  # malformed EXIF must not make the picture unreadable
                orientation = 1
    except UnidentifiedImageError:
        raise ImageFileError(f"{path.name}: not an image file, or the file is damaged") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path.name}: the file is damaged ({exc})") from None
    return size, orientation


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    op = _ORIENTATION.get(orientation)
    if op is None:
        return pixels
    if op == "transpose":
        return np.ascontiguousarray(np.swapaxes(pixels, 0, 1))
    if op == "transverse":
        return np.ascontiguousarray(np.swapaxes(pixels, 0, 1)[::-1, ::-1])
    func, arg = op
    return func(pixels, arg)


def _to_uint8(pixels: np.ndarray, notes: list[str]) -> tuple[np.ndarray, int]:
    if pixels.dtype == np.uint8:
        return pixels, 8
    if pixels.dtype == np.uint16:
        notes.append("16-bit image converted to 8 bits per channel for editing")
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8), 16
    if pixels.dtype in (np.float32, np.float64):
        notes.append("floating-point image converted to 8 bits per channel for editing")
        return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8), 32
    raise ImageFileError(f"unsupported sample type {pixels.dtype}")


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Decode an encoded image (file contents) to upright RGB uint8 plus optional alpha."""
    path = Path(name)
    (width, height), orientation = _header(path, data)
    if width * height > max_pixels:
        raise ImageFileError(
            f"{path.name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, more than "
            f"the {max_pixels / 1e6:.0f} megapixels this editor handles")
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise ImageFileError(f"{path.name}: the image data cannot be decoded (damaged or "
                             f"unsupported file)")
    notes: list[str] = []
    pixels, depth = _to_uint8(pixels, notes)
    alpha = None
    if pixels.ndim == 2:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    elif pixels.shape[2] == 4:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
        alpha = np.ascontiguousarray(pixels[..., 3])
        if (alpha == 255).all():
            alpha = None
    elif pixels.shape[2] == 3:
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    else:
        raise ImageFileError(f"{path.name}: {pixels.shape[2]} channels are not supported")
    if orientation != 1 and orientation in _ORIENTATION:
        rgb = _upright(rgb, orientation)
        alpha = None if alpha is None else _upright(alpha, orientation)
        notes.append("rotated upright as its EXIF orientation says")
    return LoadedImage(np.ascontiguousarray(rgb), alpha, tuple(notes), depth)


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read an image file; raises :class:`ImageFileError` with a one-line reason."""
    path = Path(path)
    return decode_image(_read_bytes(path), str(path), max_pixels)


def load_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask file: white (or opaque, for a transparent PNG) = hole.

    Returns ``(H, W)`` uint8, 255 = hole. With ``shape`` = (H, W), a mask of another size is
    refused with a message giving both sizes.
    """
    loaded = load_image(path)
    rgba = loaded.rgb if loaded.alpha is None else np.dstack([loaded.rgb, loaded.alpha])
    mask = mask_from_rgba(rgba)
    if shape is not None and mask.shape != tuple(shape[:2]):
        raise ImageFileError(
            f"{Path(path).name}: the mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
            f"{shape[1]}x{shape[0]}; they must be the same size")
    return mask


def encode_image(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None = None,
                 quality: int = 95) -> bytes:
    """Encode ``(H, W, 3)`` RGB uint8 (or ``(H, W)`` gray) for a file of type ``suffix``."""
    suffix = suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise ImageFileError(f"cannot write {suffix or 'files without an extension'}; "
                             f"use one of {', '.join(WRITE_FORMATS)}")
    if rgb.ndim == 2:
        pixels = rgb
    elif alpha is not None and suffix in _ALPHA_FORMATS:
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
        pixels[..., 3] = alpha
    else:
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101 if quality >= 100 else int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(suffix, pixels, params)
    if not ok:
        raise ImageFileError(f"could not encode the image as {suffix}")
    return encoded.tobytes()


def write_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file and a rename.

    Either the complete new file is there afterwards or the old state is untouched. Refuses
    to replace an existing file unless ``overwrite``. Raises :class:`ImageFileError`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ImageFileError(f"{path} already exists; choose another name or allow overwriting")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageFileError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ImageFileError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists() and not overwrite:  # appeared meanwhile
            raise ImageFileError(f"{path} already exists; choose another name")
        os.replace(temp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise ImageFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return path


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None,
               overwrite: bool = False, quality: int = 95) -> Path:
    """Encode and atomically write an image; the format follows the file extension."""
    path = Path(path)
    return write_atomic(path, encode_image(rgb, path.suffix, alpha, quality), overwrite)


def save_mask(path: str | os.PathLike, mask: np.ndarray, overwrite: bool = False) -> Path:
    """Write a mask as an 8-bit grey PNG, white = hole."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ImageFileError(f"{path.name}: masks are saved as PNG")
    return write_atomic(path, encode_image(mask, ".png"), overwrite)


def suggest_output_path(source: str | os.PathLike, suffix: str = "_inpainted") -> Path:
    """A free file name next to ``source``: ``photo_inpainted.png``, ``photo_inpainted-2.png``..."""
    source = Path(source)
    extension = source.suffix.lower() if source.suffix.lower() in WRITE_FORMATS else ".png"
    candidate = source.with_name(f"{source.stem}{suffix}{extension}")
    counter = 2
    while candidate.exists():
        candidate = source.with_name(f"{source.stem}{suffix}-{counter}{extension}")
        counter += 1
    return candidate
