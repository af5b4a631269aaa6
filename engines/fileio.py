"""Reading and writing image files. Qt-free; the one place the GUI, the CLI and the batch
tools read and write pictures, masks and other layers.

Reading honours EXIF orientation, keeps the alpha channel, accepts 8- and 16-bit (and float)
PNG, JPEG, WebP, TIFF and BMP, and 8-bit HEIC/HEIF (pillow-heif) and AVIF (Pillow), refuses
absurdly large images before decoding them, and says what it converted. Pictures are edited at 8 bits per channel; the own samples of a 16-bit or
floating-point file are kept (:attr:`LoadedImage.deep_original`) so that saving it as PNG or
TIFF writes them again, exactly wherever the picture was not changed
(:mod:`engines.deep_samples`). A black-and-white (grey) file is saved grey again as
long as the edit left every pixel grey (:attr:`LoadedImage.grey`). It also keeps the
photo's metadata (:class:`ImageMetadata`: the RGB colour profile, or a grey file's grey
one, the EXIF tags, XMP and IPTC), which writing puts back, so that a saved result shows the
same colours as the original and keeps its date, camera, GPS, caption, keywords and rights.
Writing is atomic (a temporary file in the target folder, then a rename); it replaces an
existing file only when told, never a read-only one, and the replaced file keeps its
permissions.

Every failure raises an :class:`ImageFileError` (an :class:`OSError` with ``filename`` and
``strerror``) whose ``str()`` is the one-line ``"<file>: <reason>"`` shown to the user; the
"exists", "missing" and "not a folder" cases also subclass the matching builtin errors.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import functools
import io
import logging
import os
import re
import secrets
import stat
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import (
    Image,
    ImageCms,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    UnidentifiedImageError,
)

from engines import deep_samples, icc, iptc, xmp
from engines.base import UserMessage

MAX_PIXELS = 300_000_000  # about 17000 x 17000; beyond that editing is impractical
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif",
                  ".avif", ".gif")
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".gif")
# formats a grey picture is written to as one grey channel (PNG and TIFF with its alpha);
# WebP, HEIC/HEIF, AVIF and GIF are written in colour, as their encoders here know no grey
GREY_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
NO_METADATA_SUFFIXES = (".bmp", ".gif")  # no place for a colour profile, EXIF or XMP
# formats that OpenCV does not read or write here: phones' HEIC/HEIF (through pillow-heif) and
# AVIF (Pillow's own plugin); their Pillow format names by suffix
_PILLOW_CODECS = {".heic": "HEIF", ".heif": "HEIF", ".avif": "AVIF"}
_LOSSLESS = 100  # a quality from which WebP is written lossless
# the quality of JPEG, lossy WebP, HEIC/HEIF and AVIF when none is asked for (and, for JPEG,
# the original's is not known: SourceFormat.jpeg_quality)
DEFAULT_QUALITY = 95
# the IJG (libjpeg) standard quantisation tables, natural (row-major) order, as Pillow's
# JpegImageFile.quantization lists them: quality q scales them (_ijg_tables)
_IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
_IJG_CHROMINANCE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *[99] * 32])
# chroma subsampling as Pillow's get_sampling numbers it and as both encoders take it
_JPEG_SUBSAMPLINGS = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
_OPENCV_SUBSAMPLING = {"4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
                       "4:2:2": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
                       "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}
# libwebp's lossless compression effort (0-100): on a 2000x1500 picture 50 took 0.9 s and
# wrote a file the size of 80's (Pillow's default, 1.1 s); 100 took 1.8 s for 0.3 % less
_LOSSLESS_WEBP_EFFORT = 50
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height

_ORIENTATION_TAG = 0x0112
_ICC_TAG = 34675  # TIFF InterColorProfile
_RGB_SPACE, _GREY_SPACE = b"RGB ", b"GRAY"  # ICC data colour space signatures
_SOFTWARE_TAG, _DATETIME_TAG = 0x0131, 0x0132
SOFTWARE = "Inpaint Studio"
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003  # in the EXIF sub-directory
# TIFF tags never carried over as EXIF: how a file stores its pixels; XMP (700), IPTC (33723)
# and the colour profile (34675), carried on their own; Photoshop's image resources (34377,
# with a thumbnail of the unedited picture) and layers (37724), which would still show it
_STORAGE_TAGS = frozenset({
    0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x0108, 0x0109, 0x010A,
    0x0111, 0x0115, 0x0116, 0x0117, 0x0118, 0x0119, 0x011C, 0x0122, 0x0123, 0x013D, 0x0140,
    0x0142, 0x0143, 0x0144, 0x0145, 0x014A, 0x0152, 0x0153, 0x0154, 0x0155, 0x0156, 0x0157,
    0x015B, 0x0200, 0x0201, 0x0202, 0x0211, 0x0212, 0x0213, 0x02BC, 0x83BB, 0x8649, 0x8773,
    0x935C,
})
_XMP_TAG, _IPTC_TAG = 700, 33723
_EXTRA_SAMPLES_TAG, _ASSOCIATED_ALPHA = 338, 1
_PNG_XMP_KEY = "XML:com.adobe.xmp"
_JPEG_MAX_XMP = 65504  # one APP1 segment; Extended XMP is not written

# EXIF orientation -> the operation that brings the pixels upright
_ORIENTATION = {
    2: (cv2.flip, 1), 3: (cv2.rotate, cv2.ROTATE_180), 4: (cv2.flip, 0),
    5: "transpose", 6: (cv2.rotate, cv2.ROTATE_90_CLOCKWISE), 7: "transverse",
    8: (cv2.rotate, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


class ImageFileError(UserMessage, OSError):
    """A file cannot be read or written; ``str()`` is ``"<file>: <reason>"``."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None,
                 code: int = errno.EINVAL) -> None:
        super().__init__(code, reason, None if path is None else str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}" if self.filename else str(self.strerror)


class ImageExistsError(ImageFileError, FileExistsError):
    """The target exists and replacing it was not allowed."""


class ImageMissingError(ImageFileError, FileNotFoundError):
    """A file or folder does not exist."""


class NotAFolderError(ImageFileError, NotADirectoryError):
    """A folder was expected."""


@dataclass(frozen=True)
class SourceFormat:
    """How the opened file stored its pixels, where saving in the same format must know it
    to leave every unchanged pixel as it was (:attr:`ImageMetadata.source`).

    Attributes:
        lossless_webp: a WebP whose picture (the first frame of an animation) is stored
            lossless (a ``VP8L`` chunk, with or without a ``VP8X`` header; ``VP8`` is lossy):
            saving as WebP is lossless too (:func:`encode_image`).
        palette: the colour table of a GIF's first picture (its local one, else the
            global one), RGB triplets as stored (``3 * n`` bytes): saving as GIF maps the
            result onto it (:func:`_encode_gif`); ``None`` for other files.
        transparent_index: the GIF palette entry that marks transparent pixels, or ``None``.
        entries: where ``palette`` (or ``png_palette`` with its transparency) lists a colour
            more than once, each pixel's own entry, ``(H, W)`` uint8 upright as the picture
            is shown, so that saving writes an untouched pixel with its own entry, not its
            colour's first (:func:`_nearest_entries`); ``None`` otherwise (a colour's one
            entry is then its pixels' entry).
        png_bits: the bit depth (1, 2, 4 or 8) of a palette PNG, or of a 1-, 2- or 4-bit
            grey PNG: saving as PNG writes it so again (:func:`_encode_png_on_palette`);
            ``None`` for other files.
        png_palette: a palette PNG's colour table (its ``PLTE`` chunk, RGB triplets as
            stored); ``None`` for other files (a low-bit grey PNG's shades are implied).
        png_transparency: that PNG's ``tRNS`` chunk as stored (a palette PNG's alpha of each
            entry, maybe fewer than its entries; a grey PNG's 2-byte transparent shade, its
            key), or ``None``.
        png_grey_bits: the bit depth (1, 2, 4, 8 or 16) of a grey PNG whose transparency is
            such a key (:func:`_png_grey_key`): reading makes its pixels of that shade
            transparent (:func:`_png_grey_key_alpha`), saving as PNG writes them so again
            (:func:`_encode_png_on_palette`, :func:`_encode_png_grey_key`); ``None`` for
            other files.
        jpeg_quality: a JPEG's quality (1-100) estimated from its quantisation tables
            (:func:`estimate_jpeg_quality`): saving as JPEG without a quality asked for
            writes at it (:func:`encode_image`); ``None`` for other files, or tables that
            give no estimate.
        jpeg_subsampling: a colour JPEG's chroma subsampling, ``"4:4:4"``, ``"4:2:2"`` or
            ``"4:2:0"``, which saving as JPEG keeps (a 4:2:2 JPEG stored sideways, turned
            upright by its EXIF orientation, is kept as 4:4:4: its own layout upright, 4:4:0,
            is not written); ``None`` for other files, grey JPEGs and other layouts (the
            encoder's default, 4:2:0, is then written).
    """

    lossless_webp: bool = False
    palette: bytes | None = None
    transparent_index: int | None = None
    entries: np.ndarray | None = field(default=None, compare=False, repr=False)
    jpeg_quality: int | None = None
    jpeg_subsampling: str | None = None
    png_bits: int | None = None
    png_palette: bytes | None = None
    png_transparency: bytes | None = None
    png_grey_bits: int | None = None


@dataclass(frozen=True)
class ImageMetadata:
    """What a photo says about itself, carried from the opened file to the saved one.

    Attributes:
        icc_profile: the embedded colour profile (ICC bytes), kept only when it describes RGB
            data, or grey data in a grey file (:attr:`LoadedImage.grey`); ``None`` when the
            file had none (pixels are then taken as sRGB). Writing embeds an RGB profile in
            RGB files only and a grey one in grey files only (:func:`encode_image`).
        exif: the EXIF tags as Pillow writes them (``b"Exif\\0\\0"`` + a TIFF structure), with
            the orientation set to 1 (the pixels are stored upright), the pixel dimensions
            set to the upright size, and the thumbnail and the tags describing the file's
            storage (strips, compression, bit depth...) left out; ``None`` when there were
            none. The thumbnail goes because it would still show what was removed.
        xmp: the XMP packet (UTF-8 RDF/XML: title, description, keywords, creator, rights,
            ratings...) as :func:`engines.xmp.for_edited_copy` leaves it: orientation 1, the
            upright size, no develop settings and no thumbnail; ``None`` when there was none.
            Written into JPEG, PNG, WebP and TIFF.
        iptc: the IPTC-IIM datasets of a JPEG or TIFF (captions, keywords, copyright as
            agencies write them, :func:`engines.iptc.read`); ``None`` when there were none.
            Written into JPEG and TIFF, the formats that have a place for them.
        source: how the original stored its pixels (a lossless WebP, a GIF's palette, a
            JPEG's quality), which saving in that format follows; not metadata that is
            written, so it is left out of truth (``bool()``: whether there is any metadata
            to write), equality and :meth:`stripped`.
        convert_from: the colour profile the pixels are in when it is not written (set by
            :meth:`stripped`): writing converts RGB pixels from it to sRGB
            (:func:`srgb_conversion`), so that the file, without a profile, looks as it did
            with one, and as the editor shows it; ``None`` (the pixels are written as they
            are) otherwise. Not written either, so left out of truth and equality.
    """

    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None
    source: SourceFormat = field(default=SourceFormat(), compare=False)
    convert_from: bytes | None = field(default=None, compare=False, repr=False)

    def __bool__(self) -> bool:
        return any(value is not None for value in
                   (self.icc_profile, self.exif, self.xmp, self.iptc))

    def stripped(self) -> ImageMetadata:
        """No colour profile, EXIF, XMP or IPTC, the storage form (:attr:`source`) kept:
        what saving is given when the photo's metadata is not to be kept, so that a
        lossless WebP stays lossless and a GIF keeps its palette all the same. The colour
        profile left out becomes :attr:`convert_from`: a picture in Adobe RGB or Display
        P3 is written converted to sRGB, not with its numbers shown as sRGB (duller);
        one in sRGB, or with no profile, keeps every pixel as it is."""
        return ImageMetadata(source=self.source,
                             convert_from=self.icc_profile or self.convert_from)

    def stamped(self, when: datetime.datetime | None = None) -> ImageMetadata:
        """These tags as an editor writes them on saving: EXIF's Software names this program
        and its DateTime (the modification date) is ``when`` (default: now, local time);
        XMP's modification dates follow (:func:`engines.xmp.stamped`). The capture date,
        camera and GPS stay. What Pillow can no longer serialise, or the XMP parser read,
        is kept as it was (it was read, so it is kept)."""
        when = when or datetime.datetime.now()
        stamped = self
        if self.exif is not None:
            tags = Image.Exif()
            try:
                tags.load(self.exif)
                tags[_SOFTWARE_TAG] = SOFTWARE
                tags[_DATETIME_TAG] = when.strftime("%Y:%m:%d %H:%M:%S")
                stamped = replace(stamped, exif=tags.tobytes())
            except (ValueError, TypeError, OSError, KeyError, SyntaxError, struct.error):
                pass
        if self.xmp is not None:
            with contextlib.suppress(xmp.XmpError):
                stamped = replace(stamped, xmp=xmp.stamped(self.xmp, when))
        return stamped


NO_METADATA = ImageMetadata()


class ImageShape(tuple):
    """A picture's ``(H, W)`` as shown (upright), a plain tuple to every use, which also
    remembers the ``(H, W)`` its file stores when its EXIF orientation turned it a quarter
    (:attr:`stored`): a layer file of the stored size is then refused saying so
    (:func:`load_mask`, :func:`load_colour_strokes`). From :attr:`LoadedImage.shape`."""

    stored: tuple[int, int]

    def __new__(cls, height: int, width: int,
                stored: tuple[int, int] | None = None) -> ImageShape:
        shape = super().__new__(cls, (int(height), int(width)))
        shape.stored = (int(height), int(width)) if stored is None else \
            (int(stored[0]), int(stored[1]))
        return shape


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB, upright.
        alpha: ``(H, W)`` uint8 transparency (255 = opaque) or ``None`` if the file had none.
        notes: what was converted on the way ("16-bit image, edited at 8 bits per channel...", ...).
        source_depth: bits per channel in the file (8, 16 or 32).
        metadata: the colour profile, EXIF, XMP and IPTC to write back when saving.
        deep_original: the file's own samples when it is deeper than 8 bits per channel,
            ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, upright: uint16, or float32/float64 as
            stored (1.0 = full scale; values above 1, below 0 and NaN kept); ``None``
            otherwise. Pass it to :func:`save_image` to write that depth again.
        grey: whether the file stores one grey channel (a black-and-white photo: 1-bit,
            8-bit, 16-bit or floating-point grey, with or without alpha); ``rgb`` (and
            ``deep_original``) then have equal channels. Pass it to :func:`save_image` to
            write a result that is still grey as a grey file again.
        missing: for a JPEG or PNG file cut short (an interrupted download or copy), the
            ``(H, W)`` uint8 area it does not hold (255), decoded as flat grey (JPEG) or black
            (PNG): a hole to fill; ``None`` for a whole file, or when the part lacking cannot
            be told apart (a progressive JPEG lacks detail everywhere instead).
        orientation: the EXIF orientation (2-8) its pixels were turned upright by; 1 when
            they are stored upright.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    notes: tuple[str, ...]
    source_depth: int
    metadata: ImageMetadata = NO_METADATA
    deep_original: np.ndarray | None = None
    grey: bool = False
    missing: np.ndarray | None = None
    orientation: int = 1

    @property
    def shape(self) -> ImageShape:
        """``(H, W)`` as shown, with the size its file stores (:class:`ImageShape`): what
        to check its mask and other layer files against."""
        height, width = self.rgb.shape[:2]
        turned = self.orientation in _SWAPPED_ORIENTATIONS
        return ImageShape(height, width, (width, height) if turned else None)


# ----------------------------------------------------------------------------- reading
_OPEN_WITHOUT_WAITING = getattr(os, "O_NONBLOCK", 0)  # not on Windows, which has no FIFOs
def read_file_bytes(path: str | os.PathLike) -> bytes:
    """The whole content of the file at ``path``, for any file read as a picture (layers and
    label maps too). Raises :class:`ImageFileError` saying why in words (``"is a folder,
    not an image"``, ``"no such file"``...). A named pipe (FIFO) that no program writes to is
    refused as empty instead of waiting for a writer forever (``open`` would block); a pipe
    that is being written to (``/dev/stdin``, ``<(...)``) is read to its end."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _OPEN_WITHOUT_WAITING)
        if _OPEN_WITHOUT_WAITING:
            os.set_blocking(descriptor, True)  # only the open must not wait; reads may
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read()
            is_pipe = stat.S_ISFIFO(os.fstat(handle.fileno()).st_mode)
    except FileNotFoundError:
        raise ImageMissingError("no such file", path, errno.ENOENT) from None
    except IsADirectoryError:
        raise ImageFileError("is a folder, not an image", path, errno.EISDIR) from None
    except PermissionError:
        raise ImageFileError("permission denied", path, errno.EACCES) from None
    except OSError as exc:
        raise ImageFileError(f"cannot read ({exc.strerror or exc})", path, exc.errno or 0) \
            from None
    if not data and is_pipe:
        raise ImageFileError("is a pipe with nothing written to it, not an image file", path,
                             errno.ENODATA)
    return data


@dataclass(frozen=True)
class _Header:
    size: tuple[int, int]  # (width, height) as stored
    format: str  # Pillow's name: "JPEG", "PNG", "TIFF"...
    orientation: int
    icc_profile: bytes | None
    exif: Image.Exif | None
    frames: int = 1  # pages of a TIFF, frames of an animation
    xmp: bytes | None = None  # the packet as stored
    iptc: bytes | None = None  # IPTC-IIM datasets
    associated_alpha: bool = False  # a TIFF whose colour is premultiplied by its alpha
    mode: str = ""  # Pillow's mode ("RGB", "RGBA"...) of 8-bit samples, else ""
    grey: bool = False  # the samples are one grey channel (with or without alpha)
    # a grey TIFF with an alpha sample that Pillow does not open (16-bit, floating point):
    # tifffile decodes it (OpenCV drops the alpha and the depth, or fails)
    grey_alpha_tiff: bool = False
    source: SourceFormat = SourceFormat()  # a lossless WebP, a GIF's palette


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF
_BITS_PER_SAMPLE_TAG = 258
# 8-bit TIFFs with transparency, decoded by Pillow (see _pillow_decoded): a = premultiplied
_TRANSPARENT_8_BIT_MODES = ("RGBA", "RGBa", "LA", "La")
# Pillow's modes of grey files: bilevel, 8-bit, with alpha, 16-bit, 32-bit integer and float
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_GREY_PHOTOMETRICS = (0, 1)  # TIFF's white-is-zero and black-is-zero
_WHITE_IS_ZERO = 0
_PNG_GREY_COLOUR_TYPES = (0, 4)  # grey, grey+alpha (Pillow reads 16-bit grey+alpha as RGBA)


@functools.cache
def _heif_support() -> bool:
    """Whether HEIC/HEIF files can be read and written: registers pillow-heif's Pillow plugin
    once, without the thumbnails, depth maps and auxiliary images (gain maps), which are
    never carried over (they would still show what an edit removed)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def _one_line(exc: BaseException) -> str:
    """A decoder's message on one line (libheif's end with a line break)."""
    return " ".join(str(exc).split())


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


