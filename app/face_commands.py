"""The editor's face commands: edit one face of the photo as a picture of its own.

:class:`FaceCommands` is a mixin of :class:`app.window.MainWindow`, like
:class:`app.file_commands.FileCommands`. A face crop (:class:`app.faces.FaceEdit`) is shown
in place of the photo with a sketch-guided engine; pasting it back is one undo step in the
photo, and leaving a face with changes not pasted back asks first (``confirm``). Entering a
face asks first when that would drop the photo's fill (finished and waiting for Enter, or
still running), as opening another picture does; leaving it shows the photo as it was shown
(zoom, centre, tool, engine). Pasting back applies a fill in the crop waiting for Enter
first, and asks before stopping one still running there (not one already being cancelled).
The Faces panel's thumbnails follow the photo's picture: those showing what a paste-back (or
its undo or redo) or a fill applied on the photo changed are rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF

from app.document import TILE, Document, Layer, Step
from app.faces import PASTED_MESSAGE, FaceEdit, engine_for_faces
from app.file_commands import guidance_words
from engines.faces import Face
from engines.region import Box


def changed_picture_box(step: Step) -> Box | None:
    """The part of its document's picture ``step`` changed, in whole tiles (the union of
    its image tiles); None when it left the picture alone."""
    box = None
    for diff in step.diffs:
        if diff.layer is Layer.IMAGE:
            tile = Box(diff.row * TILE, diff.col * TILE, diff.row * TILE + diff.shape[0],
                       diff.col * TILE + diff.shape[1])
            box = tile if box is None else box.union(tile)
    return box


@dataclass(frozen=True)
class PhotoState:
    """How the photo was shown when a face crop replaced it; leaving the face restores it.

    Attributes:
        save_path: where the photo is saved.
        engine: the fill engine chosen for the photo.
        tool: the name of the canvas tool in use.
        zoom: the canvas's zoom (screen px per image px).
        centre: the photo point ``(x, y)`` (image px) at the canvas's centre.
        fitted: whether the photo was shown fitted (then it is fitted again, whatever the
            window's size is now).
    """

    save_path: Path | None
    engine: str
    tool: str
    zoom: float
    centre: tuple[float, float]
    fitted: bool


class FaceCommands:
    """Enter, paste back and leave face edits (mixed into the main window)."""

    def _wire_faces(self) -> None:
        faces, face_panel = self.faces, self.face_panel
        face_panel.detectRequested.connect(faces.detect)
        face_panel.boxRequested.connect(lambda: self.select_tool("face-box"))
        face_panel.faceChosen.connect(self.enter_face)
        face_panel.autoSketchRequested.connect(faces.auto_sketch)
        face_panel.pasteRequested.connect(self.paste_face_back)
        face_panel.leaveRequested.connect(self.leave_face)
        face_panel.modelsChanged.connect(self.models_changed)
        faces.facesChanged.connect(lambda _faces: face_panel.set_faces(faces.thumbnails()))
        faces.faceEntered.connect(self._show_face)
        faces.faceLeft.connect(self._show_photo)
        faces.editChanged.connect(face_panel.set_has_changes)
        faces.sketched.connect(lambda _step: self._update_actions())
        faces.pasted.connect(self._on_face_pasted)
        faces.busyChanged.connect(face_panel.set_busy)
        self.controller.waitingChanged.connect(face_panel.set_fill_waiting)
        faces.message.connect(face_panel.set_status)
        faces.error.connect(face_panel.set_status)  # the panel no longer says "Editing…"
        self.canvas.dragChanged.connect(self._face_box_drag_changed)

    def _check_not_in_face(self) -> bool:
        if self.faces.edit is None:
            return True
        self.statusBar().showMessage("Paste the face back or leave it first", 6000)
        return False

    def enter_face(self, face: Face | int) -> bool:
        """Edit ``face`` (or the listed face at this index) as a picture of its own; returns
        whether it is shown. Asks first when that would drop the photo's fill; a fill after a
        stroke on the photo still to start (the auto-run timer) never starts."""
        if not self._confirm_drop_fill():
            return False
        self._cancel_fill_after_stroke()  # one after a stroke on the photo would fill the face
        return self.faces.enter(face) is not None

    def _confirm_drop_fill(self) -> bool:
        """Whether the photo's fill, shown and waiting for Enter or still running, may be
        dropped for a face edit (True when there is none)."""
        if self.controller.has_result:
            return self.confirm("Fill not applied", "The fill shown is not applied to the "
                                "picture. Discard it and edit the face?")
        if self.controller.busy:
            return self.confirm("Fill running", "A fill is still running on the picture. "
                                "Stop it and edit the face?")
        return True

    def _show_face(self, edit: FaceEdit) -> None:
        """Show the face crop in place of the photo, with a sketch-guided engine."""
        canvas = self.canvas
        centre = canvas.image_point(QPointF(canvas.width() / 2, canvas.height() / 2))
        self._photo_state = PhotoState(
            self.save_path, self.controller.settings.engine,
            canvas.tool.name if canvas.tool is not None else "mask", canvas.zoom, centre,
            canvas.fitted)
        self.set_document(edit.document)
        engine = engine_for_faces()
        self.controller.settings.engine = engine
        self.engine_panel.select_engine(engine)
        self.face_panel.set_editing(True)
        self.select_tool("sketch")
        name = Path(edit.parent.path).name if edit.parent.path else "untitled"
        self.setWindowTitle(f"Face in {name}[*] — Inpaint Studio")

    def _show_photo(self, photo: Document) -> None:
        state = self._end_face_mode()
        self.set_document(photo, state.save_path if state is not None else None)
        if state is not None:
            self._restore_view(state)

    def _end_face_mode(self) -> PhotoState | None:
        """The photo's engine and tool again and the face panel in photo mode, as a face
        edit ends; returns how the photo was shown (None when no face was shown)."""
        state, self._photo_state = self._photo_state, None
        self.face_panel.set_editing(False)
        if state is None:
            return None
        self.controller.settings.engine = state.engine
        self.engine_panel.select_engine(state.engine)
        self.select_tool(state.tool)
        return state

    def _restore_view(self, state: PhotoState) -> None:
        """Show the photo at ``state``'s zoom about its centre, or fitted as it was (showing
        it fitted it)."""
        canvas = self.canvas
        if state.fitted:
            return  # fitted now too: it stays fitted when the window is resized
        canvas.zoom_by(state.zoom / canvas.zoom)
        x, y = state.centre
        canvas.set_offset(QPointF(canvas.width() / 2 - x * canvas.zoom,
                                  canvas.height() / 2 - y * canvas.zoom))

    def paste_face_back(self) -> bool:
        """Commit the face edit to the photo (one undo step there) and show the photo;
        returns whether it did. A fill waiting for Enter in the crop is applied first. While
        a fill runs in the crop (and there are changes to paste), asks first (``confirm``):
        No keeps the face and the fill running; Yes stops the fill, pastes the face without
        it and the status bar says the fill was stopped. A fill already cancelled (Esc) and
        still stopping is not asked about: the face is pasted without it. A fill after a
        stroke still to start (the auto-run timer) never starts."""
        if self.faces.edit is None:
            return False
        stopped = ""
        if self.controller.busy and not self.controller.cancelling \
                and self.faces.has_unpasted_changes:
            if not self.confirm("Fill running", "A fill is still running in the face. Stop "
                                "it and paste the face back?"):
                return False
            stopped = self.controller.running_title or "the fill"
            self.controller.cancel()
        if self.controller.has_result:
            self.controller.apply()
        if self.faces.paste_back() is None:
            return False
        self._cancel_fill_after_stroke()  # it would fill the photo, not the face
        self.faces.leave()
        if stopped:  # after the photo is shown, which clears the status bar
            self.say_also(f"Stopped {stopped} in the face: nothing was filled there; the "
                          "face's other changes are pasted into the photo")
        return True

    def _on_face_pasted(self, step: Step) -> None:
        self._update_actions()
        self._refresh_thumbnails(step)

    def _refresh_thumbnails(self, step: Step) -> None:
        """Rebuild the thumbnails of the listed faces that show part of the photo's picture
        that ``step`` (a step of the photo) changed; the others are left as they are."""
        box = changed_picture_box(step)
        if box is not None:
            self.face_panel.update_thumbnails(self.faces.thumbnails_within(box))

    def _photo_filled(self, step: Step | None) -> None:
        """After a fill applied to the document shown as ``step`` (None: it changed nothing):
        on the photo (not in a face crop), the thumbnails showing what it changed are
        rebuilt, as after a paste-back."""
        if step is not None and self.faces.edit is None and self.document is self.faces.document:
            self._refresh_thumbnails(step)

    def _face_step_moved(self, step: Step, undone: bool) -> None:
        """After undo (``undone``) or redo of ``step`` in the shown document: a step of the
        photo that changed its picture (a face pasted back) rebuilds the face thumbnails
        showing that part. While the last face pasted back is undone, the Faces panel no
        longer says it was pasted; redo says it again. Another line the panel shows
        meanwhile is left as it is."""
        if self.faces.edit is None and self.document is self.faces.document:
            self._refresh_thumbnails(step)
        if step is not self.faces.pasted_step:
            return
        panel = self.face_panel
        if not undone:
            panel.set_status(PASTED_MESSAGE)
        elif panel.status.text() == PASTED_MESSAGE:
            panel.set_status("")

    def face_work_pending(self) -> bool:
        """Whether the face crop's picture has changes not pasted back into the photo: what
        marks the title, as the photo's own changes not saved do. Strokes alone (a mask, a
        sketch) and a fill shown, not applied, do not, as on the photo."""
        return self.faces.edit is not None and self.faces.has_unpasted_changes

    def face_work_lost(self) -> list[str]:
        """What closing during a face edit would drop of the face's work, in the close
        question's words: "changed pixels" not pasted back, the crop's guidance drawn that
        no file keeps ("its sketch", ...) and "a fill not applied"; empty without a face
        edit. A mask stroke alone is not work kept, as on the photo."""
        edit = self.faces.edit
        if edit is None:
            return []
        lost = ["changed pixels"] if self.faces.has_unpasted_changes else []
        guidance = edit.document.unkept_guidance()
        if guidance:
            lost.append(f"its {guidance_words(guidance)[0]}")
        if self.controller.has_result:
            lost.append("a fill not applied")
        return lost

    def _face_strokes_pending(self) -> bool:
        """Whether leaving the face would drop anything done in it: pixels not pasted back,
        strokes of any layer (the mask too), a fill shown and not applied."""
        edit = self.faces.edit
        return edit is not None and (self.faces.has_unpasted_changes or edit.document.modified
                                     or self.controller.has_result)

    def leave_face(self, ask: bool = True) -> bool:
        """Back to the photo; with ``ask``, asking first when that would drop work. A fill
        running in the face stops, and one after a stroke still to start (the auto-run
        timer) never starts."""
        if self.faces.edit is None:
            return True
        if ask and self._face_strokes_pending() and not self.confirm(
                "Leave the face?", "The face has changes that are not pasted back (strokes, "
                "a fill). Drop them?"):
            return False
        self._cancel_fill_after_stroke()
        self.controller.cancel()
        self.faces.leave()
        return True

    def _on_face_box(self, box) -> None:
        self.face_panel.show_box_preview(None)
        if self.faces.edit is None:
            face = self.faces.add_box(box)
            if face is not None:
                self.enter_face(face)

    def _on_face_click(self, point) -> None:
        face = self.faces.face_at(point) if self.faces.edit is None else None
        if face is not None:
            self.enter_face(face)

    def _on_face_drag(self, box) -> None:
        if self.faces.edit is None:
            self.face_panel.show_box_preview(self.faces.box_preview(box))

    def _face_box_drag_changed(self, dragging: bool) -> None:
        """A canvas drag ended (released or not): no face box preview is left shown."""
        if not dragging:
            self.face_panel.show_box_preview(None)
