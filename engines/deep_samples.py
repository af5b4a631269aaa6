"""Saving pictures opened from files deeper than 8 bits at their own depth. Qt-free.

Editing happens at 8 bits per channel. A photographer's 16-bit TIFF or PNG, or a
floating-point TIFF from an HDR merge or a scientific camera, should not lose its precision
(or its values above 1.0) because a passer-by was removed, so :func:`restore_depth` puts the
file's own samples back wherever the edited picture still equals their 8-bit rounding, and
converts only the changed pixels up from 8 bits. :func:`encode_png16` and
:func:`encode_deep_tiff` then write the result with the photo's colour profile and
metadata, which neither OpenCV (no metadata) nor Pillow (no 16-bit or float RGB) can do
alone. PNG has no floating-point form: a float picture saved as PNG is written at 16 bits.
A picture saved without its colour profile is written converted to sRGB
(:mod:`engines.fileio`); its deep samples are converted at their own depth by
:func:`in_srgb`, through a :class:`ShaperMatrix` or a :class:`ColourTable`.

Errors are :class:`ValueError`; :mod:`engines.fileio` turns them into its file errors.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
import tifffile
from PIL import Image

DEEP_SUFFIXES = (".png", ".tif", ".tiff")  # the formats written deeper than 8 bits
DEEP_DTYPES = (np.uint16, np.float32, np.float64)  # the sample types kept
# Deflate level of the TIFF strips: the low bits of 16-bit photos are noise, so higher levels
# save under 1 % of the size at twice the time (bench/ui.py --parts save). PNG uses OpenCV's
# defaults, tuned for speed the same way (level 1, "sub" filter, run-length strategy).
_TIFF_DEFLATE_LEVEL = 1
_EXIF_HEADER = b"Exif\x00\x00"
# TIFF tags that describe how the pixels are stored: the written file's own always win
_LAYOUT_TAGS = frozenset({256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339,
                          34675})


def written_depth(dtype: np.dtype, suffix: str) -> str | None:
    """How a picture with a deep original of ``dtype`` is written as a ``suffix`` file:
    ``"16-bit"``, ``"floating-point"`` (float originals as TIFF), or ``None`` (8 bits: the
    format has no deeper form)."""
    suffix = suffix.lower()
    if suffix not in DEEP_SUFFIXES:
        return None
    return "16-bit" if dtype == np.uint16 or suffix == ".png" else "floating-point"


def to_8bit(samples: np.ndarray) -> np.ndarray:
    """uint16 samples, or float ones (1.0 = full scale), rounded to the nearest uint8 level
    (``65535`` and ``1.0`` map to ``255``; float values outside 0..1 are clipped and NaN is 0,
    as the picture is edited)."""
    if samples.dtype == np.uint16:
        return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return _quantised(samples, np.uint8)


def _from_8bit(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 ``values`` at full scale in ``dtype``: times 257, or divided by 255."""
    if dtype == np.uint16:
        return values.astype(np.uint16) * 257
    return values.astype(dtype) / dtype.type(255.0)


def as_uint16(samples: np.ndarray) -> np.ndarray:
    """Deep samples as uint16 (float ones clipped to 0..1; NaN is 0), for PNG."""
    if samples.dtype == np.uint16:
        return samples
    return _quantised(samples, np.uint16)


def _quantised(samples: np.ndarray, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """Float ``samples`` (1.0 = full scale) rounded to the integer ``dtype``'s levels,
    clipped to 0..1 first; NaN and -inf are 0, +inf is 1."""
    full = float(np.iinfo(dtype).max)
    finite = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(finite, 0, 1) * full).astype(dtype)  # clipped first: no overflow


