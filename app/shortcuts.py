"""The one shortcut table: every key the editor answers to, with what it does.

The window builds its actions from :data:`SHORTCUTS` and shows them in
:class:`ShortcutsDialog` (F1); the README's table is checked against it by the tests, so the
documentation cannot drift from the program.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# the dialog's most, as a share of the screen's free area; its width where there is room
SCREEN_SHARE = 0.8
DIALOG_WIDTH = 720


@dataclass(frozen=True)
class Shortcut:
    """``action``: the window's action id; ``keys``: a QKeySequence string (or a description
    for keys handled directly, flagged ``direct``); ``text``: what it does."""

    action: str
    keys: str
    text: str
    direct: bool = False


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", "Ctrl+O", "Open an image"),
    Shortcut("save", "Ctrl+S", "Save the result (asks for a name; never replaces the original "
                               "unless you pick it)"),
    Shortcut("save_as", "Ctrl+Shift+S", "Save the result under a new name"),
    Shortcut("import_mask", "Ctrl+M", "Import a mask (PNG: white or opaque = hole)"),
    Shortcut("export_mask", "Ctrl+Shift+M", "Export the mask as PNG (white = hole)"),
    Shortcut("import_labels", "Ctrl+Alt+L", "Import a label map (indexed PNG of class ids)"),
    Shortcut("export_labels", "Ctrl+Shift+Alt+L", "Export the label map as an indexed PNG"),
    Shortcut("import_sketch", "Ctrl+Alt+P", "Import a sketch (PNG: white or opaque = line)"),
    Shortcut("export_sketch", "Ctrl+Shift+Alt+P", "Export the sketch as PNG (white = line)"),
    Shortcut("add_references", "Ctrl+Alt+R", "Add reference photos (other photos of the place, "
                                             "searched by Guided PatchMatch)"),
    Shortcut("models", "Ctrl+Alt+M", "Models: download, import or remove weights"),
    Shortcut("undo", "Ctrl+Z", "Undo the last stroke, mask operation or applied fill"),
    Shortcut("redo", "Ctrl+Shift+Z or Ctrl+Y", "Redo"),
    Shortcut("fill", "F", "Fill the mask with the current engine"),
    Shortcut("apply", "Enter", "Apply the result shown"),
    Shortcut("cancel", "Esc", "Cancel what runs (a fill, a label map, face or text detection), "
                       "or discard the result shown; in a text field, Esc clears the search or "
                       "leaves the field"),
    Shortcut("tool_mask", "B", "Mask brush"),
    Shortcut("tool_mask-eraser", "E", "Mask eraser"),
    Shortcut("tool_sketch", "P", "Sketch pen (structure lines inside the hole)"),
    Shortcut("tool_sketch-eraser", "Shift+P", "Sketch eraser"),
    Shortcut("tool_color", "C", "Colour brush"),
    Shortcut("tool_color-eraser", "Shift+C", "Colour eraser"),
    Shortcut("tool_label", "L", "Label brush (paints the current label)"),
    Shortcut("tool_fill", "G", "Label fill bucket (Shift+click: every pixel of that label)"),
    Shortcut("tool_picker", "I", "Label picker (eyedropper)"),
    Shortcut("tool_sample-include", "K", "Sampling area: use only these pixels as source"),
    Shortcut("tool_sample-exclude", "Shift+K", "Sampling area: never use these pixels"),
    Shortcut("tool_sample-eraser", "Alt+K", "Sampling area eraser"),
    Shortcut("tool_pan", "H", "Hand tool (pan)"),
    Shortcut("brush_smaller", "[", "Smaller brush"),
    Shortcut("brush_larger", "]", "Larger brush"),
    Shortcut("pan", "Space + drag, middle-drag", "Pan the view", direct=True),
    Shortcut("zoom", "Ctrl+wheel, wheel, pinch",
             "Zoom around the pointer (the wheel alone pans instead when Edit > Preferences "
             "sets Mouse wheel to Scroll)", direct=True),
    Shortcut("scroll", "Trackpad scroll, sideways wheel, Shift+wheel",
             "Pan the view (and the wheel alone, up and down, with Mouse wheel: Scroll in "
             "Edit > Preferences)", direct=True),
    Shortcut("scroll_bars", "Scroll bars (drag, click, arrows, wheel over them)",
             "Move the view; they show while part of the picture is out of view", direct=True),
    Shortcut("original", "O (hold)", "Show the original picture while held", direct=True),
    Shortcut("fit", "Ctrl+0", "Fit the picture in the window"),
    Shortcut("actual_size", "Ctrl+1", "Zoom to 100 %"),
    Shortcut("zoom_in", "Ctrl+= or Ctrl++", "Zoom in"),
    Shortcut("zoom_out", "Ctrl+-", "Zoom out"),
    Shortcut("grow", "Ctrl+]", "Grow the mask"),
    Shortcut("shrink", "Ctrl+[", "Shrink the mask"),
    Shortcut("feather", "Ctrl+Shift+F", "Feather the mask edge"),
    Shortcut("invert", "Ctrl+I", "Invert the mask"),
    Shortcut("clear_mask", "Ctrl+D", "Clear the mask"),
    Shortcut("clear_sketch", "Ctrl+Shift+P", "Clear the sketch"),
    Shortcut("clear_color", "Ctrl+Shift+C", "Clear the colour strokes"),
    Shortcut("clear_sampling", "Ctrl+Shift+K", "Clear the sampling area (include and exclude)"),
    Shortcut("detect_text", "Ctrl+T", "Detect text and logos: propose a mask to correct"),
    Shortcut("apply_to_folder", "Ctrl+Shift+B", "Apply the current mask to a whole folder"),
    Shortcut("clear_watermark", "Ctrl+Shift+W", "Clear a watermark shared by a folder"),
    Shortcut("compare", "Ctrl+K", "Compare engines side by side on the current mask"),
    Shortcut("preferences", "Ctrl+,", "Open the preferences (Edit > Preferences)"),
    Shortcut("quit", "Ctrl+Q", "Quit"),
    Shortcut("shortcuts", "F1", "Show this list of keyboard shortcuts (Help menu)"),
)


def keys_for(action: str) -> str:
    """The key sequence string of ``action`` ('' when it has none)."""
    for shortcut in SHORTCUTS:
        if shortcut.action == action:
            return shortcut.keys
    return ""


def markdown_table() -> str:
    """The table as Markdown, for the README."""
    rows = ["| Keys | Action |", "|---|---|"]
    rows += [f"| {s.keys} | {s.text} |" for s in SHORTCUTS]
    return "\n".join(rows)


class ShortcutsDialog(QDialog):
    """The shortcut table (F1) as a two-column list (action, keys) that scrolls, at most
    :data:`SCREEN_SHARE` of the screen's free area; OK, Enter or Esc closes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(len(SHORTCUTS), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        for row, shortcut in enumerate(SHORTCUTS):
            for column, text in enumerate((shortcut.text, shortcut.keys)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                self.table.setItem(row, column, item)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        buttons = QDialogButtonBox(QDialogButtonBox.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        free = (parent or self).screen().availableGeometry().size()
        self._most = QSize(int(free.width() * SCREEN_SHARE), int(free.height() * SCREEN_SHARE))
        width = min(DIALOG_WIDTH, self._most.width())
        self.table.setColumnWidth(1, width * 2 // 5)
        self.resize(width, self._most.height())  # made shorter once its rows are laid out

    def showEvent(self, event) -> None:
        super().showEvent(event)
        # the columns now have their widths, so the wrapped rows their heights: room for
        # every row where the screen has it, else the list scrolls
        self.table.resizeRowsToContents()
        extra = self.height() - self.table.viewport().height()  # header, frame, buttons
        self.resize(self.width(),
                    min(self._most.height(), self.table.verticalHeader().length() + extra))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.table.resizeRowsToContents()  # the wrapped texts take the new width
