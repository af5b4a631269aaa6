"""The command line: round trips, batch runs, the engine table and one-line errors."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

import main
from engines.fileio import load_image, save_image, save_mask
from tests.cli.refusals import argument_error
from tests.conftest import ROOT
from tests.engines.test_plugins import MISBEHAVING, plugin_folder_fixture, write_plugin  # noqa: F401
from tests.photos import embedded_metadata, write_phone_photo


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:90, 0:120]
    image = np.clip(np.stack([x * 2, y * 2, x + y], -1) + rng.normal(0, 4, (90, 120, 3)),
                    0, 255).astype(np.uint8)
    mask = np.zeros((90, 120), np.uint8)
    mask[30:50, 40:70] = 255
    save_image(tmp_path / "photo.png", image)
    save_mask(tmp_path / "mask.png", mask)
    return tmp_path, image, mask


def run_cli(*argv: str) -> int:
    return main.main([str(a) for a in argv])


@pytest.mark.parametrize("strategy", ["crop", "resize", "original"])
def test_inpaint_round_trip_changes_only_the_hole(files, strategy, capsys):
    folder, image, mask = files
    out = folder / "out.png"
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", out,
                   "--engine", "telea", "--strategy", strategy) == 0
    result = load_image(out).rgb
    assert np.array_equal(result[mask == 0], image[mask == 0])
    assert (result[mask > 0] != image[mask > 0]).any()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("engine", ["telea", "ns", "patchmatch"])
def test_inpaint_refuses_a_hole_covering_the_whole_picture(files, engine, capsys):
    folder, image, _mask = files
    save_mask(folder / "all.png", np.full(image.shape[:2], 255, np.uint8))
    out = folder / "out.png"
    assert run_cli("inpaint", folder / "photo.png", folder / "all.png", "-o", out,
                   "--engine", engine) == 2
    error = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert error.startswith("error: no source left for ") and "unmask some" in error
    # said plainly, with no sampling area given: nothing named that is not there
    assert ": the hole covers the whole " in error and "the whole picture" in error
    assert "sampling area" not in error
    assert not out.exists()


@pytest.mark.parametrize("strip", [False, True])
def test_inpaint_keeps_the_photos_metadata_unless_stripped(files, strip, capsys):
    folder, image, _mask = files
    icc = write_phone_photo(folder / "phone.jpg", image)
    out = folder / "out.jpg"
    assert run_cli("inpaint", folder / "phone.jpg", folder / "mask.png", "-o", out,
                   "--engine", "telea", *(["--strip-metadata"] if strip else [])) == 0
    profile, tags = embedded_metadata(out)
    if strip:
        assert profile is None and not tags
    else:
        assert profile == icc and tags[0x010F] == "PhoneMaker"



def test_inpaint_and_batch_write_16_bit_pictures_back_at_16_bits(files, capsys):
    folder, _image, mask = files
    deep = np.random.default_rng(2).integers(0, 65536, (*mask.shape, 3), dtype=np.uint16)
    images = folder / "deep"
    images.mkdir()
    cv2.imwrite(str(images / "scan.tif"), deep[..., ::-1])
    assert run_cli("inpaint", images / "scan.tif", folder / "mask.png", "-o",
                   folder / "out.tif", "--engine", "telea") == 0
    assert run_cli("batch", "--images", images, "--mask", folder / "mask.png",
                   "-o", folder / "batch", "--engine", "telea") == 0
    for result in (folder / "out.tif", folder / "batch" / "scan.tif"):
        samples = cv2.imread(str(result), cv2.IMREAD_UNCHANGED)[..., ::-1]
        assert samples.dtype == np.uint16
        assert np.array_equal(samples[mask == 0], deep[mask == 0])  # every bit kept
        assert (samples[mask > 0] % 257 == 0).all()  # the fill, from 8 bits


def test_inpaint_and_batch_write_floating_point_tiffs_back_in_floating_point(files):
    """Over-range HDR values stay outside the hole; inside it, a fill that shows 255 where
    the removed thing did (also above 1.0) does not bring that thing's values back."""
    import tifffile

    folder, _image, mask = files
    hdr = np.full((*mask.shape, 3), 4.0, np.float32)  # a blown-out sky...
    hdr[mask > 0] = 9.0  # ...and a brighter lamp in the hole
    hdr[:, :20] = np.random.default_rng(3).random((mask.shape[0], 20, 3))
    images = folder / "hdr"
    images.mkdir()
    tifffile.imwrite(images / "sky.tif", hdr, photometric="rgb")
    assert run_cli("inpaint", images / "sky.tif", folder / "mask.png", "-o",
                   folder / "out.tif", "--engine", "telea") == 0
    assert run_cli("batch", "--images", images, "--mask", folder / "mask.png",
                   "-o", folder / "batch", "--engine", "telea") == 0
    for result in (folder / "out.tif", folder / "batch" / "sky.tif"):
        samples = tifffile.imread(result)
        assert samples.dtype == np.float32
        assert np.array_equal(samples[mask == 0], hdr[mask == 0])
        assert (samples[mask > 0] == 1.0).all()  # white, from 8 bits: not the lamp's 9.0

