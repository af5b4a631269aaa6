"""The main window: actions, menus, panels and the wiring between them.

It holds no image logic of its own: the document edits itself, the canvas paints and takes
pointer input, the controller runs fills on the worker; the file commands (open, save,
import and export) are :class:`app.file_commands.FileCommands`, the face commands (edit a
face as its own picture) :class:`app.face_commands.FaceCommands`. File dialogs and questions go
through small methods (:meth:`MainWindow.ask_open_path`, :meth:`MainWindow.ask_save_path`,
:meth:`MainWindow.confirm`) so tests can answer them without a person.
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QEventLoop, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QStatusBar,
    QStyle,
    QStyleOption,
    QTabBar,
    QToolBar,
    QWidget,
)

from app import maskops, preferences
from app.busy import wait_for
from app.canvas_view import CanvasView
from app.compare import ENTER_WISH_DROPPED, CompareDialog
from app.controller import FillController, cancelled_message, reference_names
from app.document import Document, Layer, Step
from app.elision import elided_message
from app.face_commands import FaceCommands, PhotoState
from app.faces import FaceBoxTool, FacePanel, FaceSession
from app.file_commands import SAMPLES_FOLDER, FileCommands
from app.icons import action_icon, tool_icon
from app.keyfocus import KeyRouting
from app.legend import LegendPanel
from app.model_dialogs import (
    FILL_SITUATION,
    ImportDialog,
    ModelManagerDialog,
    TransferDialog,
    cancel_transfers,
    offer_download,
    wait_for_transfers,
)
from app.panels import EnginePanel, OverlayPanel, not_ready_advice
from app.preferences_dialog import PreferencesDialog
from app.references import ReferencePanel
from app.semantic import (
    SemanticController,
    download_needed,
    engine_for_labels,
    palette_for,
)
from app.shortcuts import ShortcutsDialog, keys_for
from app.tools import MAX_RADIUS, MIN_RADIUS, ToolSettings, make_tools
from app.watermark_dialogs import (
    FolderApplyDialog,
    FolderRunDialog,
    TextMaskController,
    WatermarkDialog,
)
from app.worker import Worker, WorkerClient, private_worker, retire_worker
from engines import registry
from engines.base import Cancelled, CancelToken, Engine, Readiness
from engines.fileio import count_noun
from engines.region import mask_bbox

SAMPLE_IMAGE = SAMPLES_FOLDER / "rocket.jpg"
_EDIT_LAYERS = {layer.value for layer in Layer if layer is not Layer.IMAGE}
# how long closing waits, in all, for the cancelled runs to end; one that ignores cancelling
# (a long library call) is left to the end of the program, which it does not hold up
CLOSE_WAIT_MS = 3000
# while closing asks whether to stop what runs, how often it looks whether that has ended
RUNS_CHECK_MS = 250
# how long closing waits, in all, for the folder runs it stopped: the picture being written is
# finished (writes are whole or nothing either way); an engine ignoring cancelling is left
FOLDER_STOP_WAIT_MS = 10000
# settings are written this long after the last change (a crash keeps them); a drag
# of the size box or a run of [ ] presses is one write
SAVE_DELAY_MS = 1500
# what Esc and Ctrl+Z say when they discard the fill waiting for Enter
DISCARDED_FILL = "Discarded the fill; Ctrl+Shift+Z brings it back"
# the window's size the first time (no preferences), within the screen's free area
DEFAULT_SIZE = QSize(1280, 860)
# the panels' first width: room for the names of engines and parsers (the user's own is kept)
DOCK_WIDTH = 340
# the Tools menu's entries: the part of each tool's title that carries its mnemonic, unique
# in the menu (the tool's key where the title has that letter and no other entry took it)
_TOOL_MNEMONICS = {
    "mask": "&brush", "mask-eraser": "&eraser", "sketch": "&pen", "sketch-eraser": "&Sketch",
    "color": "&Colour", "color-eraser": "C&olour", "label": "&Label", "fill": "&fill",
    "picker": "p&icker", "sample-include": "incl&ude", "sample-exclude": "e&xclude",
    "sample-eraser": "e&rase", "pan": "Pa&n", "face-box": "F&ace",
}

# the Tools toolbar: every tool, in groups (a pen and its eraser, the label tools, the
# sampling area's) split by separators
_TOOLBAR_GROUPS = (("mask", "mask-eraser"), ("sketch", "sketch-eraser"),
                   ("color", "color-eraser"), ("label", "fill", "picker"),
                   ("sample-include", "sample-exclude", "sample-eraser"), ("pan", "face-box"))


def default_size(available: QSize) -> QSize:
    """:data:`DEFAULT_SIZE`, made smaller where the screen's ``available`` area is."""
    return DEFAULT_SIZE.boundedTo(available)


def plain_text(text: str) -> str:
    """A menu text without its mnemonic mark (``&&``, a literal ``&``, kept)."""
    return "&".join(part.replace("&", "") for part in text.split("&&"))


def tool_menu_text(name: str, title: str) -> str:
    """Tool ``name``'s title with its Tools-menu mnemonic (:data:`_TOOL_MNEMONICS`)."""
    marked = _TOOL_MNEMONICS.get(name, "")
    return title.replace(plain_text(marked), marked, 1) if marked else title