def restore_depth(rgb: np.ndarray, alpha: np.ndarray | None, deep_original: np.ndarray,
                  edited: np.ndarray | None = None, shown: np.ndarray | None = None
                  ) -> np.ndarray:
    """The deep pixels to save for an edited picture.

    Args:
        rgb: ``(H, W, 3)`` uint8, the edited picture.
        alpha: ``(H, W)`` uint8 transparency or ``None`` (opaque).
        deep_original: ``(H, W, 3)`` or ``(H, W, 4)`` RGB(A), the file as opened: uint16, or
            float32/float64 with 1.0 at full scale.
        edited: ``(H, W)`` bool, the pixels an edit wrote (a filled hole), or ``None``.
            Among them, float samples outside 0..1 (or NaN) are not restored even where the
            8-bit values match: a fill of white over a bright lamp shows 255 where the lamp
            did, and restoring would bring the lamp's over-range values back.
        shown: ``(H, W, 3)`` uint8, the colours ``rgb`` has where the picture is unchanged,
            when they are not the 8-bit rounding of ``deep_original``: a picture written
            converted to sRGB passes the 8-bit conversion of the original's rounding here,
            and ``deep_original`` converted at its own depth (:func:`in_srgb`), which
            rounds to within a level of it (the test of ``edited`` pixels above is then made
            on the converted samples). ``None``: ``to_8bit(deep_original)``.

    Returns:
        ``(H, W, 3)`` RGB, or ``(H, W, 4)`` RGBA when ``alpha`` is given, in the original's
        dtype. A pixel whose every channel still equals the 8-bit rounding of
        ``deep_original`` (its colour channels: ``shown``) gets its original samples back
        (float values above 1.0 too); any other pixel gets its 8-bit values at full scale
        (times 257, or divided by 255).
    """
    dtype = deep_original.dtype
    if dtype not in DEEP_DTYPES or deep_original.ndim != 3 \
            or deep_original.shape[:2] != rgb.shape[:2] or deep_original.shape[2] not in (3, 4):
        raise ValueError(f"the deep original {deep_original.shape} {dtype} does not match "
                         f"the picture {rgb.shape}")
    edited_8bit = rgb if alpha is None else np.dstack([rgb, alpha])
    channels = edited_8bit.shape[2]
    if deep_original.shape[2] >= channels:
        before = deep_original[..., :channels]
    else:  # transparency added to an opaque original
        opaque = np.full(rgb.shape[:2], 65535 if dtype == np.uint16 else 1.0, dtype)
        before = np.dstack([deep_original, opaque])
    original_8bit = to_8bit(before)
    if shown is not None:
        if shown.shape != rgb.shape:
            raise ValueError(f"the original's colours as shown {shown.shape} do not match "
                             f"the picture {rgb.shape}")
        original_8bit[..., :3] = shown
    unchanged = (original_8bit == edited_8bit).all(axis=2)
    if edited is not None and dtype != np.uint16:
        shown_as_is = ((before >= 0) & (before <= 1)).all(axis=2)  # False for NaN too
        unchanged &= shown_as_is | ~edited
    return np.where(unchanged[..., None], before, _from_8bit(edited_8bit, dtype))


# ----------------------------------------------------------------- conversion to sRGB
_CONVERTED_PIXELS = 1 << 18  # deep pixels converted at a time, per thread
_SRGB_LINEAR_TOE = 0.0031308  # linear light below which sRGB's curve is a straight line


def srgb_encoded(linear: np.ndarray) -> np.ndarray:
    """Float linear-light sRGB values through sRGB's tone curve (IEC 61966-2-1, the curve of
    LittleCMS's built-in sRGB profile), the same dtype; extended beyond 0..1 as CSS Color 4's
    extended sRGB is: above 1 by the same formula, below 0 mirrored (``-f(-x)``)."""
    magnitude = np.abs(linear)
    encoded = np.where(magnitude <= _SRGB_LINEAR_TOE, magnitude * 12.92,
                       1.055 * np.power(magnitude, 1 / 2.4) - 0.055)
    return np.copysign(encoded, linear).astype(linear.dtype, copy=False)


