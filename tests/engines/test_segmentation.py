"""Semantic parsers: tensor lists against the reference, preprocessing against independent
computations, upstream-format checkpoints loaded through the model cache, the face pipeline's
label placement, and the download-free colour regions."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines import weights
from engines.base import Cancelled, CancelToken, InputError, Readiness
from engines.device import MODEL_SLOT
from engines.faces import Face, face_template
from engines.segmentation import deeplab, face, regions, segformer
from engines.segmentation.base import create_parser, parser_names
from engines.segmentation.neural import load_strict, upsampled_argmax

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _free_networks():
    yield
    if MODEL_SLOT.key is not None:
        MODEL_SLOT.clear()


def reference(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in (HERE / name).read_text().splitlines():
        if line:
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(int(v) for v in shape.strip("()").split(",") if v.strip()),
                         dtype))
    return rows


def tensor_list(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in module.state_dict().items()]


def put_in_cache(weights_id: str) -> Path:
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 90)], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


# --- registry --------------------------------------------------------------------------------


def test_the_four_parsers_are_registered_with_their_label_sets():
    assert {"face", "scene", "scene-lite", "regions"} <= set(parser_names())
    sizes = {"face": 19, "scene": 182, "scene-lite": 150, "regions": 254}
    for name, size in sizes.items():
        label_set = create_parser(name).label_set
        assert len(label_set) == size and label_set.palette.shape == (size, 3)
    names = create_parser("regions").label_set.names  # numbered by id, as the legend lists
    assert names[0] == "region 0" and names[253] == "region 253"


@pytest.mark.parametrize("name, ids", [("face", "face-bisenet face-detection-resnet50"),
                                       ("scene", "deeplab2-cocostuff164k"),
                                       ("scene-lite", "segformer-b2-ade")])
def test_missing_weights_name_the_download_command(model_cache, name, ids):
    status = create_parser(name).status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert f"python main.py models download {ids}" in status.detail
    assert create_parser("regions").status().ready


def test_every_checkpoint_is_described_as_data():
    ids = ["face-bisenet", "face-parsenet", "face-detection-resnet50", "face-detection-mobilenet",
           "deeplab2-cocostuff164k", *(f"segformer-b{i}-ade" for i in range(6))]
    for weights_id in ids:
        spec = weights.get_spec(weights_id)
        assert spec.urls and spec.urls[0].startswith("https://") and spec.size and spec.license


# --- tensor lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("network, tsv", [("bisenet", "face_bisenet_facexlib.tsv"),
                                          ("parsenet", "face_parsenet_facexlib.tsv")])
def test_face_parsing_tensors_equal_the_reference(network, tsv):
    assert tensor_list(face.build_parsing_network(network)) == reference(tsv)


@pytest.fixture(scope="module")
def deeplab_state() -> dict:
    torch.manual_seed(0)
    return deeplab.build_network().state_dict()


def test_deeplab_tensors_equal_the_reference(deeplab_state):
    expected = reference("deeplab_v2_msc_cocostuff182_kazuto1011.tsv")
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in deeplab_state.items()] == expected
    parameters = sum(v.numel() for k, v in deeplab_state.items() if "num_batches" not in k)
    assert round(parameters / 1e6, 1) == 56.0


# --- DeepLab preprocessing and multi-scale inference -------------------------------------------


def test_deeplab_input_is_bgr_minus_mean_with_long_side_513():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = (200, 100, 50)  # left half: R 200, G 100, B 50
    image[:, 30:] = (10, 20, 30)
    pixels = deeplab.preprocess(image)
    assert pixels.dtype == np.float32 and pixels.shape == (3, 342, 513)  # 40 * 513 / 60 = 342
    np.testing.assert_allclose(pixels[:, 100, 10], [50 - 104.008, 100 - 116.669, 200 - 122.675],
                               rtol=1e-6)
    np.testing.assert_allclose(pixels[:, 100, 500], [30 - 104.008, 20 - 116.669, 10 - 122.675],
                               rtol=1e-6)


def bilinear(image: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    """Plain numpy bilinear resampling by ``scale`` on both axes (pixel centres,
    ``src = (dst + 0.5) / scale - 0.5``, clamped at the borders)."""
    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) / scale - 0.5, 0, n_in - 1)
        low = np.floor(src).astype(int)
        return low, np.minimum(low + 1, n_in - 1), src - low

    y0, y1, fy = axis(size[0], image.shape[0])
    x0, x1, fx = axis(size[1], image.shape[1])
    image = image.astype(np.float64)
    top = image[y0][:, x0] * (1 - fx)[None, :, None] + image[y0][:, x1] * fx[None, :, None]
    bottom = image[y1][:, x0] * (1 - fx)[None, :, None] + image[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]


def test_deeplab_input_is_the_bgr_photo_scaled_by_one_factor():
    image = picture(700, 300)
    pixels = deeplab.preprocess(image)
    assert pixels.shape == (3, 513, 220)  # 300 * 513 / 700 = 219.9
    expected = bilinear(image[..., ::-1], 513 / 700, (513, 220))
    restored = pixels.transpose(1, 2, 0) + np.array([104.008, 116.669, 122.675], np.float32)
    assert np.abs(restored - expected).max() <= 1.01  # cv2 rounds uint8 in fixed point
    assert deeplab.preprocess(picture(20, 10)).shape == (3, 513, 256)  # small images grow


class StrideEight(torch.nn.Module):
    """A stand-in base network: logits at 1/8 scale that depend on the input's scale."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(3, 5, 8, stride=8, padding=0)

    def forward(self, x):
        return self.conv(x) * (1 + x.shape[-1] / 100)


