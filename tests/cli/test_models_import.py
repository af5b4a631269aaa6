"""`models import ID FILE` replaces a checkpoint that is installed and works only with
`--force` (`-f`), or when a user at a terminal says yes, as the Models dialog asks first."""

from __future__ import annotations

import io
import zipfile

import pytest

import cli
from cli import EXIT_OK, EXIT_USAGE
from engines import weights
from tests.engines.test_weights import state_dict_file


class Terminal(io.StringIO):
    """Standard input typed at a terminal: the answers given, then the end of input."""

    def isatty(self) -> bool:
        return True


class Piped(io.StringIO):
    """Standard input from a pipe or a file (a script, a job scheduler)."""

    def isatty(self) -> bool:
        return False


@pytest.fixture
def installed(make_spec, tmp_path):
    """(spec, the installed file's bytes, another good file for it): a checkpoint installed
    by `models import` that passes the checks, and a second one of the same network."""
    first = state_dict_file(tmp_path, "first.pth", seed=0)
    second = state_dict_file(tmp_path, "second.pth", seed=1)
    assert first.read_bytes() != second.read_bytes()
    spec = make_spec(size=first.stat().st_size)
    assert cli.main(["models", "import", spec.id, str(first)]) == EXIT_OK
    assert weights.installation(spec.id).state is weights.InstallState.INSTALLED
    return spec, first.read_bytes(), second


def models_import(*arguments) -> int:
    return cli.main(["models", "import", *map(str, arguments)])


@pytest.mark.parametrize("move", [False, True])
def test_a_working_checkpoint_is_kept_without_force(installed, capsys, monkeypatch, move):
    spec, before, second = installed
    monkeypatch.setattr("sys.stdin", Piped("y\n"))  # not a terminal: never asked
    capsys.readouterr()
    assert models_import(spec.id, second, *(["--move"] if move else [])) == EXIT_USAGE
    printed = capsys.readouterr()
    assert printed.err == (f"error: {spec.id} is already installed and works "
                           f"({weights.local_path(spec.id)}); add --force to replace it with "
                           "second.pth\n")
    assert printed.out == ""
    assert weights.local_path(spec.id).read_bytes() == before
    assert second.is_file()  # --move moved nothing


@pytest.mark.parametrize("flag", ["--force", "-f"])
def test_force_replaces_it(installed, capsys, monkeypatch, flag):
    spec, before, second = installed
    monkeypatch.setattr("sys.stdin", Piped(""))
    assert models_import(spec.id, second, flag) == EXIT_OK
    assert weights.local_path(spec.id).read_bytes() == second.read_bytes() != before
    assert f"{spec.id}: installed at" in capsys.readouterr().out


def test_force_still_refuses_a_file_that_is_not_the_checkpoint(installed, tmp_path, capsys):
    spec, before, _ = installed
    page = tmp_path / "page.pth"
    page.write_text("<html><body>Sign in to download</body></html>")
    assert models_import(spec.id, page, "--force") == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: ")
    assert weights.local_path(spec.id).read_bytes() == before


@pytest.mark.parametrize("answer, replaced", [
    ("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False), ("", False),
    ("maybe\n", False),
])
def test_at_a_terminal_it_asks_no_by_default(installed, capsys, monkeypatch, answer,
                                             replaced):
    spec, before, second = installed
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    capsys.readouterr()
    assert models_import(spec.id, second) == (EXIT_OK if replaced else EXIT_USAGE)
    printed = capsys.readouterr()
    assert printed.err.startswith(f"{spec.id} is installed and works")
    assert "Replace it with second.pth?" in printed.err and "[y/N]" in printed.err
    now = weights.local_path(spec.id).read_bytes()
    if replaced:
        assert now == second.read_bytes() and "installed at" in printed.out
    else:
        assert now == before and printed.out == ""
        assert printed.err.endswith(f"{spec.id}: not replaced; the installed file is kept\n")


def test_nothing_is_asked_with_force_or_when_nothing_works_yet(make_spec, tmp_path, capsys,
                                                               monkeypatch):
    stdin = Terminal("n\n")
    monkeypatch.setattr("sys.stdin", stdin)
    source = state_dict_file(tmp_path)
    spec = make_spec(size=source.stat().st_size)
    assert models_import(spec.id, source) == EXIT_OK  # not installed: installed
    weights.local_path(spec.id).write_text("<html>an error page saved in its place</html>")
    assert weights.installation(spec.id).state is weights.InstallState.DAMAGED
    assert models_import(spec.id, source) == EXIT_OK  # damaged: replaced
    assert weights.local_path(spec.id).read_bytes() == source.read_bytes()
    assert models_import(spec.id, source, "-f") == EXIT_OK
    assert stdin.tell() == 0 and "[y/N]" not in capsys.readouterr().err


def test_a_missing_file_is_named_before_any_question(installed, tmp_path, capsys,
                                                     monkeypatch):
    spec, before, _ = installed
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert models_import(spec.id, tmp_path / "absent.pth") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "absent.pth" in err and "no such file" in err and "--force" not in err
    assert weights.local_path(spec.id).read_bytes() == before


def test_help_names_force(capsys):
    assert cli.main(["models", "import", "--help"]) == EXIT_OK
    assert "-f, --force" in capsys.readouterr().out


def test_a_zip_without_the_checkpoint_says_which_checkpoint_it_lacks(model_cache, tmp_path,
                                                                     capsys):
    """The sentence ends on the checkpoint the zip should hold, title and id."""
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("hello.txt", "hi")
    assert models_import("lama-big", archive) == EXIT_USAGE
    printed = capsys.readouterr()
    assert printed.err == ("error: x.zip holds hello.txt but has no "
                           "'big-lama/models/best.ckpt', the LaMa big (official) checkpoint "
                           "(lama-big)\n")
    assert not weights.local_path("lama-big").exists()
