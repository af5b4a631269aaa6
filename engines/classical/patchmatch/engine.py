"""The "patchmatch" engine: guided multi-scale PatchMatch completion, no download needed.

Options (engine options or request options, engine options win):

* ``patch_size``: odd patch side in pixels (default 7); a region under 32 pixels and three
  patches on a side (a tiny picture: :func:`engines.base.may_fit_smaller`) where no patch
  of that size has a source (for each label of the hole, with labels) is filled with the
  largest smaller one that has, down to 1x1
  (:meth:`PatchMatchEngine.fitted_patch`; :func:`engines.guidance.source_notes` says so);
* ``quality``: ``"fast"``, ``"normal"`` (default) or ``"best"``, the EM iterations per level;
* ``backend``: ``"auto"`` (default: numba on the CPU, faster than the torch solver on a
  GPU; torch on CUDA only when the request's device names it: ``--device cuda``),
  ``"numba"`` or ``"torch"`` (torch on the request's device, the CPU included);
* ``sketch_strength``: how strongly fills follow sketch lines, a factor of the default
  sketch term (default 1; 0 ignores the sketch);
* ``sketch_weight``: the sketch term's weight itself (default ``SKETCH_WEIGHT`` times
  ``sketch_strength``);
* ``colour_strength``: how far fills take the colour of colour strokes, 0..1 (default 1: a
  full stroke's colour; 0 ignores the strokes);
* ``label_weight``: cost of one source pixel whose label differs (default 2000);
* ``previews``: yield every pyramid level as a coarse stage (default True) or only the final.

Guidance (each optional, all combinable):

* ``sketch``: lines drawn in the hole; a structure term compares them with the edges (Canny)
  of source patches, so structures continue along the lines;
* ``color``: colour strokes in the hole shift the colour of every stage's fill toward
  theirs, its texture kept (:func:`engines.guidance.follow_colour_hints`);
* ``labels``: a hole pixel labelled L takes patches centred on pixels labelled L (and votes
  from pixels labelled L), never on unlabelled pixels or exemplars while some pixel it may
  copy from carries L; a label no such pixel carries takes them from the unlabelled pixels
  and exemplars, or from any pixel when there are none; 255 = unlabelled;
* ``sample_include`` / ``sample_exclude``: only / never these pixels are sources (no source
  patch overlaps an excluded pixel; an all-zero include layer restricts nothing);
* ``exemplars``: reference photos searched as sources beside the image itself; of an RGBA
  one only the fully opaque pixels (a patch lies wholly on them), and one without room for
  a single patch is left out (:func:`engines.guidance.reference_problem` is the rule the
  editor and the CLI apply when a reference is added). A reference far larger than the
  region is searched shrunk, to at most ``REFERENCE_PIXELS_PER_REGION`` times the region's
  pixels and no less than ``REFERENCE_PIXELS_FLOOR`` (:func:`engines.region.reference_size`;
  :func:`engines.region.shrunk_references` names them for a note).

The numba kernels are compiled on first use and cached on disk where numba finds a writable
place (:func:`engines.jit.cached_njit`); call :func:`warm_up` from a background thread at start-up so
the first user run does not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import MappingProxyType

import cv2
import numpy as np

from engines.base import (
    CancelToken,
    Engine,
    Guidance,
    InpaintRequest,
    InputError,
    NoSourceError,
    OptionSpec,
    Region,
    RegionStage,
    Stage,
    may_fit_smaller,
)
from engines.classical.patchmatch.levels import (
    at_least,
    build_pyramid,
    fitted_radius,
    level_problem,
)
from engines.classical.patchmatch.numba_solver import NumbaLevelSolver
from engines.classical.patchmatch.solver import Schedule, complete, nearest_sources
from engines.classical.patchmatch.window import row_bands
from engines.device import pick_device
from engines.guidance import follow_colour_hints
from engines.registry import register

SCHEDULES = {
    "fast": Schedule(coarse_em=4, coarse_search=2, em=2, search=1, fine_em=1, fine_search=1),
    "normal": Schedule(),
    "best": Schedule(coarse_em=8, coarse_search=4, em=3, search=3, fine_em=2, fine_search=2),
}
BACKENDS = ("auto", "numba", "torch")
# The sketch term must outweigh the colour term where a drawn line leaves the path the
# surroundings suggest: a patch straddling a black/white edge costs about 4e6 in colour
# against ~10 ridge pixels of structure. Measured on a straight edge bent by a drawn line
# (tests/engines/test_patchmatch.py): 20000 (what this was) ignored lines that bend by
# more than a few pixels; 100000 followed them on edges up to 150 grey levels of contrast,
# 300000 on black/white ones (within 2 px).
SKETCH_WEIGHT = 300000.0
# "Keep grain" replaces the fill's detail finer than this (pixels, Gaussian sigma) with its
# matches' own (solver.transfer_grain). Measured over the 28 benchmark cases at 512x512
# (bench/README.md): sigma 1 brings the fill's fine-detail level from 0.37 to 0.57 of the
# original's; 1.5 to 0.61, with more of the matches' seams.
GRAIN_SIGMA = 1.0
# seconds between two looks at the cancel token while a preview is enlarged on a helper
# thread (_enlarged)
LOOK_SECONDS = 0.01


def _torch_device(preference: str, required: bool):
    """The torch device to run on, or None for the numba path (``required``: torch forced).

    ``auto`` (and ``cpu``) take the numba kernels on the CPU, GPU or not: on an H100 the
    torch solver took 0.6-0.9 s at 512x512 where they take 0.1-0.2 s, and lost at 2048x1536
    too except on text masks (bench/README.md, "Guided PatchMatch on a GPU"); its many small
    kernels are bound by launching them, not by the GPU. A device asked for by name
    (``--device cuda``) runs the torch solver there. An accelerator asked for by name must
    exist (``cuda`` or ``mps`` on a machine without one raises :class:`EngineError`, as for
    the neural engines); MPS then runs the numba path, since the torch solver is only
    checked on CPU and CUDA.
    """
    preference = (preference or "auto").lower()
    if not required:
        if preference == "mps":
            pick_device(preference)  # raises when there is no MPS
            return None
        if preference in ("auto", "cpu"):
            return None
    device = pick_device(preference)
    return device if required or device.type == "cuda" else None


@register
class PatchMatchEngine(Engine):
    name = "patchmatch"
    title = "Guided PatchMatch"
    description = ("Multi-scale PatchMatch fill steered by sketch, colour strokes, labels, "
                   "sampling area and reference photos; no download, seamless, fast.")
    guidance = frozenset({Guidance.SKETCH, Guidance.COLOR, Guidance.LABELS, Guidance.SAMPLING,
                          Guidance.EXEMPLARS})
    working_size = None
    min_context = 64
    copies_sources = True
    option_specs = (
        OptionSpec("quality", "Quality", "normal", "search and voting rounds per level",
                   choices=(("fast", "fast"), ("normal", "normal"), ("best", "best (slower)"))),
        OptionSpec("patch_size", "Patch size", 7, "patch side in pixels: larger patches keep "
                   "big structures together, smaller ones fit fine detail",
                   minimum=3, maximum=31, step=2),
        OptionSpec("sketch_strength", "Sketch strength", 1.0, "how strongly the fill follows "
                   "sketch lines (0: ignore them)", minimum=0.0, maximum=10.0, step=0.5),
        OptionSpec("colour_strength", "Colour strength", 1.0, "how far the fill takes the "
                   "colour of colour strokes, its texture kept (1: their colour; 0: ignore "
                   "them)", minimum=0.0, maximum=1.0, step=0.1),
        OptionSpec("keep_grain", "Keep grain", False, "give the fill the film grain or noise "
                   "of the picture; otherwise it comes out smoother than its surroundings"),
    )

    script_options = frozenset({"backend", "sketch_weight", "label_weight", "previews"})
    script_option_types = MappingProxyType({
        "backend": str, "previews": bool, "sketch_weight": (int, float),
        "label_weight": (int, float)})

    def run(self, request: InpaintRequest, cancel: CancelToken | None = None) -> Iterator[Stage]:
        """As :meth:`Engine.run`; a hole covering the whole picture with no reference photo
        is refused first (:class:`NoSourceError`, saying so): no crop can hold more
        context then, only unmasking or a reference helps."""
        if not request.exemplars and request.hole_everywhere:
            message = (f"no source left for {self.title}: the hole covers the whole picture, "
                       "so there is nothing to copy from; unmask some of the picture or add "
                       "a reference photo")
            raise NoSourceError(message, message)
        yield from super().run(request, cancel)

    def _sketch_weight(self, region: Region) -> float:
        strength = float(self.engine_option(region, "sketch_strength"))
        if strength < 0:
            raise InputError(f"sketch_strength must be 0 or more, got {strength}")
        return float(self.engine_option(region, "sketch_weight", SKETCH_WEIGHT * strength))

    def _patch_size(self, region: Region) -> int:
        patch_size = int(self.engine_option(region, "patch_size"))
        if patch_size < 3 or patch_size % 2 == 0:
            raise InputError(f"patch_size must be an odd number >= 3, got {patch_size}")
        return patch_size

    def _fitted_radius(self, region: Region, hole: np.ndarray, patch_size: int,
                       cancel: CancelToken | None) -> int:
        return fitted_radius(region.image, hole, patch_size // 2,
                             include=region.sample_include, exclude=region.sample_exclude,
                             labels=region.labels, exemplars=region.exemplars, cancel=cancel)

    def fitted_patch(self, region: Region, cancel: CancelToken | None = None) -> int:
        """The patch side the fill of ``region`` uses: ``patch_size``, or a smaller one
        where the region is too small for that one to have a source, or one for each label
        of the hole (:func:`~engines.classical.patchmatch.levels.fitted_radius`)."""
        patch_size = self._patch_size(region)
        if not may_fit_smaller(region.mask.shape, patch_size):  # the shape alone says it
            return patch_size
        return 2 * self._fitted_radius(region, region.hole, patch_size, cancel) + 1

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        cancel.raise_if_cancelled()
        patch_size = self._patch_size(region)
        quality = str(self.engine_option(region, "quality"))
        if quality not in SCHEDULES:
            raise InputError(f"unknown quality {quality!r}; use {', '.join(SCHEDULES)}")
        backend = str(self.engine_option(region, "backend", "auto"))
        if backend not in BACKENDS:
            raise InputError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
        hole = at_least(region.mask, 128, cancel)  # region.hole, band by band
        # a region too small for the patch (a tiny picture) takes the largest that fits
        radius = self._fitted_radius(region, hole, patch_size, cancel)
        pyramid = build_pyramid(
            region.image, hole, radius, include=region.sample_include,
            exclude=region.sample_exclude, labels=region.labels, sketch=region.sketch,
            exemplars=region.exemplars, cancel=cancel)
        device = None if backend == "numba" else _torch_device(region.device,
                                                               backend == "torch")
        if device is None:
            make_solver = NumbaLevelSolver
        else:
            from engines.classical.patchmatch.torch_solver import TorchLevelSolver

            def make_solver(*args, **kwargs):
                return TorchLevelSolver(*args, device=device, **kwargs)

        colour_strength = float(self.engine_option(region, "colour_strength"))
        previews = bool(self.engine_option(region, "previews", True))
        height, width = hole.shape
        # only hole pixels are pasted back, and the pixels of a feathered mask edge in part:
        # those must keep the image (a coarse estimate is blurred there)
        edge = _feathered_edge(region.mask, hole, cancel)
        results = complete(
            pyramid, radius, SCHEDULES[quality], region.seed, make_solver, cancel,
            label_weight=float(self.engine_option(region, "label_weight", 2000.0)),
            sketch_weight=self._sketch_weight(region),
            grain_sigma=GRAIN_SIGMA if self.engine_option(region, "keep_grain") else 0.0)
        del pyramid  # complete() lets each level go once done with it
        for result in results:
            final = result.number == result.count
            if not (final or previews):
                continue
            image = result.filled(cancel)
            if image.shape[:2] != (height, width):
                image = _enlarged(image, width, height, cancel)
            if edge is not None:
                for top, bottom in row_bands(height):
                    cancel.raise_if_cancelled()
                    np.copyto(image[top:bottom], region.image[top:bottom],
                              where=edge[top:bottom])
            image = follow_colour_hints(image, hole, region.color, colour_strength,
                                        in_place=True)  # filled() made it: ours to change
            name = "refined" if final else f"level {result.number}/{result.count}"
            yield RegionStage(name, image, result.progress, final=final)


def _enlarged(image: np.ndarray, width: int, height: int, cancel: CancelToken) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)``, made on a
    helper thread while this one looks at ``cancel`` every ``LOOK_SECONDS``.

    A preview is enlarged to the region's size in one call (up to 0.3 s at 50 MP on a
    shared 2-core VM): OpenCV weighs each output row by its place in the whole picture, so
    bands of rows resized alone would not give its bytes. OpenCV releases the GIL, so the
    looks go on; a cancel raises :class:`Cancelled` at once and the resize ends unseen on
    its thread.
    """
    done = threading.Event()
    enlarged: list[np.ndarray] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            enlarged.append(cv2.resize(image, (width, height),
                                       interpolation=cv2.INTER_LINEAR))
        except BaseException as exc:  # raised again on the caller's thread
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="patchmatch-preview", daemon=True).start()
    while not done.wait(LOOK_SECONDS):
        cancel.raise_if_cancelled()
    if failed:
        raise failed[0]
    return enlarged[0]


