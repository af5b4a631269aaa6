"""Test pictures that carry metadata as cameras and phones write it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms


def srgb_profile() -> bytes:
    """A real ICC profile (sRGB, made by LittleCMS)."""
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
