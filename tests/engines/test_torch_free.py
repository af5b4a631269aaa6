"""What needs no network imports no torch (about 2 s and 500 MB): listing the engines and the
checkpoints, the classical engines' runs (telea, ns, patchmatch), the regions parser, a
folder run and a watermark removal. The plugin walk leaves out the modules that import torch
(``HELPER_MODULES``); a neural engine imports its network when it builds one, and keeps its
networks' names importable.

The commands run in a fresh interpreter, since this one imported torch long ago.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import engines.classical.patchmatch
import engines.neural
import engines.segmentation
from engines import registry, weights
from engines.fileio import load_image, save_image
from engines.segmentation.base import parser_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (engines.classical.patchmatch, engines.neural, engines.segmentation)
# a module that registers engines, its helper holding the networks, names found in both
LAZY_NAMES = [
    ("engines.neural.deepfill_v1", "engines.neural.deepfill_v1_network", "DeepFillV1"),
    ("engines.neural.deepfill_v2", "engines.neural.deepfill_v2_network", "DeepFillV2"),
    ("engines.neural.deepfill_v2", "engines.neural.deepfill_v2_network", "refine_on_box"),
    ("engines.neural.edgeconnect", "engines.neural.edgeconnect_network", "EdgeConnectNetwork"),
    ("engines.neural.semantic", "engines.neural.semantic_network", "SemanticInpaintNet"),
    ("engines.segmentation.deeplab", "engines.segmentation.deeplab_network", "MultiScale"),
]


def _in_fresh_python(code: str, folder: Path) -> str:
    """Run ``code`` in a new interpreter in the repository, ``folder`` holding its model
    cache and (empty) user plugin folder; its stdout."""
    script = textwrap.dedent("""
        import sys
        import cli
    """) + textwrap.dedent(code)
    (folder / "plugins").mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), INPAINT_STUDIO_MODELS=str(folder / "models"),
               INPAINT_STUDIO_PLUGINS=str(folder / "plugins"))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _picture(folder: Path, name: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:40, 0:48]
    image = np.stack([x * 5, y * 6, np.full_like(x, 90)], axis=-1) + rng.integers(0, 20, (40, 48, 3))
    image[4:10, 6:30] = 250  # the same light band in each: a watermark
    path = folder / name
    save_image(path, image.clip(0, 255).astype(np.uint8))
    return path


def test_listings_classical_runs_and_the_regions_parser_import_no_torch(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for seed in range(5):
        _picture(pictures, f"photo{seed}.png", seed)
    mask = np.zeros((40, 48), np.uint8)
    mask[15:28, 18:32] = 255
    save_image(tmp_path / "mask.png", mask)
    out = _in_fresh_python(f"""
        from pathlib import Path
        folder = Path({str(tmp_path)!r})
        picture, mask = str(folder / "pictures" / "photo0.png"), str(folder / "mask.png")
        runs = [["engines"], ["models", "list"]]
        for engine in ("telea", "ns", "patchmatch"):
            runs.append(["inpaint", picture, mask, "--engine", engine,
                         "-o", str(folder / f"{{engine}}.png")])
        runs += [["inpaint", picture, mask, "--engine", "telea", "--device", "cpu",
                  "-o", str(folder / "telea-cpu.png")],
                 ["segment", picture, "--parser", "regions", "-o", str(folder / "labels.png")],
                 ["batch", "--images", str(folder / "pictures"), "--mask", mask,
                  "--engine", "patchmatch", "-o", str(folder / "batch")],
                 ["watermark", "--images", str(folder / "pictures"), "--engine", "telea",
                  "-o", str(folder / "cleared")]]
        for argv in runs:
            print("ran", argv[0], cli.main(argv), "torch" in sys.modules)
    """, tmp_path)
    ran = [line.removeprefix("ran ") for line in out.splitlines() if line.startswith("ran ")]
    assert ran == ["engines 0 False", "models 0 False", "inpaint 0 False", "inpaint 0 False",
                   "inpaint 0 False", "inpaint 0 False", "segment 0 False", "batch 0 False",
                   "watermark 0 False"]
    for line in ("patchmatch", "telea", "ns", "deepfill2", "lama", "semantic"):
        assert f"\n{line} " in out  # the engines listed, the neural ones among them
    assert "deepfill2-places2" in out and "face-bisenet" in out  # the checkpoints listed
    image = load_image(tmp_path / "pictures" / "photo0.png").rgb
    known = mask == 0
    for name in ("telea", "ns", "patchmatch", "telea-cpu"):
        filled = load_image(tmp_path / f"{name}.png").rgb
        assert np.array_equal(filled[known], image[known])
        assert not np.array_equal(filled[~known], image[~known])
    assert sorted(path.name for path in (tmp_path / "batch").iterdir()) == [
        f"photo{seed}.png" for seed in range(5)]
    assert len(list((tmp_path / "cleared").iterdir())) == 5
    assert (tmp_path / "labels.png").is_file()


def test_a_neural_engine_imports_torch_when_it_builds_its_network(tmp_path):
    """The positive control: the engine is created and says it is ready without torch; its
    network (built, loaded from a checkpoint) brings torch in, and the run fills the hole."""
    from engines.neural.deepfill_v2_network import DeepFillV2

    checkpoint = tmp_path / "states_pt_test.pth"
    torch.save({"G": DeepFillV2().state_dict()}, checkpoint)
    _picture(tmp_path, "photo.png", 0)
    mask = np.zeros((40, 48), np.uint8)
    mask[15:28, 18:32] = 255
    save_image(tmp_path / "mask.png", mask)
    out = _in_fresh_python(f"""
        from pathlib import Path
        from engines import registry
        folder = Path({str(tmp_path)!r})
        engine = registry.create("deepfill2", weights_path=str(folder / "states_pt_test.pth"))
        print("ready", engine.status().ready, "torch" in sys.modules)
        network = engine.create_network()
        print("built", type(network).__module__, "torch" in sys.modules)
        code = cli.main(["inpaint", str(folder / "photo.png"), str(folder / "mask.png"),
                         "--engine", "deepfill2", "--option",
                         "weights_path=" + str(folder / "states_pt_test.pth"),
                         "-o", str(folder / "filled.png")])
        print("inpaint", code)
    """, tmp_path)
    said = [line for line in out.splitlines() if line.startswith(("ready ", "built ", "inpaint "))]
    assert said == ["ready True False",
                    "built engines.neural.deepfill_v2_network True",
                    "inpaint 0"]
    image, filled = (load_image(tmp_path / name).rgb for name in ("photo.png", "filled.png"))
    assert np.array_equal(filled[mask == 0], image[mask == 0])
    assert not np.array_equal(filled[mask > 0], image[mask > 0])


def test_the_helper_modules_exist_and_register_nothing():
    """A helper module is left out of the plugin walk: one that registered an engine, a
    parser or a checkpoint would be missing from the lists until something imported it."""
    known = (registry.names(), [spec.id for spec in weights.all_specs()], parser_names())
    helpers = [f"{package.__name__}.{name}" for package in PACKAGES
               for name in package.HELPER_MODULES]
    assert len(helpers) == 11
    for name in helpers:
        importlib.import_module(name)  # each exists
    assert (registry.names(), [spec.id for spec in weights.all_specs()],
            parser_names()) == known


@pytest.mark.parametrize("owner, helper, name", LAZY_NAMES)
def test_the_networks_names_are_found_where_they_were(owner, helper, name):
    module = importlib.import_module(owner)
    assert getattr(module, name) is getattr(importlib.import_module(helper), name)
    with pytest.raises(AttributeError, match=f"module '{owner}' has no attribute 'nothing'"):
        module.nothing  # noqa: B018
