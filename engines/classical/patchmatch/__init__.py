"""Guided PatchMatch image completion (the ``patchmatch`` engine).

Modules: :mod:`.kernels` (numba NNF search and voting), :mod:`.levels` (pyramid, atlas and
guidance maps), :mod:`.solver` (coarse-to-fine EM driver), :mod:`.numba_solver` and
:mod:`.torch_solver` (the CPU and torch/CUDA level solvers), :mod:`.engine` (the engine).
"""