def test_inpaint_never_replaces_files_without_overwrite(files, capsys):
    folder, image, _ = files
    save_image(folder / "earlier.png", image[::-1])
    original = (folder / "earlier.png").read_bytes()
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png",
                   "-o", folder / "earlier.png", "--engine", "telea") == 2
    assert "already exists" in capsys.readouterr().err
    assert (folder / "earlier.png").read_bytes() == original


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX mode bits")
def test_inpaint_refuses_a_read_only_output_before_any_work(files, capsys, monkeypatch):
    folder, image, _ = files
    target = folder / "kept.png"
    save_image(target, image[::-1])
    target.chmod(0o444)
    original = target.read_bytes()

    def no_work(*args, **kwargs):
        raise AssertionError("an engine was made for an output that cannot be written")

    monkeypatch.setattr("engines.registry.create", no_work)
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", target,
                   "--overwrite", "--engine", "telea") == 2
    err = capsys.readouterr().err
    assert "is read-only; choose another name" in err and err.count("\n") == 1
    assert target.read_bytes() == original and (target.stat().st_mode & 0o777) == 0o444


@pytest.mark.parametrize("replaced", ["photo.png", "mask.png", "lines.png", "reference.png"])
def test_inpaint_never_replaces_an_input_file_even_with_overwrite(files, replaced, capsys):
    folder, image, mask = files
    save_mask(folder / "lines.png", np.zeros_like(mask))
    save_image(folder / "reference.png", image[::-1])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "--engine",
                   "patchmatch", "--sketch", folder / "lines.png", "--exemplar",
                   folder / "reference.png", "-o", folder / replaced, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "is one of the input files" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.parametrize("case, expected", [
    ("corrupt", "not an image"),
    ("empty", "the mask is empty"),
    ("mismatch", "must be the same size"),
    ("missing", "no such file"),
    ("engine", "unknown engine 'telia'. Did you mean 'telea'?"),
])
def test_bad_input_gives_one_line_and_exit_2(files, case, expected, capsys):
    folder, _image, mask = files
    (folder / "junk.png").write_bytes(b"\x89PNG not really")
    save_mask(folder / "empty.png", np.zeros_like(mask))
    save_mask(folder / "small.png", np.zeros((10, 10), np.uint8))
    image_arg, mask_arg, engine = folder / "photo.png", folder / "mask.png", "telea"
    if case == "corrupt":
        image_arg = folder / "junk.png"
    elif case == "empty":
        mask_arg = folder / "empty.png"
    elif case == "mismatch":
        mask_arg = folder / "small.png"
    elif case == "missing":
        image_arg = folder / "nope.png"
    elif case == "engine":
        engine = "telia"
    code = run_cli("inpaint", image_arg, mask_arg, "-o", folder / "o.png", "--engine", engine)
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (folder / "o.png").exists()


