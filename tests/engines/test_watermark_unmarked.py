"""Pictures without the watermark: the estimate names those it was made from that show no
mark, :meth:`WatermarkEstimate.shows_mark` judges any picture (anchored ones included), and
``clear_folder(shows_mark=...)`` leaves them unwritten, listed in ``BatchResult.unmarked``;
up to half of a folder may lack the mark when the others show it clearly, and when the scores
do not tell them apart none is judged, :func:`undecided_note` saying why."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from engines.batch import BatchResult, clear_folder, so_far
from engines.fileio import decode_image, encode_image, read_rgb, write_atomic
from engines.watermark import (
    MARK_LEVEL,
    WatermarkEstimate,
    anchored_shift,
    carries_mark,
    estimate_watermark_mask,
    shifted,
    undecided_note,
)
from tests.engines.test_watermark import random_crop, stamp, watermark_alpha

SIZE = (192, 256)  # height, width
# scikit-image's photos, bundled with it (no download)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins",
          "immunohistochemistry", "clock", "moon", "hubble_deep_field")


@functools.cache
def _photo(name: str) -> np.ndarray:
    pixels = getattr(skimage.data, name)()
    return np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels


def photo_backgrounds(count: int, size: tuple[int, int] = SIZE, seed: int = 0,
                      first: int = 0) -> list[np.ndarray]:
    """``count`` crops (``size`` = (height, width)) of scikit-image's photos, one photo after
    another from ``PHOTOS[first]``, each scaled 1 to 1.6 times past the size and flipped
    at random."""
    rng = np.random.default_rng(seed)
    return [np.ascontiguousarray(random_crop(_photo(PHOTOS[(first + index) % len(PHOTOS)]),
                                             size, rng, most=1.6)) for index in range(count)]


def assert_cleared(output: Path, images: dict[str, np.ndarray], hole: np.ndarray,
                   but: str) -> None:
    """Each of ``images`` but the one named ``but`` was written to ``output`` filled inside
    ``hole`` (some pixel changed there) and unchanged outside it."""
    for name, image in images.items():
        if name == but:
            continue
        cleared = read_rgb(output / name)
        assert np.count_nonzero((cleared != image).any(axis=2) & ~hole) == 0
        assert (cleared[hole] != image[hole]).any()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` as a JPEG of ``quality`` decodes."""
    data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return decode_image(data.tobytes(), "photo.jpg").rgb


def write_pictures(folder: Path, images, names) -> Path:
    """``images`` as PNG files named ``names`` in ``folder``, which is made; ``folder``."""
    folder.mkdir(parents=True)
    for name, image in zip(names, images):
        write_atomic(folder / name, encode_image(image, ".png"))
    return folder


def marked_folder(count: int, opacity: float = 0.45, seed: int = 2,
                  colour=(255, 255, 255), size: tuple[int, int] = SIZE):
    """``count`` photos, the first without the watermark, the others stamped with it; and
    the watermark's alpha."""
    alpha = watermark_alpha(size, opacity)
    backgrounds = photo_backgrounds(count, size, seed)
    return [backgrounds[0]] + [stamp(b, alpha, colour) for b in backgrounds[1:]], alpha


def test_the_estimate_names_the_picture_without_the_mark():
    images, alpha = marked_folder(7)
    estimate = estimate_watermark_mask(images)
    assert estimate.found and estimate.used == 7 and not estimate.faint
    assert estimate.unmarked == ("image 1",)
    scores = [estimate.mark_score(image) for image in images]
    assert scores[0] < MARK_LEVEL and min(scores[1:]) > 0.4
    assert [estimate.shows_mark(image) for image in images] == [False] + [True] * 6
    # pictures it was not made from: the whole median judges them
    clean, marked = photo_backgrounds(2, seed=7, first=1)
    assert not estimate.shows_mark(clean) and estimate.mark_score(clean) < MARK_LEVEL
    assert estimate.shows_mark(stamp(marked, alpha))
    assert estimate.mark_score(stamp(marked, alpha)) > 0.5


@pytest.mark.parametrize("colour, quality", [((255, 255, 255), None), ((0, 0, 0), 75),
                                             ((255, 255, 255), 95)])
def test_a_faint_mark_is_still_found(colour, quality):
    images, _alpha = marked_folder(8, opacity=0.2, colour=colour)
    if quality:
        images = [jpeg(image, quality) for image in images]
    estimate = estimate_watermark_mask(images)
    assert estimate.found and not estimate.faint
    assert estimate.unmarked == ("image 1",)
    assert all(estimate.shows_mark(image) for image in images[1:])
    assert min(estimate.mark_score(image) for image in images[1:]) > 0.3


