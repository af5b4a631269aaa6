"""Compare engines: one mask through several engines, the results side by side, pick one.

:class:`CompareDialog` runs the engines one after another on a background thread of its own
(a private :class:`~app.worker.Worker`: the window's shared worker lets its newest task win,
and here every result is wanted). Each engine gets a card that shows its latest stage as it
arrives (a thumbnail of the hole's surroundings), then the time it took (and, when the
dialog is told the reference photos' names, the guidance the engine could not follow in its
fill: :func:`engines.guidance.source_notes`), or the one-line reason it could not run:
failed, or not ready (said in the GUI's words by
:func:`not_ready_reason`: how to install missing weights in File → Models…, never a command
of ``python main.py``; weights that fail during the run, or a label map lacking, are said so
too: :func:`~app.model_dialogs.gui_error_text`). Its "Use <engine>" button (named for the
engine, so that the focus alone says which result Enter or Space takes) emits
:attr:`CompareDialog.chosen` with the full-size result; the window applies it with
``document.apply_result(image, ..., used_mask=dialog.request.mask)``.

One result is the current one, framed, its button the dialog's default: until a card is
clicked, the best so far, that is the first to arrive among those whose engine ignores the
least of the guidance given (after a label edit, OpenCV Telea's result is not framed once
Guided PatchMatch's arrives); a click on a card makes that one current for good. Enter
takes it wherever the focus is, except on another "Use" button, which Enter takes instead
(Stop and Close are pressed with Space or a click, never by Enter); Esc closes the dialog
(once the engines have stopped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.controller import ignored_guidance_note
from app.model_dialogs import gui_error_text
from app.panels import engine_entries, readiness_text
from app.qimages import rgb_pixmap
from app.worker import Emit, EngineCache, Task, Worker, private_worker, retire_worker
from engines import registry
from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    EngineCrashed,
    Guidance,
    InpaintRequest,
    Readiness,
    Stage,
    Status,
    exception_line,
)
from engines.guidance import fill_notes, guidance_given
from engines.region import Box, mask_bbox

THUMBNAIL = 240  # px, the longest side of a result card's picture
COLUMNS = 3
HOLE_TINT = (255, 40, 40)

EngineFactory = Callable[..., Engine]
# what Compare Engines says when it stops a fill that Enter asked to apply when done
ENTER_WISH_DROPPED = ("The fill running was stopped for this comparison: Enter pressed "
                      "during it applies nothing now.")


def ready_engines() -> list[str]:
    """Names of the registered engines that can run now, in registry order."""
    return [name for name, _title, readiness, _detail in engine_entries()
            if readiness is Readiness.READY]


def not_ready_reason(engine: Engine, status: Status) -> str:
    """What the card of ``engine`` (whose ``status`` is not ready) says: what the Engine
    panel says of it (:func:`~app.panels.readiness_text`: how to install missing weights in
    File → Models…, no command line)."""
    return readiness_text(status.readiness, status.detail, type(engine))


def hole_area(mask: np.ndarray) -> Box | None:
    """The mask's bounding box with context around it (a quarter of its size, at least 24
    px), inside the image; None for an empty mask."""
    box = mask_bbox(mask)
    if box is None:
        return None
    height, width = mask.shape[:2]
    margin_y = max(24, box.height // 4)
    margin_x = max(24, box.width // 4)
    return Box(max(0, box.top - margin_y), max(0, box.left - margin_x),
               min(height, box.bottom + margin_y), min(width, box.right + margin_x))


def tinted(image: np.ndarray, mask: np.ndarray, colour=HOLE_TINT) -> np.ndarray:
    """``image`` with the hole (mask >= 128) half covered by ``colour``."""
    out = image.copy()
    hole = mask >= 128
    out[hole] = np.rint(0.5 * out[hole] + 0.5 * np.float32(colour)).astype(np.uint8)
    return out


# --- the background task --------------------------------------------------------------------


@dataclass(frozen=True)
class EngineBegan:
    name: str


@dataclass(frozen=True)
class EngineStage:
    name: str
    stage: Stage


@dataclass(frozen=True)
class EngineDone:
    """``name``'s final ``image``, the ``seconds`` its run took, the sentences on
    guidance it follows but could not follow in this fill (:func:`source_notes`, each
    starting "the fill"; empty when none, or when the task was not asked for them), and the
    kinds of the request's guidance its engine ignores (:class:`Guidance` values, sorted)."""

    name: str
    image: np.ndarray
    seconds: float
    notes: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # the kinds of guidance given that the engine ignores


