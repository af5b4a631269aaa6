"""Saving over a read-only file is refused, whoever runs it (root included); replacing a
writable file keeps its permissions."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest

from engines.fileio import (
    ImageFileError,
    load_image,
    refuse_read_only,
    save_image,
    save_mask,
    save_result,
    write_atomic,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def _protected(path, mode: int = 0o444):
    """``path`` made read-only (``mode``); returns its bytes."""
    os.chmod(path, mode)
    return path.read_bytes()


def _assert_refused(error: pytest.ExceptionInfo, path) -> None:
    assert isinstance(error.value, ImageFileError) and error.value.errno == errno.EACCES
    assert error.value.filename == str(path)
    assert str(error.value) == (f"{path}: the file is read-only; choose another name or "
                                "make it writable first")


@posix_only
@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555], ids=oct)
def test_a_read_only_picture_is_not_replaced(tmp_path, rgb, mode):
    path = save_image(tmp_path / "photo.png", rgb)
    before = _protected(path, mode)
    with pytest.raises(ImageFileError) as error:
        save_image(path, 255 - rgb, overwrite=True)
    _assert_refused(error, path)
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]  # no temporary file
    assert np.array_equal(load_image(path).rgb, rgb)


@posix_only
def test_every_writer_refuses_a_read_only_file(tmp_path, rgb):
    source = save_image(tmp_path / "photo.png", rgb)
    targets = {name: tmp_path / name for name in ("out.png", "mask.png", "data.bin")}
    for path in targets.values():
        path.write_bytes(b"kept " + path.name.encode())
    before = {name: _protected(path) for name, path in targets.items()}
    mask = np.zeros(rgb.shape[:2], np.uint8)
    writes = {"out.png": lambda p: save_result(p, rgb, load_image(source), overwrite=True),
              "mask.png": lambda p: save_mask(p, mask, overwrite=True),
              "data.bin": lambda p: write_atomic(p, b"new", overwrite=True)}
    for name, write in writes.items():
        with pytest.raises(ImageFileError) as error:
            write(targets[name])
        _assert_refused(error, targets[name])
        assert targets[name].read_bytes() == before[name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "mask.png", "out.png",
                                                          "photo.png"]


@posix_only
def test_a_link_to_a_read_only_file_is_refused_and_stays(tmp_path, rgb):
    target = save_image(tmp_path / "photo.png", rgb)
    before = _protected(target)
    link = tmp_path / "link.png"
    link.symlink_to(target.name)
    with pytest.raises(ImageFileError) as error:
        save_image(link, 255 - rgb, overwrite=True)
    _assert_refused(error, target)
    assert link.is_symlink() and target.read_bytes() == before


def test_a_file_this_user_may_not_write_is_refused(tmp_path, rgb, monkeypatch):
    """Owner-writable but not for this user (another user's file): ``os.access`` says so."""
    path = save_image(tmp_path / "theirs.png", rgb)
    before = path.read_bytes()
    real_access = os.access

    def access(target, how, *args, **kwargs):
        if os.fspath(target) == str(path) and how & os.W_OK:
            return False
        return real_access(target, how, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(ImageFileError) as error:
        save_image(path, 255 - rgb, overwrite=True)
    _assert_refused(error, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


@posix_only
def test_a_file_made_read_only_while_saving_is_not_replaced(tmp_path, rgb, monkeypatch):
    path = save_image(tmp_path / "photo.png", rgb)
    before = path.read_bytes()
    real_fsync = os.fsync

    def fsync_then_protect(fd):  # someone runs chmod a-w while the new file is written
        real_fsync(fd)
        os.chmod(path, 0o444)

    monkeypatch.setattr(os, "fsync", fsync_then_protect)
    with pytest.raises(ImageFileError) as error:
        save_image(path, 255 - rgb, overwrite=True)
    _assert_refused(error, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o666, 0o604], ids=oct)
def test_a_replaced_file_keeps_its_permissions(tmp_path, rgb, mode):
    old_umask = os.umask(0o077)  # a new file would get 0600
    try:
        path = save_image(tmp_path / "photo.png", rgb)
        os.chmod(path, mode)
        save_image(path, 255 - rgb, overwrite=True)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert np.array_equal(load_image(path).rgb, 255 - rgb)  # it was replaced



@posix_only
def test_the_check_callers_may_make_before_any_work(tmp_path, rgb):
    """Only an existing read-only file is refused: not a new name, not a folder."""
    path = save_image(tmp_path / "photo.png", rgb)
    refuse_read_only(path)  # writable
    refuse_read_only(tmp_path / "new.png")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    refuse_read_only(folder)
    _protected(path)
    with pytest.raises(ImageFileError) as error:
        refuse_read_only(path)
    _assert_refused(error, path)
