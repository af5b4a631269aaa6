"""Choosing the torch device and keeping one network loaded at a time.

Device order for ``"auto"``: CUDA, then Apple MPS, then CPU. :class:`ModelSlot` holds the
last-used network so switching back and forth between runs costs nothing, frees the previous
network when another one loads, and keeps the previous one if the new load fails. Every loader
keys the slot with :func:`slot_key`, which includes each checkpoint file's identity
(:func:`checkpoint_identity`): a checkpoint replaced on disk (Models -> Import, ``models
import``, ``train semantic`` in another process) is loaded again at the next run.
"""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from engines.base import EngineError
from engines.neural.interrupt import watch_layers


class DeviceUnavailableError(EngineError):
    """An accelerator was asked for (the ``device`` option, ``--device``) that this machine
    lacks.

    ``str()`` is the command-line tool's message, its advice naming ``--device``; the fields
    let another front end say it in its own words: ``device`` the device asked for
    (``"cuda"``, ``"cuda:1"``, ``"mps"``), ``reason`` what is wrong without advice (``"CUDA
    was requested but no CUDA GPU is available"``). They are instance attributes: a pickled
    error keeps them."""

    def __init__(self, message: str = "", *, device: str = "", reason: str | None = None
                 ) -> None:
        super().__init__(message)
        self.device = device
        self.reason = message if reason is None else reason


CLI_DEVICE_ADVICE = "use --device cpu"


def _unavailable(device: str, reason: str) -> DeviceUnavailableError:
    """The :class:`DeviceUnavailableError` for ``device``: ``reason``, then the command-line
    tool's advice (:data:`CLI_DEVICE_ADVICE`)."""
    return DeviceUnavailableError(f"{reason}; {CLI_DEVICE_ADVICE}", device=device,
                                  reason=reason)


def pick_device(preference: str = "auto"):
    """A ``torch.device`` for ``preference`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    Raises :class:`DeviceUnavailableError` when an explicitly requested accelerator is not
    available, :class:`EngineError` for a device torch does not know.
    """
    import torch

    preference = (preference or "auto").lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise _unavailable(preference, "CUDA was requested but no CUDA GPU is available")
    if preference == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise _unavailable(preference, "MPS was requested but is not available on this "
                                           "machine")
    try:
        return torch.device(preference)
    except RuntimeError:
        raise EngineError(f"unknown device {preference!r}; use auto, cpu, cuda or mps") from None


def require_device(preference: str | None) -> None:
    """Raise :class:`DeviceUnavailableError` (or :class:`EngineError`) when ``preference`` names a device this machine lacks (or
    none known), whatever the engine will do with it. ``auto`` (or empty) and ``cpu``, which
    every machine has, check nothing and import no torch: the classical engines run without
    it."""
    if (preference or "auto").lower() not in ("auto", "cpu"):
        pick_device(preference)


def free_accelerator_memory(collect: bool = True) -> None:
    """Return cached GPU memory to the driver after a network was dropped, after a full
    garbage collection (``collect``) for what only reference cycles still hold."""
    import torch

    if collect:
        gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _dropped(held: Any) -> Callable[[], bool]:
    """For a network about to be let go (a module, or a tuple of them): whether any part
    of it outlives the last reference, kept only by a reference cycle (weak references)."""
    parts = held if isinstance(held, tuple) else () if held is None else (held,)
    refs = []
    for part in parts:
        try:
            refs.append(weakref.ref(part))
        except TypeError:  # no weak reference to it: assume a cycle may hold it
            return lambda: True
    return lambda: any(ref() is not None for ref in refs)


class ModelSlot:
    """Holds one loaded network, keyed by what identifies it (engine, weights, device...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Hashable | None = None
        self._model: Any = None

    @property
    def key(self) -> Hashable | None:
        return self._key

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The network for ``key``, loading it with ``load()`` if another one is held.

        The previous network stays in memory while ``load()`` runs (the peak holds both), and
        is dropped, with the accelerator's cache emptied, once the new one is in. If ``load``
        raises, the previously held network stays loaded and the error propagates.
        Every layer of what ``load()`` returns (a module or a tuple of them) gets the cancel
        check of :func:`~engines.neural.interrupt.watch_layers`, so a run inside
        :func:`~engines.neural.interrupt.cancel_checks` stops at its next layer.
        """
        with self._lock:
            if self._key == key and self._model is not None:
                return self._model
            model = watch_layers(load())  # raises before anything is dropped: the old stays
            previous, self._model, self._key = self._model, model, key
            outlived = _dropped(previous)
            del previous
            # a full collection holds the GIL ~150 ms with torch imported (the editor's
            # window waits for it): only for a network a reference cycle keeps alive
            free_accelerator_memory(collect=outlived())
            return model

    def clear(self) -> None:
        """Drop the held network and free its memory."""
        with self._lock:
            outlived = _dropped(self._model)
            self._model, self._key = None, None
        free_accelerator_memory(collect=outlived())


