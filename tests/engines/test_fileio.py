"""Reading and writing image files: formats, EXIF, alpha, 16-bit, bad input, atomic writes."""

from __future__ import annotations

import datetime
import io
import os
import shutil
import stat
import struct
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from engines import deep_samples
from engines.fileio import (
    IMAGE_SUFFIXES,
    JPEG_DAMAGED,
    ImageFileError,
    ImageMetadata,
    decode_image,
    drops_metadata,
    encode_image,
    frame_count,
    image_size,
    list_images,
    load_image,
    load_mask,
    loses_transparency,
    read_rgb,
    save_image,
    save_mask,
    save_result,
    skipped_files_note,
    suggest_output_path,
    write_atomic,
)
from tests.photos import grey_profile, phone_exif, srgb_profile, write_heic, write_jpeg


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_formats_round_trip(tmp_path, rgb, ext):
    path = save_image(tmp_path / f"a{ext}", rgb, quality=100)
    loaded = load_image(path)
    assert loaded.alpha is None and loaded.source_depth == 8
    assert np.array_equal(loaded.rgb, rgb)


def test_jpeg_round_trip_is_close(tmp_path, rgb):
    loaded = load_image(save_image(tmp_path / "a.jpg", rgb, quality=98))
    assert np.abs(loaded.rgb.astype(int) - rgb).mean() < 3


def test_channel_order_is_rgb(tmp_path):
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    Image.fromarray(red).save(tmp_path / "red.png")
    assert (load_image(tmp_path / "red.png").rgb[..., 0] == 255).all()


def test_alpha_is_kept_and_saved(tmp_path, rgb):
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:10] = 0
    path = save_image(tmp_path / "a.png", rgb, alpha)
    loaded = load_image(path)
    assert np.array_equal(loaded.alpha, alpha) and np.array_equal(loaded.rgb, rgb)


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_formats_without_transparency_get_the_picture_flattened_onto_white(tmp_path, rgb,
                                                                          ext):
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :20] = 0
    alpha[:, 20:30] = 128
    assert loses_transparency(alpha, ext) and not loses_transparency(alpha, ".png")
    assert not loses_transparency(np.full_like(alpha, 255), ext)
    loaded = load_image(save_image(tmp_path / f"flat{ext}", rgb, alpha, quality=100))
    assert loaded.alpha is None
    tolerance = 3 if ext == ".jpg" else 0
    assert (loaded.rgb[:, 2:18] >= 255 - tolerance).all()  # transparent: white
    half = (rgb[:, 22:28].astype(int) + 255) / 2  # half transparent: halfway to white
    assert np.abs(loaded.rgb[:, 22:28] - half).max() <= tolerance + 1
    assert np.abs(loaded.rgb[:, 32:].astype(int) - rgb[:, 32:]).max() <= tolerance + 2


def test_exif_orientation_is_honoured(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=100, exif=exif)
    (tmp_path / "rot.jpg").write_bytes(buffer.getvalue())
    loaded = load_image(tmp_path / "rot.jpg")
    assert loaded.rgb.shape == (60, 40, 3)
    expected = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    assert np.abs(loaded.rgb.astype(int) - expected).mean() < 4
    assert any("EXIF" in note for note in loaded.notes)


def test_16_bit_images_are_read_and_the_conversion_is_said(tmp_path):
    deep = (np.arange(64 * 3, dtype=np.uint16).reshape(8, 8, 3) * 300).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep[..., ::-1])
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.source_depth == 16 and loaded.rgb.dtype == np.uint8
    assert np.array_equal(loaded.rgb, np.rint(deep / 257).astype(np.uint8))
    assert any("16-bit" in note for note in loaded.notes)


def test_grey_images_become_rgb(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.full((5, 6), 90, np.uint8))
    loaded = load_image(tmp_path / "g.png")
    assert loaded.rgb.shape == (5, 6, 3) and (loaded.rgb == 90).all()


def test_corrupt_and_missing_files_give_one_line_errors(tmp_path, rgb):
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all")
    with pytest.raises(ImageFileError, match="not an image"):
        load_image(tmp_path / "junk.png")
    data = (tmp_path / "good.png")
    save_image(data, rgb)
    (tmp_path / "cut.png").write_bytes(data.read_bytes()[:60])
    with pytest.raises(ImageFileError):
        load_image(tmp_path / "cut.png")
    with pytest.raises(ImageFileError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageFileError, match="folder"):
        load_image(tmp_path)


def test_huge_images_are_refused_before_decoding(tmp_path, rgb):
    path = save_image(tmp_path / "a.png", rgb)
    with pytest.raises(ImageFileError, match="megapixels"):
        load_image(path, max_pixels=1000)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


@pytest.fixture
def png_decodes(monkeypatch):
    """Counts the PNG pixel decodes done by Pillow (the picture itself is read by OpenCV)."""
    calls = []
    load = PngImagePlugin.PngImageFile.load

    def counted(self):
        calls.append(self.size)
        return load(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", counted)
    return calls


def test_a_png_claiming_a_huge_size_is_refused_without_decoding_it(tmp_path, png_decodes):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 301)  # one row: far too little data for the claimed size
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", pixels) + _png_chunk(b"tEXt", b"Comment\0hi")
                     + _png_chunk(b"IEND", b""))
    with pytest.raises(ImageFileError, match="10000 megapixels, more than the 300"):
        load_image(path)
    assert png_decodes == []


def test_a_png_without_metadata_is_decoded_once(tmp_path, rgb, png_decodes):
    assert np.array_equal(load_image(save_image(tmp_path / "plain.png", rgb)).rgb, rgb)
    assert png_decodes == []  # OpenCV decoded it; Pillow only read the header


