"""`watermark --images DIR -o DIR`: estimate the shared watermark, clear the whole folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from engines.fileio import (
    ImageMetadata,
    encode_image,
    load_image,
    load_mask,
    save_image,
    write_atomic,
)
from tests.cli.refusals import argument_error
from tests.cli.stopping import ctrl_c, stop_at_call
from tests.engines.test_watermark import (
    CUT_SHORT,
    backgrounds,
    iou,
    stamp,
    too_few_folder,
    true_mask,
    watermark_alpha,
)
from tests.photos import embedded_metadata, srgb_profile

SIZE = (120, 160)


@pytest.fixture
def folder(tmp_path):
    """12 PNG images of 160x120 carrying the same watermark; returns (folder, images, alpha)."""
    alpha = watermark_alpha(SIZE)
    images = [stamp(b, alpha) for b in backgrounds(12, seed=2, size=SIZE)]
    source = tmp_path / "in"
    source.mkdir()
    for index, image in enumerate(images):
        write_atomic(source / f"photo{index:02d}.png", encode_image(image, ".png"))
    return source, images, alpha


def run(*arguments: str) -> int:
    return cli.main(["watermark", *map(str, arguments)])


def test_clears_the_folder_and_saves_mask_and_preview(folder, tmp_path, capsys):
    source, images, alpha = folder
    output, mask_file, preview = tmp_path / "out", tmp_path / "mask.png", tmp_path / "see.jpg"
    (source / "clip.psd").write_bytes(b"8BPS")  # not read by folder runs: said so
    assert run("--images", source, "-o", output, "--mask-out", mask_file,
               "--preview", preview) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "watermark found, estimated from 12 images" in out
    assert f"12 written to {output}, 0 failed" in out
    assert "1 file skipped: no picture extension (.psd)" in captured.err
    (source / "clip.psd").unlink()
    mask = load_mask(mask_file, SIZE)
    assert iou(mask, true_mask(alpha)) >= 0.8
    assert load_image(preview).rgb.shape == (*SIZE, 3)
    names = sorted(p.name for p in output.iterdir())
    assert names == sorted(p.name for p in source.iterdir())
    hole = mask >= 128
    for index, image in enumerate(images):
        cleared = load_image(output / f"photo{index:02d}.png").rgb
        assert (cleared[~hole] == image[~hole]).all()
        assert (cleared[hole] != image[hole]).any()
        assert load_image(source / f"photo{index:02d}.png").rgb.tobytes() == image.tobytes()


def test_refuses_to_write_into_the_input_folder(folder, capsys):
    source, _, _ = folder
    before = sorted(p.name for p in source.iterdir())
    assert run("--images", source, "-o", source) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"-o {source} is the input folder" in error
    assert sorted(p.name for p in source.iterdir()) == before


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "no such folder"),
    (lambda tmp: (tmp / "file.txt", (tmp / "file.txt").write_text("x"))[0], "not a folder"),
    (lambda tmp: (tmp / "empty", (tmp / "empty").mkdir())[0], "holds no pictures"),
])
def test_a_bad_folder_gives_one_line(tmp_path, capsys, make, message):
    assert run("--images", make(tmp_path), "-o", tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "out").exists()


def test_a_folder_holding_only_folders_names_them(folder, tmp_path, capsys):
    source, _, _ = folder
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "photos").symlink_to(source)  # linked or not, a subfolder is never searched
    (parent / "gone.png").symlink_to(tmp_path / "gone.png")
    (parent / "out").mkdir()  # the output folder, inside: not mentioned
    assert run("--images", parent, "-o", parent / "out") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds no pictures" in error
    assert error.rstrip().endswith(
        "1 subfolder not searched (folder runs do not look into subfolders): photos/ (link); "
        "1 broken link skipped (pointing to nothing): gone.png")
    assert not any((parent / "out").iterdir())


def test_too_few_images_or_no_watermark(tmp_path, capsys):
    few = tmp_path / "few"
    few.mkdir()
    for index, image in enumerate(backgrounds(3, seed=4, size=SIZE)):
        write_atomic(few / f"{index}.png", encode_image(image, ".png"))
    assert run("--images", few, "-o", tmp_path / "out") == 2
    assert "at least 5" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    for index, image in enumerate(backgrounds(15, seed=5, size=SIZE)):
        write_atomic(plain / f"{index}.png", encode_image(image, ".png"))
    assert run("--images", plain, "-o", tmp_path / "out") == 2
    assert "no watermark found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_too_few_images_names_those_left_out(tmp_path, capsys):
    """Too few pictures of one size: the error says which were left out and why (cut short,
    damaged, another size) as a successful run lists them, and writes nothing."""
    few = too_few_folder(tmp_path / "few", 3)
    assert run("--images", few, "-o", tmp_path / "out") == 2
    assert capsys.readouterr().err == (
        "error: found 3 readable images of size 160x120; estimating a watermark needs at "
        "least 5 of one size. 3 left out of the estimate: broken.jpg: not an image file, or the "
        f"file is damaged; cut.jpg: {CUT_SHORT}; other.png: 200x150 differs from the common "
        "size 160x120\n")
    cut = too_few_folder(tmp_path / "cut", 4)  # cut.jpg's header reads, but it is cut short
    assert run("--images", cut, "-o", tmp_path / "out") == 2
    assert capsys.readouterr().err == (
        "error: found 4 readable images of size 160x120; estimating a watermark needs at "
        "least 5 of one size. 3 left out of the estimate: broken.jpg: not an image file, or the "
        f"file is damaged; cut.jpg: {CUT_SHORT}; other.png: 200x150 differs from the common "
        "size 160x120\n")
    one = tmp_path / "one"
    one.mkdir()
    (few / "p0.png").rename(one / "p0.png")
    assert run("--images", one, "-o", tmp_path / "out") == 2
    assert capsys.readouterr().err == ("error: found 1 readable image of size 160x120; "
                                       "estimating a watermark needs at least 5 of one size\n")
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_kept_and_skipped_until_overwrite(folder, tmp_path, capsys,
                                                               monkeypatch):
    import engines.batch

    source, _, _ = folder
    output = tmp_path / "out"
    output.mkdir()
    (output / "photo03.png").write_bytes(b"keep me")
    cleared = []
    load = engines.batch.load_image
    monkeypatch.setattr(engines.batch, "load_image",
                        lambda path, *a, **k: cleared.append(path.name) or load(path, *a, **k))
    assert run("--images", source, "-o", output) == 0
    out = capsys.readouterr().out
    assert f"11 written to {output}, 0 failed" in out and "failed:" not in out
    assert "1 skipped: already in the output folder; --overwrite redoes them" in out
    assert "photo03.png" not in cleared and len(cleared) == 11  # never read, never filled
    assert (output / "photo03.png").read_bytes() == b"keep me"
    assert run("--images", source, "-o", output, "--overwrite") == 0
    assert load_image(output / "photo03.png").rgb.shape == (*SIZE, 3)


def test_unreadable_and_odd_sized_images_are_reported(folder, tmp_path, capsys):
    source, _, _ = folder
    (source / "broken.jpg").write_bytes(b"not a jpeg")
    odd = backgrounds(1, seed=6, size=(100, 100))[0]
    write_atomic(source / "square.png", encode_image(odd, ".png"))
    assert run("--images", source, "-o", tmp_path / "out") == 1  # broken.jpg failed
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines.count("2 left out of the estimate: broken.jpg: not an image file, or the "
                       "file is damaged; square.png: 100x100 differs from the common size "
                       "160x120") == 1  # one line, in the words a refused estimate uses
    assert sum("left out" in line for line in lines) == 1
    summary = lines.index(f"12 written to {tmp_path / 'out'}, 1 failed")
    assert lines[summary + 1:] == [  # each group under its own heading, the failed first
        "1 failed:",
        "  broken.jpg: not an image file, or the file is damaged",
        "1 skipped (another size than the mask; --other-sizes anchor fills them):",
        "  square.png 100x100, the mask 160x120"]


def test_many_pictures_left_out_are_one_line_naming_the_first_few(folder, tmp_path, capsys):
    """A run that leaves out more pictures than an error names says so in one line, the
    first few named, then "and N more"; the clearing's summary lists every one."""
    source, _, _ = folder
    for index in range(7):
        (source / f"bad{index}.jpg").write_bytes(b"not a jpeg")
    assert run("--images", source, "-o", tmp_path / "out") == 1  # the damaged ones failed
    lines = capsys.readouterr().out.splitlines()
    damaged = "not an image file, or the file is damaged"
    assert [line for line in lines if "left out" in line] == [
        "7 left out of the estimate: "
        + "; ".join(f"bad{index}.jpg: {damaged}" for index in range(5)) + " and 2 more"]
    assert lines[lines.index("7 failed:") + 1:][:7] == [f"  bad{index}.jpg: {damaged}"
                                                       for index in range(7)]