def _feathered_edge(mask: np.ndarray, hole: np.ndarray,
                    cancel: CancelToken) -> np.ndarray | None:
    """``(h, w, 1)`` bool, the pixels of a feathered mask edge (masked in part, not in the
    hole), or None when there are none; made band by band, ``cancel`` checked between."""
    edge = np.empty((*hole.shape, 1), bool)
    found = False
    for top, bottom in row_bands(hole.shape[0]):
        cancel.raise_if_cancelled()
        part = edge[top:bottom, :, 0]
        np.greater(mask[top:bottom], 0, out=part)
        part &= ~hole[top:bottom]
        found = found or bool(part.any())
    return edge if found else None


def warm_up() -> None:
    """Compile (or load from numba's cache) the CPU kernels with a tiny run.

    The first run in a process otherwise pays for it: seconds when nothing is cached yet.
    Safe to call from a background thread at start-up.
    """
    image = np.zeros((48, 48, 3), np.uint8)
    image[:, 24:] = 200
    mask = np.zeros((48, 48), np.uint8)
    mask[18:30, 18:30] = 255
    labels = np.zeros((48, 48), np.uint8)
    sketch = np.zeros((48, 48), np.uint8)
    sketch[24, 10:40] = 255
    request = InpaintRequest(image, mask, labels=labels, sketch=sketch,
                             options={"backend": "numba"})
    for _ in PatchMatchEngine().run(request):  # the single-thread kernels
        pass
    problem = level_problem(build_pyramid(image, mask >= 128, 3)[0], 3)
    nnf_y, nnf_x = nearest_sources(problem, np.arange(problem.size), np.random.default_rng(0))
    solver = NumbaLevelSolver(problem, problem.window.gather(image).astype(np.float32), nnf_y,
                              nnf_x, label_weight=0.0, sketch_weight=0.0, parallel=True)
    solver.step(1, np.full(problem.size, 4, np.int32), 0, 0)  # the multi-thread ones