@pytest.mark.parametrize("after_pixels", [False, True])
def test_png_exif_and_xmp_are_read_wherever_they_lie(tmp_path, rgb, after_pixels,
                                                      png_decodes):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    exif[0x010F] = "PhoneMaker"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", exif=exif, pnginfo=info)
    chunks = _png_chunks(buffer.getvalue())
    if after_pixels:  # as some writers place them; Pillow finds those only by decoding
        metadata = [c for c in chunks if c[0] in (b"eXIf", b"iTXt")]
        chunks = [c for c in chunks if c not in metadata]
        chunks[-1:-1] = metadata
    path = tmp_path / "turned.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(*c) for c in chunks))
    loaded = load_image(path)
    assert np.array_equal(loaded.rgb, np.rot90(rgb, -1))
    assert b"xmpmeta" in loaded.metadata.xmp
    parsed = Image.Exif()
    parsed.load(loaded.metadata.exif)
    assert parsed[0x010F] == "PhoneMaker"
    assert len(png_decodes) == (1 if after_pixels else 0)


def test_masks_accept_alpha_and_check_size(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:10, 5:10, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    mask = load_mask(tmp_path / "alpha.png", (20, 30))
    assert mask[5:10, 5:10].all() and mask.sum() == 25 * 255
    with pytest.raises(ImageFileError, match="30x20 but the image is 31x20"):
        load_mask(tmp_path / "alpha.png", (20, 31))
    save_mask(tmp_path / "out.png", mask)
    assert np.array_equal(load_mask(tmp_path / "out.png"), mask)


@pytest.mark.parametrize("colour", [(255, 255, 255), (255, 0, 0), (0, 200, 0), (40, 40, 220)])
def test_masks_painted_in_a_bright_colour_mark_the_hole(tmp_path, colour):
    """By luminance pure red (76) or blue would be dark and the mask empty."""
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[5:10, 5:12] = colour
    pixels[12:15, 5:12] = 60  # dark grey: not the hole
    Image.fromarray(pixels).save(tmp_path / "painted.png")
    mask = load_mask(tmp_path / "painted.png", (20, 30))
    expected = np.zeros((20, 30), bool)
    expected[5:10, 5:12] = True
    assert np.array_equal(mask == 255, expected) and set(np.unique(mask)) == {0, 255}


def test_saving_never_replaces_a_file_unless_asked(tmp_path, rgb):
    path = save_image(tmp_path / "a.png", rgb)
    before = path.read_bytes()
    with pytest.raises(ImageFileError, match="already exists"):
        save_image(path, rgb * 0)
    assert path.read_bytes() == before
    save_image(path, rgb * 0, overwrite=True)
    assert not load_image(path).rgb.any()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_written_files_get_the_usual_permissions(tmp_path, rgb):
    old_umask = os.umask(0o022)
    try:
        fresh = save_image(tmp_path / "fresh.png", rgb)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not private to this program
        os.umask(0o077)
        assert stat.S_IMODE(save_image(tmp_path / "private.png", rgb).stat().st_mode) == 0o600
        os.chmod(fresh, 0o640)
        save_image(fresh, rgb, overwrite=True)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # a replaced file keeps its own
    finally:
        os.umask(old_umask)


def test_failed_writes_leave_no_partial_file(tmp_path, rgb, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ImageFileError, match="No space left"):
        save_image(tmp_path / "a.png", rgb)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_gives_a_clear_error(tmp_path, rgb, monkeypatch):
    from engines import fileio

    def denied(*args, **kwargs):  # what os.open says in a read-only folder (root ignores it)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.os, "open", denied)
    with pytest.raises(ImageFileError, match=r"cannot write to .*Permission denied"):
        save_image(tmp_path / "a.png", rgb)
    assert not (tmp_path / "a.png").exists()


def test_missing_folder_and_unknown_format_give_clear_errors(tmp_path, rgb):
    with pytest.raises(ImageFileError, match="does not exist"):
        write_atomic(tmp_path / "nope" / "a.png", b"x")
    (tmp_path / "notes.txt").write_text("a file where a folder should be")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt is a file, not a folder"):
        write_atomic(tmp_path / "notes.txt" / "a.png", b"x")
    with pytest.raises(ImageFileError, match=r"cannot write \.xyz"):
        save_image(tmp_path / "a.xyz", rgb)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a Unix feature")
def test_a_named_pipe_nobody_writes_to_is_refused_not_waited_on(tmp_path, rgb):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    outcome = []

    def read() -> None:
        try:
            load_image(fifo)
        except ImageFileError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(20)
    if reader.is_alive():  # it waits for a writer: give it one so the thread ends
        with open(fifo, "wb"):
            pass
    assert outcome == [f"{fifo}: is a pipe with nothing written to it, not an image file"]


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_pipe_being_written_to_is_read_to_its_end(rgb):
    encoded = encode_image(rgb, ".png")
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for start in range(0, len(encoded), 4096):  # in pieces, as a program writes
                pipe.write(encoded[start:start + 4096])
                pipe.flush()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        loaded = load_image(f"/dev/fd/{read_end}")
    finally:
        writer.join(20)
        os.close(read_end)
    assert np.array_equal(loaded.rgb, rgb)


def _photo(height: int = 96, width: int = 128) -> np.ndarray:
    """A smooth photo-like picture with no flat grey or black anywhere."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([40 + x, 60 + y, 200 - (x + y) // 3], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_file_cut_short_is_refused_unless_asked_then_its_missing_part_is_the_hole(
        tmp_path, suffix):
    photo = _photo()
    whole = encode_image(photo, suffix, quality=95)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[:len(whole) * 3 // 5])
    with pytest.raises(ImageFileError, match="the file is cut short"):
        load_image(cut)  # the CLI, folder runs and training read it as before: refused

    loaded = load_image(cut, cut_short_ok=True)
    missing = loaded.missing > 0
    assert loaded.rgb.shape == photo.shape and loaded.missing.dtype == np.uint8
    rows = np.flatnonzero(missing.any(axis=1))
    assert rows[-1] == 95 and missing[rows[0] + 32:].all()  # the tail, from the cut down
    assert 0.2 < missing.mean() < 0.8
    assert "cut short" in loaded.notes[0] and f"{missing.mean():.1%}" in loaded.notes[0]
    decoded_whole = decode_image(whole).rgb
    error = np.abs(loaded.rgb[~missing].astype(int) - decoded_whole[~missing])
    assert error.max() <= (0 if suffix == ".png" else 8)  # what the file holds is kept
    intact = tmp_path / f"whole{suffix}"
    intact.write_bytes(whole)
    assert load_image(intact, cut_short_ok=True).missing is None  # a whole file lacks nothing


def test_a_png_damaged_inside_is_called_damaged_not_cut_short(tmp_path):
    whole = encode_image(_photo(), ".png")
    damaged = bytearray(whole)
    middle = len(damaged) // 2
    damaged[middle:middle + 64] = bytes(64)  # inside the pixel data; IEND still at the end
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(damaged))
    with pytest.raises(ImageFileError, match="damaged: its image data breaks off partway") \
            as refused:
        load_image(path)
    assert "cut short" not in str(refused.value)
    loaded = load_image(path, cut_short_ok=True)
    assert loaded.notes[0].startswith("the file is damaged: its image data breaks off partway")
    assert "cut short" not in loaded.notes[0]


def test_a_progressive_jpeg_cut_short_lacks_detail_not_an_area(tmp_path):
    _ok, encoded = cv2.imencode(".jpg", _photo()[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(encoded.tobytes()[:len(encoded) // 2])
    loaded = load_image(cut, cut_short_ok=True)
    assert loaded.missing is None and "decoded as far as it goes" in loaded.notes[0]


def test_suggested_output_names_never_collide(tmp_path, rgb):
    source = save_image(tmp_path / "photo.jpg", rgb)
    first = suggest_output_path(source)
    assert first.name == "photo_inpainted.jpg"
    save_image(first, rgb)
    assert suggest_output_path(source).name == "photo_inpainted-2.jpg"


def test_folder_and_size_helpers(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255
    picture = Image.fromarray(pixels)
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    picture.save(tmp_path / "turned.jpg", exif=exif)
    assert image_size(tmp_path / "turned.jpg") == (20, 40)
    assert read_rgb(tmp_path / "turned.jpg").shape == (40, 20, 3)
    (tmp_path / ".hidden.png").write_bytes(encode_image(pixels, ".png"))
    (tmp_path / "b.PNG").write_bytes(encode_image(pixels, ".png"))
    assert [p.name for p in list_images(tmp_path)] == ["b.PNG", "turned.jpg"]
    with pytest.raises(NotADirectoryError):
        list_images(tmp_path / "b.PNG")
    with pytest.raises(OSError):
        read_rgb(tmp_path / "missing.png")
    with pytest.raises(ImageFileError, match=r"cannot write \.jxl"):
        encode_image(pixels, ".jxl")


def _odd_folder(tmp_path):
    """A folder of pictures with everything a folder run leaves out: a text file,
    subfolders holding pictures (one a folder named like a picture), a link to a folder of
    pictures, a broken link, a link loop, a pipe and a hidden picture; and a link to a
    picture elsewhere, which counts as a picture."""
    pixels = encode_image(np.zeros((4, 6, 3), np.uint8), ".png")
    folder, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    (folder / "sub" / "deeper").mkdir(parents=True)
    elsewhere.mkdir()
    for path in (folder / "a.png", folder / "sub" / "nested.png",
                 folder / "sub" / "deeper" / "deep.png", elsewhere / "linked.png",
                 folder / ".hidden.png"):
        path.write_bytes(pixels)
    (folder / "notes.txt").write_text("not a picture")
    (folder / "dir.png").mkdir()
    (folder / "link.png").symlink_to(elsewhere / "linked.png")
    (folder / "linkdir").symlink_to(elsewhere)
    (folder / "broken.png").symlink_to(tmp_path / "gone.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    os.mkfifo(folder / "pipe.png")
    return folder


def test_list_images_follows_links_to_pictures_and_never_searches_subfolders(tmp_path):
    folder = _odd_folder(tmp_path)
    assert [p.name for p in list_images(folder)] == ["a.png", "link.png"]


def test_skipped_files_note_says_what_was_left_out_and_why(tmp_path):
    folder = _odd_folder(tmp_path)
    assert skipped_files_note(folder) == (
        "1 file skipped: no picture extension (.txt): notes.txt; "
        "3 subfolders not searched (folder runs do not look into subfolders): dir.png/, "
        "linkdir/ (link), sub/; "
        "1 broken link skipped (pointing to nothing): broken.png; "
        "1 symbolic link loop skipped (leading back to itself): loop.png; "
        "1 special file skipped (a pipe, socket or device, not a picture): pipe.png")
    # the folders a run uses itself (its output, its masks) are not news
    assert "subfolders not searched (folder runs do not look into subfolders): linkdir/ " \
        "(link), sub/;" in skipped_files_note(folder, used_folders=[folder / "dir.png"])
    shutil.rmtree(folder / "sub")
    (folder / "dir.png").rmdir()
    for name in ("notes.txt", "linkdir", "broken.png", "loop.png", "pipe.png"):
        (folder / name).unlink()
    assert skipped_files_note(folder) == ""  # the hidden picture is never mentioned
    assert skipped_files_note(tmp_path / "missing") == ""


def test_skipped_files_note_shows_a_few_names_of_each_kind(tmp_path):
    for index in range(7):
        (tmp_path / f"d{index}").mkdir()
    assert skipped_files_note(tmp_path, shown=3) == (
        "7 subfolders not searched (folder runs do not look into subfolders): d0/, d1/, d2/ "
        "and 4 more")


def test_gif_pictures_open_and_save_with_their_colours_and_transparency(tmp_path):
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (12, 3)).astype(np.uint8)
    rgb = palette[rng.integers(0, 12, (40, 60))]
    alpha = np.full((40, 60), 255, np.uint8)
    alpha[:, :15] = 0
    alpha[:, 15:20] = 90  # GIF has no half-transparency: under 128 becomes transparent
    path = save_image(tmp_path / "logo.gif", rgb, alpha)
    loaded = load_image(path)
    opaque = alpha >= 128
    assert np.array_equal(loaded.alpha, np.where(opaque, 255, 0).astype(np.uint8))
    assert np.array_equal(loaded.rgb[opaque], rgb[opaque])  # 12 colours kept exactly
    assert not loses_transparency(alpha, ".gif") and ".gif" in IMAGE_SUFFIXES
    assert drops_metadata(ImageMetadata(exif=b"Exif\0\0II*\0"), ".gif")
    y, x = np.mgrid[0:64, 0:96]
    photo = np.dstack([x * 2, y * 3, (x + y)]).astype(np.uint8)  # thousands of colours
    again = load_image(save_image(tmp_path / "photo.gif", photo)).rgb
    assert np.abs(again.astype(int) - photo).mean() < 6  # 256 colours, dithered


def test_an_animated_gif_opens_at_its_first_frame_with_a_note(tmp_path):
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "lime", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    loaded = load_image(tmp_path / "anim.gif")
    assert (loaded.rgb == (255, 0, 0)).all()
    assert "only the first of its 3 frames is edited and saved" in loaded.notes




# ----------------------------------------------------------------------------- metadata
def _exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """EXIF written by hand, as cameras do, with an IFD1 whose JPEGInterchangeFormat points
    at ``thumbnail`` (Pillow cannot write an IFD1)."""
    ifd0 = (struct.pack("<H", 1) + struct.pack("<HHI", 0x010F, 2, 4) + b"Cam\0"
            + struct.pack("<I", 26))  # the next directory, IFD1, follows at offset 26
    ifd1 = (struct.pack("<H", 2)
            + struct.pack("<HHII", 0x0201, 4, 1, 56)  # the thumbnail follows IFD1
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
            + struct.pack("<I", 0))
    return b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd0 + ifd1 + thumbnail


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif", ".heic", ".avif"])
def test_colour_profile_and_exif_survive_saving(tmp_path, rgb, ext):
    icc = srgb_profile()
    write_jpeg(tmp_path / "phone.jpg", rgb, phone_exif(rgb), icc)
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded.metadata.icc_profile == icc

    saved = save_image(tmp_path / f"out{ext}", loaded.rgb, metadata=loaded.metadata)

    with Image.open(saved) as result:
        assert result.info.get("icc_profile") == icc
        exif = result.getexif()
        assert exif[0x010F] == "PhoneMaker"
        assert exif.get(0x0112, 1) == 1  # saved upright (AVIF keeps no tag for 1)
        camera = exif.get_ifd(ExifTags.IFD.Exif)
        assert camera[0x9003] == "2024:06:01 12:00:00"
        assert (camera[0xA002], camera[0xA003]) == (40, 60)  # the upright size
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[1] == "N"
    reread = load_image(saved)
    assert reread.rgb.shape == (60, 40, 3)  # not turned a second time
    assert not any("EXIF" in note for note in reread.notes)



def test_saving_stamps_the_software_and_modification_date_only(tmp_path, rgb):
    write_jpeg(tmp_path / "phone.jpg", rgb, phone_exif(rgb), srgb_profile())
    loaded = load_image(tmp_path / "phone.jpg")
    before = datetime.datetime.now().replace(microsecond=0)
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)
    with Image.open(saved) as result:
        exif = result.getexif()
        assert exif[0x0131] == "Inpaint Studio"
        stamp = datetime.datetime.strptime(exif[0x0132], "%Y:%m:%d %H:%M:%S")
        assert before <= stamp <= datetime.datetime.now()
        assert exif[0x010F] == "PhoneMaker"  # the rest as it was
        assert exif.get_ifd(ExifTags.IFD.Exif)[0x9003] == "2024:06:01 12:00:00"
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[1] == "N"
    when = datetime.datetime(2030, 1, 2, 3, 4, 5)
    assert ImageMetadata(None, b"Exif\0\0garbage").stamped(when).exif == b"Exif\0\0garbage"
    assert ImageMetadata(icc_profile=b"icc").stamped(when) == ImageMetadata(icc_profile=b"icc")
    saved = save_image(tmp_path / "none.jpg", loaded.rgb)
    with Image.open(saved) as result:
        assert not result.getexif()  # no EXIF is added to a picture that had none

def test_the_exif_thumbnail_is_not_saved(tmp_path, rgb):
    """The thumbnail would still show what the user removed."""
    small = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(small, "JPEG")
    thumbnail = small.getvalue()
    write_jpeg(tmp_path / "camera.jpg", rgb, _exif_with_thumbnail(thumbnail))
    with Image.open(tmp_path / "camera.jpg") as original:
        assert original.getexif().get_ifd(ExifTags.IFD.IFD1)  # the file has one

    loaded = load_image(tmp_path / "camera.jpg")
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)

    data = saved.read_bytes()
    assert thumbnail not in data
    with Image.open(saved) as result:
        assert result.getexif()[0x010F] == "Cam"
        assert not result.getexif().get_ifd(ExifTags.IFD.IFD1)


def test_storage_tags_of_a_tiff_are_not_carried_over(tmp_path):
    """A 16-bit TIFF's own layout (bit depth, strips) must not describe the saved file."""
    pixels = np.random.default_rng(0).integers(0, 65535, (20, 30, 3), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "deep.tif"), pixels)
    loaded = load_image(tmp_path / "deep.tif")
    saved = save_image(tmp_path / "out.tif", loaded.rgb, metadata=loaded.metadata)
    reread = load_image(saved)
    assert reread.source_depth == 8
    assert np.array_equal(reread.rgb, loaded.rgb)


