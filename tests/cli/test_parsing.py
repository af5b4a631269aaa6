"""How the command line is read: `--debug` anywhere, an unknown option reported by the command
it was given to (one line and its `--help`), an option given twice (or under its old and new names) refused, abbreviations
that never name a hidden old spelling, every `--seed` range-checked, and help that names each
argument the same way everywhere."""

from __future__ import annotations

import argparse

import pytest

import cli
import cli.inpaint
from cli import EXIT_OK, EXIT_USAGE
from engines.weights import all_specs
from tests.cli.pictures import box_mask, photo_and_mask, watermarked_folder
from tests.cli.refusals import argument_error, refusal


@pytest.fixture
def picture(tmp_path):
    """(picture file, mask file) of 48x64, a square hole."""
    return photo_and_mask(tmp_path)


def _inpaint(picture, output, *extra, engine: str = "telea") -> int:
    return cli.main(["inpaint", str(picture[0]), str(picture[1]), "-o", str(output),
                     "--engine", engine, *map(str, extra)])


# --- --debug anywhere -------------------------------------------------------------------------


def test_debug_is_taken_after_a_nested_command(model_cache, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert cli.main(["train", "semantic", "--images", str(missing), "--device", "cpu",
                     "-o", str(tmp_path / "m.pt"), "--debug"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "unrecognized arguments" not in err and "nowhere" in err
    assert "Traceback" in err  # --debug was read
    spec_id = next(iter(all_specs())).id
    assert cli.main(["models", "info", "--debug", spec_id]) == EXIT_OK
    assert cli.main(["models", "list", "--debug"]) == EXIT_OK


@pytest.mark.parametrize("argv, command", [
    (["inpaint", "a.png", "m.png", "-o", "x.png", "--colr", "c.png"], "inpaint"),
    (["batch", "--images", "in", "--mask", "m.png", "-o", "out", "--sketches", "s"],
     "batch"),
    (["train", "semantic", "--images", "in", "--colour", "c.png"], "train semantic"),
    (["models", "download", "--quite", "lama"], "models download"),
])
def test_an_unknown_option_is_reported_by_its_command(argv, command, capsys):
    assert cli.main(argv) == EXIT_USAGE
    # one line, then the hint naming that command's --help: no usage block
    assert argument_error(capsys, command).startswith("unrecognized arguments: ")


# --- an option given twice, or under both names -----------------------------------------------


@pytest.mark.parametrize("extra, said", [
    (["--margin", "10", "--context", "20"], "--margin is the old name of --context"),
    (["--context", "20", "--margin", "10"], "--margin is the old name of --context"),
    (["--context", "10", "--context", "20"], "--context given twice (10 and 20)"),
    (["--seed", "1", "--seed", "2"], "--seed given twice (1 and 2)"),
    (["--engine", "ns"], "--engine given twice (telea and ns)"),
    (["--option", "radius=3", "--option", "radius=9"], "--option radius given twice"),
])
def test_a_clash_of_values_is_refused_before_any_work(picture, tmp_path, capsys, extra, said):
    output = tmp_path / "out.png"
    assert _inpaint(picture, output, *extra) == EXIT_USAGE
    assert said in refusal(capsys, "inpaint")
    assert not output.exists()


def test_the_same_value_twice_and_repeatable_options_are_fine(picture, tmp_path):
    assert _inpaint(picture, tmp_path / "a.png", "--context", "20", "--context", "20",
                    "--option", "radius=3", "--option", "radius=3") == EXIT_OK
    assert _inpaint(picture, tmp_path / "b.png", "--exemplar", picture[0],
                    "--exemplar", tmp_path / "a.png", engine="patchmatch") == EXIT_OK


def test_segment_refuses_the_old_and_new_parser_names_together(picture, tmp_path, capsys):
    output = tmp_path / "labels.png"
    assert cli.main(["segment", str(picture[0]), "-o", str(output), "--model", "regions",
                     "--parser", "face"]) == EXIT_USAGE
    assert (argument_error(capsys, "segment")
            == "--model is the old name of --parser; give one of them")
    assert not output.exists()


def test_an_ambiguous_abbreviation_names_only_visible_options(tmp_path, capsys):
    images = watermarked_folder(tmp_path / "in", count=2)
    assert cli.main(["watermark", "--images", str(images), "-o", str(tmp_path / "out"),
                     "--m", "3"]) == EXIT_USAGE
    error = argument_error(capsys, "watermark")
    assert "ambiguous option: --m could match" in error and "--min-images" in error
    assert "--margin" not in error


def test_a_hidden_old_name_still_works_in_full(tmp_path):
    images = watermarked_folder(tmp_path / "in", count=2)
    mask = box_mask(tmp_path / "hole.png")
    assert cli.main(["batch", "--images", str(images), "--mask", str(mask), "-o",
                     str(tmp_path / "out"), "--engine", "telea", "--margin=40"]) == EXIT_OK


# --- train semantic --seed --------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999"])
def test_train_checks_its_seed_like_every_command(model_cache, tmp_path, capsys, monkeypatch,
                                                  seed):
    import engines.neural.semantic_training as training

    def no_training(*args, **kwargs):
        raise AssertionError("training started with a seed out of range")

    monkeypatch.setattr(training, "train", no_training)
    (tmp_path / "in").mkdir()
    assert cli.main(["train", "semantic", "--images", str(tmp_path / "in"), "-o",
                     str(tmp_path / "m.pt"), "--seed", seed]) == EXIT_USAGE
    assert argument_error(capsys, "train semantic").startswith("argument --seed: ")


# --- help ---------------------------------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices


def test_every_models_action_describes_itself_and_its_ids():
    actions = _commands(_commands(cli.build_parser())["models"])
    for name, parser in actions.items():
        assert parser.description, name
        for action in parser._actions:
            if not action.option_strings:
                assert action.help, (name, action.dest)
        ids = [a for a in parser._actions if a.metavar == "ID"]
        assert all("models list" in a.help for a in ids), name


def test_help_states_the_minimums_checked():
    commands = _commands(cli.build_parser())
    train = _commands(commands["train"])["semantic"]
    size = train._option_string_actions["--size"].help
    assert "multiple of 4" in size and "at least 32" in size
    assert "at least 2" in commands["watermark"]._option_string_actions["--min-images"].help


def test_inpaint_names_its_arguments_one_way(capsys):
    inpaint = _commands(cli.build_parser())["inpaint"]
    assert inpaint.format_usage().startswith("usage: inpaint-studio inpaint [-h] IMAGE MASK "
                                             "-o OUTPUT ")
    assert [a.metavar for a in inpaint._actions if not a.option_strings] == ["IMAGE", "MASK"]
    assert all(word in cli.inpaint.HELP for word in ("IMAGE", "MASK", "OUTPUT"))
    assert cli.main(["inpaint"]) == EXIT_USAGE
    assert capsys.readouterr().err == \
        "error: the following arguments are required: IMAGE, MASK, -o/--output\n"