# the fill's, parser's or face parser's network: one at a time (each can take gigabytes)
MODEL_SLOT = ModelSlot()
# the face detector (a few MB to ~110 MB), held beside it: a detection neither evicts the
# fill's network (whose next run would load it again) nor waits for a load of one
DETECTOR_SLOT = ModelSlot()


def file_signature(path: Path) -> tuple[int, int, int, int, int] | None:
    """(device, inode, size, modification ns, status-change ns) of ``path`` (links
    followed), or ``None`` when it cannot be read."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
            status.st_ctime_ns)


def checkpoint_identity(path: str | os.PathLike) -> tuple[str, Hashable]:
    """``(resolved path, signature)`` of a checkpoint file (or folder) as it is on disk now;
    the signature changes whenever the file is replaced or rewritten. Reads no content.

    The signature is ``os.stat``'s device, inode, size, modification and status-change times
    in nanoseconds (symbolic links followed). A file replaced atomically (``os.replace`` of a
    temporary file or a moved one: the import, ``train semantic``) has another inode, since
    the new file existed beside the old one. A file rewritten in place with the same size and
    its old modification time put back (``cp -p``, ``touch -r``) still gets a new
    status-change time, which no program can set (on Windows ``st_ctime`` is the creation
    time: there only a new file is noticed, not an in-place rewrite with its time put back).
    Left undetected: a rewrite of the same size within one tick of the filesystem's clock
    (2 s on FAT, whose inode numbers also come from the folder entry), or a new file that
    reuses the held file's inode with its size and both times; a reload after such a change
    needs the slot cleared (another engine, or a restart). A folder (an unzipped
    ``big-lama``) is signed by every file under it. A file that cannot be read gets ``None``:
    the load that follows raises its own error.

    Compute the identity before loading the file: a replacement between the two then costs
    one more load at the next run, never a stale network under the new file's key.
    """
    resolved = Path(path).resolve()
    if not resolved.is_dir():
        return str(resolved), file_signature(resolved)
    files = []
    for folder, subfolders, names in os.walk(resolved):
        subfolders.sort()
        for name in sorted(names):
            file = Path(folder, name)
            files.append((str(file.relative_to(resolved)), file_signature(file)))
    return str(resolved), tuple(files)


def slot_key(owner: str, paths: Iterable[str | os.PathLike], device: Any) -> tuple:
    """The :data:`MODEL_SLOT` key of ``owner``'s network(s) loaded from ``paths`` onto
    ``device``: ``(owner, path, signature, path, signature, ..., str(device))`` with each
    path's :func:`checkpoint_identity`. ``owner`` (the engine or parser class name) comes
    first, so ``MODEL_SLOT.key[0]`` says whose network is held."""
    identities = [part for path in paths for part in checkpoint_identity(path)]
    return (owner, *identities, str(device))


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively here (AVX-512 BF16 or AMX)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def reduced_precision(device, half: bool | None, half_safe: bool):
    """An autocast context for a network's convolutions, or a no-op context.

    ``half`` is the engine's option: ``None`` means the default, which is float16 on CUDA for
    networks marked ``half_safe`` and full float32 elsewhere (results identical to upstream's).
    ``True`` also asks for bfloat16 on a CPU with native bfloat16 units (about twice as fast,
    within one 8-bit level of the float32 result); ``False`` forces float32.
    """
    import contextlib

    import torch

    if not half_safe or half is False:
        return contextlib.nullcontext()
    if device.type == "cuda":
        return torch.autocast("cuda", torch.float16)
    if device.type == "cpu" and half and cpu_has_native_bf16():
        return torch.autocast("cpu", torch.bfloat16)
    return contextlib.nullcontext()
