"""numba compilation shared by the engines' kernels (PatchMatch, the regions parser)."""

from __future__ import annotations

from numba import njit


def cached_njit(**options):
    """numba's ``njit`` with its on-disk cache, or without it where numba finds no writable
    place for one (a read-only install run by a user without a writable home: numba then
    raises at decoration). Without the cache, each process compiles the kernels once
    (seconds)."""

    def decorate(function):
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(**options)(function)

    return decorate
