"""`inpaint --sketch/--labels/--include/--exclude/--exemplar`: guidance files steer the fill."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import main
from engines.fileio import load_image, save_image, save_mask


def _noisy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _inpaint(folder, image, mask, *extra) -> tuple[int, np.ndarray | None]:
    """Write the picture and mask, run the CLI with Guided PatchMatch (or the ``--engine``
    among ``extra``: an option is given once); (exit code, result)."""
    save_image(folder / "photo.png", image, overwrite=True)
    save_mask(folder / "mask.png", mask, overwrite=True)
    out = folder / "out.png"
    engine = [] if "--engine" in extra else ["--engine", "patchmatch"]
    code = main.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"),
                      "-o", str(out), *engine, "--overwrite", *[str(a) for a in extra]])
    return code, load_image(out).rgb if code == 0 else None


def _halves(left, right, height=64, width=96) -> np.ndarray:
    image = np.zeros((height, width, 3), np.float64)
    image[:, :width // 2] = left
    image[:, width // 2:] = right
    return _noisy(image, 4.0, 1)


def test_labels_file_moves_the_fill_to_the_labelled_region(tmp_path):
    image = _halves((220, 30, 30), (30, 30, 220))
    mask = np.zeros((64, 96), np.uint8)
    mask[22:42, 12:32] = 255  # inside the red half
    labels = np.ones((64, 96), np.uint8)
    labels[:, 48:] = 2
    labels[mask > 0] = 2  # the user relabels the hole "blue"
    cv2.imwrite(str(tmp_path / "labels.png"), labels)  # an 8-bit grey PNG of class ids

    code, plain = _inpaint(tmp_path, image, mask)
    assert code == 0 and (plain[mask > 0][:, 0] > plain[mask > 0][:, 2]).all()
    code, guided = _inpaint(tmp_path, image, mask, "--labels", tmp_path / "labels.png")
    assert code == 0
    hole = guided[mask > 0].astype(int)
    assert (hole[:, 2] > 150).all() and (hole[:, 0] < 80).all()
    assert np.array_equal(guided[mask == 0], image[mask == 0])


def test_exclude_file_keeps_its_pixels_out_of_the_fill(tmp_path):
    image = _halves((20, 210, 20), (128, 128, 128))
    mask = np.zeros((64, 96), np.uint8)
    mask[24:40, 16:32] = 255  # a hole in the green half
    exclude = np.zeros((64, 96), np.uint8)
    exclude[:, :48] = 255
    save_mask(tmp_path / "keepout.png", exclude)

    code, plain = _inpaint(tmp_path, image, mask)
    green = plain[mask > 0].astype(int)
    assert code == 0 and ((green[:, 1] - green[:, [0, 2]].max(axis=1)) > 100).mean() > 0.9
    code, guided = _inpaint(tmp_path, image, mask, "--exclude", tmp_path / "keepout.png")
    grey = guided[mask > 0].astype(int)
    assert code == 0 and ((grey[:, 1] - grey[:, [0, 2]].max(axis=1)) < 40).all()


def test_include_file_is_the_only_source(tmp_path):
    image = _halves((128, 128, 128), (240, 240, 20))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:44, 14:34] = 255
    include = np.zeros((64, 96), np.uint8)
    include[:, 64:] = 255
    save_mask(tmp_path / "only.png", include)
    code, guided = _inpaint(tmp_path, image, mask, "--include", tmp_path / "only.png")
    assert code == 0 and (guided[mask > 0][:, 2] < 90).mean() > 0.9


def test_exemplar_files_supply_what_the_photo_lacks(tmp_path):
    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.integers(0, 255, (96, 96, 3)).astype(np.float32), (0, 0), 2.0)
    scene = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    image = scene[16:80, 16:80].copy()
    mask = np.zeros((64, 64), np.uint8)
    mask[22:42, 22:42] = 255
    save_image(tmp_path / "reference.png", scene[8:88, 4:84])  # the same scene, reframed
    save_image(tmp_path / "unrelated.png", np.full((40, 50, 3), 90, np.uint8))

    def hole_psnr(result):
        error = result[mask > 0].astype(float) - image[mask > 0]
        return 10 * np.log10(255.0 ** 2 / max(float(np.mean(error ** 2)), 1e-9))

    code, plain = _inpaint(tmp_path, image, mask)
    assert code == 0 and hole_psnr(plain) < 25.0
    code, guided = _inpaint(tmp_path, image, mask, "--exemplar", tmp_path / "unrelated.png",
                            tmp_path / "reference.png")
    assert code == 0 and hole_psnr(guided) > 35.0


def test_sketch_file_bends_the_filled_edge(tmp_path):
    image = np.full((96, 96, 3), 200.0)
    image[:48] = 50
    image = _noisy(image, 6.0, 9)
    mask = np.zeros((96, 96), np.uint8)
    mask[16:80, 40:96] = 255
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (30, 48), (40, 48), 255, 1)
    cv2.line(sketch, (40, 48), (95, 70), 255, 1)
    save_mask(tmp_path / "lines.png", sketch)
    columns = np.arange(44, 96)
    drawn = 48 + 22 * (columns - 40) / 55

    def edge_rows(result):
        gray = result.mean(axis=2)
        return np.array([np.argmax(gray[:, c] > 125) for c in columns])

    code, plain = _inpaint(tmp_path, image, mask)
    assert code == 0 and np.abs(edge_rows(plain) - drawn)[-10:].min() > 10
    code, guided = _inpaint(tmp_path, image, mask, "--sketch", tmp_path / "lines.png")
    assert code == 0 and np.abs(edge_rows(guided) - drawn).max() <= 3


@pytest.mark.parametrize("option", ["--sketch", "--include", "--exclude", "--labels"])
def test_a_guidance_file_of_another_size_is_one_clear_line(tmp_path, capsys, option):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((40, 50), np.uint8))
    code, _ = _inpaint(tmp_path, image, mask, option, tmp_path / "small.png")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "50x40 but the image is 96x64" in err
    if option != "--labels":
        # names the layer as the editor does, not "the mask"
        layer = {"--include": "include area", "--exclude": "exclude area"}.get(option, "sketch")
        assert f"the {layer} is 50x40" in err
    assert not (tmp_path / "out.png").exists()


def test_an_empty_sampling_area_is_refused_not_ignored(tmp_path, capsys):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    save_mask(tmp_path / "none.png", np.zeros((64, 96), np.uint8))
    code, _ = _inpaint(tmp_path, image, mask, "--include", tmp_path / "none.png")
    err = capsys.readouterr().err
    # the editor's Import Include Area says the same
    assert code == 2 and err.count("\n") == 1 and "none.png: the include area is empty" in err
    assert not (tmp_path / "out.png").exists()
    code, _ = _inpaint(tmp_path, image, mask, "--exclude", tmp_path / "none.png")
    assert code == 0  # excluding nothing is harmless


def test_an_empty_sketch_is_refused_as_the_editor_refuses_it(tmp_path, capsys):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    save_mask(tmp_path / "black.png", np.zeros((64, 96), np.uint8))
    code, _ = _inpaint(tmp_path, image, mask, "--sketch", tmp_path / "black.png")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    # named by its path as given, as a file that cannot be read is (QA audit 38, F7)
    assert err.startswith(f"error: {tmp_path / 'black.png'} holds no sketch lines (no white "
                          "pixels); ")
    assert not (tmp_path / "out.png").exists()


def test_a_corrupt_exemplar_is_one_clear_line(tmp_path, capsys):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    code, _ = _inpaint(tmp_path, image, mask, "--exemplar", tmp_path / "broken.jpg")
    err = capsys.readouterr().err
    assert code == 2 and "broken.jpg" in err and err.count("\n") == 1


def test_guidance_an_engine_cannot_use_is_reported_not_silently_dropped(tmp_path, capsys):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    sketch = np.zeros((64, 96), np.uint8)
    sketch[30, 10:80] = 255
    save_image(tmp_path / "photo.png", image)
    save_mask(tmp_path / "mask.png", mask)
    save_mask(tmp_path / "lines.png", sketch)
    code = main.main(["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "mask.png"),
                      "-o", str(tmp_path / "out.png"), "--engine", "telea",
                      "--sketch", str(tmp_path / "lines.png")])
    captured = capsys.readouterr()
    assert code == 0 and (tmp_path / "out.png").exists()
    # on stdout with the other notes, naming the option as given
    assert "note: telea ignored --sketch; patchmatch follows it (edgeconnect, " \
        "edgeconnect-face and edgeconnect-psv too)\n" in captured.out
    assert "ignored" not in captured.err


@pytest.mark.parametrize("device, message", [("gpu", "unknown device 'gpu'"),
                                             ("cuda", "no CUDA GPU is available")])
def test_an_accelerator_asked_for_must_exist_whatever_the_engine(tmp_path, capsys, monkeypatch,
                                                                 device, message):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 30:50] = 255
    code, result = _inpaint(tmp_path, _halves((200, 30, 30), (30, 30, 200)), mask,
                            "--engine", "telea", "--device", device)  # telea uses no device
    assert code == 2 and result is None
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("row, noted", [(30, True), (58, False)])
def test_the_ignored_guidance_note_is_only_for_a_sketch_that_reaches_the_hole(
        tmp_path, capsys, row, noted):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    sketch = np.zeros((64, 96), np.uint8)
    sketch[row, 10:80] = 255  # through the hole, or a line drawn for another hole below it
    save_mask(tmp_path / "lines.png", sketch)
    code, _ = _inpaint(tmp_path, image, mask, "--engine", "telea",
                       "--sketch", tmp_path / "lines.png")
    assert code == 0
    assert ("note: telea ignored --sketch" in capsys.readouterr().out) is noted


def test_a_label_file_is_noted_only_where_the_hole_carries_labels(tmp_path, capsys):
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    labels = np.full((64, 96), 255, np.uint8)  # unlabelled
    labels[:, 70:] = 3  # labels only far from the hole
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    code, _ = _inpaint(tmp_path, image, mask, "--engine", "telea",
                       "--labels", tmp_path / "labels.png")
    assert code == 0 and "ignored" not in capsys.readouterr().out
    labels[15:45, 15:45] = 2  # the hole labelled
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    code, _ = _inpaint(tmp_path, image, mask, "--engine", "telea",
                       "--labels", tmp_path / "labels.png")
    assert code == 0 and "note: telea ignored --labels; patchmatch follows it" in \
        capsys.readouterr().out


def test_the_ignored_guidance_note_names_the_options_given(tmp_path, capsys):
    """Every kind the engine ignores, by its option, in the order of the help; on stdout
    with the other notes on the result (nothing on stderr but the bar)."""
    image = _halves((200, 60, 60), (60, 60, 200))
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 20:40] = 255
    sketch = np.zeros((64, 96), np.uint8)
    sketch[30, 10:80] = 255
    include = np.zeros((64, 96), np.uint8)
    include[:, :60] = 255
    exclude = np.zeros((64, 96), np.uint8)
    exclude[:, 60:] = 255
    save_mask(tmp_path / "lines.png", sketch)
    save_mask(tmp_path / "include.png", include)
    save_mask(tmp_path / "exclude.png", exclude)
    save_image(tmp_path / "reference.png", _halves((200, 60, 60), (200, 60, 60)))
    code, _ = _inpaint(tmp_path, image, mask, "--engine", "telea",
                       "--exclude", tmp_path / "exclude.png", "--sketch", tmp_path / "lines.png",
                       "--include", tmp_path / "include.png",
                       "--exemplar", tmp_path / "reference.png")
    captured = capsys.readouterr()
    assert code == 0
    notes = [line for line in captured.out.splitlines() if line.startswith("note:")]
    assert notes == ["note: telea ignored --sketch, --include, --exclude and --exemplar; "
                     "patchmatch follows them"]
    assert "note:" not in captured.err and "ignored" not in captured.err
