"""The legend panel: which parser computes the map, and the labels of the current map.

Widgets only; the window wires them to :class:`~app.semantic.SemanticController` and the
tool settings. The list shows every id of the current :class:`LabelSet` (colour swatch, id,
name, share of the picture when counts are known) plus ``255`` "unlabelled"; for a map of no
known set, the ids it uses, by number. The search field
filters it by name or id, and "present only" hides the ids the map does not use (on by
itself for a large set, :data:`PRESENT_ONLY_ABOVE`, once a map exists, until the user sets it).

Everything in it may shrink to a narrow dock: the parser list and the current label are cut
with an ellipsis (the full text in their tooltips), the filters have a row each, and the
list's name column is elided (each name whole in its tooltip).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model_dialogs import readiness_word, weights_advice
from app.panels import LoadProblemsLabel
from app.semantic import palette_for, parser_entries, parser_entry, weights_to_download
from engines.base import UNLABELLED, Readiness
from engines.plugins import parser_load_problems
from engines.segmentation.base import LabelSet

UNLABELLED_NAME = "unlabelled"
UNNAMED = "unnamed"  # the name listed for the ids of a map of no known label set
BACKGROUND_NAME = "background"  # a set's "nothing here" class, not offered as the default
_ID_ROLE = Qt.UserRole
_SWATCH = 14  # px
_ID, _NAME, _AREA = range(3)
PRESENT_ONLY_ABOVE = 40  # a label set with more labels lists only those present by default
NO_LABEL = "—"  # the current label shown before any map exists
_PARSER_CHARS = 10  # the parser list's narrowest width, in characters


def swatch(rgb: tuple[int, int, int] | np.ndarray, size: int = _SWATCH) -> QPixmap:
    """A small square of colour ``rgb`` with a thin dark border."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*(int(v) for v in rgb)))
    painter = QPainter(pixmap)
    painter.setPen(QColor(40, 40, 40))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return pixmap


