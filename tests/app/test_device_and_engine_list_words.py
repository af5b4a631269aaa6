"""The editor's words where the command line's would mislead: a Device (Engine panel) this
machine lacks names that setting, not ``--device``; the engine list says what an engine that
is not ready lacks as ``engines`` and ``models list`` do (damaged, manual import, needs
download); Models → Import file… of a copy cut short says so; another model's checkpoint
given to an engine is named, with no advice to remove it."""

from __future__ import annotations

import pytest

from app.model_dialogs import (
    DEVICE_ADVICE,
    ModelManagerDialog,
    gui_error_text,
    readiness_word,
    weights_error_text,
)
from app.panels import EnginePanel
from engines import download, weights
from engines.base import Readiness
from engines.device import DeviceUnavailableError, pick_device
from tests.app.test_fill_weights_missing import on_a_hole
from tests.engines.test_device_unavailable import (  # noqa: F401 - a fixture
    CUDA,
    MPS,
    no_accelerator,
)
from tests.engines.test_weights import URL, state_dict_file
from tests.engines.test_weights_other_model import big_checkpoint, fits_conv

pytestmark = pytest.mark.timeout(120)


# --- Device -------------------------------------------------------------------------------


@pytest.mark.parametrize("device,reason", [("cuda", CUDA), ("mps", MPS)])
def test_a_missing_device_names_the_engine_panels_setting(
        no_accelerator, device, reason):  # noqa: F811 - the fixture
    with pytest.raises(DeviceUnavailableError) as raised:
        pick_device(device)
    assert DEVICE_ADVICE == "choose auto or cpu under Device in the Engine panel"
    expected = f"{reason}; choose auto or cpu under Device in the Engine panel"
    assert weights_error_text(raised.value) == expected
    assert gui_error_text(raised.value) == expected
    assert "--device" not in expected and "--device cpu" in str(raised.value)


@pytest.mark.parametrize("device,reason", [("cuda", CUDA), ("mps", MPS)])
def test_a_fill_on_a_missing_device_says_where_to_choose_another(
        qtbot, window, no_accelerator, device, reason):  # noqa: F811 - the fixture
    on_a_hole(window)
    panel = window.engine_panel
    assert panel.select_engine("patchmatch")
    panel.device.setCurrentText(device)
    assert window.controller.settings.device == device
    assert window.fill() is not None
    qtbot.waitUntil(lambda: window.last_error != "", timeout=60000)
    said = f"{reason}; choose auto or cpu under Device in the Engine panel"
    assert window.last_error == said
    assert window.statusBar().currentMessage() == f"Error: {said}"
    assert not window.controller.has_result


# --- the engine list ---------------------------------------------------------------------------


def listed(panel: EnginePanel, name: str) -> str:
    return panel.engine.itemText(panel.engine.findData(name))


def test_the_engine_list_says_each_engines_install_state(qtbot, model_cache):
    slot = weights.local_path("deepfill2-places2")
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # a zip cut short
    assert weights.installation("deepfill2-places2").state is weights.InstallState.DAMAGED
    panel = EnginePanel()
    qtbot.addWidget(panel)
    assert listed(panel, "telea") == "OpenCV Telea"
    assert listed(panel, "deepfill2") == "DeepFill v2 (Places2) (damaged)"
    assert not weights.get_spec("migan-256-ffhq").urls
    assert listed(panel, "migan-ffhq") == "MI-GAN 256 (faces) (manual import)"
    assert listed(panel, "migan-256") == "MI-GAN 256 (Places2) (manual import)"
    assert listed(panel, "lama") == "LaMa (big) (needs download)"
    # no download address of its own, but a downloadable TorchScript export does its job
    assert listed(panel, "migan") == "MI-GAN 512 (Places2) (needs download)"
    # the words match what the panel says below the list
    panel.select_engine("deepfill2")
    assert panel.status.text().startswith("Its weights file is damaged: ")
    panel.select_engine("migan-ffhq")
    assert panel.status.text().startswith("Its weights are not installed: File → Models… says "
                                          "where to get them")
    # once installed and sound, no state at all
    slot.unlink()
    panel.reload_engines()
    assert listed(panel, "deepfill2") == "DeepFill v2 (Places2) (needs download)"


def test_the_state_word_of_other_readinesses(model_cache, make_spec):
    spec = make_spec(urls=(URL,))
    assert readiness_word(Readiness.NEEDS_DOWNLOAD, (spec.id,)) == "needs download"
    manual = make_spec()
    assert readiness_word(Readiness.NEEDS_DOWNLOAD, (manual.id,)) == "manual import"
    assert readiness_word(Readiness.NEEDS_DOWNLOAD, (spec.id, manual.id)) == "needs download"
    assert readiness_word(Readiness.NEEDS_TRAINING, (manual.id,)) == "needs training"
    assert readiness_word(Readiness.UNAVAILABLE, (manual.id,)) == "unavailable"
    assert readiness_word(Readiness.NEEDS_DOWNLOAD, ("no-such-checkpoint",)) == "needs download"


# --- Models → Import file… ---------------------------------------------------------------


def test_importing_a_copy_cut_short_says_so(qtbot, make_spec, tmp_path):
    whole = big_checkpoint(tmp_path)
    spec = make_spec(title="Conv net", size=whole.stat().st_size)
    cut = tmp_path / "copy.pth"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 3])
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    transfer = dialog.import_from(spec.id, cut)
    qtbot.waitUntil(lambda: not transfer.running, timeout=20000)
    assert transfer.heading.text() == (
        f"Failed: Conv net: copy.pth is a zip archive cut short "
        f"({weights.format_size(cut.stat().st_size)}), as an interrupted download or copy "
        "leaves it")
    assert not weights.local_path(spec.id).exists()


# --- another model's checkpoint ------------------------------------------------------------


def test_another_models_checkpoint_is_said_without_replacing_it(model_cache, make_spec,
                                                                tmp_path):
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=fits_conv)
    path = download.import_file(spec.id, state_dict_file(tmp_path))
    error = weights.mismatch_error(path, "the dense network", "missing: dense.weight",
                                   own=())
    said = weights_error_text(error)
    assert said == (f"{path.absolute()} does not fit the dense network (missing: dense.weight): "
                    f"it is the Conv net checkpoint ({spec.id}), not one for the dense "
                    "network; give this engine its own weights")
    assert "Models" not in said and "replace" not in said


def test_the_device_box_says_where_each_choice_runs_guided_patchmatch(qtbot):
    """auto keeps Guided PatchMatch on the CPU (its kernels beat its GPU solver), and the
    box says so: on the box and on each item, as ``_torch_device`` decides."""
    from PySide6.QtCore import Qt

    from engines.classical.patchmatch.engine import _torch_device

    panel = EnginePanel()
    qtbot.addWidget(panel)
    words = {panel.device.itemText(index): panel.device.itemData(index, Qt.ToolTipRole)
             for index in range(panel.device.count())}
    assert set(words) == {"auto", "cpu", "cuda", "mps"}
    assert all(words.values())
    assert _torch_device("auto", required=False) is None  # numba on the CPU, GPU or not
    assert "Guided PatchMatch on the CPU" in words["auto"]
    assert "Guided PatchMatch on the NVIDIA GPU" in words["cuda"]
    assert "PatchMatch stays on the CPU" in panel.device.toolTip()
