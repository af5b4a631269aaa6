"""How a refused command line reads on stderr, for the command-line tests: every refusal is
one ``error: <reason>`` line; an argument error (unknown, missing, given twice, out of
range: argparse's) adds one line naming the ``--help`` that shows the usage, never the
usage block itself."""

from __future__ import annotations


def usage_hint(command: str = "") -> str:
    """The line after an argument error of ``command`` (``"inpaint"``, ``"train
    semantic"``; ``""``: the editor's own arguments)."""
    return f"(run {' '.join(filter(None, ('inpaint-studio', command)))} --help for the usage)"


def argument_error(capsys, command: str = "") -> str:
    """The reason of the argument error of ``command`` just printed, checking that stderr
    holds exactly ``error: <reason>`` and :func:`usage_hint`, and nothing else."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert err.endswith("\n") and len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1] == usage_hint(command), err
    return lines[0].removeprefix("error: ")


def refusal(capsys, command: str = "") -> str:
    """The reason of the refusal of ``command`` just printed, in either form: our own check's
    single ``error:`` line, or an argument error (:func:`argument_error`)."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines and lines[0].startswith("error: "), err
    assert lines[1:] in ([], [usage_hint(command)]), err
    return lines[0].removeprefix("error: ")