def test_a_profile_for_other_colours_than_rgb_is_dropped_with_a_note(tmp_path, rgb):
    grey_profile = bytearray(srgb_profile())
    grey_profile[16:20] = b"GRAY"
    write_jpeg(tmp_path / "g.jpg", rgb, Image.Exif(), bytes(grey_profile))
    loaded = load_image(tmp_path / "g.jpg")
    assert loaded.metadata.icc_profile is None
    assert any("GRAY colour profile" in note for note in loaded.notes)


def test_metadata_path_keeps_pixels_and_alpha_exact(tmp_path, rgb):
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :7] = 30
    metadata = ImageMetadata(icc_profile=srgb_profile())
    for ext in (".png", ".webp", ".tif"):
        loaded = load_image(save_image(tmp_path / f"a{ext}", rgb, alpha, quality=100,
                                       metadata=metadata))
        assert np.array_equal(loaded.rgb, rgb), ext
        assert np.array_equal(loaded.alpha, alpha), ext
        assert loaded.metadata == metadata, ext


def test_nothing_is_embedded_unless_given(tmp_path, rgb):
    write_jpeg(tmp_path / "phone.jpg", rgb, phone_exif(rgb), srgb_profile())
    loaded = load_image(tmp_path / "phone.jpg")
    saved = save_image(tmp_path / "stripped.jpg", loaded.rgb)
    with Image.open(saved) as result:
        assert "icc_profile" not in result.info
        assert not result.getexif()
    assert load_image(saved).metadata == ImageMetadata()
    assert not ImageMetadata() and bool(loaded.metadata)


