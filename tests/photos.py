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
               icc: bytes | None = None, quality: int = 98, xmp: bytes | None = None,
               iptc: bytes | None = None) -> Path:
    """``rgb`` ``(H, W, 3)`` uint8 as a JPEG with the given EXIF, colour profile, XMP packet
    and IPTC-IIM datasets (in an APP13 segment, as Photoshop writes them)."""
    options: dict[str, object] = {"quality": quality}
    if exif is not None:
        options["exif"] = exif
    if icc is not None:
        options["icc_profile"] = icc
    if xmp is not None:
        options["xmp"] = xmp
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", **options)
    data = buffer.getvalue()
    if iptc is not None:
        resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc \
            + b"\x00" * (len(iptc) % 2)
        thumbnail = b"8BIM\x04\x0c\x00\x00" + struct.pack(">I", 14) + b"OLD THUMBNAIL!"
        payload = b"Photoshop 3.0\x00" + resource + thumbnail
        data = data[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    Path(path).write_bytes(data)
    return Path(path)


def lightroom_xmp(orientation: int = 6, width: int = 60, height: int = 40) -> bytes:
    """An XMP packet as Lightroom writes it into an exported JPEG: title, keywords, rights,
    dates and IDs, the stored orientation and size, develop settings (``crs:``, as
    attributes and as an element), a thumbnail and an Extended XMP pointer."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/"
    xmlns:xmpNote="http://ns.adobe.com/xmp/note/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmp:CreateDate="2024-06-01T12:00:00+02:00"
    xmp:ModifyDate="2024-06-02T09:30:00+02:00"
    xmp:MetadataDate="2024-06-02T09:30:00+02:00"
    xmpMM:DocumentID="xmp.did:0001"
    xmpMM:InstanceID="xmp.iid:0001"
    xmpNote:HasExtendedXMP="0123456789ABCDEF0123456789ABCDEF"
    tiff:Orientation="{orientation}"
    exif:PixelXDimension="{width}"
    exif:PixelYDimension="{height}"
    crs:Exposure2012="+1.50"
    crs:HasSettings="True">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour at dusk &amp; fog</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>
   <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">© Ana Núñez</rdf:li></rdf:Alt></dc:rights>
   <crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>255, 255</rdf:li></rdf:Seq></crs:ToneCurvePV2012>
   <xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource">
    <xmpGImg:format>JPEG</xmpGImg:format><xmpGImg:image>T0xEIFRIVU1CTkFJTA==</xmpGImg:image>
   </rdf:li></rdf:Alt></xmp:Thumbnails>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def agency_iptc() -> bytes:
    """IPTC-IIM datasets as an agency's software writes them: record version, caption,
    two keywords, copyright (UTF-8 declared in record 1)."""
    def dataset(record: int, number: int, value: bytes) -> bytes:
        return struct.pack(">BBBH", 0x1C, record, number, len(value)) + value

    return (dataset(1, 90, b"\x1b%G") + dataset(2, 0, b"\x00\x04")
            + dataset(2, 25, b"harbour") + dataset(2, 25, b"boats")
            + dataset(2, 116, "© Ana Núñez".encode()) + dataset(2, 120, b"Boats at dusk"))


def write_phone_photo(path: Path, rgb: np.ndarray, orientation: int = 1) -> bytes:
    """A JPEG with :func:`phone_exif` and an sRGB profile; returns the profile's bytes."""
    icc = srgb_profile()
    write_jpeg(path, rgb, phone_exif(rgb, orientation), icc)
    return icc


def write_heic(path: Path, rgb: np.ndarray, exif: Image.Exif | None = None,
               icc: bytes | None = None, xmp: bytes | None = None,
               alpha: np.ndarray | None = None, quality: int = 95) -> Path:
    """``rgb`` ``(H, W, 3)`` uint8 as a HEIC, written by pillow-heif. HEIF readers take the
    orientation from the container, not from EXIF: pillow-heif stores the pixels turned as
    ``exif``'s orientation says and sets the EXIF orientation to 1."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    options: dict[str, object] = {"quality": quality}
    if isinstance(exif, Image.Exif):
        exif = exif.tobytes()  # pillow-heif applies the orientation of EXIF given as bytes
    for key, value in (("exif", exif), ("icc_profile", icc), ("xmp", xmp)):
        if value is not None:
            options[key] = value
    pixels = rgb if alpha is None else np.dstack([rgb, alpha])
    Image.fromarray(pixels).save(path, "HEIF", **options)
    return Path(path)


def embedded_metadata(path: Path) -> tuple[bytes | None, dict]:
    """``(colour profile, {EXIF tag: value} of the main directory)`` of an image file."""
    with Image.open(path) as picture:
        return picture.info.get("icc_profile"), dict(picture.getexif())


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def _description(name: str) -> bytes:
    text = name.encode("ascii") + b"\0"
    return (b"desc" + bytes(4) + struct.pack(">I", len(text)) + text
            + bytes(4 + 4 + 2 + 1 + 67))  # empty Unicode and ScriptCode records


def _curve(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def _icc(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v2 display profile of data colour space ``space`` (4 bytes) holding ``tags``
    (signature, body) and a copyright, field by field (D50 illuminant)."""
    tags = [*tags, (b"cprt", b"text" + bytes(4) + b"none\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0])
              + b"mntr" + space + b"XYZ " + bytes(12) + b"acsp" + b"APPL" + bytes(24)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"lcms" + bytes(44))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def matrix_profile(name: str, red, green, blue, gamma: float = 2.2) -> bytes:
    """An ICC v2 matrix/TRC display profile written field by field: colorants (D50 XYZ) and
    one gamma for the three channels, the way Display P3 and Adobe RGB profiles are built."""
    curve = _curve(gamma)
    return _icc(b"RGB ", [(b"desc", _description(name)), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
                          (b"rXYZ", _xyz(*red)), (b"gXYZ", _xyz(*green)),
                          (b"bXYZ", _xyz(*blue)), (b"rTRC", curve), (b"gTRC", curve),
                          (b"bTRC", curve)])


def grey_profile(gamma: float = 1.8) -> bytes:
    """An ICC v2 grey ("GRAY") display profile: a description, the D50 white point and one
    tone curve (kTRC), as grey scanners and editors embed them."""
    return _icc(b"GRAY", [(b"desc", _description("Test Grey Gamma 1.8")),
                          (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"kTRC", _curve(gamma))])


def wide_gamut_profile() -> bytes:
    """A profile with Adobe RGB (1998)'s primaries: its greens are far more saturated."""
    return matrix_profile("Wide Test RGB", (0.6097, 0.3111, 0.0195),
                          (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
