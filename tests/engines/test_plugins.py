"""Plugin modules: one that cannot be loaded is left out and named, the rest load.

The modules are written into a folder searched as part of ``engines.classical`` (as if
dropped into the package) and imported by the real mechanism, :mod:`engines.plugins`.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engines import plugins, registry, weights
from engines.registry import UnknownEngineError
from engines.segmentation import base as parsers

PLUGIN_PACKAGE = "engines.classical"
PARSER_PACKAGE = "engines.segmentation"

# engines that each misbehave in one way, as plugin authors do (tests of the region
# machinery, the worker, the controller and the CLI load them through the plugin folder)
MISBEHAVING = '''
import threading

import numpy as np

from engines.base import Engine, RegionStage
from engines.registry import register

INSIDE = threading.Event()  # set when qa-stuck has begun
GATE = threading.Event()  # qa-stuck waits for it, paying no heed to cancelling


@register
class QaFloat(Engine):
    name, title = "qa-float", "QA float output"

    def inpaint_region(self, region, cancel):
        out = region.image.astype(np.float32) / 255.0
        out[region.hole] = 0.5
        yield RegionStage("refined", out, 1.0, final=True)


@register
class QaReturn(Engine):
    name, title = "qa-return", "QA returns an array"

    def inpaint_region(self, region, cancel):
        return region.image.copy()


@register
class QaRaises(Engine):
    name, title = "qa-raises", "QA raises"

    def inpaint_region(self, region, cancel):
        yield RegionStage("coarse", region.image.copy(), 0.5)
        raise ZeroDivisionError("plugin bug: division by zero in step 2")


@register
class QaStuck(Engine):
    name, title = "qa-stuck", "QA never cancels"

    def inpaint_region(self, region, cancel):
        INSIDE.set()
        GATE.wait(30)
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)
'''

GOOD = '''
from engines.base import Engine, RegionStage
from engines.registry import register


@register
class QaGood(Engine):
    name, title = "qa-good", "QA good"

    def inpaint_region(self, region, cancel):
        out = region.image.copy()
        out[region.hole] = 77
        yield RegionStage("refined", out, 1.0, final=True)
'''

# one engine, then one whose name (and class name) the built-in OpenCV Telea holds
DUPLICATE = '''
from engines.base import Engine, RegionStage
from engines.registry import register


@register
class QaFirst(Engine):
    name = "qa-first"

    def inpaint_region(self, region, cancel):
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)


@register
class TeleaEngine(Engine):
    name, title = "telea", "My Telea"

    def inpaint_region(self, region, cancel):
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)
'''

# a parser the built-in parser packages do not have
GOOD_PARSER = '''
import numpy as np

from engines.segmentation.base import LabelSet, Parser, register_parser


@register_parser
class QaHalves(Parser):
    name, title = "qa-halves", "QA halves"
    label_set = LabelSet("qa-halves", ("left", "right"),
                         np.array([[255, 0, 0], [0, 0, 255]], np.uint8))

    def parse(self, image, cancel=None, progress=None):
        labels = np.zeros(image.shape[:2], np.uint8)
        labels[:, image.shape[1] // 2:] = 1
        return labels
'''

# registers an engine, a parser and a checkpoint spec, then fails: none of them may stay
REGISTERS_THEN_RAISES = '''
from engines.base import Engine, RegionStage
from engines.registry import register
from engines.segmentation.base import Parser, register_parser
from engines.weights import WeightSpec, register_spec

register_spec(WeightSpec("qa-half-weights", "qa-half", "QA half", "qa-half.pth"))


@register
class QaHalf(Engine):
    name, title = "qa-half", "QA half made"

    def inpaint_region(self, region, cancel):
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)


@register_parser
class QaHalfParser(Parser):
    name, title = "qa-half-parser", "QA half-made parser"
    label_set = None

    def parse(self, image, cancel=None, progress=None):
        raise AssertionError("never loaded")


raise RuntimeError("no licence key found")
'''

# one parser of its own, then one under the built-in colour regions parser's name
TAKES_A_PARSERS_NAME = '''
from engines.segmentation.base import Parser, register_parser


@register_parser
class QaOwnParser(Parser):
    name, title = "qa-own", "QA own parser"
    label_set = None

    def parse(self, image, cancel=None, progress=None):
        raise AssertionError("never loaded")


@register_parser
class QaTakesRegions(QaOwnParser):
    name, title = "regions", "My regions"
'''

BROKEN = {  # file stem -> (source, how the reason starts)
    "qa_syntax": ("def broken(:\n", "SyntaxError: "),
    "qa_missing_dependency": ("import qa_not_installed_dependency  # noqa\n",
                              "ModuleNotFoundError: No module named "
                              "'qa_not_installed_dependency'"),
    "qa_raises_on_import": ("raise RuntimeError('no licence key found')\n",
                            "RuntimeError: no licence key found"),
    "qa_duplicate": (DUPLICATE, "ValueError: engine name 'telea' is taken by OpenCV Telea "
                                "(engines.classical.opencv.TeleaEngine)"),
}


def _restore_registries(monkeypatch) -> None:
    """Have the engines, parsers and checkpoint specs registered now (the built-in ones
    first, as at start-up) come back after the test, whatever it registered."""
    registry.discover()
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))
    monkeypatch.setattr(parsers, "_PARSERS", dict(parsers._PARSERS))
    monkeypatch.setattr(weights, "_SPECS", dict(weights._SPECS))


def _package_folder(tmp_path, monkeypatch, package_name: str):
    """A folder searched as part of the package ``package_name``, with the plugin
    machinery starting afresh (the packages walked again, no problems recorded) and the
    registries restored afterwards."""
    _restore_registries(monkeypatch)
    folder = tmp_path / f"{package_name} plugins"
    folder.mkdir()
    package = importlib.import_module(package_name)
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
    monkeypatch.setattr(plugins, "_walked", set())
    monkeypatch.setattr(plugins, "_problems", {})
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith(package_name + "."):
            del sys.modules[name]
            if hasattr(package, name.rpartition(".")[2]):
                delattr(package, name.rpartition(".")[2])


@pytest.fixture(name="plugin_folder")
def plugin_folder_fixture(tmp_path, monkeypatch):
    """A folder searched as part of ``engines.classical`` (see :func:`_package_folder`)."""
    yield from _package_folder(tmp_path, monkeypatch, PLUGIN_PACKAGE)


@pytest.fixture(name="parser_plugin_folder")
def parser_plugin_folder_fixture(tmp_path, monkeypatch):
    """A folder searched as part of ``engines.segmentation``, the parser package (see
    :func:`_package_folder`)."""
    yield from _package_folder(tmp_path, monkeypatch, PARSER_PACKAGE)


def write_plugin(folder: Path, stem: str, source: str) -> Path:
    path = folder / f"{stem}.py"
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return path


BUILT_IN = ("telea", "ns", "patchmatch")


@pytest.mark.parametrize("stem", list(BROKEN))
def test_a_module_that_cannot_be_loaded_is_left_out_and_named(plugin_folder, stem):
    source, reason = BROKEN[stem]
    broken = write_plugin(plugin_folder, stem, source)
    write_plugin(plugin_folder, "qa_z_good", GOOD)  # walked after the broken one
    names = registry.names()
    assert set(BUILT_IN) <= set(names) and "qa-good" in names
    assert registry.engine_class("telea").__module__ == "engines.classical.opencv"
    [problem] = registry.load_problems()
    assert Path(problem.path) == broken and problem.module == f"{PLUGIN_PACKAGE}.{stem}"
    assert problem.reason.startswith(reason) and "\n" not in problem.reason
    assert str(problem) == f"{broken}: {problem.reason}"
    assert weights.all_specs()  # the model list (which imports the packages too) works


def test_engines_a_refused_module_registered_are_dropped_with_it(plugin_folder):
    write_plugin(plugin_folder, "qa_duplicate", DUPLICATE)
    names = registry.names()
    assert "qa-first" not in names  # registered before the clash, but its module failed
    assert registry.engine_class("telea").title == "OpenCV Telea"


def _assert_taken_back() -> None:
    """Nothing of :data:`REGISTERS_THEN_RAISES` stays registered."""
    assert "qa-half" not in registry.names()
    assert "qa-half-parser" not in parsers.parser_names()
    assert parsers._PARSERS["regions"].__module__ == "engines.segmentation.regions"
    assert "qa-half-weights" not in {spec.id for spec in weights.all_specs()}


def test_a_parser_under_a_built_in_parsers_name_is_refused_with_its_module(
        parser_plugin_folder):
    built_in = parsers._PARSERS["regions"]
    refused = write_plugin(parser_plugin_folder, "qa_takes_regions", TAKES_A_PARSERS_NAME)
    names = parsers.parser_names()
    assert "qa-own" not in names  # registered before the clash, but its module failed
    assert parsers._PARSERS["regions"] is built_in
    assert built_in.__module__ == "engines.segmentation.regions"
    [problem] = plugins.parser_load_problems()
    assert Path(problem.path) == refused
    assert problem.reason == (f"ValueError: parser name 'regions' is taken by {built_in.title} "
                              "(engines.segmentation.regions.RegionParser); choose another "
                              "name")


def test_a_parser_module_loaded_again_registers_its_parsers_again(parser_plugin_folder):
    write_plugin(parser_plugin_folder, "qa_halves", GOOD_PARSER)
    assert "qa-halves" in parsers.parser_names()
    reloaded = importlib.reload(sys.modules[f"{PARSER_PACKAGE}.qa_halves"])
    assert parsers._PARSERS["qa-halves"] is reloaded.QaHalves  # the same class, made anew
    assert not plugins.load_problems()


@pytest.mark.parametrize("fixture", ["plugin_folder", "parser_plugin_folder"])
def test_a_module_that_fails_takes_back_all_it_registered(request, fixture):
    folder = request.getfixturevalue(fixture)
    failed = write_plugin(folder, "qa_half_made", REGISTERS_THEN_RAISES)
    _assert_taken_back()
    [problem] = registry.load_problems()
    assert Path(problem.path) == failed
    assert problem.reason == "RuntimeError: no licence key found"


def test_what_a_loaded_module_registered_stays_when_one_importing_it_fails(plugin_folder):
    """A module the failed one imported (first) loaded: it keeps its engine and spec."""
    write_plugin(plugin_folder, "qa_z_helper", GOOD + '''
from engines.weights import WeightSpec, register_spec

register_spec(WeightSpec("qa-helper-weights", "qa-good", "QA helper", "qa-helper.pth"))
''')
    write_plugin(plugin_folder, "qa_a_importer", f"import {PLUGIN_PACKAGE}.qa_z_helper  # noqa\n"
                                                 "raise RuntimeError('no licence key found')\n")
    assert "qa-good" in registry.names()  # walked after the importer: never imported again
    assert "qa-helper-weights" in {spec.id for spec in weights.all_specs()}
    assert [problem.module for problem in registry.load_problems()] == \
        [f"{PLUGIN_PACKAGE}.qa_a_importer"]


def test_only_problems_of_modules_that_may_hold_parsers_are_parser_problems(
        plugin_folder, parser_plugin_folder):
    write_plugin(plugin_folder, "qa_syntax", BROKEN["qa_syntax"][0])
    parser_module = write_plugin(parser_plugin_folder, "qa_half_made", REGISTERS_THEN_RAISES)
    write_plugin(parser_plugin_folder, "qa_z_halves", GOOD_PARSER)
    assert "qa-halves" in parsers.parser_names()
    assert len(plugins.load_problems()) == 2
    assert [Path(p.path) for p in plugins.parser_load_problems()] == [parser_module]


def test_a_package_that_cannot_be_loaded_is_named_by_its_init(plugin_folder):
    package = plugin_folder / "qa_package"
    package.mkdir()
    (package / "__init__.py").write_text("import qa_not_installed_dependency  # noqa\n")
    (package / "engine.py").write_text(textwrap.dedent(GOOD))
    importlib.invalidate_caches()
    assert set(BUILT_IN) <= set(registry.names()) and "qa-good" not in registry.names()
    [problem] = registry.load_problems()
    assert Path(problem.path) == package / "__init__.py"


def test_a_module_is_tried_once_and_reported_once(plugin_folder):
    write_plugin(plugin_folder, "qa_raises_on_import", BROKEN["qa_raises_on_import"][0])
    registry.names()
    weights.all_specs()  # walks the engine packages with the parser packages
    registry.names()
    assert len(registry.load_problems()) == 1


def test_an_unknown_engine_names_the_modules_left_out(plugin_folder):
    write_plugin(plugin_folder, "qa_missing_dependency",
                 BROKEN["qa_missing_dependency"][0])
    with pytest.raises(UnknownEngineError) as raised:
        registry.engine_class("qa-missing")
    message = str(raised.value)
    assert "Available: " in message and "telea" in message
    assert (f"not loaded: {plugin_folder / 'qa_missing_dependency.py'}: ModuleNotFoundError"
            in message)


def test_without_problems_nothing_is_reported(plugin_folder):
    write_plugin(plugin_folder, "qa_z_good", GOOD)
    assert "qa-good" in registry.names() and registry.load_problems() == []


def test_modules_of_the_project_are_shown_relative_to_it():
    """A module inside the project is named as the README's layout names it."""
    assert plugins._shown_path("engines.classical.opencv") == "engines/classical/opencv.py"


