"""Reference photos: the picture being edited is not added as its own reference (a fill
searches it already), and the count is said in words ("1 reference photo added")."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import save_image
from tests.app.test_references_added import patchmatch_window


@pytest.fixture
def window(qtbot, tmp_path):
    window = patchmatch_window(qtbot, tmp_path)  # photo.png, messages in window.messages
    window.errors = []
    window.show_error = window.errors.append
    yield window
    window.worker.shutdown()


def _photo(path, seed):
    rng = np.random.default_rng(seed)
    save_image(path, rng.integers(0, 255, (40, 50, 3)).astype(np.uint8))
    return path


def test_the_open_picture_is_not_its_own_reference(window, tmp_path):
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "photo.png")
    for path in (tmp_path / "photo.png", link):  # by its name or through a link
        assert window.add_references([path]) == 0
        assert window.messages[-1] == (f"{path.name} is the picture being edited, which a fill "
                                       "searches already; not added as a reference photo")
    assert not window.document.references and window.errors == []


def test_the_other_files_are_added_beside_the_open_picture_left_out(window, tmp_path):
    other = _photo(tmp_path / "other.png", 1)
    assert window.add_references([tmp_path / "photo.png", other]) == 1
    assert [r.path for r in window.document.references] == [other.resolve()]
    assert window.messages[-1] == ("1 reference photo added; photo.png is the picture being "
                                   "edited, which a fill searches already; not added as a "
                                   "reference photo")


def test_the_count_of_photos_added_is_said_in_words(window, tmp_path):
    assert window.add_references([_photo(tmp_path / "a.png", 2)]) == 1
    assert window.messages[-1] == "1 reference photo added"
    paths = [_photo(tmp_path / f"{name}.png", seed) for seed, name in enumerate("bcd", 3)]
    assert window.add_references(paths) == 3
    assert window.messages[-1] == "3 reference photos added"
