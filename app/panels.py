"""Side panels: engine settings and overlay visibility. Widgets only; the window wires them."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.controller import FillSettings, guidance_list
from app.document import Layer
from app.engine_options import EngineOptionsForm
from app.model_dialogs import not_ready_advice, readiness_word
from app.viewcache import OverlayStyle
from engines import registry, weights
from engines.base import CROP_MARGIN_RANGE, SEED_RANGE, Engine, Readiness, Strategy

# the Device box's items (PatchMatch's rule: engines/classical/patchmatch/engine.py
# _torch_device)
_DEVICE_HELP = {
    "auto": "Neural engines on the GPU (CUDA or Apple MPS) when there is one, else the CPU; "
            "Guided PatchMatch on the CPU (its CPU kernels are faster than its GPU solver)",
    "cpu": "Every engine on the CPU",
    "cuda": "Neural engines and Guided PatchMatch on the NVIDIA GPU (PatchMatch's GPU solver "
            "is slower than its CPU kernels); the OpenCV engines always run on the CPU",
    "mps": "Neural engines on the Apple GPU; Guided PatchMatch on the CPU",
}
_STRATEGY_HELP = {
    Strategy.CROP: "Crop around the hole with context (fast on large photos)",
    Strategy.RESIZE: "Whole picture scaled to the engine's working size",
    Strategy.ORIGINAL: "Whole picture at full resolution (slow on large photos)",
}


_ENGINE_CHARS = 12  # the engine list's narrowest width, in characters


def engine_entries() -> list[tuple[str, str, Readiness, str]]:
    """(name, title, readiness, detail) for every registered engine."""
    return [engine_entry(cls) for cls in registry.engine_classes()]


def engine_entry(cls: type[Engine]) -> tuple[str, str, Readiness, str]:
    """(name, title, readiness, detail) of the engine class ``cls``, from its status (for a
    neural engine a stat, the cheap checks and the install record: no hashing); a broken
    engine is UNAVAILABLE, its error the detail."""
    try:
        status = cls().status()
        return cls.name, cls.title or cls.name, status.readiness, status.detail
    except Exception as exc:  # a broken engine must not break the picker
        return cls.name, cls.title or cls.name, Readiness.UNAVAILABLE, str(exc)


def engine_list_text(title: str, readiness: Readiness, engine: type[Engine]) -> str:
    """The engine list's entry of ``engine`` (a class) titled ``title``: the title, and for
    one not ready its state as ``engines`` says it (:func:`readiness_word`)."""
    if readiness is Readiness.READY:
        return title
    return f"{title} ({readiness_word(readiness, engine.weights)})"


def readiness_text(readiness: Readiness, detail: str, engine: type[Engine]) -> str:
    """The Engine panel's words for the readiness of ``engine`` (a class): "Ready"; for one
    whose weights are missing or damaged or that has no trained model,
    :func:`~app.model_dialogs.not_ready_advice`, capitalised; else the readiness and the
    engine's own detail. A ready engine whose installed weights file changed on disk since
    it was verified says so (:func:`engines.weights.changed_since_verified`: a stat and the
    install record, no hashing): it is checked when the engine next loads it."""
    if readiness is Readiness.READY:
        if weights.changed_since_verified(engine.weights):
            return ("Ready; its weights file changed since it was verified, and is checked "
                    "when it is next used")
        return "Ready"
    advice = not_ready_advice(readiness, engine)
    return advice[:1].upper() + advice[1:] if advice else f"{readiness.value}: {detail}"


class LoadProblemsLabel(QLabel):
    """The plugin modules of one ``kind`` ("engine", "parser") that could not be loaded, one
    "Not loaded: ..." line each, in warning colour; hidden when there are none."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setStyleSheet("color: #e0a040;")
        self.setToolTip(f"These {kind} files could not be loaded; the other {kind}s work. Fix "
                        "or remove each file, then restart.")
        self.setVisible(False)

    def show_problems(self, problems) -> None:
        """Show ``problems`` (:class:`engines.plugins.LoadProblem`), or hide when none."""
        self.setText("\n".join(f"Not loaded: {problem}" for problem in problems))
        self.setVisible(bool(problems))


