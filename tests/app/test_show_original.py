"""Holding "show original": the display shows exactly the picture as opened, built from the
tiles the document kept before their first change (the document keeps no whole copy of it),
and the picture as it is now again on release."""

from __future__ import annotations

import numpy as np

from app.document import Document
from app.viewcache import ViewCache


def _picture() -> np.ndarray:
    return np.random.default_rng(11).integers(0, 256, (700, 1000, 3), dtype=np.uint8)


def _apply(document: Document, rows: slice, cols: slice, value: int) -> np.ndarray:
    result = document.image.copy()
    result[rows, cols] = value
    document.apply_result(result, used_mask=np.zeros(result.shape[:2], np.uint8))
    return result


def _shows(view: ViewCache, picture: np.ndarray) -> None:
    """Every level of the base equals that of a view of ``picture`` itself."""
    expected = ViewCache(Document(picture))
    for level, reference in zip(view.levels, expected.levels, strict=True):
        assert np.array_equal(level.base, reference.base)


def _viewed() -> tuple[np.ndarray, Document, ViewCache]:
    """A picture, its document and a view that follows the document's changes."""
    picture = _picture()
    document = Document(picture)
    view = ViewCache(document)
    document.add_listener(view.update)
    return picture, document, view


def test_the_original_shows_exactly_and_the_edit_again_on_release():
    picture, document, view = _viewed()
    _apply(document, slice(100, 140), slice(240, 700), 0)  # across several 256 px tiles
    edited = _apply(document, slice(500, 690), slice(900, 1000), 255)
    view.set_show_original(True)
    _shows(view, picture)
    view.set_show_original(False)
    _shows(view, edited)


def test_an_edit_while_the_original_shows_appears_on_release():
    picture, document, view = _viewed()
    _apply(document, slice(10, 50), slice(10, 50), 0)
    view.set_show_original(True)
    edited = _apply(document, slice(300, 420), slice(600, 800), 90)  # e.g. a fill applied
    _shows(view, picture)
    view.set_show_original(False)
    _shows(view, edited)


def test_after_undo_the_original_and_the_picture_agree():
    picture, document, view = _viewed()
    _apply(document, slice(200, 260), slice(300, 500), 30)
    document.undo()
    view.set_show_original(True)
    _shows(view, picture)
    view.set_show_original(False)
    _shows(view, picture)
