"""Saving pictures that were opened from 16-bit files at 16 bits per channel. Qt-free.

Editing happens at 8 bits per channel. A photographer's 16-bit TIFF or PNG should not lose
its precision because a passer-by was removed, so :func:`restore_depth` puts the file's own
16-bit samples back wherever the edited picture still equals their 8-bit rounding, and
scales only the changed pixels up from 8 bits. :func:`encode_png16` and
:func:`encode_tiff16` then write the result with the photo's colour profile and EXIF tags,
which neither OpenCV (no metadata) nor Pillow (no 16-bit RGB) can do alone.

Errors are :class:`ValueError`; :mod:`engines.fileio` turns them into its file errors.
"""

from __future__ import annotations

import io
import os
import struct
import zlib

import cv2
import numpy as np
import tifffile
from PIL import Image

DEEP_SUFFIXES = (".png", ".tif", ".tiff")  # the formats written at 16 bits per channel
# Deflate level of the TIFF strips: the low bits of 16-bit photos are noise, so higher levels
# save under 1 % of the size at twice the time (bench/ui.py --parts save). PNG uses OpenCV's
# defaults, tuned for speed the same way (level 1, "sub" filter, run-length strategy).
_TIFF_DEFLATE_LEVEL = 1
_EXIF_HEADER = b"Exif\x00\x00"
# TIFF tags that describe how the pixels are stored: the written file's own always win
_LAYOUT_TAGS = frozenset({256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339,
                          34675})


def to_8bit(samples: np.ndarray) -> np.ndarray:
    """uint16 samples rounded to the nearest uint8 level (``65535`` maps to ``255``)."""
    return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


def restore_depth(rgb: np.ndarray, alpha: np.ndarray | None,
                  original16: np.ndarray) -> np.ndarray:
    """The 16-bit pixels to save for an edited picture.

    Args:
        rgb: ``(H, W, 3)`` uint8, the edited picture.
        alpha: ``(H, W)`` uint8 transparency or ``None`` (opaque).
        original16: ``(H, W, 3)`` or ``(H, W, 4)`` uint16 RGB(A), the file as opened.

    Returns:
        ``(H, W, 3)`` uint16 RGB, or ``(H, W, 4)`` RGBA when ``alpha`` is given. A pixel whose
        every channel still equals the 8-bit rounding of ``original16`` gets its original
        samples back; any other pixel gets its 8-bit values times 257.
    """
    if original16.dtype != np.uint16 or original16.ndim != 3 \
            or original16.shape[:2] != rgb.shape[:2] or original16.shape[2] not in (3, 4):
        raise ValueError(f"the 16-bit original {original16.shape} does not match the "
                         f"picture {rgb.shape}")
    edited = rgb if alpha is None else np.dstack([rgb, alpha])
    channels = edited.shape[2]
    if original16.shape[2] >= channels:
        before16 = original16[..., :channels]
    else:  # transparency added to an opaque original
        before16 = np.dstack([original16, np.full(rgb.shape[:2], 65535, np.uint16)])
    unchanged = (to_8bit(before16) == edited).all(axis=2, keepdims=True)
    return np.where(unchanged, before16, edited.astype(np.uint16) * 257)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png16(pixels: np.ndarray, icc_profile: bytes | None = None,
                 exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    """A 16-bit PNG of ``(H, W, 3|4)`` uint16 RGB(A), with an iCCP, an eXIf and an XMP
    (iTXt) chunk.

    ``exif`` is Pillow's form (``b"Exif\\0\\0"`` + a TIFF structure) or the bare TIFF one;
    ``xmp`` a UTF-8 XMP packet.
    """
    code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(pixels, code))
    if not ok:
        raise ValueError("OpenCV could not encode the 16-bit PNG")
    png = encoded.tobytes()
    extra = b""
    if icc_profile is not None:  # must come before the image data
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile))
    if exif is not None:
        extra += _png_chunk(b"eXIf", exif.removeprefix(_EXIF_HEADER))
    if xmp is not None:  # keyword, uncompressed, no language, no translated keyword
        extra += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    ihdr_end = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    return png[:ihdr_end] + extra + png[ihdr_end:]


def encode_tiff16(pixels: np.ndarray, icc_profile: bytes | None = None,
                  exif: bytes | None = None, xmp: bytes | None = None,
                  iptc: bytes | None = None) -> bytes:
    """A 16-bit TIFF (Deflate with the horizontal predictor) of ``(H, W, 3|4)`` uint16
    RGB(A), alpha unassociated, embedding ``icc_profile``, the tags of ``exif``, an ``xmp``
    packet (tag 700) and ``iptc`` datasets (tag 33723).

    tifffile writes the pixels, the profile, XMP and IPTC. It cannot write EXIF's
    sub-directories, so :func:`_with_photo_tags` appends them and a first directory that
    points to them.
    """
    extratags = []
    if xmp is not None:
        extratags.append((700, 1, len(xmp), xmp, True))  # BYTE
    if iptc is not None:
        extratags.append((33723, 7, len(iptc), iptc, True))  # UNDEFINED
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, pixels, byteorder="<", photometric="rgb",
        extrasamples=("unassalpha",) if pixels.shape[2] == 4 else None,
        compression="zlib", compressionargs={"level": _TIFF_DEFLATE_LEVEL}, predictor=True,
        maxworkers=os.cpu_count(), iccprofile=icc_profile, metadata=None, software=False,
        extratags=extratags)
    tiff = buffer.getvalue()
    return tiff if exif is None else _with_photo_tags(tiff, exif)


def _directory(data: bytes, offset: int) -> dict[int, bytes]:
    """The 12-byte entries of the little-endian TIFF directory at ``offset``, by tag."""
    (count,) = struct.unpack_from("<H", data, offset)
    entries = (data[offset + 2 + 12 * k: offset + 14 + 12 * k] for k in range(count))
    return {struct.unpack_from("<H", entry)[0]: entry for entry in entries}


def _with_photo_tags(tiff: bytes, exif: bytes) -> bytes:
    """``tiff`` (little-endian, one image) with the tags of ``exif`` added.

    Appends Pillow's serialisation of ``exif`` (its first directory and the EXIF and GPS
    sub-directories, with offsets for where they land), then a new first directory holding
    the file's own entries and the photo's, and points the header at it. Every offset in
    the file stays valid because nothing before the end moves. Where both have a tag, the
    file's entry wins for the pixel layout and the photo's for the rest (its resolution).
    """
    if tiff[:4] != b"II*\x00":
        raise ValueError("expected a little-endian TIFF")
    photo = Image.Exif()
    photo.load(exif.removeprefix(_EXIF_HEADER))
    photo.endian = "<"  # how it is written; sub-directories are still read in its own order
    own = _directory(tiff, struct.unpack_from("<I", tiff, 4)[0])
    place = (len(tiff) + 1) // 2 * 2
    serialised = photo.tobytes(place)[len(_EXIF_HEADER) + 8:]  # without the TIFF header
    merged = _directory(serialised, 0)
    merged.update((tag, entry) for tag, entry in own.items()
                  if tag in _LAYOUT_TAGS or tag not in merged)
    first = (place + len(serialised) + 1) // 2 * 2
    new_first = struct.pack("<H", len(merged)) + b"".join(
        merged[tag] for tag in sorted(merged)) + struct.pack("<I", 0)
    out = bytearray(tiff)
    out += b"\x00" * (place - len(tiff)) + serialised
    out += b"\x00" * (first - len(out)) + new_first
    out[4:8] = struct.pack("<I", first)
    return bytes(out)
