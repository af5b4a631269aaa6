"""`segment`'s progress follows the real work: the scene parsers report each strip of the
full-size labelling (DeepLab each scale of its network's pass too), sharing a parse between
the network and the labelling by their costs, the colour regions their steps, and the bar
says "writing" before the label map is saved and reaches 100% only once it is."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import cli
from cli._common import StageBar
from engines.base import Cancelled, CancelToken
from engines.device import MODEL_SLOT
from engines.neural.interrupt import cancel_checks
from engines.segmentation import deeplab, segformer
from engines.segmentation import neural as segmentation_neural
from engines.segmentation.base import create_parser
from engines.segmentation.neural import (
    LOADING_SHARE,
    UPSAMPLING,
    network_done,
    upsampled_argmax,
)
from tests.engines.test_segmentation import picture, put_in_cache


def test_upsampled_argmax_reports_each_strip():
    logits = torch.randn(1, 6, 11, 17)
    expected = F.interpolate(logits, size=(83, 129), mode="bilinear",
                             align_corners=False).argmax(1)[0].numpy()
    done: list[float] = []
    labels = upsampled_argmax(logits, (83, 129), max_elements=6 * 129 * 20,
                              progress=done.append)
    assert np.array_equal(labels, expected)
    assert done == [20 / 83, 40 / 83, 60 / 83, 80 / 83, 1.0]  # 20 rows a strip
    done.clear()
    upsampled_argmax(logits, (83, 129), progress=done.append)  # one strip does it all
    assert done == [1.0]


def test_cancelling_stops_the_labelling_between_strips():
    token = CancelToken()
    done: list[float] = []

    def cancel_after_the_first(fraction: float) -> None:
        done.append(fraction)
        token.cancel()

    with pytest.raises(Cancelled), cancel_checks(token):
        upsampled_argmax(torch.randn(1, 4, 5, 7), (50, 70), max_elements=4 * 70 * 10,
                         progress=cancel_after_the_first)
    assert done == [0.2]


@pytest.fixture
def scene_lite(model_cache):
    """A SegFormer-B0 parser on a hub-format checkpoint of random weights in the cache."""
    from safetensors.torch import save_model

    torch.manual_seed(0)
    save_model(segformer.build_network("b0"), str(put_in_cache("segformer-b0-ade")))
    yield create_parser("scene-lite", variant="b0", device="cpu")
    MODEL_SLOT.clear()


def test_scene_lite_reports_the_labelling_strip_by_strip(scene_lite, monkeypatch):
    # 8 rows a strip, as a 50-megapixel photo is labelled in a few hundred
    monkeypatch.setattr(segmentation_neural, "upsampled_argmax",
                        functools.partial(upsampled_argmax, max_elements=150 * 80 * 8))
    reports: list[tuple[float, str]] = []
    labels = scene_lite.parse(picture(48, 80), progress=lambda f, t: reports.append((f, t)))
    assert labels.shape == (48, 80)
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and reports[-1] == (1.0, "done")
    assert reports[:2] == [(0.0, "loading SegFormer"), (LOADING_SHARE, "parsing the scene")]
    labelling = [fraction for fraction, text in reports if text == UPSAMPLING]
    assert labelling[0] > 0.9  # on so small a picture the network is most of the work
    assert len(labelling) == 1 + 48 // 8
    assert labelling[-1] == pytest.approx(1.0) and len(set(labelling)) == len(labelling)


def test_scene_reports_the_labelling_strip_by_strip(model_cache, monkeypatch):
    """DeepLab v2 (``scene``) on a checkpoint of random weights in the released layout (a
    plain state dict, as the DeepLab tests write it), run small (``long_side=65``)."""
    torch.manual_seed(0)
    torch.save(deeplab.build_network().state_dict(), put_in_cache("deeplab2-cocostuff164k"))
    parser = create_parser("scene", long_side=65, device="cpu")
    monkeypatch.setattr(segmentation_neural, "upsampled_argmax",  # 8 rows a strip
                        functools.partial(upsampled_argmax, max_elements=182 * 80 * 8))
    reports: list[tuple[float, str]] = []
    try:
        labels = parser.parse(picture(48, 80), progress=lambda f, t: reports.append((f, t)))
    finally:
        MODEL_SLOT.clear()
    assert labels.shape == (48, 80)
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and reports[-1] == (1.0, "done")
    labelling = [fraction for fraction, text in reports if text == UPSAMPLING]
    assert len(labelling) == 1 + 48 // 8
    assert labelling[-1] == pytest.approx(1.0) and len(set(labelling)) == len(labelling)
    # the network's pass: its start, then each scale (1, 0.5, 0.75) by its pixels' share
    passes = [fraction for fraction, text in reports if text == "parsing the scene"]
    assert passes[0] == LOADING_SHARE and passes[-1] == labelling[0] > 0.9
    shares = [(f - passes[0]) / (passes[-1] - passes[0]) for f in passes]
    assert shares == pytest.approx([0, 1 / 1.8125, 1.25 / 1.8125, 1])


def test_the_network_share_shrinks_as_the_labelling_grows():
    """The network's input has a fixed size, the labelling grows with the picture."""
    sizes = [(48, 80), (480, 640), (3000, 4000), (6000, 8000)]
    ends = [network_done(LOADING_SHARE, size, deeplab.NETWORK_MEGAPIXELS) for size in sizes]
    assert ends == sorted(ends, reverse=True)
    assert ends[0] > 0.99 and ends[1] > 0.8 and ends[-1] < 0.3
    assert all(LOADING_SHARE < end < 1 for end in ends)
    assert network_done(0.0, (480, 640), 0.0) == 0.0  # a network costing nothing


