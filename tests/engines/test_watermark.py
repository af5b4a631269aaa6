"""Watermark clearing: the folder estimate (Dekel et al.), the folder clearing and file helpers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from engines.base import Cancelled, CancelToken, EngineError, InputError
from engines.batch import BatchResult, OtherSize, clear_folder, so_far
from engines.fileio import encode_image, read_rgb, write_atomic
from engines.watermark import (
    anchored_offset,
    estimate_watermark_mask,
    left_out_note,
    place_mask,
    preview_image,
    reconstruct_from_gradients,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
HEIGHT, WIDTH = 192, 256
MARGIN = 2


def _photos() -> list[np.ndarray]:
    return [read_rgb(SAMPLES / "rocket.jpg"), read_rgb(SAMPLES / "coffee.png")]


def random_crop(photo: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                most: float) -> np.ndarray:
    """A ``size`` (height, width) crop of ``photo`` scaled 1 to ``most`` times past the size,
    at a random place, flipped left to right half of the time."""
    height, width = size
    scale = rng.uniform(1.0, most) * max(height / photo.shape[0], width / photo.shape[1])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top = rng.integers(0, photo.shape[0] - height + 1)
    left = rng.integers(0, photo.shape[1] - width + 1)
    crop = photo[top:top + height, left:left + width]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def backgrounds(count: int, seed: int = 0, size: tuple[int, int] = (HEIGHT, WIDTH)):
    """Varied backgrounds: crops of the bundled photos (scaled, flipped, rotated, colour-
    shifted) and synthetic textures (blurred noise with stripes)."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    height, width = size
    images = []
    for index in range(count):
        if index % 3 < 2:
            photo = photos[index % 3]
            if rng.random() < 0.5:
                photo = cv2.rotate(photo, cv2.ROTATE_180)
            image = random_crop(photo, size, rng, most=2.0)
            image = image[..., rng.permutation(3)].astype(np.float32)
            image = image * rng.uniform(0.7, 1.2) + rng.uniform(-30, 30)
        else:
            noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32),
                                     (0, 0), rng.uniform(2, 12))
            noise /= noise.std() + 1e-6
            rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
            angle = rng.uniform(0, np.pi)
            stripes = np.sin((cols * np.cos(angle) + rows * np.sin(angle)) / rng.uniform(3, 20))
            image = (rng.uniform(40, 220, 3) + noise * rng.uniform(10, 50)
                     + stripes[..., None] * rng.uniform(0, 40))
        images.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    return images


def watermark_alpha(size: tuple[int, int] = (HEIGHT, WIDTH), opacity: float = 0.45):
    """A text line, a ring and a filled box, rendered anti-aliased: float32 alpha in [0, 1]."""
    height, width = size
    coverage = np.zeros((height, width), np.uint8)
    cv2.putText(coverage, "(c) Studio", (int(width * 0.42), int(height * 0.86)),
                cv2.FONT_HERSHEY_DUPLEX, width / 480, 255, 1, cv2.LINE_AA)
    cv2.circle(coverage, (int(width * 0.2), int(height * 0.25)), int(height * 0.09), 255, 2,
               cv2.LINE_AA)
    cv2.rectangle(coverage, (int(width * 0.1), int(height * 0.55)),
                  (int(width * 0.3), int(height * 0.7)), 255, -1, cv2.LINE_AA)
    return coverage.astype(np.float32) / 255 * opacity