def test_unwritable_output_folder_is_a_clear_error(files, capsys):
    folder, _, _ = files
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png",
                   "-o", folder / "no" / "such" / "dir" / "o.png", "--engine", "telea")
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_inpaint_says_when_a_jpeg_result_loses_transparency(files, capsys):
    folder, image, _ = files
    alpha = np.full(image.shape[:2], 255, np.uint8)
    alpha[:, :20] = 0
    save_image(folder / "cut.png", image, alpha)
    assert run_cli("inpaint", folder / "cut.png", folder / "mask.png", "-o", folder / "o.jpg",
                   "--engine", "telea") == 0
    assert "note: .jpg files have no transparency; the transparent parts were flattened " \
        "onto white" in capsys.readouterr().out
    assert (load_image(folder / "o.jpg").rgb[:, 2:18] > 245).all()
    assert run_cli("inpaint", folder / "cut.png", folder / "mask.png", "-o", folder / "o.png",
                   "--engine", "telea") == 0
    assert "transparency" not in capsys.readouterr().out


def test_inpaint_says_when_a_bmp_result_drops_the_metadata(files, capsys):
    folder, image, _ = files
    write_phone_photo(folder / "phone.jpg", image)
    assert run_cli("inpaint", folder / "phone.jpg", folder / "mask.png", "-o",
                   folder / "o.bmp", "--engine", "telea") == 0
    assert "note: .bmp files hold no colour profile, EXIF or XMP; the original's were not " \
        "kept" in capsys.readouterr().out
    for extra in ((), ("--strip-metadata",)):  # the metadata kept, or not wanted
        output = folder / f"o{len(extra)}.{'jpg' if not extra else 'bmp'}"
        assert run_cli("inpaint", folder / "phone.jpg", folder / "mask.png", "-o", output,
                       "--engine", "telea", *extra) == 0
        assert "EXIF" not in capsys.readouterr().out


def test_segment_does_not_repeat_the_pictures_saving_notes(tmp_path, capsys):
    deep = (np.mgrid[0:60, 0:80][1] * 800).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), np.dstack([deep] * 3))
    assert run_cli("segment", tmp_path / "deep.png", "-o", tmp_path / "labels.png",
                   "--model", "regions") == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "16 bits" not in out


@pytest.mark.parametrize("argv, meant", [(["enignes"], "engines"),
                                          (["inpiant", "a.png", "m.png", "-o", "x.png"],
                                           "inpaint")])
def test_a_mistyped_command_is_named_instead_of_opening_the_editor(argv, meant, capsys,
                                                                  monkeypatch):
    import app.launch

    monkeypatch.setattr(app.launch, "launch", lambda *a, **k: pytest.fail("editor opened"))
    assert run_cli(*argv) == 2
    assert f"did you mean {meant!r}" in capsys.readouterr().err


def test_errors_from_a_real_process_have_no_traceback(tmp_path):
    (tmp_path / "junk.jpg").write_bytes(b"junk")
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "inpaint",
                           str(tmp_path / "junk.jpg"), str(tmp_path / "junk.jpg"),
                           "-o", str(tmp_path / "o.png")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_engines_table_lists_guidance_and_state(capsys):
    assert run_cli("engines") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "telea" in lines and "ready" in lines["telea"]
    assert "patchmatch" in lines and "sketch" in lines["patchmatch"]
    assert "lama" in lines and "needs download" in lines["lama"]
    assert "semantic" in lines and "needs training" in lines["semantic"]


def test_engines_names_the_modules_that_could_not_be_loaded(plugin_folder, capsys):
    broken = write_plugin(plugin_folder, "qa_missing_dependency",
                          "import qa_not_installed_dependency  # noqa\n")
    assert run_cli("engines") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "ready" in lines["telea"] and "patchmatch" in lines
    assert (f"not loaded: {broken}: ModuleNotFoundError: No module named "
            "'qa_not_installed_dependency'") in out.splitlines()


