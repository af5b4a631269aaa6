"""OptionSpec: the options engines offer users, their help lines and which values they accept."""

from __future__ import annotations

import inspect
import re
import sys

import numpy as np
import pytest

from engines import registry
from engines.base import InpaintRequest, InputError, OptionSpec

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


def test_an_unknown_option_is_refused_with_the_closest_one():
    with pytest.raises(InputError, match=r"no option 'patch_sise'.*Did you mean 'patch_size'"):
        registry.create("patchmatch", patch_sise=9)
    # classical engines keep the known pixels at full resolution: no seam blend to set
    with pytest.raises(InputError, match="telea engine has no option 'seam_feather'"):
        registry.create("telea", seam_feather=4)
    with pytest.raises(InputError, match="lama engine has no option 'half'"):
        registry.create("lama", half=True)  # DeepFill's precision, not LaMa's
    # users' options and scripts' both pass
    assert registry.create("patchmatch", patch_size=9, backend="numba").options["backend"]
    assert registry.create("deepfill2", half=True, local=False, seam_feather=0.0,
                           weights_path="x.pth", device="cpu").options["local"] is False
    assert registry.create("lama", source="native", working_size=512).options


def test_every_option_an_engine_reads_is_a_known_one():
    """The keys read in an engine's modules (``options.get("key"``, ``_option(region,
    "key"``) are all declared, as user or script options: none can be refused by mistake."""
    reads = re.compile(r"""options(?:\.get\(|\[)\s*["'](\w+)["']|_option\(\w+, ["'](\w+)["']""")
    shared = ("engines.base", "engines.region")  # the region options: defaults apply

    def engine_modules(cls) -> set:
        """The modules of the class and its bases, and the engine modules they import from."""
        found = {sys.modules[base.__module__] for base in cls.__mro__
                 if base.__module__.startswith("engines.")}
        for module in list(found):
            found |= {sys.modules[value.__module__] for value in vars(module).values()
                      if inspect.isfunction(value) or inspect.isclass(value)
                      if value.__module__.startswith(("engines.neural", "engines.classical"))}
        return {module for module in found if module.__name__ not in shared}

    for cls in registry.engine_classes():
        modules = engine_modules(cls)
        keys = {key for module in modules for match in reads.finditer(inspect.getsource(module))
                for key in match.groups() if key}
        assert keys, cls.name  # the pattern finds what engines read
        assert keys <= cls.known_options(), (cls.name, keys - cls.known_options())


def test_a_request_option_the_engine_does_not_read_is_refused_before_running():
    """Options sent with a request (the editor sends the region's there) are checked too."""
    image = np.full((32, 32, 3), 120, np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[12:20, 12:20] = 255
    engine = registry.create("patchmatch")
    request = InpaintRequest(image, mask, options={"patch_sise": 9})
    with pytest.raises(InputError, match=r"no option 'patch_sise'.*Did you mean 'patch_size'"):
        next(engine.run(request))
    # the engine's own options and the region's pass, for every engine
    *_, final = engine.run(request.evolve(options={"patch_size": 9, "working_size": 32}))
    assert final.final and (final.image[mask == 0] == image[mask == 0]).all()
    *_, final = registry.create("telea").run(request.evolve(options={"seam_feather": 0.0}))
    assert final.final


def test_engines_refuse_option_values_their_specs_do_not_accept():
    """Construction checks values as the editor's fields and stored settings do."""
    for options, message in (({"patch_size": 8}, "patch_size takes 3..31 by 2"),
                             ({"patch_size": 11.5}, "patch_size takes 3..31 by 2"),
                             ({"sketch_strength": float("inf")}, "sketch_strength takes 0..10"),
                             ({"quality": "bestt"}, "quality takes fast|normal|best"),
                             ({"previews": "maybe"}, "previews takes true or false")):
        with pytest.raises(InputError, match=re.escape(message)):
            registry.create("patchmatch", **options)
    for radius in (0, -5, 100000, float("nan"), "abc"):
        with pytest.raises(InputError, match=re.escape("radius takes 1..50")):
            registry.create("telea", radius=radius)
    assert registry.create("telea", radius=50).options == {"radius": 50}


def test_option_texts_are_parsed_by_their_specs():
    assert SIZE.parse("9") == 9 and STRENGTH.parse("2") == 2.0
    assert type(STRENGTH.parse("2")) is float
    assert HALF.parse("auto") is None and HALF.parse("true") is True
    assert FAST.parse("false") is False
    for spec, text in ((SIZE, "abc"), (SIZE, "nan"), (SIZE, "9.5"), (STRENGTH, "inf"),
                       (HALF, "maybe"), (FAST, "1")):
        with pytest.raises(InputError, match=re.escape(f"option {spec.key}={text} is refused")):
            spec.parse(text)
    parsed = registry.engine_class("patchmatch").parse_options(
        {"patch_size": "9", "quality": "best", "backend": "numba"})
    assert parsed == {"patch_size": 9, "quality": "best", "backend": "numba"}
