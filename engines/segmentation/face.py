"""Face parsing: facexlib's BiSeNet (or ParseNet) on every detected face, pasted back.

Pipeline: RetinaFace finds the faces (:func:`engines.faces.detect_faces`); each is aligned to
a 512x512 crop (:func:`engines.faces.align_face`), parsed into the 19 classes of
``resources/labels/face_parsing19.tsv``, and its labels are warped back with nearest-neighbour
sampling (:func:`engines.faces.paste_labels_back`), smallest face first so the nearest face
wins where crops overlap. Pixels outside every face are ``0`` ("background", the set's own
class for "not part of a face"), so the whole map is labelled; with no face found the map is
all background.

Networks (facexlib's classes, our cached weights, strict loading):

* BiSeNet (default): input RGB / 255 normalised with the ImageNet mean and std; ``net(x)[0]``;
* ParseNet: input RGB / 255 normalised with mean and std 0.5; ``net(x)[0]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engines import faces as face_geometry
from engines import weights
from engines.base import CancelToken, InputError
from engines.neural.interrupt import cancel_checks
from engines.segmentation.base import LabelSet, ProgressCallback, register_parser
from engines.segmentation.labels import bundled_label_set
from engines.segmentation.neural import NeuralParser, image_tensor, load_strict
from engines.weights import WeightSpec, network_check, register_spec

BACKGROUND = 0
NO_FACE = "no face was found; every pixel is background"  # the note of a map without one
_FACEXLIB = "https://github.com/xinntao/facexlib"
PARSING_SPECS = {
    "bisenet": register_spec(WeightSpec(
        id="face-bisenet", engine="face", title="BiSeNet face parsing (facexlib)",
        filename="parsing_bisenet.pth",
        urls=(f"{_FACEXLIB}/releases/download/v0.2.0/parsing_bisenet.pth",),
        size=53_300_000, license="MIT", homepage=_FACEXLIB, format="state_dict",
        contract="512x512 RGB / 255, ImageNet mean and std; net(x)[0] logits of 19 face "
                 "classes; the original face-parsing.PyTorch 79999_iter.pth has the same keys",
        extra={"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
        check_contents=network_check(lambda path, device: _parsing_network_from(
            "bisenet", path)))),
    "parsenet": register_spec(WeightSpec(
        id="face-parsenet", engine="face", title="ParseNet face parsing (facexlib)",
        filename="parsing_parsenet.pth",
        urls=(f"{_FACEXLIB}/releases/download/v0.2.2/parsing_parsenet.pth",),
        size=85_300_000, license="MIT", homepage=_FACEXLIB, format="state_dict",
        contract="512x512 RGB / 255, mean and std 0.5; net(x)[0] logits of 19 face classes",
        extra={"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
        check_contents=network_check(lambda path, device: _parsing_network_from(
            "parsenet", path)))),
}


def build_parsing_network(network: str) -> Any:
    """facexlib's face parsing network with random weights, on the CPU, in eval mode."""
    if network == "bisenet":
        from facexlib.parsing.bisenet import BiSeNet

        return BiSeNet(num_class=19).eval()
    if network == "parsenet":
        from facexlib.parsing.parsenet import ParseNet

        return ParseNet(in_size=512, out_size=512, parsing_ch=19).eval()
    raise InputError(f"unknown face parsing network {network!r}; use "
                     f"{' or '.join(PARSING_SPECS)}")


def _parsing_network_from(network: str, path: Path) -> Any:
    """The face parsing ``network`` (a key of :data:`PARSING_SPECS`) built on torch's default
    device and loaded strictly from ``path``, in eval mode: what
    :meth:`FaceParser.load_networks` moves to its device, and what the import check runs on
    ``meta`` (:func:`~engines.weights.network_check`). Raises
    :class:`~engines.weights.WeightsCorruptError` for a file that is no state dict, and
    :class:`~engines.weights.CheckpointMismatchError` naming the tensors that differ."""
    spec = PARSING_SPECS[network]
    parser = build_parsing_network(network)
    state = weights.load_checkpoint(path, spec.format)
    if not isinstance(state, dict):  # fields: an installed file's checkpoint and path
        raise weights.checkpoint_error(path, f"{path.name} is not a state dict")
    load_strict(parser, state, spec.title, path, own=(spec.id,))
    return parser