# ------------------------------------------------------------------- user plugin folder
@pytest.fixture(name="user_plugins")
def user_plugins_fixture(tmp_path, monkeypatch):
    """An empty user plugin folder named by ``INPAINT_STUDIO_PLUGINS``, loaded afresh (after
    the built-in packages) at the next discovery; registries and problems restored after."""
    _restore_registries(monkeypatch)
    folder = tmp_path / "my plugins"
    folder.mkdir()
    monkeypatch.setenv(plugins.PLUGINS_ENV, str(folder))
    monkeypatch.setattr(plugins, "_walked", set(plugins._walked) - {plugins.USER_PLUGIN_PACKAGE})
    monkeypatch.setattr(plugins, "_problems", {})
    yield folder
    for name in [n for n in sys.modules if n.startswith(plugins.USER_PLUGIN_PACKAGE + ".")]:
        del sys.modules[name]


def test_a_user_plugin_file_adds_an_engine_and_runs(user_plugins, textured):
    from engines.base import InpaintRequest

    write_plugin(user_plugins, "my_engine", GOOD)
    write_plugin(user_plugins, "_helpers", "raise RuntimeError('never loaded')\n")
    assert "qa-good" in registry.names() and registry.load_problems() == []
    mask = np.zeros(textured.shape[:2], np.uint8)
    mask[20:40, 30:60] = 255
    stages = list(registry.create("qa-good").run(InpaintRequest(textured, mask)))
    assert stages[-1].final
    assert np.array_equal(stages[-1].image[mask == 0], textured[mask == 0])