@dataclass(frozen=True)
class EngineFailed:
    name: str
    reason: str


@dataclass
class CompareTask(Task):
    """Runs ``request`` through each engine in ``names`` in turn; emits
    :class:`EngineBegan`, :class:`EngineStage`, then :class:`EngineDone` or
    :class:`EngineFailed` per engine. An engine's failure does not stop the others;
    cancelling stops them all. Each engine is created by ``factory`` and released after its
    run (no model stays loaded).

    With ``reference_names`` (a name for each of the request's exemplars, in order; "a
    reference photo" for those it does not name) each :class:`EngineDone` carries the notes
    on guidance the engine could not follow (:func:`engines.guidance.source_notes`, worked
    out after its run, not timed), ``unedited_labels`` being the label map as a parser
    computed it (None: none), as the editor's fill says them; without, none."""

    request: InpaintRequest | None = None
    names: tuple[str, ...] = ()
    factory: EngineFactory = registry.create
    reference_names: tuple[str, ...] | None = None
    unedited_labels: np.ndarray | None = None

    def run(self, cancel: CancelToken, emit: Emit, engines: EngineCache) -> None:
        given = guidance_given(self.request, self.unedited_labels)
        for name in self.names:
            cancel.raise_if_cancelled()
            emit(EngineBegan(name))
            start = time.perf_counter()
            engine = None
            try:
                engine = self.factory(name)
                status = engine.status()
                if not status.ready:
                    emit(EngineFailed(name, not_ready_reason(engine, status)))
                    continue
                final = None
                for stage in engine.run(self.request, cancel):
                    emit(EngineStage(name, stage))
                    final = stage
                if final is None:
                    emit(EngineFailed(name, "returned no result"))
                    continue
                seconds = time.perf_counter() - start
                emit(EngineDone(name, final.image, seconds, self._notes(engine, given, cancel),
                                registry.unused_guidance(name, given)[0]))
            except Cancelled:
                raise
            except Exception as exc:  # one engine's failure is shown on its card
                # the card is titled with the engine: a crash says only what it raised
                crash = exc.__cause__ if isinstance(exc, EngineCrashed) else None
                emit(EngineFailed(name, exception_line(crash) if crash is not None
                                  else gui_error_text(exc)))
            finally:
                if engine is not None:
                    engine.release()

    def _notes(self, engine: Engine, given: set[Guidance],
               cancel: CancelToken) -> tuple[str, ...]:
        """What the editor says after ``engine``'s fill of the request: the guidance of
        ``given`` it ignores (:func:`app.controller.ignored_guidance_note`), then
        :func:`source_notes` (see the class notes)."""
        if self.reference_names is None:
            return ()
        ignored = ignored_guidance_note(engine.name, given)
        return (*([ignored] if ignored else []),
                *fill_notes(self.request, engine, self.reference_names, cancel,
                            self.unedited_labels))


# --- widgets --------------------------------------------------------------------------------