def test_multi_scale_returns_the_pixelwise_max_over_scales():
    base = StrideEight()
    x = torch.randn(1, 3, 97, 129)
    full = base(x)
    levels = [full]
    for scale in (0.5, 0.75):
        # upstream interpolates with scale_factor: the sampling step is exactly 1 / scale
        size = (math.floor(97 * scale), math.floor(129 * scale))
        hwc = bilinear(x[0].permute(1, 2, 0).numpy(), scale, size)
        scaled = torch.from_numpy(hwc).permute(2, 0, 1)[None].float()
        levels.append(F.interpolate(base(scaled), size=full.shape[2:], mode="bilinear",
                                    align_corners=False))
    expected = torch.stack(levels).amax(dim=0)
    got = deeplab.MultiScale(base, (0.5, 0.75)).eval()(x)
    assert got.shape == full.shape == (1, 5, 12, 16)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(got, full)  # the smaller scales do contribute


@pytest.fixture(scope="module")
def deeplab_file(deeplab_state, tmp_path_factory) -> Path:
    """The released format: a plain state dict with keys ``base.*``."""
    path = tmp_path_factory.mktemp("deeplab") / "deeplabv2.pth"
    torch.save(deeplab_state, path)
    return path


def test_deeplab_checkpoint_loads_through_the_cache(model_cache, deeplab_file,
                                                    deeplab_state):
    shutil.copyfile(deeplab_file, put_in_cache("deeplab2-cocostuff164k"))
    parser = create_parser("scene", long_side=65, device="cpu")
    assert parser.status().ready
    labels = parser.parse(picture(40, 60))
    assert labels.shape == (40, 60) and labels.dtype == np.uint8 and labels.max() < 182
    network = parser.networks(torch.device("cpu"))
    assert all(torch.equal(v, deeplab_state[k]) for k, v in network.state_dict().items())
    with torch.no_grad():
        assert network(torch.zeros(1, 3, 65, 65)).shape == (1, 182, 9, 9)  # logits at 1/8


def test_cancelling_deeplab_stops_its_forward_pass_part_way(model_cache, deeplab_file):
    shutil.copyfile(deeplab_file, put_in_cache("deeplab2-cocostuff164k"))
    parser = create_parser("scene", long_side=65, device="cpu")
    network = parser.networks(torch.device("cpu"))
    order = []  # the leaf layers in the order a parse calls them
    hooks = [m.register_forward_hook(lambda module, *_: order.append(module))
             for m in network.modules() if not list(m.children())]
    parser.parse(picture(40, 60))
    for hook in hooks:
        hook.remove()
    cancel, ran = CancelToken(), []
    hooks = [order[3].register_forward_hook(lambda *_: cancel.cancel()),
             order[-1].register_forward_hook(lambda *_: ran.append("last"))]
    try:
        with pytest.raises(Cancelled):
            parser.parse(picture(40, 60), cancel)
        assert ran == []  # stopped before the last layer
        assert parser.parse(picture(40, 60)).shape == (40, 60)  # and runs again
        assert ran and set(ran) == {"last"}  # once per scale of the multi-scale input
    finally:
        for hook in hooks:
            hook.remove()


