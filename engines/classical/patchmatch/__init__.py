"""Guided PatchMatch image completion (the ``patchmatch`` engine).

Modules: :mod:`.kernels` (numba NNF search and voting), :mod:`.levels` (pyramid, atlas and
guidance maps), :mod:`.window` (where the per-pixel target maps are kept: the pixels within
reach of the hole), :mod:`.solver` (coarse-to-fine EM driver), :mod:`.numba_solver` and
:mod:`.torch_solver` (the CPU and torch/CUDA level solvers), :mod:`.engine` (the engine).
"""

# the plugin walk leaves it out (engines.plugins): the engine imports it for a torch run
HELPER_MODULES = ("torch_solver",)
