"""Cancelling a network part-way through its forward pass.

Engines check their :class:`~engines.base.CancelToken` between stages, and one stage of a
large network on a CPU takes seconds (LaMa at 1024 px: about 4 s). :func:`watch_layers`
gives every layer of a loaded network a forward pre-hook that checks the token made current
on the calling thread by :func:`cancel_checks`, so a cancelled run stops before its next
layer. Outside :func:`cancel_checks`, and on other threads, the hooks do nothing.
Code that computes layers from their weights instead of calling them as modules (DeepFill's
hole-local passes, the contextual attention's blocks) calls :func:`check_cancelled` itself,
the same rule the hooks follow. TorchScript modules take no Python hooks and still stop
between stages only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engines.base import CancelToken

_current = threading.local()
_WATCHED = "_inpaint_studio_cancel_hooks"  # marks a network whose layers have the hook


def check_cancelled() -> None:
    """Raise :class:`~engines.base.Cancelled` if the token made current on this thread by
    :func:`cancel_checks` is cancelled; do nothing outside :func:`cancel_checks`. Call it
    before each layer a loop computes without calling the layer as a watched module."""
    token = getattr(_current, "token", None)
    if token is not None:
        token.raise_if_cancelled()


def _check(_module: Any, _inputs: Any) -> None:
    check_cancelled()


def watch_layers(networks: Any) -> Any:
    """Give each layer of ``networks`` (a ``torch.nn.Module``, or a tuple of networks as
    parsers load them) the cancel check, once; TorchScript modules and anything that is not
    a module are left as they are. Returns ``networks``."""
    import torch

    for network in networks if isinstance(networks, tuple) else (networks,):
        if (not isinstance(network, torch.nn.Module) or getattr(network, _WATCHED, False)
                or isinstance(network, torch.jit.ScriptModule)):
            continue
        for layer in network.modules():
            layer.register_forward_pre_hook(_check)
        setattr(network, _WATCHED, True)
    return networks


@contextmanager
def cancel_checks(cancel: CancelToken) -> Iterator[None]:
    """Within the block, watched layers called on this thread raise
    :class:`~engines.base.Cancelled` once ``cancel`` is cancelled. Keep the block free of
    ``yield``: a generator suspended inside it would leave the token current on the thread.
    """
    previous = getattr(_current, "token", None)
    _current.token = cancel
    try:
        yield
    finally:
        _current.token = previous
