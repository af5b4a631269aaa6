"""Which exceptions are the user's to hear about as they are, and which are bugs.

A user-facing failure (bad input, a missing file, weights not installed, a cancel, a lack
of memory) carries a message meant for the user. Any other exception escaping an engine is
a bug in it (:func:`is_engine_bug`), which :meth:`engines.base.Engine.run` raises as
:class:`~engines.base.EngineCrashed` naming the engine.
"""

from __future__ import annotations

from engines.base import Cancelled, EngineError, InputError
from engines.fileio import ImageFileError
from engines.neural.common import is_out_of_memory
from engines.registry import UnknownEngineError
from engines.weights import UnknownWeightsError

# exceptions whose message is meant for the user as it is (one line, no traceback)
USER_FACING = (ImageFileError, InputError, EngineError, UnknownEngineError,
               UnknownWeightsError, Cancelled, FileNotFoundError, PermissionError,
               IsADirectoryError)


def is_engine_bug(exc: BaseException) -> bool:
    """Whether ``exc``, escaping an engine's run, is a bug rather than a failure the user
    is told about as it is: not one of :data:`USER_FACING` (an
    :class:`~engines.base.EngineCrashed` is an :class:`~engines.base.EngineError`, so it is
    never named twice), not a file error naming its file, and not a lack of memory
    (:func:`engines.neural.common.is_out_of_memory`: neural engines name the region that
    did not fit, the CLI and the batch say it their way)."""
    if isinstance(exc, USER_FACING) or is_out_of_memory(exc):
        return False
    return not (isinstance(exc, OSError) and exc.filename)
