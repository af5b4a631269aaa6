"""OptionSpec: the options engines offer users, their help lines and which values they accept."""

from __future__ import annotations

from engines import registry
from engines.base import OptionSpec

SIZE = OptionSpec("patch_size", "Patch size", 7, "patch side", minimum=3, maximum=31, step=2)
STRENGTH = OptionSpec("strength", "Strength", 1.0, minimum=0.0, maximum=10.0, step=0.5)
HALF = OptionSpec("half", "Precision", None, choices=((None, "auto"), (True, "reduced"),
                                                       (False, "full")))
FAST = OptionSpec("fast", "Fast", False)


def test_numbers_are_accepted_on_their_grid_and_in_range():
    assert all(SIZE.accepts(v) for v in (3, 7, 31))
    assert not any(SIZE.accepts(v) for v in (1, 8, 33, 7.0, True, "7", None))
    assert all(STRENGTH.accepts(v) for v in (0, 0.3, 10.0))  # any decimal in range
    assert not any(STRENGTH.accepts(v) for v in (-0.1, 10.5, False, "1"))


def test_nearest_moves_a_number_onto_the_grid_in_range():
    spec = OptionSpec("n", "N", 7, minimum=3, maximum=31, step=2)
    assert [spec.nearest(v) for v in (1, 3, 4, 8, 30, 99)] == [3, 3, 5, 9, 31, 31]


def test_choices_and_booleans_accept_only_their_own_values():
    assert all(HALF.accepts(v) for v in (None, True, False))
    assert not any(HALF.accepts(v) for v in (1, 0, "auto"))  # 1 == True, but not a choice
    assert FAST.accepts(True) and FAST.accepts(False) and not FAST.accepts(1)


def test_describe_gives_the_cli_spelling():
    assert SIZE.describe() == "patch_size=3..31 by 2 (default 7): patch side"
    assert STRENGTH.describe() == "strength=0..10 (default 1)"
    assert HALF.describe() == "half=auto|true|false (default auto)"
    assert FAST.describe() == "fast=true|false (default false)"


def test_every_engines_defaults_are_acceptable_values():
    for cls in registry.engine_classes():
        for spec in cls.user_options():
            assert spec.accepts(spec.default), (cls.name, spec.key)
            assert spec.title and spec.key
