"""The README documents what the program really has: keys, engines, commands, pictures."""

from __future__ import annotations

import re

import cli
from app.shortcuts import markdown_table
from engines import registry
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_shortcut_table_is_the_programs_own():
    assert markdown_table() in README


def test_every_engine_and_command_is_documented():
    for name in registry.names():
        assert f"`{name}`" in README, name
    for command in cli.command_modules():
        assert f"main.py {command}" in README, command


def test_every_picture_the_readme_shows_exists():
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / target).is_file(), target


def test_the_two_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = ci.strip().splitlines()[-1]
    assert test_command in README
    assert "python main.py" in README and ".venv/bin/python main.py" in README