def test_engines_still_run_beside_a_module_that_could_not_be_loaded(plugin_folder, files,
                                                                    capsys):
    write_plugin(plugin_folder, "qa_syntax", "def broken(:\n")
    folder, image, mask = files
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o",
                   folder / "out.png", "--engine", "telea") == 0
    assert (load_image(folder / "out.png").rgb[mask > 0] != image[mask > 0]).any()
    assert run_cli("models", "list") == 0


@pytest.mark.parametrize("engine, code, said", [
    ("qa-float", 2, "error: QA float output (qa-float) returned float32 values; engines must "
                    "return uint8 RGB (H, W, 3) of the region's size"),
    ("qa-return", 2, "error: QA returns an array (qa-return): inpaint_region returned a uint8 "
                     "array of shape"),
    ("qa-raises", 1, "error: QA raises failed: ZeroDivisionError: plugin bug: division by "
                     "zero in step 2\n(this looks like a bug"),
])
def test_a_plugin_engine_that_misbehaves_is_named_and_writes_nothing(plugin_folder, files,
                                                                     capsys, engine, code,
                                                                     said):
    write_plugin(plugin_folder, "qa_misbehaving", MISBEHAVING)
    folder, _image, _mask = files
    out = folder / "out.png"
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", out,
                   "--engine", engine) == code
    assert said in capsys.readouterr().err
    assert not out.exists()


def test_a_crash_is_said_once_and_debug_shows_what_the_engine_raised(plugin_folder, files,
                                                                      capsys):
    from engines.base import EngineCrashed

    write_plugin(plugin_folder, "qa_misbehaving", MISBEHAVING)
    folder, _image, _mask = files
    arguments = ("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "out.png",
                 "--engine", "qa-raises")
    assert run_cli(*arguments) == 1
    err = capsys.readouterr().err
    assert err.count("failed:") == 1 and err.count("ZeroDivisionError") == 1
    assert run_cli(*arguments, "--debug") == 1  # the same exit code, with the traceback
    err = capsys.readouterr().err
    assert f"{EngineCrashed.__module__}.{EngineCrashed.__name__}" in err
    assert "ZeroDivisionError" in err and "direct cause" in err
    assert "run again with --debug" not in err


def test_batch_names_a_plugin_engine_that_raises_and_lists_each_picture(plugin_folder, files,
                                                                         capsys):
    write_plugin(plugin_folder, "qa_misbehaving", MISBEHAVING)
    folder, _image, _mask = files
    out = folder / "out"
    assert run_cli("batch", "--images", folder, "--mask", folder / "mask.png", "-o", out,
                   "--engine", "qa-raises") == 1
    said = capsys.readouterr().out
    assert ("photo.png: QA raises failed: ZeroDivisionError: plugin bug: division by zero "
            "in step 2") in said
    assert not any(out.glob("*.png"))


def test_verbose_engines_table_lists_each_engines_options(capsys):
    assert run_cli("engines", "-v") == 0
    out = capsys.readouterr().out
    assert "--option patch_size=3..31 by 2 (default 7)" in out
    assert "--option quality=fast|normal|best (default normal)" in out
    assert "--option half=auto|true|false (default auto)" in out
    assert "auto: float16 on CUDA, float32 elsewhere" in out  # what auto does, said
    assert "--option working_size=128..4096 by 64 (default 1024)" in out  # LaMa's
    assert "--option seam_feather=0..32 (default 6)" in out
    assert "also, for scripts: backend, label_weight, previews, sketch_weight" in out