class ElidedLabel(QLabel):
    """A one-line label that may be narrower than its text: drawn cut with an ellipsis to the
    width it has; :meth:`text` and the tooltip keep the whole text."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("…") + 2, super().minimumSizeHint()
                     .height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment()) | Qt.TextSingleLine,
                         self.fontMetrics().elidedText(self.text(), Qt.ElideRight, rect.width()))
        painter.end()


def _state_text(readiness: Readiness, detail: str, weights_ids: tuple[str, ...]) -> str:
    """What the Labels panel says of a parser that is not ready (``readiness``, ``detail``)
    and needs the checkpoints ``weights_ids`` (:func:`~app.semantic.weights_to_download`): for weights missing
    or damaged, what is wrong and how to install them in File → Models…, in the GUI's words
    (:func:`~app.model_dialogs.weights_advice`; Compute map offers the download too); else
    (a plugin's undeclared checkpoint, a broken parser) its ``detail``."""
    if readiness is Readiness.NEEDS_DOWNLOAD:
        advice = weights_advice(weights_ids)
        if advice:
            return advice[:1].upper() + advice[1:]
    return detail


class LegendPanel(QWidget):
    """Parser choice, "Compute map", and a searchable list of the current labels.

    Signals:
        computeRequested(str): the user asked for a map computed by this parser (name).
        labelChosen(int): the user chose a label id (0..254, or 255 = unlabelled).
        labelReplaced(int): a new label set lacks the current label, and the panel made a
            valid one current in its place (see :meth:`set_label_set`); the brush paints it
            from now on, but no tool changes, as the user chose nothing.
    """

    computeRequested = Signal(str)
    labelReplaced = Signal(int)
    labelChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label_set: LabelSet | None = None
        self.current_label = 0
        self._counts: np.ndarray | None = None
        self._items: dict[int, QTreeWidgetItem] = {}
        self._details: dict[str, tuple[Readiness, str]] = {}
        self._said: dict[str, str] = {}  # what the panel says of each parser not ready
        self._quiet = False  # set while the list changes programmatically

        self.parser = QComboBox()
        self.parser.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.parser.setMinimumContentsLength(_PARSER_CHARS)
        self.parser.setToolTip("What computes the label map; grey entries need a download")
        self.parser.setAccessibleName("Parser")  # no label beside it in a narrow dock
        self.compute_button = QPushButton("Compute map")
        self.compute_button.setToolTip("Label every pixel with the chosen parser (runs in the "
                                       "background; Esc cancels)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status.setStyleSheet("color: #b0b0b0;")
        self.not_loaded = LoadProblemsLabel("parser")  # parser modules left out
        self.current_swatch = QLabel()
        self.current_text = ElidedLabel()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search labels by name or id")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Enter chooses the first label shown")
        self.search.setAccessibleName("Search labels")
        self.search.setAccessibleDescription("Shows the labels whose name or id holds the "
                                             "text; Enter chooses the first label shown")
        self.present_only = QCheckBox("Present only")
        self.present_only.setToolTip("Show only the labels the current map uses")
        self.present_only.setEnabled(False)
        self._present_only_auto = True  # until the user sets it: on for a large set
        self.labels = QTreeWidget()
        self.labels.setColumnCount(3)
        self.labels.setHeaderLabels(["Id", "Name", "Area"])
        self.labels.setRootIsDecorated(False)
        self.labels.setUniformRowHeights(True)
        self.labels.setAlternatingRowColors(True)
        self.labels.setTextElideMode(Qt.ElideRight)
        self.labels.setToolTip("The labels of the map: click one to paint it with the label "
                               "brush (L) or bucket (G); Area is its share of the picture")
        self.labels.setAccessibleName("Labels")  # its tooltip is its description
        header = self.labels.header()
        header.setSectionResizeMode(_ID, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(_NAME, QHeaderView.Stretch)
        header.setSectionResizeMode(_AREA, QHeaderView.ResizeToContents)
        header.setStretchLastSection(False)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #b0b0b0;")

        chooser = QHBoxLayout()
        chooser.addWidget(self.parser, 1)
        chooser.addWidget(self.compute_button)
        current = QHBoxLayout()
        current.addWidget(QLabel("Current:"))
        current.addWidget(self.current_swatch)
        current.addWidget(self.current_text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(chooser)
        layout.addWidget(self.status)
        layout.addWidget(self.not_loaded)
        layout.addLayout(current)
        layout.addWidget(self.search)
        layout.addWidget(self.present_only)
        layout.addWidget(self.labels, 1)
        layout.addWidget(self.hint)

        self.reload_parsers()
        self.set_label_set(None)
        self.parser.currentIndexChanged.connect(self._show_status)
        self.compute_button.clicked.connect(self._on_compute)
        self.search.textChanged.connect(self._apply_filter)
        self.search.returnPressed.connect(self._choose_first_shown)
        self.present_only.toggled.connect(self._apply_filter)
        self.present_only.clicked.connect(self._present_only_set_by_user)
        self.labels.currentItemChanged.connect(self._on_current_item)

    # ---------------------------------------------------------------- parsers
    def reload_parsers(self) -> None:
        """Refresh the parser list and each one's readiness (after a download), and name the
        parser modules that could not be loaded (:func:`engines.plugins.parser_load_problems`).
        Keeps the choice; the first time, the first ready parser is chosen."""
        current = self.parser.currentData()
        self.parser.blockSignals(True)
        self.parser.clear()
        self._details = {}
        self._said = {}
        first_ready = -1
        for name, title, readiness, detail in parser_entries():  # each state asked once
            self.parser.addItem(title, name)
            index = self.parser.count() - 1
            if readiness is Readiness.READY and first_ready < 0:
                first_ready = index
            self._show_entry(index, title, readiness, detail)
        problems = parser_load_problems()
        self.not_loaded.show_problems(problems)
        index = self.parser.findData(current) if current else -1
        self.parser.setCurrentIndex(index if index >= 0 else max(first_ready, 0))
        self.parser.blockSignals(False)
        self._show_status()

    def _show_entry(self, index: int, title: str, readiness: Readiness, detail: str) -> None:
        """Show the parser list's entry ``index`` (its data the parser's name) in the state
        ``readiness``, ``detail``: the title, and for one not ready its state as ``engines``
        says it (:func:`~app.model_dialogs.readiness_word`), greyed, with what it lacks
        (:func:`_state_text`) in its tooltip and, chosen, under the list."""
        name = self.parser.itemData(index)
        ready = readiness is Readiness.READY
        needed = () if ready else weights_to_download(name, readiness)
        self.parser.setItemText(index, title if ready else
                                f"{title} ({readiness_word(readiness, needed)})")
        self._details[name] = (readiness, detail)
        self._said.pop(name, None)
        if ready:
            self.parser.setItemData(index, None, Qt.ForegroundRole)
            self.parser.setItemData(index, None, Qt.ToolTipRole)
        else:
            self._said[name] = _state_text(readiness, detail, needed)
            self.parser.setItemData(index, QBrush(QColor(140, 140, 140)), Qt.ForegroundRole)
            self.parser.setItemData(index, self._said[name], Qt.ToolTipRole)

    def refresh_parser(self, name: str) -> None:
        """Ask again the readiness of parser ``name`` (after computing a map, whose load may
        have confirmed a weights file changed since it was verified or refused a damaged
        one), as :meth:`reload_parsers` would show it: its entry in the list, the readiness
        :meth:`parser_readiness` gives and, chosen, what it lacks under the list. Only its
        status is asked (no hashing); the list is not rebuilt, so the choice stays."""
        index = self.parser.findData(name)
        if index < 0:
            return
        _name, title, readiness, detail = parser_entry(name)
        self._show_entry(index, title, readiness, detail)
        self._show_status()

    def tab_stops(self) -> list[QWidget]:
        """The panel's controls in the order Tab reaches them, as shown."""
        return [self.parser, self.compute_button, self.search, self.present_only, self.labels]

    def parser_readiness(self, name: str) -> tuple[Readiness, str]:
        """(readiness, detail) of parser ``name`` as last loaded."""
        return self._details.get(name, (Readiness.UNAVAILABLE, "unknown parser"))

    def current_parser(self) -> str | None:
        return self.parser.currentData()

    def select_parser(self, name: str) -> bool:
        index = self.parser.findData(name)
        if index >= 0:
            self.parser.setCurrentIndex(index)
        return index >= 0

    def set_busy(self, busy: bool) -> None:
        """While a map is computed: no second request, and say so on the button."""
        self.compute_button.setEnabled(not busy)
        self.parser.setEnabled(not busy)
        self.compute_button.setText("Computing…" if busy else "Compute map")

    # ----------------------------------------------------------------- labels
    def set_label_set(self, label_set: LabelSet | None) -> None:
        """List the ids of ``label_set`` (and 255 "unlabelled"). None lists the ids the map
        uses, by number, once :meth:`set_counts` gives them (a map of no known set).

        When ``label_set`` lacks the current label, the label of the same name in the new set
        becomes current, else its first label other than "background"; ``labelReplaced`` is
        emitted with it, so the brush never paints an id the set does not have."""
        previous = self.label_set
        self.label_set = label_set
        self._counts = None
        if label_set is not previous:
            self._present_only_auto = True
        self._fill_list()
        if label_set is not None and not self.in_label_set(self.current_label):
            replacement = self._replacement(label_set, self._name_in(previous))
            self.set_current_label(replacement)
            self.labelReplaced.emit(replacement)

    def in_label_set(self, label_id: int) -> bool:
        """Whether the current set has ``label_id`` (255 "unlabelled" always; any id while
        the map is of no known set)."""
        return (label_id == UNLABELLED or self.label_set is None
                or 0 <= label_id < len(self.label_set))

    def _name_in(self, label_set: LabelSet | None) -> str | None:
        """The current label's name in ``label_set`` (None if it has no such id)."""
        if label_set is not None and 0 <= self.current_label < len(label_set):
            return label_set.names[self.current_label]
        return None

    @staticmethod
    def _replacement(label_set: LabelSet, name: str | None) -> int:
        """The id of ``name`` in ``label_set``, else its first id not named "background"."""
        if name in label_set.names:
            return label_set.names.index(name)
        return next((label_id for label_id, label_name in enumerate(label_set.names)
                     if label_name != BACKGROUND_NAME), 0)

    def _listed_ids(self) -> list[int]:
        """The ids to list, 255 last: the set's, else those the map uses."""
        if self.label_set is not None:
            ids = list(range(len(self.label_set)))
        elif self._counts is not None:
            ids = np.flatnonzero(self._counts[:UNLABELLED]).tolist()
        else:
            ids = []
        return [*ids, UNLABELLED]

    def _fill_list(self) -> None:
        palette = palette_for(self.label_set)
        self._quiet = True
        self.labels.clear()
        self._items = {}
        for label_id in self._listed_ids():
            name = (UNLABELLED_NAME if label_id == UNLABELLED else
                    self.label_set.names[label_id] if self.label_set is not None else
                    UNNAMED)
            item = QTreeWidgetItem([str(label_id), name, ""])
            item.setToolTip(_NAME, name)  # whole where a narrow dock elides it
            item.setData(_ID, _ID_ROLE, label_id)
            item.setIcon(_ID, QIcon(swatch(palette[label_id])))
            item.setTextAlignment(_AREA, Qt.AlignRight | Qt.AlignVCenter)
            self._items[label_id] = item
        self.labels.addTopLevelItems(list(self._items.values()))
        self._quiet = False
        unnamed = self.label_set is None and len(self._items) > 1
        self.hint.setText("" if self.label_set is not None else
                          "This map is of no known label set: its labels are listed by "
                          "number. Compute a map above for named labels." if unnamed else
                          "No label map yet: compute one above, or import one (File menu).")
        self._show_counts()
        self.set_current_label(self.current_label)

    def set_current_label(self, label_id: int) -> None:
        """Highlight ``label_id`` (the label the brush paints) without emitting a signal."""
        self.current_label = int(label_id)
        self._quiet = True
        for item_id, item in self._items.items():
            font = QFont(item.font(_NAME))
            font.setBold(item_id == self.current_label)
            for column in (_ID, _NAME, _AREA):
                item.setFont(column, font)
        item = self._items.get(self.current_label)
        self.labels.setCurrentItem(item)
        if item is not None:
            self.labels.scrollToItem(item)
        self._quiet = False
        self._show_current()

    def has_map(self) -> bool:
        """Whether there is a label map to speak of: a named set, or ids counted in a map."""
        return self.label_set is not None or (self._counts is not None
                                              and bool(self._counts[:UNLABELLED].any()))

    def _show_current(self) -> None:
        """"Current:" the label the brush paints, once there is a map (before: a dash). The
        text is cut with an ellipsis where the dock is narrow, in full in its tooltip."""
        if self.has_map():
            text = f"{self.current_label} {self.label_name(self.current_label)}".strip()
            self.current_swatch.setPixmap(
                swatch(palette_for(self.label_set)[self.current_label]))
        else:
            text = NO_LABEL
            self.current_swatch.clear()
        self.current_text.setText(text)

    def label_name(self, label_id: int) -> str:
        """The name of ``label_id`` in the current set ("unlabelled" for 255)."""
        if label_id == UNLABELLED:
            return UNLABELLED_NAME
        if self.label_set is not None and self.in_label_set(label_id):
            return self.label_set.names[label_id]
        return "(not in this label set)" if self.label_set is not None else ""

    def set_counts(self, counts: np.ndarray | None) -> None:
        """Show each id's share of the picture; ``counts`` is ``(256,)`` pixel counts of the
        label layer (None: unknown). Enables the "present only" filter."""
        listed = self._listed_ids()
        self._counts = None if counts is None else np.array(counts, np.int64)  # a copy
        if self._listed_ids() != listed:  # a map of no known set gained or lost an id
            self._fill_list()
        else:
            self._show_counts()
            self._show_current()

    def shown_ids(self) -> list[int]:
        """The ids the list shows now, in order (after search and filters)."""
        return [label_id for label_id, item in self._items.items() if not item.isHidden()]

    # --------------------------------------------------------------- internal
    def _show_status(self) -> None:
        """Under the parser list, what the parser chosen lacks (:func:`_state_text`); hidden
        when it is ready."""
        name = self.parser.currentData()
        said = self._said.get(name, "") if name else ""
        self.status.setText(said)
        self.status.setVisible(bool(said))

    def _on_compute(self) -> None:
        name = self.parser.currentData()
        if name:
            self.computeRequested.emit(name)

    def _present_only_set_by_user(self) -> None:
        self._present_only_auto = False

    def _show_counts(self) -> None:
        counts = self._counts
        self.present_only.setEnabled(counts is not None)
        if self._present_only_auto and counts is not None:
            large = len(self._listed_ids()) - 1 > PRESENT_ONLY_ABOVE
            self.present_only.blockSignals(True)  # _apply_filter below applies it
            self.present_only.setChecked(large and self.has_map())
            self.present_only.blockSignals(False)
        total = int(counts.sum()) if counts is not None else 0
        for label_id, item in self._items.items():
            if counts is None or total == 0:
                item.setText(_AREA, "")
                continue
            share = 100.0 * int(counts[label_id]) / total
            text = "" if counts[label_id] == 0 else "<0.1 %" if share < 0.1 else f"{share:.1f} %"
            item.setText(_AREA, text)
        self._apply_filter()

    def _apply_filter(self) -> None:
        query = self.search.text().strip().lower()
        present = self._counts if self.present_only.isChecked() else None
        self._quiet = True
        for label_id, item in self._items.items():
            matches = not query or query in item.text(_NAME).lower() or query == str(label_id)
            if present is not None and present[label_id] == 0:
                matches = False
            item.setHidden(not matches)
        self._quiet = False

    def _choose_first_shown(self) -> None:
        shown = self.shown_ids()
        if shown:
            self._choose(shown[0])

    def _on_current_item(self, item: QTreeWidgetItem | None, _previous) -> None:
        if item is not None and not self._quiet:
            self._choose(int(item.data(_ID, _ID_ROLE)))

    def _choose(self, label_id: int) -> None:
        self.set_current_label(label_id)
        self.labelChosen.emit(label_id)