class MainWindow(FileCommands, FaceCommands, QMainWindow):
    """The editor window. ``worker`` may be given (tests); otherwise one is created."""

    # (path, why it cannot be opened or ""): a recent picture checked off the GUI thread
    recentChecked = Signal(str, str)
    # the recent-picture check's thread has answered for every path it was given
    recentCheckDone = Signal()

    def __init__(self, worker: Worker | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Inpaint Studio")
        self.setStatusBar(MessageBar(self))
        self.resize(default_size(self.screen().availableGeometry().size()))
        self.setAcceptDrops(True)
        self.document: Document | None = None
        self.save_path: Path | None = None
        self.last_error = ""
        # which stored preferences restore_preferences could not read and reset, as said
        self.preferences_note = ""
        self.worker = worker or Worker(parent=self)
        self.controller = FillController(self.worker, self)
        # label maps are computed on a worker of their own: a fill started meanwhile (a
        # stroke with "Fill after each stroke") must not cancel one, nor one a fill
        self.map_worker = private_worker(self)
        self.semantic = _LabelMaps(self.map_worker, self)
        # face and text detection likewise: on the shared worker, each fill cancelled them
        self.face_worker = private_worker(self)
        self.faces = FaceSession(self.face_worker, self)
        self.text_worker = private_worker(self)
        self.text_masks = _TextProposals(self.text_worker, self)
        self._keeps_result = False  # while a change that leaves the fill waiting is stored
        self._photo_state: PhotoState | None = None  # while a face crop shows
        self.canvas_view = CanvasView(self)  # the canvas with its scroll bars
        self.canvas = self.canvas_view.canvas
        self.setCentralWidget(self.canvas_view)
        self.tool_settings = ToolSettings()
        self.tools = make_tools(self.tool_settings)
        self.tools["face-box"] = FaceBoxTool(self.tool_settings, self._on_face_box,
                                             self._on_face_click, self._on_face_drag)
        self.actions: dict[str, QAction] = {}
        self._run_timer = QTimer(self)
        self._run_timer.setSingleShot(True)
        self._run_timer.setInterval(120)
        self._run_timer.timeout.connect(self._fill_after_stroke)
        self._fill_after_drag = False  # the timer fired mid-drag: fill when it ends
        self._mask_pixels_used: dict[str, int] = {}  # Grow, Shrink, Feather: the last value
        self._save_timer = QTimer(self)  # armed by restore_preferences
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_preferences)
        self._saves_preferences = False
        self._told_unsaved = False  # the status bar said the settings cannot be written
        self._build_panels()
        self._build_actions()
        self._build_menus_and_toolbars()
        self._build_status_bar()
        self._wire()
        self._key_routing = KeyRouting(self, self.canvas)
        QApplication.instance().installEventFilter(self._key_routing)
        self.select_tool("mask")
        self._set_tab_order()
        self._update_actions()
        # a window that never reads the preferences writes, on close, what it changed
        self._settings_writer = preferences.SettingsWriter(self._remembered())

    # ------------------------------------------------------------------ build
    def _build_panels(self) -> None:
        self.engine_panel = EnginePanel()
        self.engine_panel.load(self.controller.settings)
        self.overlay_panel = OverlayPanel(self.canvas.style)
        self.legend = LegendPanel()
        self.face_panel = FacePanel()
        self.reference_panel = ReferencePanel()
        self.docks: dict[str, QDockWidget] = {}
        for title, widget, name in (("Engine", self.engine_panel, "engine_dock"),
                                    ("Labels", self.legend, "labels_dock"),
                                    ("Overlays", self.overlay_panel, "overlay_dock"),
                                    ("Faces", self.face_panel, "face_dock"),
                                    ("References", self.reference_panel, "references_dock")):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            # the engine's options vary by engine, the faces panel is tall: they scroll
            # rather than hold the window large (the other panels shrink by themselves)
            if widget in (self.engine_panel, self.face_panel):
                widget = _scrolling(widget)
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
            self.addDockWidget(Qt.RightDockWidgetArea, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["labels_dock"], self.docks["overlay_dock"])
        self.tabifyDockWidget(self.docks["labels_dock"], self.docks["face_dock"])
        self.tabifyDockWidget(self.docks["labels_dock"], self.docks["references_dock"])
        self.docks["labels_dock"].raise_()
        self._docks_sized = False

    def _set_tab_order(self) -> None:
        """Tab from the canvas reaches the Engine panel's controls as shown, its engine's
        options last (:meth:`EngineOptionsForm.follow_in_tab_order` keeps them there as they
        are rebuilt), then the tab bar of the tabbed panels and the panel its tab shows
        (:meth:`_order_tab_bars`), the other panels shown, the toolbars and the canvas again
        (the panels' Float and Close buttons take no focus, as Qt makes them)."""
        stops = [self.canvas, *self.engine_panel.tab_stops(), *self.legend.tab_stops()]
        for first, second in itertools.pairwise(stops):
            QWidget.setTabOrder(first, second)
        self._order_tab_bars()

    def _order_tab_bars(self) -> None:
        """Put the tab bar of each group of tabbed panels just before the panels it chooses
        in the Tab order (Qt leaves it where it made it, after the toolbars), so that Tab
        goes from a tab chosen with the arrow keys into its panel. Done again, soon after,
        whenever a panel is moved, floated or docked (Qt may then use another tab bar)."""
        for bar in self.findChildren(QTabBar, options=Qt.FindDirectChildrenOnly):
            titles = {bar.tabText(index) for index in range(bar.count())}
            group = [dock for dock in self.docks.values()
                     if dock.windowTitle() in titles and not dock.isFloating()]
            if bar.isHidden() or len(group) < 2:
                continue
            widget = self.nextInFocusChain()
            while widget is not self and widget is not bar:  # the group's first widget
                if any(dock is widget or dock.isAncestorOf(widget) for dock in group):
                    break
                widget = widget.nextInFocusChain()
            if widget is self or widget is bar:
                continue
            # after the last widget before it that takes the focus (Qt orders only those)
            before = widget.previousInFocusChain()
            while before is not self and before.focusPolicy() == Qt.NoFocus:
                before = before.previousInFocusChain()
            if before is not self and before is not bar:
                QWidget.setTabOrder(before, bar)

    def _action(self, name: str, text: str, slot, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        keys = keys_for(name)
        if keys:  # "A or B": either works; the menu shows the first
            action.setShortcuts([QKeySequence(k) for k in keys.split(" or ")])
            action.setToolTip(f"{plain_text(text)} ({keys})")
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        a = self._action
        a("open", "&Open…", lambda: self.open_path())
        a("clear_recent", "&Clear Recent", self.clear_recent)
        a("clear_missing", "Remove &Missing", self.clear_missing_recent)
        self.actions["clear_recent"].setStatusTip("Empty the list of recent pictures (the "
                                                  "files stay where they are)")
        self.actions["clear_missing"].setStatusTip(
            "Take the pictures that are no longer there off the list")
        a("save", "&Save", lambda: self.save())
        a("save_as", "Save &As…", lambda: self.save_as())
        a("import_mask", "&Import Mask…", lambda: self.import_mask())
        a("export_mask", "&Export Mask…", lambda: self.export_mask())
        a("import_labels", "Import &Label Map…", lambda: self.import_labels())
        a("export_labels", "Export La&bel Map…", lambda: self.export_labels())
        a("import_sketch", "Import S&ketch…", lambda: self.import_sketch())
        a("export_sketch", "Export Ske&tch…", lambda: self.export_sketch())
        a("import_color", "Import Colo&ur Strokes…", lambda: self.import_colour_strokes())
        a("export_color", "E&xport Colour Strokes…", lambda: self.export_colour_strokes())
        self.actions["import_color"].setStatusTip(
            "Replace the colour strokes by an RGBA PNG's opaque pixels (the CLI's --color)")
        self.actions["export_color"].setStatusTip(
            "Save the colour strokes as an RGBA PNG, transparent where none is painted (for "
            "the CLI's --color)")
        for kind, text, tip in (
                ("include", "&Include Area…", "the only pixels copied into the hole"),
                ("exclude", "E&xclude Area…", "pixels never copied into the hole")):
            a(f"import_{kind}", text, lambda _=False, k=kind: self.import_sampling_area(k))
            a(f"export_{kind}", text, lambda _=False, k=kind: self.export_sampling_area(k))
            self.actions[f"import_{kind}"].setStatusTip(
                f"Replace the {kind} area by a PNG's white pixels ({tip}; the CLI's --{kind})")
            self.actions[f"export_{kind}"].setStatusTip(
                f"Save the {kind} area as a PNG, white = {tip} (for the CLI's --{kind})")
        a("add_references", "Add &Reference Photos…", lambda: self.add_references())
        a("keep_metadata", "Keep P&hoto Metadata", self._keep_metadata_toggled, checkable=True)
        self.actions["keep_metadata"].setChecked(True)
        self.actions["keep_metadata"].setStatusTip(
            "Saved pictures keep the original's colour profile, EXIF, XMP and IPTC (date, "
            "camera, GPS, caption, keywords, copyright); never a thumbnail, which would show "
            "what was removed, or Lightroom develop settings. Off, or in a BMP or GIF, a "
            "picture with a colour profile is converted to sRGB, so it looks the same")
        a("models", "&Models…", self.show_models)
        a("quit", "&Quit", self.close)
        a("undo", "&Undo", self.undo)
        a("redo", "&Redo", self.redo)
        a("fill", "&Fill", lambda: self.fill())
        a("apply", "&Apply Result", self.apply_result)
        a("cancel", "&Cancel / Discard", self.cancel_or_discard)
        a("fit", "&Fit", self.canvas.fit)
        a("actual_size", "&100 %", self.canvas.actual_size)
        a("zoom_in", "Zoom &In", lambda: self.canvas.zoom_by(1.25))
        a("zoom_out", "Zoom &Out", lambda: self.canvas.zoom_by(0.8))
        a("grow", "&Grow…", lambda: self.grow_mask())
        a("shrink", "&Shrink…", lambda: self.shrink_mask())
        a("feather", "&Feather…", lambda: self.feather_mask())
        a("invert", "&Invert", self.invert_mask)
        a("clear_mask", "&Clear", self.clear_mask)
        a("clear_sketch", "Clear S&ketch", self.clear_sketch)
        a("clear_color", "Clear Colour S&trokes", self.clear_colour_strokes)
        a("clear_sampling", "Clear Sam&pling Area", self.clear_sampling_area)
        a("detect_text", "Detect &Text", self.detect_text)
        a("apply_to_folder", "&Apply to Folder…", self.apply_mask_to_folder)
        a("clear_watermark", "Clear &Watermark from Folder…", self.clear_watermark)
        a("compare", "C&ompare Engines…", self.compare_engines)
        a("preferences", "Pr&eferences…", self.show_preferences)
        self.actions["undo"].setShortcuts([QKeySequence("Ctrl+Z")])
        self.actions["apply"].setShortcuts([QKeySequence("Return"), QKeySequence("Enter")])
        # "[" and "]" work wherever the focus is, as the tool keys do; a text field being
        # typed in keeps them
        for name, text, factor in (("brush_smaller", "Smaller Brush", 0.8),
                                   ("brush_larger", "Larger Brush", 1.25)):
            a(name, text, lambda _=False, f=factor: self.canvas.change_brush_size(f))
        self.tool_group = QActionGroup(self)
        for name, tool in self.tools.items():
            action = a(f"tool_{name}", tool_menu_text(name, tool.title),
                       lambda _=False, n=name: self.select_tool(n), checkable=True)
            action.setIcon(tool_icon(name))
            self.tool_group.addAction(action)
        self.actions["tool_face-box"].setToolTip(
            "Face box: drag a box over a face to edit it as a picture of its own")
        for name in ("undo", "redo", "fill", "apply", "cancel", "open", "save"):
            self.actions[name].setIcon(action_icon(name))

    def _build_menus_and_toolbars(self) -> None:
        bar = self.menuBar()
        menus = {
            "&File": ["open", "recent", "save", "save_as", None, "import_mask", "export_mask",
                      "import_labels", "export_labels", "import_sketch", "export_sketch",
                      "import_color", "export_color",
                      "import_sampling", "export_sampling", "add_references", None,
                      "clear_watermark", None, "keep_metadata",
                      "models", None, "quit"],
            "&Edit": ["undo", "redo", None, "fill", "apply", "cancel", None, "clear_sketch",
                      "clear_color", "clear_sampling", None, "compare", None,
                      "preferences"],
            "&Mask": ["grow", "shrink", "feather", "invert", "clear_mask", None, "detect_text",
                      "apply_to_folder"],
            "&View": ["fit", "actual_size", "zoom_in", "zoom_out"],
            "&Tools": [f"tool_{name}" for name in self.tools],
        }
        # "Re&cent": R and E are taken in the File menu (Add &Reference, &Export Mask)
        self.recent_menu = QMenu("Open Re&cent", self)
        self.recent_menu.setToolTipsVisible(True)  # each entry's full path
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._recent_check: threading.Thread | None = None
        self._recent_checking = False  # a check runs (or hangs): the next one waits for it
        self._recent_pending: list[str] | None = None  # the paths to check once it is done
        self._recent_missing: set[str] = set()  # listed paths the last check found gone
        self.recentChecked.connect(self._on_recent_checked)
        self.recentCheckDone.connect(self._on_recent_check_done)
        self._fill_recent_menu()
        submenus = {"recent": self.recent_menu}
        for verb, title in (("import", "Import Sampli&ng Area"),
                            ("export", "Export Sam&pling Area")):
            submenu = submenus[f"{verb}_sampling"] = QMenu(title, self)
            submenu.addActions([self.actions[f"{verb}_include"],
                                self.actions[f"{verb}_exclude"]])
        for title, names in menus.items():
            menu = bar.addMenu(title)
            for name in names:
                if name is None:
                    menu.addSeparator()
                elif name in submenus:
                    menu.addMenu(submenus[name])
                else:
                    menu.addAction(self.actions[name])
        self.view_menu = bar.actions()[3].menu()
        help_menu = bar.addMenu("&Help")
        a = self._action("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts)
        help_menu.addAction(a)
        help_menu.addAction("&About Inpaint Studio", self.show_about)

        tools_bar = self.addToolBar("Tools")
        tools_bar.setObjectName("tools_toolbar")
        tools_bar.setToolButtonStyle(Qt.ToolButtonIconOnly)
        for group in _TOOLBAR_GROUPS:  # each pen beside its eraser
            for name in group:
                tools_bar.addAction(self.actions[f"tool_{name}"])
            tools_bar.addSeparator()
        tools_bar.addWidget(QLabel(" Size "))
        self.size_box = QSpinBox()
        self.size_box.setRange(max(1, round(2 * MIN_RADIUS)), round(2 * MAX_RADIUS))
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Brush diameter ([ and ] change it)")
        self.size_box.setAccessibleName("Brush size")
        tools_bar.addWidget(self.size_box)
        run_bar = self.addToolBar("Run")
        run_bar.setObjectName("run_toolbar")
        run_bar.setToolButtonStyle(Qt.ToolButtonIconOnly)
        for name in ("open", "save", "undo", "redo", "fill", "apply", "cancel"):
            run_bar.addAction(self.actions[name])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.position_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        status.addPermanentWidget(self.progress)
        for label in (self.position_label, self.size_label, self.zoom_label):
            label.setMinimumWidth(80)
            status.addPermanentWidget(label)

    def _wire(self) -> None:
        self._clients = (self.controller, self.semantic, self.faces, self.text_masks)
        for client in self._clients:
            self._follow(client)
        c, canvas, panel = self.controller, self.canvas, self.engine_panel
        c.previewChanged.connect(self._show_preview)
        c.applied.connect(lambda _step: self._update_actions())
        c.applied.connect(self._photo_filled)
        c.waitingChanged.connect(lambda _waiting: self._update_actions())
        # a run's load may have confirmed or refused the engine's weights file: the panel
        # shows its readiness as `models list` now says it, before any error box
        c.runEnded.connect(panel.refresh_engine)
        canvas.editFinished.connect(self._on_edit_finished)
        canvas.dragChanged.connect(self._on_canvas_drag)
        canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        canvas.cursorMoved.connect(self._on_cursor)
        canvas.brushSizeChanged.connect(self._show_brush_size)
        self.size_box.valueChanged.connect(self._on_size_box)
        panel.engineChosen.connect(self.choose_engine)
        panel.settingsChanged.connect(lambda: panel.apply_to(c.settings))
        panel.settingsChanged.connect(self._show_references)  # a Patch size typed
        for changed in (canvas.brushSizeChanged, self.size_box.valueChanged,
                        panel.engineChosen, panel.settingsChanged,
                        self.actions["keep_metadata"].toggled, self.overlay_panel.changed,
                        self.legend.parser.currentIndexChanged):
            changed.connect(self._save_preferences_soon)
        self._tab_bars_check = QTimer(self)  # once the layout is done: _order_tab_bars
        self._tab_bars_check.setSingleShot(True)
        self._tab_bars_check.setInterval(0)
        self._tab_bars_check.timeout.connect(self._order_tab_bars)
        for dock in self.docks.values():  # moved, floated, tabbed, shown or hidden
            for changed in (dock.dockLocationChanged, dock.topLevelChanged,
                            dock.visibilityChanged):
                changed.connect(self._layout_changed)
            for changed in (dock.dockLocationChanged, dock.topLevelChanged):
                changed.connect(self._tab_bars_check.start)
        for widget in (*self.docks.values(), *self.findChildren(QToolBar)):
            widget.installEventFilter(self)  # resized by a separator, moved
        panel.fillRequested.connect(self.fill)
        panel.applyRequested.connect(self.apply_result)
        panel.cancelRequested.connect(self.cancel_or_discard)
        self.overlay_panel.changed.connect(canvas.refresh_overlays)
        sem, legend = self.semantic, self.legend
        legend.computeRequested.connect(self.compute_map)
        legend.labelChosen.connect(self.choose_label)
        legend.labelReplaced.connect(self._on_label_replaced)
        self.tool_settings.on_label_picked = legend.set_current_label
        self.tool_settings.on_message = lambda text: self.statusBar().showMessage(text, 8000)
        sem.labelSetChanged.connect(self._on_label_set)
        sem.countsChanged.connect(legend.set_counts)
        sem.labelsReplaced.connect(self._update_actions)
        sem.labelsEdited.connect(lambda text: self._on_edit_finished(Layer.LABELS.value, text))
        sem.busyChanged.connect(legend.set_busy)
        sem.runEnded.connect(legend.refresh_parser)  # as c.runEnded, for the parser's files
        self._wire_faces()
        self.text_masks.proposed.connect(self._on_text_proposed)
        references = self.reference_panel
        references.addRequested.connect(lambda: self.add_references())
        references.removeRequested.connect(self.remove_references)
        references.clearRequested.connect(
            lambda: self.remove_references(range(len(self.document.references))
                                           if self.document else ()))
        # "Remove all" asks as the window asks its other questions (tests answer them there)
        references.confirm_clear = lambda count: self.confirm(
            "Remove Reference Photos",
            f"Remove all {count_noun(count, 'reference photo')}? This cannot be undone; the "
            "files stay where they are.")
        # Delete and Backspace remove the selected photos after a click on a thumbnail too
        # (the focus then stays on the canvas, which has no use for those keys); the list
        # takes them itself when it has the focus, a text field keeps its own
        for key in (Qt.Key_Delete, Qt.Key_Backspace):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setEnabled(False)
            shortcut.activated.connect(self._remove_selected_references)
            references.list.itemSelectionChanged.connect(
                lambda s=shortcut: s.setEnabled(bool(references.list.selectedIndexes())))

    def _remove_selected_references(self) -> None:
        """Delete or Backspace on the canvas (where a click on a thumbnail leaves the focus):
        remove the photos selected in the references list while its panel is in sight (not
        behind another panel's tab, not closed). Pressed in any other widget (a list, a
        combo box, another panel's tree) they remove nothing: reference photos are outside
        the undo history."""
        dock, panel = self.docks["references_dock"], self.reference_panel
        focus = QApplication.focusWidget()
        on_canvas = focus is None or focus is self.canvas or self.canvas.isAncestorOf(focus)
        if on_canvas and dock.isVisible() and not dock.visibleRegion().isEmpty():
            panel.remove_selected()

    # --------------------------------------------------------------- document
    def set_document(self, document: Document, save_path: Path | None = None) -> None:
        if self.document is not None:
            self.document.remove_listener(self._on_document_change)
        self.controller.set_document(document)
        self.semantic.set_document(document)
        self.text_masks.set_document(document)
        self.document = document
        self.save_path = save_path
        document.add_listener(self._on_document_change)
        self.canvas.set_document(document)
        self.show_title()
        self.size_label.setText(f"{document.width}×{document.height}")
        self._show_references()
        notes = list(document.notes)
        if self.canvas.view.to_display is not None:
            notes.append(f"colours shown converted to sRGB from its "
                         f"{self.canvas.view.to_display.description} profile")
        if notes:
            self.statusBar().showMessage("; ".join(notes), 10000)
        else:  # nothing said about the previous picture still applies
            self.statusBar().clearMessage()
        self._update_actions()

    def show_title(self) -> None:
        """Name in the title the file Ctrl+S writes: the one last saved to (after Save As),
        else the picture's own (Ctrl+S then asks for a name), marked "*" while the photo has
        changes not saved (:meth:`show_modified`)."""
        document = self.document
        shown = self.save_path or (Path(document.path) if document and document.path else None)
        self.setWindowTitle(f"{shown.name if shown else 'untitled'}[*] — Inpaint Studio")
        self.show_modified()

    def show_modified(self) -> None:
        """Mark the title while the photo's picture (in a face edit, the photo the face is
        cut from) differs from its file, or face work waits to be pasted back: what Save
        writes. Guidance no file keeps (a sketch...) does not mark it: closing names that
        apart (:meth:`confirm_discard_changes`)."""
        photo = self._photo()
        self.setWindowModified(photo is not None and (photo.picture_modified
                                                      or self.face_work_pending()))

    def say_also(self, note: str, timeout: int = 10000) -> None:
        """Show ``note`` in the status bar after what it shows now (kept, not replaced)."""
        shown = self.statusBar().currentMessage()
        self.statusBar().showMessage(f"{shown}. {note}" if shown else note, timeout)

    # -------------------------------------------------------- recent pictures
    def remember_opened(self, path: Path) -> None:
        """List the picture at ``path`` first in Open Recent and start the next Open dialog
        in its folder. The bundled sample, which the editor opens by itself when started
        without a picture, is neither."""
        path = path.resolve()
        if path == SAMPLE_IMAGE.resolve():
            return
        preferences.add_recent(path)
        preferences.save_folder("open", path.parent)
        self._say_if_unsaved()
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        """List the recent pictures (keys 1 to 9 and 0), each with its full path as tip.
        Once :meth:`_check_recent` has found a file gone or unreadable, its entry says so
        (:meth:`_on_recent_checked`) and stays choosable (:meth:`open_recent` says why it
        cannot be opened); Remove Missing takes the gone ones off the list."""
        menu = self.recent_menu
        menu.clear()  # deletes the entries it made, keeps the window's Clear actions
        paths = preferences.load_recent()
        for number, path in enumerate(paths, 1):
            action = menu.addAction(_recent_text(number, path))
            action.setData(path)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            menu.addAction("No Recent Pictures").setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.actions["clear_missing"])
        menu.addAction(self.actions["clear_recent"])
        self._recent_missing = set()  # until :meth:`_check_recent` answers
        self.actions["clear_missing"].setEnabled(False)
        self.actions["clear_recent"].setEnabled(bool(paths))
        self._check_recent(paths)

    def _check_recent(self, paths: list[str]) -> None:
        """Whether each recent picture can still be opened (:func:`preferences.recent_problem`),
        asked on a thread of its own: on a network drive that went away a file check can block
        for a minute, which must not freeze the window (at start-up, or when the File menu
        opens). Each entry answers on its own, whatever the system says of the others. One
        check at a time: the menu filled again while one runs is checked once it is done (a
        file gone meanwhile may have been found there before), and a hung one answers for
        the entries when (if) it returns."""
        if not paths:
            return
        if self._recent_checking:
            self._recent_pending = paths
            return
        self._recent_checking = True
        checked, done = self.recentChecked, self.recentCheckDone

        def check() -> None:
            try:
                for path in paths:
                    checked.emit(path, preferences.recent_problem(path))
                done.emit()
            except RuntimeError:  # the window was deleted meanwhile
                return

        self._recent_check = threading.Thread(target=check, name="recent-check", daemon=True)
        self._recent_check.start()

    def _on_recent_check_done(self) -> None:
        """The running check has answered: the paths of a menu filled meanwhile are checked
        now (:meth:`_check_recent`)."""
        self._recent_checking = False
        pending, self._recent_pending = self._recent_pending, None
        if pending:
            self._check_recent(pending)

    def _on_recent_checked(self, path: str, problem: str) -> None:
        """Mark the Open Recent entry of a picture that cannot be opened, "(missing)" or
        "(unreadable)", its tips saying why; it stays enabled, so that choosing it says so
        (a disabled entry cannot be chosen, and its tooltip is easily missed)."""
        for number, action in enumerate(self.recent_menu.actions(), 1):
            if action.data() == path:
                tip = f"{path} ({problem})" if problem else path
                action.setText(_recent_text(number, path, problem))
                action.setToolTip(tip)
                action.setStatusTip(tip)
        if problem == preferences.RECENT_GONE:
            self._recent_missing.add(path)
        else:
            self._recent_missing.discard(path)
        self.actions["clear_missing"].setEnabled(bool(self._recent_missing))

    def open_recent(self, path: str) -> bool:
        """Open a picture of Open Recent. For one that is gone the status bar says so (no
        error box) and the user is asked whether to take it off the list (kept otherwise: a
        drive may come back); one that cannot be read stays listed (the drive or the
        permission may come back) and fails as any Open does, saying why."""
        if preferences.recent_problem(path) != preferences.RECENT_GONE:
            return self.open_path(path)
        name, folder = Path(path).name, Path(path).parent
        gone = f"{name} is no longer at {folder}"
        self.statusBar().showMessage(gone, 10000)
        if self.confirm("Picture not found", f"{gone}: it was moved, renamed or deleted, or "
                        "its drive is not connected. Remove it from Open Recent?"):
            preferences.remove_recent(path)
            self._fill_recent_menu()
            self.statusBar().showMessage(f"{gone}: removed from Open Recent", 10000)
        else:
            self.statusBar().showMessage(f"{gone}: kept in Open Recent", 10000)
        return False

    def clear_recent(self) -> None:
        preferences.clear_recent()
        self._fill_recent_menu()

    def clear_missing_recent(self) -> int:
        """Take off Open Recent the pictures its last check (as the menu opened) found gone;
        returns how many, which the status bar says. Nothing is checked again here: on a
        drive that went away that may block."""
        gone = sorted(self._recent_missing)
        for path in gone:
            preferences.remove_recent(path)
        self._fill_recent_menu()
        count = len(gone)
        self.statusBar().showMessage(
            f"Removed {count} missing picture{'s' if count != 1 else ''} from Open Recent"
            if count else "No missing pictures in Open Recent", 6000)
        return count

    def show_models(self) -> None:
        """The model manager: download, import and remove checkpoints."""
        dialog = ModelManagerDialog(self)
        dialog.modelsChanged.connect(self.models_changed)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def models_changed(self) -> None:
        """Weights were installed or removed: refresh what shows readiness."""
        self.engine_panel.reload_engines()
        self.legend.reload_parsers()
        self.face_panel.refresh_models()

    def compute_map(self, name: str) -> int | None:
        """Compute the label map with parser ``name``; returns the task id, or None. A
        parser whose weights are missing offers their download first, as choosing an engine
        does; declined, the status bar says what it needs and how to get it in the GUI's
        words (as choosing an engine does)."""
        needed, message = download_needed(name)
        if needed:
            if not self.offer_download(needed):
                self.statusBar().showMessage(message, 10000)  # it names the parser
                return None
            self.models_changed()
        return self.semantic.compute_map(name)

    def choose_label(self, label_id: int) -> None:
        """Make ``label_id`` the label the label tools paint (switching to the brush)."""
        self.tool_settings.label = label_id
        if self.canvas.tool is None or self.canvas.tool.name not in ("label", "fill"):
            self.select_tool("label")

    def _on_label_replaced(self, label_id: int) -> None:
        """A new label set lacks the label the tools paint: paint ``label_id``, the legend's
        replacement, from now on, keeping the tool in use."""
        self.tool_settings.label = label_id

    def _on_label_set(self, label_set) -> None:
        self.canvas.style.palette = palette_for(label_set)
        self.canvas.refresh_overlays()
        self.legend.set_label_set(label_set)
        self.legend.set_current_label(self.tool_settings.label)

    # -------------------------------------------------------- folders, compare
    def detect_text(self) -> None:
        """Propose a mask over text and logos. A fill shown, not applied, stays: detection
        reads the picture (not the fill shown) and only adds to the mask."""
        if self.document is not None:
            self.text_masks.run(self.document)

    def create_engine(self, name: str) -> Engine:
        """Engine ``name`` with the options set in the engine panel (for the dialogs)."""
        return registry.create(name, **self.controller.settings.options_for(name))

    def folder_request_settings(self) -> dict:
        """The engine panel's strategy, context, seed and device, for folder runs."""
        self.engine_panel.apply_to(self.controller.settings)
        s = self.controller.settings
        return {"strategy": s.strategy, "crop_margin": s.crop_margin, "seed": s.seed,
                "device": s.device}

    def clear_watermark(self) -> WatermarkDialog:
        dialog = WatermarkDialog(self, factory=self.create_engine,
                                 request_settings=self.folder_request_settings)
        dialog.keep_metadata.setChecked(self.keep_metadata)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.correctRequested.connect(self._open_with_mask)
        dialog.modelsChanged.connect(self.models_changed)
        dialog.show()  # not modal: it runs on its own worker, editing may go on
        return dialog

    def _open_with_mask(self, path: str, mask) -> None:
        if self.open_path(path):
            self.document.replace_layer(Layer.MASK, mask, "Watermark mask")
            self._update_actions()
            self.statusBar().showMessage("Correct the mask, then Mask → Apply to Folder…", 10000)

    def apply_mask_to_folder(self) -> FolderApplyDialog | None:
        """Open Apply to Folder on the document shown. The dialog is not modal: it applies
        the document's mask as it is when Apply is pressed, its preview following the
        edits, and it waits (Apply off, saying why) while another document is shown."""
        if self.document is None or not self.document.mask.any():
            self.statusBar().showMessage("Paint or import a mask first", 6000)
            return None
        dialog = FolderApplyDialog(self.document, self.controller.settings.engine, self,
                                   factory=self.create_engine,
                                   request_settings=self.folder_request_settings,
                                   shown=lambda: self.document)
        # the canvas says when it shows another document (and on zoom and pan: cheap)
        self.canvas.viewChanged.connect(dialog.check_document)
        dialog.keep_metadata.setChecked(self.keep_metadata)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.modelsChanged.connect(self.models_changed)
        dialog.show()
        return dialog

    def compare_engines(self) -> CompareDialog | None:
        """Compare the engines on the picture and mask, a brush drag under way ended first
        (its stroke counts; see :meth:`_end_drag_for`); the one chosen is applied."""
        if not self._end_drag_for():
            return None
        doc = self.document
        if doc is None or not doc.mask.any():
            self.statusBar().showMessage("Paint over what should be removed first", 6000)
            return None
        # a fill still running is stopped and its preview dropped (it would compete with the
        # engines compared, and applied meanwhile it would make their results stale; the
        # canvas shows the document again, as Save would write it); a finished fill waiting for
        # Enter stays: the dialog fills the picture, not the fill shown, and closing it
        # without a choice leaves that fill to apply
        asked = self.controller.enter_pressed  # dropped with the fill: said in the dialog
        self.controller.cancel()
        s = self.controller.settings
        request = doc.build_request(strategy=s.strategy, crop_margin=s.crop_margin, seed=s.seed,
                                    device=s.device)
        version = doc.image_version
        dialog = CompareDialog(request, parent=self, factory=self.create_engine,
                               reference_names=reference_names(doc, request),
                               unedited_labels=doc.computed_labels,
                               note=ENTER_WISH_DROPPED if asked else "")
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.chosen.connect(lambda name, image: self._apply_compared(doc, version, request,
                                                                       name, image))
        dialog.engineEnded.connect(self.engine_panel.refresh_engine)  # as after a fill
        dialog.start()
        dialog.open()
        return dialog

    def _apply_compared(self, doc: Document, version: int, request, name: str, image) -> None:
        if doc is not self.document or doc.image_version != version:
            self.statusBar().showMessage("The picture changed meanwhile; compare again", 6000)
            return
        if not self._end_drag_for():
            return
        title = registry.engine_class(name).title  # as a fill run in the window names it
        self.controller.discard()  # the chosen result replaces a fill waiting for Enter
        step = doc.apply_result(image, f"Fill ({title})", used_mask=request.mask,
                                within=mask_bbox(request.mask), used_sketch=request.sketch,
                                used_color=request.color)
        self._update_actions()
        self._photo_filled(step)
        self.statusBar().showMessage(f"Applied {title}; Ctrl+Z undoes it", 6000)

    # ------------------------------------------------------------------ edits
    def undo(self) -> None:
        """Undo the last step; a fill waiting for Enter is discarded first, on its own (redo
        brings it back while nothing else changes). A brush drag under way ends first, so
        Ctrl+Z pressed mid-stroke undoes the stroke so far (:meth:`Canvas.end_drag`), the
        first stroke too (Undo is enabled while a stroke's step is open)."""
        if self.document is not None:
            self.canvas.end_drag()
            if self.controller.set_aside():
                self.statusBar().showMessage(DISCARDED_FILL, 5000)
            else:
                step = self.document.undo()
                if step:
                    self._face_step_moved(step, undone=True)
                    self._after_history_move(step, f"Undid {step.label}")
        self._update_actions()

    def redo(self) -> None:
        """Redo the last step undone, or bring back the fill that undo discarded. Mid-stroke
        the Redo entry is off (:meth:`_update_actions`); called anyway, the brush drag under
        way ends first (its stroke then drops the steps to redo, as any edit)."""
        if self.document is not None:
            self.canvas.end_drag()
            if self.controller.restore():
                self.statusBar().showMessage(
                    "Brought the fill back; Enter applies it, Esc discards it", 6000)
            elif self.document.can_redo():
                self.controller.discard()
                step = self.document.redo()
                if step:
                    self._face_step_moved(step, undone=False)
                    self._after_history_move(step, f"Redid {step.label}")
        self._update_actions()

    def _after_history_move(self, step: Step, said: str) -> None:
        """After undo or redo of ``step`` (``said``: what the status bar says of it) while a
        fill runs (or is about to start), as after an edit of its layers
        (:meth:`_fill_again_or_drop`): the fill starts again when it runs after each stroke,
        else it is dropped when its mask or guidance changed, saying why. No fill starts
        otherwise: not when nothing runs (stepping back through the history must not apply
        a new fill, which would drop the steps to redo), nor after a step that changed the
        picture (a fill, a face edit: that would apply the fill just undone once more)."""
        layers = {layer.value for layer in step.layers}
        running = self.controller.busy or self._run_timer.isActive()
        note = (self._fill_again_or_drop(layers)
                if running and Layer.IMAGE.value not in layers
                else self.controller.drop_outdated())
        self.statusBar().showMessage(". ".join(text for text in (said, note) if text),
                                     8000 if note else 3000)

    def _mask_operation(self, label: str, operation, verb: str | None = None,
                        said: str = "", cancel: CancelToken | None = None,
                        say_emptied: bool = False) -> bool:
        """Replace the mask by ``operation(mask)`` as one undo step; the operation runs off
        the GUI thread (a wide disc on a large picture takes seconds). With ``verb``, an
        empty mask is left alone and the status bar says there is nothing to ``verb``;
        ``said``: what the status bar says of the edit done, with ``say_emptied`` followed by
        "; the mask is now empty" when nothing is left of it. A brush drag under way ends
        first, its stroke included (:meth:`_end_drag_for`). With ``cancel`` (a fresh token
        that ``operation`` checks), the busy dialog can cancel it: the mask is then left
        unchanged, no undo step is added, and the status bar says so; the same when the
        result is the mask as it was. Returns whether the mask was replaced."""
        if self.document is None or not self._end_drag_for():
            return False
        mask = self.document.mask
        if verb is not None and not mask.any():
            self.statusBar().showMessage(f"The mask is empty: nothing to {verb}", 5000)
            return False
        self.controller.discard()
        def run() -> tuple[np.ndarray, bool]:  # the comparison too, off the GUI thread
            result = operation(mask)
            return result, np.array_equal(result, mask)

        try:
            result, same = wait_for(self, f"{label}...", run, cancel=cancel)
        except Cancelled:
            self.statusBar().showMessage(f"{label} cancelled; the mask is unchanged", 5000)
            return False
        if same:  # no undo step for nothing
            why = " (it covers the whole picture)" if mask.min() == 255 else ""
            self.statusBar().showMessage(f"{label} changed nothing{why}", 5000)
            return False
        if say_emptied and said and not result.any():
            said += "; the mask is now empty"
        self.document.replace_layer(Layer.MASK, result, label)
        self._on_edit_finished(Layer.MASK.value, said)
        return True

    def grow_mask(self, pixels: int | None = None) -> None:
        pixels = self._mask_pixels("grow", "Grow mask by", pixels)
        if pixels:
            cancel = CancelToken()
            if self._mask_operation(f"Grow mask {pixels}px",
                                    lambda m: maskops.grow(m, pixels, cancel=cancel), "grow",
                                    said=f"Grew the mask by {pixels} px", cancel=cancel):
                self._mask_pixels_used["grow"] = pixels

    def shrink_mask(self, pixels: int | None = None) -> None:
        pixels = self._mask_pixels("shrink", "Shrink mask by", pixels)
        if pixels:
            cancel = CancelToken()
            if self._mask_operation(f"Shrink mask {pixels}px",
                                    lambda m: maskops.shrink(m, pixels, cancel=cancel),
                                    "shrink", said=f"Shrank the mask by {pixels} px",
                                    cancel=cancel, say_emptied=True):
                self._mask_pixels_used["shrink"] = pixels

    def feather_mask(self, pixels: int | None = None) -> None:
        pixels = self._mask_pixels("feather", "Feather mask edge by", pixels)
        if pixels and self._mask_operation(f"Feather mask {pixels}px",
                                           lambda m: maskops.feather(m, pixels), "feather",
                                           said=f"Feathered the mask edge by {pixels} px",
                                           say_emptied=True):
            self._mask_pixels_used["feather"] = pixels

    def _mask_pixels(self, operation: str, question: str, pixels: int | None) -> int:
        """``pixels`` when given, else asked (``question``), the dialog starting at the value
        last used for ``operation`` in this session (8 at first): remembered by the command
        once the operation ran, not when it did nothing (an empty mask) or was cancelled;
        0 when declined."""
        if pixels is None:
            pixels = self.ask_pixels(question, self._mask_pixels_used.get(operation, 8))
        return pixels

    def invert_mask(self) -> None:
        self._mask_operation("Invert mask", maskops.invert,
                             said="Inverted the mask: the hole is now what was kept")

    def clear_mask(self) -> None:
        self._mask_operation("Clear mask", lambda m: m * 0, "clear",
                             "Cleared the mask; Ctrl+Z brings it back")

    def clear_sketch(self) -> None:
        self._clear_layer(Layer.SKETCH, "sketch")

    def clear_colour_strokes(self) -> None:
        self._clear_layer(Layer.COLOR, "colour strokes", plural=True)

    def clear_sampling_area(self) -> None:
        """Clear the include and the exclude area."""
        self._clear_layer(Layer.SAMPLING, "sampling area")

    def _end_drag_for(self) -> bool:
        """Before a command that records a step of its own (a shortcut may come while the
        mouse button is held): end a drag under way on the canvas (:meth:`Canvas.end_drag`:
        its stroke is kept as a step of its own). Returns whether the document is free for
        the command; if a step is still open, the status bar says to finish the stroke."""
        self.canvas.end_drag()
        if self.document is not None and self.document.in_step:
            self.statusBar().showMessage("Finish the stroke first", 5000)
            return False
        return True

    def _clear_layer(self, layer: Layer, what: str, plural: bool = False) -> None:
        """Blank ``layer`` as one undo step; an empty one is left alone and the status bar
        says there is nothing to clear. ``what`` names its content (``plural``: a plural
        noun). A brush drag under way ends first, its stroke included (:meth:`_end_drag_for`)."""
        if self.document is None or not self._end_drag_for():
            return
        if self.document.clear_layer(layer, f"Clear {what}") is None:
            self.statusBar().showMessage(
                f"There are no {what}: nothing to clear" if plural
                else f"The {what} is empty: nothing to clear", 5000)
            return
        self._on_edit_finished(
            layer.value, f"Cleared the {what}; Ctrl+Z brings {'them' if plural else 'it'} back")

    def cancel_or_discard(self) -> None:
        """Esc (and the Engine panel's Cancel): cancel whatever runs (a fill, a map, face or
        text detection; a fill cancelled leaves the canvas showing the document, and says so
        once it has stopped) and the fill after a stroke still to start (*Fill after each
        stroke*: it never starts, the status bar saying it was cancelled at once), else
        discard the fill waiting for Enter, as Ctrl+Z does: redo brings it back while
        nothing else changes."""
        about_to_fill = self._run_timer.isActive() or self._fill_after_drag
        self._cancel_fill_after_stroke()
        running = [client for client in self._clients if client.busy]
        for client in running:
            client.cancel()
        if about_to_fill:
            engine_class = registry.engine_class(self.controller.settings.engine)
            self.statusBar().showMessage(
                cancelled_message(engine_class.title or engine_class.name), 5000)
            self._update_actions()
        if running or about_to_fill:
            return
        if self.controller.set_aside():
            self.statusBar().showMessage(DISCARDED_FILL, 5000)
            self._update_actions()
        else:
            self.controller.discard()

    def apply_result(self) -> bool:
        """Enter (and the Engine panel's Apply): apply the fill waiting, or the fill running
        as soon as it is done (:meth:`FillController.apply`); returns whether it applied
        one now. The fill after a stroke still to start (*Fill after each stroke*) starts
        now, to be applied when done. With no fill shown, running or about to start, the
        status bar says there is nothing to apply and how to get a fill."""
        controller = self.controller
        if self._run_timer.isActive() and not self.canvas.dragging:
            self._cancel_fill_after_stroke()
            if self.fill(offer=False) is None:
                return False  # not started: the status bar says why
        if controller.has_result or controller.busy or self._fill_after_drag:
            return controller.apply()
        if self.document is None:
            said = f"Nothing to apply: open a picture first ({keys_for('open')})"
        else:
            said = f"Nothing to apply: fill first ({keys_for('fill')})"
        self.statusBar().showMessage(said, 5000)
        return False

    def select_tool(self, name: str) -> None:
        """Make ``name`` the canvas's tool; the overlay of the layer it paints shows
        (:meth:`_show_painted_overlay`)."""
        tool = self.tools[name]
        self.actions[f"tool_{name}"].setChecked(True)
        self.canvas.set_tool(tool)
        self.size_box.setEnabled(bool(tool.family))
        if tool.family:
            self._show_brush_size(tool.radius)
        self._show_painted_overlay()

    def _show_painted_overlay(self) -> None:
        """A tool that paints a layer whose overlay is switched off (Overlays panel, a choice
        remembered between sessions) would paint unseen, and what it paints still steers
        the fill: the overlay is turned on again, the status bar saying so. Done as the tool
        is chosen and as a stroke starts (the tool may have been chosen before the overlay
        was hidden, or in an earlier session). What the status bar said before is kept, the
        sentence added after it (:meth:`say_also`): a note on the file just opened is not
        lost. A label tool with no label map to repaint paints nothing (it says so as it is
        used): the overlay is left as it is."""
        tool = self.canvas.tool
        if tool is not None and tool.layer is Layer.LABELS and (
                self.document is None or not self.document.has_label_map()):
            return
        if tool is not None and tool.layer is not None:
            said = self.overlay_panel.reveal(tool.layer)
            if said:
                self.say_also(said)

    def choose_engine(self, name: str) -> None:
        """Select an engine; tell the user what to do when it is not ready. Missing weights
        are offered for download; declined, or when it needs training, the status bar says
        what it lacks in the GUI's words (:meth:`_not_ready_text`)."""
        self.engine_panel.apply_to(self.controller.settings)
        self.controller.settings.engine = name
        readiness, _detail = self.engine_panel.readiness(name)
        engine_class = registry.engine_class(name)
        if readiness is Readiness.NEEDS_DOWNLOAD and self.offer_download(engine_class.weights):
            self.models_changed()
            readiness, _detail = self.engine_panel.readiness(name)
        if readiness is Readiness.READY:
            self.statusBar().showMessage(f"Engine: {engine_class.title or name}", 3000)
        else:
            self.statusBar().showMessage(self._not_ready_text(name, "is selected, but"), 10000)
        self._show_references()

    def fill(self, offer: bool = True) -> int | None:
        """Fill the hole with the engine chosen (F, the Engine panel's Fill button; with
        ``offer=False`` the fill after a stroke); returns the task id, or None. An engine
        whose weights are missing first offers their download, as choosing it does (unless
        ``offer`` is False); declined, the status bar says in the GUI's words what it lacks
        and how to install it (:meth:`_not_ready_text`), and one that needs training says so
        in an error box (in the status bar only after a stroke): no fill starts either way,
        so no error box shows the engine's command-line advice. Asked for (``offer``), a
        brush drag under way ends first, so the fill takes the stroke so far, which is one
        undo step (:meth:`_end_drag_for`), and the fill after a stroke still to start is
        replaced by this one; the fill after a stroke leaves a drag alone. Enter pressed
        during the fill this one replaces stands for this one (:meth:`FillController.run`)."""
        if offer:
            if not self._end_drag_for():
                return None
            self._cancel_fill_after_stroke()
        name = self.controller.settings.engine
        if self.engine_panel.readiness(name)[0] in _NOT_INSTALLED and self.document is not None \
                and self.document.mask.any() and not self._ready_to_fill(name, offer):
            return None
        return self.controller.run()

    def _ready_to_fill(self, name: str, offer: bool) -> bool:
        """Whether engine ``name`` can fill now (see :meth:`fill`); the Engine panel's
        readiness is refreshed first when it says that weights are missing (they may have
        been installed since)."""
        if self.engine_panel.readiness(name)[0] in _NOT_INSTALLED:
            self.engine_panel.reload_engines()
        readiness, _detail = self.engine_panel.readiness(name)
        if readiness is Readiness.NEEDS_DOWNLOAD and offer \
                and self.offer_download(registry.engine_class(name).weights):
            self.models_changed()
            readiness, _detail = self.engine_panel.readiness(name)
        if readiness not in _NOT_INSTALLED:  # ready, or the engine's own error says why
            return True
        said = self._not_ready_text(name, FILL_SITUATION)
        if readiness is Readiness.NEEDS_TRAINING and offer:
            self.show_error(said)
        else:
            self.statusBar().showMessage(said, 10000)
        return False

    def _not_ready_text(self, name: str, situation: str) -> str:
        """What the window says of engine ``name`` that is not ready, in the GUI's words:
        ``"{title} {situation} {advice}"`` (``situation``: "is selected, but",
        :data:`~app.model_dialogs.FILL_SITUATION`), the advice for missing weights or a
        model to train (:func:`~app.panels.not_ready_advice`); else (a plugin's undeclared
        checkpoint, a missing dependency) ``"{title}: {detail}"``, the engine's own words."""
        readiness, detail = self.engine_panel.readiness(name)
        engine_class = registry.engine_class(name)
        title = engine_class.title or name
        advice = not_ready_advice(readiness, engine_class)
        return f"{title} {situation} {advice}" if advice else f"{title}: {detail}"

    # ---------------------------------------------------------------- signals
    def _show_preview(self, image, box, label: str) -> None:
        """Show the fill's stage on the canvas, except a final stage that is applied as soon
        as it arrives (:attr:`FillController.display_skipped`): applying shows its pixels,
        and converting it for display first would only hold up the window."""
        if not self.controller.display_skipped:
            self.canvas.set_preview(image, box, label)

    def _on_document_change(self, layer: Layer, box) -> None:
        """An edit of the mask, sketch or another guidance layer drops the fill shown (it
        was computed without that edit), except a change :meth:`keeping_result` stores. A
        change of the picture under a fill waiting for Enter (a face pasted back, a result
        applied beside it) drops that fill at once, saying why as Enter would
        (:meth:`_drop_outdated_result`; within a step still open, as it ends)."""
        controller = self.controller
        if not controller.has_result or controller.busy:
            return
        if layer is Layer.IMAGE:
            if self.document is not None:
                self.document.when_idle(self._drop_outdated_result)
        elif not self._keeps_result:
            controller.discard()

    def _drop_outdated_result(self) -> None:
        """Drop the fill waiting for Enter when it may no longer be used (its picture
        changed: :meth:`FillController.drop_outdated`): its preview goes and the status bar
        says why, in the words Enter and Save use; redo does not bring it back."""
        if not self.controller.has_result or self.controller.busy:
            return
        reason = self.controller.drop_outdated()
        if reason:
            self.statusBar().showMessage(reason, 10000)

    @contextmanager
    def keeping_result(self):
        """Within it, changes of the document keep the fill waiting to be applied: for a
        change that only adds to the mask (a text proposal), after which the fill still
        applies as computed, clearing only the mask it used."""
        self._keeps_result = True
        try:
            yield
        finally:
            self._keeps_result = False

    def _on_text_proposed(self, step) -> None:
        self._update_actions()
        if step is not None and self.controller.has_result:
            self.statusBar().showMessage(
                "Text and logos proposed as the mask; the fill shown is still there: Enter "
                "applies it (its own hole only), Esc discards it", 10000)

    def _on_edit_finished(self, layer: str, said: str = "") -> None:
        """After an edit of ``layer``: a label edit fills with an engine that follows labels,
        saying so after ``said`` (what the edit itself reports), and the fill runs again
        when it runs after each stroke, else a fill running whose mask or guidance changed
        is dropped, saying why (:meth:`_fill_again_or_drop`)."""
        self._update_actions()
        notes = [said] if said else []
        if layer == Layer.LABELS.value and self.document is not None \
                and self.document.mask.any():
            notes.append(self._use_label_engine())
        notes.append(self._fill_again_or_drop({layer}))
        message = ". ".join(note for note in notes if note)
        if message:
            self.statusBar().showMessage(message, 10000)

    def _fill_after_stroke(self) -> None:
        """The auto-run timer's fill (*Fill after each stroke*). While a drag is under way it
        waits for the drag to end (the fill would read a stroke's open step): it runs then,
        the stroke's own edit restarting the timer."""
        if self.canvas.dragging:
            self._fill_after_drag = True
            return
        self.fill(offer=False)

    def _cancel_fill_after_stroke(self) -> None:
        """The fill after a stroke still to start (the auto-run timer, or held back by a
        drag) never starts."""
        self._run_timer.stop()
        self._fill_after_drag = False

    def _on_canvas_drag(self, dragging: bool) -> None:
        """A canvas drag began or ended: Undo follows (mid-stroke it undoes the stroke), the
        painted layer's overlay shows (:meth:`_show_painted_overlay`), and a fill after a
        stroke held back by the drag (:meth:`_fill_after_stroke`) starts soon."""
        self._update_actions()
        if dragging:
            self._show_painted_overlay()
        if not dragging and self._fill_after_drag:
            self._fill_after_drag = False
            self._run_timer.start()

    def _fill_again_or_drop(self, layers: set[str]) -> str:
        """After an edit, undo or redo that changed ``layers`` (values of :class:`Layer`):
        with *Fill after each stroke*, a guidance layer or the mask changed and a hole left,
        the fill starts again soon (a burst of edits starts one), from the document as it is
        then, and a fill running that no longer fits it stops now, quietly; otherwise a fill
        running or waiting that no longer fits is dropped (:meth:`FillController.drop_outdated`).
        Returns what the status bar should say of it ("" for nothing)."""
        dropped = self.controller.drop_outdated()
        hole = self.document is not None and self.document.mask.any()
        if layers & _EDIT_LAYERS and self.controller.settings.auto_run and hole:
            self._run_timer.start()
            return ""
        if not hole:  # a fill after an earlier stroke has nothing left to fill
            self._cancel_fill_after_stroke()
        return dropped

    def _use_label_engine(self) -> str:
        """After a label edit, fill with an engine that follows labels: the one chosen when
        it does, else the first that does (:func:`engine_for_labels`). Returns what the
        status bar should say ("" when the engine stays)."""
        current = self.controller.settings.engine
        name = engine_for_labels(current, self.document.label_set if self.document else None)
        if name is None:
            return "No engine that follows labels is ready"
        if name == current:
            return ""
        self.engine_panel.select_engine(name)
        # the user's choice changes for later fills too: said as a choice when none starts
        verb = "Filling with" if self.controller.settings.auto_run else "Engine set to"
        return f"{verb} {registry.engine_class(name).title}: it follows the label map"

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress.hide()
            return
        self.progress.show()
        self.progress.setValue(round(fraction * 1000))
        self.progress.setFormat(f"{message}  %p%" if message else "%p%")

    def _follow(self, client: WorkerClient) -> None:
        """Show a background controller's progress, busy state, messages and errors."""
        client.progressChanged.connect(self._on_progress)
        client.busyChanged.connect(self._on_busy)
        client.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        client.error.connect(self.show_error)

    def _on_busy(self, _busy: bool) -> None:
        busy = any(client.busy for client in self._clients)
        self.engine_panel.set_busy(busy)
        self.progress.setVisible(busy)
        self._update_actions()

    def _on_cursor(self, x: int, y: int) -> None:
        self.position_label.setText(f"{x}, {y}" if x >= 0 else "")

    def _show_brush_size(self, radius: float) -> None:
        self.size_box.blockSignals(True)
        self.size_box.setValue(max(1, round(radius * 2)))
        self.size_box.blockSignals(False)

    def _on_size_box(self, diameter: int) -> None:
        tool = self.canvas.tool
        if tool is not None and tool.family:
            self.tool_settings.radius[tool.family] = diameter / 2.0
            self.canvas.update()

    def _update_actions(self) -> None:
        doc = self.document
        has = doc is not None
        for name in ("save", "save_as", "import_mask", "export_mask", "import_labels",
                     "export_labels", "import_sketch", "export_sketch", "import_color",
                     "export_color", "import_include", "import_exclude", "export_include",
                     "export_exclude", "fill", "grow",
                     "shrink", "feather", "invert", "clear_mask", "clear_sketch",
                     "clear_color", "clear_sampling", "detect_text", "apply_to_folder", "compare",
                     "add_references"):
            self.actions[name].setEnabled(has)
        self.reference_panel.add_button.setEnabled(has)  # the photos belong to the picture
        for name in ("save", "save_as", "apply_to_folder"):  # the crop is not the photo
            self.actions[name].setEnabled(has and self.faces.edit is None)
        # Ctrl+Z discards a fill waiting for Enter first (:meth:`undo`): the entry says so;
        # mid-stroke (a step open) it ends the stroke and undoes it, the first one too
        waiting = self.controller.waiting if has else ""
        self.actions["undo"].setEnabled(has and (doc.can_undo() or doc.in_step
                                                 or bool(waiting)))
        # mid-stroke (the button held, its step open) the Undo entry names the stroke drawn,
        # and Redo is off: the stroke ends first and, as any edit, drops what could be redone
        tool = self.canvas.tool
        drawing = has and doc.in_step and self.canvas.dragging and tool is not None
        restorable = self.controller.restorable if has and not drawing else ""
        self.actions["redo"].setEnabled(has and not drawing
                                        and (doc.can_redo() or bool(restorable)))
        undo = (f"{waiting} preview" if waiting else tool.title if drawing
                else doc.undo_label() if has and doc.can_undo() else "")
        redo = restorable or (doc.redo_label() if has and not drawing and doc.can_redo()
                              else "")
        self._name_history_action("undo", undo, "Discard the fill shown, not applied yet "
                                  "(Ctrl+Shift+Z brings it back)" if waiting else "")
        self._name_history_action("redo", redo, "Show the fill discarded again, waiting for "
                                  "Enter" if restorable else "")
        self.show_modified()

    def _name_history_action(self, name: str, step: str, tip: str) -> None:
        """Name in the Undo or Redo entry (``name``) the ``step`` it undoes or redoes ("" for
        none), in its text, tooltip (with its keys) and status tip (``tip`` when given)."""
        action, verb = self.actions[name], name.capitalize()
        # a step's label may hold a "&" (a file name): shown as it is, not as a mnemonic
        action.setText(f"&{verb} {step.replace('&', '&&')}" if step else f"&{verb}")
        said = f"{verb} {step}" if step else verb
        action.setToolTip(f"{said} ({keys_for(name)})")
        action.setStatusTip(tip or said)

    # ------------------------------------------------------------ preferences
    def restore_preferences(self) -> None:
        """Take the fill settings, file choices, brush sizes, overlays, parser, window
        geometry and dock layout of the last session; from now on each change is written soon
        after it. Stored values not understood are named in the status bar
        (:attr:`preferences_note`), then replaced in the store by what is used instead, so
        that the next start does not say them again."""
        self.controller.settings = preferences.load_fill_settings()
        self.tool_settings.radius.update(preferences.load_brush_sizes(self.tool_settings.radius))
        if self.canvas.tool is not None and self.canvas.tool.family:
            self._show_brush_size(self.canvas.tool.radius)
        self.actions["keep_metadata"].setChecked(preferences.load_keep_metadata())
        self.engine_panel.load(self.controller.settings)
        self._show_references()  # whether the restored engine takes them
        view = preferences.load_view_settings()
        if view.parser is not None:  # one no longer listed: the first ready one stays
            self.legend.select_parser(view.parser)
        style = replace(self.canvas.style, visible=dict(self.canvas.style.visible))
        view.apply_to(style)
        self.overlay_panel.load(style)
        geometry, state = preferences.load_window()
        placed = geometry is None or self._restore_geometry(geometry)
        laid_out = state is None or self.restoreState(state)
        if state is not None and laid_out:
            self._docks_sized = True  # the user's own layout
            for dock in self.docks.values():  # no panel can be closed: one hidden comes back
                if dock.isHidden():
                    dock.show()
        preferences.window_not_restored(geometry=not placed, state=not laid_out)
        self.canvas.set_wheel_mode(preferences.load_wheel_mode())
        self._settings_writer = preferences.SettingsWriter(self._remembered())
        self._saves_preferences = True
        self.preferences_note = preferences.not_understood()
        if self.preferences_note:
            self.statusBar().showMessage(self.preferences_note, 20000)
            # said once: what is used instead is stored (a failed write is said at a save)
            self._settings_writer.reset_not_understood()

    def _restore_geometry(self, geometry: QByteArray) -> bool:
        """``restoreGeometry`` of ``geometry`` (checked by :func:`preferences.load_window`),
        then kept usable: a window it leaves smaller than
        :data:`preferences.SMALLEST_WINDOW` gets its default size back, and one it leaves on
        no screen is centred on the primary one. False when Qt refused ``geometry``."""
        default = self.size()
        if not self.restoreGeometry(geometry):
            return False
        least_width, least_height = preferences.SMALLEST_WINDOW
        size = self.normalGeometry().size()  # its geometry when neither maximized nor full
        if size.width() < least_width or size.height() < least_height:
            self.setWindowState(self.windowState() & ~(Qt.WindowMaximized | Qt.WindowFullScreen))
            self.resize(default)
        if QApplication.screenAt(self.frameGeometry().center()) is None:
            screen = QApplication.primaryScreen()
            if screen is not None:
                place = self.frameGeometry()
                place.moveCenter(screen.availableGeometry().center())
                self.move(place.topLeft())
        return True

    def show_preferences(self) -> None:
        """The Preferences dialog; a change applies at once and is stored soon after."""
        dialog = PreferencesDialog(self.canvas.wheel_mode, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.wheelModeChanged.connect(self.canvas.set_wheel_mode)
        dialog.wheelModeChanged.connect(self._save_preferences_soon)
        dialog.open()

    def _save_preferences_soon(self) -> None:
        """Write the preferences shortly after a change, not only on close (once they were
        restored: a window that never read them must not overwrite them with defaults)."""
        if self._saves_preferences:
            self._save_timer.start()

    def _layout_changed(self) -> None:
        """The window or a panel moved or changed size: write that soon too (a change while
        hidden, such as closing, is none of the user's)."""
        if self.isVisible():
            self._save_preferences_soon()

    def eventFilter(self, watched, event) -> bool:
        if isinstance(watched, (QDockWidget, QToolBar)) \
                and event.type() in (QEvent.Resize, QEvent.Move):
            self._layout_changed()
        return super().eventFilter(watched, event)

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        self._layout_changed()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout_changed()

    def _remembered(self) -> preferences.Remembered:
        """What this window keeps for the next session, as it is now."""
        settings = self.controller.settings
        self.engine_panel.apply_to(settings)
        if self._photo_state is not None:  # in a face edit: the photo's engine, not the face's
            settings = replace(settings, engine=self._photo_state.engine)
        # the legend's parser is the photo's in a face edit too: entering one keeps it
        view = preferences.ViewSettings.of(self.legend.current_parser(), self.canvas.style)
        return preferences.Remembered(settings, self.keep_metadata, self.tool_settings.radius,
                                      self.saveGeometry(), self.saveState(), view,
                                      wheel_mode=self.canvas.wheel_mode)

    def save_preferences(self) -> None:
        """Write what changed since this window last read or wrote its preferences (another
        editor's changes to the rest stay)."""
        self._settings_writer.write(self._remembered())
        self._say_if_unsaved()

    def _say_if_unsaved(self) -> None:
        """Once a session, the status bar says that the settings cannot be written, and why."""
        problem = preferences.write_problem()
        if problem and not self._told_unsaved:
            self._told_unsaved = True
            self.statusBar().showMessage(problem, 20000)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            self._docks_sized = True
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        """The engine panel whole (when the window is tall enough), the tabbed panels the rest;
        the panels :data:`DOCK_WIDTH` wide, at most a third of the window."""
        width = min(DOCK_WIDTH, self.width() // 3)
        if width > self.docks["engine_dock"].width():
            self.resizeDocks([self.docks["engine_dock"]], [width], Qt.Horizontal)
        docks = [self.docks["engine_dock"], self.docks["labels_dock"]]
        shared = sum(dock.height() for dock in docks)  # resizeDocks scales sizes to fit it
        wanted = min(self.engine_panel.sizeHint().height() + 8, shared - 200)
        self.resizeDocks(docks, [wanted, shared - wanted], Qt.Vertical)

    # ---------------------------------------------------------- key handling
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_O and not event.modifiers() and not event.isAutoRepeat():
            self.canvas.set_show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_O and not event.isAutoRepeat():
            self.canvas.set_show_original(False)
            return
        super().keyReleaseEvent(event)

    def folder_runs(self) -> list[FolderRunDialog]:
        """The folder dialogs (Apply to Folder, Clear Watermark) whose job is running."""
        return [dialog for dialog in self.findChildren(FolderRunDialog) if dialog.running]

    def _editor_run_summary(self, client: WorkerClient) -> str:
        """What ``client`` (a busy one of :attr:`_clients`) runs and how far it is: "A fill
        is running (PatchMatch, 40 % done)"."""
        if client is self.controller:
            what, details = "A fill is running", [self.controller.running_title]
        elif client is self.semantic:
            what, details = "The label map is being computed", []
        elif client is self.faces:
            what, details = ("Faces are being detected" if self.faces.edit is None
                             else "Auto-sketch is drawing the face's lines"), []
        else:
            what, details = "Text and logos are being detected", []
        share = client.fraction
        if share > 0:
            details.append(f"{share * 100:.0f} % done")
        details = [detail for detail in details if detail]
        return f"{what} ({', '.join(details)})" if details else what

    def running_summaries(self) -> list[str]:
        """What closing would stop, one sentence each (no full stop): the folder runs (not
        one the user already cancelled), a fill, the label map, face or text detection, and
        the downloads and imports of weights."""
        said = [dialog.run_summary() for dialog in self.folder_runs() if not dialog.stopping]
        said += [self._editor_run_summary(client) for client in self._clients if client.busy]
        said += [_transfer_summary(dialog) for dialog in self.findChildren(TransferDialog)
                 if dialog.running]
        return said

    def confirm_stop_runs(self) -> bool:
        """Before closing: whether what runs (:meth:`running_summaries`) may be stopped, one
        question for all of it (True when nothing runs)."""
        runs = self.running_summaries()
        if not runs:
            return True
        them = "it" if len(runs) == 1 else "them"
        return self.ask_stop_runs(" ".join(f"{run}." for run in runs)
                                  + f" Stop {them} and quit?")

    def closeEvent(self, event) -> None:
        if not self.confirm_stop_runs() or not self.confirm_discard_changes(stopping=True):
            event.ignore()
            return
        self._save_timer.stop()
        self.save_preferences()
        folder_runs = self.folder_runs()
        for dialog in folder_runs:
            dialog.hide()
        self.hide()  # closed at once for the user, while the runs end
        QApplication.processEvents(QEventLoop.ExcludeUserInputEvents)
        for worker in (self.worker, self.map_worker, self.face_worker, self.text_worker):
            worker.cancel()  # all at once: the waits below share one deadline
        for dialog in folder_runs:
            dialog.cancel()
        cancel_transfers()  # downloads and imports of the model dialogs
        start = time.monotonic()

        def left_ms(wait_ms: int) -> int:
            return max(0, round((start + wait_ms / 1000 - time.monotonic()) * 1000))

        self.worker.shutdown(left_ms(CLOSE_WAIT_MS))
        for worker in (self.map_worker, self.face_worker, self.text_worker):
            retire_worker(worker, left_ms(CLOSE_WAIT_MS))
        wait_for_transfers(left_ms(CLOSE_WAIT_MS))
        for dialog in folder_runs:  # the picture being written is finished
            dialog.wait_stopped(left_ms(FOLDER_STOP_WAIT_MS))
        event.accept()

    # --------------------------------------------------- questions to the user
    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text,
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def ask_save_changes(self, title: str, text: str) -> str:
        """``"save"``, ``"discard"`` or ``"cancel"``: the answer to ``text`` (unsaved changes
        to the picture) from Save (the default), Don't Save and Cancel (also Esc)."""
        box = QMessageBox(QMessageBox.Warning, title, text,
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self)
        box.button(QMessageBox.Discard).setText("Don't Save")
        box.setDefaultButton(QMessageBox.Save)
        box.setEscapeButton(QMessageBox.Cancel)
        answer = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_stop_runs(self, text: str) -> bool:
        """Whether to stop the background runs ``text`` describes and quit: "Stop and quit"
        or "Keep running" (the default, and Esc). Once nothing runs any more
        (:meth:`running_summaries`) the question closes by itself and the answer is True:
        closing goes on as if nothing had run."""
        box = QMessageBox(QMessageBox.Question, "Inpaint Studio", text, QMessageBox.NoButton,
                          self)
        stop = box.addButton("Stop and quit", QMessageBox.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        ended = []

        def check() -> None:
            if not self.running_summaries():
                ended.append(True)
                box.done(0)

        watch = QTimer(box)
        watch.setInterval(RUNS_CHECK_MS)
        watch.timeout.connect(check)
        watch.start()
        box.exec()
        watch.stop()
        box.deleteLater()
        return bool(ended) or box.clickedButton() is stop

    def ask_open_path(self, title: str, filters: str, folder: str = "") -> str:
        """A file chosen in a dialog starting in ``folder`` ("" the dialog's default)."""
        return QFileDialog.getOpenFileName(self, title, folder, filters)[0]

    def ask_open_paths(self, title: str, filters: str, folder: str = "") -> list[str]:
        return QFileDialog.getOpenFileNames(self, title, folder, filters)[0]

    def ask_save_path(self, title: str, suggestion: str, filters: str) -> str:
        return QFileDialog.getSaveFileName(self, title, suggestion, filters)[0]

    def offer_download(self, weights_ids) -> bool:
        """Ask to download missing weights (modal); True when they are installed."""
        return offer_download(weights_ids, self)

    def ask_pixels(self, title: str, default: int = 8) -> int:
        value, ok = QInputDialog.getInt(self, "Mask", f"{title} (pixels):", default, 1, 500)
        return value if ok else 0

    def show_error(self, text: str) -> None:
        """Tell the user something failed; never blocks the event loop."""
        self.last_error = text
        self.statusBar().showMessage(f"Error: {text}", 15000)
        box = QMessageBox(QMessageBox.Warning, "Inpaint Studio", text, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()

    def show_shortcuts(self) -> ShortcutsDialog:
        """The list of keyboard shortcuts (F1), sized to fit the screen; never blocks."""
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(self, "About Inpaint Studio",
                          "Inpaint Studio: brush over what should go, steer the fill with "
                          "sketches and semantic maps. Engines: OpenCV, guided PatchMatch, LaMa, "
                          "MI-GAN, DeepFill, EdgeConnect and more.")


_NOT_INSTALLED = (Readiness.NEEDS_DOWNLOAD, Readiness.NEEDS_TRAINING)  # weights to install


def _recent_text(number: int, path: str, problem: str = "") -> str:
    """Open Recent's entry ``number`` (from 1; keys 1 to 9 and 0) for ``path``: its file name
    (a "&" shown as it is), marked "(missing)" or "(unreadable)" when it has a ``problem``
    (:func:`preferences.recent_problem`)."""
    key = f"&{number}" if number < 10 else "1&0"
    mark = ""
    if problem:
        mark = "  (missing)" if problem == preferences.RECENT_GONE else "  (unreadable)"
    return f"{key}  {Path(path).name.replace('&', '&&')}{mark}"


def _transfer_summary(dialog: TransferDialog) -> str:
    """A running download or import of weights, for the question asked on closing: "A
    download of weights is in progress (40 % done)" (no share before the size is known)."""
    what = "An import" if isinstance(dialog, ImportDialog) else "A download"
    bar = dialog.bar  # busy (a range of 0 to 0) until the size is known
    share = bar.value() / bar.maximum() if bar.maximum() else 0.0
    done = f" ({share * 100:.0f} % done)" if share > 0 else ""
    return f"{what} of weights is in progress{done}"


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: it keeps its size and scrolls (up and down,
    and sideways only in a dock narrower than its narrowest)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setFocusPolicy(Qt.NoFocus)  # a click on a panel's button leaves the keys where they were
    return area


class MessageBar(QStatusBar):
    """The status bar: a message longer than the room left of the permanent widgets is drawn
    cut with an ellipsis (in the middle of its file paths first: :meth:`shown_message`), and
    the whole message is the bar's tooltip. The message itself
    (:meth:`currentMessage`, ``messageChanged``, timeouts) is Qt's, whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        # the message last drawn, its room and font, and how it was cut (each repaint, e.g.
        # a progress update, draws it again)
        self._shown: tuple[tuple[str, int, QFontMetrics], str] | None = None
        self.messageChanged.connect(self.setToolTip)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        super().addPermanentWidget(widget, stretch)
        self._permanent.append(widget)

    def _message_rect(self) -> QRect:
        """Where the message goes: as Qt places it, left of the first permanent widget
        shown (left-to-right layouts)."""
        right = self.width() - 12
        shown = [widget.x() - 2 for widget in self._permanent if widget.isVisible()]
        return QRect(6, 0, max(0, min([right, *shown]) - 6), self.height())

    def shown_message(self) -> str:
        """The message as drawn: where it does not fit, its file paths shortened in their
        middle first, so the words after them stay, and the rest cut with "…"
        (:func:`app.elision.elided_message`)."""
        message, width, metrics = (self.currentMessage(), self._message_rect().width(),
                                   self.fontMetrics())
        key = (message, width, metrics)
        if self._shown is None or self._shown[0] != key:
            self._shown = (key, elided_message(message, metrics, width))
        return self._shown[1]

    def paintEvent(self, event) -> None:
        if not self.currentMessage() or self.layoutDirection() == Qt.RightToLeft:
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PE_PanelStatusBar, option, painter, self)
        for widget in self._permanent:  # with a message, only these show
            if widget.isVisible():
                option.rect = widget.geometry().adjusted(-2, -1, 2, 1)
                self.style().drawPrimitive(QStyle.PE_FrameStatusBarItem, option, painter,
                                           widget)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self._message_rect(), Qt.AlignLeading | Qt.AlignVCenter
                         | Qt.TextSingleLine, self.shown_message())
        painter.end()


def open_sample(window: MainWindow) -> bool:
    """Open the bundled sample photo."""
    return window.open_path(SAMPLE_IMAGE)


class _TextProposals(TextMaskController):
    """The window's text detection: its proposal is stored within
    :meth:`MainWindow.keeping_result`, so a fill waiting to be applied is not dropped (the
    proposal only adds to the mask). It follows the document shown, as label maps do: a
    detection is cancelled when another document is shown (another picture, a face crop,
    the photo again), and a proposal reaches only the document it was detected on while
    that one is shown."""

    def __init__(self, worker: Worker, window: MainWindow) -> None:
        super().__init__(worker, window)
        self._window = window
        self.document: Document | None = None

    def set_document(self, document: Document | None) -> None:
        """Follow ``document``, the one the window shows now."""
        self.cancel()
        self._forget()
        self.document = document

    def _target_document(self, run) -> Document | None:
        return self.document

    def _deliver(self, run, proposal) -> None:
        with self._window.keeping_result():
            super()._deliver(run, proposal)


class _LabelMaps(SemanticController):
    """The window's label maps: a computed or imported map is stored within
    :meth:`MainWindow.keeping_result`, so a fill waiting to be applied is not dropped (a new
    map makes no hole; repainting it afterwards is an edit, which does drop it)."""

    def __init__(self, worker: Worker, window: MainWindow) -> None:
        super().__init__(worker, window)
        self._window = window

    def _store_map(self, doc, labels, label_set, step_label) -> None:
        with self._window.keeping_result():
            super()._store_map(doc, labels, label_set, step_label)
