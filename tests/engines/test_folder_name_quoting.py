"""A subfolder's name in :func:`engines.fileio.skipped_files_note` is quoted by the rule a
file name is (:func:`engines.fileio.quoted_name`: whitespace begins or ends it), with the
folder's slash inside the quotes; trailing whitespace counts as leading whitespace does."""

from __future__ import annotations

import pytest

from engines.fileio import _folder_name, quoted_name, skipped_files_note


@pytest.mark.parametrize(("name", "shown"), [
    ("sub ", '"sub /"'), (" sub", '" sub/"'), ("sub\t", '"sub\t/"'),
    ("two words", "two words/"), ("sub", "sub/")])
def test_a_folder_name_is_quoted_as_a_file_name_is(tmp_path, name, shown):
    folder = tmp_path / name
    folder.mkdir()
    assert _folder_name(folder) == shown
    assert shown.startswith('"') is quoted_name(name).startswith('"')  # the same rule
    link = tmp_path / f"{name}link{name}"
    link.symlink_to(folder, target_is_directory=True)
    assert _folder_name(link) == shown.replace(name, f"{name}link{name}") + " (link)"


def test_a_folder_that_a_space_ends_is_quoted_in_the_note_as_a_file_is(tmp_path):
    (tmp_path / "sub ").mkdir()
    (tmp_path / "notes.txt ").write_bytes(b"x")
    note = skipped_files_note(tmp_path)
    assert '"notes.txt "' in note and '"sub /"' in note, note