def _finite_samples(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, finite)`` of ``(N, 3)`` float ``rgb``: ``finite`` (``(N,)`` bool) where
    every sample of a pixel is finite, and ``samples`` with the other pixels' set to 0 (in
    ``rgb``'s own float type), to convert; those pixels are then kept as they were
    (:func:`_as_they_were`)."""
    finite = np.isfinite(rgb).all(axis=1)
    return np.where(finite[:, None], rgb, 0), finite


def _as_they_were(converted: np.ndarray, rgb: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """``converted`` with the pixels (rows) where ``kept`` is True taken from ``rgb``."""
    if kept.any():
        converted[kept] = rgb[kept]
    return converted


@dataclass(frozen=True, eq=False)
class ShaperMatrix:
    """A conversion of RGB colours to sRGB made as LittleCMS makes one from a matrix/TRC
    ("shaper-matrix") profile, Adobe RGB's, Display P3's or ProPhoto's kind: each channel
    through its tone curve to linear light, a 3x3 matrix to linear sRGB, then sRGB's curve
    (:func:`srgb_encoded`), in floating point. Called on ``(N, 3)`` uint16 or float samples,
    it returns them converted, in the same dtype.

    16-bit samples: colours outside sRGB's gamut are clipped to it, as LittleCMS clips them.
    Floating-point samples (1.0 = full scale) are converted unbounded, as floating-point
    colour management converts with such profiles: nothing is clipped, the curves go on
    beyond 0..1 (sRGB's as CSS Color 4's extended sRGB does), so colours outside sRGB's
    gamut and samples outside 0..1 (a highlight above 1.0, noise below black) keep values
    outside 0..1, continuous with their in-range neighbours, and their 8-bit rounding
    (:func:`to_8bit`, which clips) is what the 8-bit conversion gives. A pixel with a NaN or
    infinite sample is kept as it was. Linear light too large for the float type (a float32
    sample above about 1e17 through a gamma of 2.2) is held at the largest value the matrix
    can mix without overflowing, so huge samples give huge finite values, never inf or NaN.

    Attributes:
        curves: R's, G's and B's tone curve, encoded values to linear light, on float64
            arrays of any values (see :func:`engines.fileio.deep_srgb_conversion`).
        matrix: ``(3, 3)`` float64, linear RGB to linear sRGB.
    """

    curves: tuple[Callable[[np.ndarray], np.ndarray], ...]
    matrix: np.ndarray
    # each curve at every 16-bit level, float32 (3, 65536): 16-bit samples are looked up
    _levels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        levels = np.arange(65536, dtype=np.float64) / 65535
        object.__setattr__(self, "_levels", np.stack(
            [curve(levels) for curve in self.curves]).astype(np.float32))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        converted = np.empty(rgb.shape, rgb.dtype)
        if rgb.dtype == np.uint16:
            linear = [np.take(self._levels[channel], rgb[:, channel]) for channel in range(3)]
            for channel, srgb in enumerate(self._mixed(linear, np.float32)):
                np.clip(srgb, 0.0, 1.0, out=srgb)
                converted[:, channel] = np.rint(srgb_encoded(srgb) * np.float32(65535))
            return converted
        samples, finite = _finite_samples(rgb)
        # linear light the matrix mixes without overflow: |R|, |G|, |B| at most this give
        # at most half the float type's largest value in every row
        widest = max(float(np.abs(self.matrix).sum(axis=1).max()), 1.0)
        bound = rgb.dtype.type(float(np.finfo(rgb.dtype).max) / (2 * widest))  # not float64
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf, then bound
            linear = [np.clip(curve(samples[:, channel]).astype(rgb.dtype, copy=False),
                              -bound, bound)
                      for channel, curve in enumerate(self.curves)]
            for channel, srgb in enumerate(self._mixed(linear, rgb.dtype)):
                converted[:, channel] = srgb_encoded(srgb)
        return _as_they_were(converted, rgb, ~finite)

    def _mixed(self, linear: list[np.ndarray], dtype: np.dtype) -> Iterator[np.ndarray]:
        """R, G and B of :attr:`matrix` times the channels ``linear``, in ``dtype``,
        elementwise: BLAS's threads, for a product this narrow, would only contend with the
        bands' own."""
        matrix = self.matrix.astype(dtype)
        for row in matrix:
            mixed = linear[0] * row[0]
            mixed += linear[1] * row[1]
            mixed += linear[2] * row[2]
            yield mixed


