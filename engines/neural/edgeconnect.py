"""EdgeConnect (Nazeri et al. 2019): an edge generator completes the structure, an inpainting
generator paints the hole following it. The sketch-guided neural engine.

Networks and preprocessing follow knazeri/edge-connect (``src/networks.py``, ``src/models.py``,
``src/dataset.py``, ``src/edge_connect.py``) so the official checkpoints load and behave alike:

* grey image: ``skimage.color.rgb2gray`` of the RGB image, in [0, 1];
* known edges: ``skimage.feature.canny(gray, sigma=2, mask=known)``, 0 or 1, hole excluded;
* edge generator input ``cat(gray*(1-m) + m, edges*(1-m), m)``, output sigmoid in [0, 1];
* completed edges ``edge_out*m + edges*(1-m)`` (the composition of upstream training and
  sampling), plus the lines the user sketched inside the hole (set to 1);
* inpainting generator input ``cat(img*(1-m) + m, completed_edges)``, img RGB in [0, 1],
  output ``(tanh + 1) / 2``, RGB in [0, 1];

with ``m`` = 1 in the hole (the pixels to fill), 0 on known pixels.

Checkpoints: each upstream ``*_gen.pth`` is a pickled ``{"iteration": int, "generator":
state_dict}``; spectrally normalised layers (``torch.nn.utils.spectral_norm``) store
``weight_orig``, ``weight_u`` and ``weight_v``. The official zip holds one folder per dataset
(``places2/``, ``celeba/``, ``psv/``) with ``EdgeModel_gen.pth`` and ``InpaintingModel_gen.pth``.

The generators are in :mod:`engines.neural.edgeconnect_network` (torch), imported when a
network is built; their names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines import plugins, weights
from engines.base import CancelToken, Guidance, Region, RegionStage
from engines.device import MODEL_SLOT, slot_key
from engines.neural.common import (
    NeuralEngine,
    given_network_on,
    image_to_tensor,
    pad_to_multiple,
    tensor_to_image,
)
from engines.registry import register
from engines.weights import (
    WeightsCorruptError,
    WeightsMissingError,
    WeightSpec,
    load_checkpoint,
    network_check,
    register_spec,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engines.neural.edgeconnect_network import EdgeConnectNetwork

NETWORK_MODULE = "engines.neural.edgeconnect_network"
# the networks' names, importable from here too; the module (torch) loads at first use
__getattr__ = plugins.lazy_attributes(__name__, NETWORK_MODULE, (
    "ResnetBlock", "EdgeGenerator", "InpaintGenerator", "EdgeConnectNetwork"))

EDGE_FILE = "EdgeModel_gen.pth"
INPAINT_FILE = "InpaintingModel_gen.pth"
# what weights_path must name (EdgeConnectEngine.checkpoint_paths)
_EXPECTED = f"a folder holding the two files {EDGE_FILE} and {INPAINT_FILE}"
CANNY_SIGMA = 2.0  # upstream config SIGMA default, used by the released models
DRIVE_ZIP = "https://drive.google.com/uc?export=download&id=13G_Bszli37e4An-owPLXSBsayVafqfGX"
HOMEPAGE = "https://github.com/knazeri/edge-connect"
LICENSE = "CC BY-NC 4.0"
EDGE_COLOR = np.array([0, 0, 0], np.float32)  # predicted edges in the "edges" stage
SKETCH_COLOR = np.array([30, 90, 255], np.float32)  # the user's lines in the "edges" stage


def canny_edges(image: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upstream preprocessing: ``(gray, edges)`` for an ``(H, W, 3)`` uint8 RGB image.

    ``gray`` is ``skimage.color.rgb2gray`` (float64 in [0, 1]); ``edges`` is
    ``skimage.feature.canny(gray, sigma=2, mask=~hole)`` as float64 0/1, so the hole
    (``hole`` True) contributes no edges.
    """
    from skimage.color import rgb2gray
    from skimage.feature import canny

    gray = rgb2gray(image)
    edges = canny(gray, sigma=CANNY_SIGMA, mask=~hole).astype(np.float64)
    return gray, edges


def render_edges(image: np.ndarray, completed: np.ndarray, hole: np.ndarray,
                 sketch: np.ndarray | None) -> np.ndarray:
    """The "edges" stage picture: known pixels from ``image``; in the hole, black edges on
    white paper (darker = stronger edge) and the user's sketch lines in blue.

    ``completed`` is ``(H, W)`` float in [0, 1]; ``sketch`` ``(H, W)`` bool or None.
    Returns ``(H, W, 3)`` uint8 RGB.
    """
    strength = np.clip(completed, 0.0, 1.0)[..., None].astype(np.float32)
    paper = 255.0 * (1.0 - strength) + EDGE_COLOR * strength
    if sketch is not None:
        paper[sketch] = SKETCH_COLOR
    out = image.copy()
    out[hole] = np.clip(np.rint(paper[hole]), 0, 255).astype(np.uint8)
    return out