@register_parser
class FaceParser(NeuralParser):
    """Face parts (skin, brows, eyes, nose, lips, hair...) of every face in a photo.

    Options (besides ``device`` and ``weights_path``, the parsing checkpoint):
        parsing: ``"bisenet"`` (default) or ``"parsenet"``.
        detector: ``"resnet50"`` (default) or ``"mobilenet"``.
        detector_path: the detector checkpoint file instead of the cached one.
        faces: a list of :class:`engines.faces.Face` to parse instead of detecting.
        min_score, detect_size, min_eye_distance: see :func:`engines.faces.detect_faces`.
    """

    name = "face"
    title = "Face parsing (BiSeNet or ParseNet)"
    loading = "loading the face networks"
    weights: ClassVar[tuple[str, ...]] = ("face-bisenet", "face-detection-resnet50")

    @property
    def label_set(self) -> LabelSet:
        return bundled_label_set("face_parsing19", "face19")

    def _network_name(self) -> str:
        network = self.options.get("parsing", "bisenet")
        if network not in PARSING_SPECS:
            raise InputError(f"unknown face parsing network {network!r}; use "
                             f"{' or '.join(PARSING_SPECS)}")
        return network

    def required_weights(self) -> tuple[str, ...]:
        parsing = PARSING_SPECS[self._network_name()].id
        if self.options.get("faces") is not None:
            return (parsing,)
        detector = face_geometry.detector_spec(self.options.get("detector", "resnet50")).id
        return parsing, detector

    def overridden_weights(self) -> set[str]:
        ids = self.required_weights()
        given = set()
        if self.options.get("weights_path"):
            given.add(ids[0])
        if len(ids) > 1 and self.options.get("detector_path"):
            given.add(ids[1])
        return given

    def checkpoint_path(self, weights_id: str) -> Path:
        if weights_id in self.overridden_weights():
            is_parsing = weights_id == self.required_weights()[0]
            return Path(self.options["weights_path" if is_parsing else "detector_path"])
        return weights.require(weights_id)

    def load_networks(self, device) -> tuple[Any, Any]:
        """(parsing network, detector or None) on ``device``."""
        ids = self.required_weights()
        parser = _parsing_network_from(self._network_name(), self.checkpoint_path(ids[0]))
        parser = parser.to(device).eval()
        detector = None
        if len(ids) > 1:
            detector = face_geometry.load_detector(self.options.get("detector", "resnet50"),
                                                   device, self.checkpoint_path(ids[1]))
        return parser, detector

    def map_note(self, labels: np.ndarray) -> str | None:
        """:data:`NO_FACE` when no face was found (every pixel is :data:`BACKGROUND`)."""
        return NO_FACE if (labels == BACKGROUND).all() else None

    def parse_crop(self, crop: np.ndarray, network: Any = None) -> np.ndarray:
        """Labels ``(512, 512)`` uint8 of an aligned ``(512, 512, 3)`` uint8 RGB face crop."""
        import torch

        if crop.shape != (face_geometry.FACE_SIZE, face_geometry.FACE_SIZE, 3):
            raise InputError(f"a face crop is 512x512 RGB, got shape {crop.shape}")
        device = self.device()
        if network is None:
            network = self.networks(device)[0]
        extra = PARSING_SPECS[self._network_name()].extra
        tensor = image_tensor(crop, device, tuple(255.0 * m for m in extra["mean"]),
                              tuple(255.0 * s for s in extra["std"]))
        with torch.no_grad():
            logits = network(tensor)[0]
        return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()

    def find_faces(self, image: np.ndarray, detector: Any = None) -> list[face_geometry.Face]:
        """The faces this parser would parse in ``image`` (the ``faces`` option, if given)."""
        given = self.options.get("faces")
        if given is not None:
            return list(given)
        if detector is None:
            detector = self.networks(self.device())[1]
        settings = {k: self.options[k] for k in ("min_score", "detect_size", "min_eye_distance")
                    if k in self.options}
        return face_geometry.detect_faces(image, network=detector, **settings)

    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        cancel = cancel or CancelToken()
        report = progress or (lambda fraction, text: None)
        (parser, detector), start = self.networks_with_progress(self.device(), report)
        cancel.raise_if_cancelled()
        report(start, "finding faces")
        found_at = start + (1 - start) * 0.2  # detection: a fifth of the rest of the parse
        with cancel_checks(cancel):  # the networks stop at their next layer once cancelled
            found = sorted(self.find_faces(image, detector), key=lambda f: f.area)
        labels = np.full(image.shape[:2], BACKGROUND, np.uint8)
        for index, face in enumerate(found):
            cancel.raise_if_cancelled()
            report(found_at + (1 - found_at) * index / len(found),
                   f"parsing face {index + 1} of {len(found)}")
            aligned = face_geometry.align_face(image, face.landmarks)
            with cancel_checks(cancel):
                crop_labels = self.parse_crop(aligned.crop, parser)
            labels = face_geometry.paste_labels_back(labels, crop_labels, aligned, BACKGROUND)
        report(1.0, f"{len(found)} face{'s' if len(found) != 1 else ''} parsed")
        return labels