@dataclass(frozen=True, eq=False)
class ColourTable:
    """A conversion of RGB colours to sRGB given by its values on a lattice, interpolated
    tetrahedrally (as LittleCMS interpolates its own tables): for profiles that are not
    matrix/TRC ones (see :func:`engines.fileio.deep_srgb_conversion`). Called on ``(N, 3)``
    uint16 or float samples, it returns them converted, in the same dtype.

    The table holds only colours within 0..1. A floating-point pixel with samples outside
    0..1 (a highlight above 1.0, noise about black or white) is looked up with them clamped
    to 0..1, and the part beyond (``sample - clamped``) is added to the same channel of the
    result: beyond the table the conversion goes on with a slope of one. Such a pixel then
    converts as its in-range neighbours do (1.0002 comes out 0.0002 above what 1.0 gives),
    and a highlight stays above 1.0 as :class:`ShaperMatrix` keeps it, though not by the
    profile's own curves: a neutral 2.0 gives 2.0 where Adobe RGB's curves and matrix give
    1.94, and a colour's over-range part is not mixed into its other channels. The table's
    own slope at its edge is not used: in :func:`engines.fileio.deep_srgb_conversion`'s
    tables it is the difference of two 8-bit values three levels apart (off by up to a
    third) and zero where LittleCMS clipped colours to sRGB's gamut. Samples within 0..1
    are interpolated as they are, nothing added; huge ones stay finite; a pixel with a NaN
    or infinite sample is kept as it was, as :class:`ShaperMatrix` keeps it.

    Attributes:
        table: ``(n, n, n, 3)`` float32, the converted colour (1.0 = full scale) of the
            colour ``(i, j, k) / (n - 1)``.
    """

    table: np.ndarray

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        size = self.table.shape[0]
        full = 65535.0 if rgb.dtype == np.uint16 else 1.0
        if rgb.dtype == np.uint16:
            position = rgb.astype(np.float32) * np.float32((size - 1) / full)
        else:
            samples, finite = _finite_samples(rgb)
            clamped = np.clip(samples, 0, 1)
            beyond = samples - clamped  # 0 within 0..1
            position = clamped.astype(np.float32) * np.float32(size - 1)
        corner = np.minimum(position.astype(np.int64), size - 2)
        fraction = position - corner
        base = (corner[:, 0] * size + corner[:, 1]) * size + corner[:, 2]
        red, green, blue = fraction.T
        # the tetrahedron: from the corner along the axis of the largest fraction, then the
        # middle one's, to the opposite corner. Ties: the largest is taken first in R, G, B
        # order, the smallest in B, G, R order, so that the two differ unless all three are
        # equal, and then every path gives the same weights.
        red_largest = (red >= green) & (red >= blue)
        largest_step = np.where(red_largest, size * size, np.where(green >= blue, size, 1))
        blue_smallest = (blue <= red) & (blue <= green)
        smallest_step = np.where(blue_smallest, 1, np.where(green <= red, size, size * size))
        large = np.maximum(np.maximum(red, green), blue)[:, None]
        small = np.minimum(np.minimum(red, green), blue)[:, None]
        middle = fraction.sum(axis=1)[:, None] - large - small
        diagonal = size * size + size + 1
        flat = self.table.reshape(-1, 3)
        start, end = np.take(flat, base, axis=0), np.take(flat, base + diagonal, axis=0)
        one = np.take(flat, base + largest_step, axis=0)
        two = np.take(flat, base + diagonal - smallest_step, axis=0)
        converted = (start + (one - start) * large + (two - one) * middle
                     + (end - two) * small)
        if rgb.dtype == np.uint16:
            return np.rint(np.clip(converted, 0, 1) * full).astype(np.uint16)
        converted = converted.astype(rgb.dtype)
        converted += beyond  # |beyond| <= |sample|: no overflow
        return _as_they_were(converted, rgb, ~finite)


def in_srgb(samples: np.ndarray, conversion: Callable[[np.ndarray], np.ndarray]
            ) -> np.ndarray:
    """Deep ``(H, W, 3|4)`` RGB(A) ``samples`` (uint16 or float) with their colours through
    ``conversion`` (a :class:`ShaperMatrix` or :class:`ColourTable`), the alpha as it was:
    a new array of the same shape and dtype. Bands of pixels are converted on all cores,
    which also bounds the memory the conversion takes."""
    out = np.array(samples, order="C", copy=True)
    flat = out.reshape(-1, out.shape[-1])
    starts: Sequence[int] = range(0, len(flat), _CONVERTED_PIXELS)

    def convert(start: int) -> None:
        band = flat[start:start + _CONVERTED_PIXELS]
        band[:, :3] = conversion(band[:, :3])

    on_all_cores(convert, starts)
    return out