def _three_areas(shading: int) -> np.ndarray:
    """Three areas of colour, each brightening left to right by ``shading`` levels (0:
    flat colours, a graphic; 40: shaded, a photo's kind)."""
    image = np.zeros((600, 800, 3), np.int32)
    image[:, 300:] = (30, 60, 200)
    image[400:] = (200, 200, 40)
    return (image + (np.arange(800) * shading // 800)[None, :, None]).astype(np.uint8)


def test_flat_colour_regions_report_their_step_and_can_be_cancelled():
    parser = create_parser("regions", working_size=128)
    reports: list[tuple[float, str]] = []
    parser.parse(_three_areas(0), progress=lambda f, t: reports.append((f, t)))
    steps = [text for k, (_, text) in enumerate(reports) if k == 0 or text != reports[k - 1][1]]
    assert steps == ["finding colour regions", "finding flat colour areas", "3 labels"]
    assert len(reports) > 4  # the flat path reports as it goes (test_regions_flat)
    token = CancelToken()
    with pytest.raises(Cancelled):
        parser.parse(_three_areas(0), token, lambda f, t: t == "finding flat colour areas"
                     and token.cancel())


def test_colour_regions_report_their_steps_and_can_be_cancelled():
    image = _three_areas(40)  # shaded: not flat colours, the photo's steps
    parser = create_parser("regions", working_size=128)
    reports: list[tuple[float, str]] = []
    parser.parse(image, progress=lambda f, t: reports.append((f, t)))
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [text for _, text in reports[:3]] == ["finding colour regions", "merging regions",
                                                 "sharpening the boundaries"]
    assert reports[-1][1] == "3 labels" and 0 < reports[1][0] < reports[2][0] < 1
    token = CancelToken()

    def cancel_when_merging(fraction: float, text: str) -> None:
        if text == "merging regions":
            token.cancel()

    steps = []
    with pytest.raises(Cancelled):
        parser.parse(image, token, lambda f, t: (steps.append(t), cancel_when_merging(f, t)))
    assert steps == ["finding colour regions", "merging regions"]


def test_the_bar_says_writing_before_the_save_and_ends_once_saved(tmp_path, monkeypatch,
                                                                  capsys):
    source, output = tmp_path / "halves.png", tmp_path / "labels.png"
    image = np.zeros((90, 120, 3), np.uint8)
    image[45:] = (20, 140, 150)
    Image.fromarray(image).save(source)
    shown: list[tuple[float, str, bool]] = []
    show = StageBar.show

    def recording(self, n, stage):
        shown.append((n, stage, output.exists()))
        show(self, n, stage)

    monkeypatch.setattr(StageBar, "show", recording)
    assert cli.main(["segment", str(source), "-o", str(output)]) == 0
    writing = shown.index((90, "writing labels.png", False))
    assert all(n < 100 for n, _, _ in shown[:writing + 1])
    assert shown[-1] == (100, "written", True)
    assert [n for n, _, _ in shown] == sorted(n for n, _, _ in shown)
    assert "2 labels (region 0 50%, region 1 50%)" in capsys.readouterr().out
