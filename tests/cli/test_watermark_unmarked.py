"""`watermark`: a picture in which the estimated watermark is not found gets no file in the
output folder and is named as not written (the estimate line and the summary), unless
`--unmarked fill`; when the scores cannot tell which carry it, every picture is filled and the
estimate line says how many seem to lack it."""

from __future__ import annotations

import pytest

import cli
from cli.watermark import _unmarked_in_estimate
from engines.fileio import encode_image, load_mask, read_rgb, write_atomic
from engines.watermark import (
    WatermarkEstimate,
    anchored_shift,
    estimate_watermark_mask,
    shifted,
)
from tests.cli.refusals import argument_error
from tests.engines.test_watermark import stamp
from tests.engines.test_watermark_unmarked import (
    UNDECIDED_NOTES,
    assert_cleared,
    half_marked,
    marked_folder,
    photo_backgrounds,
    undecided,
    write_pictures,
)

SIZE = (120, 160)
NOT_WRITTEN = ("1 not written (the watermark was not found in it; --unmarked fill fills "
               "them):\n  unmarked.png\n")


@pytest.fixture
def folder(tmp_path):
    """8 PNG photos of 160x120: ``unmarked.png`` without the watermark, ``photo1.png`` to
    ``photo7.png`` with it; returns (folder, images by name, alpha)."""
    images, alpha = marked_folder(8, size=SIZE)
    names = ["unmarked.png"] + [f"photo{index}.png" for index in range(1, 8)]
    return write_pictures(tmp_path / "in", images, names), dict(zip(names, images)), alpha


def run(*arguments) -> int:
    return cli.main(["watermark", *map(str, arguments)])


def test_the_picture_without_the_mark_is_not_written_and_named(folder, tmp_path, capsys):
    source, images, _alpha = folder
    output, mask_file = tmp_path / "out", tmp_path / "mask.png"
    assert run("--images", source, "-o", output, "--mask-out", mask_file) == cli.EXIT_OK
    out = capsys.readouterr().out
    estimate_line = next(line for line in out.splitlines() if line.startswith("watermark found"))
    assert estimate_line.startswith("watermark found, estimated from 8 images: ")
    assert estimate_line.endswith("; 1 of them shows no mark: unmarked.png")
    assert f"7 written to {output}, 0 failed\n" in out and NOT_WRITTEN in out
    assert "failed:" not in out
    assert not (output / "unmarked.png").exists()
    assert_cleared(output, images, load_mask(mask_file, SIZE) >= 128, but="unmarked.png")
    assert read_rgb(source / "unmarked.png").tobytes() == images["unmarked.png"].tobytes()

    # run again: the results are kept, the picture without the mark is still left alone
    assert run("--images", source, "-o", output) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"0 written to {output}, 0 failed\n" in out and NOT_WRITTEN in out
    assert "7 skipped: already in the output folder" in out


def test_unmarked_fill_fills_every_picture(folder, tmp_path, capsys):
    source, images, _alpha = folder
    output, mask_file = tmp_path / "out", tmp_path / "mask.png"
    assert run("--images", source, "-o", output, "--unmarked", "fill",
               "--mask-out", mask_file) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "1 of them shows no mark: unmarked.png" in out  # the estimate still says so
    assert f"8 written to {output}, 0 failed\n" in out and "not written" not in out
    hole = load_mask(mask_file, SIZE) >= 128
    cleared = read_rgb(output / "unmarked.png")
    assert (cleared[hole] != images["unmarked.png"][hole]).any()
    assert (cleared[~hole] == images["unmarked.png"][~hole]).all()


def test_a_faint_mark_is_filled_everywhere(tmp_path, capsys):
    images, _alpha = marked_folder(8, opacity=0.2, size=SIZE)
    source = tmp_path / "in"
    source.mkdir()
    for index, image in enumerate(images[1:]):  # every one carries the faint mark
        write_atomic(source / f"faint{index}.png", encode_image(image, ".png"))
    assert run("--images", source, "-o", tmp_path / "out") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"7 written to {tmp_path / 'out'}, 0 failed\n" in out
    assert "not written" not in out and "no mark" not in out and "lack" not in out


def test_an_anchored_picture_without_the_mark_is_not_written(folder, tmp_path, capsys):
    source, _images, alpha = folder
    target = (200, 150)  # width, height
    # the mark placed where the command will place the mask (pictures of another size are
    # left out of the estimate, so the estimate is the same with them)
    shift = anchored_shift(estimate_watermark_mask(source).mask >= 128, target)
    clean, background = photo_backgrounds(2, (150, 200), seed=5, first=2)
    write_atomic(source / "big-unmarked.png", encode_image(clean, ".png"))
    write_atomic(source / "big-marked.png",
                 encode_image(stamp(background, shifted(alpha, shift, target)), ".png"))
    output = tmp_path / "out"
    assert run("--images", source, "-o", output, "--other-sizes", "anchor") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"8 written to {output}, 0 failed\n" in out
    assert ("2 not written (the watermark was not found in them; --unmarked fill fills "
            "them):\n  big-unmarked.png\n  unmarked.png\n") in out
    assert (output / "big-marked.png").exists() and not (output / "big-unmarked.png").exists()