def stamp(image: np.ndarray, alpha: np.ndarray, colour=(255, 255, 255)) -> np.ndarray:
    blended = image * (1 - alpha[..., None]) + np.float32(colour) * alpha[..., None]
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def true_mask(alpha: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """Visible watermark pixels (at least 5% of full opacity) grown by ``margin``."""
    visible = (alpha >= 0.05 * alpha.max()).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.dilate(visible, kernel) > 0


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def watermarked():
    """16 watermarked images and the watermark's alpha."""
    alpha = watermark_alpha()
    return [stamp(b, alpha) for b in backgrounds(16)], alpha


def write_folder(folder: Path, images, suffix: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        path = folder / f"img{index:02d}{suffix}"
        write_atomic(path, encode_image(image, suffix))
        paths.append(path)
    return paths


# --- estimation ---------------------------------------------------------------------------

def test_estimate_recovers_the_watermark_mask(watermarked):
    images, alpha = watermarked
    estimate = estimate_watermark_mask(images, margin=MARGIN)
    assert estimate.mask.dtype == np.uint8 and estimate.mask.shape == (HEIGHT, WIDTH)
    assert set(np.unique(estimate.mask)) <= {0, 255}
    assert estimate.found and estimate.used == 16 and estimate.size == (WIDTH, HEIGHT)
    assert iou(estimate.mask, true_mask(alpha)) >= 0.8
    x, y, w, h = estimate.box
    ys, xs = np.nonzero(true_mask(alpha))
    assert abs(x - xs.min()) <= 3 and abs(y - ys.min()) <= 3
    assert abs(x + w - 1 - xs.max()) <= 3 and abs(y + h - 1 - ys.max()) <= 3
    # the filled box is filled, the ring's inside is not
    assert (estimate.mask[int(HEIGHT * 0.6), int(WIDTH * 0.15):int(WIDTH * 0.25)] == 255).all()
    assert estimate.mask[int(HEIGHT * 0.25), int(WIDTH * 0.2)] == 0
    # the matted reconstruction is bright where the white watermark is
    inside = alpha > 0.3
    assert estimate.matted[inside].mean() > 20 > abs(float(np.median(estimate.matted)))


def test_dark_watermark_and_grouped_median(watermarked):
    _, alpha = watermarked
    images = [stamp(b, alpha, (0, 0, 0)) for b in backgrounds(16, seed=3)]
    frame = HEIGHT * WIDTH * 4  # bytes of one image's int16 gradients
    estimate = estimate_watermark_mask(images, margin=MARGIN, memory_budget=5 * frame)
    assert iou(estimate.mask, true_mask(alpha)) >= 0.8
    assert estimate.matted[alpha > 0.3].mean() < -20


def test_margin_grows_the_mask(watermarked):
    images, alpha = watermarked
    tight = estimate_watermark_mask(images, margin=1).mask > 0
    loose = estimate_watermark_mask(images, margin=4).mask > 0
    assert (loose | ~tight).all() and loose.sum() > tight.sum()
    assert iou(loose, true_mask(alpha, 4)) >= 0.8


def test_no_shared_structure_means_no_watermark():
    estimate = estimate_watermark_mask(backgrounds(15, seed=5))
    assert not estimate.found and estimate.box is None and not estimate.mask.any()


def test_large_images_are_estimated_scaled_down(watermarked):
    images, alpha = watermarked
    big = [cv2.resize(i, (WIDTH * 2, HEIGHT * 2), interpolation=cv2.INTER_CUBIC) for i in images]
    estimate = estimate_watermark_mask(big, margin=MARGIN * 2, max_side=WIDTH)
    assert estimate.mask.shape == (HEIGHT * 2, WIDTH * 2)
    big_alpha = cv2.resize(alpha, (WIDTH * 2, HEIGHT * 2), interpolation=cv2.INTER_LINEAR)
    assert iou(estimate.mask, true_mask(big_alpha, MARGIN * 2)) >= 0.8


def test_folder_is_read_lazily_and_other_sizes_are_left_out(tmp_path, watermarked):
    images, alpha = watermarked
    folder = tmp_path / "in"
    write_folder(folder, images[:12])
    write_atomic(folder / "odd.png", encode_image(backgrounds(1, 9, (100, 120))[0], ".png"))
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"not really a jpeg")
    progress = []
    estimate = estimate_watermark_mask(folder, lambda f, m: progress.append((f, m)),
                                       margin=MARGIN)
    assert estimate.used == 12
    skipped = dict(estimate.skipped)
    assert set(skipped) == {"odd.png", "broken.jpg"}
    assert "120x100" in skipped["odd.png"]
    assert iou(estimate.mask, true_mask(alpha)) >= 0.8
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_too_few_images_and_bad_input(tmp_path, watermarked):
    images, _ = watermarked
    with pytest.raises(InputError, match="at least 5"):
        estimate_watermark_mask(images[:4])
    with pytest.raises(InputError):
        estimate_watermark_mask(images[0])
    with pytest.raises(InputError):
        estimate_watermark_mask([np.zeros((8, 8), np.uint8)] * 6)
    with pytest.raises(FileNotFoundError):
        estimate_watermark_mask(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="the folder empty has no pictures; need at least"):
        estimate_watermark_mask(empty)
    with pytest.raises(InputError, match="no images were given"):
        estimate_watermark_mask([])
    (empty / "broken.png").write_bytes(b"not a picture")
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(empty)
    assert str(refused.value) == ("the one image given cannot be read; need at least 5 "
                                  "carrying the same watermark. 1 left out of the estimate: "
                                  "broken.png: not an image file, or the file is damaged")
    (empty / "broken2.png").write_bytes(b"not a picture either")
    with pytest.raises(InputError, match=r"^none of the 2 images given can be read; need at "
                                         r"least 5 carrying the same watermark\. 2 left out "):
        estimate_watermark_mask(empty)


CUT_SHORT = ("the file is cut short, as an interrupted download or copy leaves it (the editor "
             "opens it with the missing part masked, to fill)")


def too_few_folder(folder: Path, good: int, size: tuple[int, int] = (120, 160)) -> Path:
    """``folder`` with ``good`` pictures p0.png... of ``size`` (h, w), and three left out
    of an estimate: broken.jpg (not a picture), other.png (200x150) and cut.jpg, a JPEG of
    ``size`` cut short after its header (its size reads, its pixels do not: not readable)."""
    folder.mkdir()
    pictures = backgrounds(good + 1, seed=4, size=size)
    for index, image in enumerate(pictures[:good]):
        write_atomic(folder / f"p{index}.png", encode_image(image, ".png"))
    data = encode_image(pictures[good], ".jpg")
    (folder / "cut.jpg").write_bytes(data[:len(data) // 2])
    (folder / "broken.jpg").write_bytes(b"not a picture")
    other = backgrounds(1, seed=5, size=(150, 200))[0]
    write_atomic(folder / "other.png", encode_image(other, ".png"))
    return folder


def test_too_few_images_names_those_left_out_and_why(tmp_path):
    """Refused for too few pictures of one size: the message says which were left out and
    why, as a successful estimate lists them (:func:`left_out_note`)."""
    few = too_few_folder(tmp_path / "few", 3)  # 3 good; cut.jpg is not readable
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(few)
    assert str(refused.value) == (
        "found 3 readable images of size 160x120; estimating a watermark needs at least 5 of "
        "one size. 3 left out of the estimate: broken.jpg: not an image file, or the file is "
        f"damaged; cut.jpg: {CUT_SHORT}; other.png: 200x150 differs from the common size "
        "160x120")
    # 5 of 160x120 by their headers, but cut.jpg is cut short: refused from the start
    cut = too_few_folder(tmp_path / "cut", 4)
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(cut)
    assert str(refused.value) == (
        "found 4 readable images of size 160x120; estimating a watermark needs at least 5 of "
        "one size. 3 left out of the estimate: broken.jpg: not an image file, or the file is "
        f"damaged; cut.jpg: {CUT_SHORT}; other.png: 200x150 differs from the common size "
        "160x120")


def test_too_few_images_says_one_image_and_cuts_a_long_list(tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    write_atomic(one / "p0.png", encode_image(backgrounds(1, seed=4)[0], ".png"))
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(one)
    assert str(refused.value) == (f"found 1 readable image of size {WIDTH}x{HEIGHT}; "
                                  "estimating a watermark needs at least 5 of one size")
    for index in range(8):
        (one / f"bad{index}.jpg").write_bytes(b"not a picture")
    with pytest.raises(InputError) as refused:
        estimate_watermark_mask(one)
    damaged = "not an image file, or the file is damaged"
    assert str(refused.value) == (
        f"found 1 readable image of size {WIDTH}x{HEIGHT}; estimating a watermark needs at "
        "least 5 of one size. 8 left out of the estimate: "
        + "; ".join(f"bad{index}.jpg: {damaged}" for index in range(5)) + " and 3 more")


def test_left_out_note():
    skipped = [("a.png", "cut short"), ("b.png", "100x100 differs")]
    assert left_out_note([]) == ""
    assert left_out_note(skipped) == ("2 left out of the estimate: a.png: cut short; "
                                      "b.png: 100x100 differs")
    assert left_out_note(skipped, 1) == "2 left out of the estimate: a.png: cut short and 1 more"


def test_estimate_can_be_cancelled(watermarked):
    images, _ = watermarked
    token = CancelToken()

    def cancel_after_three(fraction: float, message: str) -> None:
        if fraction > 0.15:
            token.cancel()

    with pytest.raises(Cancelled):
        estimate_watermark_mask(images, cancel_after_three, token)


@pytest.mark.parametrize("count", [7, 8])
def test_median_of_one_group_is_exact(count):
    from engines.watermark import _Remedian

    frames = np.random.default_rng(count).integers(-300, 300, (count, 4, 5, 2)).astype(np.int16)
    median = _Remedian((4, 5, 2), count)
    for frame in frames:
        median.add(frame)
    assert np.array_equal(median.result(), np.median(frames, axis=0).astype(np.float32))


def test_poisson_reconstruction_inverts_sobel_gradients():
    cols = np.mgrid[0:96, 0:128][1].astype(np.float32)
    image = np.zeros((96, 128), np.float32)
    cv2.circle(image, (64, 48), 20, 60.0, -1)
    image = cv2.GaussianBlur(image, (0, 0), 1.5) + 10 * np.sin(cols / 9)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
    result = reconstruct_from_gradients(gx, gy)
    expected = image - np.median(image)
    core = (slice(8, -8), slice(8, -8))
    assert np.abs(result - expected)[core].mean() < 1.5
    assert np.corrcoef(result[core].ravel(), expected[core].ravel())[0, 1] > 0.99


def test_preview_marks_the_mask(watermarked):
    images, _ = watermarked
    estimate = estimate_watermark_mask(images)
    preview = preview_image(estimate)
    assert preview.shape == (HEIGHT, WIDTH, 3) and preview.dtype == np.uint8
    hole = estimate.mask > 0
    red = preview[..., 0].astype(int) - preview[..., 1]
    assert red[hole].mean() > 60 and abs(red[~hole].mean()) < 5
    over = preview_image(estimate, images[0])
    outside = cv2.dilate(estimate.mask, np.ones((3, 3), np.uint8)) == 0  # past the outline
    assert (over[outside] == images[0][outside]).all()
    assert (over[hole] != images[0][hole]).any(axis=1).all()
    with pytest.raises(InputError):
        preview_image(estimate, np.zeros((10, 10, 3), np.uint8))


# --- placing a mask on other sizes --------------------------------------------------------

def test_anchored_offset_keeps_the_distance_to_the_nearest_anchor():
    source, target = (200, 100), (300, 160)
    assert anchored_offset((10, 5, 30, 10), source, target) == (0, 0)  # top-left corner
    assert anchored_offset((160, 80, 30, 10), source, target) == (100, 60)  # bottom-right
    assert anchored_offset((90, 45, 20, 10), source, target) == (50, 30)  # centre
    assert anchored_offset((90, 85, 20, 10), source, target) == (50, 60)  # bottom middle


def test_place_mask_moves_a_corner_watermark():
    mask = np.zeros((100, 200), np.uint8)
    mask[80:95, 150:190] = 255
    placed = place_mask(mask, (260, 130))
    assert placed.shape == (130, 260)
    ys, xs = np.nonzero(placed)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (110, 124, 210, 249)
    assert not place_mask(np.zeros((10, 10), np.uint8), (20, 20)).any()


# --- clearing a folder --------------------------------------------------------------------

@pytest.fixture
def folder_job(tmp_path, watermarked):
    images, alpha = watermarked
    clean = backgrounds(16)
    paths = write_folder(tmp_path / "in", images[:6])
    return tmp_path, paths, images[:6], clean[:6], alpha


def test_clearing_changes_only_mask_pixels_and_removes_the_watermark(folder_job, watermarked):
    tmp_path, paths, images, clean, alpha = folder_job
    mask = estimate_watermark_mask(watermarked[0], margin=MARGIN).mask
    progress = []
    result = clear_folder(tmp_path / "in", tmp_path / "out", mask, "telea",
                          lambda f, m: progress.append(f))
    assert result.ok and [p.name for p in result.written] == [p.name for p in paths]
    assert [f for f in progress] == sorted(progress) and progress[-1] == 1.0
    hole = mask >= 128
    visible = alpha >= 0.05 * alpha.max()
    for path, watermarked_image, background in zip(paths, images, clean):
        out = read_rgb(tmp_path / "out" / path.name)
        assert (out[~hole] == watermarked_image[~hole]).all()  # byte-identical outside
        before = np.abs(watermarked_image.astype(int) - background)[visible].mean()
        after = np.abs(out.astype(int) - background)[visible].mean()
        assert after < 0.6 * before
        assert read_rgb(path).tobytes() == watermarked_image.tobytes()  # original untouched


def test_clearing_refuses_to_replace_originals(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    mask = true_mask(alpha).view(np.uint8) * 255
    with pytest.raises(InputError, match="input folder"):
        clear_folder(tmp_path / "in", tmp_path / "in", mask)
    with pytest.raises(InputError, match="input folder"):
        clear_folder(paths, tmp_path / "in" / ".." / "in", mask)
    result = clear_folder(tmp_path / "in", tmp_path / "in", mask, name_suffix="_clear")
    assert result.ok and all(p.stem.endswith("_clear") for p in result.written)
    same_stem = [paths[0], paths[0].with_suffix(".jpg")]
    with pytest.raises(InputError) as refused:
        clear_folder(same_stem, tmp_path / "x", mask, output_format=".png")
    assert str(refused.value) == (
        f"{paths[0].name} and {same_stem[1].name} would be written to {paths[0].name}, one "
        f"result replacing another; keep each picture's own format, or rename them")
    upper = paths[1].with_name(paths[1].stem + ".PNG")  # .PNG and .png: one name either way
    with pytest.raises(InputError) as refused:
        clear_folder([paths[1], upper], tmp_path / "x", mask)
    assert str(refused.value) == (f"{paths[1].name} and {upper.name} would be written to "
                                  f"{paths[1].name}, one result replacing another; rename them")


def test_clearing_keeps_existing_outputs_unless_told(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    mask = true_mask(alpha).view(np.uint8) * 255
    out = tmp_path / "out"
    out.mkdir()
    (out / paths[0].name).write_bytes(b"keep me")
    result = clear_folder(paths, out, mask)
    assert result.skipped == (paths[0],) and result.ok
    assert (out / paths[0].name).read_bytes() == b"keep me"
    assert len(result.written) == len(paths) - 1
    again = clear_folder(paths, out, mask, overwrite=True)
    assert again.ok and read_rgb(out / paths[0].name).shape == (HEIGHT, WIDTH, 3)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files


def test_clearing_goes_on_after_a_bad_image_and_sizes_follow_the_policy(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    mask = true_mask(alpha).view(np.uint8) * 255
    folder = tmp_path / "in"
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    small = backgrounds(1, 11, (HEIGHT + 20, WIDTH + 40))[0]
    write_atomic(folder / "wide.png", encode_image(small, ".png"))
    result = clear_folder(folder, tmp_path / "out", mask)
    assert [p.name for p, _ in result.failed] == ["broken.png"]  # "skip": no failure
    assert result.other_size == (OtherSize(folder / "wide.png", (WIDTH + 40, HEIGHT + 20),
                                           (WIDTH, HEIGHT)),)
    assert not (tmp_path / "out" / "wide.png").exists()
    assert len(result.written) == len(paths)
    anchored = clear_folder(folder, tmp_path / "out2", mask, other_sizes="anchor",
                            output_format=".png")
    assert {p.name for p, _ in anchored.failed} == {"broken.png"}
    assert not anchored.other_size
    out = read_rgb(tmp_path / "out2" / "wide.png")
    placed = place_mask(mask, (WIDTH + 40, HEIGHT + 20)) >= 128
    assert (out[~placed] == small[~placed]).all() and (out[placed] != small[placed]).any()


def test_pictures_of_another_size_skipped_as_asked_are_no_failure(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    mask = true_mask(alpha).view(np.uint8) * 255
    odd = tmp_path / "odd.png"
    write_atomic(odd, encode_image(backgrounds(1, 12, (HEIGHT // 2, WIDTH))[0], ".png"))
    result = clear_folder([paths[0], odd, paths[1]], tmp_path / "out", mask)
    assert result.ok and not result.failed
    assert [entry.path for entry in result.other_size] == [odd]
    assert result.other_size[0].size == (WIDTH, HEIGHT // 2)
    assert result.written == (tmp_path / "out" / paths[0].name, tmp_path / "out" / paths[1].name)
    tiny = tmp_path / "tiny.png"  # anchored, the mask misses it: that one is a failure
    write_atomic(tiny, encode_image(backgrounds(1, 13, (8, 8))[0], ".png"))
    anchored = clear_folder([tiny], tmp_path / "out2", mask, other_sizes="anchor")
    assert not anchored.ok and "falls outside" in anchored.failed[0][1]


def test_a_stopped_run_counts_pictures_of_another_size_apart():
    result = BatchResult((Path("out/a.png"),), (),
                         other_size=(OtherSize(Path("b.png"), (10, 10), (WIDTH, HEIGHT)),))
    assert so_far(result, [Path("c.png"), Path("d.png")]) == (
        "1 result written and kept, 2 pictures not done, 1 skipped (another size)")


def test_clearing_checks_its_inputs(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    mask = true_mask(alpha).view(np.uint8) * 255
    with pytest.raises(InputError, match="empty"):
        clear_folder(paths, tmp_path / "o", np.zeros_like(mask))
    with pytest.raises(InputError):
        clear_folder(paths, tmp_path / "o", mask.astype(np.float32))
    with pytest.raises(InputError):
        clear_folder(paths, tmp_path / "o", mask, other_sizes="stretch")
    with pytest.raises(InputError):
        clear_folder(paths, tmp_path / "o", mask, output_format=".jxl")
    with pytest.raises(KeyError, match="unknown engine"):
        clear_folder(paths, tmp_path / "o", mask, engine="no-such-engine")
    assert not (tmp_path / "o").exists()


def test_clearing_refuses_an_engine_that_cannot_run(folder_job):
    from engines.base import Readiness, Status
    from engines.classical.opencv import TeleaEngine

    class Missing(TeleaEngine):
        def status(self) -> Status:
            return Status(Readiness.NEEDS_DOWNLOAD, "weights missing")

    tmp_path, paths, _, _, alpha = folder_job
    with pytest.raises(EngineError, match="weights missing"):
        clear_folder(paths, tmp_path / "o", true_mask(alpha).view(np.uint8) * 255, Missing())


def test_clearing_can_be_cancelled(folder_job):
    tmp_path, paths, _, _, alpha = folder_job
    token = CancelToken()
    done = []

    def progress(fraction: float, name: str) -> None:
        done.append(name)
        if fraction >= 2 / len(paths):
            token.cancel()

    with pytest.raises(Cancelled):
        clear_folder(paths, tmp_path / "out", true_mask(alpha).view(np.uint8) * 255,
                     progress=progress, cancel=token)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert 1 <= len(written) < len(paths)


# --- file helpers -------------------------------------------------------------------------

def test_write_atomic_refuses_to_replace_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "a.bin"
    write_atomic(target, b"one")
    with pytest.raises(FileExistsError) as info:
        write_atomic(target, b"two")
    assert info.value.filename == str(target)
    assert target.read_bytes() == b"one"
    write_atomic(target, b"two", overwrite=True)
    assert target.read_bytes() == b"two"
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "b.bin", b"x")
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]