def _folder(tmp_path, count=3, shape=(60, 80)):
    rng = np.random.default_rng(1)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(count):
        save_image(images / f"p{i}.png", rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
        mask = np.zeros(shape, np.uint8)
        mask[10 + 5 * i:25 + 5 * i, 20:40] = 255
        save_mask(masks / (f"p{i}.png" if i != 1 else f"p{i}_mask.png"), mask)
    return images, masks


def test_batch_with_a_mask_folder(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == 0
    for i in range(3):
        before = load_image(images / f"p{i}.png").rgb
        after = load_image(out / f"p{i}.png").rgb
        mask = load_image(masks / (f"p{i}.png" if i != 1 else f"p{i}_mask.png")).rgb[..., 0]
        assert np.array_equal(after[mask == 0], before[mask == 0])
        assert (after[mask > 0] != before[mask > 0]).any()
    printed = capsys.readouterr()
    assert "3 written" in printed.out
    last = printed.err.replace("\r", "\n").strip().splitlines()[-1]  # the bar, as it ended
    assert last.startswith("telea: 3/3 |") and last.endswith(" p2.png") and ", " not in last
    counts = re.findall(r"telea: ([^ ]+)/3", printed.err)
    assert counts and all(count.isdigit() for count in counts)  # whole pictures, no 1.37/3


def test_batch_with_one_mask_for_the_folder_and_a_failure(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    (images / "broken.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    code = run_cli("batch", "--images", images, "--mask", masks / "p0.png", "-o", out,
                   "--engine", "ns")
    text = capsys.readouterr().out
    assert code == 1  # one image failed, the others were written
    assert "3 written" in text and "broken.png" in text
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_batch_keeps_each_photos_metadata_unless_stripped(tmp_path, capsys):
    images, masks = _folder(tmp_path, count=2)
    icc = write_phone_photo(images / "p0.jpg", load_image(images / "p0.png").rgb)
    (images / "p0.png").unlink()
    for strip, out in ((False, tmp_path / "kept"), (True, tmp_path / "stripped")):
        assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                       "--engine", "telea", *(["--strip-metadata"] if strip else [])) == 0
        profile, tags = embedded_metadata(out / "p0.jpg")
        assert (profile, tags.get(0x010F)) == ((None, None) if strip else (icc, "PhoneMaker"))
        assert embedded_metadata(out / "p1.png") == (None, {})  # it had none
    assert "note:" not in capsys.readouterr().out
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "bmp",
                   "--engine", "telea", "--format", "bmp") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [  # p1.png had none to lose
        "note: p0.bmp: .bmp files hold no colour profile, EXIF or XMP; the original's were "
        "not kept"]


def test_batch_refuses_the_input_folder_as_output(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", images) == 2
    err = capsys.readouterr().err
    assert "originals are never replaced" in err and "0/3" not in err  # no bar before it


def test_batch_says_which_files_it_skips(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    for name in ("IMG_0001.CR3", "IMG_0002.CR3", "notes.txt", ".DS_Store"):
        (images / name).write_bytes(b"not a picture this program reads")
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "o",
                   "--engine", "telea") == 0
    err = capsys.readouterr().err
    assert ("3 files skipped: no picture extension (.cr3, .txt): "
            "IMG_0001.CR3, IMG_0002.CR3, notes.txt") in err  # hidden files: not mentioned
    assert len(list((tmp_path / "o").iterdir())) == 3

    only = tmp_path / "phone"
    only.mkdir()
    (only / "IMG_0003.CR3").write_bytes(b"x")
    assert run_cli("batch", "--images", only, "--masks", masks, "-o", tmp_path / "p") == 2
    assert "holds no pictures (png, jpg, jpeg, webp, tif, tiff, bmp, heic, heif, avif, gif); " \
        "1 file skipped" in capsys.readouterr().err


def test_batch_reports_pictures_without_masks(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    (masks / "p2.png").unlink()
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "o",
                   "--engine", "telea")
    assert code == 1 and "no mask for it" in capsys.readouterr().out


def test_help_lists_the_commands(capsys):
    assert run_cli("--help") == 0
    out = capsys.readouterr().out
    for command in ("inpaint", "batch", "engines", "models", "segment", "watermark", "train"):
        assert command in out
    # the editor takes several pictures: the first that opens, the mask with the first
    assert out.startswith("usage: inpaint-studio [-h] [image ...] [--mask MASK]")
    assert "the first that opens is shown" in " ".join(out.split())
    assert "with several pictures named, it goes with the first" in " ".join(out.split())


def test_engine_options_reach_the_engine(files, capsys):
    folder, _image, _ = files
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "r.png",
                   "--engine", "telea", "--option", "radius=9") == 0
    assert run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "s.png",
                   "--engine", "telea", "--option", "radius") == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_a_damaged_picture_is_reported_in_our_words(files, capfd):
    """OpenCV's own log line ("[ WARN:0@0.1] global grfmt_png.cpp...") and libpng's
    ("libpng error: ...", written to the C stderr itself) stay off stderr (more in
    tests/engines/test_libpng_quiet.py)."""
    folder, _image, _ = files
    noise = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "noise.png")  # Pillow's IDAT chunks: OpenCV warns
    data = (folder / "noise.png").read_bytes()
    (folder / "cut.png").write_bytes(data[:len(data) // 2])  # ends inside the pixel data
    assert run_cli("inpaint", folder / "cut.png", folder / "mask.png", "-o",
                   folder / "r.png") == 2
    err = capfd.readouterr().err
    assert "cut.png: the file is cut short" in err
    assert "WARN" not in err and "grfmt_png" not in err and "libpng" not in err


def test_a_damaged_tiff_that_opencv_decodes_is_reported_in_our_words_alone(files, capfd):
    """A floating-point TIFF (Pillow cannot read it; OpenCV decodes its pixels) cut short:
    OpenCV's ERROR log lines ("TIFF_Error TIFFReadEncodedStrip: Read error ...") stay off
    stderr, beside our one line; OpenCV logs nothing unless --debug."""
    import tifffile

    folder, image, _ = files
    tifffile.imwrite(folder / "hdr.tif", (image / 255.0).astype(np.float32), photometric="rgb")
    data = (folder / "hdr.tif").read_bytes()
    (folder / "cut.tif").write_bytes(data[:len(data) - 50])
    command = ("inpaint", folder / "cut.tif", folder / "mask.png", "-o", folder / "r.png")
    assert run_cli(*command) == 2
    err = capfd.readouterr().err
    assert err.splitlines() == [f"error: {folder / 'cut.tif'}: the image data cannot be "
                                "decoded (damaged or unsupported file)"]
    levels = cv2.utils.logging
    assert levels.getLogLevel() == levels.LOG_LEVEL_SILENT
    assert run_cli("--debug", *command) == 2
    assert levels.getLogLevel() == levels.LOG_LEVEL_ERROR
    assert run_cli(*command) == 2
    assert levels.getLogLevel() == levels.LOG_LEVEL_SILENT
    assert not (folder / "r.png").exists()


def test_damaged_exif_gives_no_warning_from_pillow(files):
    """Pillow warns "Tag data larger than file. Skipping tag 271" (or "Corrupt EXIF data...")
    on stderr; the file opens all the same, and the output is ours alone."""
    folder, image, _ = files
    head = b"Exif\0\0II*\0" + struct.pack("<I", 8)
    exif = head + struct.pack("<HHHII", 1, 0x010F, 2, 40, 9999) + bytes(4)  # data off the end
    Image.fromarray(image).save(folder / "odd.jpg", exif=exif)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_cli("inpaint", folder / "odd.jpg", folder / "mask.png", "-o",
                       folder / "odd_out.png") == 0
    assert not [w for w in caught if "PIL" in w.filename], [str(w.message) for w in caught]
    assert (folder / "odd_out.png").exists()


def test_an_option_the_engine_does_not_take_is_refused(tmp_path, files, capsys):
    folder, _image, _ = files
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o",
                   folder / "r.png", "--option", "patch_sise=9")
    err = capsys.readouterr().err
    assert code == 2 and "Did you mean 'patch_size'?" in err and "Traceback" not in err
    assert not (folder / "r.png").exists()

    images, masks = _folder(tmp_path)
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "out",
                   "--engine", "telea", "--option", "seam_feather=4")
    assert code == 2 and "telea engine has no option 'seam_feather'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_option_values_are_parsed():
    import argparse

    from cli._common import engine_options

    args = argparse.Namespace(option=["half=true", "steps=3", "scale=0.5", "source=native"])
    assert engine_options(args) == {"half": True, "steps": 3, "scale": 0.5, "source": "native"}


