"""Turning exceptions into one-line messages for the user."""

from __future__ import annotations

import sys
import traceback

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


# said after a failure that is a bug (:func:`describe_error`'s not expected), without --debug
BUG_HINT = "(this looks like a bug; run again with --debug for details)"


def is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is a bug rather than an ordinary failure (:func:`describe_error`): an
    engine's crash, or any exception not user-facing. A folder run's picture that failed
    with one makes the run end with :data:`BUG_HINT`."""
    return not describe_error(exc)[1]


# whether traceback prints an exception's __notes__ itself (Python 3.11+)
NOTES_PRINTED = sys.version_info >= (3, 11)
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def debug_traceback(exc: BaseException) -> str:
    """The traceback ``--debug`` prints for ``exc``: its chain (causes and contexts, oldest
    first) as :mod:`traceback` formats it, each exception followed by its ``__notes__``
    (the place where an out-of-memory's frames are kept as text:
    :func:`~engines.neural.common.release_frames`). :mod:`traceback` prints the notes itself
    from Python 3.11 (:data:`NOTES_PRINTED`); before, they are added here, one a line after
    the exception's own line, as 3.11 does."""
    if NOTES_PRINTED:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # newest first, each with the line that follows it in print: how the newer one it was
    # found from follows it (its cause, or its context not suppressed)
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for error, link in reversed(chain):
        formatted = traceback.TracebackException(type(error), error, error.__traceback__)
        formatted.__notes__ = None  # said below, once, whether or not traceback says notes
        parts.extend(formatted.format(chain=False))
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, (list, tuple)):
            parts.extend(f"{note if isinstance(note, str) else repr(note)}\n"
                         for note in notes)
        parts.append(link)
    return "".join(parts)
