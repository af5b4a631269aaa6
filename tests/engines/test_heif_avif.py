"""HEIC/HEIF (what phones save) and AVIF: opened upright with their metadata, edited, and
saved in the same format; what cannot be kept is said, what cannot be read is refused."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image

import main
from engines import fileio
from engines.fileio import ImageFileError, list_images, load_image, save_image, save_mask
from tests.conftest import ROOT
from tests.photos import lightroom_xmp, phone_exif, srgb_profile, write_heic

FORMATS = {".heic": "HEIF", ".avif": "AVIF"}


def _mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_a_phone_heic_opens_upright_and_saves_as_heic_with_its_metadata(tmp_path, rgb):
    icc = srgb_profile()
    source = write_heic(tmp_path / "IMG_0001.HEIC", rgb, phone_exif(rgb, orientation=6), icc,
                        lightroom_xmp())
    loaded = load_image(source)
    upright = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    assert loaded.rgb.shape == upright.shape and _mean_error(loaded.rgb, upright) < 3
    assert fileio.image_size(source) == (upright.shape[1], upright.shape[0])
    assert loaded.metadata.icc_profile == icc

    target = fileio.suggest_output_path(source)
    assert target.name == "IMG_0001_inpainted.heic"  # the same kind of file as the original
    fileio.save_result(target, loaded.rgb, loaded)
    with Image.open(target) as saved:
        assert saved.format == "HEIF"
        assert saved.info.get("icc_profile") == icc
        exif = saved.getexif()
        assert exif[0x010F] == "PhoneMaker" and exif.get(0x0112, 1) == 1
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)[1] == "N"
        assert b"Harbour at dusk" in saved.info["xmp"]
    reread = load_image(target)
    assert reread.rgb.shape == upright.shape  # not turned again
    assert _mean_error(reread.rgb, loaded.rgb) < 3


def test_an_avif_follows_its_orientation_and_saves_as_avif(tmp_path, rgb):
    source = tmp_path / "photo.avif"
    Image.fromarray(rgb).save(source, quality=95, exif=phone_exif(rgb, orientation=6).tobytes())
    loaded = load_image(source)
    upright = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    assert loaded.rgb.shape == upright.shape and _mean_error(loaded.rgb, upright) < 3
    assert "rotated upright as its EXIF orientation says" in loaded.notes

    saved = fileio.save_result(tmp_path / "out.avif", loaded.rgb, loaded)
    with Image.open(saved) as picture:
        assert picture.format == "AVIF" and picture.getexif()[0x010F] == "PhoneMaker"
    assert load_image(saved).rgb.shape == upright.shape


@pytest.mark.parametrize("suffix", FORMATS)
def test_transparency_is_kept(tmp_path, rgb, suffix):
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :20] = 0
    alpha[:10] = 128
    loaded = load_image(save_image(tmp_path / f"cut{suffix}", rgb, alpha, quality=95))
    assert loaded.alpha is not None
    assert np.abs(loaded.alpha.astype(int) - alpha).max() <= 2
    opaque = alpha == 255
    assert _mean_error(loaded.rgb[opaque], rgb[opaque]) < 3


@pytest.mark.parametrize("suffix", FORMATS)
def test_saving_without_metadata_still_writes_the_format(tmp_path, rgb, suffix):
    saved = save_image(tmp_path / f"plain{suffix}", rgb)
    with Image.open(saved) as picture:
        assert picture.format == FORMATS[suffix]
        assert "icc_profile" not in picture.info and not picture.getexif()
    grey = save_image(tmp_path / f"grey{suffix}", rgb[..., 0])  # a map: written as RGB
    assert _mean_error(load_image(grey).rgb[..., 1], rgb[..., 0]) < 3


def test_a_10_bit_heic_is_edited_at_8_bits_and_that_is_said(tmp_path):
    import pillow_heif

    deep = np.random.default_rng(3).integers(0, 65536, (16, 24, 3), dtype=np.uint16)
    picture = pillow_heif.from_bytes(mode="RGB;16", size=(24, 16), data=deep.tobytes())
    picture.save(tmp_path / "ten.heic", quality=-1)  # 10 bits per sample
    loaded = load_image(tmp_path / "ten.heic")
    assert "10-bit image, edited and saved at 8 bits per channel" in loaded.notes
    assert loaded.rgb.dtype == np.uint8 and loaded.deep_original is None


def test_heif_colour_primaries_without_a_profile_are_mentioned(tmp_path, rgb):
    write_heic(tmp_path / "p3.heic", rgb)  # pillow-heif: sRGB primaries by default
    assert not any("primaries" in note for note in load_image(tmp_path / "p3.heic").notes)
    display_p3 = {"color_primaries": 12, "transfer_characteristics": 13,
                  "matrix_coefficients": 6, "full_range_flag": 1}
    Image.fromarray(rgb).save(tmp_path / "p3.heic", "HEIF", nclx_profile=display_p3)
    notes = load_image(tmp_path / "p3.heic").notes
    assert any("HEIF colour primaries (code 12)" in note for note in notes)


@pytest.mark.parametrize("suffix", FORMATS)
def test_damaged_files_give_one_line_errors(tmp_path, rgb, suffix):
    whole = save_image(tmp_path / f"whole{suffix}", rgb).read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageFileError) as caught:
        load_image(tmp_path / f"cut{suffix}")
    assert "\n" not in str(caught.value) and f"cut{suffix}" in str(caught.value)


def test_without_pillow_heif_heic_is_refused_saying_what_to_install(tmp_path, rgb,
                                                                     monkeypatch):
    source = write_heic(tmp_path / "phone.heic", rgb)
    monkeypatch.setattr(fileio, "_heif_support", lambda: False)
    monkeypatch.setattr(Image, "ID", [kind for kind in Image.ID if kind != "HEIF"])
    with pytest.raises(ImageFileError, match="need the pillow-heif package"):
        load_image(source)
    with pytest.raises(ImageFileError, match="needs the pillow-heif package"):
        save_image(tmp_path / "out.heic", rgb)
    assert not (tmp_path / "out.heic").exists()
    save_image(tmp_path / "out.avif", rgb)  # AVIF is Pillow's own


def test_folder_runs_take_phone_pictures_and_write_them_back_alike(tmp_path, capsys):
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:60, 0:80]
    images, masks = tmp_path / "phone", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    originals = {}
    for name in ("IMG_0001.heic", "IMG_0002.avif"):
        pixels = np.clip(np.stack([x * 3, y * 3, x + y], -1) + rng.normal(0, 3, (60, 80, 3)),
                         0, 255).astype(np.uint8)
        pixels[20:40, 30:50] = (250, 20, 20)  # the thing to remove
        save_image(images / name, pixels)
        originals[name] = load_image(images / name).rgb
    hole = np.zeros((60, 80), np.uint8)
    hole[18:42, 28:52] = 255
    save_mask(masks / "all.png", hole)
    assert [p.name for p in list_images(images)] == ["IMG_0001.heic", "IMG_0002.avif"]

    assert main.main(["batch", "--images", str(images), "--mask", str(masks / "all.png"),
                      "-o", str(tmp_path / "out"), "--engine", "telea"]) == 0
    assert "skipped" not in capsys.readouterr().err
    for name, before in originals.items():
        with Image.open(tmp_path / "out" / name) as written:
            assert written.format == FORMATS[name[-5:]]
        after = load_image(tmp_path / "out" / name).rgb
        kept = hole == 0
        assert _mean_error(after[kept], before[kept]) < 2  # re-encoded, not repainted
        assert after[25:35, 35:45, 0].mean() < 200  # the red square is gone


def test_inpaint_reads_a_heic_and_writes_a_heic_in_a_fresh_process(tmp_path, rgb):
    """A process of its own: only the program itself can have made HEIC readable there."""
    source = write_heic(tmp_path / "photo.heic", rgb)
    hole = np.zeros(rgb.shape[:2], np.uint8)
    hole[20:30, 20:40] = 255
    save_mask(tmp_path / "mask.png", hole)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "inpaint", str(source),
                           str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.heic"),
                           "--engine", "telea"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "out.heic") as picture:
        assert picture.format == "HEIF"
    after = load_image(tmp_path / "out.heic").rgb
    assert _mean_error(after[hole == 0], load_image(source).rgb[hole == 0]) < 2
