"""`inpaint --engine semantic --labels MAP`: a map of another label set than the model was
trained on is refused, naming both; one whose set is unknown (a grey PNG) is used."""

from __future__ import annotations

import numpy as np
import pytest

import cli
from engines import fileio
from engines.neural.semantic import SemanticInpaintNet, checkpoint_dict
from engines.neural.semantic_training import install, save_checkpoint, write_label_map
from engines.segmentation.labelmap import save_label_png
from engines.segmentation.labels import bundled_label_set


@pytest.fixture
def face_model(model_cache, tmp_path):
    """An untrained 19-class model installed as semantic-local, recorded as trained on face19."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    network = SemanticInpaintNet(19, channels=4, memory=4)
    path = tmp_path / "face.pt"
    save_checkpoint(path, checkpoint_dict(network, {"label_set": "face19", "step": 1}))
    install(path)


@pytest.fixture
def picture(tmp_path):
    image, mask = tmp_path / "p.png", tmp_path / "m.png"
    rgb = np.full((24, 24, 3), 120, np.uint8)
    hole = np.zeros((24, 24), np.uint8)
    hole[8:16, 8:16] = 255
    fileio.write_atomic(image, fileio.encode_image(rgb, ".png"))
    fileio.write_atomic(mask, fileio.encode_image(hole, ".png"))
    return image, mask


def _inpaint(picture, labels, output) -> list[str]:
    return ["inpaint", str(picture[0]), str(picture[1]), "-o", str(output), "--engine",
            "semantic", "--device", "cpu", "--labels", str(labels)]


def test_a_map_of_another_label_set_is_refused(face_model, picture, tmp_path, capsys):
    labels = tmp_path / "scene.png"
    save_label_png(labels, np.ones((24, 24), np.uint8), bundled_label_set("cocostuff182",
                                                                          "cocostuff182"))
    output = tmp_path / "out.png"
    assert cli.main(_inpaint(picture, labels, output)) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "'cocostuff182'" in err and "'face19'" in err
    assert not output.exists()


@pytest.mark.parametrize("kind", ["face19", "unnamed"])
def test_a_map_of_the_same_or_an_unknown_set_is_used(face_model, picture, tmp_path, kind):
    labels = tmp_path / "labels.png"
    ids = np.ones((24, 24), np.uint8)
    if kind == "unnamed":
        write_label_map(labels, ids)  # a grey PNG of ids names no label set
    else:
        save_label_png(labels, ids, bundled_label_set("face_parsing19", "face19"))
    output = tmp_path / "out.png"
    assert cli.main(_inpaint(picture, labels, output)) == 0
    assert output.is_file()


@pytest.mark.parametrize("recorded, refused", [("custom", False), ("face19", True)])
def test_only_a_named_training_set_is_compared(tmp_path, recorded, refused):
    from engines import registry
    from engines.base import InputError

    path = tmp_path / "model.pt"
    network = SemanticInpaintNet(19, channels=4, memory=4)
    save_checkpoint(path, checkpoint_dict(network, {"label_set": recorded, "step": 1}))
    engine = registry.create("semantic", weights_path=str(path))
    engine.check_label_set(recorded)
    engine.check_label_set(None)
    if refused:
        with pytest.raises(InputError, match=r"'ade150'.*'face19'"):
            engine.check_label_set("ade150")
    else:
        engine.check_label_set("ade150")


def test_the_editor_s_request_carries_its_label_set_and_the_engine_refuses_another(
        face_model):
    """The editor's fills reach the same check: the document's request names the set of its
    label map, and the semantic engine refuses a request of another set before any work."""
    from app.document import Document, Layer
    from engines import registry
    from engines.base import InputError

    document = Document(np.full((24, 24, 3), 120, np.uint8))
    document.begin_step("Mask brush")
    document.paint_segment(Layer.MASK, (12, 12), (12, 12), 4, 255)
    document.end_step()
    assert document.build_request().label_set is None  # no map, no set
    document.replace_label_map(np.ones((24, 24), np.uint8), "cocostuff182", "Map")
    request = document.build_request(device="cpu")
    assert request.label_set == "cocostuff182"
    engine = registry.create("semantic")
    with pytest.raises(InputError, match=r"'cocostuff182'.*'face19'"):
        next(engine.run(request))
    document.replace_label_map(np.ones((24, 24), np.uint8), "face19", "Map")
    stages = list(engine.run(document.build_request(device="cpu")))
    assert stages[-1].final


def test_a_label_edit_is_not_given_to_a_model_of_another_set(face_model):
    """After a label edit the editor picks an engine that follows labels: the semantic
    model first, but not for a map of another set than it was trained on, which it would
    refuse."""
    from app.semantic import engine_for_labels

    assert engine_for_labels("telea", "face19") == "semantic"
    assert engine_for_labels("telea", None) == "semantic"  # unknown set: not refused
    assert engine_for_labels("telea", "cocostuff182") == "patchmatch"
    assert engine_for_labels("semantic", "cocostuff182") == "patchmatch"
