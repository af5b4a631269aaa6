"""`train semantic`: what it refuses before any work, and what it says and keeps when it is
stopped (Ctrl+C, SIGTERM)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import cli
from engines.neural import semantic_training
from engines.neural.semantic import read_checkpoint
from tests.cli.test_train import _args, folders  # noqa: F401  (the fixture)


def _stop_at(monkeypatch, step: int, stop) -> None:
    """Make the training step numbered ``step`` call ``stop()`` before it runs."""
    original = semantic_training._Trainer.train_step

    def train_step(self, *batch):
        if self.step + 1 == step:
            stop()
        return original(self, *batch)

    monkeypatch.setattr(semantic_training._Trainer, "train_step", train_step)


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def test_a_parser_that_is_not_ready_is_refused_before_any_work(model_cache, folders,  # noqa: F811
                                                               tmp_path, capsys):
    output = tmp_path / "m.pt"
    args = _args(folders[0], folders[1], output, "--parser", "scene")
    del args[args.index("--labels"):args.index("--labels") + 2]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--parser scene" in err and "models download" in err
    assert "regions" not in err and "training" not in err  # no stand-in, no progress
    assert not output.exists() and list(tmp_path.glob("m-labels-*")) == []


def test_ctrl_c_saves_and_says_how_to_resume(model_cache, folders, tmp_path,  # noqa: F811
                                             monkeypatch, capsys):
    output = tmp_path / "ck.pt"
    _stop_at(monkeypatch, 3, _ctrl_c)
    args = _args(*folders, output, "--no-install")
    args[args.index("--steps") + 1] = "10"
    assert cli.main(args) == cli.EXIT_INTERRUPTED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == ("interrupted: saved ck.pt at step 2; run the same command with --resume "
                    "to continue")
    assert read_checkpoint(output)["meta"]["step"] == 2


def test_ctrl_c_before_the_first_step_says_nothing_was_saved(model_cache, folders,  # noqa: F811
                                                             tmp_path, monkeypatch, capsys):
    output = tmp_path / "ck.pt"
    _stop_at(monkeypatch, 1, _ctrl_c)
    assert cli.main(_args(*folders, output, "--no-install")) == cli.EXIT_INTERRUPTED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "interrupted before the first step: nothing was saved"
    assert not output.exists()


def test_sigterm_saves_like_ctrl_c_exits_143_and_restores_the_handler(
        model_cache, folders, tmp_path, monkeypatch, capsys):  # noqa: F811
    before = signal.getsignal(signal.SIGTERM)
    output = tmp_path / "ck.pt"
    _stop_at(monkeypatch, 3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    args = _args(*folders, output, "--no-install")  # --save-every 0: only the stop saves
    args[args.index("--steps") + 1] = "10"
    assert cli.main(args) == cli.EXIT_TERMINATED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("terminated: saved ck.pt at step ") and "--resume" in last
    assert read_checkpoint(output)["meta"]["step"] >= 2
    assert signal.getsignal(signal.SIGTERM) == before


def test_resume_and_overwrite_together_are_a_usage_error(model_cache, folders,  # noqa: F811
                                                         tmp_path, capsys):
    output = tmp_path / "m.pt"
    assert cli.main(_args(*folders, output, "--resume", "--overwrite")) == cli.EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err
    assert not output.exists()


def _trained(folders: tuple[Path, Path], output: Path) -> float:  # noqa: F811
    assert cli.main(_args(*folders, output, "--no-install")) == 0
    return output.stat().st_mtime_ns


@pytest.mark.parametrize("steps", ["2", "3"])
def test_resume_to_a_step_already_reached_trains_and_writes_nothing(
        model_cache, folders, tmp_path, capsys, steps):  # noqa: F811
    output = tmp_path / "ck.pt"
    written = _trained(folders, output)
    capsys.readouterr()
    args = _args(*folders, output, "--resume")  # install too: it must not happen
    args[args.index("--steps") + 1] = steps
    assert cli.main(args) == cli.EXIT_USAGE
    printed = capsys.readouterr()
    assert printed.err.strip() == ("error: ck.pt is already at step 3; nothing to train "
                                   "(raise --steps)")
    assert "installed" not in printed.out and not list(model_cache.rglob("*.pt"))
    assert output.stat().st_mtime_ns == written


def test_resume_refuses_another_width(model_cache, folders, tmp_path, capsys):  # noqa: F811
    output = tmp_path / "ck.pt"
    written = _trained(folders, output)  # --channels 4
    capsys.readouterr()
    args = _args(*folders, output, "--no-install", "--resume")
    args[args.index("--steps") + 1] = "5"
    args[args.index("--channels") + 1] = "8"
    assert cli.main(args) == cli.EXIT_USAGE
    assert "ck.pt has 4 channels, not 8" in capsys.readouterr().err
    assert output.stat().st_mtime_ns == written
    del args[args.index("--channels"):args.index("--channels") + 2]  # kept without the option
    assert cli.main(args) == 0
    assert read_checkpoint(output)["meta"]["channels"] == 4


def test_device_help_and_values_agree_with_the_other_commands(model_cache, folders,  # noqa: F811
                                                              tmp_path, capsys):
    def device_help(parser) -> str:
        return next(a.help for a in parser._actions if "--device" in a.option_strings)

    def command(parser, name):
        return next(a for a in parser._actions if a.dest in ("command", "model")).choices[name]

    top = cli.build_parser()
    train_help = device_help(command(command(top, "train"), "semantic"))
    inpaint_help = device_help(command(top, "inpaint"))
    assert train_help == inpaint_help and "mps" in train_help
    args = _args(*folders, tmp_path / "m.pt")
    args[args.index("--device") + 1] = "tpu"
    assert cli.main(args) == cli.EXIT_USAGE
    assert "unknown device 'tpu'; use auto, cpu, cuda or mps" in capsys.readouterr().err


def test_the_resume_hint_after_overwrite_says_to_drop_it(model_cache, folders,  # noqa: F811
                                                         tmp_path, monkeypatch, capsys):
    output = tmp_path / "ck.pt"
    output.write_bytes(b"old")
    _stop_at(monkeypatch, 2, _ctrl_c)
    assert cli.main(_args(*folders, output, "--no-install", "--overwrite")) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "run the same command with --resume instead of --overwrite to continue")
