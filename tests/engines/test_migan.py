"""MI-GAN: the network against the reference tensor lists and a functional re-implementation,
the authors' state dicts and the traced file loaded through the user's path, the inverted mask
polarity of the input, pre/post-processing and the stages."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines import registry, weights
from engines.base import InpaintRequest, Readiness, Strategy
from engines.device import MODEL_SLOT
from engines.neural.migan_network import MiganGenerator
from engines.weights import WeightsCorruptError
from tests.engines.checkpoints_lama_migan import (
    hole_mask,
    photo,
    trace_to,
)

HERE = Path(__file__).parent
CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def _free_model_slot():
    yield
    MODEL_SLOT.clear()


def random_generator(resolution: int, seed: int = 0) -> MiganGenerator:
    """A generator with non-zero biases and noise strengths (zero after construction)."""
    torch.manual_seed(seed)
    network = MiganGenerator(resolution)
    with torch.no_grad():
        for name, tensor in network.named_parameters():
            if name.endswith(("bias", "noise_strength")):
                tensor.copy_(torch.randn_like(tensor) * 0.1)
    return network.eval()



def check_stages(stages, request: InpaintRequest) -> np.ndarray:
    """Coarse before final; pixels outside the mask byte-identical; the hole changed."""
    assert [stage.final for stage in stages] == [False] * (len(stages) - 1) + [True]
    assert stages[0].name.startswith("coarse")
    known = ~request.hole
    for stage in stages:
        assert np.array_equal(stage.image[known], request.image[known])
    final = stages[-1].image
    assert np.abs(final[request.hole].astype(int) - request.image[request.hole]).sum() > 0
    return final


def install(weights_id: str, network: MiganGenerator) -> Path:
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return path


def assert_same_state(network: torch.nn.Module, expected: torch.nn.Module) -> None:
    got, want = network.state_dict(), expected.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[name], want[name]) for name in want)


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("resolution", [512, 256])
def test_state_dict_equals_reference_list(resolution):
    rows = (HERE / f"migan_{resolution}.tsv").read_text().splitlines()
    expected = [tuple(row.split("\t")) for row in rows if row]
    state = MiganGenerator(resolution).state_dict()
    assert [(name, str(tuple(t.shape)), str(t.dtype).removeprefix("torch."))
            for name, t in state.items()] == expected
    if resolution == 512:  # README: 7.37M (parameters and buffers)
        assert round(sum(t.numel() for t in state.values()) / 1e6, 2) == 7.37


def functional_migan(s: dict[str, torch.Tensor], x: torch.Tensor, resolution: int):
    """MI-GAN written from the upstream description with plain functional ops: upsampling by
    explicit zero insertion (``z[..., ::2, ::2] = x``) instead of nearest x pattern."""

    def act(v):
        return (F.leaky_relu(v, 0.2) * math.sqrt(2)).clamp(-256, 256)

    def separable(p, v, down=False, up=False, noise=False):
        v = act(F.conv2d(v, s[p + "conv1.weight"], s[p + "conv1.bias"], padding=1,
                         groups=v.shape[1]))
        if down:
            v = F.conv2d(v, s[p + "downsample.filter.weight"], stride=2, padding=1,
                         groups=v.shape[1])
        v = F.conv2d(v, s[p + "conv2.weight"])
        if up:
            v = upsample(v, s[p + "upsample.filter.weight"])
        if noise:
            v = v + s[p + "noise_const"] * s[p + "noise_strength"]
        return act(v)

    def upsample(v, kernel):
        n, c, h, w = v.shape
        z = v.new_zeros(n, c, 2 * h, 2 * w)
        z[..., ::2, ::2] = v
        return F.conv2d(F.pad(z, (2, 1, 2, 1)), kernel, groups=c)

    sizes = [2 ** i for i in range(int(math.log2(resolution)), 1, -1)]  # R .. 4
    features = {}
    h = None
    for res in sizes:
        p = f"encoder.b{res}."
        if res == resolution:
            h = act(F.conv2d(x, s[p + "fromrgb.weight"], s[p + "fromrgb.bias"]))
        features[res] = separable(p + "conv1.", h)
        h = separable(p + "conv2.", features[res], down=res > 4)
    h = separable("synthesis.b4.conv2.", separable("synthesis.b4.conv1.", h) + features[4])
    image = F.conv2d(h, s["synthesis.b4.torgb.weight"], s["synthesis.b4.torgb.bias"])
    for res in reversed(sizes[:-1]):
        p = f"synthesis.b{res}."
        h = separable(p + "conv1.", h, up=True, noise=True) + features[res]
        h = separable(p + "conv2.", h, noise=True)
        image = upsample(image, s[p + "upsample.filter.weight"]) + \
            F.conv2d(h, s[p + "torgb.weight"], s[p + "torgb.bias"])
    return image


def test_generator_matches_functional_reference():
    network = random_generator(16, seed=3)
    x = torch.randn(2, 4, 16, 16)
    with torch.no_grad():
        ours = network(x)
        reference = functional_migan(network.state_dict(), x, 16)
    assert ours.shape == (2, 3, 16, 16)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_upsampling_filter_is_the_stylegan2_kernel():
    """Upsampling a constant keeps it constant away from the border (gain 4 = 2x2)."""
    network = MiganGenerator(16)
    upsample = network.synthesis.b8.upsample
    with torch.no_grad():
        out = upsample(torch.ones(1, 3, 4, 4))
    assert out.shape == (1, 3, 8, 8)
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.ones(1, 3, 4, 4))


# --------------------------------------------------------------------- pre/post-processing


def test_input_has_inverted_mask_polarity_and_output_is_upstream():
    network = random_generator(256, seed=1)
    seen = {}

    def record(_module, args, output):
        seen["input"], seen["output"] = args[0].clone(), output.clone()

    network.register_forward_hook(record)
    image, mask = photo(256, 256), hole_mask(256, 256, 90, 100, 40)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    stages = list(registry.create("migan-256", network=network, device="cpu").run(request))
    final = check_stages(stages, request)

    # scripts/demo.py: img * 2 / 255 - 1; mask 1 = KNOWN; cat([mask - 0.5, img * mask])
    known = torch.from_numpy((mask < 128).astype(np.float32))[None, None]
    img = torch.from_numpy(image).permute(2, 0, 1)[None].float() * 2 / 255 - 1
    expected = torch.cat([known - 0.5, img * known], dim=1)
    torch.testing.assert_close(seen["input"], expected, rtol=0, atol=0)
    assert seen["input"][0, 0, 100, 110] == -0.5 and seen["input"][0, 0, 0, 0] == 0.5
    # (y * 0.5 + 0.5).clamp(0, 1) * 255 -> uint8, composed with the known pixels
    upstream = ((seen["output"][0] * 0.5 + 0.5).clamp(0, 1) * 255).to(torch.uint8)
    upstream = upstream.permute(1, 2, 0).numpy()
    assert np.array_equal(final[request.hole], upstream[request.hole])


# ------------------------------------------------------------- official files, user's path


def test_state_dict_in_the_cache_runs_on_a_non_square_region(model_cache):
    network = random_generator(256, seed=4)
    install("migan-256-places2", network)
    engine = registry.create("migan-256")
    assert engine.status().ready
    image, mask = photo(90, 150), hole_mask(90, 150, 30, 60, 25)
    request = InpaintRequest(image, mask)
    check_stages(list(engine.run(request)), request)
    assert_same_state(engine.network(CPU), network)


def test_ffhq_state_dict_loads_for_the_face_engine(model_cache):
    network = random_generator(256, seed=5)
    install("migan-256-ffhq", network)
    assert registry.create("migan-256").status().readiness is Readiness.NEEDS_DOWNLOAD
    assert_same_state(registry.create("migan-ffhq").network(CPU), network)


def test_state_dict_from_older_upstream_code_is_converted(tmp_path):
    network = random_generator(256, seed=6)
    state = network.state_dict()
    legacy = {}
    for name, tensor in state.items():
        if name.endswith("upsample.filter_const"):
            channels = state[name.replace("filter_const", "filter.weight")].shape[0]
            legacy[name.replace("filter_const", "insert_zeros.weight")] = \
                torch.tensor([[1.0, 0.0], [0.0, 0.0]]).repeat(channels, 1, 1, 1)
        else:
            legacy[name] = tensor
    path = tmp_path / "migan_256_places2.pt"
    torch.save(legacy, path)
    assert_same_state(registry.create("migan-256", weights_path=str(path)).network(CPU),
                      network)


def test_wrong_tensors_are_named_after_the_instant_preview(tmp_path):
    state = random_generator(256).state_dict()
    del state["encoder.b64.conv2.downsample.filter.weight"]
    state["synthesis.b256.torgb.weight"] = torch.zeros(3, 64, 1, 1)
    path = tmp_path / "migan_256_places2.pt"
    torch.save(state, path)
    image, mask = photo(64, 64), hole_mask(64, 64, 20, 20, 16)
    stages = registry.create("migan-256", weights_path=str(path)).run(InpaintRequest(image, mask))
    assert next(stages).name.startswith("coarse")  # Telea preview before the network loads
    with pytest.raises(WeightsCorruptError) as error:
        next(stages)
    message = str(error.value)
    assert "missing: encoder.b64.conv2.downsample.filter.weight" in message
    assert "synthesis.b256.torgb.weight is (3, 64, 1, 1), expected (3, 128, 1, 1)" in message


@pytest.mark.slow
def test_native_512_and_traced_file_give_the_same_result(model_cache):
    network = random_generator(512, seed=7)
    install("migan-512-places2", network)
    image, mask = photo(200, 300), hole_mask(200, 300, 80, 120, 50)
    request = InpaintRequest(image, mask)
    native = check_stages(list(registry.create("migan", device="cpu").run(request)), request)

    trace_to(weights.local_path("migan-traced"), network, torch.ones(1, 4, 512, 512))
    engine = registry.create("migan", source="torchscript", device="cpu")
    assert isinstance(engine.network(CPU), torch.jit.ScriptModule)
    traced = check_stages(list(engine.run(request)), request)
    assert np.array_equal(native, traced)


def test_status_explains_how_to_get_the_weights(model_cache):
    status = registry.create("migan").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert "models download migan-traced" in status.detail
    assert "1xNtvN2lto0p5yFKOEEg9RioMjGrYM74w" in status.detail
    assert "models import migan-512-places2" in status.detail
    detail = registry.create("migan-ffhq").status().detail
    assert "models import migan-256-ffhq" in detail and "models download" not in detail


def test_models_import_refuses_a_state_dict_of_the_other_resolution(model_cache, tmp_path):
    from engines import download

    other = tmp_path / "migan_512_places2.pt"
    torch.save(random_generator(512).state_dict(), other)
    with pytest.raises(WeightsCorruptError, match="MI-GAN 256"):
        download.import_file("migan-256-places2", other)
    assert not weights.is_present("migan-256-places2")
    right = tmp_path / "migan_256_places2.pt"
    torch.save(random_generator(256).state_dict(), right)
    assert download.import_file("migan-256-places2", right).is_file()
    assert weights.is_present("migan-256-places2")
    assert "opens, fits its network OK" in weights.verify("migan-256-places2", deep=True)


def test_another_resolutions_checkpoint_in_the_slot_names_the_file_and_the_commands(
        model_cache):
    path = install("migan-512-places2", random_generator(256))  # a size within tolerance
    assert registry.create("migan", source="native").status().ready
    request = InpaintRequest(photo(64, 64), hole_mask(64, 64, 20, 20, 16))
    with pytest.raises(WeightsCorruptError) as raised:
        list(registry.create("migan", source="native").run(request))
    message = str(raised.value)
    assert message.startswith(f"{path.absolute()} does not fit the MI-GAN 512 generator (")
    assert ": it is not the MI-GAN 512 (Places2) checkpoint; run `python main.py models remove " \
           "migan-512-places2`, then download migan_512_places2.pt from" in message
