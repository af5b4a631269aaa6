"""The engine's own options as a form, built from its :class:`~engines.base.OptionSpec` list."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engines import registry
from engines.base import OptionSpec

DECIMALS = 2  # what a decimal option's field shows and takes: 0.33, never 0.333


def shown_value(spec: OptionSpec, value: Any) -> str:
    """``value`` of option ``spec`` as its field shows it: a choice's label, "on" or "off",
    a whole number, a decimal to :data:`DECIMALS` places without trailing zeros ("0.5")."""
    if spec.choices:
        return next((label for choice, label in spec.choices if choice == value), str(value))
    if isinstance(spec.default, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")


def accepted_values(spec: OptionSpec) -> str:
    """What option ``spec`` takes, in the words of its field: "one of Fast, Normal or Best",
    "on or off", "a whole number from 3 to 31 in steps of 2", "a number from 0 to 32"."""
    if spec.choices:
        labels = [label for _, label in spec.choices]
        return "one of " + (f"{', '.join(labels[:-1])} or {labels[-1]}" if len(labels) > 1
                            else labels[0])
    if isinstance(spec.default, bool):
        return "on or off"
    span = f"from {shown_value(spec, spec.minimum)} to {shown_value(spec, spec.maximum)}"
    if not isinstance(spec.default, int):
        return f"a number {span}"
    steps = f" in steps of {shown_value(spec, spec.step)}" if spec.step != 1 else ""
    return f"a whole number {span}{steps}"


class EngineOptionsForm(QWidget):
    """One field per option of the shown engine; only values that differ from the engine's
    defaults are kept, so a later default applies to what the user never touched.

    Signals:
        changed(): a value changed (read :attr:`values`).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, dict[str, Any]] = {}  # engine name -> {key: value}
        self.engine: str | None = None
        self.fields: dict[str, QWidget] = {}
        self._tab_after: QWidget | None = None  # what the controls follow in the Tab order
        self._form = QFormLayout()
        self._form.setContentsMargins(0, 0, 0, 0)
        self.none_label = QLabel("This engine has no options.")
        self.none_label.setStyleSheet("color: #b0b0b0;")
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("Reset this engine's options to their defaults")
        self.defaults_button.clicked.connect(self.reset)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.defaults_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._form)
        layout.addWidget(self.none_label)
        layout.addLayout(buttons)

    # ----------------------------------------------------------------- public
    def show_engine(self, name: str | None, values: dict[str, dict[str, Any]] | None = None
                    ) -> None:
        """Build the fields of engine ``name``; ``values``: replaces the kept values first."""
        if values is not None:
            self.values = {engine: dict(v) for engine, v in values.items() if v}
        self.engine = name
        while self._form.rowCount():
            self._form.removeRow(0)
        self.fields = {}
        specs = self.specs()
        for spec in specs:
            field = self._field(spec)
            field.setToolTip(spec.help)
            field.setAccessibleName(spec.title)  # a check box's own text is empty
            self.fields[spec.key] = field
            self._form.addRow(spec.title, field)
        self.none_label.setVisible(not specs)
        self.defaults_button.setVisible(bool(specs))
        self._update_defaults_button()
        self._order_tab_stops()

    def tab_stops(self) -> list[QWidget]:
        """The form's controls in the order Tab reaches them: the fields as shown, then
        Defaults."""
        return [*self.fields.values(), self.defaults_button]

    def follow_in_tab_order(self, widget: QWidget) -> None:
        """Keep the form's controls right after ``widget`` in the Tab order, now and each
        time the fields are rebuilt (Qt puts widgets created later at the end of the
        window's order, after the toolbars)."""
        self._tab_after = widget
        self._order_tab_stops()

    def specs(self) -> tuple[OptionSpec, ...]:
        if self.engine is None:
            return ()
        try:
            return registry.engine_class(self.engine).user_options()
        except KeyError:
            return ()

    def value(self, spec: OptionSpec) -> Any:
        """The shown engine's value of ``spec`` (its default unless the user set one)."""
        return self.values.get(self.engine or "", {}).get(spec.key, spec.default)

    def reset(self) -> None:
        """Forget the shown engine's values: every field back to its default."""
        if self.values.pop(self.engine or "", None) is not None:
            self.show_engine(self.engine)
            self.changed.emit()

    # --------------------------------------------------------------- internal
    def _order_tab_stops(self) -> None:
        if self._tab_after is not None and self._tab_after.window() is self.window():
            for first, second in itertools.pairwise([self._tab_after, *self.tab_stops()]):
                QWidget.setTabOrder(first, second)

    def _field(self, spec: OptionSpec) -> QWidget:
        if spec.choices:
            field = QComboBox()
            for choice, label in spec.choices:
                field.addItem(label, choice)
            field.currentIndexChanged.connect(
                lambda index, spec=spec: self._store(spec, spec.choices[index][0]))
        elif isinstance(spec.default, bool):
            field = QCheckBox()
            field.toggled.connect(lambda on, spec=spec: self._store(spec, bool(on)))
        elif isinstance(spec.default, int):
            field = QSpinBox()
            field.setRange(int(spec.minimum), int(spec.maximum))
            field.setSingleStep(int(spec.step))
            field.setKeyboardTracking(False)  # a typed number counts once typing ends
            field.valueChanged.connect(lambda v, spec=spec, f=field: self._typed(spec, f))
        else:
            field = QDoubleSpinBox()
            field.setRange(spec.minimum, spec.maximum)
            field.setSingleStep(spec.step)
            field.setDecimals(DECIMALS)
            field.setKeyboardTracking(False)
            field.valueChanged.connect(lambda v, spec=spec: self._store(spec, float(v)))
        self._show_value(spec, field)
        return field

    def _show_value(self, spec: OptionSpec, field: QWidget) -> None:
        value = self.value(spec)
        field.blockSignals(True)
        if isinstance(field, QComboBox):
            index = next((k for k, (choice, _) in enumerate(spec.choices) if choice == value), 0)
            field.setCurrentIndex(index)
        elif isinstance(field, QCheckBox):
            field.setChecked(bool(value))
        else:
            field.setValue(value)
        field.blockSignals(False)

    def _typed(self, spec: OptionSpec, field: QSpinBox) -> None:
        """A typed number is moved onto the option's grid (patch sizes are odd)."""
        value = int(spec.nearest(field.value()))
        if value != field.value():
            field.blockSignals(True)
            field.setValue(value)
            field.blockSignals(False)
        self._store(spec, value)

    def _store(self, spec: OptionSpec, value: Any) -> None:
        if self.engine is None or value == self.value(spec):
            return
        kept = self.values.setdefault(self.engine, {})
        if value == spec.default:
            kept.pop(spec.key, None)
            if not kept:
                del self.values[self.engine]
        else:
            kept[spec.key] = value
        self._update_defaults_button()
        self.changed.emit()

    def _update_defaults_button(self) -> None:
        self.defaults_button.setEnabled(bool(self.values.get(self.engine or "")))