def test_batch_never_replaces_a_mask_file(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    before = {p.name: p.read_bytes() for p in masks.iterdir()}
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", masks,
                   "--engine", "telea", "--overwrite") == 2
    assert f"the output folder {masks} is the --masks folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in masks.iterdir()} == before
    out = tmp_path / "out"
    out.mkdir()
    (out / "p0.png").write_bytes((masks / "p0.png").read_bytes())
    assert run_cli("batch", "--images", images, "--mask", out / "p0.png", "-o", out,
                   "--engine", "telea", "--overwrite") == 2
    assert "masks are never replaced" in capsys.readouterr().err
    assert (out / "p0.png").read_bytes() == before["p0.png"]


def test_batch_leaves_mask_files_in_the_pictures_folder_out(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    for path in masks.iterdir():  # p0.png's mask: p0_mask.png (p0.png itself is the picture)
        stem = path.stem.removesuffix("_mask")
        save_mask(images / f"{stem}_mask.png", load_image(path).rgb[..., 0])
    assert run_cli("batch", "--images", images, "--masks", images, "-o", tmp_path / "o",
                   "--engine", "telea") == 0
    captured = capsys.readouterr()
    assert "3 written" in captured.out and "3 files left out: they are masks" in captured.err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    save_mask(images / "watermark.png", load_image(masks / "p0.png").rgb[..., 0])
    assert run_cli("batch", "--images", images, "--mask", images / "watermark.png",
                   "-o", tmp_path / "w", "--engine", "telea") == 0
    assert not (tmp_path / "w" / "watermark.png").exists()


@pytest.mark.parametrize("output, message", [
    ("out.xyz", "cannot write .xyz; use one of .png"),
    ("nodir/out.png", "-o: the folder nodir does not exist"),
    ("sub", "-o sub is a folder; give a file name"),
])
def test_inpaint_refuses_an_unwritable_output_before_running(files, output, message, capsys,
                                                             monkeypatch):
    folder, _image, _ = files
    (folder / "sub").mkdir()
    monkeypatch.chdir(folder)
    import cli.inpaint

    def never(*_args, **_kwargs):
        raise AssertionError("the engine ran")

    monkeypatch.setattr(cli.inpaint, "run_with_bar", never)
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", output,
                   "--engine", "telea", "--overwrite")
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_segment_refuses_a_missing_folder_before_labelling(files, capsys, monkeypatch):
    import engines.segmentation.base

    def never(*_args, **_kwargs):
        raise AssertionError("the parser ran")

    monkeypatch.setattr(engines.segmentation.base, "create_parser", never)
    folder, _image, _ = files
    code = run_cli("segment", folder / "photo.png", "-o", folder / "nodir" / "s.png")
    err = capsys.readouterr().err
    assert code == 2 and "the folder" in err and "does not exist" in err