def test_a_picture_of_another_size_is_judged_where_its_mask_is_anchored():
    images, alpha = marked_folder(7)
    estimate = estimate_watermark_mask(images)
    target = (300, 230)  # width, height
    shift = anchored_shift(estimate.mask >= 128, target)
    assert shift is not None and shift != (0, 0)
    clean, background = photo_backgrounds(2, (230, 300), seed=5, first=2)
    marked = stamp(background, shifted(alpha, shift, target))
    assert estimate.shows_mark(marked, shift) and estimate.mark_score(marked, shift) > 0.5
    assert not estimate.shows_mark(clean, shift)
    # the mark where the mask would not be: not found
    assert not estimate.shows_mark(stamp(background, shifted(alpha, (0, 0), target)), shift)
    # another size without a shift cannot be told: the doubt goes to filling
    assert estimate.mark_score(clean) is None and estimate.shows_mark(clean)


def half_marked(unmarked: int, count: int = 12, size: tuple[int, int] = SIZE, seed: int = 0,
                opacity: float = 0.45) -> list[np.ndarray]:
    """``count`` photos, the first ``unmarked`` without the watermark, the others stamped
    with it (white, ``opacity``)."""
    alpha = watermark_alpha(size, opacity)
    backgrounds = photo_backgrounds(count, size, seed)
    return backgrounds[:unmarked] + [stamp(b, alpha) for b in backgrounds[unmarked:]]


@pytest.mark.parametrize("unmarked, count", [(6, 12), (3, 7)])
def test_a_folder_of_which_up_to_half_lack_the_mark_is_judged(unmarked, count):
    """Over a third lack the mark, but the others show it clearly: each is judged (QA37 F4:
    6 stamped and 6 plain photos had every one filled, 'a faint mark' blamed)."""
    images = half_marked(unmarked, count)
    estimate = estimate_watermark_mask(images)
    assert estimate.found and estimate.lacking is None and not estimate.faint
    assert estimate.unmarked == tuple(f"image {index + 1}" for index in range(unmarked))
    assert undecided_note(estimate) == ""
    assert [estimate.shows_mark(image) for image in images] == \
        [False] * unmarked + [True] * (count - unmarked)
    assert min(estimate.mark_score(image) for image in images[unmarked:]) > 0.5


def test_over_half_without_the_mark_judge_none():
    images = half_marked(7)
    estimate = estimate_watermark_mask(images)
    assert estimate.found and estimate.lacking == 7 and not estimate.faint
    assert estimate.unmarked is None and estimate.mark is None
    assert undecided_note(estimate) == ("7 of the 12 images seem to lack it, too many to tell "
                                        "which carry it")
    assert all(estimate.shows_mark(image) for image in images)
    assert estimate.mark_score(images[0]) is None
    # QA38 F4: when every image scores as lacking it, not "all 12 images seem to lack it"
    # followed by "so every image is filled"
    every = dataclasses.replace(estimate, lacking=estimate.used)
    assert undecided_note(every) == ("none of the 12 images shows it clearly enough to tell "
                                     "which carry it")


def test_a_faint_mark_judges_none_and_says_the_others_show_it_weakly():
    """Every photo carries a faint mark (alpha 0.06): most score as lacking it, the others
    barely above the level, so none is judged and every picture is filled."""
    images, _alpha = marked_folder(7, opacity=0.06, seed=1)
    images = images[1:]
    estimate = estimate_watermark_mask(images)
    assert estimate.found and estimate.faint and estimate.lacking == 4
    assert estimate.unmarked is None and estimate.mark is None
    assert undecided_note(estimate) == ("4 of the 6 images seem to lack it, and the others "
                                        "show it too weakly to tell which carry it")
    assert all(estimate.shows_mark(image) for image in images)


def undecided(used: int, lacking: int | None, faint: bool) -> WatermarkEstimate:
    """A found estimate of ``used`` 4x4 images that judges none (``lacking``, ``faint``)."""
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 255
    return WatermarkEstimate(mask, np.zeros((4, 4), np.float32), (4, 4), used, (),
                             (1, 1, 2, 2), lacking=lacking, faint=faint)


# QA39 F5: every branch, with singular and plural counts ("1 ... seems", "the other shows")
UNDECIDED_NOTES = [
    (12, None, False, ""),
    (12, 7, False, "7 of the 12 images seem to lack it, too many to tell which carry it"),
    (1, 1, False, "the 1 image does not show it clearly enough to tell whether it carries it"),
    (2, 2, True, "none of the 2 images shows it clearly enough to tell which carry it"),
    (12, 12, False, "none of the 12 images shows it clearly enough to tell which carry it"),
    (2, 1, True, "1 of the 2 images seems to lack it, and the other shows it too weakly to "
                 "tell which carry it"),
    (3, 1, True, "1 of the 3 images seems to lack it, and the others show it too weakly to "
                 "tell which carry it"),
    (5, 4, True, "4 of the 5 images seem to lack it, and the other shows it too weakly to "
                 "tell which carry it"),
    (12, 5, True, "5 of the 12 images seem to lack it, and the others show it too weakly to "
                  "tell which carry it"),
    # not reached by the estimate (one lacking it of two that show it clearly is judged),
    # worded all the same
    (2, 1, False, "1 of the 2 images seems to lack it, too many to tell which carry it"),
]