def test_half_transparent_tiff_pixels_keep_their_colour(tmp_path):
    """TIFFs store alpha unassociated; their colour must not come back premultiplied."""
    rgba = np.zeros((6, 9, 4), np.uint8)
    rgba[...] = (200, 120, 40, 30)
    rgba[:, :3, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "t.tif")
    loaded = load_image(tmp_path / "t.tif")
    assert np.array_equal(loaded.rgb, rgba[..., :3])
    assert np.array_equal(loaded.alpha, rgba[..., 3])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_transparent_tiff_is_decoded_once(tmp_path, monkeypatch, mode):
    rgba = np.zeros((6, 9, 4), np.uint8)
    rgba[...] = (90, 90, 90, 128)
    Image.fromarray(rgba).convert(mode).save(tmp_path / "t.tif")
    decodes = []
    imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decodes.append(a) or imdecode(*a))
    loaded = load_image(tmp_path / "t.tif")
    assert decodes == []  # straight to Pillow, which keeps the colour unpremultiplied
    assert (loaded.rgb == 90).all() and (loaded.alpha == 128).all()


_TIFF_HEAD = b"Exif\0\0II*\0" + struct.pack("<I", 8)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("exif", [
    _TIFF_HEAD + struct.pack("<H", 5),  # a directory cut short
    _TIFF_HEAD + struct.pack("<HHHII", 1, 0x010F, 2, 40, 9999) + bytes(4),  # data off the end
    _TIFF_HEAD + struct.pack("<HHHII", 1, 0x8769, 4, 1, 8) + bytes(4),  # a directory loop
    b"Exif\0\0" + b"\xff" * 30,
], ids=["truncated", "offset", "loop", "garbage"])
def test_damaged_exif_neither_stops_opening_nor_saving(tmp_path, rgb, exif):
    write_jpeg(tmp_path / "odd.jpg", rgb, exif)
    loaded = load_image(tmp_path / "odd.jpg")
    assert loaded.rgb.shape == rgb.shape
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)
    assert load_image(saved).rgb.shape == rgb.shape


