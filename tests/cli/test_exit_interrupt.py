"""Ctrl+C after a command has returned its exit code (while the interpreter shuts down)
leaves that exit code: the program is not killed by the signal with no word."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# runs main.py as `python main.py ARGS` does, then, once main() has returned and sys.exit
# is on its way, sends the process Ctrl+C, as a user pressing it during the shutdown does
AFTER_MAIN = """
import os, runpy, signal, sys
sys.argv = ["main.py", *sys.argv[1:]]
try:
    runpy.run_path("main.py", run_name="__main__")
except SystemExit:
    print("sigint ignored:", signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)
    os.kill(os.getpid(), signal.SIGINT)
    raise
"""


@pytest.mark.parametrize("arguments, code", [(["watermark", "--help"], 0),
                                             (["segment"], 2)])  # a usage error
def test_ctrl_c_after_the_command_returned_keeps_its_exit_code(arguments, code):
    done = subprocess.run([sys.executable, "-c", AFTER_MAIN, *arguments], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, (done.returncode, done.stderr[-500:])
    assert "sigint ignored: True" in done.stdout
    assert "KeyboardInterrupt" not in done.stderr


def test_main_called_with_arguments_leaves_ctrl_c_alone(capsys):
    """Called from code (tests, scripts) main() changes no signal handler."""
    import main

    before = signal.getsignal(signal.SIGINT)
    assert main.main(["watermark", "--help"]) == 0
    assert signal.getsignal(signal.SIGINT) is before
