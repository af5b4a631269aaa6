"""Floating-point pictures whose samples go beyond 0..1 (HDR merges, linear data) are shown
and edited clipped, never rescaled: the load note says how far the values go and how many
samples are clipped, and saving as TIFF keeps every unchanged sample's own value."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import load_image, save_result

tifffile = pytest.importorskip("tifffile")

H, W = 16, 20


def _write(path, samples: np.ndarray) -> None:
    tifffile.imwrite(path, samples.astype(np.float32), photometric="rgb")


def _ramp(low: float, high: float) -> np.ndarray:
    """(H, W, 3) float samples: the top half at 0.5, the bottom half from ``low`` to
    ``high`` along each row."""
    samples = np.full((H, W, 3), 0.5)
    samples[H // 2:] = np.linspace(low, high, W)[None, :, None]
    return samples


def _float_note(notes: tuple[str, ...]) -> str:
    (note,) = [note for note in notes if note.startswith("floating-point image")]
    return note


def test_values_up_to_4_are_named_with_the_share_clipped_and_left_as_they_are(tmp_path):
    samples = _ramp(1.5, 4.0)  # half the samples above 1.0, up to 4.0
    path = tmp_path / "hdr.tif"
    _write(path, samples)

    loaded = load_image(path)

    assert _float_note(loaded.notes) == (
        "floating-point image with values up to 4.0 (above 1.0 in 50% of its samples), shown "
        "and edited clipped to 1.0 at 8 bits per channel; saving it as TIFF keeps floating "
        "point and every unchanged pixel's own value, as PNG 16 bits clipped to 1.0")
    assert (loaded.rgb[H // 2:] == 255).all() and (loaded.rgb[:H // 2] == 128).all()
    assert np.array_equal(loaded.deep_original, samples.astype(np.float32))  # not rescaled
    out = tmp_path / "out.tif"
    save_result(out, loaded.rgb, loaded)
    assert np.array_equal(tifffile.imread(out), samples.astype(np.float32))


@pytest.mark.parametrize("low, high, said", [
    (-0.25, None, "with values down to -0.25 (below 0 in 25% of its samples), shown and "
                  "edited clipped to 0 at"),
    (-2.0, 3.0, "with values from -2.0 to 3.0 (outside 0..1 in 50% of its samples), shown "
                "and edited clipped to 0..1 at"),
    (None, 1.0001, "with values up to 1.0001 (above 1.0 in 25% of its samples), shown and "
                   "edited clipped to 1.0 at"),
])
def test_values_outside_0_to_1_are_named_either_way(tmp_path, low, high, said):
    samples = np.full((H, W, 3), 0.5)
    if low is not None:
        samples[:H // 4] = low  # a quarter of the rows
    if high is not None:
        samples[-H // 4:] = high
    path = tmp_path / "linear.tif"
    _write(path, samples)
    assert f"floating-point image {said} 8 bits per channel" in _float_note(
        load_image(path).notes)


def test_every_sample_over_range_is_said_as_all(tmp_path):
    path = tmp_path / "bright.tif"
    _write(path, np.full((H, W, 3), 2.0))
    assert "(above 1.0 in all of its samples)" in _float_note(load_image(path).notes)


def test_values_within_range_nan_and_infinities_get_the_plain_note(tmp_path):
    samples = _ramp(0.0, 1.0)
    samples[0, 0] = [np.nan, np.inf, -np.inf]  # read as 0, 1 and 0: nothing to say
    path = tmp_path / "plain.tif"
    _write(path, samples)
    assert _float_note(load_image(path).notes) == (
        "floating-point image, edited at 8 bits per channel; saving it as TIFF keeps floating "
        "point, as PNG 16 bits")
