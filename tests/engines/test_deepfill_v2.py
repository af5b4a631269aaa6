"""DeepFill v2: the network against the reference tensor lists and a functional
re-implementation of nipponjo's ``networks.py`` / ``networks_tf.py`` forward, both checkpoint
layouts loaded from generated files through the user's path, pre/post-processing, stages."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from engines import registry, weights
from engines.base import Cancelled, CancelToken, EngineError, InpaintRequest, Readiness, Strategy
from engines.device import MODEL_SLOT
from engines.neural.deepfill_v2 import DeepFillV2, tf_to_pt_names
from engines.region import Box
from tests.engines.test_contextual_attention import upstream_attention

HERE = Path(__file__).parent
PT_TSV = HERE / "deepfill_v2_nipponjo_states_pt.tsv"
TF_TSV = HERE / "deepfill_v2_nipponjo_states_tf.tsv"
FUSE = "stage2.contextual_attention.fuse_weight"

# Every gated conv in forward order: (stride, dilation, activation, nearest 2x upsampling first)
ELU, RELU = "elu", "relu"
_DEC = [(1, 1, ELU, True), (1, 1, ELU, False), (1, 1, ELU, True), (1, 1, ELU, False),
        (1, 1, None, False)]
SPECS = {
    "coarse": [(1, 1, ELU, False), (2, 1, ELU, False), (1, 1, ELU, False), (2, 1, ELU, False),
               (1, 1, ELU, False)] + [(1, r, ELU, False) for r in (1, 2, 4, 8, 16, 1, 1)] + _DEC,
    "conv": [(1, 1, ELU, False), (2, 1, ELU, False), (1, 1, ELU, False), (2, 1, ELU, False),
             (1, 1, ELU, False)] + [(1, r, ELU, False) for r in (1, 2, 4, 8, 16)],
    "ca": [(1, 1, ELU, False), (2, 1, ELU, False), (1, 1, ELU, False), (2, 1, ELU, False),
           (1, 1, ELU, False), (1, 1, RELU, False)],
    "after_ca": [(1, 1, ELU, False), (1, 1, ELU, False)],
    "merged": [(1, 1, ELU, False), (1, 1, ELU, False), *_DEC],
}
_UP = ["up_block1.conv1_upsample.conv", "up_block1.conv2", "up_block2.conv1_upsample.conv",
       "up_block2.conv2", "conv_to_rgb"]
_DOWN = ["conv1", "down_block1.conv1_downsample", "down_block1.conv2",
         "down_block2.conv1_downsample", "down_block2.conv2"]
PT_NAMES = {  # model/networks.py
    "coarse": [f"stage1.{n}" for n in _DOWN + [f"conv_bn{i}" for i in range(1, 8)] + _UP],
    "conv": [f"stage2.conv_{n}" for n in _DOWN] + [f"stage2.conv_conv_bn{i}" for i in range(1, 6)],
    "ca": [f"stage2.ca_{n}" for n in _DOWN] + ["stage2.ca_conv_bn1"],
    "after_ca": ["stage2.ca_conv_bn4", "stage2.ca_conv_bn5"],
    "merged": ["stage2.conv_bn6", "stage2.conv_bn7"] + [f"stage2.{n}" for n in _UP],
}
TF_NAMES = {  # model/networks_tf.py
    "coarse": ["conv1", "conv2_downsample", "conv3", "conv4_downsample", "conv5", "conv6",
               "conv7_atrous", "conv8_atrous", "conv9_atrous", "conv10_atrous", "conv11",
               "conv12", "conv13_upsample.conv", "conv14", "conv15_upsample.conv", "conv16",
               "conv17"],
    "conv": ["xconv1", "xconv2_downsample", "xconv3", "xconv4_downsample", "xconv5", "xconv6",
             "xconv7_atrous", "xconv8_atrous", "xconv9_atrous", "xconv10_atrous"],
    "ca": ["pmconv1", "pmconv2_downsample", "pmconv3", "pmconv4_downsample", "pmconv5",
           "pmconv6"],
    "after_ca": ["pmconv9", "pmconv10"],
    "merged": ["allconv11", "allconv12", "allconv13_upsample.conv", "allconv14",
               "allconv15_upsample.conv", "allconv16", "allconv17"],
}


def read_tsv(path: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split("\t")) for line in path.read_text().splitlines() if line]


def lively(network: torch.nn.Module, seed: int, gain: float) -> torch.nn.Module:
    """Random weights that keep activations O(1) through the whole network (the default
    initialisation shrinks them layer after layer, so every output would be about 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in network.modules():
            if isinstance(conv, torch.nn.Conv2d):
                std = gain / conv.weight[0].numel() ** 0.5
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * std)
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.1)
    return network.eval()


