"""Turning exceptions into one-line messages for the user."""

from __future__ import annotations

from engines.base import Cancelled, EngineCrashed, exception_line, message_line
from engines.errors import USER_FACING
from engines.neural.common import is_gpu_out_of_memory, is_out_of_memory


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(one-line message, whether it is an expected user-facing failure). An engine's crash
    (:class:`~engines.base.EngineCrashed`, whose message names the engine) and any other
    exception not :data:`~engines.errors.USER_FACING` are not: they are bugs."""
    if isinstance(exc, Cancelled):
        return "cancelled", True
    if isinstance(exc, EngineCrashed):
        return str(exc), False
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", True
    if is_out_of_memory(exc):  # outside an engine run (which names the region itself)
        where, instead = (("GPU", "run with --device cpu") if is_gpu_out_of_memory(exc)
                          else ("computer", "close other programs"))
        return (f"not enough memory on the {where} for this step; {instead}, or work on a "
                "smaller picture"), True
    if isinstance(exc, USER_FACING):
        return message_line(exc), True
    return exception_line(exc), False
