"""The single-image text/logo detector: recall on rendered text, few false positives."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import engines.textdetect as textdetect
from engines.base import InputError
from engines.fileio import read_rgb
from engines.textdetect import detect_text_mask

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
HEIGHT, WIDTH = 240, 360


def photo_crop(name: str, top: int, left: int, scale: float = 1.0) -> np.ndarray:
    photo = read_rgb(SAMPLES / name)
    if scale != 1.0:
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(photo[top:top + HEIGHT, left:left + WIDTH])


def flat(colour) -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), colour, np.uint8)


def gradient() -> np.ndarray:
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.dstack([cols * 0.6, rows * 0.8, 200 - cols * 0.3]).clip(0, 255).astype(np.uint8)


def texture(seed: int, blur: float = 6.0, amplitude: float = 25.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH, 3)).astype(np.float32),
                             (0, 0), blur)
    noise /= noise.std()
    return np.clip(rng.uniform(60, 200, 3) + amplitude * noise, 0, 255).astype(np.uint8)


def render(background: np.ndarray, text: str, origin: tuple[int, int], scale: float,
           thickness: int, colour, font=cv2.FONT_HERSHEY_SIMPLEX, opacity: float = 1.0):
    """``background`` with ``text`` blended in; also the text's pixels (coverage >= 50%)."""
    coverage = np.zeros(background.shape[:2], np.uint8)
    cv2.putText(coverage, text, origin, font, scale, 255, thickness, cv2.LINE_AA)
    alpha = coverage.astype(np.float32)[..., None] / 255 * opacity
    image = background * (1 - alpha) + np.float32(colour) * alpha
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), coverage >= 128


def recall_precision(mask: np.ndarray, text: np.ndarray) -> tuple[float, float]:
    """Share of text pixels masked; share of masked pixels within 3 px of the text."""
    found = mask > 0
    near = cv2.dilate(text.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return (float((found & text).sum() / text.sum()),
            float((found & near).sum() / max(found.sum(), 1)))


CASES = {
    "white on flat": lambda: render(flat((90, 120, 160)), "Hello World 2024", (20, 120), 1.0, 2,
                                    (255, 255, 255)),
    "black on gradient": lambda: render(gradient(), "Sample Caption", (30, 200), 0.9, 2,
                                        (0, 0, 0), cv2.FONT_HERSHEY_DUPLEX),
    "white on photo": lambda: render(photo_crop("rocket.jpg", 40, 100), "(c) Photographer",
                                     (40, 210), 0.8, 2, (255, 255, 255)),
    "yellow on green photo": lambda: render(photo_crop("coffee.png", 0, 0)[..., [1, 0, 2]],
                                            "STOCK IMAGE", (60, 60), 1.2, 3, (255, 230, 0),
                                            cv2.FONT_HERSHEY_TRIPLEX),
    "half-transparent on photo": lambda: render(photo_crop("rocket.jpg", 0, 200), "SAMPLE",
                                                (90, 130), 1.6, 3, (255, 255, 255),
                                                cv2.FONT_HERSHEY_DUPLEX, 0.5),
    "on texture": lambda: render(texture(1), "watermark text", (30, 130), 1.0, 2,
                                 (255, 255, 255), opacity=0.7),
    "dark thin caption": lambda: render(flat((220, 215, 200)), "a thin one pixel caption",
                                        (12, 40), 0.6, 1, (30, 30, 30)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rendered_text_is_found(case):
    image, text = CASES[case]()
    mask = detect_text_mask(image)
    assert mask.dtype == np.uint8 and mask.shape == image.shape[:2]
    assert set(np.unique(mask)) <= {0, 255}
    recall, precision = recall_precision(mask, text)
    assert recall >= 0.8, recall
    assert precision >= 0.8, precision


def test_a_logo_beside_its_name_is_included():
    coverage = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(coverage, (60, 190), 18, 255, 3, cv2.LINE_AA)
    cv2.putText(coverage, "Brandname", (90, 202), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2,
                cv2.LINE_AA)
    alpha = coverage.astype(np.float32)[..., None] / 255 * 0.7
    image = np.clip(np.rint(texture(4) * (1 - alpha) + 255 * alpha), 0, 255).astype(np.uint8)
    mask = detect_text_mask(image) > 0
    ring = np.zeros_like(coverage)
    cv2.circle(ring, (60, 190), 18, 255, 3)
    ring = ring > 0
    assert (mask & ring).sum() >= 0.8 * ring.sum()
    recall, precision = recall_precision(mask, coverage >= 128)
    assert recall >= 0.8 and precision >= 0.8


@pytest.mark.parametrize("background", [
    pytest.param(lambda: texture(2), id="blurred noise"),
    pytest.param(lambda: texture(3, blur=2.0, amplitude=40), id="fine noise"),
    pytest.param(lambda: photo_crop("coffee.png", 0, 0), id="coffee"),
    pytest.param(lambda: photo_crop("coffee.png", 160, 240), id="saucer and wood"),
    pytest.param(lambda: photo_crop("rocket.jpg", 0, 0, 0.57), id="rocket"),
    pytest.param(gradient, id="gradient"),
])
def test_few_false_positives_without_text(background):
    mask = detect_text_mask(background())
    assert (mask > 0).mean() <= 0.01


def test_margin_grows_the_mask():
    image, text = CASES["white on flat"]()
    tight = detect_text_mask(image, margin=0) > 0
    wide = detect_text_mask(image, margin=4) > 0
    assert (wide | ~tight).all() and wide.sum() > tight.sum()
    assert (tight & text).sum() >= 0.7 * text.sum()


def test_large_images_are_searched_scaled_down(monkeypatch):
    monkeypatch.setattr(textdetect, "MAX_SIDE", WIDTH)
    small, _ = CASES["white on flat"]()
    big = cv2.resize(small, (WIDTH * 2, HEIGHT * 2), interpolation=cv2.INTER_CUBIC)
    mask = detect_text_mask(big, min_height=12)
    assert mask.shape == big.shape[:2]
    text = cv2.resize(CASES["white on flat"]()[1].view(np.uint8), (WIDTH * 2, HEIGHT * 2),
                      interpolation=cv2.INTER_NEAREST) > 0
    recall, precision = recall_precision(mask, text)
    assert recall >= 0.8 and precision >= 0.7


def test_bad_input():
    with pytest.raises(InputError):
        detect_text_mask(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError):
        detect_text_mask(np.zeros((10, 10, 3), np.float32))
    assert not detect_text_mask(np.zeros((10, 10, 3), np.uint8)).any()