def on_all_cores(work: Callable[[int], None], starts: Sequence[int]) -> None:
    """``work(start)`` for each of ``starts`` (bands of an array, each written by its own
    call), on a thread per core: for work that releases the GIL (numpy's element-wise
    operations, LittleCMS). In order on one core, or for a single band. Raises what a call
    raised."""
    workers = min(os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for start in starts:
            work(start)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, starts))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png16(pixels: np.ndarray, icc_profile: bytes | None = None,
                 exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    """A 16-bit PNG of ``(H, W, 3|4)`` uint16 RGB(A), ``(H, W)`` grey or ``(H, W, 2)``
    grey+alpha (float samples are converted, :func:`as_uint16`), with an iCCP, an eXIf and
    an XMP (iTXt) chunk.

    ``exif`` is Pillow's form (``b"Exif\\0\\0"`` + a TIFF structure) or the bare TIFF one;
    ``xmp`` a UTF-8 XMP packet.
    """
    samples = as_uint16(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 2:
        png = _grey_alpha_png16(samples)
    else:
        if pixels.ndim == 3:
            code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
            samples = cv2.cvtColor(samples, code)
        ok, encoded = cv2.imencode(".png", samples)
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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # what every PNG file starts with
_PNG_GREY_ALPHA, _PNG_SUB_FILTER = 4, 1  # colour type; row filter
_IDAT_BYTES = 1 << 24  # compressed pixels per IDAT chunk (a chunk holds under 2 GiB)


def _grey_alpha_png16(samples: np.ndarray) -> bytes:
    """A PNG (signature, IHDR, IDAT, IEND) of ``(H, W, 2)`` uint16 grey+alpha: colour type 4
    at 16 bits, which OpenCV does not write (nor Pillow, whose grey+alpha is 8-bit). Rows
    use the "sub" filter and Deflate level 1 with run-length matching, as OpenCV's PNGs."""
    height, width = samples.shape[:2]
    rows = np.ascontiguousarray(samples, ">u2").reshape(height, 2 * width).view(np.uint8)
    filtered = rows.copy()
    filtered[:, 4:] -= rows[:, :-4]  # each byte minus the one a pixel (4 bytes) before
    lines = np.hstack([np.full((height, 1), _PNG_SUB_FILTER, np.uint8), filtered])
    compressor = zlib.compressobj(1, strategy=zlib.Z_RLE)
    stream = compressor.compress(lines.tobytes()) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_GREY_ALPHA, 0, 0, 0)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + b"".join(
        _png_chunk(b"IDAT", stream[start:start + _IDAT_BYTES])
        for start in range(0, max(len(stream), 1), _IDAT_BYTES)) + _png_chunk(b"IEND", b"")


def encode_deep_tiff(pixels: np.ndarray, icc_profile: bytes | None = None,
                     exif: bytes | None = None, xmp: bytes | None = None,
                     iptc: bytes | None = None) -> bytes:
    """A TIFF (Deflate) of ``(H, W, 3|4)`` uint16 or float RGB(A), ``(H, W)`` grey or
    ``(H, W, 2)`` grey+alpha, in that sample type, alpha unassociated, embedding
    ``icc_profile``, the tags of ``exif``, an ``xmp`` packet (tag 700) and ``iptc`` datasets
    (tag 33723).

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
    colour = pixels.ndim == 3 and pixels.shape[2] >= 3
    alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    tifffile.imwrite(
        buffer, pixels, byteorder="<", photometric="rgb" if colour else "minisblack",
        extrasamples=("unassalpha",) if alpha else None,
        compression="zlib", compressionargs={"level": _TIFF_DEFLATE_LEVEL},
        # horizontal differencing for integers; tifffile writes the floating-point predictor
        # only with the optional imagecodecs package, so float strips go without
        predictor=pixels.dtype == np.uint16,
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