class EnginePanel(QWidget):
    """Engine choice and run settings.

    Signals:
        engineChosen(str): the user picked an engine (name).
        settingsChanged(): any other setting changed (read :meth:`apply_to`).
        fillRequested(), applyRequested(), cancelRequested(): the buttons.
    """

    engineChosen = Signal(str)
    settingsChanged = Signal()
    fillRequested = Signal()
    applyRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = QComboBox()
        # a narrow dock cuts the titles rather than widening the window
        self.engine.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.engine.setMinimumContentsLength(_ENGINE_CHARS)
        self.engine.setToolTip("Inpainting engine; grey entries need weights or training")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #b0b0b0;")
        self.not_loaded = LoadProblemsLabel("engine")  # engine modules left out
        self.strategy = QComboBox()
        for strategy in Strategy:
            self.strategy.addItem(strategy.value, strategy)
            self.strategy.setItemData(self.strategy.count() - 1, _STRATEGY_HELP[strategy],
                                      Qt.ToolTipRole)
        self.margin = QSpinBox()
        self.margin.setRange(*CROP_MARGIN_RANGE)
        self.margin.setSuffix(" px")
        self.margin.setToolTip("Context kept around the hole with the crop strategy")
        self.seed = QSpinBox()
        self.seed.setRange(*SEED_RANGE)
        self.device = QComboBox()
        for device in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(device)
            self.device.setItemData(self.device.count() - 1, _DEVICE_HELP[device],
                                    Qt.ToolTipRole)
        self.device.setToolTip("Where the engines run. Guided PatchMatch stays on the CPU, "
                               "where it is fastest, unless cuda is chosen")
        self.auto_run = QCheckBox("Fill after each stroke")
        self.auto_run.setToolTip("Fill the hole again after every stroke, without pressing F "
                                 "(the result waits for Enter unless applied automatically)")
        self.auto_apply = QCheckBox("Apply results automatically")
        self.auto_apply.setToolTip("Apply each finished fill to the picture at once, as Enter "
                                   "does (Ctrl+Z undoes it)")
        self.fill_button = QPushButton("Fill (F)")
        self.fill_button.setToolTip("Fill the hole (the mask) with the chosen engine; runs in "
                                    "the background and shows the result to apply or discard")
        self.apply_button = QPushButton("Apply (Enter)")
        self.apply_button.setToolTip("Keep the result shown: it becomes part of the picture "
                                     "(one undo step)")
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.setToolTip("Stop the fill, map or detection running; with nothing "
                                      "running, discard the result shown")
        self.options = EngineOptionsForm()
        options_box = QGroupBox("Engine options")
        QVBoxLayout(options_box).addWidget(self.options)

        form = QFormLayout()
        form.addRow("Engine", self.engine)
        form.addRow("", self.status)
        form.addRow(self.not_loaded)
        form.addRow("Region", self.strategy)
        form.addRow("Context", self.margin)
        form.addRow("Seed", self.seed)
        form.addRow("Device", self.device)
        buttons = QGridLayout()  # Fill over Apply and Cancel: fits a narrow dock
        buttons.addWidget(self.fill_button, 0, 0, 1, 2)
        buttons.addWidget(self.apply_button, 1, 0)
        buttons.addWidget(self.cancel_button, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.auto_run)
        layout.addWidget(self.auto_apply)
        layout.addLayout(buttons)
        layout.addWidget(options_box)
        layout.addStretch(1)
        self.options.follow_in_tab_order(self.cancel_button)  # as shown: the options last

        self.reload_engines()
        self.engine.currentIndexChanged.connect(self._on_engine)
        for signal in (self.strategy.currentIndexChanged, self.margin.valueChanged,
                       self.seed.valueChanged, self.device.currentIndexChanged,
                       self.auto_run.toggled, self.auto_apply.toggled):
            signal.connect(self.settingsChanged)
        self.options.changed.connect(self.settingsChanged)
        self.fill_button.clicked.connect(self.fillRequested)
        self.apply_button.clicked.connect(self.applyRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)

    def reload_engines(self) -> None:
        """Refresh the engine list and each one's readiness (after a download): a title, and
        for an engine not ready its state as ``engines`` says it (:func:`readiness_word`:
        ``"LaMa (big) (needs download)"``, ``"(damaged)"``, ``"(manual import)"``)."""
        current = self.engine.currentData()
        self.engine.blockSignals(True)
        self.engine.clear()
        self._details: dict[str, tuple[Readiness, str]] = {}
        for name, title, readiness, detail in engine_entries():
            engine_class = registry.engine_class(name)
            self.engine.addItem(engine_list_text(title, readiness, engine_class), name)
            self.engine.setItemData(self.engine.count() - 1, engine_class.description,
                                    Qt.ToolTipRole)
            self._details[name] = (readiness, detail)
        problems = registry.load_problems()
        self.not_loaded.show_problems(problems)
        index = self.engine.findData(current) if current else 0
        self.engine.setCurrentIndex(max(0, index))
        self.engine.blockSignals(False)
        self._show_status()

    def refresh_engine(self, name: str) -> None:
        """Ask again the readiness of engine ``name`` and of every other engine that needs
        one of its checkpoints (after a run, whose load may have confirmed a weights file
        changed since it was verified or refused a damaged one), as :meth:`reload_engines`
        would show it: their entries in the list, the readiness :meth:`readiness` gives, and
        the status line when one of them is chosen. Only those engines' statuses are asked
        (a stat, the cheap checks and the install record each: nothing is hashed); the list
        is not rebuilt, so the choice and an open list stay as they are."""
        try:
            shared = set(registry.engine_class(name).weights)
        except registry.UnknownEngineError:  # not listed either
            return
        for index in range(self.engine.count()):
            other = self.engine.itemData(index)
            engine_class = registry.engine_class(other)  # listed: registered
            if other != name and not shared & set(engine_class.weights):
                continue
            _name, title, readiness, detail = engine_entry(engine_class)
            self._details[other] = (readiness, detail)
            self.engine.setItemText(index, engine_list_text(title, readiness, engine_class))
        self._show_status()

    def tab_stops(self) -> list[QWidget]:
        """The panel's controls in the order Tab reaches them, as shown: the engine, the
        region settings, the check boxes, Fill, Apply and Cancel, then the engine's options
        (:meth:`EngineOptionsForm.tab_stops`)."""
        return [self.engine, self.strategy, self.margin, self.seed, self.device,
                self.auto_run, self.auto_apply, self.fill_button, self.apply_button,
                self.cancel_button, *self.options.tab_stops()]

    def readiness(self, name: str) -> tuple[Readiness, str]:
        return self._details.get(name, (Readiness.UNAVAILABLE, "unknown engine"))

    def select_engine(self, name: str) -> bool:
        index = self.engine.findData(name)
        if index >= 0:
            self.engine.setCurrentIndex(index)
        return index >= 0

    def _on_engine(self) -> None:
        self._show_status()
        self.options.show_engine(self.engine.currentData())
        self.engineChosen.emit(self.engine.currentData())

    def _show_status(self) -> None:
        name = self.engine.currentData()
        if name is None:
            self.status.setText("")
            return
        cls = registry.engine_class(name)
        readiness, detail = self.readiness(name)
        guidance = guidance_list(cls.guidance)
        self.status.setText(f"{readiness_text(readiness, detail, cls)}. "
                            f"Guidance: {guidance}.")
        self.status.setToolTip(cls.description)
        self.engine.setToolTip(cls.description)

    def load(self, settings: FillSettings) -> None:
        """Show ``settings`` in the widgets (without emitting)."""
        widgets = (self.engine, self.strategy, self.margin, self.seed, self.device,
                   self.auto_run, self.auto_apply)
        for widget in widgets:
            widget.blockSignals(True)
        self.select_engine(settings.engine)
        self.strategy.setCurrentIndex(self.strategy.findData(settings.strategy))
        self.margin.setValue(settings.crop_margin)
        self.seed.setValue(settings.seed)
        self.device.setCurrentText(settings.device)
        self.auto_run.setChecked(settings.auto_run)
        self.auto_apply.setChecked(settings.auto_apply)
        for widget in widgets:
            widget.blockSignals(False)
        self._show_status()
        self.options.show_engine(self.engine.currentData(), settings.engine_options)

    def apply_to(self, settings: FillSettings) -> None:
        """Copy the widgets' values into ``settings``."""
        settings.engine = self.engine.currentData() or settings.engine
        settings.engine_options = {name: dict(values)
                                   for name, values in self.options.values.items()}
        settings.strategy = Strategy(self.strategy.currentData())  # Qt hands back a str
        settings.crop_margin = self.margin.value()
        settings.seed = self.seed.value()
        settings.device = self.device.currentText()
        settings.auto_run = self.auto_run.isChecked()
        settings.auto_apply = self.auto_apply.isChecked()

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)


