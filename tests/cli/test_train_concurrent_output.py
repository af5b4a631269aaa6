"""QA31: two `train semantic` runs on the same -o. A run holds the lock of its checkpoint file
throughout, so a second one is refused at once (exit 2) whatever its options, and the first
run's checkpoint is kept; a new run never replaces a file that appeared at -o meanwhile (it
saves beside it, and says so). A resumed run's bar says which step it prepares, once."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from engines.neural import semantic_training
from engines.neural.semantic import read_checkpoint
from engines.neural.semantic_training import output_lock
from tests.cli.test_qa28_leftovers import screen_lines, stderr_at_first_step
from tests.cli.test_train_labels_unreadable import labelled_pictures


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """Two 36x40 pictures and their 2-class label maps."""
    return labelled_pictures(tmp_path, [16, 20])


def _args(images: Path, labels: Path | None, output: Path, steps: int, *extra: str
          ) -> list[str]:
    given = ["--labels", str(labels)] if labels is not None else []
    return ["train", "semantic", "--images", str(images), *given, "--steps", str(steps),
            "--batch-size", "1", "--size", "32", "--channels", "4", "--device", "cpu",
            "--no-perceptual", "--no-install", "--save-every", "1", "-o", str(output), *extra]


def _busy(output: Path) -> str:
    return f"error: another training run is writing {output}; let it finish, or give another -o\n"


@pytest.mark.parametrize("extra", [(), ("--overwrite",), ("--resume",)])
def test_a_run_on_a_locked_output_is_refused_before_any_work(model_cache, folders, tmp_path,
                                                            capsys, extra):
    output = tmp_path / "run" / "model.pt"
    images, _labels = folders
    with output_lock(output):  # as a running `train semantic` holds it
        assert cli.main(_args(images, None, output, 1, *extra)) == EXIT_USAGE
    assert capsys.readouterr().err == _busy(output)
    assert not output.parent.exists()  # nothing labelled, nothing saved
    assert cli.main(_args(images, None, output, 1)) == EXIT_OK  # free again
    assert read_checkpoint(output)["meta"]["step"] == 1


def test_an_existing_checkpoint_being_written_is_refused_as_busy(model_cache, folders,
                                                                 tmp_path, capsys):
    """Not "already exists; resume it": resuming it would be refused too."""
    output = tmp_path / "model.pt"
    assert cli.main(_args(*folders, output, 1)) == EXIT_OK
    before = output.read_bytes()
    capsys.readouterr()
    with output_lock(output):
        for extra in ((), ("--resume",), ("--overwrite",)):
            assert cli.main(_args(*folders, output, 3, *extra)) == EXIT_USAGE
            assert capsys.readouterr().err == _busy(output)
    assert output.read_bytes() == before


def test_a_second_run_started_while_the_first_trains_is_refused(model_cache, folders,
                                                                tmp_path, capsys,
                                                                monkeypatch):
    output = tmp_path / "run" / "model.pt"
    second: list = []  # (exit code, stdout, stderr) of the run started during the first
    original = semantic_training._Trainer.train_step

    def step(self, *args):
        if not second:  # the first run is in its first step, holding the lock
            capsys.readouterr()
            code = cli.main(_args(*folders, output, 5, "--seed", "2"))
            second.append((code, *capsys.readouterr()))
        return original(self, *args)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    assert cli.main(_args(*folders, output, 2)) == EXIT_OK
    [(code, out, err)] = second
    assert (code, out, err) == (EXIT_USAGE, "", _busy(output))
    assert capsys.readouterr().out.startswith(f"saved {output} (step 2, ")
    assert read_checkpoint(output)["meta"]["step"] == 2  # the first run's, intact
    assert not list(output.parent.glob("model-*.pt"))
    assert not list(output.parent.glob("*.lock"))  # the lock file is not beside it
    assert semantic_training.output_lock_path(output).parent.parent == model_cache


def _written_meanwhile(output: Path, monkeypatch) -> Path:
    """``output``, which another program (taking no lock) writes at the first step."""
    original = semantic_training._Trainer.train_step

    def step(self, *args):
        if not output.exists():
            output.write_bytes(b"someone else's")
        return original(self, *args)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    return output


def test_a_file_appearing_at_o_is_kept_and_the_run_saved_beside_it(model_cache, folders,
                                                                  tmp_path, capsys,
                                                                  monkeypatch):
    """A program that takes no lock writes -o during a new run: its file stays."""
    output = _written_meanwhile(tmp_path / "model.pt", monkeypatch)
    assert cli.main(_args(*folders, output, 2)) == EXIT_OK
    beside = tmp_path / "model-2.pt"
    printed = capsys.readouterr()
    assert printed.out.startswith(f"saved {beside} (step 2, ")
    assert (f"model.pt appeared while training and was left as it is; this run's checkpoint "
            f"is {beside}\n") in printed.err
    assert output.read_bytes() == b"someone else's"
    assert read_checkpoint(beside)["meta"]["step"] == 2


def test_overwrite_replaces_a_file_appearing_at_o(model_cache, folders, tmp_path, capsys,
                                                  monkeypatch):
    output = _written_meanwhile(tmp_path / "model.pt", monkeypatch)
    assert cli.main(_args(*folders, output, 2, "--overwrite")) == EXIT_OK
    assert read_checkpoint(output)["meta"]["step"] == 2
    assert not (tmp_path / "model-2.pt").exists()
    assert "appeared" not in capsys.readouterr().err


def test_an_interrupted_run_saved_beside_says_how_to_resume_it(model_cache, folders, tmp_path,
                                                               capsys, monkeypatch):
    output = tmp_path / "model.pt"
    original = semantic_training._Trainer.train_step

    def step(self, *args):
        if self.step == 1:
            raise KeyboardInterrupt
        output.write_bytes(b"someone else's")
        return original(self, *args)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    assert cli.main(_args(*folders, output, 3)) == EXIT_INTERRUPTED
    beside = tmp_path / "model-2.pt"
    assert capsys.readouterr().err.endswith(
        f"interrupted: saved model-2.pt at step 1; run the same command with --resume and -o "
        f"{beside} to continue\n")
    assert read_checkpoint(beside)["meta"]["step"] == 1
    assert output.read_bytes() == b"someone else's"


# --- the bar of a resumed run ---------------------------------------------------------------


def test_a_resumed_run_shows_the_step_it_prepares_once_below_its_notes(model_cache, folders,
                                                                      tmp_path, capsys,
                                                                      monkeypatch):
    images, _labels = folders
    output = tmp_path / "run" / "sem1.pt"
    assert cli.main(_args(images, None, output, 3)) == EXIT_OK  # labelled by regions
    capsys.readouterr()
    monkeypatch.setattr(semantic_training, "vgg16_weights_path",
                        lambda: tmp_path / "no-vgg16.pth")  # the perceptual loss is off
    shown = stderr_at_first_step(monkeypatch, capsys)
    resumed = [arg for arg in _args(images, None, output, 5, "--resume")
               if arg != "--no-perceptual"]
    assert cli.main(resumed) == EXIT_OK
    [before] = shown
    screens = screen_lines(before)
    assert screens[:2] == ["resuming sem1.pt at step 3",
                           f"perceptual loss off: no VGG16 weights at {tmp_path / 'no-vgg16.pth'}"]
    assert screens[-1] == "training: preparing step 4…"
    assert [line for line in screens if "preparing" in line] == [screens[-1]]  # drawn once
    assert "training: 100%" in capsys.readouterr().err
    assert read_checkpoint(output)["meta"]["step"] == 5


def test_running_out_of_memory_after_saving_beside_names_where_and_how_to_resume(
        model_cache, folders, tmp_path, capsys, monkeypatch):
    """The steps done are saved beside -o (a file appeared there meanwhile): the error names
    the file written and --resume with it as -o, as an interrupted run's message does
    (--resume alone would take up the file that appeared)."""
    output = tmp_path / "model.pt"
    original = semantic_training._Trainer.train_step

    def step(self, *args):
        if self.step == 1:
            raise MemoryError
        output.write_bytes(b"someone else's")
        return original(self, *args)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", step)
    assert cli.main(_args(*folders, output, 3)) == EXIT_FAILED  # a step kept: not refused
    beside = tmp_path / "model-2.pt"
    err = capsys.readouterr().err
    assert err.endswith(
        "error: out of memory on the computer for a training step of 1 crop of 32x32 px: "
        "lower --batch-size or --size; saved model-2.pt at step 1 (--resume with -o "
        f"{beside} continues it)\n"), err
    assert read_checkpoint(beside)["meta"]["step"] == 1
    assert output.read_bytes() == b"someone else's"
