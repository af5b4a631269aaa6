"""XMP and IPTC travel from the opened photo to the saved edit, made true for it."""

from __future__ import annotations

import datetime
import io
import struct
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from PIL import Image, IptcImagePlugin

from engines import deep_samples, iptc, xmp
from engines.fileio import ImageMetadata, load_image, save_image, save_result
from tests.photos import agency_iptc, lightroom_xmp, phone_exif, write_jpeg

DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@pytest.fixture
def tagged_jpeg(tmp_path, rgb):
    """A turned phone JPEG (orientation 6) with Lightroom's XMP and an agency's IPTC."""
    return write_jpeg(tmp_path / "photo.jpg", rgb, phone_exif(rgb), xmp=lightroom_xmp(),
                      iptc=agency_iptc())


def _packet(path) -> ElementTree.Element:
    with Image.open(path) as picture:
        packet = picture.info.get("xmp")
    assert packet, "no XMP in the saved file"
    return ElementTree.fromstring(packet.strip(b"\0 \r\n"))


def _description(root: ElementTree.Element) -> ElementTree.Element:
    return next(root.iter(f"{RDF}Description"))


def _title(root: ElementTree.Element) -> str:
    return next(root.iter(f"{DC}title")).find(f"{RDF}Alt/{RDF}li").text


def _iptc(path) -> dict | None:
    with Image.open(path) as picture:
        return IptcImagePlugin.getiptcinfo(picture)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif", ".heic", ".avif"])
def test_xmp_survives_saving_in_every_format_with_a_place_for_it(tmp_path, tagged_jpeg, ext):
    loaded = load_image(tagged_jpeg)
    saved = save_image(tmp_path / f"out{ext}", loaded.rgb, metadata=loaded.metadata)

    root = _packet(saved)
    assert _title(root) == "Harbour at dusk & fog"
    keywords = [li.text for li in next(root.iter(f"{DC}subject")).iter(f"{RDF}li")]
    assert keywords == ["harbour", "boats"]
    rights = next(root.iter(f"{DC}rights")).find(f"{RDF}Alt/{RDF}li").text
    assert rights == "© Ana Núñez"
    reread = load_image(saved)
    assert reread.rgb.shape == (60, 40, 3)  # stored upright, and not turned again
    assert not any("XMP" in note for note in reread.notes)


@pytest.mark.parametrize("ext, carried", [(".jpg", True), (".tif", True), (".png", False),
                                          (".webp", False)])
def test_iptc_survives_in_jpeg_and_tiff(tmp_path, tagged_jpeg, ext, carried):
    loaded = load_image(tagged_jpeg)
    assert loaded.metadata.iptc == agency_iptc()

    saved = save_image(tmp_path / f"out{ext}", loaded.rgb, metadata=loaded.metadata)

    fields = _iptc(saved)
    if carried:
        assert fields[(2, 120)] == b"Boats at dusk"
        assert fields[(2, 25)] == [b"harbour", b"boats"]
        assert fields[(2, 116)] == "© Ana Núñez".encode()
        assert load_image(saved).metadata.iptc == agency_iptc()
    else:  # PNG and WebP have no place for IIM; the XMP carries IPTC Core there
        assert fields is None


def test_photoshops_other_resources_are_not_carried(tmp_path, tagged_jpeg):
    """The APP13 segment also holds a thumbnail of the unedited photo."""
    assert b"OLD THUMBNAIL!" in tagged_jpeg.read_bytes()
    loaded = load_image(tagged_jpeg)
    for ext in (".jpg", ".tif"):
        saved = save_image(tmp_path / f"out{ext}", loaded.rgb, metadata=loaded.metadata)
        assert b"OLD THUMBNAIL!" not in saved.read_bytes()


