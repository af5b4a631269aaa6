"""Writing without following links (``follow_links=False``, a folder run's results): a link
at the name, dangling or not, is refused and nothing is written anywhere; by default a link
is still followed (the editor's Save through a link)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from engines import fileio
from engines.batch import clear_folder
from engines.fileio import ImageExistsError, link_in_the_way, save_image, write_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links")


def _tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("dangling", [True, False])
def test_a_link_is_refused_without_following_links(tmp_path, overwrite, dangling):
    (tmp_path / "out").mkdir()
    target = tmp_path / "elsewhere.bin"
    if not dangling:
        target.write_bytes(b"theirs")
    link = tmp_path / "out" / "a.png"
    link.symlink_to("../elsewhere.bin")
    before = _tree(tmp_path)
    with pytest.raises(ImageExistsError) as refused:
        write_atomic(link, b"new", overwrite, follow_links=False)
    assert str(refused.value) == (f"{link}: a link of that name is in the way (to "
                                  "../elsewhere.bin); remove it: results are never written "
                                  "through links")
    assert _tree(tmp_path) == before  # no temporary file, nothing created or replaced
    assert link.is_symlink() and (target.read_bytes() == b"theirs" if not dangling
                                  else not target.exists())


def test_links_are_still_followed_by_default(tmp_path):
    link = tmp_path / "a.png"
    link.symlink_to("missing.png")
    save_image(link, np.zeros((4, 4, 3), np.uint8))  # the file the link names is made
    assert link.is_symlink() and (tmp_path / "missing.png").is_file()


def test_link_in_the_way_is_none_for_files_folders_and_missing_names(tmp_path):
    (tmp_path / "file.png").write_bytes(b"x")
    (tmp_path / "folder").mkdir()
    assert [link_in_the_way(tmp_path / name) for name in ("file.png", "folder", "none")] == \
        [None, None, None]


def _picture_and_mask(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(folder / "p.png", np.full((16, 16, 3), 90, np.uint8))
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    return folder, mask


def test_a_link_made_after_the_runs_check_is_refused_at_the_write(tmp_path, monkeypatch):
    """A link another program makes while the picture is computed: refused when written."""
    folder, mask = _picture_and_mask(tmp_path)
    out = tmp_path / "out"
    encode = fileio.encode_image

    def encode_then_link(*args, **kwargs):
        data = encode(*args, **kwargs)
        (out / "p.png").symlink_to("../elsewhere.png")
        return data

    monkeypatch.setattr(fileio, "encode_image", encode_then_link)
    result = clear_folder(folder, out, mask, "telea", overwrite=True)
    assert [reason for _, reason in result.failed] == [
        "out/p.png: a link of that name is in the way (to ../elsewhere.png); remove it: "
        "results are never written through links"]
    assert _tree(out) == ["p.png"] and not (tmp_path / "elsewhere.png").exists()


def test_a_link_made_during_the_write_is_replaced_not_followed(tmp_path, monkeypatch):
    """One made after that check, as the temporary file is written: the rename puts the
    result in its place, inside the output folder (a rename never follows a link)."""
    folder, mask = _picture_and_mask(tmp_path)
    out = tmp_path / "out"
    beside = fileio.new_file_beside

    def temporary_then_link(path, *args, **kwargs):
        made = beside(path, *args, **kwargs)
        os.symlink("../elsewhere.png", path)
        return made

    monkeypatch.setattr(fileio, "new_file_beside", temporary_then_link)
    result = clear_folder(folder, out, mask, "telea", overwrite=True)
    assert result.failed == () and result.written == (out / "p.png",)
    assert not (out / "p.png").is_symlink() and (out / "p.png").stat().st_size > 0
    assert _tree(out) == ["p.png"] and not (tmp_path / "elsewhere.png").exists()