def test_a_user_plugin_never_takes_a_built_in_name_and_a_broken_one_is_named(user_plugins):
    taken = write_plugin(user_plugins, "a_first_by_name", DUPLICATE)
    broken = write_plugin(user_plugins, "b_broken", "def broken(:\n")
    write_plugin(user_plugins, "c_good", GOOD)
    assert "qa-good" in registry.names()
    assert registry.engine_class("telea").__module__ == "engines.classical.opencv"
    problems = {Path(p.path): p.reason for p in registry.load_problems()}
    assert set(problems) == {taken, broken}
    assert problems[taken].startswith("ValueError: engine name 'telea' is taken by OpenCV")
    assert problems[broken].startswith("SyntaxError: ")


def test_a_user_plugin_that_fails_takes_back_all_it_registered(user_plugins):
    failed = write_plugin(user_plugins, "half_made", REGISTERS_THEN_RAISES)
    _assert_taken_back()
    [problem] = plugins.parser_load_problems()  # a user's file may hold parsers
    assert Path(problem.path) == failed
    assert problem.module == f"{plugins.USER_PLUGIN_PACKAGE}.half_made"
    assert f"{plugins.USER_PLUGIN_PACKAGE}.half_made" not in sys.modules


def test_the_user_plugin_folder_defaults_to_the_user_data_folder(monkeypatch):
    from platformdirs import user_data_path

    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    assert plugins.user_plugin_folder() == \
        user_data_path("inpaint-studio", appauthor=False) / "plugins"
    monkeypatch.setenv(plugins.PLUGINS_ENV, "~/elsewhere")
    assert plugins.user_plugin_folder() == Path("~/elsewhere").expanduser()