def test_batch_into_an_unwritable_folder_is_refused_up_front(tmp_path, capsys, monkeypatch):
    import tempfile

    images, masks = _folder(tmp_path)
    out = tmp_path / "locked"
    out.mkdir()
    real = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):  # as a read-only folder (or mount) answers
        if dir is not None and str(dir) == str(out):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code = run_cli("batch", "--images", images, "--masks", masks, "-o", out, "--engine", "telea")
    captured = capsys.readouterr()
    assert code == 2 and "cannot write into" in captured.err and "failed" not in captured.out
    (tmp_path / "file.png").write_bytes(b"x")
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", tmp_path / "file.png",
                   "--engine", "telea") == 2
    err = capsys.readouterr().err
    assert "is a file; give the folder the results go into" in err and "File exists" not in err


def test_batch_takes_a_format_without_a_dot_and_names_overwrite(tmp_path, capsys):
    images, masks = _folder(tmp_path)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea", "--format", "JPG") == 0
    assert sorted(p.name for p in out.iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea", "--format", "jpg") == 0
    text = capsys.readouterr().out
    assert "3 skipped: already in the output folder; --overwrite redoes them" in text
    assert "allow overwriting" not in text


@pytest.mark.parametrize("engine, option, refused", [
    ("patchmatch", "patch_size=abc", "patch_size takes 3..31 by 2"),
    ("patchmatch", "patch_size=nan", "patch_size takes 3..31 by 2"),
    ("patchmatch", "patch_size=11.5", "patch_size takes 3..31 by 2"),
    ("patchmatch", "sketch_strength=inf", "sketch_strength takes 0..10"),
    ("patchmatch", "previews=maybe", "previews takes true or false"),
    ("telea", "radius=abc", "radius takes 1..50"),
    ("telea", "radius=0", "radius takes 1..50"),
    ("telea", "radius=-5", "radius takes 1..50"),
    ("telea", "radius=100000", "radius takes 1..50"),
    ("telea", "radius=nan", "radius takes 1..50"),
])
def test_option_values_are_checked_against_the_engines_ranges(files, engine, option, refused,
                                                              capsys):
    folder, _image, _ = files
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "r.png",
                   "--engine", engine, "--option", option)
    err = capsys.readouterr().err
    assert code == 2 and refused in err and err.count("\n") == 1
    assert f"option {option} is refused" in err and "looks like a bug" not in err
    assert not (folder / "r.png").exists()


