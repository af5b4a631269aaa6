"""`models import ID FILE` of another model's installed, sound checkpoint: the error says whose
checkpoint it is and to choose ID's own file (not "give this engine its own weights": nothing
configures an engine here); nothing is installed and the other model is kept."""

from __future__ import annotations

import main
from cli import EXIT_USAGE
from engines import weights
from tests.cli.test_weights_path_other_model import install, last_error
from tests.engines.test_migan import random_generator


def test_importing_another_models_installed_file_says_to_choose_this_ones(model_cache,
                                                                          capsys):
    migan = install("migan-256-places2", random_generator(256).state_dict())
    assert main.main(["models", "import", "migan-512-places2", migan]) == EXIT_USAGE
    error = last_error(capsys)
    assert error.startswith("error: migan_256_places2.pt is not the MI-GAN 512 (Places2) "
                            "checkpoint: it does not fit the MI-GAN 512 generator (missing: ")
    assert error.endswith("): it is the MI-GAN 256 (Places2) checkpoint (migan-256-places2), "
                          "not one for the MI-GAN 512 generator; that checkpoint is installed "
                          "already: choose the MI-GAN 512 (Places2) file instead")
    assert "give this engine" not in error and "models remove" not in error
    assert not weights.local_path("migan-512-places2").exists()
    assert weights.installation("migan-256-places2").state is weights.InstallState.INSTALLED
