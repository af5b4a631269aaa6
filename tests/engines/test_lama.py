"""LaMa: the network against the reference tensor list and independent reference maths, the
official file formats loaded through the user's path, pre/post-processing and the stages."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines import registry, weights
from engines.base import Cancelled, CancelToken, InpaintRequest, Readiness, Strategy
from engines.device import MODEL_SLOT
from engines.neural.lama_network import (
    BIG_LAMA,
    FFCGeneratorConfig,
    FFCResnetBlock,
    FourierUnit,
    LamaInpainter,
)
from engines.weights import WeightsCorruptError
from tests.engines.checkpoints_lama_migan import (
    BIG_LAMA_CONFIG,
    EXECUTED,
    hole_mask,
    lightning_checkpoint,
    photo,
    trace_to,
    write_big_lama_zip,
)

REFERENCE_TSV = Path(__file__).with_name("lama_big_best_ckpt_generator.tsv")
TINY = FFCGeneratorConfig(ngf=8, n_blocks=1)
CPU = torch.device("cpu")


def randomize_batchnorm(module: torch.nn.Module, seed: int) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            n = layer.num_features
            layer.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            layer.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            layer.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            layer.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def tiny_lama(seed: int = 0) -> LamaInpainter:
    torch.manual_seed(seed)
    network = LamaInpainter(TINY)
    randomize_batchnorm(network, seed)
    return network.eval()



def run_all(engine, request: InpaintRequest):
    return list(engine.run(request))


def check_stages(stages, request: InpaintRequest) -> np.ndarray:
    """Coarse before final; pixels outside the mask byte-identical; the hole changed."""
    assert [stage.final for stage in stages] == [False] * (len(stages) - 1) + [True]
    assert stages[0].name.startswith("coarse")
    known = ~request.hole
    for stage in stages:
        assert stage.image.shape == request.image.shape
        assert np.array_equal(stage.image[known], request.image[known])
    final = stages[-1].image
    assert np.abs(final[request.hole].astype(int) - request.image[request.hole]).sum() > 0
    return final


def reference_lama_input(image: np.ndarray, hole: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Upstream bin/predict.py preprocessing: /255, symmetric pad to x8, input
    cat(img * (1 - m), m). Returns (image, mask, generator input)."""
    height, width = hole.shape
    pad = ((0, -height % 8), (0, -width % 8))
    img = np.pad(image.transpose(2, 0, 1).astype("float32") / 255, ((0, 0), *pad),
                 mode="symmetric")
    mask = np.pad(hole.astype("float32")[None], ((0, 0), *pad), mode="symmetric")
    img_t, mask_t = torch.from_numpy(img)[None], torch.from_numpy(mask)[None]
    return img_t, mask_t, torch.cat([img_t * (1 - mask_t), mask_t], dim=1)