def test_nothing_filled_because_no_picture_shows_the_mark_is_a_failure(folder, tmp_path,
                                                                         capsys, monkeypatch):
    source, _images, _alpha = folder
    monkeypatch.setattr(WatermarkEstimate, "shows_mark", lambda self, rgb, shift=None: False)
    output = tmp_path / "out"
    assert run("--images", source, "-o", output) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert f"0 written to {output}, 0 failed\n" in captured.out
    assert "8 not written (the watermark was not found in them;" in captured.out
    assert captured.err.splitlines()[-1] == (
        "error: the watermark was found in none of the images; nothing was written "
        "(--unmarked fill fills them all the same)")
    assert list(output.iterdir()) == []
    assert run("--images", source, "-o", output, "--unmarked", "fill") == cli.EXIT_OK


def test_an_unknown_unmarked_choice_is_a_usage_error(folder, tmp_path, capsys):
    source, _images, _alpha = folder
    assert run("--images", source, "-o", tmp_path / "out", "--unmarked", "maybe") == \
        cli.EXIT_USAGE
    assert "--unmarked" in argument_error(capsys, "watermark")
    assert not (tmp_path / "out").exists()


def test_a_half_marked_folder_writes_the_marked_pictures_only(tmp_path, capsys):
    """6 stamped and 6 plain photos (QA37 F4): the plain ones are named and not written."""
    plain = [f"plain{index}.png" for index in range(6)]
    stamped = [f"stamped{index}.png" for index in range(6)]
    source = write_pictures(tmp_path / "in", half_marked(6, size=SIZE, seed=2), plain + stamped)
    output, mask_file = tmp_path / "out", tmp_path / "mask.png"
    assert run("--images", source, "-o", output, "--mask-out", mask_file) == cli.EXIT_OK
    out = capsys.readouterr().out
    estimate_line = next(line for line in out.splitlines() if line.startswith("watermark found"))
    assert estimate_line.endswith("; 6 of them show no mark: plain0.png, plain1.png, "
                                  "plain2.png, plain3.png, plain4.png and 1 more")
    assert f"6 written to {output}, 0 failed\n" in out
    assert ("6 not written (the watermark was not found in them; --unmarked fill fills them):\n"
            + "".join(f"  {name}\n" for name in plain)) in out
    assert "lack" not in out and "faint" not in out
    assert sorted(path.name for path in output.iterdir()) == stamped
    hole = load_mask(mask_file, SIZE) >= 128
    for name in stamped:
        original, cleared = read_rgb(source / name), read_rgb(output / name)
        assert (cleared[~hole] == original[~hole]).all()
        assert (cleared[hole] != original[hole]).any()


def test_over_half_without_the_mark_judge_none_and_fill_all(tmp_path, capsys):
    source = write_pictures(tmp_path / "in", half_marked(8, size=SIZE),
                            [f"photo{index:02d}.png" for index in range(12)])
    assert run("--images", source, "-o", tmp_path / "out") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert ("; 8 of the 12 images seem to lack it, too many to tell which carry it, so every "
            "image is filled\n") in out
    assert "faint" not in out and "weakly" not in out
    assert f"12 written to {tmp_path / 'out'}, 0 failed\n" in out and "not written" not in out


@pytest.mark.parametrize("used, lacking, faint, note", UNDECIDED_NOTES[1:])
def test_the_estimate_line_carries_the_undecided_note_in_lower_case(used, lacking, faint,
                                                                     note):
    """After "; " the note goes on the line's sentence: lower case, as worded (QA39 F5)."""
    assert _unmarked_in_estimate(undecided(used, lacking, faint)) == \
        f"; {note}, so every image is filled"


def test_a_faint_mark_judges_none_says_why_and_fills_every_picture(tmp_path, capsys):
    """Every photo carries a faint mark (alpha 0.06): most score as lacking it and the
    others barely show it, so which carry it cannot be told: all are filled."""
    images, _alpha = marked_folder(6, opacity=0.06, seed=1, size=SIZE)
    names = [f"faint{index}.png" for index in range(5)]
    source = write_pictures(tmp_path / "in", images[1:], names)
    output, mask_file = tmp_path / "out", tmp_path / "mask.png"
    assert run("--images", source, "-o", output, "--mask-out", mask_file) == cli.EXIT_OK
    out = capsys.readouterr().out
    # QA39 F5: one other picture, so "the other shows", not "the others show"
    assert ("; 4 of the 5 images seem to lack it, and the other shows it too weakly to tell "
            "which carry it, so every image is filled\n") in out
    assert f"5 written to {output}, 0 failed\n" in out and "not written" not in out
    hole = load_mask(mask_file, SIZE) >= 128
    for name in names:
        assert (read_rgb(output / name)[hole] != read_rgb(source / name)[hole]).any()


def test_an_interrupted_run_names_the_pictures_not_written_so_far(folder, tmp_path, capsys,
                                                                   monkeypatch):
    import engines.batch
    from tests.cli.stopping import ctrl_c, stop_at_call

    source, _images, _alpha = folder
    (source / "unmarked.png").rename(source / "a_unmarked.png")  # judged first
    output = tmp_path / "out"
    # Ctrl+C while the third marked picture is cleared
    stop_at_call(monkeypatch, engines.batch, "_final_image", 3, ctrl_c)
    assert run("--images", source, "-o", output) == cli.EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert ("1 not written (the watermark was not found in it; --unmarked fill fills "
            "them):\n  a_unmarked.png\n") in captured.out
    message = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "2 results written and kept" in message
    assert "1 not written (no watermark found)" in message
