"""Every argument error reads as the program's other refusals do (README, "Command line":
a one-line reason): `error: <reason>` and one line naming the `--help` that shows the usage,
no usage block, exit code 2; for every command, its subcommands and the editor's own
arguments; a missing argument or command is named."""

from __future__ import annotations

import pytest

import cli
import main
from cli import EXIT_OK, EXIT_USAGE
from engines import download, weights
from tests.cli.pictures import photo_and_mask, watermarked_folder
from tests.cli.refusals import argument_error, refusal
from tests.engines.test_weights import state_dict_file


@pytest.fixture
def picture(tmp_path):
    """(picture file, mask file) of 48x64, a square hole."""
    return photo_and_mask(tmp_path)


def test_the_audits_four_examples_are_one_line_and_a_hint(picture, tmp_path, capsys):
    image, mask = map(str, picture)
    output = tmp_path / "o.png"
    photos = watermarked_folder(tmp_path / "photos", count=2)
    examples = [
        (["watermark", "--images", str(photos), "-o", str(tmp_path / "c"), "--margin", "5",
          "--grow", "5"], "watermark", "--margin is the old name of --grow; give one of them"),
        (["segment", image, "-o", str(tmp_path / "s.png"), "--regions", "0"], "segment",
         "argument --regions: 0 is out of range; it must be from 1 to 254"),
        (["inpaint", image, mask, "-o", str(output), "--context", "10", "--context", "20"],
         "inpaint", "--context given twice (10 and 20); give it once"),
        (["inpaint", image, mask, "-o", str(output), "--marg", "10"], "inpaint",
         "unrecognized arguments: --marg 10"),
    ]
    for argv, command, reason in examples:
        assert main.main(argv) == EXIT_USAGE, argv
        assert argument_error(capsys, command) == reason
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mask.png", "photo.png",
                                                                "photos"]


@pytest.mark.parametrize("argv, command, reason", [
    (["models"], "models", "the following arguments are required: ACTION"),
    (["train"], "train", "the following arguments are required: MODEL"),
    (["models", "download"], "models download", "the following arguments are required: ID"),
    (["train", "semantic"], "train semantic", "the following arguments are required: --images"),
    (["segment"], "segment", "the following arguments are required: IMAGE_OR_FOLDER, "
                             "-o/--output"),
    (["train", "semnatic"], "train", "argument MODEL: invalid choice: 'semnatic' (choose "
                                     "from 'semantic')"),
    (["inpaint", "a.png", "m.png", "-o", "o.png", "--strategy", "zz"], "inpaint",
     "argument --strategy: invalid choice: 'zz' (choose from 'crop', 'resize', 'original')"),
])
def test_what_is_missing_or_wrong_is_named_with_the_commands_help(argv, command, reason,
                                                                    capsys):
    assert main.main(argv) == EXIT_USAGE
    assert argument_error(capsys, command) == reason


@pytest.mark.parametrize("argv, reason", [
    (["photo.jpg", "--mask"], "argument --mask: expected one argument"),
    (["photo.jpg", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_the_editors_arguments_are_refused_the_same_way(argv, reason, capsys):
    with pytest.raises(SystemExit) as exited:  # argparse exits before any window
        main.main(argv)
    assert exited.value.code == EXIT_USAGE
    assert argument_error(capsys) == reason


def test_our_own_checks_and_argparses_share_the_prefix(picture, tmp_path, capsys):
    image, mask = map(str, picture)
    given = ["inpaint", image, mask, "-o", str(tmp_path / "o.png"), "--engine", "telea"]
    assert main.main([*given, "--option", "radius=5", "--option", "radius=6"]) == EXIT_USAGE
    ours = capsys.readouterr().err
    assert ours.startswith("error: --option radius given twice") and ours.count("\n") == 1
    assert main.main([*given, "--seed", "1", "--seed", "2"]) == EXIT_USAGE
    assert refusal(capsys, "inpaint") == "--seed given twice (1 and 2); give it once"


# --- models download -f -------------------------------------------------------------------


@pytest.mark.parametrize("flag, forced", [(None, False), ("-f", True), ("--force", True)])
def test_download_takes_f_for_force(make_spec, tmp_path, capsys, monkeypatch, flag, forced):
    checkpoint = state_dict_file(tmp_path, "net.pth")
    spec = make_spec(size=checkpoint.stat().st_size)
    assert cli.main(["models", "import", spec.id, str(checkpoint)]) == EXIT_OK
    asked: list[bool] = []

    def fetched(spec, progress=None, cancel=None, force=False, waiting=None):
        asked.append(force)
        return weights.local_path(spec.id)

    monkeypatch.setattr(download, "download", fetched)
    capsys.readouterr()
    assert cli.main(["models", "download", spec.id, *filter(None, [flag])]) == EXIT_OK
    assert asked == ([True] if forced else [])
    if not forced:
        assert f"{spec.id}: already installed at" in capsys.readouterr().out


# --- help texts ---------------------------------------------------------------------------


def test_help_names_what_each_argument_takes(capsys):
    assert cli.main(["segment", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "IMAGE_OR_FOLDER" in out.split("\n\n")[0]  # the usage: a folder is taken too
    assert cli.main(["models", "download", "--help"]) == EXIT_OK
    assert "-f, --force" in capsys.readouterr().out  # as `models import -f, --force`
    assert cli.main(["inpaint", "--help"]) == EXIT_OK
    words = " ".join(capsys.readouterr().out.split())
    assert "`engines -v` lists each engine's options" in words
