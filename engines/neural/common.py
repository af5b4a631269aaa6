"""What the neural engines share: weights resolution, the model slot, tensors in and out.

A neural engine subclasses :class:`NeuralEngine`, names its checkpoint in ``weights_id``,
implements :meth:`NeuralEngine.load_network` (build the network, load the checkpoint through
:func:`engines.weights.load_checkpoint`) and :meth:`Engine.inpaint_region` using
:meth:`NeuralEngine.network`.
"""

from __future__ import annotations

import itertools
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from engines import weights
from engines.base import (
    CancelToken,
    Engine,
    EngineError,
    InpaintRequest,
    InputError,
    Readiness,
    Stage,
    Status,
    Strategy,
)
from engines.device import MODEL_SLOT, free_accelerator_memory, pick_device, slot_key
from engines.neural.interrupt import cancel_checks, watch_layers

# what torch's allocators say when an allocation fails (CPU on Linux/macOS and Windows,
# CUDA, ROCm, MPS); torch.OutOfMemoryError is recognised by its type
OUT_OF_MEMORY_TEXTS = ("can't allocate memory", "cannot allocate memory", "not enough memory",
                       "out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed: :class:`MemoryError`,
    ``torch.OutOfMemoryError`` (``torch.cuda.OutOfMemoryError``), or a ``RuntimeError``
    whose text is an allocator's (``DefaultCPUAllocator: can't allocate memory``)."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")  # only torch raises its own type; never import it here
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(words in text for words in OUT_OF_MEMORY_TEXTS)


def is_gpu_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (see :func:`is_out_of_memory`) comes from a GPU's allocator: torch's
    own type is the CUDA (ROCm) allocator's, MPS says so; the CPU's is a RuntimeError."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(exc).lower()
    return is_out_of_memory(exc) and ("cuda" in text or "mps backend" in text)


def release_frames(exc: BaseException) -> None:
    """Let go of what the frames of ``exc``'s traceback hold (after a failed allocation, the
    activations that were made before it: on a GPU, up to gigabytes), while ``exc`` itself
    may be kept (as the ``__cause__`` of the error the user sees). Clearing each frame's
    locals is not enough: the frame of a nested function (torch's module call with hooks)
    keeps the function, whose closure holds the layer's inputs. So the traceback is dropped,
    its text kept as a note on ``exc`` for ``--debug``: appended to ``exc.__notes__``, by
    ``add_note`` (Python 3.11+) or, before 3.11, by hand, where the command-line tool's
    ``--debug`` prints it (:func:`cli._errors.debug_traceback`)."""
    text = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    traceback.clear_frames(exc.__traceback__)
    exc.__traceback__ = None
    if not text:
        return
    note = ("Where the allocation failed (its frames were let go, to free the memory they "
            f"held):\n{text}")
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)
        return
    try:  # Python 3.10: kept where add_note keeps it
        notes = getattr(exc, "__notes__", None)
        if isinstance(notes, list):
            notes.append(note)
        else:
            exc.__notes__ = [note]
    except (AttributeError, TypeError):  # an exception that takes no attributes: no note
        pass


def _takes_text(kinds: type | tuple[type, ...] | None) -> bool:
    """Whether a script option of these types takes text (a file name, a device name)."""
    return str in (kinds if isinstance(kinds, tuple) else (kinds,))