@pytest.mark.parametrize("kind", ["jpg", "png", "webp", "tif", "tif-rgba", "tif-16", "heic",
                                  "avif"])
@pytest.mark.parametrize("orientation", [3, 6])
def test_every_format_is_turned_upright_exactly_once(tmp_path, rgb, kind, orientation):
    """OpenCV turns TIFFs itself (5.0 does) but no other format; neither may end up turned
    twice or not at all."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned.{kind.split('-')[0]}"
    expected = _upright_reference(rgb, orientation)
    if kind == "tif-16":
        deep = rgb.astype(np.uint16) * 257 + 100
        path.write_bytes(deep_samples.encode_deep_tiff(deep, None, exif.tobytes()))
        loaded = load_image(path)
        assert np.array_equal(loaded.deep_original, _upright_reference(deep, orientation))
    elif kind == "heic":  # stored turned, as the container says (see write_heic)
        loaded = load_image(write_heic(path, rgb, exif, quality=100))
    else:
        pixels = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]) \
            if kind == "tif-rgba" else rgb
        Image.fromarray(pixels).save(path, quality=100, exif=exif.tobytes())
        loaded = load_image(path)
    error = np.abs(loaded.rgb.astype(int) - expected).mean()
    lossy = kind in ("jpg", "webp", "heic", "avif")
    assert loaded.rgb.shape == expected.shape and error < (4 if lossy else 1)
    assert image_size(path) == (expected.shape[1], expected.shape[0])


def _upright_reference(pixels: np.ndarray, orientation: int) -> np.ndarray:
    return cv2.rotate(pixels, {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE}[orientation])


@pytest.mark.parametrize("orientation", [1, 6])
def test_floating_point_tiffs_pillow_cannot_open_are_read(tmp_path, rgb, orientation):
    """Pillow does not read floating-point RGB TIFFs (HDR merges write them); the header
    comes from tifffile and the pixels from OpenCV, upright, with the profile kept."""
    import tifffile

    path = tmp_path / "hdr.tif"
    values = rgb / 255.0
    values[0, 0] = [2.5, np.nan, -1.0]  # over-range, NaN and negative samples
    tifffile.imwrite(path, values.astype(np.float32), photometric="rgb",
                     iccprofile=srgb_profile(), extratags=[(0x0112, "H", 1, orientation)])
    with pytest.raises(UnidentifiedImageError):  # the case this covers
        Image.open(path)

    loaded = load_image(path)
    expected = rgb.copy()
    expected[0, 0] = [255, 0, 0]
    expected = expected if orientation == 1 else _upright_reference(expected, orientation)
    assert loaded.source_depth == 32 and np.array_equal(loaded.rgb, expected)
    assert loaded.metadata.icc_profile == srgb_profile()
    assert any(note.startswith("floating-point image with values from -1.0 to 2.5 (outside "
                               "0..1 in under 1% of its samples), shown and edited clipped to "
                               "0..1") for note in loaded.notes)
    assert image_size(path) == (expected.shape[1], expected.shape[0])


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow's, as it probes
def test_a_damaged_tiff_pillow_cannot_open_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"II*\0" + b"\xff" * 12)
    with pytest.raises(ImageFileError) as raised:
        load_image(path)
    # tifffile fails inside with a bare "IndexError: 0": the reason is said in words
    assert str(raised.value) == (f"{path}: the file is damaged (its TIFF structure cannot be "
                                 "read)")
    torn = tmp_path / "torn.tif"
    torn.write_bytes(b"II*\0\x08\0\0\0" + b"\x40\0" + b"\0" * 6)  # an IFD cut short
    with pytest.raises(ImageFileError, match=r"torn\.tif: the file is damaged \(corrupted IFD "
                       r"structure\)$"):  # tifffile's own reason, without its class name
        load_image(torn)
    # tifffile's own log of it is not shown besides (pytest captures logs: a fresh process;
    # Pillow's warning on it is main.py's to silence)
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-W", "ignore::UserWarning", "-c", "import sys; from engines.fileio import load_image\n"
         "try:\n    load_image(sys.argv[1])\nexcept OSError as exc:\n    print(exc)",
         str(path)], capture_output=True, text=True, cwd=Path(__file__).parents[2],
        check=True)
    assert shown.stdout.startswith(f"{path}: the file is damaged") and shown.stderr == ""


@pytest.mark.parametrize("compression", ["tiff_lzw", "tiff_adobe_deflate"])
def test_a_tiff_whose_compressed_data_is_damaged_opens_with_a_note(tmp_path, rgb, compression):
    """QA audit 33, F1: libtiff says so only in OpenCV's log (which main.py silences): the
    decode listens to it, and the picture opens saying it is damaged, as a damaged JPEG
    does; the same file undamaged gets no note, and OpenCV's log level is as it was."""
    import cv2

    path = tmp_path / "whole.tif"
    Image.fromarray(rgb).save(path, compression=compression)
    data = bytearray(path.read_bytes())
    assert load_image(path).notes == ()
    middle = len(data) // 2
    data[middle:middle + 200] = np.random.default_rng(0).integers(0, 256, 200,
                                                                  np.uint8).tobytes()
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(bytes(data))
    levels = cv2.utils.logging
    before = levels.getLogLevel()
    levels.setLogLevel(levels.LOG_LEVEL_SILENT)
    try:
        loaded = load_image(damaged)
        assert levels.getLogLevel() == levels.LOG_LEVEL_SILENT
    finally:
        levels.setLogLevel(before)
    assert JPEG_DAMAGED in loaded.notes
    assert loaded.rgb.shape == rgb.shape


