"""`inpaint --option weights_path=FILE` naming another model's installed, sound checkpoint:
the error says whose checkpoint it is and never advises removing that model; a wrong file in
the engine's own slot still gets the commands that replace it."""

from __future__ import annotations

import torch

import main
from cli import EXIT_USAGE
from engines import weights
from tests.cli.pictures import photo_and_mask
from tests.engines.test_deepfill_v2 import pt_state
from tests.engines.test_migan import random_generator


def install(weights_id: str, state) -> str:
    """Save ``state`` as ``weights_id``'s installed file (by hand, as a copy would); its path."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return str(path)


def inpaint(tmp_path, engine: str, *options: str) -> int:
    photo, mask = photo_and_mask(tmp_path)
    return main.main(["inpaint", str(photo), str(mask), "-o", str(tmp_path / "out.png"),
                      "--device", "cpu", "--engine", engine,
                      *(part for option in options for part in ("--option", option))])


def last_error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_another_models_sound_checkpoint_is_named_not_removed(model_cache, tmp_path, capsys):
    migan = install("migan-256-places2", random_generator(256).state_dict())
    install("deepfill2-places2", {"G": pt_state(4)})
    assert main.main(["models", "verify", "--deep", "migan-256-places2"]) == 0
    capsys.readouterr()
    assert inpaint(tmp_path, "deepfill2", f"weights_path={migan}") == EXIT_USAGE
    error = last_error(capsys)
    assert error.startswith(f"error: {migan} does not fit DeepFillV2 (missing: ")
    assert error.endswith("): it is the MI-GAN 256 (Places2) checkpoint (migan-256-places2), "
                          "not one for DeepFillV2; give this engine its own weights")
    assert "models remove" not in error
    assert not (tmp_path / "out.png").exists()
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED


def test_a_wrong_file_in_the_slot_named_gets_the_replace_commands(model_cache, tmp_path,
                                                                 capsys):
    spec = weights.get_spec("deepfill2-places2")
    slot = install(spec.id, random_generator(256).state_dict())  # MI-GAN's tensors, misplaced
    assert inpaint(tmp_path, "deepfill2", f"weights_path={slot}") == EXIT_USAGE
    error = last_error(capsys)
    assert error.startswith(f"error: {slot} does not fit DeepFillV2 (missing: ")
    assert error.endswith(f"): it is not the {spec.title} checkpoint; "
                          f"{weights.replace_commands(spec)}")
