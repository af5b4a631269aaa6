"""QA28 leftovers on the command line: `train semantic`'s labelling bar does not stand for the
work after it; `models import lama-big` takes the unzipped big-lama folder, in any case, and
names a damaged file in it by its path (other models name the file to give); `inpaint
--engine semantic` refuses a map of another label set before any progress bar."""

from __future__ import annotations

import numpy as np
import pytest

import cli
from cli import EXIT_OK, EXIT_USAGE
from engines import fileio, weights
from engines.neural import semantic_training
from engines.segmentation import regions
from tests.cli.test_semantic_label_set import face_model, picture  # noqa: F401 (fixtures)
from tests.engines.checkpoints_lama_migan import write_big_lama_folder
from tests.engines.test_import_contents import reference_state
from tests.engines.test_weights import state_dict_file

# --- train semantic: the bar shown while the first step runs ----------------------------------


@pytest.fixture
def photos(tmp_path):
    """Two small two-colour photos, labelled by the regions parser (no --labels)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(2):
        image = np.zeros((36, 40, 3), np.uint8)
        image[:, :20 + 4 * index] = (200, 40, 40)
        image[:, 20 + 4 * index:] = (40, 180, 60)
        fileio.write_atomic(folder / f"p{index}.png", fileio.encode_image(image, ".png"))
    return folder


def _one_step(images, output) -> list[str]:
    """`train semantic` on ``images`` for one small step on the CPU, saved at ``output``."""
    return ["train", "semantic", "--images", str(images), "--steps", "1", "--batch-size",
            "1", "--size", "32", "--channels", "4", "--device", "cpu", "--no-perceptual",
            "--no-install", "-o", str(output)]


def stderr_at_first_step(monkeypatch, capsys) -> list[str]:
    """A list that gets what stderr showed when the first training step began."""
    shown: list[str] = []
    original = semantic_training._Trainer.train_step

    def step(self, *args):
        if not shown:
            shown.append(capsys.readouterr().err)
        return original(self, *args)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    return shown


def screen_lines(shown: str) -> list[str]:
    """The non-blank lines a terminal showed of ``shown`` (progress bars redraw on ``\r``)."""
    return [line for line in shown.replace("\r", "\n").splitlines() if line.strip()]


def test_the_labelling_bar_gives_way_before_the_first_training_step(model_cache, photos,
                                                                   tmp_path, capsys,
                                                                   monkeypatch):
    shown = stderr_at_first_step(monkeypatch, capsys)
    output = tmp_path / "run" / "model.pt"
    assert cli.main(_one_step(photos, output)) == EXIT_OK
    [before] = shown
    screens = screen_lines(before)
    assert any(line.startswith("labelling: 100%") and "2/2" in line for line in screens)
    # the last thing drawn: the training bar, saying its first step is under way
    assert screens[-1].startswith("training: preparing the first step")
    assert "training: 100%" in capsys.readouterr().err


def test_an_unreadable_last_picture_still_ends_the_labelling_bar(model_cache, photos,
                                                                  tmp_path, capsys,
                                                                  monkeypatch):
    (photos / "p9.png").write_bytes(b"not a picture")  # sorted last: left out
    shown = stderr_at_first_step(monkeypatch, capsys)
    output = tmp_path / "run" / "model.pt"
    assert cli.main(_one_step(photos, output)) == EXIT_OK
    [before] = shown
    screens = screen_lines(before)
    assert any(line.startswith("left out images/p9.png:") for line in screens)
    assert any(line.startswith("labelling: 100%") and "3/3" in line for line in screens)
    assert screens[-1].startswith("training: preparing the first step")


def test_no_training_bar_when_no_picture_can_be_read(model_cache, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(b"not a picture")
    assert cli.main(["train", "semantic", "--images", str(folder), "--steps", "1",
                     "--device", "cpu", "--no-perceptual", "--no-install", "-o",
                     str(tmp_path / "run" / "model.pt")]) != EXIT_OK
    err = capsys.readouterr().err
    assert "none of the 2 images" in err and "training:" not in err


# --- models import: folders ---------------------------------------------------------------


@pytest.fixture
def big_lama_folder(tmp_path):
    """The unzipped big-lama.zip: unzipped/big-lama/{config.yaml, models/best.ckpt}."""
    return write_big_lama_folder(tmp_path / "unzipped" / "big-lama",
                                 reference_state("lama_big_best_ckpt_generator.tsv"))


@pytest.mark.parametrize("given", ["big-lama", "its parent"])
def test_lama_big_imports_the_unzipped_folder(model_cache, big_lama_folder, capsys, given):
    folder = big_lama_folder if given == "big-lama" else big_lama_folder.parent
    assert cli.main(["models", "import", "lama-big", str(folder)]) == EXIT_OK
    installed = weights.local_path("lama-big")
    assert capsys.readouterr().out.startswith(f"lama-big: installed at {installed} (")
    assert installed.read_bytes() == (big_lama_folder / "models" / "best.ckpt").read_bytes()
    assert weights.installation("lama-big").state is weights.InstallState.INSTALLED
    record = weights.read_manifest("lama-big")
    assert record["checked"] == "lightning format of the extracted file and its tensors"
    assert (big_lama_folder / "models" / "best.ckpt").is_file()  # copied, not moved


def test_a_folder_renamed_in_another_case_is_still_found(model_cache, big_lama_folder,
                                                         capsys):
    """Big-Lama/Models/best.ckpt (renamed, or unzipped by a tool that changed the case) is
    big-lama/models/best.ckpt: imported, not refused."""
    renamed = big_lama_folder.parent / "Big-Lama"
    big_lama_folder.rename(renamed)
    (renamed / "models").rename(renamed / "Models")
    assert cli.main(["models", "import", "lama-big", str(renamed)]) == EXIT_OK
    assert weights.local_path("lama-big").read_bytes() == (
        renamed / "Models" / "best.ckpt").read_bytes()
    assert capsys.readouterr().err == ""


def test_a_damaged_file_in_the_folder_is_named_by_its_path(model_cache, big_lama_folder,
                                                          capsys):
    """"best.ckpt is a zip archive cut short" alone read as if the zip were meant."""
    member = big_lama_folder / "models" / "best.ckpt"
    member.write_bytes(member.read_bytes()[:4096])
    assert cli.main(["models", "import", "lama-big", str(big_lama_folder)]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith(f"error: {member} is a zip archive cut short (")
    assert not weights.is_present("lama-big")


def test_an_empty_file_in_the_folder_is_said_to_be_empty(model_cache, big_lama_folder,
                                                          capsys):
    member = big_lama_folder / "models" / "best.ckpt"
    member.write_bytes(b"")
    assert cli.main(["models", "import", "lama-big", str(big_lama_folder)]) == EXIT_USAGE
    assert capsys.readouterr().err == (f"error: {member} is an empty file (an interrupted "
                                       "copy or download leaves one)\n")
    assert not weights.is_present("lama-big")


def test_a_folder_without_big_lama_is_refused_naming_what_to_give(model_cache, tmp_path,
                                                                  capsys):
    folder = tmp_path / "downloads"
    folder.mkdir()
    assert cli.main(["models", "import", "lama-big", str(folder)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {folder}: a folder without big-lama/models/best.ckpt; give big-lama.zip as "
        "downloaded, the folder unzipped from it, or its best.ckpt\n")
    assert not weights.local_path("lama-big").parent.exists()


def test_a_folder_of_another_model_is_refused_naming_the_file(model_cache, tmp_path, capsys):
    folder = tmp_path / "downloads"
    folder.mkdir()
    assert cli.main(["models", "import", "migan-512-places2", str(folder)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {folder}: a folder, not a checkpoint file; give the checkpoint file itself "
        "(migan_512_places2.pt)\n")
    state_dict_file(folder, "migan_512_places2.pt")
    assert cli.main(["models", "import", "migan-512-places2", str(folder)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {folder}: a folder, not a checkpoint file; give the file in it, "
        f"{folder / 'migan_512_places2.pt'}\n")
    assert not weights.is_present("migan-512-places2")


def test_the_folder_of_the_member_itself_is_not_taken(model_cache, tmp_path, capsys):
    """EdgeConnect's celeba/ folder holds EdgeModel_gen.pth too: never taken for places2's."""
    celeba = tmp_path / "checkpoints" / "celeba"
    celeba.mkdir(parents=True)
    state_dict_file(celeba, "EdgeModel_gen.pth")
    assert cli.main(["models", "import", "edgeconnect-places2-edge", str(celeba)]) == EXIT_USAGE
    assert "a folder without places2/EdgeModel_gen.pth" in capsys.readouterr().err
    assert not weights.is_present("edgeconnect-places2-edge")


# --- inpaint --engine semantic: another label set, before any bar ---------------------------


def test_a_map_of_another_label_set_is_refused_before_any_bar(
        face_model, picture, tmp_path, capsys):  # noqa: F811 (the fixtures imported)
    from engines.segmentation.labelmap import save_label_png
    from engines.segmentation.labels import bundled_label_set

    labels = tmp_path / "scene.png"
    save_label_png(labels, np.ones((24, 24), np.uint8),
                   bundled_label_set("cocostuff182", "cocostuff182"))
    output = tmp_path / "out.png"
    assert cli.main(["inpaint", str(picture[0]), str(picture[1]), "-o", str(output),
                     "--engine", "semantic", "--device", "cpu", "--labels",
                     str(labels)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: the label map's ids are of the label set 'cocostuff182' "
                          "but the semantic model was trained on 'face19'")
    assert "%|" not in err and "semantic p.png" not in err  # no progress bar began
    assert err.count("\n") == 1
    assert not output.exists()


def test_the_labelling_bar_shows_before_the_first_picture_is_parsed(model_cache, photos,
                                                                     tmp_path, capsys,
                                                                     monkeypatch):
    """The first parse compiles the regions parser (seconds, on a fresh install): the bar
    is on screen, at 0 of 2, while it runs."""
    shown = []
    parse = regions.RegionParser.parse

    def parsing(self, *args, **kwargs):
        if not shown:
            shown.append(capsys.readouterr().err)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(regions.RegionParser, "parse", parsing)
    output = tmp_path / "run" / "model.pt"
    assert cli.main(_one_step(photos, output)) == EXIT_OK
    assert shown and "labelling:   0%" in shown[0] and "0/2" in shown[0], shown