def test_the_saved_xmp_is_true_of_the_edited_file(tmp_path, tagged_jpeg):
    loaded = load_image(tagged_jpeg)
    assert loaded.rgb.shape == (60, 40, 3)  # turned upright from 40x60 stored
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)

    data = saved.read_bytes()
    description = _description(_packet(saved))
    attributes = description.attrib
    assert attributes[f"{{{xmp.TIFF}}}Orientation"] == "1"
    assert (attributes[f"{{{xmp.EXIF}}}PixelXDimension"],
            attributes[f"{{{xmp.EXIF}}}PixelYDimension"]) == ("40", "60")
    # develop settings would be applied again by Lightroom; the thumbnail shows the old
    # picture; the Extended XMP it points to is not carried
    assert not [name for name in attributes if xmp.CAMERA_RAW in name]
    assert not [element for element in description.iter() if xmp.CAMERA_RAW in element.tag]
    assert b"camera-raw-settings" not in data
    assert b"T0xEIFRIVU1CTkFJTA==" not in data
    assert f"{{{xmp.XMP_NOTE}}}HasExtendedXMP" not in attributes
    assert attributes[f"{{{xmp.XMP_MM}}}DocumentID"] == "xmp.did:0001"  # the rest stays


def test_saving_stamps_the_xmp_dates_and_instance(tmp_path, tagged_jpeg):
    loaded = load_image(tagged_jpeg)
    before = datetime.datetime.now().astimezone().replace(microsecond=0)
    saved = save_image(tmp_path / "out.png", loaded.rgb, metadata=loaded.metadata)
    after = datetime.datetime.now().astimezone()

    attributes = _description(_packet(saved)).attrib
    for name in ("ModifyDate", "MetadataDate"):
        stamp = datetime.datetime.fromisoformat(attributes[f"{{{xmp.XMP}}}{name}"])
        assert before <= stamp <= after
    assert attributes[f"{{{xmp.XMP}}}CreateDate"] == "2024-06-01T12:00:00+02:00"
    assert attributes[f"{{{xmp.XMP_MM}}}InstanceID"].startswith("xmp.iid:")
    assert attributes[f"{{{xmp.XMP_MM}}}InstanceID"] != "xmp.iid:0001"


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_deep_samples_files_keep_xmp_and_iptc(tmp_path, rgb, ext):
    deep = np.random.default_rng(1).integers(0, 65535, (40, 60, 3), dtype=np.uint16)
    packet, records = lightroom_xmp(orientation=1), agency_iptc()
    source = tmp_path / f"deep{ext}"
    if ext == ".png":
        source.write_bytes(deep_samples.encode_png16(deep, xmp=packet))
    else:
        source.write_bytes(deep_samples.encode_deep_tiff(deep, xmp=packet, iptc=records))
    loaded = load_image(source)
    assert loaded.deep_original is not None

    saved = save_result(tmp_path / f"out{ext}", loaded.rgb, loaded)

    reread = load_image(saved)
    assert reread.source_depth == 16
    assert np.array_equal(reread.deep_original, deep)
    assert _title(_packet(saved)) == "Harbour at dusk & fog"
    if ext == ".tif":
        assert reread.metadata.iptc == records


def test_a_photo_saved_without_metadata_gets_none(tmp_path, tagged_jpeg):
    loaded = load_image(tagged_jpeg)
    for ext in (".jpg", ".tif"):
        saved = save_result(tmp_path / f"bare{ext}", loaded.rgb, loaded, keep_metadata=False)
        with Image.open(saved) as picture:
            assert "xmp" not in picture.info
        assert _iptc(saved) is None
        assert b"Harbour" not in saved.read_bytes()


def test_damaged_xmp_is_dropped_with_a_note(tmp_path, rgb):
    source = write_jpeg(tmp_path / "bad.jpg", rgb, xmp=b"<x:xmpmeta><unclosed></x:xmpmeta>")
    loaded = load_image(source)
    assert loaded.metadata.xmp is None
    assert any("XMP metadata is damaged" in note for note in loaded.notes)
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)
    with Image.open(saved) as picture:
        assert "xmp" not in picture.info


def test_damaged_iptc_is_not_carried_and_does_not_stop_opening(tmp_path, rgb):
    source = write_jpeg(tmp_path / "bad.jpg", rgb, iptc=b"\x1c\x02\x78\x00\x02ok\x99garbage")
    loaded = load_image(source)
    assert loaded.metadata.iptc is None
    assert loaded.rgb.shape == (40, 60, 3)