class OverlayPanel(QWidget):
    """Which overlays show and how strongly. Emits ``changed`` after any edit."""

    changed = Signal()
    # (layer, title, its opacity's style attribute or None, what the overlay shows)
    _LAYERS = ((Layer.MASK, "Mask", "mask_opacity", "the hole to fill (pink)"),
               (Layer.SKETCH, "Sketch", None, "the structure lines drawn with the pen (yellow)"),
               (Layer.COLOR, "Colour strokes", "color_opacity",
                "the colour hints painted inside the hole"),
               (Layer.LABELS, "Label map", "label_opacity",
                "the label map, each label in its colour"),
               (Layer.SAMPLING, "Sampling area", "sampling_opacity",
                "the include (green) and exclude (red) areas"))

    def __init__(self, style: OverlayStyle, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.style = style
        form = QFormLayout(self)
        self.checks: dict[Layer, QCheckBox] = {}
        self.sliders: dict[Layer, QSlider] = {}
        for layer, title, attribute, shows in self._LAYERS:
            check = QCheckBox(title)
            check.setToolTip(f"Show {shows} over the picture (display only: fills use it "
                             "either way)")
            check.setChecked(style.visible.get(layer, True))
            check.toggled.connect(lambda on, layer=layer: self._set_visible(layer, on))
            self.checks[layer] = check
            slider = QSlider(Qt.Horizontal)
            slider.setRange(0, 100)
            slider.setAccessibleName(f"{title} opacity")
            if attribute:
                slider.setValue(round(getattr(style, attribute) * 100))
                slider.valueChanged.connect(
                    lambda value, attribute=attribute: self._set_opacity(attribute, value))
                slider.setToolTip(f"{title} overlay opacity: how strongly {shows} "
                                  "covers the picture")
            else:
                slider.setEnabled(False)
                slider.setValue(100)
                slider.setToolTip(f"{title} overlay opacity: the sketch's lines are always "
                                  "drawn fully opaque")
            self.sliders[layer] = slider
            form.addRow(check, slider)

    def load(self, style: OverlayStyle) -> None:
        """Take ``style``'s visibility and opacities into the panel's style (the canvas's)
        and show them in the check boxes and sliders; ``changed`` is emitted once when that
        changed anything, never once per widget. ``style`` may be the panel's own style,
        changed elsewhere: the widgets then catch up with it."""
        changed = False
        for layer, _title, attribute, _shows in self._LAYERS:
            on = style.visible.get(layer, True)
            check = self.checks[layer]
            changed |= check.isChecked() != on or self.style.visible.get(layer, True) != on
            self.style.visible[layer] = on
            with QSignalBlocker(check):
                check.setChecked(on)
            if attribute:
                value = getattr(style, attribute)
                slider = self.sliders[layer]
                changed |= (slider.value() != round(value * 100)
                            or getattr(self.style, attribute) != value)
                setattr(self.style, attribute, value)
                with QSignalBlocker(slider):
                    slider.setValue(round(value * 100))
        if changed:
            self.changed.emit()

    def reveal(self, layer: Layer) -> str:
        """Turn ``layer``'s overlay on when it is switched off (its check box too, so
        ``changed`` is emitted and the choice remembered); returns the sentence saying so,
        "" when it showed already (or the panel has no overlay for ``layer``)."""
        check = self.checks.get(layer)
        if check is None or check.isChecked():
            return ""
        check.setChecked(True)
        title = next(title for shown, title, _attribute, _shows in self._LAYERS
                     if shown is layer)
        return f"{title} overlay shown: it was hidden (Overlays panel)"

    def _set_visible(self, layer: Layer, on: bool) -> None:
        self.style.visible[layer] = on
        self.changed.emit()

    def _set_opacity(self, attribute: str, value: int) -> None:
        setattr(self.style, attribute, value / 100.0)
        self.changed.emit()