_PNG_METADATA_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """A PNG file's chunks as ``(type, offset of its data, length)`` (``b"IHDR"``,
    ``b"IDAT"``...), in order, from their headers (length, type) alone; the walk ends
    where the headers do (a file cut short)."""
    offset = len(deep_samples.PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        yield kind, offset + 8, length
        offset += 12 + length


def _png_chunk_types(data: bytes) -> Iterator[bytes]:
    """The types of a PNG file's chunks, in order (:func:`_png_chunks`)."""
    return (kind for kind, _, _ in _png_chunks(data))


_PNG_GREY, _PNG_PALETTE = 0, 3  # IHDR colour types
_PNG_LOW_DEPTHS = (1, 2, 4)


def _png_storage(data: bytes) -> SourceFormat:
    """How a PNG stores its pixels where that is more than 8-bit RGB(A) or grey can say: a
    palette PNG's palette, transparency and bit depth, a 1-, 2- or 4-bit grey PNG's depth
    and transparent shade, an 8- or 16-bit grey PNG's transparent shade and depth
    (:class:`SourceFormat`), from the chunks before its pixels (nothing decoded); nothing
    for other PNGs, or one whose chunks do not walk."""
    depth = kind = None
    palette = transparency = None
    for chunk, start, length in _png_chunks(data):
        content = data[start:start + length]
        if chunk == b"IHDR" and len(content) >= 10:
            depth, kind = content[8], content[9]
        elif chunk == b"PLTE" and length and length % 3 == 0:
            palette = bytes(content)
        elif chunk == b"tRNS":
            transparency = bytes(content)
        elif chunk in (b"IDAT", b"IEND"):
            break
    if kind == _PNG_PALETTE and depth in (*_PNG_LOW_DEPTHS, 8) and palette is not None:
        return SourceFormat(png_bits=depth, png_palette=palette,
                            png_transparency=transparency or None)
    keyed = kind == _PNG_GREY and transparency is not None and len(transparency) >= 2
    if kind == _PNG_GREY and depth in _PNG_LOW_DEPTHS:
        return SourceFormat(png_bits=depth, png_transparency=transparency or None,
                            png_grey_bits=depth if keyed else None)
    if keyed and depth in (8, 16):
        return SourceFormat(png_transparency=transparency, png_grey_bits=depth)
    return SourceFormat()


def _png_grey_key(source: SourceFormat) -> tuple[int, int] | None:
    """A grey PNG's transparent shade (:attr:`SourceFormat.png_grey_bits`) as ``(bits,
    sample)``: its ``tRNS`` key as libpng reads it, cut to the file's depth (the spec asks
    for a sample of that depth; Pillow writes the 8-bit shade instead, 34 for a 4-bit
    file's shade 2, which libpng's cut reads as 2 too); ``None`` for other files."""
    bits, stored = source.png_grey_bits, source.png_transparency
    if bits is None or stored is None or len(stored) < 2:
        return None
    return bits, int.from_bytes(stored[:2], "big") & ((1 << bits) - 1)


def _png_grey_key_alpha(pixels: np.ndarray, source: SourceFormat) -> np.ndarray | None:
    """The ``(H, W)`` uint8 alpha that a grey PNG's transparent shade (:func:`_png_grey_key`)
    gives its decoded ``pixels`` (grey, or BGR(A) with equal channels: 1-, 2- and 4-bit
    samples scaled to 8 bits, 16-bit ones as stored): 0 where the sample is that shade,
    255 elsewhere. ``None`` for other files, and for pixels not at the file's own depth
    (8-bit pixels of a 16-bit file cannot tell its shade; every decoder, the one of files
    cut short included, gives 16-bit samples today)."""
    key = _png_grey_key(source)
    if key is None:
        return None
    bits, sample = key
    grey = pixels if pixels.ndim == 2 else pixels[..., 0]
    if grey.dtype != (np.uint16 if bits == 16 else np.uint8):
        return None
    shade = sample if bits > 8 else sample * 255 // ((1 << bits) - 1)
    return np.where(grey == shade, 0, 255).astype(np.uint8)


def _png_palette_colours(source: SourceFormat) -> np.ndarray:
    """A palette PNG's entries (:attr:`SourceFormat.png_palette`) as ``(P, 4)`` uint8 RGBA,
    alpha from its transparency (255 for the entries it does not list)."""
    colours = np.frombuffer(source.png_palette or b"", np.uint8).reshape(-1, 3)
    alpha = np.full(len(colours), 255, np.uint8)
    listed = np.frombuffer(source.png_transparency or b"", np.uint8)[:len(colours)]
    alpha[:len(listed)] = listed
    return np.column_stack([colours, alpha])


def _storage_note(source: SourceFormat) -> str | None:
    """The note on opening a GIF with a palette (:attr:`SourceFormat.palette`), a palette
    PNG or a 1-, 2- or 4-bit grey one (:attr:`SourceFormat.png_bits`): edited in full,
    saved in its own format on its own colours again, filled pixels taking the nearest
    (:func:`_encode_gif`, :func:`_encode_png_on_palette`); None for others."""
    if source.palette is not None:
        return _palette_note(len(source.palette) // 3, "GIF", "PNG or TIFF")
    bits = source.png_bits
    if bits is None:
        return None
    if source.png_palette is not None:
        return _palette_note(len(source.png_palette) // 3, "PNG", "TIFF")
    key = _png_grey_key(source)  # its transparent shade, which no filled pixel takes
    if bits == 1:
        what, nearest = "black and white", "the nearer of black and white"
        if key is not None:
            nearest = f"{'black' if key[1] else 'white'}, its one opaque shade"
    else:
        what, nearest = f"{1 << bits} shades", "the nearest of its shades"
        if key is not None:
            nearest += " but its transparent one"
    return (f"{bits}-bit grey image ({what}), edited at 8 bits; saving it as PNG keeps "
            f"{bits} bit{'s' if bits > 1 else ''}, filled pixels taking {nearest} (saving as "
            "TIFF keeps them as filled)")


def _palette_note(count: int, kept_as: str, full_as: str) -> str:
    """The note on opening a palette picture of ``count`` entries, which saving as
    ``kept_as`` ("GIF") writes on its palette again, as ``full_as`` ("PNG or TIFF") as
    filled (:func:`_storage_note`)."""
    return (f"palette image ({count} colours), edited in full colour; saving it as {kept_as} "
            f"keeps its palette, filled pixels taking the nearest of its colours (saving as "
            f"{full_as} keeps them as filled)")


def _png_metadata_after_pixels(data: bytes) -> bool:
    """Whether a PNG holds an EXIF or text chunk after its first IDAT (pixel) chunk."""
    seen_pixels = False
    for kind in _png_chunk_types(data):
        if kind == b"IEND":
            break
        seen_pixels |= kind == b"IDAT"
        if seen_pixels and kind in _PNG_METADATA_CHUNKS:
            return True
    return False


_JPEG_START = b"\xff\xd8\xff"
_JPEG_SCAN, _JPEG_END = 0xDA, b"\xff\xd9"
_JPEG_LONE_MARKERS = {0x01, *range(0xD0, 0xD8)}  # markers without a length (TEM, RSTn)


def ends_early(data: bytes) -> bool:
    """Whether ``data``, a JPEG or PNG file, stops before its end: a JPEG without the
    end-of-image marker after the start of its first scan (the markers before it walked by
    their lengths, so that an EXIF thumbnail's end does not count), a PNG without its IEND
    chunk (:func:`_png_chunk_types`). Reads no pixels; False for other files and for those
    whose markers do not walk (the decoder judges them)."""
    if data[:3] == _JPEG_START:
        offset = 2
        while offset + 4 <= len(data) and data[offset] == 0xFF:
            marker = data[offset + 1]
            if marker == 0xFF:  # fill bytes before a marker
                offset += 1
            elif marker in _JPEG_LONE_MARKERS:
                offset += 2
            elif marker == _JPEG_SCAN:
                return data.find(_JPEG_END, offset + 2) < 0
            else:
                offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]
        return offset >= len(data) - 3  # the file stops before its first scan
    if data[:8] == deep_samples.PNG_SIGNATURE:
        return b"IEND" not in _png_chunk_types(data)
    return False


def _exif(probe: Image.Image, data: bytes, max_pixels: int) -> Image.Exif:
    """The picture's EXIF as Pillow reads it, without decoding a PNG's pixels needlessly.

    Pillow's PNG reader decodes every pixel before reading EXIF, in case a chunk after the
    pixels holds it: a second full decode of each PNG opened, and gigabytes for a small file
    whose header claims a huge size. Here that happens only when such a chunk exists and the
    picture is not too large to open anyway.
    """
    if probe.format != "PNG" or "exif" in probe.info:
        return probe.getexif()
    if probe.size[0] * probe.size[1] <= max_pixels and _png_metadata_after_pixels(data):
        return probe.getexif()
    return Image.Image.getexif(probe)  # the same reading of what the chunks before gave


# why a file with no bytes is refused as a picture, a layer or a reference
EMPTY_FILE = "an empty file (0 bytes), as an interrupted copy or download leaves one"


def _header(data: bytes, path: str, max_pixels: int = MAX_PIXELS) -> _Header:
    """Size, EXIF orientation and metadata of an encoded image, without decoding pixels
    (except a PNG's whose metadata follows its pixels, when under ``max_pixels``). An empty
    file (no bytes) is refused saying so (:data:`EMPTY_FILE`), whatever it is read as."""
    if not data:
        raise ImageFileError(EMPTY_FILE, path, errno.ENODATA)
    Image.MAX_IMAGE_PIXELS = None  # our own, clearer limit applies
    heif_support = _heif_support()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            size, kind = probe.size, probe.format or ""
            icc = probe.info.get("icc_profile") or None
            try:
                frames = int(getattr(probe, "n_frames", 1) or 1)
            except Exception:  # a damaged later frame: the first one still opens
                frames = 1
            try:
                exif = _exif(probe, data, max_pixels)
                orientation = int(exif.get(_ORIENTATION_TAG, 1))
                exif = _photo_tags(exif)
            except (ValueError, TypeError, OSError, SyntaxError, KeyError, struct.error):
                exif, orientation = None, 1  # malformed EXIF must not make it unreadable
            packet = probe.info.get("xmp") or probe.info.get(_PNG_XMP_KEY)
            if isinstance(packet, str):
                packet = packet.encode("utf-8")
            records = iptc.read(probe) if kind in ("JPEG", "TIFF") else None
            tags = getattr(probe, "tag_v2", {})  # a TIFF's tags
            extra = tags.get(_EXTRA_SAMPLES_TAG)
            extra = extra if isinstance(extra, tuple) else (extra,)
            associated = kind == "TIFF" and extra[0] == _ASSOCIATED_ALPHA
            bits = tags.get(_BITS_PER_SAMPLE_TAG, 8)
            bits = bits if isinstance(bits, tuple) else (bits,)
            mode = probe.mode if set(bits) == {8} else ""  # Pillow reduces deeper samples
            grey = probe.mode in _GREY_MODES or (kind == "PNG" and _png_colour_type(data)
                                                  in _PNG_GREY_COLOUR_TYPES)
            source = (SourceFormat(lossless_webp=_webp_lossless(data)) if kind == "WEBP"
                      else _gif_colours(data) if kind == "GIF"
                      else _jpeg_storage(probe) if kind in ("JPEG", "MPO")
                      else _png_storage(data) if kind == "PNG"
                      else SourceFormat())
        if kind == "TIFF" and orientation in _SWAPPED_ORIENTATIONS \
                and _turns_tiffs("pillow-size"):
            size = size[::-1]  # Pillow reported the upright size
    except UnidentifiedImageError:
        if data[:4] in _TIFF_MAGIC:  # a layout Pillow does not read (floating-point RGB)
            return _tiff_header(data, path)
        if _is_heif(data) and not heif_support:
            raise ImageFileError("HEIC/HEIF pictures need the pillow-heif package "
                                 "(pip install pillow-heif)", path) from None
        raise ImageFileError("not an image file, or the file is damaged", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"the file is damaged ({_one_line(exc)})", path) from None
    return _Header(size, kind, orientation, icc if isinstance(icc, bytes) else None, exif,
                   frames, packet if isinstance(packet, bytes) else None, records, associated,
                   mode, grey, source=source)


def _tifffile():
    """The tifffile module, its log quieted: what it logs of a damaged file (``invalid
    offset to first page``) went to stderr beside the one line that says it is damaged."""
    import tifffile

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    return tifffile


def _tiff_damage(exc: Exception, tifffile, path: str) -> ImageFileError:
    """The refusal of a TIFF that tifffile could not read: its own reason when it gives one
    (``corrupted IFD structure``), a plain one for a Python error inside it (an
    ``IndexError: 0`` says nothing to a user)."""
    if isinstance(exc, tifffile.TiffFileError) and str(exc).strip():
        return ImageFileError(f"the file is damaged ({_one_line(exc)})", path)
    return ImageFileError("the file is damaged (its TIFF structure cannot be read)", path)


def _tiff_header(data: bytes, path: str) -> _Header:
    """The header of a TIFF that Pillow cannot open, read by tifffile (no EXIF)."""
    tifffile = _tifffile()

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            grey = page.photometric in _GREY_PHOTOMETRICS
            orientation = page.tags.valueof(_ORIENTATION_TAG, 1)
            icc = page.tags.valueof(_ICC_TAG)
            packet = page.tags.valueof(_XMP_TAG)
            records = page.tags.valueof(_IPTC_TAG)
            return _Header((int(page.imagewidth), int(page.imagelength)), "TIFF",
                           int(orientation), bytes(icc) if icc else None, None,
                           len(tiff.pages), bytes(packet) if packet else None,
                           records if isinstance(records, bytes) and records else None,
                           tuple(page.extrasamples)[:1] == (_ASSOCIATED_ALPHA,),
                           grey=grey, grey_alpha_tiff=grey and page.samplesperpixel == 2)
    except Exception as exc:  # tifffile fails in many ways on damaged files
        raise _tiff_damage(exc, tifffile, path) from None


def _jpeg_storage(probe: Image.Image) -> SourceFormat:
    """A JPEG's (or a phone's multi-picture JPEG's) quality and chroma subsampling, from its
    header as Pillow read it on opening (no pixels decoded): :class:`SourceFormat`."""
    try:
        sampling = _JPEG_SUBSAMPLINGS.get(JpegImagePlugin.get_sampling(probe))
    except (AttributeError, TypeError, ValueError, IndexError):
        sampling = None
    return SourceFormat(jpeg_quality=estimate_jpeg_quality(getattr(probe, "quantization", None)),
                        jpeg_subsampling=sampling)


def _ijg_tables(base: np.ndarray) -> np.ndarray:
    """``(100, 64)``: ``base`` scaled for each quality 1..100 as libjpeg's
    ``jpeg_set_quality`` scales it (entries clamped to 1..32767; baseline JPEGs, what
    encoders write by default, clamp them to 255)."""
    qualities = np.arange(1, 101)[:, None]
    scale = np.where(qualities < 50, 5000 // qualities, 200 - 2 * qualities)
    return np.clip((base[None, :] * scale + 50) // 100, 1, 32767)


_IJG_SCALED = (_ijg_tables(_IJG_LUMINANCE), _ijg_tables(_IJG_CHROMINANCE))


def kept_jpeg_quality(metadata: ImageMetadata, suffix: str) -> int | None:
    """The quality a ``suffix`` file is written at when none is asked for, where it is the
    original JPEG's (``metadata.source.jpeg_quality``, :func:`encode_image`): None for other
    formats, and for pictures whose original was no JPEG (:data:`DEFAULT_QUALITY` then)."""
    return metadata.source.jpeg_quality if suffix.lower() in (".jpg", ".jpeg") else None


def kept_storage(metadata: ImageMetadata, suffix: str) -> str | None:
    """How a ``suffix`` file is stored where it keeps its original GIF's palette
    (:func:`_on_palette`; a document's transparency is never edited, so it always fits) or
    its original PNG's palette or few-bit grey (:func:`_encode_png_on_palette`), for a save
    message ("on its 64-colour palette", "at 1 bit, black and white", "at 4 bits, 16 shades
    of grey"); None otherwise."""
    source = metadata.source
    if suffix.lower() == ".gif" and source.palette:
        return f"on its {len(source.palette) // 3}-colour palette"
    if suffix.lower() != ".png" or source.png_bits is None:
        return None
    if source.png_palette is not None:
        return f"on its {len(source.png_palette) // 3}-colour palette"
    if source.png_bits == 1:
        return "at 1 bit, black and white"
    return f"at {source.png_bits} bits, {1 << source.png_bits} shades of grey"


def estimate_jpeg_quality(tables: object) -> int | None:
    """The IJG quality (1-100) whose scaled standard tables come closest to a JPEG's
    quantisation ``tables`` (Pillow's ``JpegImageFile.quantization``: table number -> 64
    entries in natural order), as ImageMagick's IdentifyJPEGQuality estimates it: the
    luminance table (0) and, when there is one, the chrominance table (1), by the sum of
    absolute differences (the lower quality on a tie). Exact for files that libjpeg's
    standard tables wrote (Pillow, OpenCV: every quality 1..100); the nearest for a
    camera's own tables. ``None``
    when there is no 64-entry luminance table (or its entries are not positive numbers)."""
    if not isinstance(tables, dict):
        return None
    error = np.zeros(100)
    for number, scaled in enumerate(_IJG_SCALED):
        table = tables.get(number)
        if table is None and number > 0:
            break
        try:
            entries = np.asarray(table, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            return None
        if entries.size != 64 or entries.min() < 1:
            return None
        if entries.max() <= 255:  # a baseline table (8-bit entries)
            scaled = np.minimum(scaled, 255)
        error += np.abs(scaled - entries[None, :]).sum(axis=1)
    return int(np.argmin(error)) + 1


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP file's picture (an animation's first frame) is stored lossless: the
    first image chunk among its RIFF chunks, after a ``VP8X`` header and its ``ICCP``,
    ``ALPH``... and inside a first ``ANMF`` frame, is ``VP8L`` (``VP8 `` is lossy). Walks the
    chunk headers only; a damaged file ends the walk (lossy, the usual encoding)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    offset = 12
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, offset)
        if kind in (b"VP8L", b"VP8 "):
            return kind == b"VP8L"
        if kind == b"ANMF":  # a frame: 16 bytes of placement and timing, then its chunks
            offset += 8 + 16
            continue
        offset += 8 + length + (length & 1)  # chunks are padded to an even length
    return False


_GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
_GIF_EXTENSION, _GIF_PICTURE, _GIF_CONTROL = 0x21, 0x2C, 0xF9


def _gif_colours(data: bytes) -> SourceFormat:
    """The colour table of a GIF's first picture (its local table, else the global one)
    and its transparent entry (from the graphic control extension before it), read from
    the block headers without decoding pixels (:class:`SourceFormat`); no palette for a
    file without a table or one damaged before its first picture."""
    if data[:6] not in _GIF_SIGNATURES or len(data) < 13:
        return SourceFormat()
    flags, offset = data[10], 13  # after the logical screen descriptor
    palette = None
    if flags & 0x80:  # a global colour table of 2 ** (n + 1) entries
        size = 3 << ((flags & 7) + 1)
        palette, offset = data[offset:offset + size], offset + size
    transparent = None
    while offset + 2 <= len(data):
        if data[offset] == _GIF_PICTURE:
            if offset + 10 > len(data):
                return SourceFormat()
            packed, start = data[offset + 9], offset + 10
            if packed & 0x80:
                palette = data[start:start + (3 << ((packed & 7) + 1))]
            break
        if data[offset] != _GIF_EXTENSION:
            return SourceFormat()  # damaged (or no picture: the trailer)
        if data[offset + 1] == _GIF_CONTROL and offset + 7 <= len(data):
            # block size 4, flags (bit 0: has a transparent entry), delay (2), the entry
            transparent = data[offset + 6] if data[offset + 3] & 1 else None
        offset += 2
        while offset < len(data) and data[offset]:  # data sub-blocks, each sized
            offset += 1 + data[offset]
        offset += 1  # the empty sub-block that ends them
    else:
        return SourceFormat()
    if not palette or len(palette) % 3:  # none, or cut short
        return SourceFormat()
    if transparent is not None and transparent >= len(palette) // 3:
        transparent = None
    return SourceFormat(palette=bytes(palette), transparent_index=transparent)


def _repeats_a_colour(palette: bytes | np.ndarray | None) -> bool:
    """Whether a GIF ``palette`` (RGB triplets), or ``(P, k)`` uint8 colours, lists some
    colour more than once."""
    if palette is None or not len(palette):
        return False
    colours = (np.frombuffer(palette, np.uint8).reshape(-1, 3) if isinstance(palette, bytes)
               else palette)
    return len(np.unique(_colour_keys(colours))) < len(colours)


def _stored_entries(data: bytes, shape: tuple[int, int], orientation: int
                    ) -> np.ndarray | None:
    """The palette entry of each pixel of a GIF's first picture or a palette PNG, ``(H, W)``
    uint8 turned as ``orientation`` says, for :attr:`SourceFormat.entries`; ``None`` where
    Pillow does not give them (not a palette picture, damaged) or they are not of
    ``shape``."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.mode != "P":
                return None
            entries = np.array(picture)
    except (OSError, SyntaxError, ValueError):
        return None
    entries = _upright(entries, orientation) if orientation in _ORIENTATION else entries
    return np.ascontiguousarray(entries) if entries.shape == tuple(shape) else None


class _PngHeader(NamedTuple):
    """A PNG's IHDR fields that reading it needs: ``kind`` its colour type (0 grey, 2 RGB, 3
    palette, 4 grey+alpha, 6 RGBA), ``depth`` its bits per sample, ``interlace`` 1 for
    Adam7."""

    width: int
    height: int
    depth: int
    kind: int
    interlace: int


_IHDR = struct.Struct(">IIBBBBB")  # width, height, depth, colour type, (3 methods), interlace


def _png_header(data: bytes) -> _PngHeader | None:
    """The IHDR chunk of the PNG ``data`` (:class:`_PngHeader`); ``None`` when ``data`` does
    not start as a PNG does."""
    signature = deep_samples.PNG_SIGNATURE
    ihdr = len(signature) + 8  # the chunk's data
    if data[:len(signature)] != signature or data[12:16] != b"IHDR" \
            or len(data) < ihdr + _IHDR.size or int.from_bytes(data[8:12], "big") < _IHDR.size:
        return None
    width, height, depth, kind, _compression, _filter, interlace = _IHDR.unpack_from(
        data, ihdr)
    return _PngHeader(width, height, depth, kind, interlace)


def _png_colour_type(data: bytes) -> int | None:
    """A PNG's colour type (:attr:`_PngHeader.kind`); ``None`` when ``data`` does not start
    as a PNG does."""
    header = _png_header(data)
    return None if header is None else header.kind


def _tiff_grey_alpha(data: bytes, path: str) -> np.ndarray:
    """A grey+alpha TIFF (16-bit or floating point: :attr:`_Header.grey_alpha_tiff`) decoded
    by tifffile, as ``(H, W, 4)`` grey, grey, grey, alpha in its own sample type (OpenCV's
    BGRA layout), black at zero; as stored, not turned upright."""
    tifffile = _tifffile()

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            samples = page.asarray()
            white_is_zero = page.photometric == _WHITE_IS_ZERO
    except Exception as exc:  # tifffile fails in many ways on damaged files
        raise _tiff_damage(exc, tifffile, path) from None
    if samples.ndim != 3 or samples.shape[2] != 2:
        raise ImageFileError(f"grey+alpha samples of shape {samples.shape} are not "
                             "supported", path)
    grey, alpha = samples[..., 0], samples[..., 1]
    if white_is_zero:
        full = np.iinfo(grey.dtype).max if grey.dtype.kind in "ui" else 1.0
        grey = (full - grey).astype(grey.dtype)
    return np.ascontiguousarray(np.dstack([grey, grey, grey, alpha]))


def _photo_tags(exif: Image.Exif) -> Image.Exif | None:
    """A copy of ``exif`` without storage tags or thumbnail, its sub-directories read in."""
    tags = Image.Exif()
    for tag, value in exif.items():
        if tag not in _STORAGE_TAGS:
            tags[tag] = value
    for pointer in (_EXIF_IFD, _GPS_IFD):
        if pointer in exif:
            tags[pointer] = dict(exif.get_ifd(pointer))
    return tags if len(tags) else None


def _pillow_decoded(data: bytes, path: str, notes: list[str]) -> np.ndarray:
    """8-bit BGR or BGRA pixels decoded by Pillow, as OpenCV would give them.

    Used for what OpenCV does not read (HEIC/HEIF, AVIF, JPEG files cut short:
    :func:`_decoded_as_far_as_it_goes`), and for 8-bit TIFFs with transparency: OpenCV premultiplies the colour of TIFFs whose alpha is stored unassociated
    (the usual kind), darkening every half-transparent pixel; Pillow keeps it, and
    un-premultiplies associated alpha. Pixels are as stored, except HEIF's, which libheif
    turns upright (pillow-heif then sets the EXIF orientation to 1). What this loses is
    said in ``notes``: the depth of a 10- or 12-bit HEIF, a colour space given as HEIF
    "nclx" primaries instead of a profile.
    """
    try:
        with Image.open(io.BytesIO(data)) as picture:
            transparent = bool({"A", "a"} & set(picture.getbands())) \
                or "transparency" in picture.info
            pixels = np.asarray(picture.convert("RGBA" if transparent else "RGB"))
            info = dict(picture.info)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"the file is damaged ({_one_line(exc)})", path) from None
    depth = info.get("bit_depth", 8)
    if isinstance(depth, int) and depth > 8:
        notes.append(f"{depth}-bit image, edited and saved at 8 bits per channel")
    nclx = info.get("nclx_profile")
    if isinstance(nclx, dict) and "icc_profile" not in info \
            and nclx.get("color_primaries") not in (None, 1, 2):  # 1: sRGB, 2: unspecified
        notes.append("its colours are described by HEIF colour primaries (code "
                     f"{nclx['color_primaries']}) rather than a colour profile; they are "
                     "shown and saved as sRGB and may look less saturated")
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if transparent else cv2.COLOR_RGB2BGR)


@functools.cache
def _turns_tiffs(reader: str) -> bool:
    """Whether ``reader`` applies a TIFF's Orientation tag itself: ``"opencv"`` when decoding
    (5.0 does, even with ``IMREAD_UNCHANGED``, for TIFF only), ``"pillow"`` when decoding
    and ``"pillow-size"`` in the size it reports (Pillow 11 does both). Versions differ,
    so it is found out once, on a 2x1 TIFF stored turned (orientation 6)."""
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((1, 2, 3), np.uint8)).save(buffer, "TIFF", exif=exif.tobytes())
    if reader == "opencv":
        pixels = _opencv_decoded(buffer.getvalue())
        return pixels is not None and pixels.shape[0] == 2
    with Image.open(buffer) as picture:
        return (picture.size if reader == "pillow-size" else picture.convert("RGB").size) \
            == (1, 2)


def _profile_space(icc: bytes) -> bytes:
    """The colour space an ICC profile describes: its header's data colour space signature
    (bytes 16-19: ``b"RGB "``, ``b"GRAY"``, ``b"CMYK"``...)."""
    return icc[16:20]


def _with_profile_for(metadata: ImageMetadata, space: bytes) -> ImageMetadata:
    """``metadata`` without its colour profile unless that describes ``space``."""
    icc = metadata.icc_profile
    if icc is None or _profile_space(icc) == space:
        return metadata
    return replace(metadata, icc_profile=None)


def _metadata(header: _Header, width: int, height: int, notes: list[str]) -> ImageMetadata:
    """What of ``header``'s metadata can describe the decoded ``width`` x ``height`` RGB."""
    icc = header.icc_profile
    if icc is not None and _profile_space(icc) not in (
            (_RGB_SPACE, _GREY_SPACE) if header.grey else (_RGB_SPACE,)):
        space = _profile_space(icc).decode("ascii", "replace").strip() or "unknown"
        notes.append(f"its {space} colour profile does not describe the RGB pixels edited "
                     "here and will not be saved")
        icc = None
    exif = None
    if header.exif is not None:
        tags = header.exif
        if _ORIENTATION_TAG in tags:
            tags[_ORIENTATION_TAG] = 1
        camera = tags.get(_EXIF_IFD)
        if isinstance(camera, dict):
            for tag, value in ((_PIXEL_X, width), (_PIXEL_Y, height)):
                if tag in camera:
                    camera[tag] = value
        try:
            exif = tags.tobytes()
        except (ValueError, TypeError, OSError, KeyError, struct.error):
            notes.append("its EXIF data is damaged and will not be saved")
    packet = None
    if header.xmp is not None:
        try:
            packet = xmp.for_edited_copy(header.xmp, width, height)
        except xmp.XmpError:
            notes.append("its XMP metadata is damaged and will not be saved")
    return ImageMetadata(icc, exif, packet, header.iptc, source=header.source)


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


def _to_uint8(pixels: np.ndarray, notes: list[str], path: str) -> tuple[np.ndarray, int]:
    if pixels.dtype == np.uint8:
        return pixels, 8
    if pixels.dtype == np.uint16:
        notes.append("16-bit image, edited at 8 bits per channel; saving it as PNG or TIFF "
                     "keeps 16 bits")
        return deep_samples.to_8bit(pixels), 16
    if pixels.dtype in (np.float32, np.float64):
        notes.append(_float_note(pixels))
        return deep_samples.to_8bit(pixels), 32
    raise ImageFileError(f"unsupported sample type {pixels.dtype}", path)


def _float_note(pixels: np.ndarray) -> str:
    """The note on floating-point ``pixels`` (1.0 = full scale): edited at 8 bits and how
    they are saved; where some samples lie outside 0..1 (NaN and infinities aside), how far
    and how many, as they are shown and edited clipped (nothing is rescaled), e.g. "values
    up to 4.0 (above 1.0 in 62% of its samples), shown and edited clipped to 1.0"."""
    above = (pixels > 1.0) & (pixels < np.inf)
    below = (pixels < 0.0) & (pixels > -np.inf)
    outside = np.count_nonzero(above | below)
    if not outside:
        return ("floating-point image, edited at 8 bits per channel; saving it as TIFF keeps "
                "floating point, as PNG 16 bits")
    high = float(np.max(pixels, where=above, initial=1.0))
    low = float(np.min(pixels, where=below, initial=0.0))
    if high > 1.0 and low < 0.0:
        values, limit, bounds = f"from {_sample(low)} to {_sample(high)}", "outside 0..1", "0..1"
    elif high > 1.0:
        values, limit, bounds = f"up to {_sample(high)}", "above 1.0", "1.0"
    else:
        values, limit, bounds = f"down to {_sample(low)}", "below 0", "0"
    percent = 100 * outside / pixels.size
    share = ("all" if outside == pixels.size else "under 1%" if percent < 1
             else f"{min(percent, 99):.0f}%")
    return (f"floating-point image with values {values} ({limit} in {share} of its samples), "
            f"shown and edited clipped to {bounds} at 8 bits per channel; saving it as TIFF "
            f"keeps floating point and every unchanged pixel's own value, as PNG 16 bits "
            f"clipped to {bounds}")


def _sample(value: float) -> str:
    """A sample value for a note: 5 significant digits, a whole number with ".0"."""
    text = f"{value:.5g}"
    return text if any(mark in text for mark in ".e") else f"{text}.0"


# the messages the C libraries inside OpenCV write to the process's stderr themselves
# (libpng's default handlers: "libpng error: PNG input buffer is incomplete", "... IDAT: CRC
# error", "libpng warning: iCCP: too short"); every file OpenCV cannot read is reported
# once, in our own words (ImageFileError), and what it reads with a warning needs none; also
# OpenCV's own log lines from its image codecs ("[ WARN:0@0.1] global grfmt_png.cpp:793
# ..."), which main._quiet_decoders silences by log level for the program but not for other
# users; and libjpeg's warnings (jerror.h's JWRN_ texts: "Corrupt JPEG data: bad Huffman
# code", "Premature end of JPEG file"...), which say a JPEG's damage where the loader notes
# it itself (:func:`_jpeg_damage_note`). Each message runs to the end of its line or the next
# message (libpng writes the text and its newline apart, so threads decoding together may
# interleave them).
_LIBJPEG_WARNINGS = (rb"Corrupt JPEG data: |Premature end of JPEG file|Invalid SOS parameters "
                     rb"for sequential JPEG|Inconsistent progression sequence |Warning: unknown "
                     rb"JFIF revision number |Unknown Adobe color transform code |Application "
                     rb"transferred too many scanlines")
_CHATTER_START = (rb"libpng (?:error|warning): |"
                  rb"\[ ?(?:WARN|ERROR):[^\]\n]*\] global (?:grfmt_|loadsave\.cpp)|"
                  + _LIBJPEG_WARNINGS)
_DECODER_MESSAGE = rb"(?:" + _CHATTER_START + rb")[^\n]*?(?=" + _CHATTER_START + rb"|\n|\Z)"
# a block of such messages and newlines, written in any order by threads decoding together
_DECODER_CHATTER = re.compile(rb"\n*(?:" + _DECODER_MESSAGE + rb"\n*)+")
_CHATTER_COUNT = re.compile(_CHATTER_START)


_KEEP_DECODER_MESSAGES = threading.Event()


def keep_decoder_messages(keep: bool) -> None:
    """Whether the decoders' own messages, held aside while decoding, still reach stderr
    (``--debug``: "TIFF_Error ...", "libpng warning: ..."; what the loaders make of them, a
    refusal or a note, is the same either way). Process-wide; off by default."""
    if keep:
        _KEEP_DECODER_MESSAGES.set()
    else:
        _KEEP_DECODER_MESSAGES.clear()


def _without_decoder_chatter(written: bytes) -> bytes:
    """``written`` (what went to stderr while decoding) less the decoders' messages
    (:data:`_DECODER_CHATTER`) and their newlines: a block of k messages and n newlines
    (libpng writes each message and its newline apart, so threads interleave them) keeps
    n - k newlines, those of the lines around it; every other line, blank ones included,
    is kept as written. All of it with :func:`keep_decoder_messages`."""
    if _KEEP_DECODER_MESSAGES.is_set():
        return written
    def kept_newlines(block: re.Match) -> bytes:
        text = block.group()
        # OpenCV's loadsave.cpp line quotes an exception whose text ends in a newline of
        # its own: two newlines for that message
        own = len(_CHATTER_COUNT.findall(text)) + text.count(b"] global loadsave.cpp")
        return b"\n" * max(0, text.count(b"\n") - own)

    return _DECODER_CHATTER.sub(kept_newlines, written)


class _QuietDecoders:
    """While one or more threads are inside it, file descriptor 2 points at a temporary file;
    when the last one leaves, fd 2 is put back and what was written meanwhile is written to
    it, less the decoders' own messages (:func:`_without_decoder_chatter`). (Log levels
    cannot silence them: libpng prints with C ``fprintf``.)

    Thread-safe: the redirection is process-wide, so it is shared (counted under a lock, the
    decoding itself runs unlocked, in parallel), and other threads' stderr output in the
    meantime is delayed, not lost. Where fd 2 cannot be redirected (closed, no stderr) it is
    left alone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None
        self._caught: io.BufferedRandom | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._redirect()
            self._users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._restore()

    @contextlib.contextmanager
    def overheard(self) -> Iterator[Callable[[], bytes]]:
        """``with self``, giving a function that returns what was written to fd 2 since
        entering (by any thread: serialise the decodes whose messages must be told apart);
        it returns ``b""`` where fd 2 is not redirected or cannot be read back (no
        ``os.pread``)."""
        with self:
            caught = self._caught
            read = getattr(os, "pread", None)
            if caught is None or read is None:
                yield lambda: b""
                return
            start = os.lseek(caught.fileno(), 0, os.SEEK_CUR)  # fd 2 shares the position

            def written() -> bytes:
                end = os.lseek(caught.fileno(), 0, os.SEEK_CUR)
                return read(caught.fileno(), max(0, end - start), start)

            yield written

    def _redirect(self) -> None:
        caught = None
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            caught = tempfile.TemporaryFile()  # noqa: SIM115 - _restore closes it
            saved = os.dup(2)
        except (OSError, ValueError):
            if caught is not None:
                caught.close()
            return
        try:
            os.dup2(caught.fileno(), 2)
        except OSError:
            os.close(saved)
            caught.close()
            return
        self._saved, self._caught = saved, caught

    def _restore(self) -> None:
        """What was caught goes out first, to the real stderr, then fd 2 points there again,
        then what other threads wrote in that instant: their lines stay in order."""
        saved, caught, self._saved, self._caught = self._saved, self._caught, None, None
        if saved is None or caught is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if sys.stderr is not None:
                sys.stderr.flush()
        with caught:
            caught.seek(0)
            _write_all(saved, _without_decoder_chatter(caught.read()))
            os.dup2(saved, 2)
            os.close(saved)
            _write_all(2, _without_decoder_chatter(caught.read()))  # written meanwhile


def _write_all(descriptor: int, data: bytes) -> None:
    """Write ``data`` to the file descriptor whole (errors ignored: stderr may be gone)."""
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(descriptor, data):]


_quiet_decoders = _QuietDecoders()


def _opencv_decoded(data: bytes, quiet: bool = False,
                    heard: list[bytes] | None = None) -> np.ndarray | None:
    """``cv2.imdecode`` of ``data`` unchanged (None where it fails); with ``quiet`` (a PNG:
    libpng prints to stderr itself), the C libraries' own stderr lines are kept off stderr
    (:class:`_QuietDecoders`: process-wide while it decodes, so only where needed; a crash
    inside the decoder would leave its dump in the temporary file). With ``heard`` (a JPEG,
    a TIFF), quiet too, and what the decoder wrote to stderr is added to it, that decode's
    own: decodes that listen take turns (:data:`_LISTENING`), and OpenCV logs its warnings
    and errors meanwhile whatever its log level (libtiff's messages reach stderr only as
    OpenCV's log lines: "TIFF_Error Using code not yet in table", "TIFF_Warning
    PackBitsDecode: Discarding 13 bytes to avoid buffer overrun")."""
    if heard is not None:
        with _LISTENING, _quiet_decoders.overheard() as written, _opencv_warnings_logged():
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            heard.append(written())
        return pixels
    decoding = _quiet_decoders if quiet else contextlib.nullcontext()
    with decoding:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


_LISTENING = threading.Lock()


@contextlib.contextmanager
def _opencv_warnings_logged() -> Iterator[None]:
    """OpenCV's log level at least WARNING inside (a program may have silenced it: main.py
    does), put back after. Process-wide: used only under :data:`_LISTENING`, with fd 2
    held aside, whose decoder lines are left out when it is put back (unless
    :func:`keep_decoder_messages`)."""
    logging_ = cv2.utils.logging
    before = logging_.getLogLevel()
    if before < logging_.LOG_LEVEL_WARNING:
        logging_.setLogLevel(logging_.LOG_LEVEL_WARNING)
    try:
        yield
    finally:
        if before < logging_.LOG_LEVEL_WARNING:
            logging_.setLogLevel(before)


# libjpeg's warnings that mean the entropy-coded data itself is corrupt (the decoder went on,
# filling or guessing: garbage from there on). Not among them: "N extraneous bytes before
# marker 0xNN", which cameras, scanners and webcams cause with harmless padding before a
# marker (and which damage that happens to end decoding early gives too: it cannot tell the
# two apart), nor "Premature end of JPEG file" (cut short: ends_early, _broken).
_JPEG_DAMAGE = re.compile(rb"Corrupt JPEG data: (?:bad Huffman code|bad arithmetic code|"
                          rb"found marker 0x[0-9a-fA-F]+ instead of RST)|Inconsistent "
                          rb"progression sequence ")
# the entropy-coded data ran out (a marker, the end marker of a file whose middle is gone,
# came where data was due): libjpeg leaves every block after it flat mid-grey
_JPEG_DATA_RAN_OUT = re.compile(rb"Corrupt JPEG data: premature end of data segment")
_DAMAGED_DATA = "the file is damaged: part of its image data is corrupt"
JPEG_DAMAGED = f"{_DAMAGED_DATA}; the picture may show garbage from there on"  # a note
LAYER_DAMAGED = f"{_DAMAGED_DATA}; save or export it again"
REFERENCE_DAMAGED = (f"{_DAMAGED_DATA}; a reference photo must be whole (a fill would copy the "
                     "garbage)")
# what a file whose data is corrupt is refused with, by what it was read as (_decode's role):
# a picture opens with the note (JPEG_DAMAGED); a layer or a reference cannot be mended; a
# training picture is left out, which the notice saying so tells (a model would learn the garbage)
_DAMAGED_REFUSALS = {"layer": LAYER_DAMAGED, "reference": REFERENCE_DAMAGED,
                     "training": _DAMAGED_DATA}


# libtiff's warnings that its compressed data is corrupt (its other warnings, an unknown tag,
# are no damage): PackBits runs past the row; and in a JPEG-compressed TIFF, libjpeg's words
# for corrupt data, its data running out, or bytes left over before a marker (each strip or
# tile is a JPEG stream libtiff wrote whole: no camera pads it)
_TIFF_DAMAGE = re.compile(_JPEG_DAMAGE.pattern + rb"|" + _JPEG_DATA_RAN_OUT.pattern
                          + rb"|PackBitsDecode: Discarding |JPEGLib: Corrupt JPEG data: \d+ "
                          rb"extraneous bytes before marker")


def _tiff_damage_note(heard: Sequence[bytes]) -> str | None:
    """:data:`JPEG_DAMAGED` (its words fit any format) when what OpenCV logged while
    decoding a TIFF it decoded (``heard``) holds a libtiff error (its compressed data, LZW
    or Deflate, is corrupt, and the rows from there on are garbage) or one of its warnings
    that say so (:data:`_TIFF_DAMAGE`: PackBits, JPEG-compressed data)."""
    said_so = any(b"TIFF_Error" in said or _TIFF_DAMAGE.search(said) for said in heard)
    return JPEG_DAMAGED if said_so else None


def _jpeg_damage_note(heard: Sequence[bytes], broken_off: bool = False) -> str | None:
    """:data:`JPEG_DAMAGED` when what libjpeg wrote while decoding (``heard``) says its
    image data is corrupt (:data:`_JPEG_DAMAGE`, or its data ran out where that is not
    ``broken_off``, the grey tail found and masked: :func:`_jpeg_broken_off`), else None."""
    damage = (_JPEG_DAMAGE,) if broken_off else (_JPEG_DAMAGE, _JPEG_DATA_RAN_OUT)
    said_so = any(pattern.search(said) for said in heard for pattern in damage)
    return JPEG_DAMAGED if said_so else None


# a JPEG's MCU (the blocks coded together, in raster order), (across, down) in pixels, by its
# chroma subsampling (SourceFormat.jpeg_subsampling; None: grey, one block)
_JPEG_MCUS = {None: (8, 8), "4:4:4": (8, 8), "4:2:2": (16, 8), "4:2:0": (16, 16)}
_JPEG_MID_GREY = 128  # what libjpeg decodes a block with no data to, after colour conversion


def _jpeg_broken_off(decoded: np.ndarray, header: _Header,
                     heard: Sequence[bytes]) -> np.ndarray | None:
    """For a JPEG that decoded although libjpeg said its data ran out (``heard``: a file
    whose middle is gone but whose end marker is there), the ``(H, W)`` uint8 area it lacks
    (255) as stored (``decoded``: OpenCV's BGR or grey), else None (no such message, no
    trailing grey blocks: the damage gave something else, a colour layout not foreseen):
    :func:`_jpeg_grey_tail`."""
    if not any(_JPEG_DATA_RAN_OUT.search(said) for said in heard) \
            or (mcu := _jpeg_mcu(decoded, header)) is None:
        return None
    return _jpeg_grey_tail(decoded, header, mcu)


def _jpeg_mcu(decoded: np.ndarray, header: _Header) -> tuple[int, int] | None:
    """The MCU, ``(across, down)`` in pixels, of a JPEG read as ``header`` and ``decoded``
    as uint8 (BGR or grey), for :func:`_jpeg_grey_tail`; None for a layout whose MCU is not
    known (CMYK, a chroma subsampling other than 4:4:4, 4:2:2 and 4:2:0)."""
    if header.mode not in ("RGB", "L") or decoded.dtype != np.uint8:
        return None
    sampling = None if header.mode == "L" else header.source.jpeg_subsampling
    if sampling not in _JPEG_MCUS or (header.mode == "RGB" and sampling is None):
        return None
    return _JPEG_MCUS[sampling]


def _jpeg_grey_tail(decoded: np.ndarray, header: _Header,
                    mcu: tuple[int, int]) -> np.ndarray | None:
    """The ``(H, W)`` uint8 area (255) a JPEG whose data ran out lacks, as stored
    (``decoded``: BGR, or grey, one channel or three equal ones, as OpenCV or
    :func:`_pillow_decoded` gives it; ``mcu``: :func:`_jpeg_mcu`), else None (no trailing
    grey MCUs).

    libjpeg decodes every MCU after the data ran out to flat mid-grey: the MCUs from the
    last one back, in raster order, while each is that grey, are the part it lacks, with
    the MCU before them (decoding when the data ran out: partly zero bits). Subsampled
    chroma is upsampled from the neighbouring blocks' too: the first row or column of a
    grey MCU blends in its decoded neighbours' colour (its luma stays 128), and one pixel
    of the decoded ones beside it blends in the grey, so that pixel is masked too."""
    across, down = mcu
    if header.mode == "L" and decoded.ndim == 3:
        decoded = np.ascontiguousarray(decoded[..., 0])  # Pillow's grey, as RGB
    height, width = decoded.shape[:2]
    rows, columns = -(-height // down), -(-width // across)
    other = np.zeros((rows * down, columns * across), np.uint8)  # 255: not that grey
    grey = (_JPEG_MID_GREY,) * (1 if decoded.ndim == 2 else 3)
    other[:height, :width] = cv2.bitwise_not(cv2.inRange(decoded, grey, grey))
    if across > 8:  # blended chroma: the luma of those edges is still grey
        other[:height, :width:across] = _not_grey_luma(decoded[:, ::across])
    if down > 8:
        other[:height:down, :width] = _not_grey_luma(decoded[::down])
    blocks = other.reshape(rows, down, columns * across).max(axis=1)
    flat = blocks.reshape(rows, columns, across).max(axis=2).ravel() == 0
    trailing = flat.size if flat.all() else int(np.argmin(flat[::-1]))
    if trailing == 0:
        return None
    row, column = divmod(max(0, flat.size - trailing - 1), columns)
    missing = np.zeros((height, width), np.uint8)
    missing[(row + 1) * down:] = 255
    missing[row * down:(row + 1) * down, column * across:] = 255
    if across > 8 or down > 8:
        missing = cv2.dilate(missing, np.ones((1 + 2 * (down > 8), 1 + 2 * (across > 8)),
                                              np.uint8))
    return missing


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS, *,
                 cut_short_ok: bool = False) -> LoadedImage:
    """Decode an encoded image (file contents) to upright RGB uint8 plus optional alpha.
    ``cut_short_ok``: see :func:`load_image`."""
    return _decode(data, name, _header(data, name, max_pixels), max_pixels, cut_short_ok)


def _decode(data: bytes, name: str, header: _Header, max_pixels: int,
            cut_short_ok: bool, role: str = "picture") -> LoadedImage:
    """:func:`decode_image` of ``data`` whose ``header`` :func:`_header` has read (with the
    same ``name`` and ``max_pixels``); ``role``: what the file is read as, a ``"picture"``,
    a ``"layer"`` file (a mask, a sketch), a ``"reference"`` photo or a ``"training"``
    picture, as the refusal of one cut short says (:func:`_refuse_broken`). A file of any
    role but a picture whose data is corrupt is refused (:data:`_DAMAGED_REFUSALS`), where a
    picture opens with the note :data:`JPEG_DAMAGED`."""
    (width, height), orientation = header.size, header.orientation
    if width * height > max_pixels:
        raise ImageFileError(
            f"{width}x{height} is {width * height / 1e6:.0f} megapixels, more than the "
            f"{max_pixels / 1e6:.0f} megapixels this program handles", name)
    notes: list[str] = []
    missing = None
    if header.format in _PILLOW_CODECS.values() or (
            header.format == "TIFF" and header.mode in _TRANSPARENT_8_BIT_MODES):
        pixels, reader = _pillow_decoded(data, name, notes), "pillow"
    elif header.grey_alpha_tiff:
        pixels, reader = _tiff_grey_alpha(data, name), "tifffile"
    else:
        heard: list[bytes] | None = [] if header.format in ("JPEG", "MPO", "TIFF") else None
        pixels, reader = _opencv_decoded(data, header.format == "PNG", heard), "opencv"
        if pixels is not None and header.format == "TIFF":
            damage = _tiff_damage_note(heard)
            if damage is not None:
                notes.append(damage)
        elif pixels is not None and heard is not None:
            missing = _jpeg_broken_off(pixels, header, heard)
            if missing is not None:
                _refuse_broken(data, name, cut_short_ok, role)
                notes.append(_broken_note(data, missing))
            damage = _jpeg_damage_note(heard, broken_off=missing is not None)
            if damage is not None:
                notes.append(damage)
        if JPEG_DAMAGED in notes and role != "picture":
            raise ImageFileError(_DAMAGED_REFUSALS[role], name)
    if (pixels is None or pixels.size == 0) and header.format in _CUT_SHORT_FILLS:
        pixels, missing = _decoded_as_far_as_it_goes(data, name, header, notes)
        if pixels is not None:
            _refuse_broken(data, name, cut_short_ok, role)
    if pixels is None or pixels.size == 0:
        raise ImageFileError("the image data cannot be decoded (damaged or unsupported file)",
                             name)
    if header.format == "TIFF" and reader == "opencv" and pixels.ndim == 3 \
            and pixels.shape[2] == 4 and pixels.dtype == np.uint8:  # a mode not foreseen
        pixels, reader = _pillow_decoded(data, name, notes), "pillow"
    # a grey PNG's transparent shade (tRNS), which OpenCV leaves as a grey like any other
    keyed = _png_grey_key_alpha(pixels, header.source) if header.format == "PNG" else None
    # upright already (tifffile gives the samples as stored)
    turned = header.format == "TIFF" and reader != "tifffile" and _turns_tiffs(reader)
    if header.associated_alpha and reader in ("opencv", "tifffile") and pixels.ndim == 3 \
            and pixels.shape[2] == 4:
        pixels = _unpremultiplied(pixels)
        notes.append("its premultiplied transparency was converted to the usual, straight "
                     "kind, which saving writes")
    if header.frames > 1:
        what = "pages" if header.format == "TIFF" else "frames"
        notes.append(f"only the first of its {header.frames} {what} is edited and saved")
    if header.mode == "CMYK":  # decoded to RGB by the decoder's own formula, not a profile
        notes.append("CMYK image (print inks), edited and saved as RGB: the ink values are "
                     "not kept")
    deep_original = _rgb_deep(pixels) if pixels.dtype in deep_samples.DEEP_DTYPES else None
    pixels, depth = _to_uint8(pixels, notes, name)
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
        raise ImageFileError(f"{pixels.shape[2]} channels are not supported", name)
    if keyed is not None:  # in place of Pillow's reading of it (a file cut short)
        alpha = keyed if (keyed == 0).any() else None
    if deep_original is not None and deep_original.shape[2] == 4 and alpha is None:
        deep_original = np.ascontiguousarray(deep_original[..., :3])  # opaque: drop the alpha
    if orientation in _ORIENTATION:
        if not turned:
            rgb = _upright(rgb, orientation)
            alpha = None if alpha is None else _upright(alpha, orientation)
            missing = None if missing is None else _upright(missing, orientation)
            deep_original = None if deep_original is None else _upright(deep_original, orientation)
        notes.append("rotated upright as its EXIF orientation says")
    metadata = _metadata(header, rgb.shape[1], rgb.shape[0], notes)
    if orientation in _SWAPPED_ORIENTATIONS and metadata.source.jpeg_subsampling == "4:2:2":
        # stored sideways, its halved chroma columns are rows upright (4:4:0, which neither
        # encoder writes): 4:4:4 loses nothing more, where 4:2:2 would halve both ways
        metadata = replace(metadata, source=replace(metadata.source, jpeg_subsampling="4:4:4"))
    source = metadata.source
    if (header.format == "GIF" and _repeats_a_colour(source.palette)) or (
            header.format == "PNG" and source.png_palette is not None
            and _repeats_a_colour(_png_palette_colours(source))):
        entries = _stored_entries(data, rgb.shape[:2], orientation)  # Pillow never turns them
        metadata = replace(metadata, source=replace(source, entries=entries))
    stored = _storage_note(source)
    if stored is not None:
        notes.append(stored)
    return LoadedImage(np.ascontiguousarray(rgb), alpha, tuple(notes), depth, metadata,
                       deep_original, header.grey, missing,
                       orientation if orientation in _ORIENTATION else 1)


# What Pillow leaves where a file cut short has no data: libjpeg's flat grey for the missing
# blocks of a JPEG, zeros for the missing rows of a PNG (in every sample as stored: a palette
# PNG's first entry, black in a grey or RGB one whatever its tRNS key says is transparent).
_CUT_SHORT_FILLS = {"JPEG": _JPEG_MID_GREY, "PNG": 0}
_JPEG_BLOCK_REACH = 16  # pixels: the largest JPEG block (a 4:2:0 MCU)
_TRUNCATED_LOAD_LOCK = threading.Lock()


def _decoded_as_far_as_it_goes(data: bytes, name: str, header: _Header,
                               notes: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A JPEG or PNG file cut short (or damaged partway), read as ``header``, decoded as far
    as its data goes, as OpenCV gives a whole one (a JPEG as BGR uint8 by
    :func:`_pillow_decoded`, a PNG by :func:`_png_as_far_as_it_goes`: grey or 16-bit
    samples kept), and the ``(H, W)`` uint8 area it lacks (255) or None; ``(None, None)``
    when even that fails. Says so in ``notes``.

    What a JPEG lacks is its trailing grey MCUs with the one before them
    (:func:`_jpeg_grey_tail`, as for a JPEG that breaks off before its end marker); for a
    JPEG whose MCU is not known (:func:`_jpeg_mcu`: CMYK, another chroma subsampling), and
    an interlaced PNG, the run of flat fill (:data:`_CUT_SHORT_FILLS`) that reaches the
    bottom-right corner, where decoding stopped, a JPEG's widened by
    :data:`_JPEG_BLOCK_REACH` each way. What a PNG that is not interlaced lacks is exactly
    the rows after its last whole one (:func:`_png_rows_arrived`), whatever colour the
    rows that arrived are.

    Pillow reads a file cut short only with the process-wide
    ``ImageFile.LOAD_TRUNCATED_IMAGES``, set here for the length of one load under a lock.
    """
    format = header.format
    with _TRUNCATED_LOAD_LOCK:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            if format == "PNG":
                decoded, flat = _png_as_far_as_it_goes(data, name)
            else:
                decoded = _pillow_decoded(data, name, notes)
                flat = (decoded[..., :3] == _CUT_SHORT_FILLS[format]).all(axis=2)
        except ImageFileError:
            return None, None
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
    mcu = _jpeg_mcu(decoded, header) if format == "JPEG" else None
    rows = _png_rows_arrived(data) if format == "PNG" else None
    if mcu is not None:
        missing = _jpeg_grey_tail(decoded, header, mcu)
    elif rows is not None:
        missing = _rows_from(rows, flat.shape)
    else:
        missing = _flat_tail(flat, format)
    notes.append(_broken_note(data, missing))
    return decoded, missing


def _png_as_far_as_it_goes(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A PNG file cut short decoded by Pillow as far as its data goes, as OpenCV decodes a
    whole one: a grey PNG (colour type 0) as ``(H, W)`` grey, 1-, 2- and 4-bit samples
    scaled to 8 bits (its ``tRNS`` key is read by :func:`_png_grey_key_alpha`); a 16-bit
    one at 16 bits (:func:`_png_16_bit_as_far_as_it_goes`); others as 8-bit BGR(A) with
    Pillow's reading of their transparency (:func:`_pillow_decoded`). With the ``(H, W)``
    bool of where every sample as stored is zero (:data:`_CUT_SHORT_FILLS`), before a
    palette or a transparency key gives it a colour. Needs
    ``ImageFile.LOAD_TRUNCATED_IMAGES``."""
    header = _png_header(data)
    kind = None if header is None else header.kind
    if header is not None and header.depth == 16:
        return _png_16_bit_as_far_as_it_goes(data, name, kind)
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            stored = np.array(picture)
            flat = stored == 0 if stored.ndim == 2 else (stored == 0).all(axis=2)
            if kind == _PNG_GREY and stored.ndim == 2:
                grey = stored.astype(np.uint8) * 255 if picture.mode == "1" else stored
                return np.ascontiguousarray(grey, np.uint8), flat
            transparent = bool({"A", "a"} & set(picture.getbands())) \
                or "transparency" in picture.info
            pixels = np.asarray(picture.convert("RGBA" if transparent else "RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"the file is damaged ({_one_line(exc)})", name) from None
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if transparent else cv2.COLOR_RGB2BGR), flat


def _pillow_png_samples(data: bytes, name: str, rawmode: str | None = None
                        ) -> tuple[np.ndarray, dict]:
    """A PNG's samples as Pillow decodes them into its mode (as far as its data goes, with
    ``ImageFile.LOAD_TRUNCATED_IMAGES``), unconverted, with the file's info; read as
    ``rawmode`` in place of the file's own where given (one of as many bytes a pixel:
    :func:`_png_16_bit_as_far_as_it_goes`)."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if rawmode is not None:
                picture.tile = [tile._replace(args=rawmode) for tile in picture.tile]
            picture.load()
            return np.array(picture), dict(picture.info)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"the file is damaged ({_one_line(exc)})", name) from None


# a 16-bit PNG's colour type: the raw modes Pillow reads the high and the low byte of each
# sample as (for grey+alpha, which Pillow decodes to 8 bits only, 8-bit RGBA reads the four
# bytes of a pixel: grey high, grey low, alpha high, alpha low)
_PNG_16_BIT_BYTES = {2: ("RGB;16B", "RGB;16L"), 6: ("RGBA;16B", "RGBA;16L"), 4: ("RGBA",)}


def _png_16_bit_as_far_as_it_goes(data: bytes, name: str, kind: int | None
                                  ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_png_as_far_as_it_goes` of a 16-bit PNG of colour type ``kind``: uint16 as
    OpenCV decodes a whole one (grey ``(H, W)``, grey+alpha as BGRA, BGR, BGRA, an RGB
    one's ``tRNS`` key as alpha 0), Pillow's 8-bit reading of each sample's two bytes
    joined (:data:`_PNG_16_BIT_BYTES`) where it gives no more than 8 bits; and where every
    sample is zero."""
    if kind == _PNG_GREY:
        stored, _info = _pillow_png_samples(data, name)
        if stored.ndim == 2 and stored.dtype.itemsize == 2:  # Pillow's "I;16": whole
            grey = stored.astype(np.uint16)
            return grey, grey == 0
    elif kind in _PNG_16_BIT_BYTES:
        rawmodes = _PNG_16_BIT_BYTES[kind]
        parts = [_pillow_png_samples(data, name, rawmode) for rawmode in rawmodes]
        info = parts[0][1]
        if len(parts) == 2:  # the high bytes, the low bytes
            samples = (parts[0][0].astype(np.uint16) << 8) | parts[1][0]
        else:  # grey+alpha as RGBA: grey high, grey low, alpha high, alpha low
            paired = parts[0][0].astype(np.uint16)
            grey = (paired[..., 0] << 8) | paired[..., 1]
            samples = np.dstack([grey, grey, grey, (paired[..., 2] << 8) | paired[..., 3]])
        flat = (samples == 0).all(axis=2)
        key = info.get("transparency")
        if kind == 2 and isinstance(key, tuple) and len(key) == 3:
            alpha = np.where((samples == np.array(key, np.uint16)).all(axis=2), 0, 65535)
            samples = np.dstack([samples, alpha.astype(np.uint16)])
        order = [2, 1, 0] if samples.shape[2] == 3 else [2, 1, 0, 3]
        return np.ascontiguousarray(samples[..., order]), flat
    raise ImageFileError("the image data cannot be decoded (damaged or unsupported file)", name)


# an IHDR colour type: the samples in a pixel
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_INFLATE_STEP = 1 << 16  # bytes of compressed data inflated at a time
_PNG_LAST_FILTER = 4  # a row's filter types: 0 None .. 4 Paeth


def _png_rows_arrived(data: bytes) -> int | None:
    """How many whole rows of a PNG that is not interlaced its image data holds (a file cut
    short, or whose data breaks off where zlib finds it damaged): its ``IDAT`` chunks'
    contents joined and inflated as far as they go, each row being its filter byte and
    its samples, up to a row whose filter type PNG has not (damage zlib did not see); where
    zlib finds damage, the row it ends in is not counted, whole or not (Pillow leaves it
    blank). None for an interlaced (Adam7) PNG, whose passes do not fill rows in order, or
    one whose header is not known."""
    header = _png_header(data)
    if header is None or header.interlace != 0 or header.kind not in _PNG_CHANNELS:
        return None
    # a row: its filter byte, then its samples
    row = 1 + (header.width * _PNG_CHANNELS[header.kind] * header.depth + 7) // 8
    compressed = b"".join(data[offset:offset + length]
                          for chunk, offset, length in _png_chunks(data) if chunk == b"IDAT")
    inflater = zlib.decompressobj()
    inflated = 0

    def taken(out: bytes) -> int | None:
        """Count ``out``, the next bytes inflated; the rows that arrived where one of its
        rows starts with a filter type PNG has not (damage zlib did not see: Pillow
        stops there)."""
        nonlocal inflated
        starts = np.arange(-inflated % row, len(out), row)
        bad = np.flatnonzero(np.frombuffer(out, np.uint8)[starts] > _PNG_LAST_FILTER)
        if bad.size:
            return (inflated + int(starts[bad[0]])) // row
        inflated += len(out)
        return None

    for at in range(0, len(compressed), _INFLATE_STEP):
        piece = compressed[at:at + _INFLATE_STEP]
        before = inflater.copy()
        try:
            out = inflater.decompress(piece)
        except zlib.error:  # damaged inside: what inflates before the damage, byte by byte
            for byte in range(len(piece)):
                try:
                    out = before.decompress(piece[byte:byte + 1])
                except zlib.error:
                    break
                if (rows := taken(out)) is not None:
                    return rows
            # Pillow drops the row it was filling where zlib found the damage, even whole
            return max(inflated - 1, 0) // row
        if (rows := taken(out)) is not None:
            return rows
        if inflater.eof:
            break
    return inflated // row


def _rows_from(rows: int, shape: tuple[int, int]) -> np.ndarray | None:
    """The ``(H, W)`` uint8 area (255) of the rows from ``rows`` on (those that did not
    arrive, :func:`_png_rows_arrived`); None when every row did."""
    if rows >= shape[0]:
        return None
    missing = np.zeros(shape, np.uint8)
    missing[rows:] = 255
    return missing


def _flat_tail(flat: np.ndarray, format: str) -> np.ndarray | None:
    """The ``(H, W)`` uint8 area (255) of ``flat`` (bool: where a ``format`` file cut short
    decodes as its fill, :data:`_CUT_SHORT_FILLS`) that reaches the bottom-right corner, a
    JPEG's widened by :data:`_JPEG_BLOCK_REACH` each way (the blocks beside it blend in its
    colour); None when that corner is not of it (:func:`_decoded_as_far_as_it_goes`)."""
    if not flat[-1, -1]:
        return None
    flat = np.ascontiguousarray(flat)
    reached = np.zeros((flat.shape[0] + 2, flat.shape[1] + 2), np.uint8)
    cv2.floodFill(flat.view(np.uint8), reached, (flat.shape[1] - 1, flat.shape[0] - 1),
                  1, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | (255 << 8))
    missing = np.ascontiguousarray(reached[1:-1, 1:-1])
    if format == "JPEG":  # the blocks beside the gap blend in its flat colour (chroma
        reach = 2 * _JPEG_BLOCK_REACH + 1  # upsampling): they are part of the hole too
        missing = cv2.dilate(missing, np.ones((reach, reach), np.uint8))
    return missing


def _not_grey_luma(bgr: np.ndarray) -> np.ndarray:
    """255 where the luma of ``bgr`` (uint8) is not libjpeg's mid-grey give or take the
    rounding of a colour conversion, else 0."""
    luma = bgr.astype(np.int32) @ np.array([114, 587, 299], np.int32)  # thousandths
    return np.where(np.abs(luma - 1000 * _JPEG_MID_GREY) <= 1000, 0, 255).astype(np.uint8)


def _broken(data: bytes) -> str:
    """What is wrong with a JPEG or PNG file whose pixels decode only part of the way: cut
    short (:func:`ends_early`), or damaged inside when its end is there."""
    if ends_early(data):
        return "the file is cut short, as an interrupted download or copy leaves it"
    return "the file is damaged: its image data breaks off partway"


def _broken_note(data: bytes, missing: np.ndarray | None) -> str:
    """The note on a file whose pixels decode only part of the way (:func:`_broken`), with
    the share of the picture it lacks (``missing``), masked; or, where that area is not
    known (None), that it was decoded as far as it goes."""
    if missing is None:
        lacking = "it was decoded as far as it goes (the picture may lack detail)"
    else:
        share = np.count_nonzero(missing) / missing.size
        lacking = f"the part it lacks ({share:.1%} of the picture) is masked as a hole to fill"
    return f"{_broken(data)}: {lacking}"


# what the refusal of a file cut short advises, by what it was read as (_decode's role)
_BROKEN_ADVICE = {
    "picture": " (the editor opens it with the missing part masked, to fill)",
    "layer": "; save or export it again",  # a mask, a sketch: no fill can mend one
    "reference": "; a reference photo must be whole (open it as a picture to mend it)",
    "training": "",  # left out of training, said by the notice: nothing to advise
}


def _refuse_broken(data: bytes, name: str, cut_short_ok: bool, role: str = "picture") -> None:
    """Unless ``cut_short_ok``, refuse a file whose pixels decode only part of the way
    (:func:`_broken`), with the advice for what it was read as (:data:`_BROKEN_ADVICE`)."""
    if not cut_short_ok:
        raise ImageFileError(f"{_broken(data)}{_BROKEN_ADVICE[role]}", name)


def _unpremultiplied(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint16 or float colour+alpha premultiplied (TIFF "associated alpha",
    which OpenCV leaves as stored) divided by its alpha, in the same dtype; colour is 0
    where alpha is. (8-bit TIFFs are decoded by Pillow, which does this itself.)"""
    full = 65535.0 if pixels.dtype == np.uint16 else 1.0
    alpha = pixels[..., 3:].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(alpha > 0, pixels[..., :3] * (full / alpha), 0.0)
    if pixels.dtype == np.uint16:
        colour = np.clip(np.rint(colour), 0, 65535)
    return np.concatenate([colour.astype(pixels.dtype), pixels[..., 3:]], axis=2)


def _rgb_deep(pixels: np.ndarray) -> np.ndarray | None:
    """OpenCV's decoded uint16 or float grey, BGR or BGRA as RGB(A), in the same dtype;
    ``None`` for other layouts."""
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    if pixels.shape[2] == 3:
        return np.ascontiguousarray(pixels[..., ::-1])
    if pixels.shape[2] == 4:
        return np.ascontiguousarray(pixels[..., [2, 1, 0, 3]])
    return None


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS, *,
               cut_short_ok: bool = False) -> LoadedImage:
    """Read an image file; raises :class:`ImageFileError` with a one-line reason. A JPEG
    or PNG file cut short is refused, unless ``cut_short_ok``: it is then decoded as far
    as it goes (:attr:`LoadedImage.missing`)."""
    path = Path(path)
    return decode_image(read_file_bytes(path), str(path), max_pixels, cut_short_ok=cut_short_ok)


def load_reference(path: str | os.PathLike) -> LoadedImage:
    """A reference photo's file, read as :func:`load_image` reads a picture, but refused
    (:class:`ImageFileError`) when its data is cut short or corrupt
    (:data:`REFERENCE_DAMAGED`), which a picture opens masked or noted: a fill would copy
    the garbage."""
    data = read_file_bytes(path)
    return _decode(data, str(path), _header(data, str(path)), MAX_PIXELS, cut_short_ok=False,
                   role="reference")


def read_training_rgb(path: str | os.PathLike) -> np.ndarray:
    """A training picture's upright ``(H, W, 3)`` uint8 RGB pixels, as :func:`read_rgb`
    reads them, but refused (:class:`ImageFileError`) when its data is corrupt too, which a
    picture opens noted (a model would learn the garbage); the refusal of one cut short or
    corrupt gives the reason only, without the editor's advice (the picture is left out)."""
    data = read_file_bytes(path)
    return _decode(data, str(path), _header(data, str(path)), MAX_PIXELS, cut_short_ok=False,
                   role="training").rgb


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The upright ``(H, W, 3)`` uint8 RGB pixels of an image file (alpha dropped)."""
    return load_image(path).rgb


def image_size(path: str | os.PathLike, *, cut_short_ok: bool = True) -> tuple[int, int]:
    """``(width, height)`` of an image file as it is shown (upright), from its header (one
    read of the file). Without ``cut_short_ok``, a JPEG or PNG that stops before its end
    (:func:`ends_early`) is decoded too, and refused in :func:`load_image`'s words when it
    is cut short indeed (:class:`ImageFileError`), so that it never counts as readable."""
    path = Path(path)
    data = read_file_bytes(path)
    header = _header(data, str(path))
    if not cut_short_ok and ends_early(data):
        _decode(data, str(path), header, MAX_PIXELS, cut_short_ok=False)
    return _upright_size(header)


def _upright_size(header: _Header) -> tuple[int, int]:
    width, height = header.size
    if header.orientation in _SWAPPED_ORIENTATIONS:
        width, height = height, width
    return width, height


def frame_count(path: str | os.PathLike) -> int:
    """Pages of a TIFF, or frames of an animation, in the file at ``path``; 1 for a single
    picture or a file that cannot be read (only the first is ever edited and saved)."""
    try:  # the header opening reads: HEIF bursts and TIFFs Pillow cannot open count too
        return _header(read_file_bytes(Path(path)), str(path)).frames
    except OSError:  # ImageFileError included
        return 1


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (by extension) directly in ``folder``, sorted by name.

    Not recursive: subfolders, links to folders included, are never searched. A link to a
    file counts as that file (a link to a picture is a picture). Hidden files (a leading dot,
    like :func:`write_atomic`'s temporary files) are left out; :func:`skipped_files_note`
    says what else was.
    """
    return _images_in(_read_folder(Path(folder)))


def list_images_and_note(folder: str | os.PathLike, shown: int = 5,
                         used_folders: Sequence[str | os.PathLike] = ()
                         ) -> tuple[list[Path], str]:
    """``(list_images(folder), skipped_files_note(folder, shown, used_folders))`` from one
    read of the folder; raises as :func:`list_images` does."""
    entries = _read_folder(Path(folder))
    return _images_in(entries), _skipped_note(entries, shown, used_folders)


def _read_folder(folder: Path) -> _FolderEntries:
    """:func:`_folder_entries` of ``folder``; ``ImageMissingError`` or ``NotAFolderError``
    naming it when it is missing or a file."""
    if not folder.exists():
        raise ImageMissingError("no such folder", folder, errno.ENOENT)
    if not folder.is_dir():
        raise NotAFolderError("is a file, not a folder", folder, errno.ENOTDIR)
    return _folder_entries(folder)


def _images_in(entries: _FolderEntries) -> list[Path]:
    """The image files (by extension) among ``entries``, in their order."""
    return [p for p in entries.files if p.suffix.lower() in IMAGE_SUFFIXES]


@dataclass(frozen=True)
class _FolderEntries:
    """The visible entries directly in a folder by kind, each sorted by name (hidden ones,
    with a leading dot, left out). Links count as what they point to."""

    files: tuple[Path, ...]  # regular files
    folders: tuple[Path, ...]  # never searched
    broken_links: tuple[Path, ...]  # links to nothing (missing, unreachable or a loop)
    special: tuple[Path, ...]  # pipes, sockets, devices


def _entry_kind(entry: os.DirEntry) -> str:
    """``"files"``, ``"folders"``, ``"broken_links"`` or ``"special"`` for ``entry``."""
    try:
        if entry.is_dir():
            return "folders"
        if entry.is_file():
            return "files"
    except OSError:  # a link whose target cannot be reached (no permission, a loop)
        return "broken_links"
    return "broken_links" if entry.is_symlink() and not os.path.exists(entry.path) else "special"


def _folder_entries(folder: Path) -> _FolderEntries:
    """What is directly in ``folder``, by kind (one directory read, nothing opened)."""
    kinds: dict[str, list[Path]] = {"files": [], "folders": [], "broken_links": [],
                                    "special": []}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith("."):
                kinds[_entry_kind(entry)].append(folder / entry.name)
    return _FolderEntries(**{kind: tuple(sorted(paths)) for kind, paths in kinds.items()})


def names_and_more(paths: Sequence[Path], shown: int,
                   name: Callable[[Path], str] = lambda p: p.name) -> str:
    """``"a.png, b.png"``, or the first ``shown`` names ``" and 3 more"`` (``name`` says
    each path: its file name unless given)."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(name(p) for p in paths[:shown]) + more


def quoted_name(name: str) -> str:
    """A file name (or extension) as a sentence names it: in double quotes when whitespace
    begins or ends it (``" photo.png"``, ``".png "``), which would not show otherwise; else
    as it is."""
    return f'"{name}"' if name != name.strip() else name


def _file_name(path: Path) -> str:
    """``path``'s file name, :func:`quoted_name`."""
    return quoted_name(path.name)


def _folder_name(path: Path) -> str:
    """``"sub/"``, or ``"sub/ (link)"`` for a link to a folder (in quotes when whitespace
    begins or ends its name, :func:`quoted_name`: ``" sub/"``)."""
    name = quoted_name(path.name)
    name = f'{name[:-1]}/"' if name != path.name else f"{name}/"  # the slash inside the quotes
    return name + (" (link)" if path.is_symlink() else "")


def skipped_files_note(folder: str | os.PathLike, shown: int = 5,
                       used_folders: Sequence[str | os.PathLike] = ()) -> str:
    """One sentence for users on what :func:`list_images` leaves out of ``folder``, and why,
    e.g. ``"1 file skipped, not in a format folder runs take (.txt): notes.txt; 2 subfolders
    not searched (folder runs do not look into subfolders): more/ (link), sub/; 1 broken link
    skipped (pointing to nothing): gone.png"``; special files (pipes, sockets, devices) are
    named too, hidden ones never; a name (or extension) that whitespace begins or ends is
    quoted (:func:`quoted_name`: ``"notes.png "``). At most ``shown`` names per kind.
    Subfolders the run itself uses (``used_folders``: its output or masks folder) are not
    mentioned. "" when nothing was left out or there is no such folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return ""
    return _skipped_note(_folder_entries(folder), shown, used_folders)


def _skipped_note(entries: _FolderEntries, shown: int,
                  used_folders: Sequence[str | os.PathLike]) -> str:
    """:func:`skipped_files_note` of a folder read as ``entries``."""
    used = {Path(p).resolve() for p in used_folders}
    others = [p for p in entries.files if p.suffix.lower() not in IMAGE_SUFFIXES]
    folders = [p for p in entries.folders if p.resolve() not in used]
    parts = []
    if others:  # a picture without an extension included: folders hold other files too
        kinds = [quoted_name(kind) for kind in
                 sorted({p.suffix.lower() for p in others if p.suffix})]
        kinds += ["none"] * any(not p.suffix for p in others)
        parts.append(f"{count_noun(len(others), 'file')} skipped: no picture extension "
                     f"({', '.join(kinds)}): {names_and_more(others, shown, _file_name)}")
    if folders:
        parts.append(f"{count_noun(len(folders), 'subfolder')} not searched (folder runs do not "
                     f"look into subfolders): {names_and_more(folders, shown, _folder_name)}")
    loops = [p for p in entries.broken_links if is_link_loop(p)]
    broken = [p for p in entries.broken_links if p not in loops]
    if broken:
        parts.append(f"{count_noun(len(broken), 'broken link')} skipped (pointing to "
                     f"nothing): {names_and_more(broken, shown, _file_name)}")
    if loops:
        parts.append(f"{count_noun(len(loops), 'symbolic link loop')} skipped (leading back "
                     f"to {'itself' if len(loops) == 1 else 'themselves'}): "
                     f"{names_and_more(loops, shown, _file_name)}")
    if entries.special:
        parts.append(f"{count_noun(len(entries.special), 'special file')} skipped (a pipe, "
                     "socket or device, not a picture): "
                     f"{names_and_more(entries.special, shown, _file_name)}")
    return "; ".join(parts)


def is_link_loop(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a symbolic link loop (or a chain of links too long to follow)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def count_noun(number: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``: ``number`` and ``noun``, plural unless one."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def join_words(items: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``: ``items`` as a sentence lists them; ""
    for none."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1]))) if items else ""


def mask_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """A mask from decoded mask-file pixels: alpha if it has transparency, else brightness.

    ``pixels`` is ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 (RGB order). White, or
    any bright colour (a mask painted in red in another program), marks the hole; for
    alpha masks, opacity does. Brightness is the largest channel (HSV's value): by luminance,
    pure red would be dark. Returns a binary uint8 mask, 255 = hole.
    """
    if pixels.ndim == 3 and pixels.shape[2] == 4 and (pixels[..., 3] < 255).any():
        value = pixels[..., 3]
    elif pixels.ndim == 3:  # elementwise maximum: 30x faster than numpy's max(axis=2)
        value = np.maximum(np.maximum(pixels[..., 0], pixels[..., 1]), pixels[..., 2])
    else:
        value = pixels
    return cv2.threshold(np.ascontiguousarray(value), 127, 255, cv2.THRESH_BINARY)[1]


def load_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None,
              what: str = "mask") -> np.ndarray:
    """Read a mask file: white (or opaque, for a transparent PNG) = hole.

    Returns ``(H, W)`` uint8, 255 = hole. With ``shape`` = (H, W), a mask of another size is
    refused with a message giving both sizes; ``what`` names the layer in that message
    (a sketch, a sampling area: any binary layer is read the same way).
    """
    loaded = _load_layer(Path(path), shape, what)
    rgba = loaded.rgb if loaded.alpha is None else np.dstack([loaded.rgb, loaded.alpha])
    return mask_from_pixels(rgba)


def _load_layer(path: Path, shape: tuple[int, int] | None, what: str,
                plural: bool = False) -> LoadedImage:
    """The layer file at ``path`` decoded, its header read once; with ``shape`` = (H, W),
    refused before decoding when it is another size (:func:`_refuse_other_size`, whose
    message names the layer ``what``, a plural noun with ``plural``). Refused too
    (:data:`LAYER_DAMAGED`) when its data is corrupt, which a picture opens noted
    (:data:`JPEG_DAMAGED`): a mask read wrong leaves part of the hole unfilled."""
    data = read_file_bytes(path)
    header = _header(data, str(path))
    _refuse_other_size(header, path, shape, what, plural)
    return _decode(data, str(path), header, MAX_PIXELS, cut_short_ok=False, role="layer")


def _refuse_other_size(header: _Header, path: Path, shape: tuple[int, int] | None,
                       what: str, plural: bool = False) -> None:
    """Raise :class:`ImageFileError` when the layer file at ``path``, read from its
    ``header``, is not ``shape`` (H, W) as shown (upright): a huge file of another size is
    never decoded. ``what`` names the layer ("sketch"; ``plural``: "colour strokes") in the
    message (:func:`other_size_reason`, which says when the picture's EXIF orientation
    explains it). No check when ``shape`` is None."""
    if shape is None:
        return
    width, height = _upright_size(header)
    if (height, width) != tuple(shape[:2]):
        raise ImageFileError(other_size_reason(what, width, height, shape, plural), path)


def other_size_reason(what: str, width: int, height: int, shape: tuple[int, int],
                      plural: bool = False) -> str:
    """Why a layer ``what`` (a plural noun with ``plural``) of ``width`` x ``height`` does
    not go with a picture of ``shape`` (H, W), another size: "the mask is 90x120 but the
    image is 150x200; they must be the same size". When ``shape`` is an
    :class:`ImageShape` whose picture its EXIF orientation turned and the layer is the size
    it is stored at: "the mask is 200x150 but the image is 150x200 (turned upright by its
    EXIF orientation; stored as 200x150): draw the mask on the upright picture"."""
    shown = tuple(shape[:2])
    subject = f"the {what} {'are' if plural else 'is'} {width}x{height} but the image is " \
              f"{shown[1]}x{shown[0]}"
    turned = turned_size_note(width, height, shape)
    if turned is not None:
        return f"{subject} ({turned}): draw the {what} on the upright picture"
    return f"{subject}; they must be the same size"


def turned_size_note(width: int, height: int, shape: tuple[int, int]) -> str | None:
    """Why a layer of ``width`` x ``height`` is not the size of a picture of ``shape`` (H, W)
    when that picture's EXIF orientation turned it a quarter and the layer is the size its
    file stores (``shape`` an :class:`ImageShape`): "turned upright by its EXIF orientation;
    stored as 200x150", as :func:`other_size_reason` and a folder run's pictures of another
    size (:attr:`engines.batch.OtherSize.turned`) say it. None otherwise (a plain tuple,
    a picture stored upright, or a layer of yet another size)."""
    shown = tuple(shape[:2])
    stored = getattr(shape, "stored", shown)
    if stored != shown and (height, width) == stored:
        return f"turned upright by its EXIF orientation; stored as {stored[1]}x{stored[0]}"
    return None


# why a binary layer file holding no set pixel is refused, by the layer's name (load_mask's
# ``what``); a layer not named here (an exclude area: excluding nothing is harmless) is taken
_EMPTY_LAYER_PROBLEMS = {
    "mask": "{name}: the mask is empty (no white pixels)",
    "sketch": "{name} holds no sketch lines (no white pixels)",
    "include area": "{name}: the include area is empty (no white pixels), so nothing could "
                    "be copied into the hole",
}


def empty_layer_problem(layer: np.ndarray, name: str, what: str) -> str | None:
    """Why the binary layer ``layer`` (``(H, W)`` uint8, 255 = set, as :func:`load_mask`
    returns it) read from the file called ``name`` is refused, when it holds no set pixel
    and the layer ``what`` ("mask", "sketch", "include area") needs one: one line, the same
    in the editor's imports and on the command line, which each add their own advice.
    None when it holds some, or for another layer ("exclude area")."""
    problem = _EMPTY_LAYER_PROBLEMS.get(what)
    if problem is None or cv2.countNonZero(layer):
        return None
    return problem.format(name=name)


# what a colour-strokes file is, as messages and help texts say it
COLOUR_STROKES_FORMAT = ("a PNG with transparency, the picture's size, painted strokes opaque "
                         "in their colour and the rest fully transparent")


def load_colour_strokes(path: str | os.PathLike,
                        shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a colour-strokes file (:data:`COLOUR_STROKES_FORMAT`; any format with
    transparency that :func:`load_image` reads is taken).

    Returns ``(H, W, 4)`` uint8 RGBA as :attr:`engines.base.InpaintRequest.color` holds
    it: alpha > 0 on a stroke (its opacity kept), RGB the stroke's colour, all four 0
    where the file is fully transparent. With ``shape`` = (H, W), a file of another size is
    refused from its header, as by :func:`load_mask`. A file without transparent pixels
    (no alpha channel, or every pixel opaque: a picture, not strokes) and a fully
    transparent one (no stroke) are refused too.
    """
    path = Path(path)
    loaded = _load_layer(path, shape, "colour strokes", plural=True)
    if loaded.alpha is None:
        raise ImageFileError("has no transparency, so it cannot hold colour strokes; give "
                             + COLOUR_STROKES_FORMAT, path)
    if not loaded.alpha.any():
        raise ImageFileError("holds no colour strokes (every pixel is fully transparent)", path)
    rgba = np.dstack([loaded.rgb, loaded.alpha])
    rgba[loaded.alpha == 0] = 0  # what a file stores under transparent pixels is no stroke
    return rgba


# ----------------------------------------------------------------------------- writing
def encode_image(pixels: np.ndarray, suffix: str, alpha: np.ndarray | None = None,
                 quality: int | None = None, metadata: ImageMetadata = NO_METADATA,
                 deep_original: np.ndarray | None = None,
                 edited: np.ndarray | None = None, grey: bool = False) -> bytes:
    """Encode ``(H, W, 3)`` RGB uint8 (or an ``(H, W)`` grey map) for a ``suffix`` file.

    ``alpha`` is kept where the format has transparency (PNG, WebP, TIFF, HEIC/HEIF, AVIF;
    GIF's is all or nothing, see :func:`_encode_gif`); for JPEG and BMP the picture is
    flattened onto white (:func:`flattened`).
    JPEG, WebP, HEIC/HEIF and AVIF use ``quality``; ``None`` (not asked for) is, for JPEG,
    the original JPEG's (``metadata.source.jpeg_quality``), else :data:`DEFAULT_QUALITY`
    (95). A JPEG keeps the original JPEG's chroma subsampling
    (``metadata.source.jpeg_subsampling``), whatever the quality. WebP is lossless (every
    pixel, the colour under transparent ones too, written exactly) at 100 or more, or when
    ``metadata.source`` says the original was a lossless WebP; PNG is lossless; GIF holds
    256 colours, the original GIF's palette when ``metadata.source`` has it
    (:func:`_encode_gif`). ``metadata`` is embedded
    in RGB pictures of every format but BMP and GIF, which have no place for it (their
    pixels are converted to sRGB from a colour profile so left out, as
    :meth:`ImageMetadata.stripped` says; 8-bit TIFFs that carry it are written
    uncompressed). With ``deep_original``
    (:attr:`LoadedImage.deep_original`, the same size), PNG is written at 16 bits per
    channel and TIFF in the original's sample type (16-bit or floating point), the original's
    samples kept wherever ``pixels`` still shows them and, for over-range float samples,
    ``edited`` (``(H, W)`` bool, the pixels an edit wrote) does not say they were replaced
    (:func:`deep_samples.restore_depth`).

    With ``grey`` (:attr:`LoadedImage.grey`: the picture is an edit of a grey file) and every
    pixel still grey (R == G == B), PNG, JPEG, TIFF and BMP (:data:`GREY_SUFFIXES`) hold one
    grey channel, PNG and TIFF with ``alpha`` as grey+alpha: 8-bit, or with
    ``deep_original`` 16-bit grey (+alpha) PNG and 16-bit or floating-point grey (+alpha)
    TIFF. Its metadata is kept, its colour profile only if it is a grey one (an RGB profile
    cannot describe grey samples, nor a grey one RGB samples: a result written in RGB leaves
    a grey profile out; :func:`left_out_profile` says when).
    A picture an edit made colourful, and the other formats, are written in RGB as without
    ``grey``.

    An edit of a palette PNG, or of a 1-, 2- or 4-bit grey one (``metadata.source.png_bits``),
    is written as PNG so again, on its own palette or shades, with its transparency and bit
    depth; untouched pixels exactly, filled ones taking the nearest
    (:func:`_encode_png_on_palette`). An edit of an 8- or 16-bit grey PNG whose transparency
    is one shade (a ``tRNS`` key), still grey and with ``grey``, is written as PNG so again,
    with that key (:func:`_encode_png_grey_key`).

    Raises ValueError for ``pixels`` of another shape, such as ``(H, W, 4)`` RGBA: the
    transparency goes in ``alpha``, on its own.
    """
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"the picture to write is (H, W, 3) RGB or (H, W) grey, got shape "
                         f"{pixels.shape}; pass transparency as alpha, on its own")
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageFileError(f"cannot write {suffix or 'files without an extension'}; use one "
                             f"of {', '.join(IMAGE_SUFFIXES)}")
    written = _as_written(metadata, suffix)
    convert_from = written.convert_from  # what the deep samples are converted from too
    pixels, metadata = _in_srgb(pixels, written)
    if alpha is not None and suffix not in ALPHA_SUFFIXES and pixels.ndim == 3:
        pixels, alpha = flattened(pixels, alpha), None
    if quality is None:
        quality = kept_jpeg_quality(metadata, suffix) or DEFAULT_QUALITY
    if suffix == ".png" and metadata.source.png_bits is not None and pixels.ndim == 3:
        encoded = _encode_png_on_palette(pixels, alpha, metadata)
        if encoded is not None:
            return encoded
    if grey and _writes_grey(pixels, suffix):
        keyed = None if suffix != ".png" else _encode_png_grey_key(
            pixels, alpha, metadata, deep_original, edited, convert_from)
        if keyed is not None:
            return keyed
        return _encode_grey(pixels, suffix, alpha, quality, metadata, deep_original, edited,
                            convert_from)
    metadata = _with_profile_for(metadata, _RGB_SPACE)  # a grey profile cannot describe RGB
    if deep_original is not None and pixels.ndim == 3 and suffix in deep_samples.DEEP_SUFFIXES:
        return _encode_deep(pixels, suffix, alpha, metadata, deep_original, edited,
                            convert_from=convert_from)
    if suffix == ".webp" and metadata.source.lossless_webp:
        quality = max(quality, _LOSSLESS)
    if suffix in _PILLOW_CODECS or suffix == ".gif" or (suffix == ".webp"
                                                         and quality >= _LOSSLESS):
        rgb = pixels if pixels.ndim == 3 else cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
        if suffix == ".gif":
            return _encode_gif(rgb, alpha, metadata.source)
        return _encode_with_pillow(rgb, suffix, alpha, quality, metadata)
    if metadata and pixels.ndim == 3 and suffix not in NO_METADATA_SUFFIXES:
        return _encode_with_pillow(pixels, suffix, alpha, quality, metadata)
    if pixels.ndim == 2:
        encoded_pixels = pixels
    elif alpha is not None and suffix in ALPHA_SUFFIXES:
        encoded_pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGRA)
        encoded_pixels[..., 3] = alpha
    else:
        encoded_pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    return _encode_with_opencv(encoded_pixels, suffix, quality,
                               metadata.source.jpeg_subsampling)


_SRGB_GRID = np.linspace(0, 255, 17).round().astype(np.uint8)  # colours tried for identity
_CONVERTED_BAND = 1 << 20  # pixels converted to sRGB at a time


@functools.lru_cache(maxsize=8)
def srgb_conversion(icc_profile: bytes | None) -> tuple[ImageCms.ImageCmsTransform, str] | None:
    """The conversion of RGB pixels in the colour space of ``icc_profile`` to sRGB, and the
    profile's description (``"Adobe RGB (1998)"``), as the editor converts them to show them
    (``app.display_colour``: relative colorimetric); None where none is made: no profile,
    one of another space than RGB (a grey profile: the editor shows such pixels as they
    are), one LittleCMS cannot read (shown as sRGB), or one that keeps every colour of a
    17x17x17 grid within one level (sRGB itself, under whatever name), so that such a
    picture's pixels stay exactly as they are."""
    if not icc_profile or _profile_space(icc_profile) != _RGB_SPACE:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB",
                                            "RGB", ImageCms.Intent.RELATIVE_COLORIMETRIC)
        description = ImageCms.getProfileDescription(source).strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    grid = _grid(_SRGB_GRID).reshape(1, -1, 3)
    if np.abs(_converted(grid, transform).astype(np.int16) - grid).max() <= 1:
        return None
    return transform, description or "embedded"


def _converted(rgb: np.ndarray, transform: ImageCms.ImageCmsTransform) -> np.ndarray:
    """``rgb`` ``(H, W, 3)`` or ``(N, 3)`` uint8 through ``transform``, the same shape (a
    picture in bands of rows, so that Pillow's copies stay small, on all cores: LittleCMS
    converts a band with the GIL released)."""
    if rgb.ndim == 2:
        return _converted(rgb.reshape(1, -1, 3), transform).reshape(rgb.shape)
    out = np.empty_like(rgb)
    rows = max(1, _CONVERTED_BAND // max(1, rgb.shape[1]))
    tops = range(0, rgb.shape[0], rows)

    def convert(top: int) -> None:
        band = Image.fromarray(np.ascontiguousarray(rgb[top:top + rows]))
        out[top:top + rows] = np.asarray(ImageCms.applyTransform(band, transform))

    deep_samples.on_all_cores(convert, tops)
    return out


def _as_written(metadata: ImageMetadata, suffix: str) -> ImageMetadata:
    """``metadata`` as a ``suffix`` file holds it: for BMP and GIF, which have no place for
    any (:data:`NO_METADATA_SUFFIXES`), :meth:`ImageMetadata.stripped`, so that a picture in
    Adobe RGB or Display P3 is written converted to sRGB, not with its numbers read as sRGB;
    otherwise as it is."""
    return metadata.stripped() if suffix.lower() in NO_METADATA_SUFFIXES else metadata


def _in_srgb(pixels: np.ndarray, metadata: ImageMetadata
             ) -> tuple[np.ndarray, ImageMetadata]:
    """``pixels`` (``(H, W, 3)`` RGB uint8) converted to sRGB from the colour profile left
    out of ``metadata`` (:attr:`ImageMetadata.convert_from`, :func:`srgb_conversion`), the
    palettes it is written on (:attr:`SourceFormat.palette`, :attr:`SourceFormat.png_palette`)
    too, so that an unchanged pixel still has its own entry; as they are where there is no
    conversion to make. The metadata comes back without :attr:`~ImageMetadata.convert_from`.
    A deep picture's own samples (:attr:`LoadedImage.deep_original`) are converted at their
    depth where they are written (:func:`_deep_in_srgb`)."""
    if metadata.convert_from is None:
        return pixels, metadata
    conversion = srgb_conversion(metadata.convert_from)
    metadata = replace(metadata, convert_from=None)
    if conversion is None or pixels.ndim != 3:
        return pixels, metadata
    transform, source = conversion[0], metadata.source
    palettes = {}
    for name in ("palette", "png_palette"):
        table = getattr(source, name)
        if table:
            colours = np.frombuffer(table, np.uint8)[:len(table) // 3 * 3].reshape(-1, 3)
            palettes[name] = _converted(colours, transform).tobytes() + table[len(colours) * 3:]
    if palettes:
        metadata = replace(metadata, source=replace(source, **palettes))
    return _converted(pixels, transform), metadata


_CHECKED_STEP = 5  # 8-bit colours 0, 5, ..., 255 on each axis: 52**3 checked
_TABLE_STEP = 3  # the lattice of a ColourTable: 0, 3, ..., 255 on each axis (86**3 colours)


@functools.lru_cache(maxsize=8)
def deep_srgb_conversion(icc_profile: bytes | None
                         ) -> deep_samples.ShaperMatrix | deep_samples.ColourTable | None:
    """The conversion of deep (16-bit or floating-point) RGB samples in the colour space of
    ``icc_profile`` to sRGB at their own precision, that :func:`srgb_conversion` makes of
    8-bit ones (``None`` where it makes none). Pillow's LittleCMS transforms are 8-bit only.

    A matrix/TRC profile (Adobe RGB, Display P3, ProPhoto...) is converted by its own curves
    and matrix (:class:`~engines.deep_samples.ShaperMatrix`, :func:`engines.icc.shaper_matrix`), as
    LittleCMS converts it, once that agrees within one level with LittleCMS's 8-bit
    conversion on a lattice of 8-bit colours (0, 5, ..., 255 on each axis). For the Adobe RGB
    sample's profile, 16-bit samples of every 8-bit colour (16.7 million) then convert
    within 0.83 of a level of LittleCMS's 8-bit result (its own rounding, 0.5, and its
    fixed-point arithmetic; ``bench/deep_srgb.py``), and within 0.3 of a level of Adobe
    RGB's published formulas (0.004 on average), which the 8-bit conversion of a 16-bit
    photo's rounding misses by up to 4 levels where the conversion bends sharply.

    Any other profile (one with colour tables, or curves this does not read) is converted by
    a :class:`~engines.deep_samples.ColourTable` of LittleCMS's 8-bit conversion of the
    colours 0, 3, ..., 255 on each axis, interpolated. That is coarser where the conversion
    bends sharply: measured on Adobe RGB, 8-bit colours come within 0.25 of a level on
    average and within one level for 99 % of them, but up to 10 levels off in the dark
    channel of saturated colours at the edge of sRGB's gamut, where one input level moves
    the 8-bit result by several."""
    conversion = srgb_conversion(icc_profile)
    if conversion is None:
        return None
    transform = conversion[0]
    shaper = icc.shaper_matrix(icc_profile)
    if shaper is not None:
        colours = _lattice(_CHECKED_STEP)
        converted = shaper(colours.astype(np.uint16) * 257) / 257.0
        if np.abs(converted - _converted(colours, transform)).max() <= 1:
            return shaper
    return _colour_table(transform)


def _colour_table(transform: ImageCms.ImageCmsTransform) -> deep_samples.ColourTable:
    """The :class:`~engines.deep_samples.ColourTable` of ``transform``: its 8-bit conversion
    of the colours 0, ``_TABLE_STEP``, ..., 255 on each axis."""
    size = 255 // _TABLE_STEP + 1
    table = _converted(_lattice(_TABLE_STEP), transform).reshape(size, size, size, 3)
    return deep_samples.ColourTable(table.astype(np.float32) / 255)


def _lattice(step: int) -> np.ndarray:
    """``(N, 3)`` uint8: every colour with R, G and B in 0, ``step``, ..., 255 (``step``
    divides 255), B varying fastest."""
    return _grid(np.arange(0, 256, step, dtype=np.uint8))


def _grid(levels: np.ndarray) -> np.ndarray:
    """``(N, 3)`` uint8: every colour with R, G and B among ``levels`` (uint8), B varying
    fastest."""
    return np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)


def _deep_in_srgb(deep_original: np.ndarray, convert_from: bytes | None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """``deep_original`` (:attr:`LoadedImage.deep_original`) as it is written: converted to
    sRGB from ``convert_from`` (:attr:`ImageMetadata.convert_from`) at its own depth
    (:func:`deep_srgb_conversion`), with the 8-bit colours its pixels have in the 8-bit
    picture written, converted by :func:`_in_srgb` (the ``shown`` of
    :func:`deep_samples.restore_depth`); ``(deep_original, None)`` where no conversion is
    made."""
    conversion = deep_srgb_conversion(convert_from)
    if conversion is None or deep_original.ndim != 3 or deep_original.shape[2] not in (3, 4):
        return deep_original, None
    transform = srgb_conversion(convert_from)[0]
    shown = _converted(deep_samples.to_8bit(deep_original[..., :3]), transform)
    return deep_samples.in_srgb(deep_original, conversion), shown


def _writes_grey(rgb: np.ndarray, suffix: str) -> bool:
    """Whether :func:`encode_image` writes ``rgb``, an edit of a grey file, as one grey
    channel: a format that has grey, and R == G == B everywhere (a fill from a colour photo
    makes it colourful)."""
    if rgb.ndim != 3 or suffix not in GREY_SUFFIXES:
        return False
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1])
                and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _encode_grey(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None, quality: int,
                 metadata: ImageMetadata, deep_original: np.ndarray | None,
                 edited: np.ndarray | None, convert_from: bytes | None = None) -> bytes:
    """``rgb`` ``(H, W, 3)`` uint8 with equal channels as a grey ``suffix`` file (one of
    :data:`GREY_SUFFIXES`; ``alpha`` only for PNG and TIFF): see :func:`encode_image`
    (``convert_from``: see :func:`_encode_deep`)."""
    metadata = _with_profile_for(metadata, _GREY_SPACE)  # an RGB one cannot describe grey
    if deep_original is not None and suffix in deep_samples.DEEP_SUFFIXES:
        return _encode_deep(rgb, suffix, alpha, metadata, deep_original, edited, grey=True,
                            convert_from=convert_from)
    grey = np.ascontiguousarray(rgb[..., 0])
    if alpha is not None or (metadata and suffix not in NO_METADATA_SUFFIXES):
        return _encode_with_pillow(grey, suffix, alpha, quality, metadata)
    return _encode_with_opencv(grey, suffix, quality)


def _encode_with_opencv(encoded_pixels: np.ndarray, suffix: str, quality: int,
                        subsampling: str | None = None) -> bytes:
    """OpenCV's encoders, for ``(H, W)`` grey, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA
    uint8 without metadata; a colour JPEG with ``subsampling`` (``"4:4:4"``, ``"4:2:2"``,
    ``"4:2:0"``; ``None``: OpenCV's default, 4:2:0)."""
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if subsampling in _OPENCV_SUBSAMPLING and encoded_pixels.ndim == 3:
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _OPENCV_SUBSAMPLING[subsampling]]
    elif suffix == ".webp":  # lossy: encode_image gives lossless WebP to Pillow
        params = [cv2.IMWRITE_WEBP_QUALITY, min(int(quality), 100)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(suffix, encoded_pixels, params)
    if not ok:
        raise ImageFileError(f"could not encode the image as {suffix}")
    return encoded.tobytes()


def loses_transparency(alpha: np.ndarray | None, suffix: str) -> bool:
    """Whether writing a picture with ``alpha`` (``(H, W)`` uint8 or None) as a ``suffix``
    file flattens some of it onto white (JPEG and BMP have no transparency)."""
    return alpha is not None and suffix.lower() not in ALPHA_SUFFIXES \
        and bool((alpha < 255).any())


def flattened_note(alpha: np.ndarray | None, suffix: str) -> str | None:
    """The note on a picture with ``alpha`` (``(H, W)`` uint8 or None) written as a
    ``suffix`` file that has no transparency (JPEG, BMP), flattening it onto white
    (:func:`loses_transparency`): ``".jpg files have no transparency; the
    transparent parts were flattened onto white"``, as ``inpaint`` and folder runs
    (:attr:`engines.batch.BatchResult.notes`) say it; None when nothing is flattened."""
    if not loses_transparency(alpha, suffix):
        return None
    return (f"{suffix.lower()} files have no transparency; the transparent parts were "
            "flattened onto white")


# the formats that hold no more than 8 bits per channel, by name (HEIC/HEIF and AVIF can,
# but are written at 8 here)
_EIGHT_BIT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP", ".bmp": "BMP",
                      ".gif": "GIF"}


def _shallow_result_note(loaded: LoadedImage, suffix: str) -> str | None:
    """The note on the result of a picture read as ``loaded``, deeper than 8 bits per channel
    (:attr:`LoadedImage.deep_original`), written as a ``suffix`` file that has no deeper form
    (:func:`deep_samples.written_depth`): ``"the .jpg result is 8 bits per channel (JPEG
    holds no more)"``; None when the result keeps the depth or there was none to keep."""
    suffix = suffix.lower()
    if loaded.deep_original is None or deep_samples.written_depth(
            loaded.deep_original.dtype, suffix) is not None:
        return None
    name = _EIGHT_BIT_FORMATS.get(suffix)
    why = f"{name} holds no more" if name else f"{suffix} files are written at 8 bits here"
    return f"the {suffix} result is 8 bits per channel ({why})"


def picture_notes(loaded: LoadedImage, suffix: str) -> list[str]:
    """What the user is told about a picture read as ``loaded`` whose result is written as
    a ``suffix`` file, in this order: what reading it converted (:attr:`LoadedImage.notes`:
    16 bits edited at 8, only the first of its frames or pages, turned upright by its EXIF
    orientation...; the palette note only for a result in the format that keeps the
    palette, :func:`kept_storage`), then a deep picture's result being 8-bit (:func:`_shallow_result_note`),
    then its transparency flattened onto white (:func:`flattened_note`).
    The same words from ``inpaint`` (a ``note:`` line each) and in a folder run's notes on
    the result (:attr:`engines.batch.BatchResult.notes`)."""
    notes = list(loaded.notes)
    stored = _storage_note(loaded.metadata.source)  # how saving in its format keeps it:
    if stored in notes and kept_storage(loaded.metadata, suffix) is None:  # not news for a
        notes.remove(stored)  # result of another format, which keeps the fill as it is
    shallow = _shallow_result_note(loaded, suffix)
    if shallow is not None:
        notes.append(shallow)
    flattened = flattened_note(loaded.alpha, suffix)
    if flattened is not None:
        notes.append(flattened)
    return notes


def drops_metadata(metadata: ImageMetadata, suffix: str) -> bool:
    """Whether writing a picture with ``metadata`` as a ``suffix`` file loses it (BMP and GIF
    have no place for a colour profile, EXIF, XMP or IPTC)."""
    return bool(metadata) and suffix.lower() in NO_METADATA_SUFFIXES


def dropped_metadata_note(metadata: ImageMetadata, suffix: str) -> str | None:
    """The note on a result written as a ``suffix`` file that loses its original's
    ``metadata`` (BMP and GIF hold none: :func:`drops_metadata`), None when
    nothing is lost: ``inpaint`` says it of its result, a folder run of each result
    (:attr:`engines.batch.BatchResult.notes`)."""
    if not drops_metadata(metadata, suffix):
        return None
    return (f"{suffix.lower()} files hold no colour profile, EXIF or XMP; the original's "
            "were not kept")


def left_out_profile(metadata: ImageMetadata, rgb: np.ndarray, suffix: str,
                     grey: bool = False) -> str | None:
    """Why writing ``rgb`` (``(H, W, 3)`` uint8) as a ``suffix`` file with ``metadata`` and
    ``grey`` (as :func:`encode_image` is told) leaves out its colour profile though the
    format has a place for one, as a note for the user; ``None`` when the profile is written
    (or there is none, or the format holds no metadata at all: :func:`drops_metadata`).

    A grey profile cannot describe a picture written in RGB (a grey file's edit that gained
    colour, or one saved as WebP, HEIC/HEIF or AVIF): the picture is then saved as sRGB,
    the space the editor shows it in (it does not convert by a grey profile either), so
    unchanged pixels keep their numbers. An RGB profile cannot describe one written grey.
    """
    suffix = suffix.lower()
    icc = metadata.icc_profile
    if icc is None or suffix in NO_METADATA_SUFFIXES or suffix not in IMAGE_SUFFIXES:
        return None
    written_grey = (grey and _writes_grey(rgb, suffix)) or (
        suffix == ".png" and metadata.source.png_bits is not None
        and metadata.source.png_palette is None)  # on its shades of grey, whatever the fill
    space = _profile_space(icc)
    if space == _GREY_SPACE and not written_grey:
        if suffix not in GREY_SUFFIXES:
            why = f"{suffix} files are written in colour (RGB) here"
        else:
            why = "the picture has colour now" if grey else "it is written in colour (RGB)"
        return (f"the grey colour profile was left out: {why}, which a grey profile cannot "
                "describe; it is saved as sRGB, as the editor shows it (its greys may look "
                "slightly different from the original's in colour-managed viewers)")
    if space == _RGB_SPACE and written_grey:
        return ("the RGB colour profile was left out: the picture is saved grey, which an RGB "
                "profile cannot describe")
    return None


def converted_profile_note(metadata: ImageMetadata, suffix: str = "") -> str | None:
    """The note on a picture written with ``metadata`` as a ``suffix`` file whose colours
    writing converts to sRGB, its colour profile not being kept
    (:attr:`ImageMetadata.convert_from`, or any profile in a BMP or GIF, which hold none;
    :func:`srgb_conversion`): ``"its colours were converted to sRGB from its Adobe RGB
    (1998) colour profile, which is not kept"``; None when the pixels are written as they
    are (no profile, sRGB, the profile kept)."""
    conversion = srgb_conversion(_as_written(metadata, suffix).convert_from)
    if conversion is None:
        return None
    return (f"its colours were converted to sRGB from its {conversion[1]} colour profile, "
            "which is not kept")


def profile_note(metadata: ImageMetadata, rgb: np.ndarray, suffix: str,
                 grey: bool = False) -> str | None:
    """What writing ``rgb`` with ``metadata`` (as :func:`encode_image` is given it: stripped
    when the photo's metadata is not kept) as a ``suffix`` file did with its colour
    profile, as a note for the user: left out though the format has a place for it
    (:func:`left_out_profile`), or not kept and the colours converted to sRGB
    (:func:`converted_profile_note`); None otherwise. The editor's Save, ``inpaint`` and a
    folder run say it alike."""
    return left_out_profile(metadata, rgb, suffix, grey) \
        or converted_profile_note(metadata, suffix)


def _encode_gif(rgb: np.ndarray, alpha: np.ndarray | None,
                source: SourceFormat = SourceFormat()) -> bytes:
    """``rgb`` ``(H, W, 3)`` uint8 as a GIF, with, given ``alpha``, one transparent palette
    entry for the pixels whose alpha is under 128 (GIF transparency is all or nothing).

    An edit of a GIF (``source.palette``) is written on the original's palette, unchanged
    and in its order (:func:`_on_palette`): every pixel of one of its colours keeps that
    colour, and an untouched one its entry, exactly (also where the palette lists its
    colour twice); a filled pixel gets the nearest (no dithering). Without
    one (or with no entry left for transparency), an adaptive palette of up to 256 colours
    (median cut, Floyd-Steinberg dithering; a picture of 256 colours or fewer keeps them
    exactly)."""
    indexed = _on_palette(rgb, alpha, source) if source.palette else None
    if indexed is not None:
        indices, palette, transparent = indexed
        picture = Image.fromarray(indices, "P")
        picture.putpalette(palette)
        buffer = io.BytesIO()
        options = {} if transparent is None else {"transparency": transparent}
        picture.save(buffer, "GIF", optimize=False, **options)
        return buffer.getvalue()
    colours = 255 if alpha is not None else 256
    picture = Image.fromarray(rgb).quantize(colours, method=Image.Quantize.MEDIANCUT,
                                            dither=Image.Dither.FLOYDSTEINBERG)
    options: dict[str, object] = {}
    if alpha is not None:
        indices = np.array(picture)
        indices[alpha < 128] = colours
        palette = (picture.getpalette() or [])[:3 * colours]
        picture = Image.fromarray(indices, "P")
        picture.putpalette(palette + [0] * (3 * 256 - len(palette)))
        options["transparency"] = colours
    buffer = io.BytesIO()
    picture.save(buffer, "GIF", optimize=False, **options)
    return buffer.getvalue()


def _on_palette(rgb: np.ndarray, alpha: np.ndarray | None, source: SourceFormat
                ) -> tuple[np.ndarray, bytes, int | None] | None:
    """``rgb`` ``(H, W, 3)`` uint8 (and ``alpha``) as ``(indices, palette, transparent
    entry)`` on the GIF palette ``source.palette``: ``(H, W)`` uint8 entries, each pixel's
    own entry in the original (``source.entries``, of a picture of this size) where that
    entry's colour is still the pixel's and it is not the transparent one, else its
    colour's first entry where the palette has it, else the entry of the nearest colour
    (RGB distance); pixels whose alpha is under 128 get the transparent entry, the
    original's (never used for an opaque pixel), else one added after the palette's
    colours. ``None`` when that does not fit (256 colours and no transparent entry) or the
    palette has no colour for opaque pixels."""
    colours = np.frombuffer(source.palette or b"", np.uint8).reshape(-1, 3)
    palette, transparent = bytes(source.palette or b""), source.transparent_index
    hidden = None if alpha is None else alpha < 128
    if hidden is not None and transparent is None and hidden.any():
        if len(colours) >= 256:
            return None
        transparent = len(colours)
        palette += b"\0\0\0"
    usable = np.flatnonzero(np.arange(len(colours)) != (-1 if transparent is None
                                                          else transparent))
    if not len(usable):
        return None
    entries = _nearest_entries(rgb.reshape(-1, 3), colours, usable, _own_entries(source, rgb))
    indices = entries.astype(np.uint8).reshape(rgb.shape[:2])
    if hidden is not None and transparent is not None:
        indices[hidden] = transparent
    return indices, palette, transparent if hidden is not None else None


def _own_entries(source: SourceFormat, rgb: np.ndarray) -> np.ndarray | None:
    """``source.entries`` as ``(N,)`` uint8 when they are of ``rgb``'s size, else None."""
    own = source.entries
    return own.reshape(-1) if own is not None and own.shape == rgb.shape[:2] else None


def _nearest_entries(pixels: np.ndarray, colours: np.ndarray, usable: np.ndarray,
                     own: np.ndarray | None = None) -> np.ndarray:
    """Each of ``pixels`` ``(N, k)`` uint8 (k = 3, RGB, or 4, RGBA) as an entry of the
    palette ``colours`` ``(P, k)`` uint8 among the entries ``usable`` (their indices, not
    empty), ``(N,)``: its own entry in the original (``own``, ``(N,)`` uint8, or None) where
    that entry is usable and still the pixel's colour (a palette that lists a colour twice),
    else its colour's first usable entry where the palette has it (every untouched pixel),
    else the usable entry of the nearest colour (squared distance; RGBA compared with the
    colour premultiplied by its alpha, so that every fully transparent colour is alike): a
    filled pixel. The one mapping for GIFs (:func:`_on_palette`) and palette PNGs
    (:func:`_encode_png_on_palette`)."""
    keys = _colour_keys(pixels)
    allowed = colours[usable]
    known, first = np.unique(_colour_keys(allowed), return_index=True)
    where = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    entries = usable[first[where]]
    other = known[where] != keys  # a colour the palette lacks: a filled pixel
    if other.any():
        missing, inverse = np.unique(keys[other], return_inverse=True)
        nearest = _nearest(_compared(_key_colours(missing, pixels.shape[1])),
                           _compared(allowed))
        entries[other] = usable[nearest[inverse]]
    if own is not None:  # a colour listed twice: keep which
        listed = np.full(256, -1, np.int64)  # an entry past the palette, or not usable
        listed[usable[usable < 256]] = _colour_keys(allowed[usable < 256])
        np.copyto(entries, own, where=listed[own] == keys)
    return entries


def _compared(colours: np.ndarray) -> np.ndarray:
    """``(N, 3)`` RGB as it is; ``(N, 4)`` RGBA with its colour premultiplied by its alpha
    (rounded): how :func:`_nearest_entries` measures distance."""
    colours = colours.astype(np.int64)
    if colours.shape[1] == 4:
        colours[:, :3] = (colours[:, :3] * colours[:, 3:] + 127) // 255
    return colours


def _colour_keys(colours: np.ndarray) -> np.ndarray:
    """``(N, k)`` uint8 colours (k = 3, RGB, or 4, RGBA) as one int64 each (``0xRRGGBB``,
    ``0xRRGGBBAA``)."""
    keys = np.zeros(len(colours), np.int64)
    for channel in range(colours.shape[1]):
        keys = (keys << 8) | colours[:, channel]
    return keys


def _key_colours(keys: np.ndarray, channels: int = 3) -> np.ndarray:
    """:func:`_colour_keys` of ``channels`` channels undone: ``(N, channels)`` int64."""
    return np.stack([(keys >> (8 * (channels - 1 - channel))) & 255
                     for channel in range(channels)], axis=1)


_NEAREST_BLOCK = 1 << 14  # colours compared with the palette at once (16 MB at 256 entries)


def _nearest(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """For each of ``colours`` ``(N, k)`` the row of ``palette`` ``(P, k)`` nearest to it
    (squared distance; the first of equals), in blocks of :data:`_NEAREST_BLOCK`."""
    palette = palette.astype(np.float32)
    # |c - p|^2 = |c|^2 - 2 c.p + |p|^2, the first term the same for every p: exact in
    # float32 for 8-bit colours, 3 or 4 channels (every term an integer under 2^24)
    offsets = (palette ** 2).sum(axis=1)
    nearest = np.empty(len(colours), np.intp)
    for start in range(0, len(colours), _NEAREST_BLOCK):
        block = colours[start:start + _NEAREST_BLOCK].astype(np.float32)
        nearest[start:start + len(block)] = np.argmin(offsets - 2 * block @ palette.T, axis=1)
    return nearest


def flattened(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` ``(H, W, 3)`` uint8 composited over white by ``alpha`` ``(H, W)`` uint8
    (255 = opaque): a transparent picture as written to a format without transparency, as
    image editors export it (the colours stored under transparent pixels are often black or
    leftovers, never meant to be seen)."""
    weight = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(rgb * weight + 255.0 * (1.0 - weight)).astype(np.uint8)


def _encode_png_on_palette(rgb: np.ndarray, alpha: np.ndarray | None,
                           metadata: ImageMetadata) -> bytes | None:
    """``rgb`` ``(H, W, 3)`` uint8 (and ``alpha``), an edit of a palette PNG or of a 1-, 2-
    or 4-bit grey PNG (``metadata.source``: :func:`_png_storage`), as a PNG stored as that
    was: on its palette, in its order, with its transparency (``tRNS``), or in its shades of
    grey with its transparent shade, at its bit depth (a palette of fewer entries than
    that depth holds may be written at a smaller one: Pillow's choice, every pixel the
    same), with ``metadata``. Each pixel takes its own entry, exactly where it was not
    changed, a filled one the nearest (:func:`_nearest_entries`), as a GIF's
    (:func:`_on_palette`). ``None`` where the original's transparency cannot hold
    ``alpha`` (it had none): written as without the palette then."""
    source = metadata.source
    bits = int(source.png_bits or 8)
    hidden = None if alpha is None else alpha < 255
    options: dict[str, object] = {"bits": bits}
    if source.png_palette is not None:
        colours = _png_palette_colours(source)
        if hidden is not None and hidden.any() and (colours[:, 3] == 255).all():
            return None
        opaque = np.full(rgb.shape[:2], 255, np.uint8)
        pixels = np.dstack([rgb, opaque if alpha is None else alpha]).reshape(-1, 4)
        entries = _nearest_entries(pixels, colours, np.arange(len(colours)),
                                   _own_entries(source, rgb))
        picture = Image.fromarray(entries.astype(np.uint8).reshape(rgb.shape[:2]), "P")
        picture.putpalette(source.png_palette)
        if source.png_transparency is not None:
            options["transparency"] = source.png_transparency
        metadata = _with_profile_for(metadata, _RGB_SPACE)
    else:
        count = 1 << bits
        shades = np.arange(count) * 255 // (count - 1)
        grey_key = _png_grey_key(source)
        key = None if grey_key is None else grey_key[1]
        hidden = None if hidden is None else alpha < 128  # a grey PNG's is all or nothing
        if hidden is not None and hidden.any() and key is None:
            return None
        usable = np.flatnonzero(np.arange(count) != (-1 if key is None else key))
        entries = _nearest_entries(rgb.reshape(-1, 3), np.repeat(shades[:, None], 3, axis=1)
                                   .astype(np.uint8), usable)
        if hidden is not None and key is not None:
            entries[hidden.reshape(-1)] = key
            options["transparency"] = _stored_grey_key(source)  # as the original had it
        picture = Image.fromarray(shades[entries].astype(np.uint8).reshape(rgb.shape[:2]),
                                  "L")
        metadata = _with_profile_for(metadata, _GREY_SPACE)
    return _pillow_encoded(picture, ".png", DEFAULT_QUALITY, metadata, options)


def _stored_grey_key(source: SourceFormat) -> int:
    """A grey PNG's ``tRNS`` key as its file stores it (:attr:`SourceFormat.png_transparency`,
    uncut: :func:`_png_grey_key`), which saving writes again, so that each reader finds the
    shade it found in the original."""
    return int.from_bytes((source.png_transparency or b"\0\0")[:2], "big")


def _encode_png_grey_key(rgb: np.ndarray, alpha: np.ndarray | None, metadata: ImageMetadata,
                         deep_original: np.ndarray | None, edited: np.ndarray | None,
                         convert_from: bytes | None = None) -> bytes | None:
    """``rgb`` ``(H, W, 3)`` uint8 with equal channels and ``alpha``, an edit of an 8- or
    16-bit grey PNG whose transparency is one shade (:func:`_png_grey_key`), as such a PNG
    again: grey at its depth (16 bits from ``deep_original``, restored as
    :func:`_encode_deep` restores them; ``edited``, ``convert_from``: see there), with its
    ``tRNS`` key as stored (:func:`_stored_grey_key`). Every transparent pixel (alpha 0)
    holds the key's shade, so an untouched one keeps its sample; an opaque pixel of that
    shade, which only a fill can give, is moved one level towards mid-grey, so that it
    stays visible. ``None`` where it cannot be written so: another original, no
    transparency, alpha other than 0 and 255, or a 16-bit original without its samples
    (written as grey+alpha then)."""
    key = _png_grey_key(metadata.source)
    if key is None or key[0] not in (8, 16) or alpha is None \
            or not ((alpha == 0) | (alpha == 255)).all():
        return None
    bits, shade = key
    if bits == 16:
        if deep_original is None or deep_original.dtype != np.uint16 \
                or deep_original.shape[:2] != rgb.shape[:2]:
            return None
        deep, shown = _deep_in_srgb(deep_original[..., :3], convert_from)
        samples = deep_samples.restore_depth(rgb, None, deep, edited, shown)[..., 0]
    else:
        samples = rgb[..., 0]
    samples = np.array(samples)  # a copy, written below
    transparent = alpha == 0
    nudged = shade + 1 if shade < 1 << (bits - 1) else shade - 1
    samples[(samples == shade) & ~transparent] = nudged
    samples[transparent] = shade
    return _pillow_encoded(Image.fromarray(samples), ".png", DEFAULT_QUALITY,
                           _with_profile_for(metadata, _GREY_SPACE),
                           {"transparency": _stored_grey_key(metadata.source)})


def _encode_with_pillow(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None,
                        quality: int, metadata: ImageMetadata) -> bytes:
    """Pillow's encoders, which (unlike OpenCV's) embed a colour profile, EXIF and XMP, and
    write HEIC/HEIF (with pillow-heif) and AVIF; IPTC is added to JPEGs by
    :func:`engines.iptc.jpeg_with_iptc`. ``rgb`` is ``(H, W, 3)`` RGB or ``(H, W)`` grey
    uint8 (with ``alpha``: RGBA or grey+alpha); a colour JPEG keeps
    ``metadata.source.jpeg_subsampling``."""
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        picture = Image.fromarray(np.dstack([rgb, alpha]))
    else:
        picture = Image.fromarray(np.ascontiguousarray(rgb))
    return _pillow_encoded(picture, suffix, quality, metadata)


def _pillow_encoded(picture: Image.Image, suffix: str, quality: int,
                    metadata: ImageMetadata,
                    extra: dict[str, object] | None = None) -> bytes:
    """``picture`` written as a ``suffix`` file by Pillow with ``metadata`` (see
    :func:`_encode_with_pillow`), and the ``extra`` options of its format's writer."""
    options: dict[str, object] = {}
    if metadata.icc_profile is not None:
        options["icc_profile"] = metadata.icc_profile
    if metadata.exif is not None:
        options["exif"] = metadata.exif
    jpeg = suffix in (".jpg", ".jpeg")
    if jpeg:
        options.update(format="JPEG", quality=int(quality))
        if metadata.source.jpeg_subsampling is not None and picture.mode != "L":
            options["subsampling"] = metadata.source.jpeg_subsampling
        if metadata.xmp is not None and len(metadata.xmp) <= _JPEG_MAX_XMP:
            options["xmp"] = metadata.xmp
    elif suffix == ".webp":
        if quality >= _LOSSLESS:  # quality is then the effort spent on compression; exact:
            # the colour under fully transparent pixels is kept, not simplified
            options.update(format="WEBP", lossless=True, exact=True,
                           quality=_LOSSLESS_WEBP_EFFORT)
        else:
            options.update(format="WEBP", quality=int(quality))
        if metadata.xmp is not None:
            options["xmp"] = metadata.xmp
    elif suffix in _PILLOW_CODECS:
        if _PILLOW_CODECS[suffix] == "HEIF" and not _heif_support():
            raise ImageFileError("writing HEIC/HEIF pictures needs the pillow-heif package "
                                 "(pip install pillow-heif)")
        options.update(format=_PILLOW_CODECS[suffix], quality=min(int(quality), 100))
        if options["format"] == "HEIF":
            # x265's "fast" preset: 2048x1536 at quality 95 in 1.6 s instead of 5.1 s, the
            # same PSNR (48.2 dB), a file 2 % larger (measured 2026-11-21; bench/ui.py)
            options["enc_params"] = {"preset": "fast"}
        else:
            # libavif speed 8 (Pillow's default: 6): 2048x1536 in 0.24 s instead of 0.70 s,
            # PSNR 46.8 dB instead of 47.0, a file 10 % larger
            options["speed"] = 8
        if metadata.xmp is not None:
            options["xmp"] = metadata.xmp
    elif suffix == ".png":
        options.update(format="PNG", compress_level=3)
        if metadata.xmp is not None:
            text = PngImagePlugin.PngInfo()
            text.add_itxt(_PNG_XMP_KEY, metadata.xmp.decode("utf-8", "replace"))
            options["pnginfo"] = text
    else:  # uncompressed: libtiff, which Pillow needs to compress, drops the EXIF directory
        options.update(format="TIFF")
        if metadata.xmp is not None or metadata.iptc is not None:
            options["exif"] = _tiff_tags(metadata)
    options.update(extra or {})
    buffer = io.BytesIO()
    try:
        picture.save(buffer, **options)
    except (OSError, ValueError, TypeError, struct.error) as exc:
        raise ImageFileError(f"could not encode the image as {suffix} ({exc})") from None
    if jpeg and metadata.iptc is not None:
        return iptc.jpeg_with_iptc(buffer.getvalue(), metadata.iptc)
    return buffer.getvalue()


def _tiff_tags(metadata: ImageMetadata) -> Image.Exif:
    """The TIFF tags Pillow writes for ``metadata``: its EXIF, XMP and IPTC (Pillow takes
    either ``tiffinfo`` or ``exif``, not both)."""
    tags = Image.Exif()
    if metadata.exif is not None:
        tags.load(metadata.exif)
    if metadata.xmp is not None:
        tags[_XMP_TAG] = metadata.xmp
    if metadata.iptc is not None:
        tags[_IPTC_TAG] = metadata.iptc
    return tags


def _encode_deep(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None,
                 metadata: ImageMetadata, deep_original: np.ndarray,
                 edited: np.ndarray | None, grey: bool = False,
                 convert_from: bytes | None = None) -> bytes:
    """``rgb`` at the depth of ``deep_original`` (:func:`deep_samples.restore_depth`); with
    ``grey`` (equal channels) as one grey channel, and ``alpha``. With ``convert_from``, the
    profile ``rgb`` was converted to sRGB from (:func:`_in_srgb`), ``deep_original`` is
    converted too, at its own depth (:func:`_deep_in_srgb`)."""
    try:
        deep_original, shown = _deep_in_srgb(deep_original, convert_from)
        pixels = deep_samples.restore_depth(rgb, alpha, deep_original, edited, shown)
        if grey:
            pixels = np.ascontiguousarray(pixels[..., 0] if alpha is None
                                          else pixels[..., [0, 3]])
        if suffix == ".png":
            return deep_samples.encode_png16(pixels, metadata.icc_profile, metadata.exif,
                                             metadata.xmp)
        return deep_samples.encode_deep_tiff(pixels, metadata.icc_profile, metadata.exif,
                                             metadata.xmp, metadata.iptc)
    except (ValueError, TypeError, OSError, struct.error) as exc:
        depth = deep_samples.written_depth(deep_original.dtype, suffix)
        raise ImageFileError(f"could not encode the image as a {depth} {suffix} ({exc})") \
            from None


def new_file_beside(path: str | os.PathLike, suffix: str = ".part") -> tuple[int, str]:
    """A new hidden file ``.<name>.<random><suffix>`` beside ``path``, open for writing (fd,
    name), with the permissions the file itself should get: those of the file it replaces,
    else what the user's umask gives a new file (``tempfile.mkstemp`` would make it private,
    0600, whatever the umask). Write it, then ``os.replace`` it onto ``path``."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = str(path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}"))
        try:
            fd = os.open(name, flags, 0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.chmod(name, stat.S_IMODE(path.stat().st_mode))  # replacing: keep its mode
        return fd, name
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def refuse_read_only(path: str | os.PathLike) -> None:
    """Raise :class:`ImageFileError` when ``path`` is an existing file its user protected
    from changes: its mode lacks the owner's write bit (``chmod a-w``; Windows' read-only
    attribute), which counts for root too, who may write anything, or this user may not
    write it. A rename would still replace it wherever the folder is writable, so
    :func:`write_atomic` asks this first; callers may ask it before any work."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing (or unreachable: writing says why)
        return
    if stat.S_ISREG(mode) and (not mode & stat.S_IWUSR or not os.access(path, os.W_OK)):
        raise ImageFileError("the file is read-only; choose another name or make it "
                             "writable first", path, errno.EACCES)


def link_in_the_way(path: str | os.PathLike) -> str | None:
    """Why nothing is written at ``path`` when it is a symbolic link (dangling or not) and
    writes must stay where they are named (a folder run's results): "a link of that name is
    in the way (to ../elsewhere.png); remove it: results are never written through links";
    None when ``path`` is no link."""
    try:
        target = os.readlink(path)
    except OSError:  # not a link, or missing
        return None
    return (f"a link of that name is in the way (to {target}); remove it: results are never "
            "written through links")


def write_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False, *,
                 follow_links: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Either the complete new file is there afterwards or the old state is untouched. Refuses
    to replace an existing file unless ``overwrite``, and a read-only one always
    (:func:`refuse_read_only`); a replaced file keeps its permissions. A symbolic link is
    followed: the file it names is replaced, and the link stays; without ``follow_links``
    a link at ``path`` (dangling or not) is refused instead (:class:`ImageExistsError`,
    :func:`link_in_the_way`), so nothing is written outside ``path``'s folder (a link made
    there meanwhile is replaced by the file, never followed: a rename does not follow one).
    """
    path = Path(path)
    if path.is_symlink():
        if not follow_links:
            raise ImageExistsError(link_in_the_way(path) or "a link is in the way", path,
                                   errno.EEXIST)
        path = Path(os.path.realpath(path))
    if path.exists() and not overwrite:
        raise ImageExistsError("already exists; choose another name or allow overwriting",
                               path, errno.EEXIST)
    refuse_read_only(path)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise NotAFolderError(f"cannot write: {folder} is a file, not a folder", path,
                              errno.ENOTDIR)
    if not folder.is_dir():
        raise ImageMissingError(f"cannot write: the folder {folder} does not exist", path,
                                errno.ENOENT)
    try:
        fd, temp_name = new_file_beside(path)
    except OSError as exc:
        raise ImageFileError(f"cannot write to {folder}: {exc.strerror or exc}", path,
                             exc.errno or 0) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists() and not overwrite:  # appeared meanwhile
            raise ImageExistsError("already exists; choose another name", path, errno.EEXIST)
        refuse_read_only(path)  # made read-only meanwhile
        os.replace(temp_name, path)
    except ImageFileError:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise ImageFileError(f"cannot write ({exc.strerror or exc})", path, exc.errno or 0) \
            from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return path


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None,
               overwrite: bool = False, quality: int | None = None,
               metadata: ImageMetadata = NO_METADATA,
               deep_original: np.ndarray | None = None,
               edited: np.ndarray | None = None, grey: bool = False, *,
               follow_links: bool = True) -> Path:
    """Encode and atomically write an image; the format follows the file extension.

    Pass the opened file's :attr:`LoadedImage.metadata` to keep its colour profile, EXIF,
    XMP and IPTC (stamped with this program's name and the time of saving,
    :meth:`ImageMetadata.stamped`) and to save as it was stored (a lossless WebP lossless,
    a GIF on its palette, a JPEG at its quality, unless ``quality`` is given, and chroma
    subsampling: :attr:`ImageMetadata.source`; :meth:`ImageMetadata.stripped`
    keeps only that), its :attr:`LoadedImage.deep_original` to keep its
    depth in PNG (16 bits) and TIFF (16 bits or floating point), with ``edited``, the
    ``(H, W)`` bool pixels the edits wrote, and its :attr:`LoadedImage.grey` to write a
    result that is still grey as a grey file (see :func:`encode_image`). ``follow_links``:
    as :func:`write_atomic` takes it.

    ``rgb`` is ``(H, W, 3)`` RGB or ``(H, W)`` grey; ValueError for another shape, such as
    ``(H, W, 4)`` RGBA (its transparency goes in ``alpha``), before anything is written.
    """
    path = Path(path)
    return write_atomic(path, encode_image(rgb, path.suffix, alpha, quality,
                                           metadata.stamped(), deep_original, edited, grey),
                        overwrite, follow_links=follow_links)


def save_result(path: str | os.PathLike, rgb: np.ndarray, source: LoadedImage,
                overwrite: bool = False, keep_metadata: bool = True,
                edited: np.ndarray | None = None, *, follow_links: bool = True) -> Path:
    """Save ``rgb`` ``(H, W, 3)`` uint8, an edit of ``source``, as its original was: with
    its transparency, its metadata (unless not ``keep_metadata``), in PNG and TIFF its
    depth, grey if it was grey and still is, as WebP lossless if it was a lossless WebP,
    as GIF on its GIF palette and as JPEG at its JPEG quality and chroma subsampling
    (:attr:`ImageMetadata.source`, kept either way) (see
    :func:`save_image`; ``edited``: the filled hole, ``(H, W)`` bool; ``follow_links``: as
    :func:`write_atomic` takes it)."""
    return save_image(path, rgb, source.alpha, overwrite=overwrite,
                      metadata=source.metadata if keep_metadata else source.metadata.stripped(),
                      deep_original=source.deep_original, edited=edited, grey=source.grey,
                      follow_links=follow_links)


def save_mask(path: str | os.PathLike, mask: np.ndarray, overwrite: bool = False,
              what: str = "a mask") -> Path:
    """Write a mask as an 8-bit grey PNG, white = hole; ``what`` names the layer in the
    refusal of another format ("the sketch")."""
    path = Path(path)
    _require_png(path, f"{what} is")
    return write_atomic(path, encode_image(mask, ".png"), overwrite)


def _require_png(path: Path, subject: str) -> None:
    """Raise :class:`ImageFileError` unless ``path`` ends in ``.png`` (any case);
    ``subject`` starts the message ("a mask is")."""
    if path.suffix.lower() != ".png":
        raise ImageFileError(f"{subject} saved as PNG, not "
                             f"{path.suffix or 'without an extension'}", path)


def save_colour_strokes(path: str | os.PathLike, rgba: np.ndarray,
                        overwrite: bool = False) -> Path:
    """Write colour strokes, ``(H, W, 4)`` uint8 RGBA (alpha > 0 on a stroke), as an 8-bit
    RGBA PNG (:data:`COLOUR_STROKES_FORMAT`; what :func:`load_colour_strokes` reads),
    atomically and not over an existing file unless ``overwrite`` (:func:`write_atomic`).
    Unpainted pixels are written all 0 (fully transparent black)."""
    path = Path(path)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"colour strokes are (H, W, 4) uint8 RGBA, got {rgba.dtype} "
                         f"{rgba.shape}")
    _require_png(path, "colour strokes are")
    alpha = np.ascontiguousarray(rgba[..., 3])
    rgb = np.where(alpha[..., None] > 0, rgba[..., :3], 0).astype(np.uint8)
    return write_atomic(path, encode_image(rgb, ".png", alpha), overwrite)


def suggest_output_path(source: str | os.PathLike, suffix: str = "_inpainted") -> Path:
    """A free file name next to ``source``: ``photo_inpainted.png``, ``photo_inpainted-2.png``..."""
    source = Path(source)
    extension = source.suffix.lower() if source.suffix.lower() in IMAGE_SUFFIXES else ".png"
    candidate = source.with_name(f"{source.stem}{suffix}{extension}")
    counter = 2
    while candidate.exists():
        candidate = source.with_name(f"{source.stem}{suffix}-{counter}{extension}")
        counter += 1
    return candidate