def test_tiff_photoshop_resources_and_layers_are_not_carried(tmp_path, rgb):
    """Tags 34377 (image resources, with a thumbnail) and 37724 (layers) of a Photoshop
    TIFF still hold the unedited picture."""
    tags = Image.Exif()
    tags[0x010F] = "Scanner"
    tags[34377] = b"8BIM\x04\x0c\x00\x00\x00\x00\x00\x0eOLD THUMBNAIL!"
    tags[37724] = b"Adobe Photoshop Document Data Block\0OLD LAYERS"
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "TIFF", exif=tags)
    (tmp_path / "scan.tif").write_bytes(buffer.getvalue())
    loaded = load_image(tmp_path / "scan.tif")

    for ext in (".tif", ".jpg"):
        saved = save_image(tmp_path / f"out{ext}", loaded.rgb, metadata=loaded.metadata)
        data = saved.read_bytes()
        assert b"OLD THUMBNAIL!" not in data and b"OLD LAYERS" not in data
        with Image.open(saved) as picture:
            assert picture.getexif()[0x010F] == "Scanner"


def test_xmp_too_long_for_a_jpeg_segment_is_left_out_of_jpegs_only(tmp_path, rgb):
    filler = "x" * 70_000
    packet = lightroom_xmp(orientation=1).replace(b"boats<", f"{filler}<".encode())
    metadata = ImageMetadata(xmp=xmp.for_edited_copy(packet, 60, 40))

    jpeg = save_image(tmp_path / "out.jpg", rgb, metadata=metadata)
    png = save_image(tmp_path / "out.png", rgb, metadata=metadata)

    with Image.open(jpeg) as picture:
        assert "xmp" not in picture.info
    assert filler in next(_packet(png).iter(f"{DC}subject")).find(
        f"{RDF}Bag").findall(f"{RDF}li")[1].text


# ----------------------------------------------------------------------------- the modules
def test_xmp_keeps_prefixes_text_and_unknown_namespaces():
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns="urn:default" xmlns:my="urn:mine" my:note="a &lt; b">'
              b'<my:label>R&amp;D &#233;</my:label><plain>default ns</plain>'
              b'</rdf:Description></rdf:RDF></x:xmpmeta>')
    out = xmp.for_edited_copy(packet, 10, 20)
    assert out.startswith(b"<?xpacket begin=") and out.endswith(b'<?xpacket end="w"?>')
    assert b"<rdf:Description" in out and b"<my:label>" in out
    root = ElementTree.fromstring(out.split(b"?>", 1)[1].rsplit(b"<?", 1)[0])
    description = _description(root)
    assert description.attrib["{urn:mine}note"] == "a < b"
    assert description.find("{urn:mine}label").text == "R&D é"
    assert description.find("{urn:default}plain").text == "default ns"


@pytest.mark.parametrize("packet", [b"", b"not xml", b"<a><b></a>",
                                    b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                    b"<a>&e;</a>"])
def test_unreadable_xmp_raises(packet):
    with pytest.raises(xmp.XmpError):
        xmp.for_edited_copy(packet, 1, 1)


def test_an_entity_bomb_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a0 "xxxxxxxxxx">' + b"".join(
        f'<!ENTITY a{k} "{f"&a{k - 1};" * 10}">'.encode() for k in range(1, 10)) \
        + b"]><a>&a9;</a>"
    with pytest.raises(xmp.XmpError):
        xmp.for_edited_copy(bomb, 1, 1)


def test_iptc_goes_after_the_leading_app_segments_of_a_jpeg(rgb):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", exif=phone_exif(rgb), xmp=lightroom_xmp())
    jpeg = buffer.getvalue()

    out = iptc.jpeg_with_iptc(jpeg, agency_iptc())

    markers, place = [], 2
    while out[place] == 0xFF and out[place + 1] != 0xDA:
        markers.append(out[place + 1])
        place += 2 + struct.unpack_from(">H", out, place + 2)[0]
    first_other = next(k for k, marker in enumerate(markers) if not 0xE0 <= marker <= 0xEF)
    assert markers[first_other - 1] == 0xED  # APP13 closes the APPn run
    assert markers.count(0xED) == 1
    assert np.abs(np.asarray(Image.open(io.BytesIO(out))).astype(int)
                  - np.asarray(Image.open(io.BytesIO(jpeg)))).max() == 0
    assert iptc.jpeg_with_iptc(jpeg, b"\x1c" * 70_000) == jpeg  # too long: left out
