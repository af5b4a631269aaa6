"""The command line's words for a device this machine lacks (``--device cpu``) and for a
copy of a checkpoint cut short (``models import``)."""

from __future__ import annotations

import pytest
import torch

import main
from cli import EXIT_USAGE
from engines import weights
from tests.cli.pictures import photo_and_mask
from tests.engines.test_weights_other_model import big_checkpoint


@pytest.mark.parametrize("device,reason", [
    ("cuda", "CUDA was requested but no CUDA GPU is available"),
    ("mps", "MPS was requested but is not available on this machine")])
def test_inpaint_on_a_missing_device_names_the_flag(tmp_path, capsys, monkeypatch, device,
                                                    reason):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    photo, mask = photo_and_mask(tmp_path)
    out = tmp_path / "out.png"
    assert main.main(["inpaint", str(photo), str(mask), "-o", str(out), "--engine",
                      "patchmatch", "--device", device]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: {reason}; use --device cpu\n"
    assert not out.exists()


def test_models_import_of_a_copy_cut_short_says_so(make_spec, tmp_path, capsys):
    whole = big_checkpoint(tmp_path)
    spec = make_spec(title="Conv net", size=whole.stat().st_size)
    cut = tmp_path / "copy.pth"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 3])
    assert main.main(["models", "import", spec.id, str(cut)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: copy.pth is a zip archive cut short "
        f"({weights.format_size(cut.stat().st_size)}), as an interrupted download or copy "
        "leaves it\n")
    assert weights.installation(spec.id).state is weights.InstallState.MANUAL
