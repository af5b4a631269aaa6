"""Reading ICC colour profiles where Pillow's LittleCMS binding cannot serve: the tags, the
colorants and tone curves of a matrix/TRC RGB profile (Adobe RGB, Display P3, ProPhoto...),
and the conversion to sRGB they make at any precision
(:class:`engines.deep_samples.ShaperMatrix`), for deep (16-bit, floating-point) samples,
which Pillow's transforms (8-bit only) cannot take. No Qt."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable

import numpy as np
from PIL import ImageCms

from engines import deep_samples


def shaper_matrix(icc_profile: bytes) -> deep_samples.ShaperMatrix | None:
    """The tone curves and matrix of a matrix/TRC RGB profile (its ``rXYZ``, ``gXYZ``,
    ``bXYZ`` colorants and ``rTRC``, ``gTRC``, ``bTRC`` curves: :func:`tone_curve`) to
    sRGB, relative colorimetric (both PCS-relative, as LittleCMS takes them; sRGB's
    colorants are those of LittleCMS's built-in profile); ``None`` where it lacks them or
    they cannot be read."""
    try:
        found = read_tags(icc_profile)
        to_xyz = colorants(found)
        curves = tuple(tone_curve(found[name]) for name in (b"rTRC", b"gTRC", b"bTRC"))
        matrix = np.linalg.solve(colorants(read_tags(srgb_profile())), to_xyz)
    except (KeyError, ValueError, struct.error, np.linalg.LinAlgError):
        return None
    if not np.isfinite(matrix).all():
        return None
    return deep_samples.ShaperMatrix(curves, matrix)


@functools.cache
def srgb_profile() -> bytes:
    """LittleCMS's built-in sRGB profile, the one :func:`engines.fileio.srgb_conversion`
    converts to."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def read_tags(icc_profile: bytes) -> dict[bytes, bytes]:
    """An ICC profile's tags: signature to data (which starts with its type's signature).
    Raises ValueError or struct.error for a damaged tag table."""
    (count,) = struct.unpack_from(">I", icc_profile, 128)
    if count > (len(icc_profile) - 132) // 12:
        raise ValueError("the tag table runs past the profile")
    found = {}
    for number in range(count):
        signature, offset, size = struct.unpack_from(">4sII", icc_profile, 132 + 12 * number)
        found[signature] = icc_profile[offset:offset + size]
    return found


def colorants(tags: dict[bytes, bytes]) -> np.ndarray:
    """``(3, 3)``: the XYZ of the red, green and blue colorants as columns."""
    columns = []
    for name in (b"rXYZ", b"gXYZ", b"bXYZ"):
        if tags[name][:4] != b"XYZ ":
            raise ValueError(f"{name!r} is not an XYZ tag")
        columns.append(np.array(struct.unpack_from(">3i", tags[name], 8)) / 65536)
    return np.stack(columns, axis=1)


_PARAMETER_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}  # of the ICC parametric curve types


def tone_curve(data: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """An ICC tone curve (``curv``: a gamma or a table; ``para``: the parametric types 0 to
    4) from encoded values to linear light, for float64 arrays of any values: above 1 by its
    formula (a table by its last step), below 0 mirrored about its value at 0
    (``2 f(0) - f(-x)``), so that floating-point samples outside 0..1 are not clipped.
    Raises ValueError for other curve types."""
    kind = data[:4]
    if kind == b"curv":
        (count,) = struct.unpack_from(">I", data, 8)
        if count == 0:
            return lambda values: values
        if count == 1:
            curve = functools.partial(_parametric, struct.unpack_from(">H", data, 12)[0] / 256,
                                      1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        else:
            curve = functools.partial(_tabulated, np.frombuffer(data, ">u2", count, 12) / 65535)
    elif kind == b"para":
        (function,) = struct.unpack_from(">H", data, 8)
        if function not in _PARAMETER_COUNTS:
            raise ValueError(f"unknown parametric curve type {function}")
        gamma, a, b, c, d, e, f = (*(value / 65536 for value in struct.unpack_from(
            f">{_PARAMETER_COUNTS[function]}i", data, 12)), 0, 0, 0, 0, 0, 0)[:7]
        if function == 0:
            a, b, c, d, e, f = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
        elif function in (1, 2):  # (aX + b)^g (+ c) from X = -b/a, the constant below
            if a == 0:
                raise ValueError("a parametric curve with a = 0")
            d, e, f, c = -b / a, c, c, 0.0
        curve = functools.partial(_parametric, gamma, a, b, c, d, e, f)
    else:
        raise ValueError(f"unknown curve type {kind!r}")
    at_zero = float(curve(np.zeros(1))[0])
    return functools.partial(_mirrored, curve, at_zero)


def _parametric(gamma: float, a: float, b: float, c: float, d: float, e: float, f: float,
                values: np.ndarray) -> np.ndarray:
    """ICC parametric curve type 4, which the others are cases of: ``(a x + b)^gamma + e``
    from ``x = d`` (``a x + b`` below 0 counts as 0), ``c x + f`` below."""
    powered = np.power(np.maximum(a * values + b, 0.0), gamma) + e
    return np.where(values >= d, powered, c * values + f)


def _tabulated(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A sampled tone curve (``table`` at 0..1, evenly), linearly interpolated; above 1 its
    last step continued."""
    last_step = (table[-1] - table[-2]) * (len(table) - 1)
    return np.where(values > 1, table[-1] + (values - 1) * last_step,
                    np.interp(values, np.linspace(0, 1, len(table)), table))


def _mirrored(curve: Callable[[np.ndarray], np.ndarray], at_zero: float,
              values: np.ndarray) -> np.ndarray:
    """``curve`` for values of 0 and more, mirrored about ``(0, at_zero)`` below."""
    linear = curve(np.abs(values))
    return np.where(values < 0, 2 * at_zero - linear, linear)
