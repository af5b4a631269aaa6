"""IPTC-IIM records (captions, keywords, credit, copyright, as photo agencies and older
software write them): read from a JPEG or TIFF, written into a JPEG. Qt-free.

A JPEG keeps them in an APP13 "Photoshop 3.0" segment, as image resource 0x0404; a TIFF in
tag 33723, which :mod:`engines.fileio` writes through Pillow. Only that resource is carried:
the segment's other resources include a thumbnail of the unedited photo.
"""

from __future__ import annotations

import struct

from PIL import Image, IptcImagePlugin

_MARKER = 0x1C
_PHOTOSHOP = b"Photoshop 3.0\x00"
_IPTC_RESOURCE = 0x0404
_MAX_SEGMENT = 65533  # bytes of a JPEG segment after its length field


def read(picture: Image.Image) -> bytes | None:
    """The IPTC-IIM records of an opened JPEG or TIFF as a byte string of datasets, or
    ``None`` when it has none, or they are damaged (they are then not carried)."""
    try:
        fields = IptcImagePlugin.getiptcinfo(picture)
    except (OSError, SyntaxError, ValueError, struct.error):
        return None
    if not fields:
        return None
    out = bytearray()
    for (record, dataset), values in sorted(fields.items()):
        for value in values if isinstance(values, list) else [values]:
            if len(value) > 0x7FFF:  # extended dataset: a 4-byte length follows
                out += struct.pack(">BBBHI", _MARKER, record, dataset, 0x8004, len(value))
            else:
                out += struct.pack(">BBBH", _MARKER, record, dataset, len(value))
            out += value
    return bytes(out)


def jpeg_with_iptc(jpeg: bytes, records: bytes) -> bytes:
    """``jpeg`` with an APP13 segment holding ``records`` after its leading APPn segments
    (JFIF, EXIF, XMP, ICC). Records too long for one segment are left out (``jpeg``)."""
    resource = b"8BIM" + struct.pack(">H", _IPTC_RESOURCE) + b"\x00\x00" \
        + struct.pack(">I", len(records)) + records + b"\x00" * (len(records) % 2)
    payload = _PHOTOSHOP + resource
    if len(payload) > _MAX_SEGMENT or jpeg[:2] != b"\xff\xd8":
        return jpeg
    place = 2
    while place + 4 <= len(jpeg) and jpeg[place] == 0xFF and 0xE0 <= jpeg[place + 1] <= 0xEF:
        (length,) = struct.unpack_from(">H", jpeg, place + 2)
        place += 2 + length
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:place] + segment + jpeg[place:]