def upstream_output(result: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Upstream post-processing: crop, ``np.clip(x * 255, 0, 255).astype('uint8')``."""
    array = result[0].permute(1, 2, 0).numpy()[:height, :width]
    return np.clip(array * 255, 0, 255).astype("uint8")


# --------------------------------------------------------------------------- architecture


def test_state_dict_equals_reference_list():
    expected = [line.split("\t") for line in REFERENCE_TSV.read_text().splitlines() if line]
    state = LamaInpainter(BIG_LAMA).state_dict()
    assert [(name, str(tuple(tensor.shape))) for name, tensor in state.items()] == \
        [(name, shape) for name, shape in expected]
    for name, tensor in state.items():
        wanted = torch.int64 if name.endswith("num_batches_tracked") else torch.float32
        assert tensor.dtype == wanted, name
    # README: 51.06M values in the generator's state dict (parameters and BatchNorm buffers)
    assert round(sum(t.numel() for t in state.values()) / 1e6, 2) == 51.06


def fourier_unit_reference(x: np.ndarray, weight: np.ndarray, bn: dict) -> np.ndarray:
    """FourierUnit with numpy: 2-D real FFT (ortho), channels interleaved (c.real, c.imag),
    1x1 conv, BatchNorm (eval), ReLU, inverse FFT to the input size."""
    batch, channels, height, width = x.shape
    spectrum = np.fft.rfft2(x, norm="ortho")
    stacked = np.empty((batch, 2 * channels, *spectrum.shape[2:]))
    stacked[:, 0::2] = spectrum.real
    stacked[:, 1::2] = spectrum.imag
    y = np.einsum("oc,nchw->nohw", weight[:, :, 0, 0], stacked)
    scale = bn["weight"] / np.sqrt(bn["running_var"] + 1e-5)
    y = (y - bn["running_mean"][None, :, None, None]) * scale[None, :, None, None] \
        + bn["bias"][None, :, None, None]
    y = np.maximum(y, 0)
    return np.fft.irfft2(y[:, 0::2] + 1j * y[:, 1::2], s=(height, width), norm="ortho")


def numpy_state(module: torch.nn.Module, prefix: str = "") -> dict:
    return {name[len(prefix):]: tensor.detach().double().numpy()
            for name, tensor in module.state_dict().items() if name.startswith(prefix)}


def test_fourier_unit_matches_numpy_fft_reference():
    torch.manual_seed(0)
    unit = FourierUnit(3)
    randomize_batchnorm(unit, 1)
    unit.eval()
    x = torch.randn(2, 3, 8, 10)
    with torch.no_grad():
        ours = unit(x).double().numpy()
    state = numpy_state(unit)
    reference = fourier_unit_reference(x.double().numpy(), state["conv_layer.weight"],
                                       {k[3:]: v for k, v in state.items() if k.startswith("bn.")})
    assert ours.shape == (2, 3, 8, 10)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_ffc_resnet_block_matches_functional_reference():
    """One residual FFC block (75 % global channels) against a functional re-implementation
    built from the state dict names: which path reads which branch, reflect padding, where
    BatchNorm and ReLU sit, the residual sums."""
    torch.manual_seed(2)
    block = FFCResnetBlock(16, 0.75)
    randomize_batchnorm(block, 3)
    block.eval()
    x_l, x_g = torch.randn(1, 4, 12, 12), torch.randn(1, 12, 12, 12)
    with torch.no_grad():
        ours_l, ours_g = block((x_l, x_g))
    s = {name: tensor.detach() for name, tensor in block.state_dict().items()}

    def conv3(x, name):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), s[name])

    def bn(x, prefix):
        return F.batch_norm(x, s[prefix + "running_mean"], s[prefix + "running_var"],
                            s[prefix + "weight"], s[prefix + "bias"], False, 0.0, 1e-5)

    def ffc_bn_act(p, local, global_):
        spectral = f"{p}ffc.convg2g."
        half = F.relu(bn(F.conv2d(global_, s[spectral + "conv1.0.weight"]), spectral + "conv1.1."))
        fourier = fourier_unit_reference(
            half.double().numpy(), s[spectral + "fu.conv_layer.weight"].double().numpy(),
            {k: s[spectral + "fu.bn." + k].double().numpy()
             for k in ("weight", "bias", "running_mean", "running_var")})
        spectral_out = F.conv2d(half + torch.from_numpy(fourier).float(),
                                s[spectral + "conv2.weight"])
        out_l = conv3(local, f"{p}ffc.convl2l.weight") + conv3(global_, f"{p}ffc.convg2l.weight")
        out_g = conv3(local, f"{p}ffc.convl2g.weight") + spectral_out
        return F.relu(bn(out_l, f"{p}bn_l.")), F.relu(bn(out_g, f"{p}bn_g."))

    mid_l, mid_g = ffc_bn_act("conv1.", x_l, x_g)
    end_l, end_g = ffc_bn_act("conv2.", mid_l, mid_g)
    torch.testing.assert_close(ours_l, x_l + end_l, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours_g, x_g + end_g, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------- pre/post-processing


def test_generator_sees_upstream_input_and_result_is_upstream_output():
    network = tiny_lama()
    seen: list[torch.Tensor] = []
    network.generator.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    image, mask = photo(21, 30), hole_mask(21, 30, 6, 9, 8)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    stages = run_all(registry.create("lama", network=network, device="cpu"), request)
    final = check_stages(stages, request)

    img_t, mask_t, expected_input = reference_lama_input(image, request.hole)
    assert len(seen) == 2  # coarse pass, then the full-size pass
    assert seen[0].shape[-1] < seen[1].shape[-1]
    torch.testing.assert_close(seen[1], expected_input, rtol=0, atol=0)
    with torch.no_grad():
        prediction = network.generator(expected_input)
    upstream = upstream_output(mask_t * prediction + (1 - mask_t) * img_t, 21, 30)
    assert np.array_equal(final[request.hole], upstream[request.hole])


def test_tiny_image_is_padded_to_the_minimum_network_size():
    image, mask = photo(9, 11), hole_mask(9, 11, 3, 4, 3)
    request = InpaintRequest(image, mask)
    check_stages(run_all(registry.create("lama", network=tiny_lama()), request), request)


def test_large_photo_only_costs_the_crop_around_the_hole():
    shapes: list[tuple[int, ...]] = []

    class Recorder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = tiny_lama()

        def forward(self, image, mask):
            shapes.append(tuple(image.shape))
            return self.inner(image, mask)

    image = np.zeros((2000, 3000, 3), np.uint8)
    image[...] = (90, 140, 60)
    mask = hole_mask(2000, 3000, 1000, 1500, 12)
    request = InpaintRequest(image, mask, crop_margin=64)
    check_stages(run_all(registry.create("lama", network=Recorder()), request), request)
    assert shapes and max(max(shape[-2:]) for shape in shapes) <= 12 + 2 * 64 + 8


def test_cancel_between_coarse_and_final():
    image, mask = photo(32, 32), hole_mask(32, 32, 10, 10, 8)
    cancel = CancelToken()
    stages = registry.create("lama", network=tiny_lama()).run(InpaintRequest(image, mask),
                                                            cancel)
    first = next(stages)
    assert not first.final
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(stages)


# ------------------------------------------------------------- official files, user's path


@pytest.fixture(scope="module")
def big_state():
    torch.manual_seed(11)
    network = LamaInpainter(BIG_LAMA)
    randomize_batchnorm(network, 12)
    yield {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}
    MODEL_SLOT.clear()


@pytest.fixture(scope="module")
def best_ckpt(big_state, tmp_path_factory):
    """best.ckpt as in big-lama.zip, with the training objects Lightning 1.x pickles."""
    path = tmp_path_factory.mktemp("lama") / "best.ckpt"
    torch.save(lightning_checkpoint(big_state, with_training_objects=True), path)
    return path


def assert_loaded(engine, big_state) -> torch.nn.Module:
    network = engine.network(CPU)
    loaded = network.state_dict()
    assert loaded.keys() == big_state.keys()
    assert all(torch.equal(loaded[name], big_state[name]) for name in big_state)
    return network


@pytest.mark.slow
def test_official_checkpoint_in_the_cache_runs_without_executing_pickled_objects(
        model_cache, best_ckpt, big_state):
    with pytest.raises(WeightsCorruptError):  # weights_only alone refuses this file
        weights.load_checkpoint(best_ckpt, "state_dict")
    assert "generator.model.1.ffc.convl2l.weight" in weights.load_checkpoint(
        best_ckpt, "lightning")["state_dict"]  # the Lightning reader neutralises the rest
    assert EXECUTED == []
    target = weights.local_path("lama-big")
    target.parent.mkdir(parents=True)
    os.symlink(best_ckpt, target)
    engine = registry.create("lama", device="cpu")  # upstream_output runs on the CPU
    assert engine.status().ready

    image, mask = photo(40, 56), hole_mask(40, 56, 12, 20, 14)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    final = check_stages(run_all(engine, request), request)
    assert EXECUTED == []
    network = assert_loaded(engine, big_state)
    assert MODEL_SLOT.key is not None and str(best_ckpt.resolve()) in MODEL_SLOT.key

    img_t, mask_t, _ = reference_lama_input(image, request.hole)
    with torch.no_grad():
        upstream = upstream_output(network(img_t, mask_t), 40, 56)
    assert np.array_equal(final[request.hole], upstream[request.hole])


def test_training_objects_would_run_code_if_unpickled_for_real(best_ckpt):
    """Guards the test above: its checkpoint really contains an object that runs code."""
    torch.load(best_ckpt, map_location="cpu", weights_only=False)
    assert EXECUTED == ["TrainingObject"]
    EXECUTED.clear()


@pytest.mark.slow
def test_zip_and_folder_load_through_weights_path(tmp_path, big_state, best_ckpt):
    archive = write_big_lama_zip(tmp_path / "big-lama.zip", big_state)
    assert_loaded(registry.create("lama", weights_path=str(archive)), big_state)

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)
    assert_loaded(registry.create("lama", weights_path=str(folder / "big-lama")), big_state)


def test_config_that_is_not_big_lama_is_rejected(tmp_path):
    tiny_state = {"generator.model.1.ffc.convl2l.weight": torch.zeros(64, 4, 7, 7)}
    lfu = "ratio_gout: ${generator.resnet_conv_kwargs.ratio_gin}\n    enable_lfu: false\n"
    assert lfu in BIG_LAMA_CONFIG
    config = BIG_LAMA_CONFIG.replace("n_blocks: 18", "n_blocks: 9").replace(
        lfu, "ratio_gout: ${generator.resnet_conv_kwargs.ratio_gin}\n")
    archive = write_big_lama_zip(tmp_path / "big-lama.zip", tiny_state, config)
    with pytest.raises(WeightsCorruptError) as error:
        registry.create("lama", weights_path=str(archive)).network(CPU)
    assert "generator.n_blocks is 9, expected 18" in str(error.value)
    assert "generator.resnet_conv_kwargs.enable_lfu is missing" in str(error.value)


@pytest.mark.slow
def test_missing_and_misshaped_tensors_are_named(tmp_path, big_state):
    state = dict(big_state)
    del state["generator.model.12.conv2.ffc.convg2g.fu.bn.running_var"]
    state["generator.model.34.weight"] = torch.zeros(3, 64, 3, 3)
    path = tmp_path / "best.ckpt"
    torch.save(lightning_checkpoint(state), path)
    with pytest.raises(WeightsCorruptError) as error:
        registry.create("lama", weights_path=str(path)).network(CPU)
    message = str(error.value)
    assert "missing: generator.model.12.conv2.ffc.convg2g.fu.bn.running_var" in message
    assert "generator.model.34.weight is (3, 64, 3, 3), expected (3, 64, 7, 7)" in message


def test_file_without_generator_weights_is_rejected(tmp_path):
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": {"discriminator.model0.0.weight": torch.zeros(1)}}, path)
    with pytest.raises(WeightsCorruptError, match=r"does not fit the LaMa big generator \(no "
                       r"'generator\.\*' tensors; found discriminator\.model0\.0\.weight\)$"):
        registry.create("lama", weights_path=str(path)).network(CPU)


# ------------------------------------------------------------------------- TorchScript


def test_torchscript_file_is_the_alternative_source(model_cache):
    network = tiny_lama(5)
    example = (torch.rand(1, 3, 16, 24), (torch.rand(1, 1, 16, 24) > 0.5).float())
    trace_to(weights.local_path("lama-big-torchscript"), network, *example)
    # a tiny stand-in for the 197 MB file: recorded as installed, so its size is expected
    weights.write_manifest("lama-big-torchscript", "0" * 64, "test", "size and format")
    assert registry.create("lama", source="native").status().readiness is \
        Readiness.NEEDS_DOWNLOAD
    engine = registry.create("lama")  # auto: the official checkpoint is absent
    assert engine.status().ready

    image, mask = photo(24, 40), hole_mask(24, 40, 5, 12, 9)
    request = InpaintRequest(image, mask, strategy=Strategy.ORIGINAL)
    final = check_stages(run_all(engine, request), request)
    img_t, mask_t, _ = reference_lama_input(image, request.hole)
    with torch.no_grad():
        upstream = upstream_output(network(img_t, mask_t), 24, 40)
    assert np.array_equal(final[request.hole], upstream[request.hole])


def test_status_without_weights_names_both_downloads(model_cache):
    status = registry.create("lama").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert "models download lama-big`" in status.detail
    assert "models download lama-big-torchscript" in status.detail
