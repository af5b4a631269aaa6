"""`inpaint` with an engine whose installed checkpoint was damaged in place (its size kept)
refuses before writing anything: exit 2, the file named, the commands that replace it."""

from __future__ import annotations

import os

import main
from engines import download, weights
from engines.device import MODEL_SLOT
from tests.cli.pictures import photo_and_mask
from tests.engines.test_replaced_checkpoint import migan_file


def test_inpaint_refuses_a_checkpoint_damaged_in_place(tmp_path, model_cache, capsys):
    migan_file(tmp_path / "a.pt", 1)
    path = download.import_file("migan-256-places2", tmp_path / "a.pt")
    size, status = path.stat().st_size, path.stat()
    with open(path, "r+b") as handle:  # 4 KiB inverted in the middle, the size kept
        handle.seek(size // 2)
        block = handle.read(4096)
        handle.seek(size // 2)
        handle.write(bytes(byte ^ 0xFF for byte in block))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert path.stat().st_size == size and weights.is_present("migan-256-places2")
    photo, mask = photo_and_mask(tmp_path)
    out = tmp_path / "out.png"
    MODEL_SLOT.clear()
    try:
        code = main.main(["inpaint", str(photo), str(mask), "-o", str(out),
                          "--engine", "migan-256", "--device", "cpu"])
    finally:
        MODEL_SLOT.clear()
    error = capsys.readouterr().err
    assert code == 2 and not out.exists(), error
    assert f"error: {path.absolute()} is damaged: it has sha256 " in error, error
    assert "recorded when it was installed" in error, error
    remedy = weights.replace_commands(weights.get_spec("migan-256-places2"))
    assert error.rstrip().endswith(remedy), error
    assert not [item for item in tmp_path.iterdir() if item.name.startswith("out")]
