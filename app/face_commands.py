"""The editor's face commands: edit one face of the photo as a picture of its own.

:class:`FaceCommands` is a mixin of :class:`app.window.MainWindow`, like
:class:`app.file_commands.FileCommands`. A face crop (:class:`app.faces.FaceEdit`) is shown
in place of the photo with a sketch-guided engine; pasting it back is one undo step in the
photo, and leaving a face with changes not pasted back asks first (``confirm``).
"""

from __future__ import annotations

from pathlib import Path

from app.document import Document
from app.faces import FaceEdit, engine_for_faces


class FaceCommands:
    """Enter, paste back and leave face edits (mixed into the main window)."""

    def _wire_faces(self) -> None:
        faces, face_panel = self.faces, self.face_panel
        face_panel.detectRequested.connect(faces.detect)
        face_panel.boxRequested.connect(lambda: self.select_tool("face-box"))
        face_panel.faceChosen.connect(faces.enter)
        face_panel.autoSketchRequested.connect(faces.auto_sketch)
        face_panel.pasteRequested.connect(self.paste_face_back)
        face_panel.leaveRequested.connect(self.leave_face)
        face_panel.modelsChanged.connect(self.models_changed)
        faces.facesChanged.connect(lambda _faces: face_panel.set_faces(faces.thumbnails()))
        faces.faceEntered.connect(self._show_face)
        faces.faceLeft.connect(self._show_photo)
        faces.editChanged.connect(face_panel.set_has_changes)
        faces.sketched.connect(lambda _step: self._update_actions())
        faces.pasted.connect(lambda _step: self._update_actions())
        faces.busyChanged.connect(face_panel.set_busy)
        faces.message.connect(face_panel.set_status)

    def _check_not_in_face(self) -> bool:
        if self.faces.edit is None:
            return True
        self.statusBar().showMessage("Paste the face back or leave it first", 6000)
        return False

    def _show_face(self, edit: FaceEdit) -> None:
        """Show the face crop in place of the photo, with a sketch-guided engine."""
        self._photo_state = (self.save_path, self.controller.settings.engine)
        self.set_document(edit.document)
        engine = engine_for_faces()
        self.controller.settings.engine = engine
        self.engine_panel.select_engine(engine)
        self.face_panel.set_editing(True)
        self.select_tool("sketch")
        name = Path(edit.parent.path).name if edit.parent.path else "untitled"
        self.setWindowTitle(f"Face in {name} — Inpaint Studio")

    def _show_photo(self, photo: Document) -> None:
        save_path, engine = self._photo_state or (None, self.controller.settings.engine)
        self._photo_state = None
        self.set_document(photo, save_path)
        self.controller.settings.engine = engine
        self.engine_panel.select_engine(engine)
        self.face_panel.set_editing(False)
        self.select_tool("mask")

    def paste_face_back(self) -> bool:
        """Commit the face edit to the photo (one undo step there) and show the photo."""
        if self.controller.has_result:
            self.controller.apply()
        if self.faces.paste_back() is None:
            return False
        self.faces.leave()
        return True

    def face_work_pending(self) -> bool:
        """Whether leaving the face now would drop work: pixels not pasted back, strokes
        (mask, sketch) or a fill shown and not applied."""
        edit = self.faces.edit
        return edit is not None and (self.faces.has_unpasted_changes or edit.document.modified
                                     or self.controller.has_result)

    def leave_face(self, ask: bool = True) -> bool:
        """Back to the photo; with ``ask``, asking first when that would drop work."""
        if self.faces.edit is None:
            return True
        if ask and self.face_work_pending() and not self.confirm(
                "Leave the face?", "The face has changes that are not pasted back (strokes, "
                "a fill). Drop them?"):
            return False
        self.controller.cancel()
        self.faces.leave()
        return True

    def _on_face_box(self, box) -> None:
        self.face_panel.show_box_preview(None)
        if self.faces.edit is None:
            face = self.faces.add_box(box)
            if face is not None:
                self.faces.enter(face)

    def _on_face_click(self, point) -> None:
        face = self.faces.face_at(point) if self.faces.edit is None else None
        if face is not None:
            self.faces.enter(face)

    def _on_face_drag(self, box) -> None:
        if self.faces.edit is None:
            self.face_panel.show_box_preview(self.faces.box_preview(box))
