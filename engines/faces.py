"""Face geometry: detection, alignment to a square crop, and pasting results back.

Detection is facexlib's RetinaFace (ResNet-50 or MobileNet-0.25) on weights from our model
cache; alignment and paste-back follow facexlib's ``FaceRestoreHelper``: a similarity
transform (``cv2.estimateAffinePartial2D``, LMEDS) maps the five landmarks onto the FFHQ
5-point template of a 512x512 crop (scaled for other sizes), ``cv2.warpAffine`` cuts the crop,
and the inverse transform brings a result back with an eroded, blurred square mask.

Conventions: images are ``(H, W, 3)`` uint8 RGB; points are ``(x, y)`` pixels with OpenCV's
convention (pixel ``(i, j)`` is centred on ``x = j, y = i``); landmarks are ``(5, 2)`` float in
facexlib's order: the eye on the image's left, the other eye, nose tip, the mouth corner on the
image's left, the other mouth corner. Label maps are ``(H, W)`` uint8, 255 = unlabelled.
Qt-free.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engines import weights
from engines.base import UNLABELLED, InputError
from engines.device import DETECTOR_SLOT, pick_device, slot_key
from engines.weights import WeightSpec, network_check, register_spec

FACE_SIZE = 512
# facexlib FaceRestoreHelper: the standard 5 landmarks of FFHQ faces in a 512x512 crop
FACE_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.1936],
                              [256.63416, 314.01935], [201.26117, 371.41043],
                              [313.08905, 371.15118]], np.float64)
BORDER_FILL = (132, 133, 135)  # RGB of facexlib's grey outside the image ((135, 133, 132) BGR)
BORDER_MODES = {"constant": cv2.BORDER_CONSTANT, "reflect101": cv2.BORDER_REFLECT101,
                "reflect": cv2.BORDER_REFLECT}

_FACEXLIB = "https://github.com/xinntao/facexlib"
_RELEASES = _FACEXLIB + "/releases/download"
DETECTION_SPECS = {
    "resnet50": register_spec(WeightSpec(
        id="face-detection-resnet50", engine="face", title="RetinaFace ResNet-50 face detector",
        filename="detection_Resnet50_Final.pth",
        urls=(f"{_RELEASES}/v0.1.0/detection_Resnet50_Final.pth",),
        size=109_500_000, license="MIT", homepage=_FACEXLIB, format="state_dict",
        contract="BGR float 0-255 minus mean (104, 117, 123); boxes, scores and 5 landmarks; "
                 "keys prefixed 'module.' (stripped on load)",
        extra={"network": "resnet50"},
        check_contents=network_check(lambda path, device: _detector_from(
            DETECTION_SPECS["resnet50"], path, device)))),
    "mobilenet": register_spec(WeightSpec(
        id="face-detection-mobilenet", engine="face",
        title="RetinaFace MobileNet-0.25 face detector",
        filename="detection_mobilenet0.25_Final.pth",
        urls=(f"{_RELEASES}/v0.1.0/detection_mobilenet0.25_Final.pth",),
        size=1_790_000, license="MIT", homepage=_FACEXLIB, format="state_dict",
        contract="BGR float 0-255 minus mean (104, 117, 123); boxes, scores and 5 landmarks; "
                 "keys prefixed 'module.' (stripped on load)",
        extra={"network": "mobile0.25"},
        check_contents=network_check(lambda path, device: _detector_from(
            DETECTION_SPECS["mobilenet"], path, device)))),
}


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in image pixels.
        landmarks: ``(5, 2)`` float32 points (see the module docstring for the order).
        score: detector confidence in ``[0, 1]``.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[0] - self.landmarks[1]))

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """A face cut out of an image and aligned to the template.

    Attributes:
        crop: ``(size, size, 3)`` uint8 RGB.
        matrix: ``(2, 3)`` float64 affine map from image to crop coordinates.
        inverse: ``(2, 3)`` float64 affine map from crop to image coordinates.
        image_shape: ``(H, W)`` of the image the crop came from.
    """

    crop: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    image_shape: tuple[int, int]

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` image points mapped into the crop."""
        return _apply(self.matrix, points)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` crop points mapped into the image."""
        return _apply(self.inverse, points)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


# --- detection ----------------------------------------------------------------------------


def detector_spec(detector: str) -> WeightSpec:
    """The checkpoint of a detector name (``"resnet50"`` or ``"mobilenet"``)."""
    try:
        return DETECTION_SPECS[detector]
    except KeyError:
        raise InputError(f"unknown face detector {detector!r}; use "
                         f"{' or '.join(DETECTION_SPECS)}") from None


def load_detector(detector: str = "resnet50", device: Any = "cpu",
                  path: str | Path | None = None) -> Any:
    """facexlib's RetinaFace with our cached (or the given) checkpoint, in eval mode.

    The upstream files were saved from ``DataParallel``: a ``module.`` prefix is stripped.
    Raises :class:`~engines.weights.WeightsMissingError` or
    :class:`~engines.weights.WeightsCorruptError`.
    """
    spec = detector_spec(detector)
    path = Path(path) if path else weights.require(spec.id)
    device = pick_device(device) if isinstance(device, str) else device
    return _detector_from(spec, path, device)


def _detector_from(spec: WeightSpec, path: Path, device: Any) -> Any:
    """facexlib's RetinaFace of ``spec`` built on ``device`` (a torch device) and loaded
    strictly from ``path``, a ``module.`` prefix stripped, in eval mode: what
    :func:`load_detector` returns, and what the import check runs on ``meta``
    (:func:`~engines.weights.network_check`: no memory for the weights; facexlib's
    constructor only builds modules and a mean tensor on ``device``). A mismatch raises
    :class:`~engines.weights.CheckpointMismatchError` naming the tensors that differ."""
    from facexlib.detection.retinaface import RetinaFace

    from engines.segmentation.neural import load_strict

    state = weights.load_checkpoint(path, spec.format)
    if not isinstance(state, dict):  # fields: an installed file's checkpoint and path
        raise weights.checkpoint_error(path, f"{path.name} is not a {spec.title} state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    with warnings.catch_warnings():  # torchvision's "pretrained is deprecated"
        warnings.simplefilter("ignore")
        network = RetinaFace(network_name=spec.extra["network"], half=False, device=device)
    load_strict(network, state, spec.title, path, own=(spec.id,))
    return network.to(device).eval()


def detect_faces(image: np.ndarray, detector: str = "resnet50", *, min_score: float = 0.97,
                 detect_size: int | None = 640, min_eye_distance: float = 5.0,
                 device: str = "auto", network: Any = None) -> list[Face]:
    """Faces in ``image`` (``(H, W, 3)`` uint8 RGB), most confident first.

    As facexlib's ``FaceRestoreHelper.get_face_landmarks_5`` (with GFPGAN's settings): the
    image is resized so its shorter side is ``detect_size`` (``None``: original size), faces
    scoring below ``min_score`` or with eyes closer than ``min_eye_distance`` pixels are
    dropped. ``network`` is a loaded RetinaFace (see :func:`load_detector`); by default the
    detector is loaded once and kept in its own slot (:data:`engines.device.DETECTOR_SLOT`,
    beside the fill's network, which a detection leaves loaded), and loaded again after its
    file is replaced.
    """
    import torch

    check_image(image)
    if network is None:
        torch_device = pick_device(device)
        path = weights.require(detector_spec(detector).id)
        key = slot_key(f"face-detector-{detector}", [path], torch_device)
        network = DETECTOR_SLOT.get(key, lambda: load_detector(detector, torch_device, path))
    height, width = image.shape[:2]
    work = image
    if detect_size:
        factor = detect_size / min(height, width)
        size = (max(1, int(width * factor)), max(1, int(height * factor)))
        if size != (width, height):
            work = cv2.resize(image, size, interpolation=cv2.INTER_LANCZOS4)
    scale = np.array([width / work.shape[1], height / work.shape[0]])
    bgr = np.ascontiguousarray(work[..., ::-1])
    with torch.no_grad():
        rows = np.asarray(network.detect_faces(bgr, conf_threshold=min_score), np.float64)
    faces = []
    for row in rows.reshape(-1, 15):
        box = row[:4].reshape(2, 2) * scale
        landmarks = (row[5:15].reshape(5, 2) * scale).astype(np.float32)
        face = Face(tuple(float(v) for v in box.ravel()), landmarks, float(row[4]))
        if face.eye_distance >= min_eye_distance:
            faces.append(face)
    faces.sort(key=lambda f: -f.score)
    return faces


def pick_face(faces: list[Face], point: tuple[float, float] | None = None) -> Face | None:
    """The face whose box holds ``point`` (the nearest centre among several), or the largest
    face when ``point`` is None; None if there is no such face."""
    if point is None:
        return max(faces, key=lambda f: f.area, default=None)
    x, y = point
    hits = [f for f in faces if f.box[0] <= x <= f.box[2] and f.box[1] <= y <= f.box[3]]
    return min(hits, key=lambda f: (f.centre[0] - x) ** 2 + (f.centre[1] - y) ** 2,
               default=None)


# --- alignment ----------------------------------------------------------------------------


def face_template(size: int = FACE_SIZE) -> np.ndarray:
    """``(5, 2)`` float64 template landmarks of a ``size`` x ``size`` crop."""
    return FACE_TEMPLATE_512 * (size / FACE_SIZE)


def alignment_matrix(landmarks: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """``(2, 3)`` float64 similarity transform taking ``landmarks`` onto the template
    (rotation, uniform scale, translation; LMEDS, as facexlib)."""
    points = np.asarray(landmarks, np.float64).reshape(5, 2)
    if not np.isfinite(points).all():
        raise InputError("the face landmarks are not finite numbers")
    matrix, _ = cv2.estimateAffinePartial2D(points, face_template(size), method=cv2.LMEDS)
    if matrix is None or not np.isfinite(matrix).all() or abs(np.linalg.det(matrix[:, :2])) < 1e-12:
        raise InputError("cannot align this face: its landmarks are degenerate")
    return matrix.astype(np.float64)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = FACE_SIZE,
               border: str = "constant") -> AlignedFace:
    """Cut the face with ``landmarks`` out of ``image`` as an aligned ``size`` crop.

    Bilinear resampling; outside the image the crop is facexlib's grey (``border=
    "constant"``) or a mirror of the image (``"reflect101"``, ``"reflect"``).
    """
    check_image(image)
    if border not in BORDER_MODES:
        raise InputError(f"unknown border {border!r}; use {', '.join(BORDER_MODES)}")
    matrix = alignment_matrix(landmarks, size)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=BORDER_MODES[border], borderValue=BORDER_FILL)
    inverse = cv2.invertAffineTransform(matrix).astype(np.float64)
    return AlignedFace(crop, matrix, inverse, (int(image.shape[0]), int(image.shape[1])))


def warp_to_crop(array: np.ndarray, aligned: AlignedFace, nearest: bool = False,
                 fill: int | tuple[int, ...] = 0) -> np.ndarray:
    """An image-sized array (image, mask, labels) resampled into the crop's frame.

    ``nearest`` for label maps; ``fill`` outside the image.
    """
    _check_size(array, aligned.image_shape, "array")
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(array, aligned.matrix, (aligned.size, aligned.size), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def warp_to_image(array: np.ndarray, aligned: AlignedFace, nearest: bool = False,
                  fill: int | tuple[int, ...] = 0) -> np.ndarray:
    """A crop-sized array resampled into the image's frame (``fill`` outside the crop)."""
    _check_size(array, (aligned.size, aligned.size), "crop array")
    height, width = aligned.image_shape
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(array, aligned.inverse, (width, height), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


# --- paste-back ---------------------------------------------------------------------------


def crop_footprint(aligned: AlignedFace) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1]: where the crop covers the image, eroded by one pixel
    so the crop's resampled edge never shows (facexlib's ``inv_mask_erosion``)."""
    ones = np.ones((aligned.size, aligned.size), np.float32)
    footprint = warp_to_image(ones, aligned)
    return cv2.erode(footprint, np.ones((2, 2), np.uint8))


def paste_mask(aligned: AlignedFace, mask: np.ndarray | None = None) -> np.ndarray:
    """``(H, W)`` float32 blend weights in [0, 1] for pasting a crop back.

    Without ``mask``: facexlib's soft square: the footprint eroded by ``2 * edge`` and blurred
    over ``2 * edge + 1`` pixels, ``edge = sqrt(footprint area) // 20``. With ``mask``
    (``(size, size)`` uint8 in the crop, 255 = take the crop's pixel): that mask warped into
    the image (bilinear, so its edge is one pixel soft), inside the footprint.
    """
    footprint = crop_footprint(aligned)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.uint8:
            raise InputError(f"the paste mask must be uint8, got {mask.dtype}")
        warped = warp_to_image(mask.astype(np.float32) / 255.0, aligned)
        return np.clip(warped, 0.0, 1.0) * footprint
    edge = int(float(footprint.sum()) ** 0.5) // 20
    if edge < 1:
        return footprint
    core = cv2.erode(footprint, np.ones((2 * edge, 2 * edge), np.uint8))
    soft = cv2.GaussianBlur(core, (2 * edge + 1, 2 * edge + 1), 0)
    return soft * footprint


def paste_back(image: np.ndarray, crop: np.ndarray, aligned: AlignedFace,
               mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` with ``crop`` (an edited ``aligned.crop``) blended back in place.

    The crop is warped back with the inverse transform (bilinear) and blended with
    :func:`paste_mask` weights; pixels whose weight is 0 (everything outside the face crop,
    and outside ``mask`` when given) keep their exact values. Returns a new array.
    """
    check_image(image)
    _check_size(image, aligned.image_shape, "image")
    crop = np.asarray(crop)
    if crop.shape != (aligned.size, aligned.size, 3) or crop.dtype != np.uint8:
        raise InputError(f"the face crop must be ({aligned.size}, {aligned.size}, 3) uint8, "
                         f"got {crop.dtype} of shape {crop.shape}")
    weight = paste_mask(aligned, mask)
    warped = warp_to_image(crop, aligned).astype(np.float32)
    alpha = weight[..., None]
    blended = alpha * warped + (1.0 - alpha) * image.astype(np.float32)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return np.where(alpha > 0, blended, image)


def paste_labels_back(label_map: np.ndarray, crop_labels: np.ndarray, aligned: AlignedFace,
                      background: int | None = 0) -> np.ndarray:
    """``label_map`` with a crop's labels written back in place (nearest neighbour).

    Inside the crop's footprint, a crop label overwrites the map unless it is ``255``
    (unlabelled) or it is ``background`` while the map already holds another class there: a
    face's own parts win over its neighbour's background, so several faces can be pasted in
    turn (paste the nearest, usually largest, face last). Returns a new array.
    """
    label_map = np.asarray(label_map)
    crop_labels = np.asarray(crop_labels)
    if label_map.dtype != np.uint8 or crop_labels.dtype != np.uint8:
        raise InputError("label maps must be uint8")
    _check_size(label_map, aligned.image_shape, "label map")
    warped = warp_to_image(crop_labels, aligned, nearest=True, fill=UNLABELLED)
    write = warped != UNLABELLED
    if background is not None:
        write &= (warped != background) | (label_map == UNLABELLED) | (label_map == background)
    return np.where(write, warped, label_map)


def check_image(image: np.ndarray) -> None:
    """Raise :class:`InputError` unless ``image`` is ``(H, W, 3)`` uint8 RGB."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"the image must be (H, W, 3) uint8 RGB, got {dtype} of shape {shape}")


def _check_size(array: np.ndarray, shape: tuple[int, int], what: str) -> None:
    if tuple(array.shape[:2]) != tuple(shape):
        raise InputError(f"the {what} is {array.shape[1]}x{array.shape[0]} but should be "
                         f"{shape[1]}x{shape[0]}")
