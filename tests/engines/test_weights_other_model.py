"""A loader that finds an installed checkpoint's file does not fit its network
(:func:`engines.weights.mismatch_error`): the commands that replace the file only when the
file is not that checkpoint either; for another model's sound file (an engine's
``weights_path``) what it is, and no advice to remove it. And a file cut short is said so
before its size is found wrong (:func:`engines.weights.check_download`)."""

from __future__ import annotations

import pytest
import torch

from engines import download, weights
from engines.weights import CheckpointMismatchError, OtherModelsCheckpointError, WrongFileError
from tests.engines.test_weights import URL, commands, placed, state_dict_file


def fits_conv(path) -> None:
    """A ``check_contents`` whose network needs ``conv.weight`` (as a strict loader would)."""
    state = weights.load_checkpoint(path)
    if "conv.weight" not in state:
        raise weights.mismatch_error(path, "the conv network", "missing: conv.weight")


@pytest.fixture
def sound(make_spec, tmp_path):
    """(spec, its installed file): a checkpoint that passes its own ``check_contents``."""
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=fits_conv)
    return spec, download.import_file(spec.id, state_dict_file(tmp_path))


def test_another_models_sound_file_is_named_with_no_advice_to_remove_it(sound):
    spec, path = sound
    error = weights.mismatch_error(path, "the dense network", "missing: dense.weight",
                                   own=())
    assert type(error) is OtherModelsCheckpointError
    assert isinstance(error, CheckpointMismatchError)
    assert str(error) == (f"{path.absolute()} does not fit the dense network (missing: "
                          f"dense.weight): it is the Conv net checkpoint ({spec.id}), not one "
                          "for the dense network; give this engine its own weights")
    assert "models remove" not in str(error)
    # nothing installed is at fault: no checkpoint, no path, and loading it keeps it so
    assert error.weights_ids == () and error.path is None and error.reason == str(error)
    assert weights.attach_file(error, path) is error and error.weights_ids == ()
    with pytest.raises(OtherModelsCheckpointError) as raised, weights.naming_file(path):
        raise error
    assert raised.value.weights_ids == () and raised.value.path is None
    assert weights.installation(spec.id).state is weights.InstallState.INSTALLED


def test_a_file_in_the_slot_that_is_not_its_checkpoint_gets_the_commands(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=fits_conv)
    other = tmp_path / "dense.pth"
    torch.save({"dense.weight": torch.zeros(3, 3)}, other)
    path = placed(spec, other.read_bytes())
    error = weights.mismatch_error(path, "the dense network", "x", own=())  # fits, but is misplaced
    assert type(error) is CheckpointMismatchError
    assert str(error) == (f"{path.absolute()} does not fit the dense network (x): it is not the "
                          f"Conv net checkpoint; {commands(spec)}")
    assert error.weights_ids == (spec.id,) and error.path == path.absolute()


def test_the_checkpoints_own_loader_gets_the_commands_once(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=fits_conv)
    other = tmp_path / "dense.pth"
    torch.save({"dense.weight": torch.zeros(3, 3)}, other)
    path = placed(spec, other.read_bytes())
    with pytest.raises(CheckpointMismatchError) as raised:
        weights.verify(spec.id, deep=True)
    assert str(raised.value) == (f"{path.absolute()} does not fit the conv network (missing: "
                                 f"conv.weight): it is not the Conv net checkpoint; "
                                 f"{commands(spec)}")
    # and checking it to install it: the file to install, not the slot, is named
    with pytest.raises(CheckpointMismatchError) as raised:
        weights.check_checkpoint_file(spec, other)
    assert str(raised.value) == ("dense.pth is not the Conv net checkpoint: it does not fit "
                                 "the conv network (missing: conv.weight)")


def test_a_damaged_file_in_another_slot_gets_its_commands(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Conv net", check_contents=fits_conv)
    path = placed(spec, b"")  # the cheap checks refuse it before any load
    error = weights.mismatch_error(path, "the dense network", "x", own=())
    assert str(error).endswith(f": it is not the Conv net checkpoint; {commands(spec)}")


# --- a copy cut short, to import ----------------------------------------------------------


def big_checkpoint(folder):
    path = folder / "whole.pth"
    torch.save({"conv.weight": torch.rand(64, 64, 3, 3)}, path)
    return path


def test_a_cut_short_copy_is_said_to_be_cut_short_not_another_file(make_spec, tmp_path):
    whole = big_checkpoint(tmp_path)
    spec = make_spec(title="Conv net", size=whole.stat().st_size)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 3])
    with pytest.raises(WrongFileError) as raised:
        download.import_file(spec.id, cut)
    assert str(raised.value) == (f"cut.pth is a zip archive cut short "
                                 f"({weights.format_size(cut.stat().st_size)}), as an "
                                 "interrupted download or copy leaves it")
    assert not weights.local_path(spec.id).exists()


@pytest.mark.parametrize("case", ["smaller, not a zip", "larger zip"])
def test_a_file_of_another_size_is_still_not_the_right_file(make_spec, tmp_path, case):
    whole = big_checkpoint(tmp_path)
    size = whole.stat().st_size
    spec = make_spec(title="Conv net", size=size)
    other = tmp_path / "other.pth"
    if case == "larger zip":
        torch.save({"conv.weight": torch.rand(128, 64, 3, 3)}, other)
    else:
        other.write_bytes(b"\0" * (size // 3))
    with pytest.raises(WrongFileError) as raised:
        download.import_file(spec.id, other)
    assert str(raised.value) == (f"other.pth is {weights.format_size(other.stat().st_size)}, "
                                 f"but the Conv net checkpoint is about "
                                 f"{weights.format_size(size)}: not the right file")
