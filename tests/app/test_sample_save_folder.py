"""QA audit 34, F8: the first Save As of a bundled sample (the picture the editor opens when
given none) suggests the user's pictures folder, not the program's own resources folder
(inside site-packages once installed); another picture's suggestion stays beside it."""

from __future__ import annotations

import platformdirs
import pytest

from app.window import SAMPLE_IMAGE


@pytest.fixture
def suggested(window, monkeypatch):
    """The path Save As suggests, with the dialog cancelled: a function of the picture."""
    asked = []
    window.ask_save_path = lambda title, suggestion, filters: asked.append(suggestion) or ""

    def suggest(path) -> str:
        assert window.open_path(path)
        asked.clear()
        assert not window.save_as()
        return asked[0]

    return suggest


def test_a_sample_is_saved_into_the_pictures_folder(suggested, monkeypatch, tmp_path):
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(platformdirs, "user_pictures_dir", lambda: str(pictures))
    assert suggested(SAMPLE_IMAGE) == str(pictures / "rocket_inpainted.jpg")


def test_without_a_pictures_folder_it_is_the_home_folder(suggested, monkeypatch, tmp_path):
    monkeypatch.setattr(platformdirs, "user_pictures_dir", lambda: str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert suggested(SAMPLE_IMAGE) == str(tmp_path / "rocket_inpainted.jpg")


def test_another_picture_is_saved_beside_itself(suggested, monkeypatch, tmp_path):
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(platformdirs, "user_pictures_dir", lambda: str(pictures))
    photo = tmp_path / "photos" / "rocket.jpg"
    photo.parent.mkdir()
    photo.write_bytes(SAMPLE_IMAGE.read_bytes())
    assert suggested(photo) == str(photo.parent / "rocket_inpainted.jpg")
