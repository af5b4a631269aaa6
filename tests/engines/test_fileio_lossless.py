"""Saving in the original's format changes only the edited pixels: a lossless WebP is written
lossless again (its RIFF chunk says which it was), a GIF on its own palette; and a layer file
drawn on an EXIF-turned photo as stored is refused saying so."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from engines import fileio
from engines.fileio import (
    ImageFileError,
    ImageMetadata,
    ImageShape,
    SourceFormat,
    _gif_colours,
    _webp_lossless,
    decode_image,
    encode_image,
    load_colour_strokes,
    load_image,
    load_mask,
    other_size_reason,
    save_mask,
    save_result,
)
from tests.photos import srgb_profile


def _gradient(height: int = 60, width: int = 80) -> np.ndarray:
    """Smooth RGB with fine detail: lossy encoders visibly change it."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 255 // (width - 1), y * 255 // (height - 1),
                      (x + y) * 3 % 256]).astype(np.uint8)


def _hole(shape: tuple[int, int]) -> np.ndarray:
    hole = np.zeros(shape, bool)
    hole[20:35, 30:50] = True
    return hole


def _filled(rgb: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
    """``rgb`` with ``hole`` filled with noise: colours the original does not have."""
    result = rgb.copy()
    noise = np.random.default_rng(seed).integers(0, 256, (int(hole.sum()), 3))
    result[hole] = noise.astype(np.uint8)
    return result


def _image_chunk(data: bytes) -> bytes:
    """The first ``VP8 `` or ``VP8L`` chunk type of a WebP file, walked here on its own."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    offset = 12
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, offset)
        if kind in (b"VP8 ", b"VP8L"):
            return kind
        offset += 8 + 16 if kind == b"ANMF" else 8 + length + (length & 1)
    raise AssertionError("no image chunk")


# ----------------------------------------------------------------------------- WebP
@pytest.mark.parametrize("case, lossless", [
    ("rgb lossless", True),  # a bare VP8L file
    ("rgba lossless", True),
    ("profile lossless", True),  # VP8X, ICCP, then VP8L
    ("rgb lossy", False),  # a bare VP8 file
    ("rgba lossy", False),  # VP8X, ALPH, then VP8
    ("animation lossless", True),  # VP8X, ANIM, ANMF holding VP8L
    ("animation lossy", False),
])
def test_loading_records_whether_a_webp_is_lossless(tmp_path, case, lossless):
    rgb = _gradient()
    picture = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
                              if "rgba" in case else rgb)
    path = tmp_path / "in.webp"
    options = {"lossless": lossless, "quality": 90}
    if "profile" in case:
        options["icc_profile"] = srgb_profile()
    if "animation" in case:
        options.update(save_all=True, append_images=[Image.fromarray(255 - rgb)])
    picture.save(path, **options)
    assert (_image_chunk(path.read_bytes()) == b"VP8L") is lossless  # what the file holds
    assert load_image(path).metadata.source.lossless_webp is lossless


def test_a_lossless_webp_is_saved_lossless_and_only_the_hole_changes(tmp_path):
    rgb = _gradient()
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :10] = 0  # fully transparent: the colour stored under it is kept too
    alpha[:, 10:15] = 77
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "in.webp", lossless=True,
                                                  exact=True)
    loaded = load_image(tmp_path / "in.webp")
    hole = _hole(rgb.shape[:2])
    result = _filled(loaded.rgb, hole)
    saved = save_result(tmp_path / "out.webp", result, loaded)
    assert _image_chunk(saved.read_bytes()) == b"VP8L"
    again = load_image(saved)
    assert np.array_equal(again.rgb, result)  # the hole too: lossless
    assert np.array_equal(again.rgb[~hole], rgb[~hole])
    assert np.array_equal(again.alpha, alpha)
    assert again.metadata.source.lossless_webp  # and so on, save after save


@pytest.mark.parametrize("keep_metadata", [True, False])
def test_a_lossless_webp_stays_lossless_with_or_without_its_metadata(tmp_path, keep_metadata):
    rgb = _gradient()
    Image.fromarray(rgb).save(tmp_path / "in.webp", lossless=True, icc_profile=srgb_profile())
    loaded = load_image(tmp_path / "in.webp")
    hole = _hole(rgb.shape[:2])
    saved = save_result(tmp_path / "out.webp", _filled(rgb, hole), loaded,
                        keep_metadata=keep_metadata)
    assert _image_chunk(saved.read_bytes()) == b"VP8L"
    with Image.open(saved) as written:
        assert ("icc_profile" in written.info) is keep_metadata
    assert np.array_equal(load_image(saved).rgb[~hole], rgb[~hole])


def test_a_lossy_webp_stays_lossy_at_quality_95(tmp_path):
    rgb = _gradient()
    Image.fromarray(rgb).save(tmp_path / "in.webp", quality=80)
    loaded = load_image(tmp_path / "in.webp")
    assert not loaded.metadata.source.lossless_webp
    saved = save_result(tmp_path / "out.webp", loaded.rgb, loaded)
    assert _image_chunk(saved.read_bytes()) == b"VP8 "
    assert saved.read_bytes() == encode_image(loaded.rgb, ".webp", quality=95)


def test_only_webp_follows_a_lossless_original(tmp_path):
    """A lossless WebP's edit saved as JPEG is a JPEG as ever; a PNG's saved as WebP lossy."""
    rgb = _gradient()
    Image.fromarray(rgb).save(tmp_path / "in.webp", lossless=True)
    loaded = load_image(tmp_path / "in.webp")
    jpeg = save_result(tmp_path / "out.jpg", rgb, loaded).read_bytes()
    assert jpeg[:2] == b"\xff\xd8"
    Image.fromarray(rgb).save(tmp_path / "in.png")
    from_png = save_result(tmp_path / "from_png.webp", rgb, load_image(tmp_path / "in.png"))
    assert _image_chunk(from_png.read_bytes()) == b"VP8 "


def test_the_source_format_is_no_metadata_to_write():
    """Truth and equality are about the tags written; stripping keeps the storage form."""
    metadata = ImageMetadata(icc_profile=b"icc", source=SourceFormat(lossless_webp=True))
    assert metadata == ImageMetadata(icc_profile=b"icc")
    assert not ImageMetadata(source=SourceFormat(lossless_webp=True))
    stripped = metadata.stripped()
    assert not stripped and stripped.source.lossless_webp
    assert metadata.stamped().source.lossless_webp


@pytest.mark.parametrize("data", [b"", b"RIFF\0\0\0\0WEBP", b"RIFF\0\0\0\0WEBPVP8X\xff\xff\xff\xff",
                                  b"RIFF\0\0\0\0WAVEVP8L\0\0\0\0"])
def test_a_damaged_or_foreign_riff_reads_as_lossy(data):
    assert _webp_lossless(data) is False


# ----------------------------------------------------------------------------- GIF
def _gif(path, rgb: np.ndarray, hidden: np.ndarray | None = None) -> None:
    """``rgb`` written as a GIF by Pillow's own conversion; ``hidden`` pixels transparent,
    by an entry of their own (colour 1, 2, 3) after the colours."""
    picture = Image.fromarray(rgb).quantize(256 if hidden is None else 255)
    options = {}
    if hidden is not None:
        indices, palette = np.array(picture), picture.getpalette()
        options["transparency"] = len(palette) // 3
        indices[hidden] = options["transparency"]
        picture = Image.fromarray(indices, "P")
        picture.putpalette([*palette, 1, 2, 3])
    picture.save(path, **options)


def _indices_and_palette(path) -> tuple[np.ndarray, np.ndarray]:
    with Image.open(path) as written:
        assert written.mode == "P"
        return np.array(written), np.array(written.getpalette(), np.uint8).reshape(-1, 3)


def test_a_gif_is_saved_on_its_own_palette_and_untouched_pixels_keep_their_entry(tmp_path):
    rgb = _gradient(150, 200)  # Pillow converts it to 245 colours: the QA audit's picture
    _gif(tmp_path / "in.gif", rgb)
    indices, palette = _indices_and_palette(tmp_path / "in.gif")
    loaded = load_image(tmp_path / "in.gif")
    assert loaded.metadata.source.palette == palette.tobytes()
    hole = np.zeros(rgb.shape[:2], bool)
    hole[60:90, 80:120] = True
    result = _filled(loaded.rgb, hole)
    saved = save_result(tmp_path / "out.gif", result, loaded)
    written, written_palette = _indices_and_palette(saved)
    assert np.array_equal(written_palette, palette)
    assert np.array_equal(written[~hole], indices[~hole])  # entry for entry
    again = load_image(saved).rgb
    assert np.array_equal(again[~hole], loaded.rgb[~hole])
    # each filled pixel has the palette colour nearest its own (no dithering)
    distances = ((result[hole][:, None, :].astype(int) - palette[None].astype(int)) ** 2).sum(2)
    assert np.array_equal(distances[np.arange(len(distances)), written[hole]],
                          distances.min(axis=1))


def test_a_transparent_gif_keeps_its_transparent_entry(tmp_path):
    rgb = _gradient()
    hidden = np.zeros(rgb.shape[:2], bool)
    hidden[:, :12] = True
    _gif(tmp_path / "in.gif", rgb, hidden)
    indices, palette = _indices_and_palette(tmp_path / "in.gif")
    with Image.open(tmp_path / "in.gif") as original:
        transparent = original.info["transparency"]
    loaded = load_image(tmp_path / "in.gif")
    assert loaded.metadata.source.transparent_index == transparent
    assert np.array_equal(loaded.alpha == 0, hidden)
    hole = _hole(rgb.shape[:2])
    result = _filled(loaded.rgb, hole)
    result[25, 40] = palette[transparent]  # the transparent entry's colour, filled opaque
    saved = save_result(tmp_path / "out.gif", result, loaded)
    written, _ = _indices_and_palette(saved)
    with Image.open(saved) as picture:
        assert picture.info["transparency"] == transparent
    assert np.array_equal(written[~hole], indices[~hole])
    assert (written[hole] != transparent).all()  # stays opaque
    again = load_image(saved)
    assert np.array_equal(again.alpha, loaded.alpha)
    opaque = ~hidden & ~hole
    assert np.array_equal(again.rgb[opaque], loaded.rgb[opaque])


def test_a_gif_palette_gets_a_transparent_entry_when_it_has_room(tmp_path):
    """Transparency an original without a transparent entry did not have (as from an edit)
    gets one after its colours; a full palette is quantised afresh instead, as ever."""
    colours = np.array([[255, 0, 0], [0, 0, 255], [0, 160, 0]], np.uint8)
    rgb = colours[np.indices((40, 60)).sum(0) % 3]
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:5] = 0
    source = SourceFormat(palette=colours.tobytes())
    data = encode_image(rgb, ".gif", alpha, metadata=ImageMetadata(source=source))
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.info["transparency"] == 3
        written = np.array(picture)
    assert (written[:5] == 3).all()
    assert np.array_equal(written[5:], (np.indices((40, 60)).sum(0) % 3)[5:])
    full = SourceFormat(palette=np.zeros((256, 3), np.uint8).tobytes())
    again = decode_image(encode_image(rgb, ".gif", alpha, metadata=ImageMetadata(source=full)))
    assert np.array_equal(again.alpha == 0, alpha == 0)
    assert np.array_equal(again.rgb[5:], rgb[5:])  # 3 colours, quantised exactly


def test_an_edit_of_another_format_saved_as_gif_is_quantised_as_before(tmp_path):
    rgb = _gradient()
    Image.fromarray(rgb).save(tmp_path / "in.png")
    loaded = load_image(tmp_path / "in.png")
    assert loaded.metadata.source.palette is None
    assert save_result(tmp_path / "out.gif", rgb, loaded).read_bytes() \
        == encode_image(rgb, ".gif")


def test_the_gif_palette_is_kept_without_the_photo_metadata(tmp_path):
    rgb = _gradient()
    _gif(tmp_path / "in.gif", rgb)
    indices, _ = _indices_and_palette(tmp_path / "in.gif")
    loaded = load_image(tmp_path / "in.gif")
    hole = _hole(rgb.shape[:2])
    saved = save_result(tmp_path / "out.gif", _filled(loaded.rgb, hole), loaded,
                        keep_metadata=False)
    assert np.array_equal(_indices_and_palette(saved)[0][~hole], indices[~hole])


def test_filled_colours_get_the_nearest_palette_entry_block_after_block(monkeypatch):
    monkeypatch.setattr(fileio, "_NEAREST_BLOCK", 7)  # many blocks, a short last one
    rng = np.random.default_rng(2)
    colours = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    rgb = rng.integers(0, 256, (10, 9, 3)).astype(np.uint8)
    source = SourceFormat(palette=colours.tobytes())
    with Image.open(io.BytesIO(encode_image(rgb, ".gif",
                                            metadata=ImageMetadata(source=source)))) as gif:
        written = np.array(gif).reshape(-1)
    distances = ((rgb.reshape(-1, 1, 3).astype(int) - colours[None].astype(int)) ** 2).sum(2)
    assert np.array_equal(distances[np.arange(len(written)), written], distances.min(axis=1))


def test_a_local_colour_table_is_the_first_pictures_palette():
    """A GIF whose first picture has its own table (after a global one and extensions)."""
    local = bytes(range(12))  # 4 entries
    data = (b"GIF89a" + struct.pack("<HH", 2, 1) + bytes([0x80, 0, 0]) + b"\xff" * 6
            + b"\x21\xfe\x03abc\x00"  # a comment
            + b"\x21\xf9\x04\x01\x00\x00\x02\x00"  # transparent entry 2
            + b"\x2c" + struct.pack("<HHHH", 0, 0, 2, 1) + bytes([0x81]) + local
            + b"\x02\x02\x44\x01\x00\x3b")
    assert _gif_colours(data) == SourceFormat(palette=local, transparent_index=2)
    assert _gif_colours(data[:30]) == SourceFormat()  # cut short before the picture
    assert _gif_colours(b"GIF89a") == SourceFormat()


# ----------------------------------------------------------------------------- orientation
def _turned_photo(path) -> None:
    """A phone photo stored 200x150 with EXIF orientation 6: shown 150x200."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_gradient(150, 200)).save(path, exif=exif.tobytes(), quality=95)


def test_a_mask_of_the_stored_size_of_a_turned_photo_is_refused_saying_so(tmp_path):
    _turned_photo(tmp_path / "phone.jpg")
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded.orientation == 6
    assert loaded.shape == (200, 150) and loaded.shape.stored == (150, 200)
    stored_size = np.zeros((150, 200), np.uint8)
    stored_size[60:90, 80:120] = 255
    save_mask(tmp_path / "mask.png", stored_size)
    with pytest.raises(ImageFileError) as refused:
        load_mask(tmp_path / "mask.png", loaded.shape)
    assert str(refused.value) == (
        f"{tmp_path / 'mask.png'}: the mask is 200x150 but the image is 150x200 (turned "
        "upright by its EXIF orientation; stored as 200x150): draw the mask on the upright "
        "picture")
    with pytest.raises(ImageFileError, match=r"the sketch is 200x150 .* draw the sketch on"):
        load_mask(tmp_path / "mask.png", loaded.shape, "sketch")
    upright = np.ascontiguousarray(np.rot90(stored_size, -1))
    save_mask(tmp_path / "upright.png", upright)
    assert np.array_equal(load_mask(tmp_path / "upright.png", loaded.shape), upright)


def test_colour_strokes_of_the_stored_size_are_refused_saying_so(tmp_path):
    _turned_photo(tmp_path / "phone.jpg")
    strokes = np.zeros((150, 200, 4), np.uint8)
    strokes[10:20, 10:20] = (255, 0, 0, 255)
    Image.fromarray(strokes).save(tmp_path / "strokes.png")
    with pytest.raises(ImageFileError) as refused:
        load_colour_strokes(tmp_path / "strokes.png", load_image(tmp_path / "phone.jpg").shape)
    assert str(refused.value).endswith(
        "the colour strokes are 200x150 but the image is 150x200 (turned upright by its EXIF "
        "orientation; stored as 200x150): draw the colour strokes on the upright picture")


@pytest.mark.parametrize("case", ["not turned", "other size", "plain tuple"])
def test_other_size_refusals_mention_turning_only_when_it_explains_them(tmp_path, case):
    if case == "not turned":  # a portrait picture stored upright, a landscape mask
        Image.fromarray(_gradient(200, 150)).save(tmp_path / "photo.jpg")
    else:
        _turned_photo(tmp_path / "photo.jpg")
    loaded = load_image(tmp_path / "photo.jpg")
    mask_size = (120, 90) if case == "other size" else (150, 200)
    save_mask(tmp_path / "mask.png", np.full(mask_size, 255, np.uint8))
    shape = loaded.rgb.shape[:2] if case == "plain tuple" else loaded.shape
    with pytest.raises(ImageFileError) as refused:
        load_mask(tmp_path / "mask.png", shape)
    assert str(refused.value) == (
        f"{tmp_path / 'mask.png'}: the mask is {mask_size[1]}x{mask_size[0]} but the image "
        "is 150x200; they must be the same size")


def test_the_other_size_reason_serves_any_layer():
    """The words a label map's or any other layer's size check can give."""
    turned = ImageShape(200, 150, (150, 200))
    assert other_size_reason("label map", 200, 150, turned) == (
        "the label map is 200x150 but the image is 150x200 (turned upright by its EXIF "
        "orientation; stored as 200x150): draw the label map on the upright picture")
    assert other_size_reason("label map", 200, 150, (200, 150)) == (
        "the label map is 200x150 but the image is 150x200; they must be the same size")


def test_an_image_shape_is_a_plain_height_width_tuple():
    shape = ImageShape(200, 150, (150, 200))
    height, width = shape
    assert (height, width) == (200, 150) and shape == (200, 150) and shape[:2] == (200, 150)
    assert len(shape) == 2 and isinstance(shape, tuple)
    assert ImageShape(4, 3).stored == (4, 3)
