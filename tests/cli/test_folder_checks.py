"""The folder commands (`segment FOLDER`, `batch`, `watermark`) check their folders with one
function (:func:`cli._common.folder_pictures`): the same refusals, worded alike, before any
work, and the same note on what the folder holds besides pictures."""

from __future__ import annotations

import pytest

import cli
from cli import EXIT_OK, EXIT_USAGE
from engines.fileio import list_images
from tests.cli.pictures import box_mask, watermarked_folder

COMMANDS = ("segment", "batch", "watermark")
RESULTS = {"segment": "label maps", "batch": "results", "watermark": "cleared images"}


@pytest.fixture
def images(tmp_path):
    """``in/``: 8 pictures of 160x120 sharing a watermark (what every command can run on)."""
    return watermarked_folder(tmp_path / "in")


@pytest.fixture
def mask_file(tmp_path):
    """One mask for `batch --mask`, outside the pictures' folder."""
    return box_mask(tmp_path / "hole.png")


def command(name: str, images, output, mask_file) -> list[str]:
    """The command line running ``name`` over the folder ``images`` into ``output``."""
    if name == "segment":
        return ["segment", str(images), "-o", str(output)]
    if name == "batch":
        return ["batch", "--images", str(images), "--mask", str(mask_file), "-o", str(output),
                "--engine", "telea"]
    return ["watermark", "--images", str(images), "-o", str(output)]


def listing(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def refused(name, images, output, mask_file, capsys) -> str:
    """Run ``name``, which must refuse before any work; its one-line error."""
    assert cli.main(command(name, images, output, mask_file)) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: "), error  # no bar: no work
    return error


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("overwrite", [False, True])
def test_the_input_folder_is_refused_as_output_in_the_same_words(name, images, mask_file,
                                                                 capsys, overwrite):
    before = listing(images)
    argv = command(name, images, f"{images}/.", mask_file)  # the same folder, spelt otherwise
    argv += ["--overwrite"] if overwrite else []
    assert cli.main(argv) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error == (f"error: -o {images} is the input folder; choose another folder: the "
                     f"originals are never replaced, and {RESULTS[name]} there would be taken "
                     "for pictures\n")
    assert listing(images) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_that_is_a_file_is_refused(name, images, mask_file, tmp_path, capsys):
    output = tmp_path / "out"
    output.write_bytes(b"someone's notes")
    error = refused(name, images, output, mask_file, capsys)
    assert error == (f"error: -o {output} is a file; give the folder the {RESULTS[name]} go "
                     "into\n")
    assert output.read_bytes() == b"someone's notes"


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_named_like_a_picture_is_refused(name, images, mask_file, tmp_path, capsys):
    """`-o result.jpg` for a folder is a slip: no folder called result.jpg is made."""
    output = tmp_path / "result.jpg"
    error = refused(name, images, output, mask_file, capsys)
    assert f"-o {output} names a picture, but {images} is a folder" in error
    assert not output.exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_folder_without_pictures_names_what_it_holds(name, mask_file, tmp_path, capsys):
    empty = tmp_path / "raw"
    empty.mkdir()
    (empty / "IMG_1.CR3").write_bytes(b"raw")
    (empty / "sub").mkdir()
    error = refused(name, empty, tmp_path / "out", mask_file, capsys)
    assert error.startswith(f"error: {empty} holds no pictures (png, jpg, ")
    assert error.rstrip().endswith(
        "1 file skipped: no picture extension (.cr3): IMG_1.CR3; 1 subfolder not "
        "searched (folder runs do not look into subfolders): sub/")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["batch", "watermark"])  # segment reads any other path
@pytest.mark.parametrize("kind", ["missing", "file"])      # as one picture (test_segment.py)
def test_a_missing_input_folder_or_a_file_is_named(name, mask_file, tmp_path, capsys, kind):
    path = tmp_path / "photos"
    if kind == "file":
        path.write_bytes(b"x")
    error = refused(name, path, tmp_path / "out", mask_file, capsys)
    words = "no such folder" if kind == "missing" else "is a file, not a folder"
    assert error == f"error: {path}: {words}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_folder_that_cannot_be_made_is_refused(name, images, mask_file, tmp_path,
                                                         capsys):
    (tmp_path / "taken").write_bytes(b"x")
    error = refused(name, images, tmp_path / "taken" / "out", mask_file, capsys)
    assert "cannot create the output folder" in error and "is a file" in error


@pytest.mark.parametrize("name", COMMANDS)
def test_an_output_folder_inside_the_input_folder_is_used_and_not_mentioned(
        name, images, mask_file, capsys):
    """Subfolders are never searched, so results there are never taken for pictures; the
    note names only what the run leaves out."""
    (images / "notes.txt").write_text("x")
    output = images / "done"
    assert cli.main(command(name, images, output, mask_file)) == EXIT_OK
    err = capsys.readouterr().err
    assert "1 file skipped: no picture extension (.txt): notes.txt" in err
    assert "subfolder" not in err
    assert sorted(p.stem for p in output.iterdir()) == [f"photo{i}" for i in range(8)]
    assert [p.name for p in list_images(images)] == [f"photo{i}.png" for i in range(8)]


def test_batch_says_in_the_same_note_which_files_are_masks(images, tmp_path, capsys):
    """A mask file in the pictures' folder is left out; a folder holding nothing else is
    refused, naming it."""
    box_mask(images / "watermark.png", 10, 10)
    (images / "notes.txt").write_text("x")
    output = tmp_path / "out"
    assert cli.main(["batch", "--images", str(images), "--mask", str(images / "watermark.png"),
                     "-o", str(output), "--engine", "telea"]) == EXIT_OK
    assert ("1 file skipped: no picture extension (.txt): notes.txt; 1 file left "
            "out: it is a mask, not a picture to fill\n") in capsys.readouterr().err
    assert "watermark.png" not in listing(output) and len(listing(output)) == 8

    only = tmp_path / "only"
    only.mkdir()
    box_mask(only / "watermark.png", 10, 10)
    assert cli.main(["batch", "--images", str(only), "--mask", str(only / "watermark.png"),
                     "-o", str(tmp_path / "out2"), "--engine", "telea"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"error: {only} holds no pictures (")
    assert error.rstrip().endswith("; 1 file left out: it is a mask, not a picture to fill")
    assert not (tmp_path / "out2").exists()