class EngineCard(QFrame):
    """One engine's place in the comparison: title, picture, state, and a button to use its
    result, named for the engine ("Use LaMa"; read aloud "Use the LaMa result").
    ``clicked(str)``: the card was clicked (its engine's name)."""

    clicked = Signal(str)

    def __init__(self, name: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.engine_title = title
        self.setFrameShape(QFrame.StyledPanel)
        self.title = QLabel(f"<b>{title}</b>")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setMinimumSize(THUMBNAIL // 2, THUMBNAIL // 2)
        self.info = QLabel("waiting")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # guidance the engine could not follow in its fill (CompareDialog's reference_names)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notes.setStyleSheet("color: #e0a040;")
        self.notes.hide()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(6)
        self.bar.hide()
        self.use_button = QPushButton(f"Use {title.replace('&', '&&')}")
        self.use_button.setAccessibleName(f"Use the {title} result")
        self.use_button.setToolTip(f"Apply the {title} result to the picture (one undo step)")
        self.use_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.info)
        layout.addWidget(self.notes)
        layout.addWidget(self.use_button)

    def show_picture(self, rgb: np.ndarray) -> None:
        self.picture.setPixmap(rgb_pixmap(rgb, THUMBNAIL))

    def show_notes(self, notes: Sequence[str]) -> None:
        """Say ``notes`` (sentences starting "the fill", capitalised here), one a line, under
        the state; hidden when there are none."""
        self.notes.setText("\n".join(note[:1].upper() + note[1:] for note in notes))
        self.notes.setVisible(bool(notes))

    def set_current(self, current: bool) -> None:
        """Frame the card, and make its button the dialog's default (what Enter takes), or
        neither."""
        self.setFrameShape(QFrame.Box if current else QFrame.StyledPanel)
        self.setLineWidth(2 if current else 1)
        self.use_button.setDefault(current)

    def mousePressEvent(self, event) -> None:
        """A click on the card (its picture, title or free space) asks to make it current."""
        if event.button() == Qt.LeftButton:
            self.clicked.emit(self.name)
        super().mousePressEvent(event)


class CompareDialog(QDialog):
    """Runs one request through several engines and shows the results side by side.

    Args:
        request: the snapshot to fill (``document.build_request(...)``); not changed.
        engines: engine names, in the order to run; default every ready engine.
        factory: creates an engine from its name (tests pass their own).
        reference_names: a name for each of the request's reference photos, in order; given,
            each card also says what guidance its engine could not follow in its fill (a
            reference photo left out at its patch size, labels without a source:
            :func:`engines.guidance.source_notes`, as the editor's fill says them), with
            ``unedited_labels`` the label map as a parser computed it (None: none; only
            what the user changed of it counts as guidance). None: no such notes.
        note: a sentence the heading always ends with (""): what opening the comparison
            did to the window's own fill (:func:`enter_wish_dropped`).

    Call :meth:`start` (then ``open()``). Signals:
        chosen(str, object): the user took this engine's full-size ``(H, W, 3)`` uint8 result.
        completed(): every engine has run (or failed, or the run was cancelled).
        engineEnded(str): this engine's run gave its result or failed (its load may have
            confirmed or refused its weights file: the editor's Engine panel asks again).

    Attributes ``results``, ``times`` and ``reasons`` hold, per engine name, the final
    image, the seconds it took (creation and model loading included) and why it gave none;
    ``notes``, per engine with a result, its card's notes (empty without any).
    """

    chosen = Signal(str, object)
    completed = Signal()
    engineEnded = Signal(str)

    def __init__(self, request: InpaintRequest, engines: Sequence[str] | None = None,
                 parent: QWidget | None = None,
                 factory: EngineFactory = registry.create, *,
                 reference_names: Sequence[str] | None = None,
                 unedited_labels: np.ndarray | None = None, note: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare engines")
        self.note = note
        self.request = request
        self.names = tuple(engines) if engines is not None else tuple(ready_engines())
        self.results: dict[str, np.ndarray] = {}
        self.times: dict[str, float] = {}
        self.reasons: dict[str, str] = {}
        self.notes: dict[str, tuple[str, ...]] = {}
        self._began: set[str] = set()  # engines whose run began (EngineBegan arrived)
        self._factory = factory
        self._reference_names = None if reference_names is None else tuple(reference_names)
        self._unedited_labels = unedited_labels
        self._area = hole_area(request.mask) or Box(0, 0, *request.mask.shape[:2])
        self._task_id: int | None = None
        self._close_with: int | None = None  # a result code to close with once stopped
        self.current: str | None = None  # the result Enter takes (see set_current)
        self._ignored: dict[str, int] = {}  # per result: how many kinds of guidance it ignored
        self._clicked = False  # a card was made current by hand: results framed no more
        self.worker: Worker | None = None  # exists while the engines run

        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.cards: dict[str, EngineCard] = {}
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        original = EngineCard("", "Input (hole in red)")
        original.show_picture(self._thumbnail(tinted(request.image, request.mask)))
        original.info.setText(f"{request.image.shape[1]}×{request.image.shape[0]} picture")
        original.use_button.hide()
        grid.addWidget(original, 0, 0)
        titles = {name: title for name, title, _r, _d in engine_entries()}
        for index, name in enumerate(self.names, start=1):
            card = EngineCard(name, titles.get(name, name))
            card.use_button.clicked.connect(lambda _=False, n=name: self.choose(n))
            card.clicked.connect(self.set_current)  # by hand: see set_current
            self.cards[name] = card
            grid.addWidget(card, index // COLUMNS, index % COLUMNS)
        longest = max(self._area.height, self._area.width)
        thumbnail = (max(1, round(self._area.width * THUMBNAIL / longest)),
                     max(1, round(self._area.height * THUMBNAIL / longest)))
        for card in (original, *self.cards.values()):  # room for the pictures still to come
            card.picture.setMinimumSize(*thumbnail)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_host)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.stop_button = self.buttons.addButton("Stop", QDialogButtonBox.ActionRole)
        self.stop_button.clicked.connect(self.cancel)
        for button in self.buttons.buttons():  # Enter takes the current result, not these
            button.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)
        self._show_heading()
        self._fit(scroll, grid_host)

    def _fit(self, scroll: QScrollArea, cards: QWidget) -> None:
        """Open large enough to show every card (a portrait photo makes tall ones), within
        nine tenths of the screen; ``scroll`` takes what does not fit."""
        screen = (self.parentWidget() or self).screen().availableGeometry()
        needed = cards.sizeHint()
        extra = self.sizeHint() - scroll.sizeHint()
        self.resize(min(needed.width() + extra.width() + 40, int(screen.width() * 0.9)),
                    min(needed.height() + extra.height() + 40, int(screen.height() * 0.9)))

    # ----------------------------------------------------------------- public
    @property
    def running(self) -> bool:
        return self._task_id is not None

    def start(self) -> int | None:
        """Run the engines (once); returns the task id (None when there is nothing to run)."""
        if self._task_id is not None or not self.names or self.results or self.reasons:
            return None
        task = CompareTask(title="Compare engines", request=self.request, names=self.names,
                           factory=self._factory, reference_names=self._reference_names,
                           unedited_labels=self._unedited_labels)
        self.worker = private_worker(self)
        self.worker.emitted.connect(self._on_emitted)
        self.worker.finished.connect(self._on_ended)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_ended)
        self._task_id = task.id
        self.worker.submit(task)
        self._show_heading()
        return task.id

    def cancel(self) -> None:
        """Stop after the current engine's next step; finished results stay."""
        if self._task_id is not None and self.worker is not None:
            self.worker.cancel()
            self.stop_button.setEnabled(False)
            self.heading.setText("Stopping…")

    def set_current(self, name: str) -> bool:
        """Make ``name``'s result the current one, as a click on its card does: framed, its
        button the default, the one Enter takes, and kept so while later results arrive.
        False (nothing changes) if it has no result."""
        if not self._frame(name):
            return False
        self._clicked = True
        return True

    def _frame(self, name: str) -> bool:
        """Frame ``name``'s result (see :meth:`set_current`); False if it has none."""
        if name not in self.results:
            return False
        if self.current is not None:
            self.cards[self.current].set_current(False)
        self.current = name
        self.cards[name].set_current(True)
        self._show_heading()
        return True

    def choose(self, name: str) -> bool:
        """Emit :attr:`chosen` with ``name``'s result and close; False if it has none."""
        image = self.results.get(name)
        if image is None:
            return False
        self.chosen.emit(name, image)
        self.accept()
        return True

    def done(self, result: int) -> None:
        if self._task_id is not None:  # close once the worker has stopped
            self._close_with = result
            self.cancel()
            return
        super().done(result)

    # --------------------------------------------------------------- internal
    def _thumbnail(self, image: np.ndarray) -> np.ndarray:
        return image[self._area.slices]

    def _show_heading(self) -> None:
        done = len(self.results) + len(self.reasons)
        if not self.names:
            text = "No engine is ready to compare: download one in File → Models…"
        elif self._task_id is not None:
            text = f"Running {done + 1} of {len(self.names)}… (each engine in turn)"
        elif done:
            text = (f"{len(self.results)} of {len(self.names)} engines gave a result: pick the "
                    "one to use.")
        else:
            text = f"{len(self.names)} engines will fill the same hole one after another."
        if self.current is not None:
            text += (f" Enter uses {self.cards[self.current].engine_title} (framed); click a "
                     "card for another.")
        if self.note:
            text += f" {self.note}"
        self.heading.setText(text)
        self.stop_button.setEnabled(self._task_id is not None)

    def _on_emitted(self, task_id: int, payload: object) -> None:
        if task_id != self._task_id:
            return
        card = self.cards.get(getattr(payload, "name", ""))
        if card is None:
            return
        if isinstance(payload, EngineBegan):
            self._began.add(card.name)
            card.info.setText("running…")
            card.bar.show()
            card.bar.setValue(0)
        elif isinstance(payload, EngineStage):
            card.show_picture(self._thumbnail(payload.stage.image))
            card.bar.setValue(round(payload.stage.progress * 1000))
            card.info.setText(f"{payload.stage.name}…")
        elif isinstance(payload, EngineDone):
            self.results[card.name] = payload.image
            self.times[card.name] = payload.seconds
            self.notes[card.name] = payload.notes
            card.show_picture(self._thumbnail(payload.image))
            card.bar.hide()
            card.info.setText(f"{payload.seconds:.1f} s")
            card.show_notes(payload.notes)
            card.use_button.setEnabled(True)
            self._ignored[card.name] = len(payload.ignored)
            if not self._clicked and (self.current is None or self._ignored[card.name]
                                      < self._ignored[self.current]):
                self._frame(card.name)  # the first result, or one that follows more
        elif isinstance(payload, EngineFailed):
            self.reasons[card.name] = payload.reason
            card.bar.hide()
            card.picture.setText("no result")
            card.info.setText(payload.reason)
            card.info.setStyleSheet("color: #d08770;")
        self._show_heading()
        if isinstance(payload, EngineDone | EngineFailed):
            self.engineEnded.emit(card.name)

    def _on_failed(self, task_id: int, message: str) -> None:
        if task_id == self._task_id:
            self._on_ended(task_id)
            self.heading.setText(f"Stopped: {message}")

    def _on_ended(self, task_id: int, _result: object = None) -> None:
        """The run is over (finished, stopped or failed): a card whose engine began but gave
        neither result nor reason says "stopped, no result", its partial picture cleared;
        one whose engine never began says "not run"."""
        if task_id != self._task_id:
            return
        self._task_id = None
        retire_worker(self.worker)  # idle now: its thread ends at once
        self.worker = None
        for name, card in self.cards.items():
            if name not in self.results and name not in self.reasons:
                card.bar.hide()
                if name in self._began:  # stopped mid-run: its partial stage is no result
                    card.picture.setText("no result")  # clears the partial picture
                    card.info.setText("stopped, no result")
                else:
                    card.info.setText("not run")
        self._show_heading()
        self.completed.emit()
        if self._close_with is not None:
            result, self._close_with = self._close_with, None
            self.done(result)