def seeded_network(seed: int = 0) -> DeepFillV2:
    return lively(DeepFillV2(), seed, gain=2.3)


def pt_state(seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in seeded_network(seed).state_dict().items()}


def as_tf_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors under networks_tf names (layer by layer in forward order)."""
    out = {}
    for part, names in PT_NAMES.items():
        for pt, tf in zip(names, TF_NAMES[part], strict=True):
            out[f"{tf}.conv.weight"] = state[f"{pt}.conv.weight"]
            out[f"{tf}.conv.bias"] = state[f"{pt}.conv.bias"]
    return out


def tf_same_pad(size: int, k: int, stride: int, rate: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * rate + 1 - size, 0)
    return total // 2, total - total // 2


def run_layers(s, x, names, specs, tf):
    for name, (stride, rate, act, up) in zip(names, specs, strict=True):
        if up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        w, b = s[name + ".conv.weight"], s[name + ".conv.bias"]
        k = w.shape[-1]
        if tf:
            top, bottom = tf_same_pad(x.shape[2], k, stride, rate)
            left, right = tf_same_pad(x.shape[3], k, stride, rate)
            x = F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride, 0, rate)
        else:
            x = F.conv2d(x, w, b, stride, rate * (k - 1) // 2, rate)
        if act is None:
            continue
        h, g = torch.split(x, w.shape[0] // 2, dim=1)
        x = (F.elu(h) if act == ELU else F.relu(h)) * torch.sigmoid(g)
    return x


def reference_generator(s, x, mask, tf):
    """Upstream ``Generator.forward`` (networks.py, or networks_tf.py when ``tf``)."""
    names = TF_NAMES if tf else PT_NAMES
    coarse = torch.tanh(run_layers(s, x, names["coarse"], SPECS["coarse"], tf))
    xnow = coarse * mask + x[:, 0:3] * (1.0 - mask)
    hallucinated = run_layers(s, xnow, names["conv"], SPECS["conv"], tf)
    y = run_layers(s, xnow, names["ca"], SPECS["ca"], tf)
    kernel = None if tf else s.get(FUSE, torch.eye(3)).view(3, 3)
    y = upstream_attention(y, y, mask, kernel, eps_inside=False, tf=tf)
    y = run_layers(s, y, names["after_ca"], SPECS["after_ca"], tf)
    y = run_layers(s, torch.cat([hallucinated, y], 1), names["merged"], SPECS["merged"], tf)
    return coarse, torch.tanh(y)


def upstream_inputs(image: np.ndarray, mask: np.ndarray):
    """test.py: ToTensor, [-1, 1], mask > 0.5, x = cat([img*(1-m), ones, ones*m])."""
    img = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1.0
    m = (torch.from_numpy(mask)[None, None].float() / 255.0 > 0.5).float()
    masked = img * (1.0 - m)
    ones = torch.ones_like(masked[:, 0:1])
    return img, m, torch.cat([masked, ones, ones * m], dim=1)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    return ((t[0].permute(1, 2, 0) + 1.0) * 127.5).clamp(0, 255).round().byte().numpy()


def photo(height: int, width: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 3 % 256, y * 2 % 256, (x + y) % 256], axis=-1).astype(np.float32)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def hole_mask(height, width, top, left, h, w) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[top:top + h, left:left + w] = 255
    return mask


def check_stages(stages, request: InpaintRequest) -> None:
    """Coarse first, refined last; pixels outside the mask byte-identical; the hole changed."""
    assert [(s.name, s.final) for s in stages] == [("coarse", False), ("refined", True)]
    known = ~request.hole
    for stage in stages:
        assert stage.image.shape == request.image.shape
        assert np.array_equal(stage.image[known], request.image[known])
        assert np.abs(stage.image[request.hole].astype(int)
                      - request.image[request.hole]).sum() > 0


def install(weights_id: str, checkpoint) -> Path:
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


@pytest.fixture(autouse=True)
def _free_model_slot():
    yield
    MODEL_SLOT.clear()


# --------------------------------------------------------------------------- architecture


def test_state_dict_equals_reference_list():
    state = DeepFillV2().state_dict()
    assert [(name, str(tuple(t.shape)), str(t.dtype).removeprefix("torch."))
            for name, t in state.items()] == read_tsv(PT_TSV)
    assert round(sum(t.numel() for t in state.values()) / 1e6, 2) == 4.05


def test_tf_layout_renames_onto_the_same_tensors():
    tf_list = read_tsv(TF_TSV)
    pt_list = [row for row in read_tsv(PT_TSV) if row[0] != FUSE]
    state = pt_state()
    tf_state = as_tf_layout(state)
    assert [(n, str(tuple(t.shape)), "float32") for n, t in tf_state.items()] == tf_list
    renamed = tf_to_pt_names(tf_state)
    assert [(n, str(tuple(t.shape)), "float32") for n, t in renamed.items()] == pt_list
    assert all(renamed[name] is state[name] for name in renamed)


def test_forward_matches_upstream_networks_py():
    network = seeded_network(3)
    image, mask = photo(48, 64), hole_mask(48, 64, 12, 20, 20, 28)
    _, m, x = upstream_inputs(image, mask)
    with torch.no_grad():
        ours = network(x, m)
        expected = reference_generator(network.state_dict(), x, m, tf=False)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # with autograd recording (training): out-of-place gating, full attention, same values
    for a, b in zip(network(x, m), ours, strict=True):
        torch.testing.assert_close(a.detach(), b, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- through the user path


def test_states_pt_checkpoint_runs_like_upstream(model_cache):
    state = pt_state(4)
    install("deepfill2-places2", {"G": state})
    engine = registry.create("deepfill2")
    assert engine.status().ready
    image, mask = photo(48, 64), hole_mask(48, 64, 10, 18, 22, 30)
    request = InpaintRequest(image, mask)
    stages = list(engine.run(request))
    check_stages(stages, request)
    img, m, x = upstream_inputs(image, mask)
    with torch.no_grad():
        coarse, refined = reference_generator(state, x, m, tf=False)
    hole = request.hole
    for stage, output in zip(stages, (coarse, refined), strict=True):
        composite = to_uint8(img * (1 - m) + output * m)  # test.py's image_inpainted
        assert np.abs(stage.image[hole].astype(int) - composite[hole]).max() <= 1


def test_states_tf_checkpoint_runs_networks_tf_computation(model_cache):
    """A states_tf file is run the way networks_tf.py runs it (TF "SAME" padding, TF
    nearest downscaling, no fusing), which differs from networks.py on the same tensors."""
    state = pt_state(5)
    tf_state = as_tf_layout(state)
    install("deepfill2-celebahq-tf", {"G": tf_state})
    engine = registry.create("deepfill2-face")
    assert engine.status().ready
    assert engine.checkpoint_path() == weights.local_path("deepfill2-celebahq-tf")
    image, mask = photo(48, 64, 2), hole_mask(48, 64, 8, 30, 24, 20)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    stages = list(engine.run(request))
    check_stages(stages, request)
    img, m, x = upstream_inputs(image, mask)
    with torch.no_grad():
        expected = reference_generator(tf_state, x, m, tf=True)
        pt_mode = reference_generator(state, x, m, tf=False)
    hole = request.hole
    for stage, output, other in zip(stages, expected, pt_mode, strict=True):
        composite = to_uint8(img * (1 - m) + output * m)
        assert np.abs(stage.image[hole].astype(int) - composite[hole]).max() <= 1
        assert not np.array_equal(composite, to_uint8(img * (1 - m) + other * m))


def test_missing_fuse_buffer_is_the_identity(model_cache):
    state = pt_state(6)
    del state[FUSE]
    install("deepfill2-places2", {"G": state})
    engine = registry.create("deepfill2")
    network = engine.network(engine.device("cpu"))
    assert torch.equal(network.state_dict()[FUSE], torch.eye(3).view(1, 1, 3, 3))


def test_states_pt_preferred_when_both_layouts_are_installed(model_cache):
    engine = registry.create("deepfill2")
    assert engine.status().readiness is Readiness.NEEDS_DOWNLOAD
    assert "deepfill2-places2" in engine.status().detail
    install("deepfill2-places2-tf", {"G": as_tf_layout(pt_state())})
    assert engine.status().ready
    assert engine.checkpoint_path() == weights.local_path("deepfill2-places2-tf")
    install("deepfill2-places2", {"G": pt_state()})
    assert engine.checkpoint_path() == weights.local_path("deepfill2-places2")


@pytest.mark.parametrize("damage", ["missing", "shape", "tf-missing"])
def test_bad_checkpoint_error_names_the_tensor(model_cache, damage):
    state = pt_state()
    if damage == "missing":
        del state["stage2.conv_bn6.conv.weight"]
        name = "stage2.conv_bn6.conv.weight"
    elif damage == "shape":
        state["stage1.conv1.conv.weight"] = torch.zeros(48, 4, 5, 5)
        name = "stage1.conv1.conv.weight"
    else:
        state = as_tf_layout(state)
        del state["pmconv9.conv.bias"]
        name = "pmconv9.conv.bias"
    install("deepfill2-places2", {"G": state})
    request = InpaintRequest(photo(32, 32), hole_mask(32, 32, 8, 8, 8, 8))
    with pytest.raises(EngineError, match=name.replace(".", r"\.")):
        list(registry.create("deepfill2").run(request))


def test_not_a_generator_checkpoint_is_refused(model_cache):
    path = install("deepfill2-places2", {"D": {"conv": torch.zeros(1)}, "n_iter": 3})
    request = InpaintRequest(photo(32, 32), hole_mask(32, 32, 8, 8, 8, 8))
    with pytest.raises(EngineError, match="key 'G'"):  # a small file: given by path
        list(registry.create("deepfill2", weights_path=str(path)).run(request))


# --------------------------------------------------------------------------- processing


def test_network_input_is_upstream_preprocessing_with_mirrored_padding():
    """A 45x61 region is padded to 48x64 (mirrored, mask included); the network sees
    cat([img*(1-m), ones, m]) with img in [-1, 1]; stage 2 gets the same mask."""
    network = seeded_network(7)
    seen = {}
    network.stage1.register_forward_pre_hook(lambda _m, args: seen.update(x=args[0]))
    network.stage2.register_forward_pre_hook(lambda _m, args: seen.update(mask=args[1]))
    engine = registry.create("deepfill2", network=network, device="cpu")
    image, mask = photo(45, 61, 3), hole_mask(45, 61, 30, 40, 15, 21)  # touches the corner
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    check_stages(list(engine.run(request)), request)
    padded_image = np.pad(image, ((0, 3), (0, 3), (0, 0)), mode="symmetric")
    padded_mask = np.pad(mask, ((0, 3), (0, 3)), mode="symmetric")
    _, m, expected = upstream_inputs(padded_image, padded_mask)
    assert seen["x"].shape == (1, 5, 48, 64)
    torch.testing.assert_close(seen["x"], expected)
    assert seen["x"][:, :3].min() >= -1 and seen["x"][:, :3].max() <= 1
    torch.testing.assert_close(seen["mask"], m)


def check_cancel_between_stages(engine_name: str, network, second_stage) -> None:
    """A cancel after the coarse stage stops the run before ``second_stage`` computes."""
    calls = []
    second_stage.register_forward_hook(lambda *_: calls.append("refine"))
    engine = registry.create(engine_name, network=network)
    cancel = CancelToken()
    stages = engine.run(InpaintRequest(photo(40, 40), hole_mask(40, 40, 10, 10, 12, 12)), cancel)
    assert next(stages).name == "coarse"
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(stages)
    assert calls == []


def test_cancel_between_coarse_and_refined():
    network = seeded_network(8)
    check_cancel_between_stages("deepfill2", network, network.stage2)


@pytest.mark.parametrize("tf_layout", [False, True])
@pytest.mark.parametrize("hole", [(79, 77, 17, 19), (0, 150, 30, 42), (170, 0, 22, 192)])
def test_hole_local_computation_leaves_hole_pixels_exact(tf_layout, hole):
    """Computing only what reaches the hole's box (holes inside the frame, in a corner,
    along the bottom edge) gives the hole pixels of the whole computation, for both stages
    and both layouts' padding rules, with less arithmetic; outside the box stays zero.
    In float64, so that any difference beyond rounding shows."""
    network = seeded_network(9).double()
    network.tf_compat = tf_layout
    image, mask = photo(192, 192, 4), hole_mask(192, 192, *hole)
    img, m, _ = (t.double() for t in upstream_inputs(image, mask))
    box = Box.around(mask > 0)
    with torch.no_grad():
        x, coarse = network.coarse_stage(img, m)
        refined = network.refine(x, coarse, m)
        counter = FlopCounterMode(display=False)
        with counter:
            _, local_coarse = network.coarse_stage(img, m, box)
            local_refined = network.refine(x, local_coarse, m, box)
    inside = torch.from_numpy(mask > 0)
    for local, whole in ((local_coarse, coarse), (local_refined, refined)):
        torch.testing.assert_close(local[..., inside], whole[..., inside], atol=1e-12, rtol=0)
        assert local[..., :box.top, :].abs().sum() == 0
        assert local[..., box.bottom:, :].abs().sum() == 0
    with torch.no_grad(), FlopCounterMode(display=False) as full:
        network.refine(x, network.coarse_stage(img, m)[1], m)
    if hole[0]:  # a small hole away from the top saves at least a third of the work
        assert counter.get_total_flops() < 0.67 * full.get_total_flops()


def test_engine_computes_the_hole_box_unless_local_is_false():
    """By default stage 1 produces only the hole's box; ``local=False`` the whole frame; the
    results are the same pictures."""
    image, mask = photo(64, 80, 5), hole_mask(64, 80, 20, 30, 12, 14)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    results = {}
    for local in (True, False):
        network = seeded_network(10)
        shapes = []
        network.stage1.register_forward_hook(
            lambda _m, _a, out, seen=shapes: seen.append(out.shape[-2:]))
        stages = list(registry.create("deepfill2", network=network, local=local).run(request))
        results[local] = stages
        assert shapes == ([(12, 14)] if local else [(64, 80)])
    for local_stage, whole_stage in zip(results[True], results[False], strict=True):
        difference = local_stage.image.astype(int) - whole_stage.image.astype(int)
        assert np.abs(difference).max() <= 1


def test_precision_option_reaches_the_autocast_choice(monkeypatch):
    """``half``: absent or "auto" (the CLI's word for the default, which it reads as None)
    -> None, else a bool."""
    from engines.neural import deepfill_v2

    seen = []

    def recording(device, half, half_safe):
        seen.append(half)
        return contextlib.nullcontext()
    monkeypatch.setattr(deepfill_v2, "reduced_precision", recording)
    image, mask = photo(64, 64, 6), hole_mask(64, 64, 20, 20, 10, 10)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    parsed = deepfill_v2.DeepFill2Engine.parse_options({"half": "auto"})
    assert parsed == {"half": None}
    for options, expected in (({}, None), (parsed, None), ({"half": True}, True),
                              ({"half": False}, False)):
        seen.clear()
        list(registry.create("deepfill2", network=seeded_network(11), **options).run(request))
        assert seen and set(seen) == {expected}, options
    spec = {s.key: s for s in deepfill_v2.DeepFill2Engine.option_specs}["half"]
    assert [value for value, _ in spec.choices] == [None, True, False]


@pytest.mark.parametrize("tf_layout", [False, True])
def test_scattered_hole_computes_only_the_attention_queries_that_reach_it(tf_layout):
    """Three small holes far apart: their bounding box is nearly the frame, but the attention
    computes only the queries whose patches reach a hole pixel; the hole pixels are those of
    the whole computation (float64)."""
    network = seeded_network(11).double()
    network.tf_compat = tf_layout
    mask = np.zeros((192, 192), np.uint8)
    mask[10:30, 12:40] = mask[150:180, 140:185] = mask[90:94, 60:130] = 255
    img, m, _ = (t.double() for t in upstream_inputs(photo(192, 192, 4), mask))
    seen = {}
    network.stage2.contextual_attention.register_forward_pre_hook(
        lambda _module, args: seen.update(box=args[3], queries=args[4]))
    box = Box.around(mask > 0)
    with torch.no_grad():
        x, coarse = network.coarse_stage(img, m)
        refined = network.refine(x, coarse, m)
        _, local_coarse = network.coarse_stage(img, m, box)
        local_refined = network.refine(x, local_coarse, m, box)
    inside = torch.from_numpy(mask > 0)
    torch.testing.assert_close(local_refined[..., inside], refined[..., inside], atol=1e-12,
                               rtol=0)
    top, bottom, left, right = seen["box"]
    assert seen["queries"].sum() < 0.6 * (bottom - top) * (right - left)