def test_option_values_are_converted_to_the_options_types():
    import argparse

    from cli._common import engine_options

    args = argparse.Namespace(engine="deepfill2", option=["half=auto", "seam_feather=4",
                                                          "local=false"])
    options = engine_options(args)
    assert options == {"half": None, "seam_feather": 4.0, "local": False}
    assert type(options["seam_feather"]) is float


@pytest.mark.parametrize("margin", ["100000000000", "-1", "abc"])
def test_an_absurd_margin_is_a_usage_error(files, margin, capsys):
    folder, _image, _ = files
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "r.png",
                   "--engine", "telea", "--margin", margin)
    assert code == 2 and "argument --margin" in argument_error(capsys, "inpaint")
    assert not (folder / "r.png").exists()


def test_an_empty_label_file_is_named_in_our_words(files, capsys):
    folder, _image, _ = files
    (folder / "zero.png").write_bytes(b"")
    code = run_cli("inpaint", folder / "photo.png", folder / "mask.png", "-o", folder / "r.png",
                   "--labels", folder / "zero.png")
    err = capsys.readouterr().err
    assert code == 2 and "zero.png is not a readable PNG (an empty file)" in err
    assert "BytesIO" not in err


def test_an_opencv_error_is_not_called_error_twice():
    import cv2

    from cli._errors import describe_error

    message, expected = describe_error(cv2.error("out of memory"))
    assert message == "cv2.error: out of memory" and not expected


@pytest.mark.parametrize("name", ["bw.png", "bw.jpg", "bw16.tif"])
def test_inpaint_writes_a_grey_picture_back_grey(files, name, capsys):
    folder, image, mask = files
    deep = name == "bw16.tif"
    grey = image[..., 0].astype(np.uint16) * 257 if deep else image[..., 0]
    cv2.imwrite(str(folder / name), grey)
    out = folder / f"out-{name}"
    assert run_cli("inpaint", folder / name, folder / "mask.png", "-o", out,
                   "--engine", "telea") == 0
    with Image.open(out) as saved:
        assert saved.mode == ("I;16" if deep else "L")
    stored = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert stored.shape == mask.shape and stored.dtype == grey.dtype
    if name != "bw.jpg":  # lossless: every pixel outside the hole as it was
        assert np.array_equal(stored[mask == 0], grey[mask == 0])
    assert (stored[mask > 0] != grey[mask > 0]).any()