@pytest.mark.parametrize("kind", ["tif", "gif", "webp"])
def test_only_the_first_page_or_frame_is_edited_and_that_is_said(tmp_path, rgb, kind):
    frames = [Image.fromarray(np.roll(rgb, 7 * i, axis=1)) for i in range(3)]
    path = tmp_path / f"several.{kind}"
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    loaded = load_image(path)
    what = "pages" if kind == "tif" else "frames"
    assert f"only the first of its 3 {what} is edited and saved" in loaded.notes
    with Image.open(path) as first:  # as written (GIF: a 256-colour palette)
        assert np.array_equal(loaded.rgb, np.asarray(first.convert("RGB")))
    single = tmp_path / f"single.{kind}"
    frames[0].save(single, lossless=True)
    assert not any("only the first" in note for note in load_image(single).notes)
    assert (frame_count(path), frame_count(single), frame_count(tmp_path / "none")) == (3, 1, 1)


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_writing_through_a_link_replaces_the_file_it_names(tmp_path):
    (tmp_path / "photos").mkdir()
    real = tmp_path / "photos" / "a.png"
    real.write_bytes(b"old")
    link = tmp_path / "a.png"
    link.symlink_to(real)
    write_atomic(link, b"new", overwrite=True)
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "photos")) == ["a.png"]  # no temporary file left


# ------------------------------------------------------------------ grey files stay grey
_HOLE = (slice(16, 32), slice(20, 44))


def _grey_photo(deep: bool = False) -> np.ndarray:
    """A black-and-white photo ``(48, 64)``: a gradient with grain, uint8 or uint16."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:48, 0:64]
    levels = np.clip(40 + 2.5 * x + y + rng.normal(0, 6, (48, 64)), 0, 255) / 255
    return np.rint(levels * (65535 if deep else 255)).astype(np.uint16 if deep else np.uint8)


def _write_grey(path, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A grey file of ``kind`` at ``path``; returns its samples and alpha as stored."""
    deep = kind.endswith("16")
    grey = _grey_photo(deep)
    alpha = None
    if kind == "la":
        alpha = np.full(grey.shape, 255, np.uint8)
        alpha[:, :12] = 90
        Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)
    elif deep:
        assert cv2.imwrite(str(path), grey)
    else:
        Image.fromarray(grey, "L").save(path, quality=95)
    return grey, alpha