def test_a_checkpoint_of_another_network_is_refused(model_cache, tmp_path):
    torch.save(face.build_parsing_network("bisenet").state_dict(),
               put_in_cache("deeplab2-cocostuff164k"))
    with pytest.raises(weights.WeightsCorruptError, match="does not fit the DeepLab v2"):
        create_parser("scene", device="cpu").parse(picture(40, 60))


# --- DeepLab on very elongated pictures and bad input ------------------------------------------


def test_deeplab_keeps_every_resized_side_at_least_one_pixel():
    assert deeplab.preprocess(picture(20, 8000)).shape == (3, 1, 513)  # 1.28 rounds to 1
    assert deeplab.preprocess(picture(1, 2000)).shape == (3, 1, 513)  # 0.26 would be 0
    assert deeplab.preprocess(picture(3000, 1)).shape == (3, 513, 1)


def test_deeplab_pads_only_inputs_thinner_than_the_minimum_with_the_mean():
    assert deeplab.MIN_SIDE == 16  # 8 / 0.5: the half-scale copy still spans one logit
    pixels = deeplab.preprocess(picture(20, 8000))
    padded = deeplab.pad_input(pixels)
    assert padded.shape == (3, 16, 513) and padded.dtype == np.float32
    assert np.array_equal(padded[:, :1], pixels) and not padded[:, 1:].any()  # mean colour
    corner = deeplab.pad_input(np.ones((3, 5, 9), np.float32))
    assert corner.shape == (3, 16, 16) and corner[:, :5, :9].all() \
        and corner.sum() == 3 * 5 * 9
    for normal in (deeplab.preprocess(picture(40, 60)), np.ones((3, 16, 513), np.float32)):
        assert deeplab.pad_input(normal) is normal


def test_deeplab_parses_very_elongated_pictures(model_cache, deeplab_file):
    shutil.copyfile(deeplab_file, put_in_cache("deeplab2-cocostuff164k"))
    parser = create_parser("scene", device="cpu")
    for height, width in ((20, 8000), (1, 1000), (1, 2000), (600, 2)):
        labels = parser.parse(picture(height, width))
        assert labels.shape == (height, width) and labels.dtype == np.uint8
        assert labels.max() < 182


class BlueCells(torch.nn.Module):
    """A stand-in network: 2 logits per 8x8 cell, class 0 where the cell's mean blue is above
    the training mean, class 1 below it; a cell of mean colour (padding) ties, giving 0.
    Records the input shapes it is given."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        blue = F.avg_pool2d(x[:, :1], 8, ceil_mode=True)
        return torch.cat([blue, -blue], dim=1)


def test_deeplab_labels_of_a_padded_input_come_from_the_picture_only():
    image = np.zeros((20, 8000, 3), np.uint8)
    image[:, :4000, 2] = 250  # left half blue (above the mean: class 0), right half black
    parser = create_parser("scene", device="cpu")
    network = BlueCells()
    parser.networks = lambda device, on_load=None: network
    labels = parser.parse(image)
    assert network.shapes == [(1, 3, 16, 513)]  # 1 row of picture, 15 of padding
    assert not labels[:, :3900].any()
    assert (labels[:, 4100:] == 1).all()  # the padding's class 0 does not leak in
    network.shapes.clear()
    assert parser.parse(picture(40, 60)).shape == (40, 60)
    assert network.shapes == [(1, 3, 342, 513)]  # ordinary pictures are not padded


@pytest.mark.parametrize("image", [
    np.zeros((50, 60, 3), np.uint16), np.zeros((50, 60), np.uint8),
    np.zeros((50, 60, 4), np.uint8), np.zeros((50, 60, 3), np.float32),
    np.zeros((0, 60, 3), np.uint8), np.zeros((0, 0, 3), np.uint8)],
    ids=["uint16", "grey", "rgba", "float", "no rows", "empty"])
def test_deeplab_refuses_what_is_not_an_rgb_picture(image):
    with pytest.raises(InputError, match="image"):
        create_parser("scene", device="cpu").parse(image)


def test_deeplab_refuses_a_long_side_below_one():
    with pytest.raises(InputError, match="long_side"):
        create_parser("scene", device="cpu", long_side=0).parse(picture(40, 60))


# --- SegFormer -------------------------------------------------------------------------------------


def test_segformer_input_is_resized_and_normalised():
    image = np.zeros((30, 50, 3), np.uint8)
    image[:] = (255, 128, 0)
    tensor = segformer.preprocess(image, 512, torch.device("cpu"))
    assert tensor.shape == (1, 3, 512, 512)
    expected = [(255 - 123.675) / 58.395, (128 - 116.28) / 57.12, (0 - 103.53) / 57.375]
    np.testing.assert_allclose(tensor[0, :, 100, 100].numpy(), expected, rtol=1e-5)


def test_segformer_hub_checkpoint_loads_through_the_cache(model_cache):
    from safetensors.torch import save_model

    torch.manual_seed(1)
    save_model(segformer.build_network("b0"), str(put_in_cache("segformer-b0-ade")))
    parser = create_parser("scene-lite", variant="b0", device="cpu")
    assert parser.required_weights() == ("segformer-b0-ade",) and parser.status().ready
    labels = parser.parse(picture(48, 80))
    assert labels.shape == (48, 80) and labels.dtype == np.uint8 and labels.max() < 150


def test_upsampled_argmax_in_strips_equals_whole_interpolation():
    logits = torch.randn(1, 6, 11, 17)
    expected = F.interpolate(logits, size=(83, 129), mode="bilinear",
                             align_corners=False).argmax(1)[0].numpy()
    assert np.array_equal(upsampled_argmax(logits, (83, 129), max_elements=6 * 129 * 5),
                          expected)
    assert np.array_equal(upsampled_argmax(logits, (83, 129)), expected)


def test_strict_loading_names_what_differs(tmp_path):
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    state = network.state_dict()
    state["extra"] = torch.zeros(1)
    state["0.weight"] = torch.zeros(4, 3, 5, 5)
    with pytest.raises(weights.WeightsCorruptError,
                       match=r"1 tensors unexpected.*1 tensors of another shape"):
        load_strict(network, state, "Test", tmp_path / "x.pth", own=())


# --- face parsing ------------------------------------------------------------------------------


class RecordingParser(torch.nn.Module):
    """Records the tensor it gets; answers facexlib's (logits, ...) tuple."""

    def forward(self, x):
        self.seen = x
        logits = torch.zeros(1, 19, 512, 512)
        logits[:, 1] = 1.0
        return logits, None