def _generator_state(path: Path) -> dict[str, torch.Tensor]:
    """The generator state dict of an upstream ``*_gen.pth`` (``{"generator": ...}``);
    a ``module.`` prefix (``nn.DataParallel`` training) is removed."""
    data = load_checkpoint(path)
    state = data.get("generator") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise WeightsCorruptError(f"{path.name} is not an EdgeConnect generator file "
                                  "(no 'generator' entry)")
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}
    return state


def load_generator(module: nn.Module, path: Path, *, own: Iterable[str]) -> None:
    """Load an upstream ``*_gen.pth`` into ``module`` strictly; a mismatch is reported as
    :class:`WeightsCorruptError` naming a few offending keys. ``own``: the ids of the
    checkpoints loaded into ``module`` (:func:`~engines.weights.mismatch_error`)."""
    state = _generator_state(path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        expected = set(module.state_dict())
        missing = sorted(expected - set(state))[:3]
        unexpected = sorted(set(state) - expected)[:3]
        detail = (f"missing {missing}, unexpected {unexpected}" if missing or unexpected
                  else str(exc).strip().splitlines()[-1][:200])
        raise weights.mismatch_error(path, f"the EdgeConnect {type(module).__name__}",
                                     detail, own=own) from None


def _network(name: str) -> nn.Module:
    """A new network of the class ``name`` of :mod:`engines.neural.edgeconnect_network`, with
    random weights, on the CPU (imports torch)."""
    from engines.neural import edgeconnect_network

    return getattr(edgeconnect_network, name)()


def _specs(engine: str, dataset: str, title: str) -> tuple[WeightSpec, WeightSpec]:
    common: dict[str, Any] = {
        "urls": (DRIVE_ZIP,),
        "license": LICENSE,
        "homepage": HOMEPAGE,
        "format": "state_dict",
        "extra": {"state_dict_key": "generator", "archive": "checkpoints.zip (all datasets)"},
        "manual": (f"download the pre-trained models zip linked from {HOMEPAGE} (Getting "
                   "Started) and import the zip, or the file from its folder "
                   f"{dataset}/"),
    }
    edge_id, inpaint_id = f"edgeconnect-{dataset}-edge", f"edgeconnect-{dataset}-inpaint"
    edge = WeightSpec(
        id=edge_id, engine=engine,
        title=f"EdgeConnect {title} edge generator", filename=EDGE_FILE,
        archive_member=f"{dataset}/{EDGE_FILE}",
        contract="input cat(gray*(1-m)+m, canny*(1-m), m), gray in [0,1], m 1 = hole; "
                 "sigmoid edge map in [0,1]",
        check_contents=network_check(
            lambda path, device: load_generator(_network("EdgeGenerator"), path,
                                                own=(edge_id,))),
        **common)
    inpaint = WeightSpec(
        id=inpaint_id, engine=engine,
        title=f"EdgeConnect {title} inpainting generator", filename=INPAINT_FILE,
        archive_member=f"{dataset}/{INPAINT_FILE}",
        contract="input cat(img*(1-m)+m, edges), img RGB in [0,1], m 1 = hole; "
                 "output (tanh+1)/2 RGB in [0,1]",
        check_contents=network_check(
            lambda path, device: load_generator(_network("InpaintGenerator"), path,
                                                own=(inpaint_id,))),
        **common)
    return register_spec(edge), register_spec(inpaint)


class EdgeConnectEngine(NeuralEngine):
    """EdgeConnect on one of the official checkpoint pairs.

    Stages: ``edges`` (the completed edge map drawn into the hole: black edges on white, the
    user's sketch lines in blue), then ``refined``.

    Options (besides :class:`NeuralEngine`'s):
        weights_path: a folder holding ``EdgeModel_gen.pth`` and ``InpaintingModel_gen.pth``
            (an upstream ``checkpoints/<dataset>`` folder) instead of the cached files.
    """

    edge_weights: ClassVar[str] = ""
    inpaint_weights: ClassVar[str] = ""
    guidance = frozenset({Guidance.SKETCH})
    # Trained on 256x256 crops and fully convolutional: at 256 the hole stays within the
    # generators' receptive field (~200 px) and structures have the scale Canny (sigma 2)
    # saw in training. The ``working_size`` request option overrides it.
    working_size = 256
    min_context = 64

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.edge_weights:
            cls.weights = (cls.edge_weights, cls.inpaint_weights)

    def checkpoint_paths(self) -> tuple[Path, Path]:
        """(edge generator file, inpainting generator file) to load. A ``weights_path`` that
        is a file, not a folder, raises :class:`WeightsCorruptError` saying a folder is
        expected, one that is not there or lacks a file :class:`WeightsMissingError` (naming
        the model whose cache folder it is, if another's); another model's installed checkpoint is named as that checkpoint
        (:func:`~engines.weights.mismatch_error`: an ``OtherModelsCheckpointError``)."""
        given = self.options.get("weights_path")
        if given:
            folder = Path(given)
            if folder.exists() and not folder.is_dir():
                raise self._not_a_folder(folder)
            paths = folder / EDGE_FILE, folder / INPAINT_FILE
            lacking = [path.name for path in paths if not path.is_file()]
            if lacking:
                raise self._lacking(folder, lacking)
            return paths
        return weights.require(self.edge_weights), weights.require(self.inpaint_weights)

    def _lacking(self, folder: Path, names: list[str]) -> WeightsMissingError:
        """The error for a ``weights_path`` folder that is not there or lacks the generator
        files ``names``: :meth:`checkpoint_paths`."""
        if not folder.exists():
            problem = "no such folder"
        else:
            problem = f"it holds no {' and no '.join(names)}"
            spec = weights.folder_spec(folder)
            if spec is not None and spec.id not in self.weights:
                problem += f" (it is where the {spec.title} checkpoint is installed)"
        return WeightsMissingError(f"{folder.absolute()}: {problem}; {self.title} takes as "
                                   f"weights_path {_EXPECTED}, such as upstream's "
                                   "checkpoints/<dataset> folder")

    def _not_a_folder(self, path: Path) -> WeightsCorruptError:
        """The error for a ``weights_path`` file: :meth:`checkpoint_paths`."""
        spec = weights.installed_spec(path)
        if spec is not None and spec.id not in self.weights:
            return weights.mismatch_error(path, "the EdgeConnect generators",
                                          f"a file, not {_EXPECTED}", own=self.weights)
        return WeightsCorruptError(f"{path.absolute()} is a file: {self.title} takes as "
                                   f"weights_path {_EXPECTED}, such as upstream's "
                                   "checkpoints/<dataset> folder")

    def create_network(self) -> EdgeConnectNetwork:
        return _network("EdgeConnectNetwork").eval()

    def load_pair(self, edge_path: Path, inpaint_path: Path, device) -> EdgeConnectNetwork:
        """Both generators loaded from their files, on ``device``; a
        :class:`WeightsCorruptError` about an installed file gets the fields naming its
        checkpoint and path (:func:`~engines.weights.naming_file`; its message kept)."""
        network = self.create_network()
        for module, path, own in ((network.edge, edge_path, self.edge_weights),
                                  (network.inpaint, inpaint_path, self.inpaint_weights)):
            with weights.naming_file(path):
                load_generator(module, path, own=(own,))
        return network.to(device).eval()

    def network(self, device) -> EdgeConnectNetwork:
        given = self.options.get("network")
        if given is not None:
            return given_network_on(given, device)
        edge_path, inpaint_path = self.checkpoint_paths()
        key = slot_key(type(self).__name__, [edge_path, inpaint_path], device)
        return MODEL_SLOT.get(key, lambda: self.load_pair(edge_path, inpaint_path, device))

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        import torch

        height, width = region.mask.shape
        device = self.device(None if region.device == "auto" else region.device)
        network = self.network(device)
        image = pad_to_multiple(region.image, 4)
        hole = pad_to_multiple(region.hole, 4)
        sketch = None
        if region.sketch is not None and region.sketch.any():
            sketch = pad_to_multiple(region.sketch >= 128, 4) & hole
        gray, edges = canny_edges(image, hole)

        def plane(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array.astype(np.float32))[None, None].to(device)

        masks = plane(hole)
        with torch.inference_mode():
            completed = network.complete_edges(
                plane(gray), plane(edges), masks, None if sketch is None else plane(sketch))
        edge_map = completed[0, 0].float().cpu().numpy()
        yield RegionStage("edges", render_edges(image, edge_map, hole, sketch)[:height, :width],
                          0.4)
        cancel.raise_if_cancelled()
        with torch.inference_mode():
            output = network.paint(image_to_tensor(image, device), completed, masks)
        yield RegionStage("refined", tensor_to_image(output)[:height, :width], 1.0, final=True)


_PLACES2 = _specs("edgeconnect", "places2", "Places2")
_CELEBA = _specs("edgeconnect-face", "celeba", "CelebA")
_PSV = _specs("edgeconnect-psv", "psv", "Paris StreetView")


@register
class EdgeConnectPlaces2(EdgeConnectEngine):
    name = "edgeconnect"
    title = "EdgeConnect (scenes)"
    description = ("Edge-guided inpainting trained on Places2: completes the structure lines "
                   "in the hole (your sketch lines override them), then paints along them.")
    edge_weights = _PLACES2[0].id
    inpaint_weights = _PLACES2[1].id


@register
class EdgeConnectFace(EdgeConnectEngine):
    name = "edgeconnect-face"
    title = "EdgeConnect (faces)"
    description = ("Edge-guided inpainting trained on CelebA faces: sketch the face lines you "
                   "want in the hole and it paints along them.")
    edge_weights = _CELEBA[0].id
    inpaint_weights = _CELEBA[1].id


@register
class EdgeConnectStreetView(EdgeConnectEngine):
    name = "edgeconnect-psv"
    title = "EdgeConnect (street facades)"
    description = ("Edge-guided inpainting trained on Paris StreetView facades: keeps windows "
                   "and lines straight; sketch lines steer the structure.")
    edge_weights = _PSV[0].id
    inpaint_weights = _PSV[1].id