def test_pictures_of_another_size_are_skipped_as_asked_not_failed(folder, tmp_path, capsys):
    source, _, _ = folder
    for name, size in (("square.png", (100, 100)), ("big.png", (240, 320))):
        odd = backgrounds(1, seed=6, size=size)[0]
        write_atomic(source / name, encode_image(odd, ".png"))
    output = tmp_path / "out"
    assert run("--images", source, "-o", output) == cli.EXIT_OK  # --other-sizes skip
    out = capsys.readouterr().out
    assert f"12 written to {output}, 0 failed" in out and "failed:" not in out
    assert ("2 skipped (another size than the mask; --other-sizes anchor fills them):\n"
            "  big.png 320x240, the mask 160x120\n"
            "  square.png 100x100, the mask 160x120\n") in out
    assert not (output / "big.png").exists() and not (output / "square.png").exists()
    # the other-size pictures carry no mark: filled as asked (by default nothing is
    # written for them, named: tests/cli/test_watermark_unmarked.py)
    assert run("--images", source, "-o", tmp_path / "anchored", "--other-sizes",
               "anchor", "--unmarked", "fill") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"14 written to {tmp_path / 'anchored'}, 0 failed" in out
    assert "skipped" not in out
    assert load_image(tmp_path / "anchored" / "big.png").rgb.shape == (240, 320, 3)


