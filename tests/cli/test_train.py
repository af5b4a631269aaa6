"""`python main.py train semantic`: trains on a folder, saves and installs the checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cli
from engines import fileio, registry, weights
from engines.neural.semantic import read_checkpoint
from engines.neural.semantic_training import write_label_map
from tests.cli.refusals import argument_error


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """Four 36x40 images coloured by 2-class label maps."""
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for index in range(4):
        label = np.zeros((36, 40), np.uint8)
        label[:, rng.integers(8, 30):] = 1
        image = np.where(label[..., None] == 1, [40, 180, 60], [200, 40, 40]).astype(np.uint8)
        fileio.write_atomic(images / f"p{index}.jpg", fileio.encode_image(image, ".jpg"))
        write_label_map(labels / f"p{index}.png", label)
    return images, labels


def _args(images: Path, labels: Path, output: Path, *extra: str) -> list[str]:
    return ["train", "semantic", "--images", str(images), "--labels", str(labels),
            "--steps", "3", "--batch-size", "2", "--size", "32", "--channels", "4",
            "--device", "cpu", "--save-every", "0", "-o", str(output), *extra]


def test_train_semantic_saves_and_installs(model_cache, folders, tmp_path, capsys):
    output = tmp_path / "run" / "model.pt"
    assert registry.create("semantic").status().readiness.value == "needs training"
    assert cli.main(_args(*folders, output)) == 0
    printed = capsys.readouterr()
    assert "installed as semantic-local" in printed.out
    assert "training" in printed.err  # the progress bar
    data = read_checkpoint(output)
    assert data["meta"]["step"] == 3 and data["meta"]["num_classes"] == 2
    assert data["meta"]["channels"] == 4
    assert weights.is_present("semantic-local")
    assert registry.create("semantic").status().ready


def test_no_install_leaves_the_engine_untrained(model_cache, folders, tmp_path):
    output = tmp_path / "model.pt"
    assert cli.main(_args(*folders, output, "--no-install")) == 0
    assert output.is_file()
    assert not weights.is_present("semantic-local")
    assert not registry.create("semantic").status().ready


def test_resume_continues_counting(model_cache, folders, tmp_path):
    output = tmp_path / "model.pt"
    assert cli.main(_args(*folders, output, "--no-install")) == 0
    resumed = _args(*folders, output, "--no-install", "--resume")
    resumed[resumed.index("--steps") + 1] = "5"
    assert cli.main(resumed) == 0
    assert read_checkpoint(output)["meta"]["step"] == 5


def test_bad_input_is_a_one_line_usage_error(model_cache, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code = cli.main(["train", "semantic", "--images", str(missing), "--device", "cpu",
                     "-o", str(tmp_path / "m.pt")])
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_bad_size_is_reported(model_cache, folders, tmp_path, capsys):
    args = _args(*folders, tmp_path / "m.pt")
    args[args.index("--size") + 1] = "30"
    assert cli.main(args) == cli.EXIT_USAGE
    assert "multiple of 4" in capsys.readouterr().err


def test_an_existing_checkpoint_needs_resume_or_overwrite(model_cache, folders, tmp_path,
                                                          capsys):
    output = tmp_path / "precious.pt"
    output.write_bytes(b"a week of training")
    assert cli.main(_args(*folders, output, "--no-install")) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert output.read_bytes() == b"a week of training"
    assert cli.main(_args(*folders, output, "--no-install", "--overwrite")) == 0
    assert read_checkpoint(output)["meta"]["step"] == 3


@pytest.mark.parametrize("option, value", [("--classes", "0"), ("--classes", "256"),
                                           ("--steps", "0"), ("--batch-size", "-2"),
                                           ("--save-every", "-1")])
def test_out_of_range_numbers_are_usage_errors(model_cache, folders, tmp_path, option, value,
                                               capsys):
    assert cli.main(_args(*folders, tmp_path / "m.pt", option, value)) == cli.EXIT_USAGE
    assert argument_error(capsys, "train semantic").startswith(f"argument {option}: ")


def test_a_missing_label_folder_is_named(model_cache, folders, tmp_path, capsys):
    args = _args(*folders, tmp_path / "m.pt")
    args[args.index("--labels") + 1] = str(tmp_path / "nope")
    assert cli.main(args) == cli.EXIT_USAGE
    assert "nope: no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("lr", ["-1", "0", "nan", "inf"])
def test_a_bad_learning_rate_is_refused_before_any_work(model_cache, folders, tmp_path, lr,
                                                        capsys):
    output = tmp_path / "m.pt"
    assert cli.main(_args(*folders, output, "--lr", lr)) == cli.EXIT_USAGE
    assert argument_error(capsys, "train semantic").startswith("argument --lr: ")
    assert not output.exists()


def test_what_the_image_folder_holds_besides_pictures_is_named(model_cache, folders, tmp_path,
                                                               capsys):
    images, labels = folders
    (images / "notes.txt").write_text("not a picture")
    (images / "more").mkdir()
    fileio.write_atomic(images / "more" / "deep.jpg", (images / "p0.jpg").read_bytes())
    assert cli.main(_args(images, labels, tmp_path / "m.pt", "--no-install")) == 0
    err = capsys.readouterr().err
    assert ("1 file skipped: no picture extension (.txt): notes.txt; 1 subfolder "
            "not searched (folder runs do not look into subfolders): more/") in err


def test_a_labels_folder_inside_the_image_folder_is_not_named(model_cache, folders, tmp_path,
                                                             capsys):
    images, labels = folders
    inside = labels.rename(images / "labels")
    assert cli.main(_args(images, inside, tmp_path / "m.pt", "--no-install")) == 0
    assert "skipped" not in capsys.readouterr().err
