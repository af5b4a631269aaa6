"""Face geometry: alignment to the template, paste-back of pixels and labels, detection
post-processing, and the RetinaFace checkpoint loading through the model cache."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import download, faces, weights
from engines.base import InputError
from engines.faces import Face

HEIGHT, WIDTH = 420, 560


def similarity(scale: float, degrees: float, tx: float, ty: float) -> np.ndarray:
    """``(2, 3)`` matrix of x -> scale * R(degrees) x + t."""
    angle = math.radians(degrees)
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def apply(matrix: np.ndarray, points) -> np.ndarray:
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


# crop -> image: the face occupies a rotated, shrunken square of the photo
CROP_TO_IMAGE = similarity(0.55, 17.0, 190.0, 40.0)


def smooth_image() -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    image = np.stack([128 + 90 * np.sin(x / 41.0), 128 + 90 * np.cos(y / 33.0),
                      (x + y) / (HEIGHT + WIDTH) * 255], axis=-1)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def face_landmarks(crop_to_image: np.ndarray = CROP_TO_IMAGE) -> np.ndarray:
    return apply(crop_to_image, faces.face_template()).astype(np.float32)


def centroid(weights_map: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(weights_map)
    w = weights_map[ys, xs].astype(np.float64)
    return np.array([np.sum(xs * w) / w.sum(), np.sum(ys * w) / w.sum()])


def test_template_is_facexlibs_512_template_scaled():
    np.testing.assert_allclose(faces.face_template(512)[0], [192.98138, 239.94708])
    np.testing.assert_allclose(faces.face_template(256), faces.face_template(512) / 2)


def test_alignment_recovers_a_known_similarity_transform():
    matrix = faces.alignment_matrix(face_landmarks())  # float32 landmarks: 1e-4 px
    expected = np.linalg.inv(np.vstack([CROP_TO_IMAGE, [0, 0, 1]]))[:2]
    np.testing.assert_allclose(matrix, expected, atol=1e-4)
    aligned = faces.align_face(smooth_image(), face_landmarks())
    np.testing.assert_allclose(aligned.inverse, CROP_TO_IMAGE, atol=1e-4)
    np.testing.assert_allclose(aligned.to_crop(aligned.to_image([[10, 20], [300, 400]])),
                               [[10, 20], [300, 400]], atol=1e-9)


def test_degenerate_landmarks_are_refused():
    with pytest.raises(InputError, match="degenerate"):
        faces.alignment_matrix(np.full((5, 2), 50.0))


def test_crop_shows_the_face_where_the_transform_puts_it():
    image = smooth_image()
    dot = np.array([300.0, 150.0])
    image[149:152, 299:302] = 255
    aligned = faces.align_face(image, face_landmarks())
    assert aligned.crop.shape == (512, 512, 3) and aligned.crop.dtype == np.uint8
    bright = np.where(aligned.crop.min(axis=2) > 250, 1.0, 0.0)
    np.testing.assert_allclose(centroid(bright), apply(aligned.matrix, dot)[0], atol=1.0)


def test_crop_outside_the_image_is_facexlibs_grey():
    aligned = faces.align_face(smooth_image(), face_landmarks(similarity(0.55, 0, -150, -150)))
    assert tuple(aligned.crop[0, 0]) == faces.BORDER_FILL


def test_align_then_paste_back_is_the_identity_within_one_pixel():
    image = smooth_image()
    aligned = faces.align_face(image, face_landmarks())
    pasted = faces.paste_back(image, aligned.crop, aligned)
    weight = faces.paste_mask(aligned)
    assert np.array_equal(pasted[weight == 0], image[weight == 0])
    core = weight > 0.99
    assert core.sum() > 20000
    difference = np.abs(pasted.astype(int) - image.astype(int))
    assert difference[core].max() <= 4  # two bilinear resamplings of a smooth picture
    assert difference.mean() < 0.5


def test_an_edit_in_the_crop_lands_at_the_inverse_position():
    image = smooth_image()
    aligned = faces.align_face(image, face_landmarks())
    edited = aligned.crop.copy()
    spot = np.array([260.0, 300.0])
    edited[296:305, 256:265] = (255, 0, 255)
    pasted = faces.paste_back(image, edited, aligned)
    changed = np.abs(pasted.astype(int) - image.astype(int)).sum(axis=2) > 60
    np.testing.assert_allclose(centroid(changed.astype(float)), apply(CROP_TO_IMAGE, spot)[0],
                               atol=1.0)


def test_paste_back_with_a_mask_changes_nothing_outside_it():
    image = smooth_image()
    aligned = faces.align_face(image, face_landmarks())
    edited = np.full_like(aligned.crop, 255)
    mask = np.zeros((512, 512), np.uint8)
    mask[200:320, 180:330] = 255
    pasted = faces.paste_back(image, edited, aligned, mask=mask)
    inside = faces.warp_to_image(mask, aligned) > 0
    assert np.array_equal(pasted[~inside], image[~inside])
    core = faces.warp_to_image(mask.astype(np.float32) / 255, aligned) > 0.999
    assert core.sum() > 3000 and (pasted[core] == 255).all()


def test_paste_back_checks_sizes():
    image = smooth_image()
    aligned = faces.align_face(image, face_landmarks())
    with pytest.raises(InputError):
        faces.paste_back(image[:100], aligned.crop, aligned)
    with pytest.raises(InputError):
        faces.paste_back(image, aligned.crop[:256], aligned)


def square_labels(label: int, box=(200, 300, 220, 320)) -> np.ndarray:
    """A 512x512 crop label map: ``label`` in rows y0:y1, columns x0:x1, background 0."""
    y0, y1, x0, x1 = box
    crop = np.zeros((512, 512), np.uint8)
    crop[y0:y1, x0:x1] = label
    return crop


def crop_coordinates(crop_to_image: np.ndarray) -> np.ndarray:
    """For every image pixel, its position in the crop: ``(H, W, 2)``."""
    image_to_crop = np.linalg.inv(np.vstack([crop_to_image, [0, 0, 1]]))[:2]
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return apply(image_to_crop, points).reshape(HEIGHT, WIDTH, 2)


def inside_box(coords: np.ndarray, box, margin: float) -> np.ndarray:
    y0, y1, x0, x1 = box  # pixel centres x0 .. x1 - 1
    x, y = coords[..., 0], coords[..., 1]
    return (x >= x0 - 0.5 + margin) & (x <= x1 - 0.5 - margin) & \
        (y >= y0 - 0.5 + margin) & (y <= y1 - 0.5 - margin)


def test_labels_of_a_crop_land_on_the_transformed_square():
    image = smooth_image()
    aligned = faces.align_face(image, face_landmarks())
    box = (200, 300, 220, 320)
    pasted = faces.paste_labels_back(np.full((HEIGHT, WIDTH), 255, np.uint8),
                                     square_labels(7, box), aligned)
    coords = crop_coordinates(CROP_TO_IMAGE)
    # one crop pixel is 0.55 image pixels: allow one crop pixel either way at the edge
    assert (pasted[inside_box(coords, box, margin=1.0)] == 7).all()
    assert not (pasted[~inside_box(coords, box, margin=-1.0)] == 7).any()
    covered = faces.warp_to_image(np.ones((512, 512), np.uint8), aligned, nearest=True) > 0
    assert (pasted[~covered] == 255).all()
    assert set(np.unique(pasted[covered]).tolist()) == {0, 7}


def test_several_faces_keep_their_parts():
    image = smooth_image()
    left = similarity(0.3, -10.0, 40.0, 60.0)
    right = similarity(0.3, 12.0, 300.0, 90.0)
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    for crop_to_image, label in ((left, 4), (right, 9)):
        aligned = faces.align_face(image, face_landmarks(crop_to_image))
        labels = faces.paste_labels_back(labels, square_labels(label), aligned)
    for crop_to_image, label in ((left, 4), (right, 9)):
        inside = inside_box(crop_coordinates(crop_to_image), (200, 300, 220, 320), 2.0)
        assert (labels[inside] == label).all()
    assert set(np.unique(labels)) == {0, 4, 9}


def test_a_later_faces_background_does_not_erase_an_earlier_face():
    image = smooth_image()
    first = faces.align_face(image, face_landmarks(similarity(0.5, 0.0, 100.0, 50.0)))
    second = faces.align_face(image, face_landmarks(similarity(0.5, 0.0, 160.0, 50.0)))
    labels = faces.paste_labels_back(np.zeros((HEIGHT, WIDTH), np.uint8), square_labels(3),
                                     first)
    before = labels == 3
    labels = faces.paste_labels_back(labels, np.zeros((512, 512), np.uint8), second)
    assert np.array_equal(labels == 3, before)
    overwritten = faces.paste_labels_back(labels, np.zeros((512, 512), np.uint8), second,
                                          background=None)
    assert (overwritten == 3).sum() < before.sum()


class StubDetector:
    """Stands in for RetinaFace: records its input and answers fixed rows
    ``(x0, y0, x1, y1, score, 5 landmark points)`` in the coordinates of that input."""

    def __init__(self, rows):
        self.rows = np.array(rows, np.float32)
        self.seen = None
        self.threshold = None

    def detect_faces(self, image, conf_threshold=0.8):
        self.seen = image
        self.threshold = conf_threshold
        return self.rows


def test_detect_faces_scales_back_filters_and_sorts():
    image = smooth_image()  # shorter side 420: detection runs at 640 x 853
    eyes_apart = [10, 10, 40, 10, 25, 20, 15, 30, 35, 30]
    eyes_close = [10, 10, 12, 10, 25, 20, 15, 30, 35, 30]
    stub = StubDetector([[64, 128, 192, 320, 0.98, *eyes_apart],
                         [0, 0, 64, 64, 0.99, *eyes_close],
                         [320, 64, 448, 256, 0.995, *eyes_apart]])
    found = faces.detect_faces(image, network=stub, min_score=0.9, min_eye_distance=5.0)
    assert stub.seen.shape == (640, 853, 3) and stub.threshold == 0.9
    expected_first_pixel = image[0, 0, ::-1]  # the detector gets BGR
    assert np.abs(stub.seen[0, 0].astype(int) - expected_first_pixel.astype(int)).max() <= 3
    assert [f.score for f in found] == pytest.approx([0.995, 0.98])  # close-eyed face dropped
    sx, sy = WIDTH / 853, HEIGHT / 640
    np.testing.assert_allclose(found[1].box, (64 * sx, 128 * sy, 192 * sx, 320 * sy), rtol=1e-5)
    np.testing.assert_allclose(found[1].landmarks[0], (10 * sx, 10 * sy), rtol=1e-5)
    assert found[1].landmarks.shape == (5, 2)


def test_detect_faces_at_original_size():
    stub = StubDetector(np.zeros((0, 15)))
    assert faces.detect_faces(smooth_image(), network=stub, detect_size=None) == []
    assert stub.seen.shape == (HEIGHT, WIDTH, 3)


def test_pick_face():
    small = Face((0, 0, 50, 50), np.zeros((5, 2), np.float32), 0.99)
    large = Face((100, 100, 300, 300), np.zeros((5, 2), np.float32), 0.98)
    assert faces.pick_face([small, large]) is large
    assert faces.pick_face([small, large], (20, 30)) is small
    assert faces.pick_face([small, large], (80, 80)) is None
    assert faces.pick_face([]) is None


def retinaface_state(name: str) -> dict:
    from facexlib.detection.retinaface import RetinaFace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = RetinaFace(network_name=name, device=torch.device("cpu"))
    return network.state_dict()


def test_upstream_retinaface_checkpoint_loads_through_the_cache(model_cache):
    # the released files were saved from DataParallel: every key starts with "module."
    state = {f"module.{k}": v for k, v in retinaface_state("mobile0.25").items()}
    path = weights.local_path("face-detection-mobilenet")
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    network = faces.load_detector("mobilenet", "cpu")
    loaded = network.state_dict()
    assert all(torch.equal(loaded[k.removeprefix("module.")], v) for k, v in state.items())
    found = faces.detect_faces(smooth_image()[:96, :128], network=network, min_score=0.5,
                               detect_size=None)
    for face in found:
        assert face.landmarks.shape == (5, 2) and np.isfinite(face.landmarks).all()
        assert 0.5 <= face.score <= 1.0


def test_a_detection_keeps_the_fill_network_loaded_and_does_not_wait_for_its_load(
        model_cache):
    import threading

    from engines.device import DETECTOR_SLOT, MODEL_SLOT

    path = weights.local_path("face-detection-mobilenet")
    path.parent.mkdir(parents=True)
    torch.save({f"module.{k}": v for k, v in retinaface_state("mobile0.25").items()}, path)
    fill_network = torch.nn.Conv2d(3, 3, 1)
    MODEL_SLOT.get(("LamaEngine", "fill"), lambda: fill_network)
    try:
        faces.detect_faces(smooth_image()[:96, :128], "mobilenet", device="cpu")
        assert MODEL_SLOT.key == ("LamaEngine", "fill")  # still loaded: no reload next run
        assert DETECTOR_SLOT.key[0] == "face-detector-mobilenet"
        # a detection while a fill's network is loading does not wait for that load
        loading, release = threading.Event(), threading.Event()

        def slow_load():
            loading.set()
            release.wait(30)
            return torch.nn.Conv2d(3, 3, 1)

        loader = threading.Thread(target=MODEL_SLOT.get, args=(("LamaEngine", "other"),
                                                                slow_load))
        loader.start()
        assert loading.wait(30)
        try:
            faces.detect_faces(smooth_image()[:96, :128], "mobilenet", device="cpu")
            assert loader.is_alive()  # detected while the load was still going on
        finally:
            release.set()
            loader.join(30)
    finally:
        MODEL_SLOT.clear()
        DETECTOR_SLOT.clear()


def test_a_wrong_detector_checkpoint_is_refused(model_cache):
    state = retinaface_state("mobile0.25")
    state.pop(next(iter(state)))
    path = weights.local_path("face-detection-mobilenet")
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    with pytest.raises(weights.WeightsCorruptError, match="1 tensors missing"):
        faces.load_detector("mobilenet", "cpu")


def layout_only(name: str) -> dict:
    """RetinaFace ``name``'s tensor names, shapes and dtypes as facexlib releases them
    (``module.`` prefixed), each a view of one zero: a file of a few kB."""
    from facexlib.detection.retinaface import RetinaFace

    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = RetinaFace(network_name=name, device=torch.device("meta"))
    return {f"module.{k}": torch.zeros((), dtype=v.dtype).expand(v.shape)
            for k, v in network.state_dict().items()}


def test_detector_import_accepts_the_upstream_layout_and_checks_its_tensors(model_cache,
                                                                            tmp_path):
    """The released MobileNet file (``module.`` keys, real size) is imported; a file
    missing a tensor is refused, naming it, and the installed one is kept."""
    good = tmp_path / "detection_mobilenet0.25_Final.pth"
    torch.save({f"module.{k}": v for k, v in retinaface_state("mobile0.25").items()}, good)
    state = torch.load(good, weights_only=True)
    del state["module.LandmarkHead.2.conv1x1.bias"]
    lacking = tmp_path / "lacking.pth"
    torch.save(state, lacking)

    installed = download.import_file("face-detection-mobilenet", good)
    assert installed.read_bytes() == good.read_bytes()
    assert "tensors" in weights.read_manifest("face-detection-mobilenet")["checked"]
    with pytest.raises(weights.CheckpointMismatchError) as refused:
        download.import_file("face-detection-mobilenet", lacking)

    assert str(refused.value) == (
        "lacking.pth is not the RetinaFace MobileNet-0.25 face detector checkpoint: it does "
        "not fit the RetinaFace MobileNet-0.25 face detector network (1 tensors missing "
        "(e.g. LandmarkHead.2.conv1x1.bias))")
    assert installed.read_bytes() == good.read_bytes()
    assert "opens, fits its network" in weights.verify("face-detection-mobilenet", deep=True)


@pytest.mark.parametrize("detector, name", [("mobilenet", "mobile0.25"),
                                            ("resnet50", "resnet50")])
def test_detector_check_refuses_a_wrong_shape_and_another_networks_keys(tmp_path, detector,
                                                                        name):
    spec = faces.detector_spec(detector)
    right = tmp_path / "right.pth"
    torch.save(layout_only(name), right)
    reshaped = layout_only(name)
    reshaped["module.fpn.output1.0.weight"] = torch.zeros(()).expand(8, 8, 1, 1)
    torch.save(reshaped, tmp_path / "reshaped.pth")
    other = "resnet50" if name == "mobile0.25" else "mobile0.25"
    torch.save(layout_only(other), tmp_path / "other.pth")
    bisenet = {line.split("\t")[0]: torch.zeros(1) for line in
               (Path(__file__).parent / "face_bisenet_facexlib.tsv").read_text().splitlines()}
    torch.save(bisenet, tmp_path / "bisenet.pth")

    weights.check_checkpoint_file(spec, right)  # the upstream layout fits
    expected = {"reshaped.pth": r"\(1 tensors of another shape \(e\.g\. "
                                r"fpn\.output1\.0\.weight\)\)",
                "other.pth": r"tensors missing .* tensors unexpected",
                "bisenet.pth": r"\(\d+ tensors missing \(e\.g\. body\..*\d+ tensors unexpected "
                               r"\(e\.g\. cp\."}
    for file, differences in expected.items():
        with pytest.raises(weights.CheckpointMismatchError,
                           match=rf"^{re.escape(file)} is not the {re.escape(spec.title)} "
                                 rf"checkpoint: it does not fit the {re.escape(spec.title)} "
                                 rf"network .*{differences}"):
            weights.check_checkpoint_file(spec, tmp_path / file)


def test_missing_detector_weights_say_how_to_get_them(model_cache):
    with pytest.raises(weights.WeightsMissingError, match="models download"):
        faces.detect_faces(smooth_image(), "mobilenet")
