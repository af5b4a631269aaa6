"""DeepFill v1: the network against the reference tensor list and a functional
re-implementation of daa233's ``Generator.forward``, the plain state dict loaded from a
generated file through the user's path, pre/post-processing and the two stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines import registry, weights
from engines.base import EngineError, InpaintRequest, Readiness, Strategy
from engines.device import MODEL_SLOT
from engines.neural.deepfill_v1 import DeepFillV1
from engines.region import Box
from tests.engines.test_contextual_attention import upstream_attention
from tests.engines.test_deepfill_v2 import (
    check_cancel_between_stages,
    check_stages,
    hole_mask,
    install,
    lively,
    photo,
)

TSV = Path(__file__).with_name("deepfill_v1_daa233_gen.tsv")

# (name, stride, dilation, activation, nearest 2x upsampling first), in forward order
_STEM = [("conv1", 1, 1, "elu", False), ("conv2_downsample", 2, 1, "elu", False),
         ("conv3", 1, 1, "elu", False), ("conv4_downsample", 2, 1, "elu", False),
         ("conv5", 1, 1, "elu", False), ("conv6", 1, 1, "elu", False)]
_ATROUS = [(f"conv{i}_atrous", 1, r, "elu", False) for i, r in ((7, 2), (8, 4), (9, 8), (10, 16))]
COARSE = [*_STEM, *_ATROUS, ("conv11", 1, 1, "elu", False), ("conv12", 1, 1, "elu", False),
          ("conv13", 1, 1, "elu", True), ("conv14", 1, 1, "elu", False),
          ("conv15", 1, 1, "elu", True), ("conv16", 1, 1, "elu", False),
          ("conv17", 1, 1, None, False)]
PM = [("pmconv1", 1, 1, "elu", False), ("pmconv2_downsample", 2, 1, "elu", False),
      ("pmconv3", 1, 1, "elu", False), ("pmconv4_downsample", 2, 1, "elu", False),
      ("pmconv5", 1, 1, "elu", False), ("pmconv6", 1, 1, "relu", False)]
AFTER = [("pmconv9", 1, 1, "elu", False), ("pmconv10", 1, 1, "elu", False)]
MERGED = [("allconv11", 1, 1, "elu", False), ("allconv12", 1, 1, "elu", False),
          ("allconv13", 1, 1, "elu", True), ("allconv14", 1, 1, "elu", False),
          ("allconv15", 1, 1, "elu", True), ("allconv16", 1, 1, "elu", False),
          ("allconv17", 1, 1, None, False)]


def run_layers(s, prefix, x, layers):
    for name, stride, rate, act, up in layers:
        if up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        w, b = s[f"{prefix}{name}.conv.weight"], s[f"{prefix}{name}.conv.bias"]
        x = F.conv2d(x, w, b, stride, rate * (w.shape[-1] - 1) // 2, rate)
        x = F.elu(x) if act == "elu" else F.relu(x) if act == "relu" else x
    return x


def reference_generator(s, x, mask):
    """daa233 ``Generator.forward`` (x already masked, in [-1, 1]; mask 1 = hole)."""
    ones = torch.ones_like(mask)
    coarse = run_layers(s, "coarse_generator.", torch.cat([x, ones, mask], 1), COARSE)
    coarse = torch.clamp(coarse, -1.0, 1.0)
    xnow = torch.cat([coarse * mask + x * (1.0 - mask), ones, mask], 1)
    hallucinated = run_layers(s, "fine_generator.", xnow, [*_STEM, *_ATROUS])
    y = run_layers(s, "fine_generator.", xnow, PM)
    y = upstream_attention(y, y, mask, torch.eye(3), eps_inside=True, tf=False)
    y = run_layers(s, "fine_generator.", y, AFTER)
    y = run_layers(s, "fine_generator.", torch.cat([hallucinated, y], 1), MERGED)
    return coarse, torch.clamp(y, -1.0, 1.0)


def upstream_inputs(image: np.ndarray, mask: np.ndarray):
    """test_single.py: ToTensor, normalize (x*2-1), mask = ToTensor(mask), x = x*(1-mask)."""
    img = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1.0
    m = torch.from_numpy(mask)[None, None].float() / 255.0
    return img * (1.0 - m), m


def to_uint8(t: torch.Tensor) -> np.ndarray:
    return ((t[0].permute(1, 2, 0) + 1.0) * 127.5).clamp(0, 255).round().byte().numpy()


def seeded_network(seed: int = 0) -> DeepFillV1:
    return lively(DeepFillV1(), seed, gain=1.3)


@pytest.fixture(autouse=True)
def _free_model_slot():
    yield
    MODEL_SLOT.clear()


def test_state_dict_equals_reference_list():
    state = DeepFillV1().state_dict()
    expected = [tuple(line.split("\t")) for line in TSV.read_text().splitlines() if line]
    assert [(name, str(tuple(t.shape)), str(t.dtype).removeprefix("torch."))
            for name, t in state.items()] == expected
    assert round(sum(t.numel() for t in state.values()) / 1e6, 2) == 3.60


def test_forward_matches_upstream():
    network = seeded_network(1)
    x, m = upstream_inputs(photo(48, 64), hole_mask(48, 64, 12, 16, 20, 30))
    with torch.no_grad():
        ours = network(x, m)
        expected = reference_generator(network.state_dict(), x, m)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # with autograd recording (training): full attention, in-place activations, same values
    for a, b in zip(network(x, m), ours, strict=True):
        torch.testing.assert_close(a.detach(), b, atol=1e-5, rtol=1e-4)


def test_plain_state_dict_runs_like_upstream(model_cache):
    state = {k: v.clone() for k, v in seeded_network(2).state_dict().items()}
    engine = registry.create("deepfill1")
    assert engine.status().readiness is Readiness.NEEDS_DOWNLOAD
    install("deepfill1-imagenet", state)
    assert engine.status().ready
    image, mask = photo(56, 48, 3), hole_mask(56, 48, 20, 10, 24, 22)
    request = InpaintRequest(image, mask)
    stages = list(engine.run(request))
    check_stages(stages, request)
    x, m = upstream_inputs(image, mask)
    with torch.no_grad():
        outputs = reference_generator(state, x, m)
    hole = request.hole
    for stage, output in zip(stages, outputs, strict=True):
        composite = to_uint8(output * m + x * (1.0 - m))  # test_single.py's inpainted_result
        assert np.abs(stage.image[hole].astype(int) - composite[hole]).max() <= 1


def test_network_input_is_upstream_preprocessing():
    network = seeded_network(3)
    seen = {}
    network.coarse_generator.register_forward_pre_hook(lambda _m, args: seen.update(args=args))
    engine = registry.create("deepfill1", network=network, device="cpu")
    image, mask = photo(40, 48, 4), hole_mask(40, 48, 8, 8, 16, 20)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    check_stages(list(engine.run(request)), request)
    x, m = upstream_inputs(image, mask)
    torch.testing.assert_close(seen["args"][0], x)
    torch.testing.assert_close(seen["args"][1], m)
    assert seen["args"][0].min() >= -1 and seen["args"][0].max() <= 1


def test_cancel_between_coarse_and_refined():
    network = seeded_network(4)
    check_cancel_between_stages("deepfill1", network, network.fine_generator)


@pytest.mark.parametrize("damage", ["missing", "shape", "unexpected"])
def test_bad_checkpoint_error_names_the_tensor(model_cache, damage):
    state = dict(DeepFillV1().state_dict())
    name = "fine_generator.allconv11.conv.weight"
    if damage == "missing":
        del state[name]
    elif damage == "shape":
        state[name] = torch.zeros(128, 128, 3, 3)
    else:
        name = "module.extra"
        state[name] = torch.zeros(1)
    install("deepfill1-imagenet", state)
    request = InpaintRequest(photo(32, 32), hole_mask(32, 32, 8, 8, 8, 8))
    with pytest.raises(EngineError, match=name.replace(".", r"\.")):
        list(registry.create("deepfill1").run(request))


@pytest.mark.parametrize("hole", [(72, 79, 20, 16), (160, 0, 32, 40)])
def test_hole_local_computation_leaves_hole_pixels_exact(hole):
    """Both stages computed only on the hole's box give the hole pixels of the whole
    computation (float64: any difference beyond rounding shows); outside the box stays
    zero."""
    network = seeded_network(5).double()
    mask = hole_mask(192, 192, *hole)
    x, m = (t.double() for t in upstream_inputs(photo(192, 192, 6), mask))
    box = Box.around(mask > 0)
    with torch.no_grad():
        coarse = network.coarse_generator(x, m)
        refined = network.refine(x, coarse, m)
        _, local_coarse = network.coarse_stage(x, m, box)
        local_refined = network.refine(x, local_coarse, m, box)
    inside = torch.from_numpy(mask > 0)
    for local, whole in ((local_coarse, coarse), (local_refined, refined)):
        torch.testing.assert_close(local[..., inside], whole[..., inside], atol=1e-12, rtol=0)
        assert local[..., :box.top, :].abs().sum() == 0


def test_weights_spec_describes_the_upstream_file():
    spec = weights.get_spec("deepfill1-imagenet")
    assert spec.format == "state_dict" and spec.license == "MIT"
    assert "1qbfA5BP9yzdTFFmiOTvYARUYgW1zwBBK" in spec.urls[0]
