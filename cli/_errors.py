"""Turning exceptions into one-line messages for the user."""

from __future__ import annotations

from engines.base import Cancelled, EngineError, InputError
from engines.fileio import ImageFileError
from engines.neural.common import is_gpu_out_of_memory, is_out_of_memory
from engines.registry import UnknownEngineError
from engines.weights import UnknownWeightsError

EXPECTED = (ImageFileError, InputError, EngineError, UnknownEngineError, UnknownWeightsError,
            Cancelled, FileNotFoundError, PermissionError, IsADirectoryError)


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(one-line message, whether it is an expected user-facing failure)."""
    if isinstance(exc, Cancelled):
        return "cancelled", True
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", True
    if is_out_of_memory(exc):  # outside an engine run (which names the region itself)
        where, instead = (("GPU", "run with --device cpu") if is_gpu_out_of_memory(exc)
                          else ("computer", "close other programs"))
        return (f"not enough memory on the {where} for this step; {instead}, or work on a "
                "smaller picture"), True
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    if isinstance(exc, EXPECTED):
        return first, True
    kind = type(exc).__name__
    if kind == "error":  # cv2.error: "error: error: ..." said nothing
        kind = f"{type(exc).__module__}.{kind}"
    return f"{kind}: {first}", False
