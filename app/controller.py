"""The fill session: from "run" to a preview to an applied, undoable result.

:class:`FillController` snapshots the document into a request, submits it to the
:class:`~app.worker.Worker`, turns each stage that comes back into a preview (coarse first,
refined last), and applies the final result as one undo step, clearing only the mask the
run used. Results computed for an older picture (the user applied or undid something while
the engine ran) are dropped. It owns no widgets; the window connects its signals.

The canvas shows the document as it is, the labelled stages of the fill running, or a
finished result waiting for Enter (which Save applies first): never a fill that neither Save
nor Enter would keep. So cancelling a fill (Esc, the Engine panel's Cancel, Compare Engines)
drops its preview at once, as starting another fill does, rather than leaving its last stage
waiting for Enter: a coarse stage is no result to keep (blurred, worked out at a fraction of
the size), and Esc then means the same for a run as for a result: nothing is filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from app import maskops
from app.document import (
    SAMPLE_EXCLUDE,
    SAMPLE_INCLUDE,
    Document,
    Layer,
    PreparedResult,
    Reference,
    drawn,
)
from app.viewcache import nonzero_rects
from app.worker import FillNotes, InpaintTask, Worker, WorkerClient
from engines import registry
from engines.base import (
    REGION_OPTION_KEYS,
    Guidance,
    InpaintRequest,
    Stage,
    Strategy,
)
from engines.fileio import join_words
from engines.region import Box


@dataclass
class FillSettings:
    """What the user chose for the next run."""

    engine: str = "patchmatch"  # the best engine that needs no download
    # options set in the engine panel, per engine name (values equal to a default are left out)
    engine_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    strategy: Strategy = Strategy.CROP
    crop_margin: int = 128
    seed: int = 0
    device: str = "auto"
    auto_run: bool = True
    auto_apply: bool = True

    def options_for(self, engine: str) -> dict[str, Any]:
        """The options to create ``engine`` with (a copy)."""
        return dict(self.engine_options.get(engine, {}))


_GUIDANCE_NOUNS = {
    Guidance.SKETCH.value: "the sketch",
    Guidance.LABELS.value: "the label edits",
    Guidance.SAMPLING.value: "the sampling area",
    Guidance.EXEMPLARS.value: "the reference photos",
    Guidance.COLOR.value: "the colour strokes",
}
_PLURAL_GUIDANCE = {Guidance.LABELS.value, Guidance.EXEMPLARS.value, Guidance.COLOR.value}
# a fill is dropped when guidance it followed changes meanwhile: "<this> changed while..."
_CHANGED_GUIDANCE = {
    Guidance.SKETCH: "The sketch",
    Guidance.COLOR: "The colour strokes",
    Guidance.LABELS: "The label map",
    Guidance.SAMPLING: "The sampling area",
    Guidance.EXEMPLARS: "The reference photos",
}


def guidance_list(kinds) -> str:
    """The kinds of guidance ``kinds`` (:class:`Guidance` members) as the user names them,
    in the order of :data:`_GUIDANCE_NOUNS` ("sketch, colour strokes"); "none" for none."""
    values = {Guidance(kind).value for kind in kinds}
    return ", ".join(noun.removeprefix("the ") for value, noun in _GUIDANCE_NOUNS.items()
                     if value in values) or "none"


def ignored_guidance_note(engine: str, given: set[Guidance]) -> str:
    """A sentence for the user when engine ``engine`` ignores some of ``given`` (naming an
    engine that would follow it: the first ready one of those
    :func:`engines.registry.unused_guidance` lists, the one following the most first), else
    ""."""
    unused, users = registry.unused_guidance(engine, given)
    if not unused:
        return ""
    title = registry.engine_class(engine).title or engine
    note = f"{title} ignored {join_words([_GUIDANCE_NOUNS[kind] for kind in unused])}"
    if users:  # name one the user can switch to now, if there is one
        classes = [registry.engine_class(name) for name in users]
        other = next((cls for cls in classes if cls().status().ready), classes[0])
        one = len(unused) == 1 and unused[0] not in _PLURAL_GUIDANCE
        note += f"; {other.title or other.name} follows {'it' if one else 'them'}"
    return note


def reference_names(document: Document, request: InpaintRequest) -> tuple[str, ...]:
    """A name for each exemplar of ``request`` (a snapshot of ``document``), as the
    document names its reference photos ("a reference photo" for one it no longer has)."""
    names = {id(r.pixels): r.name for r in document.references}
    return tuple(names.get(id(pixels), "a reference photo") for pixels in request.exemplars)


@dataclass
class _Run:
    task_id: int
    document: Document
    image_version: int
    # the snapshot the engine works on, without its sampling areas (made on the worker):
    # applying clears its mask, sketch lines and colour strokes (those drawn later stay)
    request: InpaintRequest
    # the sampling layer it was taken with (read-only, shared), None when it held nothing
    sampling: np.ndarray | None
    followed: frozenset[Guidance]  # the guidance its engine follows
    box: Box
    engine: str  # its name
    engine_title: str
    # notes that come from the worker after the last stage (FillNotes): on the guidance the
    # engine does not take, on guidance it could not follow here and on the reference
    # photos searched shrunk; empty when none
    ignored: str = ""
    shrunk: str = ""
    sources: tuple[str, ...] = ()
    final: Stage | None = None
    # what applying the final stage backs up, made on the worker (None: made when applied)
    prepared: PreparedResult | None = None
    dropped: bool = False  # cancelled because its result could no longer be used
    # Enter was pressed while it ran, the document then in this state (None: not pressed):
    # its result is applied when it ends if nothing was edited, undone or redone meanwhile
    apply_in_state: int | None = None
    stopped: bool = False  # cancelled (:meth:`FillController.cancel`): nothing more shows
    # its final stage was announced for applying at once (FillController.display_skipped)
    final_skipped: bool = False
    # each layer's version and the reference photos when the request was built
    versions: dict[Layer, int] = field(init=False)
    references: tuple[Reference, ...] = field(init=False)
    # each guidance layer's version when its check last passed, no step being open
    passed: dict[Layer, int] = field(default_factory=dict)
    _hole: list[Box] | None = None

    def __post_init__(self) -> None:
        self.versions = {layer: self.document.layer_version(layer) for layer in Layer}
        self.references = self.document.references

    @property
    def abandoned(self) -> bool:
        """Cancelled or dropped: nothing of it shows or applies any more."""
        return self.stopped or self.dropped

    def changed(self, layer: Layer) -> bool:
        """Whether ``layer`` may hold other pixels than when the request was built: its
        version moved and its last check did not pass at this version, or a step is open
        (a brush drag writes before its step counts)."""
        doc = self.document
        version = doc.layer_version(layer)
        return version != self.versions[layer] \
            and (doc.in_step or version != self.passed.get(layer))

    def checked(self, layer: Layer) -> None:
        """``layer`` passed its check: it is not read again while it stays at this version
        (unless a step is open)."""
        if not self.document.in_step:
            self.passed[layer] = self.document.layer_version(layer)

    def hole(self) -> list[Box]:
        """Rectangles covering the request's mask (found once): all a check of the mask
        reads."""
        if self._hole is None:
            self._hole = nonzero_rects(self.request.mask, self.box)
        return self._hole


_CHECK_ROWS = 256  # rows of a band that :func:`_unmasked` compares at a time


def _unmasked(used: np.ndarray, mask: np.ndarray, rect: Box) -> bool:
    """Whether a pixel of ``rect`` is in the hole of ``used`` (>= 128) and not in that of
    ``mask`` (< 128), both whole-picture ``(H, W)`` arrays: compared in bands of
    :data:`_CHECK_ROWS` rows, stopping at the first band that has one (temporaries that stay
    in the cache, none of the hole's size: about three times faster on a large hole)."""
    cols = slice(rect.left, rect.right)
    for top in range(rect.top, rect.bottom, _CHECK_ROWS):
        rows = slice(top, min(top + _CHECK_ROWS, rect.bottom))
        if ((used[rows, cols] >= 128) & (mask[rows, cols] < 128)).any():
            return True
    return False


def cancelled_message(title: str) -> str:
    """What the status bar says once a fill by the engine titled ``title`` is cancelled."""
    return f"Cancelled {title}: nothing was filled"


def _with_note(message: str, run: _Run) -> str:
    """``message`` followed by the run's notes on ignored guidance, on guidance that could
    not be followed (reference photos left out, labels without a source) and on reference
    photos searched shrunk, if any."""
    notes = (run.ignored, *run.sources, run.shrunk)
    return ". ".join([message, *(note for note in notes if note)])


class FillController(WorkerClient):
    """Runs fills for one document on a worker and manages the preview.

    Signals:
        previewChanged(object, object, str): (full-size image or None, Box or None, label).
        applied(object): a result was committed to the document as this :class:`Step`
            (None when it changed nothing).
        waitingChanged(bool): whether a finished result now waits to be applied (what Ctrl+Z
            does changes with it: :meth:`set_aside` discards that result first).
        runEnded(str) (of the base class): a run of the engine of this name ended
            (finished, failed or cancelled), said before its result, error or message: its
            load may have checked the engine's weights file (confirmed one changed since it
            was verified, or refused a damaged one), so what shows that engine's readiness
            asks again.
        progressChanged, busyChanged, message, error: see :class:`~app.worker.WorkerClient`.
    """

    previewChanged = Signal(object, object, str)
    applied = Signal(object)
    waitingChanged = Signal(bool)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(worker, parent)
        # True only while previewChanged announces a final stage that is to be applied as
        # soon as the run ends (auto-apply, or Enter pressed, no step open): a view may skip
        # converting it for display, since applying it shows its pixels right after; if it
        # is not applied at once after all, previewChanged announces it again, this False
        self.display_skipped = False
        self.settings = FillSettings()
        self.document: Document | None = None
        self._pending: _Run | None = None  # a finished run waiting to be applied
        # a waiting run that undo put aside, and the document state it was put aside in
        self._set_aside: tuple[_Run, int] | None = None
        self._started_title = ""  # the title of the task the worker started last

    # ----------------------------------------------------------------- public
    def set_document(self, document: Document | None) -> None:
        self.cancel()
        self.discard()
        self.document = document

    def cancel(self) -> None:
        """Cancel the running fill (Esc, the Engine panel's Cancel, Compare Engines) and drop
        its preview at once, even while an engine that ignores cancelling goes on: the canvas
        shows the document as it is again. A finished result waiting for Enter is not
        touched (no run: nothing to cancel)."""
        run = self._run
        if run is not None:
            run.stopped = True  # its stages and result still on their way never show
            if run.document is self.document:
                self.discard()
        super().cancel()

    @property
    def cancelling(self) -> bool:
        """Whether the fill running was cancelled (or dropped) and has yet to end: nothing of
        it shows or applies any more (:attr:`busy` until it ends)."""
        return self._run is not None and self._run.stopped

    @property
    def enter_pressed(self) -> bool:
        """Whether Enter was pressed while the fill runs for the document shown, and still
        stands (the document not edited, undone or redone since; the fill not cancelled):
        its result is applied as soon as it is done."""
        run = self._live_run()
        return run is not None and run.apply_in_state == run.document.state

    def _live_run(self) -> _Run | None:
        """The fill running for the document shown, unless it was cancelled or dropped."""
        run = self._run
        return (run if run is not None and run.document is self.document and not run.abandoned
                else None)

    @property
    def has_result(self) -> bool:
        return self._pending is not None

    @property
    def waiting(self) -> str:
        """The name of the step the result waiting to be applied would make ("Fill
        (Telea)"), else ""."""
        return f"Fill ({self._pending.engine_title})" if self._pending is not None else ""

    def _set_pending(self, run: _Run | None) -> None:
        """Make ``run`` the result waiting to be applied (None: none), saying so
        (:attr:`waitingChanged`) when whether one waits changed."""
        was = self._pending is not None
        self._pending = run
        if was != (run is not None):
            self.waitingChanged.emit(run is not None)

    @property
    def running_title(self) -> str:
        """The engine title of the fill the worker started last ("" before any): while
        :attr:`busy`, the one running (or a cancelled one still stopping, which the new run
        waits for). The worker runs only fills."""
        return self._started_title

    def run(self) -> int | None:
        """Start a fill of the current mask; returns the task id (None if nothing to do).
        Enter pressed during the fill this one replaces (:attr:`enter_pressed`) stands for
        this one: it is applied when done, the status bar saying so."""
        asked = self.enter_pressed
        doc = self.document
        if doc is None:
            return None
        box = doc.hole_box()  # no temporary of the picture's size
        if box is None:
            self.message.emit("Paint over what should be removed first (brush: B)")
            return None
        s = self.settings
        engine_options = s.options_for(s.engine)
        # the region's options travel with the request, so that changing them does not
        # make the worker build (and load) the engine again
        region_options = {key: engine_options.pop(key)
                          for key in REGION_OPTION_KEYS & engine_options.keys()}
        snapshot = doc.snapshot(strategy=s.strategy, crop_margin=s.crop_margin, seed=s.seed,
                                device=s.device, options=region_options)
        request = snapshot.request
        engine_class = registry.engine_class(s.engine)
        title = engine_class.title or engine_class.name
        # the sampling areas, and the notes on the guidance given, on guidance that could
        # not be followed and on shrunk reference photos, are worked out on the worker:
        # each reads the whole picture at worst
        task = InpaintTask(title=title, engine=s.engine, engine_options=engine_options,
                           request=snapshot, unedited_labels=doc.computed_labels,
                           reference_names=reference_names(doc, request), apply_within=box)
        self._set_aside = None
        self._set_pending(None)
        if doc.preview is not None:  # a stage of the run this one replaces, a result waiting
            # for Enter: until the new run's first stage, the canvas shows the document
            doc.set_preview(None)
            self.previewChanged.emit(None, None, "")
        run = _Run(task.id, doc, doc.image_version, request, snapshot.sampling,
                   engine_class.guidance, box, s.engine, title)
        started = self._start(task, run)
        if asked:
            self.apply()  # Enter again, for the new run
        return started

    def discard(self) -> None:
        """Drop the preview (and a result waiting to be applied, or put aside)."""
        self._set_aside = None
        self._set_pending(None)
        if self.document is not None:
            self.document.set_preview(None)
        self.previewChanged.emit(None, None, "")

    def set_aside(self) -> bool:
        """Discard the result waiting to be applied (undo), keeping it for :meth:`restore`
        while the document stays as it is; returns whether there was one."""
        run = self._pending
        self.discard()
        if run is None:
            return False
        self._set_aside = (run, run.document.state)
        return True

    @property
    def restorable(self) -> str:
        """The name of the step the result put aside would make ("Fill (Telea)") when
        :meth:`restore` can show it again (nothing ran, was shown or changed since), else
        ""."""
        if self._set_aside is None or self.busy or self._pending is not None:
            return ""
        run, state = self._set_aside
        if run.document is not self.document or run.document.state != state \
                or self._outdated(run) is not None:
            return ""
        return f"Fill ({run.engine_title})"

    def restore(self) -> bool:
        """Show again the result :meth:`set_aside` put aside, waiting to be applied (redo);
        returns whether it did."""
        if not self.restorable:
            return False
        (run, _state), self._set_aside = self._set_aside, None
        final = run.final
        self._set_pending(run)
        run.document.set_preview(final.image, final.name)
        self.previewChanged.emit(final.image, run.box, f"{run.engine_title}: {final.name}")
        return True

    def drop_outdated(self) -> str:
        """Drop the running fill, or the one waiting to be applied, when its result may no
        longer be used (:meth:`_outdated`: its picture, hole or guidance changed); returns
        why, for the user, else ""."""
        run = self._run if self._run is not None else self._pending
        if run is None or run.dropped:
            return ""
        reason = self._outdated(run)
        if not reason:
            return ""
        self._drop(run, reason, say=False)
        return reason

    def apply(self) -> bool:
        """Commit the finished result as one undoable step; returns whether it did. Asked
        while the fill still runs (Enter pressed early), it is applied as soon as it is done,
        unless the document is edited (undo and redo included) or the fill cancelled (Esc)
        before: it then waits for Enter as usual, or is dropped as then; the status bar says
        so (:attr:`message`)."""
        run, doc, live = self._pending, self.document, self._live_run()
        if run is None and live is not None:
            live.apply_in_state = live.document.state
            self.message.emit("Enter: the fill will be applied when it is done (Esc cancels "
                              "it)")
            return False
        if run is None or doc is None or run.final is None:
            return False
        self._set_pending(None)
        reason = self._outdated(run)
        if reason is not None:
            self._drop(run, reason)
            return False
        request = run.request
        prepared, run.prepared = run.prepared, None  # its backups go with the step
        step = doc.apply_result(run.final.image, f"Fill ({run.engine_title})",
                                used_mask=request.mask, within=run.box,
                                used_sketch=request.sketch, used_color=request.color,
                                prepared=prepared)
        self.previewChanged.emit(None, None, "")
        self.applied.emit(step)
        self.message.emit(_with_note(f"Applied {run.engine_title}; Ctrl+Z undoes it", run))
        return True

    def _apply_when_idle(self) -> None:
        """Apply now, or as soon as the brush drag in progress ends (a step is open)."""
        if self._pending is not None and self.document is not None:
            self.document.when_idle(self.apply)

    # ------------------------------------------------------------------ hooks
    def _ended_name(self, run: _Run) -> str:
        return run.engine

    def _on_started(self, task_id: int, title: str) -> None:
        self._started_title = title
        super()._on_started(task_id, title)

    def _stage(self, run: _Run, payload: object) -> None:
        if isinstance(payload, PreparedResult):
            run.prepared = payload
            return
        if isinstance(payload, FillNotes):
            run.ignored = ignored_guidance_note(run.engine, set(payload.given))
            run.shrunk = payload.shrunk
            run.sources = payload.sources
            return
        if not isinstance(payload, Stage):
            super()._stage(run, payload)
            return
        if run.abandoned:  # stages on their way when it was dropped or cancelled
            return
        reason = self._outdated(run)
        if reason is not None:
            self._drop(run, reason)
            return
        label = f"{run.engine_title}: {payload.name}"
        run.document.set_preview(payload.image, payload.name)
        run.final_skipped = payload.final and self._applies_at_once(run)
        self.display_skipped = run.final_skipped
        try:
            self.previewChanged.emit(payload.image, run.box, label)
        finally:
            self.display_skipped = False
        self.progressChanged.emit(payload.progress, label)

    def _applies_at_once(self, run: _Run) -> bool:
        """Whether ``run``'s result is applied as soon as it arrives (:meth:`_result`), as
        things stand: auto-apply on or Enter pressed in this state, and no step open."""
        doc = run.document
        return not doc.in_step and (self.settings.auto_apply or run.apply_in_state == doc.state)

    def _drop(self, run: _Run, reason: str, say: bool = True) -> None:
        """Drop ``run``, whose results may not be used (``reason``: :meth:`_outdated`'s):
        cancel it while it runs (its result could not be used either) and, unless its
        document is no longer shown (""), discard its preview and (``say``) tell why."""
        if run is self._run:
            run.dropped = True
            self.cancel()
        if reason:
            self.discard()
            if say:
                self.message.emit(reason)

    def _outdated(self, run: _Run) -> str | None:
        """Why the results of ``run`` may not be used now (None: they may): "" when the
        document is another one (nothing to say), else a message. The picture changed (a
        fill applied, an undo), part of the hole was unmasked (undone, erased, cleared): the
        user no longer wants that filled, or guidance its engine followed was taken back
        (:meth:`_changed_guidance`): the fill shows what the user no longer asks for. More
        mask or guidance painted meanwhile is fine: applying clears only the mask, lines
        and strokes the run used, and the new ones stay for the next fill."""
        doc = self.document
        if doc is not run.document:
            return ""
        if run.image_version != doc.image_version:
            return "The picture changed while the engine ran; run the fill again"
        if run.changed(Layer.MASK):  # else the hole is as it was: no pass over it
            if any(_unmasked(run.request.mask, doc.mask, rect) for rect in run.hole()):
                return "The mask changed while the engine ran; its fill was dropped"
            run.checked(Layer.MASK)
        changed = self._changed_guidance(run)
        if changed is not None:
            return (f"{_CHANGED_GUIDANCE[changed]} changed while the engine ran; its fill was "
                    "dropped")
        return None

    @staticmethod
    def _changed_guidance(run: _Run) -> Guidance | None:
        """The first kind of guidance that ``run``'s engine followed and that is no longer
        in its document as the run read it: sketch lines or colour strokes removed or
        repainted, the label map or the sampling area the run used changed where it used
        them, a reference photo removed. Only a layer whose version changed is read, and
        not again while it stays at a version whose check passed (between steps: an open
        step, a brush drag, counts only when it ends)."""
        doc, request = run.document, run.request
        changed, checked = run.changed, run.checked
        for kind, layer, used in ((Guidance.SKETCH, Layer.SKETCH, request.sketch),
                                  (Guidance.COLOR, Layer.COLOR, request.color)):
            if kind in run.followed and used is not None and changed(layer):
                lines = drawn(used)
                if (doc.layer(layer)[lines] != used[lines]).any():
                    return kind
                checked(layer)
        if Guidance.LABELS in run.followed and request.labels is not None \
                and changed(Layer.LABELS):
            if not (doc.label_set == request.label_set
                    and np.array_equal(doc.layer(Layer.LABELS), request.labels)):
                return Guidance.LABELS
            checked(Layer.LABELS)
        if Guidance.SAMPLING in run.followed and run.sampling is not None \
                and changed(Layer.SAMPLING):
            sampling = doc.layer(Layer.SAMPLING)
            for kind in (SAMPLE_INCLUDE, SAMPLE_EXCLUDE):  # a pixel of a part used, not now
                used = maskops.compare(run.sampling, kind, cv2.CMP_EQ)
                if cv2.countNonZero(cv2.bitwise_and(
                        used, maskops.compare(sampling, kind, cv2.CMP_NE))):
                    return Guidance.SAMPLING
            checked(Layer.SAMPLING)
        if Guidance.EXEMPLARS in run.followed:
            kept = {id(reference) for reference in doc.references}
            if any(id(reference) not in kept for reference in run.references):
                return Guidance.EXEMPLARS
        return None

    def _result(self, run: _Run, result: object) -> None:
        if run.stopped:  # it finished as it was cancelled: cancelled all the same
            self._cancelled(run)
            return
        if not isinstance(result, Stage) or self.document is not run.document or run.dropped:
            return
        run.final = result
        self._set_pending(run)
        if run.final_skipped and not self._applies_at_once(run):  # shown now, after all
            run.final_skipped = False
            self.previewChanged.emit(result.image, run.box, f"{run.engine_title}: {result.name}")
        asked = run.apply_in_state is not None
        if self.settings.auto_apply or (asked and run.apply_in_state == run.document.state
                                        and not run.document.in_step):
            self._apply_when_idle()
        elif asked:
            self.message.emit(_with_note("Done, but not applied: an edit or undo came after "
                                         "Enter. Enter applies the result, Esc discards it",
                                         run))
        else:
            self.message.emit(_with_note("Enter applies the result, Esc discards it", run))

    def _failure(self, run: _Run, message: str) -> None:
        self.discard()
        self.error.emit(message)

    def _cancelled(self, run: _Run) -> None:
        """The run ended cancelled: its preview goes (if :meth:`cancel` did not drop it
        already: the worker cancelled it on closing), and unless it was dropped (the reason
        was said) the user is told that nothing was filled."""
        if run.document is not self.document:
            return
        self.discard()
        if not run.dropped:
            self.message.emit(cancelled_message(run.engine_title))