def _filled(loaded, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """The picture with the hole filled by telea, or painted ``colour``."""
    from engines import registry
    from engines.base import InpaintRequest

    mask = np.zeros(loaded.rgb.shape[:2], np.uint8)
    mask[_HOLE] = 255
    if colour is not None:
        result = loaded.rgb.copy()
        result[_HOLE] = colour
        return result
    return [*registry.create("telea").run(InpaintRequest(loaded.rgb, mask))][-1].image


@pytest.mark.parametrize("kind,suffix", [
    ("png8", ".png"), ("png16", ".png"), ("jpeg", ".jpg"), ("tif8", ".tif"),
    ("tif16", ".tif"), ("la", ".png")])
def test_an_edited_grey_file_is_saved_grey(tmp_path, kind, suffix):
    grey, alpha = _write_grey(tmp_path / f"bw{suffix}", kind)
    loaded = load_image(tmp_path / f"bw{suffix}")
    assert loaded.grey
    result = _filled(loaded)
    out = save_result(tmp_path / f"out{suffix}", result, loaded)
    with Image.open(out) as saved:
        assert saved.mode == {"png16": "I;16", "tif16": "I;16", "la": "LA"}.get(kind, "L")
    stored = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    if kind == "la":  # OpenCV reads grey+alpha as BGRA
        with Image.open(out) as saved:
            stored, kept_alpha = np.asarray(saved)[..., 0], np.asarray(saved)[..., 1]
        assert np.array_equal(kept_alpha, alpha)
    assert stored.shape == grey.shape and stored.dtype == grey.dtype
    outside = np.ones(grey.shape, bool)
    outside[_HOLE] = False
    if kind == "jpeg":  # lossy: re-encoding moves pixels a little
        assert np.abs(stored[outside].astype(int) - grey[outside]).mean() < 2
    else:
        assert np.array_equal(stored[outside], grey[outside])
    as_8bit = deep_samples.to_8bit if grey.dtype == np.uint16 else np.asarray
    fill = as_8bit(stored[_HOLE]).astype(int)
    assert np.abs(fill - result[_HOLE][..., 0]).max() <= (6 if kind == "jpeg" else 0)  # telea's
    assert (fill != as_8bit(grey[_HOLE])).any()


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_a_grey_file_given_colour_is_saved_in_colour(tmp_path, suffix):
    _write_grey(tmp_path / f"bw{suffix}", "png8" if suffix != ".jpg" else "jpeg")
    loaded = load_image(tmp_path / f"bw{suffix}")
    result = _filled(loaded, colour=(200, 40, 30))  # e.g. a fill from a colour photo
    out = save_result(tmp_path / f"out{suffix}", result, loaded)
    with Image.open(out) as saved:
        assert saved.mode == "RGB"
    back = load_image(out).rgb[_HOLE].astype(int)
    if suffix == ".jpg":  # lossy, and its colour at half resolution: still red
        assert (back[..., 0] - back[..., 2]).mean() > 100
    else:
        assert (back == (200, 40, 30)).all()


def test_a_16_bit_grey_file_given_colour_is_saved_as_16_bit_rgb(tmp_path):
    grey, _ = _write_grey(tmp_path / "bw.png", "png16")
    loaded = load_image(tmp_path / "bw.png")
    out = save_result(tmp_path / "out.png", _filled(loaded, colour=(200, 40, 30)), loaded)
    stored = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert stored.dtype == np.uint16 and stored.shape == (*grey.shape, 3)
    assert (stored[_HOLE] == np.array([200, 40, 30]) * 257).all()
    assert np.array_equal(stored[20:, :20], np.dstack([grey] * 3)[20:, :20])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_a_colour_file_with_only_grey_pixels_stays_rgb(tmp_path, suffix):
    Image.fromarray(np.dstack([_grey_photo()] * 3)).save(tmp_path / f"rgb{suffix}")
    loaded = load_image(tmp_path / f"rgb{suffix}")
    assert not loaded.grey
    out = save_result(tmp_path / f"out{suffix}", _filled(loaded), loaded)
    with Image.open(out) as saved:
        assert saved.mode == "RGB"


def test_formats_without_grey_are_written_in_colour(tmp_path):
    _write_grey(tmp_path / "bw.png", "png8")
    loaded = load_image(tmp_path / "bw.png")
    result = _filled(loaded)
    for suffix, mode in ((".webp", "RGB"), (".gif", "P"), (".bmp", "L")):
        with Image.open(save_result(tmp_path / f"out{suffix}", result, loaded)) as saved:
            assert saved.mode == mode  # GIF: a palette; BMP's 8-bit grey is one
    with Image.open(io.BytesIO(encode_image(result, ".png"))) as plain:
        assert plain.mode == "RGB"  # not told the file was grey


def test_a_grey_file_keeps_its_metadata(tmp_path):
    grey = _grey_photo()
    exif = phone_exif(np.dstack([grey] * 3), orientation=1)
    Image.fromarray(grey, "L").save(tmp_path / "bw.jpg", exif=exif, quality=95)
    deep = _grey_photo(deep=True)
    (tmp_path / "bw16.tif").write_bytes(deep_samples.encode_deep_tiff(deep, None,
                                                                      exif.tobytes()))
    (tmp_path / "bw16.png").write_bytes(deep_samples.encode_png16(deep, None, exif.tobytes()))
    for name, mode in (("bw.jpg", "L"), ("bw16.tif", "I;16"), ("bw16.png", "I;16")):
        loaded = load_image(tmp_path / name)
        assert loaded.grey and loaded.metadata.exif is not None
        out = save_result(tmp_path / f"out-{name}", _filled(loaded), loaded)
        with Image.open(out) as saved:
            assert saved.mode == mode and saved.getexif()[0x010F] == "PhoneMaker"
            assert "icc_profile" not in saved.info
        if name != "bw.jpg":
            stored = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(stored[:_HOLE[0].start], deep[:_HOLE[0].start])


def test_a_grey_png_with_an_rgb_profile_is_saved_grey_without_it(tmp_path):
    Image.fromarray(_grey_photo(), "L").save(tmp_path / "bw.png", icc_profile=srgb_profile())
    loaded = load_image(tmp_path / "bw.png")
    assert loaded.grey and loaded.metadata.icc_profile == srgb_profile()
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    with Image.open(out) as saved:  # an RGB profile cannot describe grey samples
        assert saved.mode == "L" and "icc_profile" not in saved.info
    coloured = save_result(tmp_path / "colour.png", _filled(loaded, (0, 0, 255)), loaded)
    assert load_image(coloured).metadata.icc_profile == srgb_profile()


def test_the_grey_test_profile_is_a_grey_profile_littlecms_reads():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(grey_profile()))
    assert profile.profile.xcolor_space == "GRAY"
    assert ImageCms.getProfileDescription(profile).strip() == "Test Grey Gamma 1.8"