@pytest.mark.parametrize("extra, message", [
    (["--engine", "no-such-engine"], "unknown engine"),
    (["--mask-out", "mask.jpg"], "--mask-out"),
    (["--min-images", "1"], "--min-images"),
    (["--mask-out", "nodir/m.png"], "--mask-out: the folder nodir does not exist"),
])
def test_bad_options_give_one_line(folder, tmp_path, capsys, extra, message):
    source, _, _ = folder
    assert run("--images", source, "-o", tmp_path / "out", *extra) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("margin", ["-1", "100000"])
def test_an_absurd_margin_is_a_usage_error(folder, tmp_path, capsys, margin):
    source, _, _ = folder
    assert run("--images", source, "-o", tmp_path / "out", "--margin", margin) == 2
    error = argument_error(capsys, "watermark")
    assert "--margin" in error and "from 0 to 100" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--preview", "--mask-out"])
def test_mask_and_preview_never_replace_an_input_picture(folder, tmp_path, capsys, option):
    source, _, _ = folder
    picture = source / "photo03.png"
    before = picture.read_bytes()
    assert run("--images", source, "-o", tmp_path / "out", option, picture,
               "--overwrite") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "originals are never replaced" in error
    assert picture.read_bytes() == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--preview", "--mask-out"])
def test_mask_and_preview_never_go_into_the_pictures_folder(folder, tmp_path, capsys, option):
    """There they would be cleared as pictures, and the same command run again would find
    them among its inputs."""
    source, _, _ = folder
    before = sorted(path.name for path in source.iterdir())
    assert run("--images", source, "-o", tmp_path / "out", option, source / "side.png") == 2
    error = capsys.readouterr().err
    assert f"{option} {source / 'side.png'} would go into the pictures' folder" in error
    assert sorted(path.name for path in source.iterdir()) == before
    assert not (tmp_path / "out").exists()


def test_mask_and_preview_may_go_into_the_output_folder_it_creates(folder, tmp_path, capsys):
    source, _, _ = folder
    output = tmp_path / "out"
    assert run("--images", source, "-o", output, "--preview", output / "see.png",
               "--mask-out", output / "mask.png") == 0
    assert (output / "see.png").is_file() and (output / "mask.png").is_file()
    assert (output / "photo00.png").is_file()