@pytest.mark.parametrize("used, lacking, faint, note", UNDECIDED_NOTES)
def test_the_undecided_note_agrees_with_its_counts(used, lacking, faint, note):
    assert undecided_note(undecided(used, lacking, faint)) == note


def test_several_groups_judge_each_picture_when_cleared():
    images, _alpha = marked_folder(9)
    frame = SIZE[0] * SIZE[1] * 2 * 2
    estimate = estimate_watermark_mask(images, memory_budget=4 * frame)
    assert estimate.found and estimate.unmarked is None and not estimate.faint
    assert not estimate.shows_mark(images[0])
    assert all(estimate.shows_mark(image) for image in images[1:])


def test_photos_sharing_no_mark_single_none_out():
    """Photos without any watermark: whatever specks their median shares, no picture is
    told apart from the others (none is judged, or nothing is found)."""
    images = photo_backgrounds(6, seed=3)
    estimate = estimate_watermark_mask(images)
    assert not estimate.found or estimate.lacking is not None
    assert estimate.mark is None and estimate.unmarked is None
    assert all(estimate.shows_mark(image) for image in images)


def test_carries_mark_errs_toward_filling():
    assert carries_mark(None) and carries_mark(MARK_LEVEL) and carries_mark(1.0)
    assert carries_mark(-0.5)  # the mark's contrast reversed (a grey mark on bright ground)
    assert not carries_mark(0.0) and not carries_mark(MARK_LEVEL / 2)


@pytest.fixture
def folder(tmp_path):
    """7 PNG photos, ``clean.png`` without the watermark; (folder, images by name, alpha)."""
    images, alpha = marked_folder(7)
    names = ["clean.png"] + [f"photo{index}.png" for index in range(1, 7)]
    return write_pictures(tmp_path / "in", images, names), dict(zip(names, images)), alpha


def test_clearing_leaves_the_picture_without_the_mark_unwritten(folder, tmp_path):
    source, images, _alpha = folder
    estimate = estimate_watermark_mask(source)
    assert estimate.unmarked == ("clean.png",)
    output = tmp_path / "out"
    result = clear_folder(source, output, estimate.mask, "telea",
                          shows_mark=estimate.shows_mark)
    assert result.ok and result.unmarked == (source / "clean.png",)
    assert sorted(path.name for path in result.written) == sorted(images)[1:] == \
        sorted(name for name in images if name != "clean.png")
    assert not (output / "clean.png").exists()
    assert_cleared(output, images, estimate.mask >= 128, but="clean.png")
    # without the check every picture is filled
    everything = clear_folder(source, tmp_path / "all", estimate.mask, "telea")
    assert len(everything.written) == 7 and not everything.unmarked


def test_clearing_judges_anchored_pictures_of_another_size(folder, tmp_path):
    source, _images, alpha = folder
    estimate = estimate_watermark_mask(source)
    target = (300, 230)
    shift = anchored_shift(estimate.mask >= 128, target)
    clean, background = photo_backgrounds(2, (230, 300), seed=5, first=2)
    write_atomic(source / "big-clean.png", encode_image(clean, ".png"))
    write_atomic(source / "big-marked.png",
                 encode_image(stamp(background, shifted(alpha, shift, target)), ".png"))
    result = clear_folder(source, tmp_path / "out", estimate.mask, "telea",
                          other_sizes="anchor", shows_mark=estimate.shows_mark)
    assert [path.name for path in result.unmarked] == ["big-clean.png", "clean.png"]
    assert (tmp_path / "out" / "big-marked.png").exists()
    assert not (tmp_path / "out" / "big-clean.png").exists()


def test_a_stopped_run_counts_the_pictures_not_written():
    result = BatchResult((Path("out/a.png"),), (), unmarked=(Path("in/b.png"),))
    assert result.ok
    assert so_far(result, (Path("in/c.png"),)) == ("1 result written and kept, 1 picture not "
                                                   "done, 1 not written (no watermark "
                                                   "found)")


def test_clearing_a_half_marked_folder_writes_only_the_marked_pictures(tmp_path):
    names = [f"plain{index}.png" for index in range(6)] + \
        [f"stamped{index}.png" for index in range(6)]
    images = half_marked(6)
    source = write_pictures(tmp_path / "in", images, names)
    estimate = estimate_watermark_mask(source)
    assert estimate.lacking is None and estimate.unmarked == tuple(names[:6])
    output = tmp_path / "out"
    result = clear_folder(source, output, estimate.mask, "telea",
                          shows_mark=estimate.shows_mark)
    assert result.ok and result.unmarked == tuple(source / name for name in names[:6])
    assert sorted(path.name for path in output.iterdir()) == names[6:]
    hole = estimate.mask >= 128
    for name, image in zip(names[6:], images[6:]):
        cleared = read_rgb(output / name)
        assert (cleared[~hole] == image[~hole]).all() and (cleared[hole] != image[hole]).any()