class NeuralEngine(Engine):
    """Base of the engines that run a torch network on downloaded weights.

    Class attributes:
        weights_id: the :class:`~engines.weights.WeightSpec` id of the checkpoint.
        half_safe: whether the network may run in float16 on CUDA.

    Options:
        weights_path: use this checkpoint file instead of the cached one (tests, experts).
        device: ``auto`` (default), ``cpu``, ``cuda`` or ``mps``.
        network: an already built ``torch.nn.Module`` to run instead of loading one (tests,
            benchmarks); Python callers only (:attr:`python_options`).

    Running out of memory (CPU or GPU) ends a run with an :class:`EngineError` that names the
    region's size and what to change (:meth:`run`).
    """

    weights_id: ClassVar[str] = ""
    half_safe: ClassVar[bool] = False
    script_options = frozenset({"weights_path", "device"})
    script_option_types = MappingProxyType({"weights_path": (str, os.PathLike),
                                            "device": (str, type(None))})
    python_options: ClassVar[frozenset[str]] = frozenset({"network"})
    """Options whose values are Python objects: known, but refused as ``--option`` text."""
    construction_options: ClassVar[frozenset[str]] = frozenset({"weights_path", "device",
                                                                 "network"})
    """Options read when the network is loaded: engine options only, refused in a request."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.weights_id:
            cls.weights = (cls.weights_id,)

    @classmethod
    def known_options(cls) -> frozenset[str]:
        return super().known_options() | cls.python_options

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        """As :meth:`Engine.check_option_values`; also ``network`` must be a torch module."""
        super().check_option_values(options)
        if options.get("network") is not None:
            from torch import nn

            if not isinstance(options["network"], nn.Module):
                raise InputError(f"option network={options['network']!r} is refused: network "
                                 "takes a torch.nn.Module (from Python)")

    @classmethod
    def parse_options(cls, texts: Mapping[str, str]) -> dict[str, Any]:
        """As :meth:`Engine.parse_options`, but text options (a ``weights_path`` of ``123``)
        keep the text as typed, and :attr:`python_options` are refused."""
        cls.check_options(texts)
        objects = sorted(cls.python_options & texts.keys())
        if objects:
            raise InputError(f"option {objects[0]} takes a Python object, not text: it is for "
                             "Python scripts only")
        as_typed = {key for key in texts if _takes_text(cls.script_option_types.get(key))}
        options = super().parse_options({key: text for key, text in texts.items()
                                         if key not in as_typed})
        options.update((key, texts[key]) for key in as_typed)
        return options

    def run(self, request: InpaintRequest, cancel: CancelToken | None = None) -> Iterator[Stage]:
        """As :meth:`Engine.run`; running out of memory raises :class:`EngineError` naming
        the region size and what to change (the allocator's error is its ``__cause__``).
        ``cancel`` is also checked before each layer of the network
        (:mod:`engines.neural.interrupt`), so a cancelled stage stops part-way.

        The :attr:`construction_options` in ``request.options`` raise :class:`InputError`:
        a request cannot change the network an engine has loaded.
        """
        given = sorted(self.construction_options & request.options.keys())
        if given:
            instead = ("the request's device field" if given[0] == "device"
                       else f"registry.create({self.name!r}, {given[0]}=...)")
            raise InputError(f"option {given[0]} is refused in a request: it chooses the "
                             f"network the engine loads; use {instead}")
        cancel = cancel or CancelToken()
        stages = super().run(request, cancel)
        try:
            while True:
                with cancel_checks(cancel):  # never across a yield (see cancel_checks)
                    stage = next(stages, None)
                if stage is None:
                    return
                yield stage
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            release_frames(exc)  # free what the failed frames hold before anything else
            free_accelerator_memory()
            raise EngineError(self.out_of_memory_message(request, exc)) from exc
        finally:
            stages.close()  # a caller that stops early ends the engine's run at once

    def out_of_memory_message(self, request: InpaintRequest, exc: BaseException) -> str:
        """One line: which region did not fit in which memory, and what to change, naming
        each setting as the editor's panel labels it with the command-line flag beside it."""
        from engines.region import plan_boxes  # local: region imports engines.base

        sizes = [(max(1, round(box.width * scale)), max(1, round(box.height * scale)))
                 for box, scale in plan_boxes(request, self)]
        width, height = max(sizes, key=lambda size: size[0] * size[1])
        torch = sys.modules.get("torch")
        on_gpu = is_gpu_out_of_memory(exc)
        advice = []
        if request.strategy is Strategy.ORIGINAL:
            advice.append("the Crop or Resize region (--strategy crop or resize), which "
                          "works at the engine's working size")
        elif self.working_size:
            limit = self.region_option(request, "working_size")
            advice.append(f"a smaller Working size (--option working_size=N, now {limit})")
        if on_gpu:
            advice.append("the CPU device (--device cpu), which usually has more memory")
        elif torch is not None and torch.cuda.is_available():
            advice.append("the GPU device (--device cuda)")
        else:
            advice.append("closing other programs")
        where = "GPU" if on_gpu else "computer"
        return (f"{self.title or self.name}: not enough memory on the {where} to fill a "
                f"{width}x{height} px region; try {', or '.join(advice)}")

    def checkpoint_path(self) -> Path:
        """The checkpoint file to load: the ``weights_path`` option, else the cached file."""
        explicit = self.options.get("weights_path")
        if explicit:
            return Path(explicit)
        return weights.require(self.weights_id)

    def status(self) -> Status:
        """Ready with the ``network`` or ``weights_path`` option or installed checkpoints
        (:attr:`weights`) that pass the cheap checks (:func:`engines.weights.damage`); else NEEDS_DOWNLOAD
        saying how to get it, or for a damaged file its path, why, and how to replace it
        (:func:`engines.weights.readiness_problem`)."""
        if self.options.get("network") is not None or self.options.get("weights_path"):
            return Status(Readiness.READY)
        problem = weights.readiness_problem(self.weights)
        if problem is None:
            return Status(Readiness.READY)
        return Status(Readiness.NEEDS_DOWNLOAD, problem)

    def device(self, preference: str | None = None):
        """The torch device for this run (``preference`` overrides the engine option)."""
        return pick_device(preference or self.options.get("device", "auto"))

    def create_network(self) -> Any:
        """The network architecture with random weights, in eval mode, on the CPU."""
        raise NotImplementedError

    def load_weights(self, network: Any, path: Path) -> None:
        """Load the checkpoint at ``path`` into ``network`` (strict: every tensor must match).

        Use :func:`engines.weights.load_checkpoint` so no pickled code runs; convert the
        upstream layout (prefixes, ``{"G": ...}``, Lightning ``state_dict``) here.
        """
        raise NotImplementedError

    def load_network(self, path: Path, device) -> Any:
        """Build the network, load ``path`` into it, move it to ``device`` in eval mode.

        Engines with an alternative source (a TorchScript file) override this.
        """
        network = self.create_network()
        self.load_weights(network, path)
        return network.to(device).eval()

    def network(self, device) -> Any:
        """The loaded network on ``device``, shared through the process-wide model slot and
        loaded again when the checkpoint file was replaced since (:func:`slot_key`). A
        :class:`~engines.weights.WeightsCorruptError` of the loader about an installed file
        gets the fields naming its checkpoint and path (:func:`~engines.weights.naming_file`;
        its message kept).

        The ``network`` option (an already built module) bypasses loading, for benchmarks.
        """
        given = self.options.get("network")
        if given is not None:
            return given_network_on(given, device)
        path = self.checkpoint_path()
        key = slot_key(type(self).__name__, [path], device)  # a replaced file loads again

        def load() -> Any:
            with weights.naming_file(path):
                return self.load_network(path, device)

        return MODEL_SLOT.get(key, load)

    def release(self) -> None:
        if MODEL_SLOT.key and MODEL_SLOT.key[0] == type(self).__name__:
            MODEL_SLOT.clear()


def given_network_on(network: Any, device) -> Any:
    """A ``network`` option's module on ``device``, in eval mode, its layers watched for a
    cancel (:func:`~engines.neural.interrupt.watch_layers`). Moved and switched only when it
    is not so already: walking LaMa's 629 modules to move them cost 18 ms a run on a GPU."""
    import torch

    place = torch.device(device)
    if any(not _same_device(tensor.device, place)
           for tensor in itertools.chain(network.parameters(), network.buffers())):
        network.to(place)
    if any(module.training for module in network.modules()):
        network.eval()
    return watch_layers(network)


def _same_device(have, want) -> bool:
    """Whether a tensor on ``have`` is on ``want`` (``cuda`` means the current GPU)."""
    if have.type != want.type:
        return False
    if want.index is None and have.type == "cuda":
        import torch

        return have.index == torch.cuda.current_device()
    return want.index is None or have.index == want.index


def image_to_tensor(image: np.ndarray, device, low: float = 0.0, high: float = 1.0):
    """``(H, W, 3)`` uint8 RGB to a ``(1, 3, H, W)`` float32 tensor scaled to [low, high]."""
    import torch

    pixels = np.ascontiguousarray(image)
    if not pixels.flags.writeable:  # a read-only view (request snapshots): torch warns
        pixels = pixels.copy()
    tensor = torch.from_numpy(pixels).to(device)
    tensor = tensor.permute(2, 0, 1).unsqueeze(0).float() / 255.0
    return tensor * (high - low) + low


def mask_to_tensor(hole: np.ndarray, device):
    """Boolean or uint8 ``(H, W)`` hole to a ``(1, 1, H, W)`` float32 tensor, 1 = hole."""
    import torch

    array = (hole >= 128) if hole.dtype == np.uint8 else hole.astype(bool)
    return torch.from_numpy(array.astype(np.float32)).to(device)[None, None]


def tensor_to_image(tensor, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """``(1, 3, H, W)`` tensor in [low, high] to ``(H, W, 3)`` uint8 RGB (rounded, clipped)."""
    array = ((tensor.detach().float() - low) / (high - low)).clamp(0, 1)[0]
    array = (array.permute(1, 2, 0) * 255.0).round().to("cpu").numpy()
    return np.ascontiguousarray(array.astype(np.uint8))


def pad_to_multiple(array: np.ndarray, multiple: int, mode: str = "symmetric") -> np.ndarray:
    """Pad ``(H, W[, C])`` at the bottom/right so H and W are multiples of ``multiple``."""
    height, width = array.shape[:2]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if not pad_h and not pad_w:
        return array
    padding = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, padding, mode=mode)