@pytest.mark.parametrize("network, mean, std", [
    ("bisenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ("parsenet", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
def test_face_crop_input_is_normalised_as_facexlib(network, mean, std):
    crop = np.zeros((512, 512, 3), np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 255, 51, 0
    recorder = RecordingParser()
    labels = face.FaceParser(parsing=network, device="cpu").parse_crop(crop, recorder)
    assert labels.shape == (512, 512) and (labels == 1).all()
    expected = [(v / 255 - m) / s for v, m, s in zip((255, 51, 0), mean, std)]
    np.testing.assert_allclose(recorder.seen[0, :, 7, 9].numpy(), expected, rtol=1e-5)


def face_at(scale: float, x: float, y: float) -> Face:
    """A face whose template landmarks are the crop's, scaled by ``scale`` and moved."""
    landmarks = (face_template() * scale + [x, y]).astype(np.float32)
    return Face((x, y, x + 512 * scale, y + 512 * scale), landmarks, 0.99)


@pytest.fixture
def face_weights(model_cache):
    """facexlib's released formats in the cache: BiSeNet a plain state dict, RetinaFace
    MobileNet with DataParallel's ``module.`` prefixes."""
    import warnings

    from facexlib.detection.retinaface import RetinaFace

    torch.manual_seed(2)
    torch.save(face.build_parsing_network("bisenet").state_dict(), put_in_cache("face-bisenet"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = RetinaFace(network_name="mobile0.25", device=torch.device("cpu"))
    torch.save({f"module.{k}": v for k, v in detector.state_dict().items()},
               put_in_cache("face-detection-mobilenet"))


def test_face_checkpoints_load_through_the_cache(face_weights):
    parser = create_parser("face", detector="mobilenet", device="cpu")
    assert parser.status().ready
    parsing, detector = parser.networks(torch.device("cpu"))
    assert type(parsing).__name__ == "BiSeNet" and type(detector).__name__ == "RetinaFace"
    image = picture(300, 400)
    labels = create_parser("face", device="cpu", faces=[face_at(0.3, 150, 60)]).parse(image)
    assert labels.shape == (300, 400) and labels.dtype == np.uint8 and labels.max() < 19
    assert (labels[:, :120] == face.BACKGROUND).all()  # far from the face: background


def _leaves(network: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in network.modules() if not list(m.children())]


@pytest.mark.parametrize("stage", ["detector", "parsing"])
def test_cancelling_the_face_parser_stops_its_networks_part_way(face_weights, stage):
    faces = None if stage == "detector" else [face_at(0.3, 150, 60)]  # given: no detector
    parser = create_parser("face", detector="mobilenet", device="cpu", faces=faces)
    parsing, detector = parser.networks(torch.device("cpu"))  # what parse takes from the slot
    layers = _leaves(detector if stage == "detector" else parsing)
    cancel, ran = CancelToken(), []
    hooks = [layers[len(layers) // 2].register_forward_hook(lambda *_: cancel.cancel()),
             layers[-1].register_forward_hook(lambda *_: ran.append("last"))]
    try:
        with pytest.raises(Cancelled):
            parser.parse(picture(300, 400), cancel)
        assert ran == []  # stopped before the network's last layer
    finally:
        for hook in hooks:
            hook.remove()


def test_face_labels_are_pasted_where_each_face_is(face_weights, monkeypatch):
    def square_of_nose(self, crop, network=None):
        labels = np.zeros((512, 512), np.uint8)
        labels[256:356, 206:306] = 10  # "nose", crop rows 256..355, columns 206..305
        return labels

    monkeypatch.setattr(face.FaceParser, "parse_crop", square_of_nose)
    found = [face_at(0.25, 30, 40), face_at(0.5, 200, 20)]
    labels = create_parser("face", device="cpu", faces=found).parse(picture(300, 480))
    for item in found:
        scale = (item.box[2] - item.box[0]) / 512
        x, y = item.box[0], item.box[1]
        # crop pixel c maps to image x + scale * c: the square's interior, one pixel in
        rows = slice(math.ceil(y + scale * 256.5), math.floor(y + scale * 354.5) + 1)
        cols = slice(math.ceil(x + scale * 206.5), math.floor(x + scale * 304.5) + 1)
        assert (labels[rows, cols] == 10).all()
        expected_area = (scale * 100) ** 2
        inside_box = labels[int(y):int(y + 512 * scale), int(x):int(x + 512 * scale)]
        assert abs((inside_box == 10).sum() - expected_area) < 4 * scale * 100 + 4
    assert set(np.unique(labels).tolist()) == {0, 10}


# --- colour regions ------------------------------------------------------------------------------


def test_two_flat_halves_become_two_regions():
    rng = np.random.default_rng(0)
    image = np.zeros((120, 160, 3), np.float64)
    image[:60] = (40, 90, 200)
    image[60:] = (60, 160, 50)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    labels = create_parser("regions").parse(image)
    top = np.bincount(labels[:60].ravel()).argmax()
    bottom = np.bincount(labels[60:].ravel()).argmax()
    assert top != bottom
    assert (labels[:60] == top).mean() > 0.98 and (labels[60:] == bottom).mean() > 0.98


def test_a_sky_gradient_is_one_region_and_a_building_another():
    y, x = np.mgrid[0:200, 0:300].astype(np.float64)
    sky = np.stack([60 + 60 * y / 200, 110 + 60 * y / 200, 230 - 20 * x / 300], axis=-1)
    image = sky.copy()
    image[90:, 100:190] = (120, 70, 50)
    labels = regions.region_map(image.astype(np.uint8))
    assert len(np.unique(labels)) == 2
    assert (labels[:80] == labels[0, 0]).all() and (labels[120:, 120:170] != labels[0, 0]).all()


def test_large_pictures_keep_sharp_boundaries():
    image = np.zeros((900, 1200, 3), np.uint8)
    image[:, :517] = (200, 60, 40)
    image[:, 517:] = (30, 60, 200)
    labels = regions.region_map(image, working_size=256)
    assert labels.shape == (900, 1200)
    assert len(np.unique(labels[:, :517])) == 1 and len(np.unique(labels[:, 517:])) == 1
    assert labels[0, 516] != labels[0, 517]


def test_region_count_and_size_limits_hold():
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
    image = cv2.resize(blocks, (256, 256), interpolation=cv2.INTER_NEAREST)
    labels = regions.region_map(image, max_regions=5, min_area=0.02)
    counts = np.bincount(labels.ravel())
    assert len(counts) <= 5 and (counts > 0).all()
    assert (counts >= 0.02 * labels.size).all()
    assert (np.diff(counts) <= 0).all()  # id 0 is the largest