def _write_grey_with_profile(path, kind: str, icc: bytes) -> None:
    """A grey file of ``kind`` (see :func:`_write_grey`) embedding the profile ``icc``."""
    grey = _grey_photo(kind.endswith("16"))
    if kind == "png16":
        path.write_bytes(deep_samples.encode_png16(grey, icc))
    elif kind == "tif16":
        path.write_bytes(deep_samples.encode_deep_tiff(grey, icc))
    elif kind == "la":
        alpha = np.full(grey.shape, 255, np.uint8)
        alpha[:, :12] = 90
        Image.fromarray(np.dstack([grey, alpha]), "LA").save(path, icc_profile=icc)
    else:
        Image.fromarray(grey, "L").save(path, icc_profile=icc, quality=95)


@pytest.mark.parametrize("kind,suffix", [
    ("png8", ".png"), ("jpeg", ".jpg"), ("tif8", ".tif"), ("la", ".png"), ("png16", ".png"),
    ("tif16", ".tif")])
def test_a_grey_file_keeps_itsgrey_profile(tmp_path, kind, suffix):
    icc = grey_profile()
    _write_grey_with_profile(tmp_path / f"bw{suffix}", kind, icc)
    loaded = load_image(tmp_path / f"bw{suffix}")
    assert loaded.grey and loaded.metadata.icc_profile == icc
    assert not any("colour profile" in note for note in loaded.notes)
    out = save_result(tmp_path / f"out{suffix}", _filled(loaded), loaded)
    with Image.open(out) as saved:
        assert saved.mode == {"png16": "I;16", "tif16": "I;16", "la": "LA"}.get(kind, "L")
        assert saved.info.get("icc_profile") == icc
    assert load_image(out).metadata.icc_profile == icc


def test_a_grey_profile_is_left_out_where_the_result_is_rgb(tmp_path):
    icc = grey_profile()
    _write_grey_with_profile(tmp_path / "bw.png", "png8", icc)
    loaded = load_image(tmp_path / "bw.png")
    coloured = save_result(tmp_path / "colour.png", _filled(loaded, (200, 40, 30)), loaded)
    for out in (coloured, *(save_result(tmp_path / f"out{suffix}", _filled(loaded), loaded)
                            for suffix in (".webp", ".gif", ".bmp"))):
        with Image.open(out) as saved:  # WebP and GIF are written in colour
            assert saved.mode in ("RGB", "P", "L") and "icc_profile" not in saved.info
    with Image.open(coloured) as saved:
        assert saved.mode == "RGB"
    _write_grey_with_profile(tmp_path / "bw16.png", "png16", icc)
    deep = load_image(tmp_path / "bw16.png")
    with Image.open(save_result(tmp_path / "colour16.png", _filled(deep, (200, 40, 30)),
                                deep)) as saved:
        assert saved.mode == "RGB" and "icc_profile" not in saved.info  # OpenCV reads 16 bits
    grey_pixels = np.dstack([_grey_photo()] * 3)
    for suffix in (".png", ".jpg", ".tif", ".webp"):  # a picture never loaded, told nothing
        out = save_image(tmp_path / f"plain{suffix}", grey_pixels,
                         metadata=ImageMetadata(icc_profile=icc))
        with Image.open(out) as saved:
            assert saved.mode == "RGB" and "icc_profile" not in saved.info


def test_a_grey_profile_in_a_colour_file_is_not_kept(tmp_path):
    icc = grey_profile()
    Image.fromarray(np.dstack([_grey_photo()] * 3)).save(tmp_path / "rgb.png", icc_profile=icc)
    loaded = load_image(tmp_path / "rgb.png")
    assert not loaded.grey and loaded.metadata.icc_profile is None
    assert any("GRAY colour profile" in note for note in loaded.notes)
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    with Image.open(out) as saved:
        assert saved.mode == "RGB" and "icc_profile" not in saved.info


def test_an_rgb_profile_is_left_out_of_a_grey_result(tmp_path):
    grey_pixels = np.dstack([_grey_photo()] * 3)
    for suffix in (".png", ".jpg", ".tif"):
        out = save_image(tmp_path / f"bw{suffix}", grey_pixels,
                         metadata=ImageMetadata(icc_profile=srgb_profile()), grey=True)
        with Image.open(out) as saved:
            assert saved.mode == "L" and "icc_profile" not in saved.info


def test_a_cmyk_jpeg_is_edited_as_rgb_and_says_so(tmp_path):
    inks = np.zeros((40, 50, 4), np.uint8)
    inks[:, :25, 1] = 255  # magenta ink on the left half: red-purple in RGB
    path = tmp_path / "print.jpg"
    Image.fromarray(inks, "CMYK").save(path, quality=95)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 50, 3)
    assert any(note.startswith("CMYK image (print inks), edited and saved as RGB")
               for note in loaded.notes)
    left, right = loaded.rgb[20, 5].astype(int), loaded.rgb[20, 45].astype(int)
    assert left[1] < 64 and left[0] > 192 and (right > 240).all()  # magenta, white paper
    rgb_photo = tmp_path / "photo.jpg"
    save_image(rgb_photo, loaded.rgb)
    assert not any("CMYK" in note for note in load_image(rgb_photo).notes)


def test_a_file_without_an_extension_is_skipped_as_such(tmp_path):
    save_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "a.png").rename(tmp_path / "picture")  # a PNG, but no extension to say so
    (tmp_path / "notes.txt").write_text("x")
    assert skipped_files_note(tmp_path) == (
        "2 files skipped: no picture extension (.txt, none): notes.txt, picture")
