"""Test pictures that carry metadata as cameras and phones write it."""

from __future__ import annotations

import functools
import io
import struct
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms


@functools.cache
def srgb_profile() -> bytes:
    """A real ICC profile (sRGB, made by LittleCMS), the same bytes on every call: LittleCMS
    stamps the creation time in the header, so two profiles made a second apart differ."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_exif(rgb: np.ndarray, orientation: int = 6) -> Image.Exif:
    """EXIF as a phone writes it: orientation, camera, date, GPS and the stored pixel size."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = orientation  # 6: rotate 90 degrees clockwise to display
    exif.get_ifd(ExifTags.IFD.Exif).update({0x9003: "2024:06:01 12:00:00",
                                            0xA002: rgb.shape[1], 0xA003: rgb.shape[0]})
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (48.0, 51.0, 24.0)})
    return exif


def write_jpeg(path: Path, rgb: np.ndarray, exif: Image.Exif | bytes | None = None,
               icc: bytes | None = None, quality: int = 98) -> Path:
    """``rgb`` ``(H, W, 3)`` uint8 as a JPEG with the given EXIF and colour profile."""
    options: dict[str, object] = {"quality": quality}
    if exif is not None:
        options["exif"] = exif
    if icc is not None:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", **options)
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)


def write_phone_photo(path: Path, rgb: np.ndarray, orientation: int = 1) -> bytes:
    """A JPEG with :func:`phone_exif` and an sRGB profile; returns the profile's bytes."""
    icc = srgb_profile()
    write_jpeg(path, rgb, phone_exif(rgb, orientation), icc)
    return icc


def embedded_metadata(path: Path) -> tuple[bytes | None, dict]:
    """``(colour profile, {EXIF tag: value} of the main directory)`` of an image file."""
    with Image.open(path) as picture:
        return picture.info.get("icc_profile"), dict(picture.getexif())


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def matrix_profile(name: str, red, green, blue, gamma: float = 2.2) -> bytes:
    """An ICC v2 matrix/TRC display profile written field by field: colorants (D50 XYZ) and
    one gamma for the three channels, the way Display P3 and Adobe RGB profiles are built."""
    text = name.encode("ascii") + b"\0"
    description = (b"desc" + bytes(4) + struct.pack(">I", len(text)) + text
                   + bytes(4 + 4 + 2 + 1 + 67))  # empty Unicode and ScriptCode records
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", description), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", _xyz(*red)), (b"gXYZ", _xyz(*green)), (b"bXYZ", _xyz(*blue)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text" + bytes(4) + b"none\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0])
              + b"mntrRGB XYZ " + bytes(12) + b"acsp" + b"APPL" + bytes(24)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"lcms" + bytes(44))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def wide_gamut_profile() -> bytes:
    """A profile with Adobe RGB (1998)'s primaries: its greens are far more saturated."""
    return matrix_profile("Wide Test RGB", (0.6097, 0.3111, 0.0195),
                          (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