def test_an_unwritable_output_folder_is_refused_before_the_estimate(folder, tmp_path,
                                                                    capsys, monkeypatch):
    import tempfile

    source, _, _ = folder
    output = tmp_path / "locked"
    output.mkdir()
    real = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == output:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as a read-only folder answers
    assert run("--images", source, "-o", output) == 2
    captured = capsys.readouterr()
    assert "cannot write into" in captured.err and "watermark found" not in captured.out


@pytest.mark.parametrize("option, name", [("--mask-out", "mask.png"),
                                          ("--preview", "see.jpg")])
def test_another_existing_mask_or_preview_file_needs_overwrite(folder, tmp_path, capsys,
                                                               option, name):
    source, _, _ = folder
    side_file = tmp_path / name
    side_file.write_bytes(b"keep")
    assert run("--images", source, "-o", tmp_path / "out", option, side_file) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already exists" in error and "--overwrite" in error
    assert side_file.read_bytes() == b"keep"
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_an_interrupted_run_with_mask_and_preview_finishes_when_run_again(folder, tmp_path,
                                                                          capsys, monkeypatch):
    import engines.batch

    source, _, _ = folder
    output, mask_file, preview = tmp_path / "out", tmp_path / "mask.png", tmp_path / "see.jpg"
    command = ("--images", source, "-o", output, "--mask-out", mask_file, "--preview", preview)
    # Ctrl+C while the fourth picture is cleared
    fill = stop_at_call(monkeypatch, engines.batch, "_final_image", 4, ctrl_c)
    assert run(*command) == cli.EXIT_INTERRUPTED
    message = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "3 results written and kept" in message and "run the same command again" in message
    saved = mask_file.read_bytes(), preview.read_bytes()
    monkeypatch.setattr(engines.batch, "_final_image", fill)
    assert run(*command) == 0  # as the message says: the rest is done
    printed = capsys.readouterr().out
    assert "9 written to " in printed and "3 skipped: already in the output folder" in printed
    assert f"mask already saved to {mask_file}" in printed
    assert f"preview already saved to {preview}" in printed
    assert (mask_file.read_bytes(), preview.read_bytes()) == saved
    assert sorted(p.name for p in output.iterdir()) == sorted(p.name for p in source.iterdir())


def test_the_command_is_listed(capsys):
    import main

    assert main.main(["watermark", "--help"]) == 0
    assert "--images" in capsys.readouterr().out
    assert "watermark" in cli.command_modules()


@pytest.mark.parametrize("strip", [False, True])
def test_results_keep_the_colour_profile_unless_stripped(folder, tmp_path, strip, capsys):
    source, images, _alpha = folder
    icc = srgb_profile()
    save_image(source / "photo00.png", images[0], overwrite=True,
               metadata=ImageMetadata(icc_profile=icc))
    output = tmp_path / "out"
    assert run("--images", source, "-o", output, *(["--strip-metadata"] if strip else [])) == 0
    assert embedded_metadata(output / "photo00.png")[0] == (None if strip else icc)
    assert embedded_metadata(output / "photo01.png")[0] is None


def test_a_full_disk_stops_the_clearing_at_the_first_result_that_does_not_fit(folder,
                                                                              tmp_path, capsys,
                                                                              monkeypatch):
    import errno
    import os

    source, _, _ = folder
    output = tmp_path / "out"
    sync, flushed = os.fsync, []

    def full_after_three(fd):
        flushed.append(fd)
        if len(flushed) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        sync(fd)

    monkeypatch.setattr(os, "fsync", full_after_three)
    assert run("--images", source, "-o", output) == cli.EXIT_FAILED
    printed = capsys.readouterr()
    assert len(flushed) == 4  # the pictures after the one that did not fit were not cleared
    assert sorted(p.name for p in output.iterdir()) == [f"photo0{i}.png" for i in range(3)]
    assert "cleared" not in printed.out
    [error] = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert "3 results written and kept, 9 pictures not done" in error
