"""Contextual attention (Yu et al. 2018) as the DeepFill ports compute it, in bounded memory.

The layer fills the hole's features with a soft mixture of known background patches. Upstream
(daa233/generative-inpainting-pytorch ``model/networks.py`` for DeepFill v1,
nipponjo/deepfillv2-pytorch ``model/networks.py`` and ``model/networks_tf.py`` for v2) computes,
per image, with features ``f`` = ``b`` of shape ``(C, H, W)`` (``H``, ``W`` even):

1. ``raw``: 4x4 patches of ``b`` with stride 2 and zero padding 1, the pasting kernels;
2. ``f``, ``b`` downscaled by 2 (nearest); ``keys``: 3x3 patches of ``b`` (zero padding 1), each
   divided by its L2 norm (``max(norm, 1e-4)`` in v2, ``sqrt(sum(w^2 + 1e-4))`` in v1);
3. scores ``S[l, p]`` = correlation of key ``l`` with the 3x3 neighbourhood of query ``p``, an
   ``(h*w) x (h*w)`` volume with ``h, w = H/2, W/2``;
4. "fuse": the volume, seen as an ``(L, P)`` image with row-major flat indices, is convolved
   with a 3x3 kernel (the identity), then again in the transposed (column-major) layout; this
   favours coherent neighbouring matches (flat index neighbours wrap across rows, faithfully);
5. ``usable`` keys: the hole mask downscaled by 8 (nearest), a key is usable if its 3x3
   neighbourhood holds no hole pixel; ``A = softmax(10 * S * usable, over keys) * usable``;
6. output = ``conv_transpose2d(A, raw, stride 2, padding 1) / 4``.

Step 3-5 hold ``(HW/4)^2`` floats: 1 GiB per copy for a 1024x1024 DeepFill v2 input (several
copies live at once upstream). :class:`ContextualAttention` computes exactly the same function
one block of queries at a time: for a block it computes only the scores of the queries the
two fuse passes read (the block's flat-index neighbours in both layouts), fuses, normalises,
and collects the block's pasted patches, folded into the output at the end, so memory is
``O(block * HW)``. Two exact savings on top: unusable
keys have zero attention and are left out of the paste, and the caller may restrict the
queries to a box (:func:`queries_reaching` the part of the output it keeps), since queries
far from the hole only change pixels that are composited away.

:func:`full_contextual_attention` is the straightforward upstream formulation, kept as the
reference the tests and ``bench/neural.py`` compare against.

Tensors are float32 (attention runs in float32 even under CUDA autocast: the norms and the
softmax overflow in float16), or float64 for a network in float64 (tests: so that a
difference between two ways of computing shows beyond float32's rounding). Masks are ``(N, 1, H_img, W_img)`` with 1 = hole.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from engines.neural.interrupt import check_cancelled

KSIZE = 3  # key/query patch size (upstream ksize)
RATE = 2  # matching happens at 1/RATE of the feature resolution
SOFTMAX_SCALE = 10.0
MASK_FACTOR = 8  # image-to-matching-grid factor: 2 ** n_down * RATE (v2), 4 * RATE (v1)
DEFAULT_BLOCK = {"cpu": 1 << 24, "cuda": 1 << 26}  # score elements per block (float32)


def _downsample(x: torch.Tensor, factor: int, tf_compat: bool) -> torch.Tensor:
    """Nearest-neighbour downscaling by ``factor`` as upstream does it.

    PyTorch mode: ``F.interpolate(scale_factor=1/factor, mode="nearest")`` (source index
    ``floor(i * factor)``). TF mode (``networks_tf.downsampling_nn_tf``): TensorFlow's
    ``align_corners=True`` resize, source index ``round(linspace(0, n - 1, n // factor))``.
    """
    if not tf_compat:
        return F.interpolate(x, scale_factor=1.0 / factor, mode="nearest",
                             recompute_scale_factor=False)
    height, width = x.shape[-2:]
    rows = torch.linspace(0, height - 1, steps=height // factor, device=x.device)
    cols = torch.linspace(0, width - 1, steps=width // factor, device=x.device)
    rows = rows.add_(0.5).floor_().long()
    cols = cols.add_(0.5).floor_().long()
    return x[:, :, rows][..., cols]


def _usable_keys(mask: torch.Tensor | None, height: int, width: int, tf_compat: bool,
                 device) -> torch.Tensor:
    """``(h*w,)`` float32, 1 where a key's 3x3 neighbourhood holds no hole (first image's mask)."""
    if mask is None:
        return torch.ones(height * width, device=device)
    small = _downsample(mask[:1].float(), MASK_FACTOR, tf_compat)
    if small.shape[-2:] != (height, width):
        raise ValueError(f"mask of size {tuple(mask.shape[-2:])} does not give the "
                         f"{height}x{width} matching grid (it must be {MASK_FACTOR}x larger)")
    patches = F.unfold(small, KSIZE, padding=(KSIZE - 1) // 2)  # (1, k*k, L)
    return (patches.mean(dim=1)[0] == 0.0).float()


def _normalised_keys(background: torch.Tensor, eps_inside: bool) -> torch.Tensor:
    """``(C*9, L)`` 3x3 patches of ``background`` (1, C, h, w), each divided by its norm."""
    keys = F.unfold(background, KSIZE, padding=(KSIZE - 1) // 2)[0]  # (C*k*k, L)
    if eps_inside:  # v1: sqrt(sum(w^2 + 1e-4))
        norms = torch.sqrt(torch.sum(keys.square() + 1e-4, dim=0, keepdim=True))
    else:  # v2: max(sqrt(sum(w^2)), 1e-4)
        norms = torch.sqrt(torch.sum(keys.square(), dim=0, keepdim=True)).clamp_min(1e-4)
    return keys / norms


def _neighbours(index: torch.Tensor, offset: int, height: int, width: int,
                transposed: bool) -> torch.Tensor:
    """Row-major flat indices of the flat-index neighbour ``offset`` away, -1 outside the grid.

    ``transposed``: step in the column-major flat order (``col * height + row``), as the second
    fuse pass does after upstream's permute; otherwise in the row-major order.
    """
    total = height * width
    if transposed:
        moved = (index % width) * height + index // width + offset
        valid = (moved >= 0) & (moved < total)
        moved = moved.clamp(0, total - 1)
        moved = (moved % height) * width + moved // height
    else:
        moved = index + offset
        valid = (moved >= 0) & (moved < total)
    return torch.where(valid, moved, torch.full_like(moved, -1))


class _Workspace:
    """Reusable buffers of the features' dtype: a fresh large allocation page-faults on
    every block."""

    def __init__(self, device, dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype = device, dtype
        self._flat: dict[str, torch.Tensor] = {}

    def get(self, name: str, rows: int, cols: int) -> torch.Tensor:
        """An uninitialised ``(rows, cols)`` view on the buffer called ``name``."""
        flat = self._flat.get(name)
        if flat is None or flat.numel() < rows * cols:
            flat = self._flat[name] = torch.empty(rows * cols, device=self.device,
                                                  dtype=self.dtype)
        return flat[:rows * cols].view(rows, cols)


def _fuse_pass(scores: torch.Tensor, rows: torch.Tensor, weight: list[list[float]],
               out: torch.Tensor, gathered: torch.Tensor) -> torch.Tensor:
    """One fuse convolution for a block of queries, scores laid out ``(queries, keys)``.

    ``scores`` is ``(m, L)``; ``rows[c]`` (shape ``(3, n)``) gives, for each output query, the
    row of ``scores`` holding its neighbour at query offset ``c - 1`` (-1: outside, reads
    zero). Fills ``out`` ``(n, L)`` with ``sum_{a,c} weight[a][c] * scores[rows[c, j], l+a-1]``
    (zero outside the key range), i.e. upstream's 3x3 convolution of the ``(keys, queries)``
    volume (kernel rows along keys, columns along queries) restricted to these queries.
    ``gathered`` is ``(n, L)`` scratch.
    """
    keys = scores.shape[1]
    out.zero_()
    for c in range(3):
        if not any(weight[a][c] for a in range(3)):
            continue
        torch.index_select(scores, 0, rows[c].clamp_min(0), out=gathered)
        outside = (rows[c] < 0).nonzero().squeeze(1)
        if outside.numel():
            gathered.index_fill_(0, outside, 0.0)
        for a in range(3):
            coefficient = weight[a][c]
            if coefficient == 0.0:
                continue
            shift = a - 1
            if shift == 0:
                out.add_(gathered, alpha=coefficient)
            elif shift > 0:
                out[:, :keys - shift].add_(gathered[:, shift:], alpha=coefficient)
            else:
                out[:, -shift:].add_(gathered[:, :keys + shift], alpha=coefficient)
    return out


def _transpose_keys(scores: torch.Tensor, rows: int, cols: int,
                    out: torch.Tensor) -> torch.Tensor:
    """Copy ``(n, rows*cols)`` into ``out`` with the key axis from row- to column-major."""
    out.view(-1, cols, rows).copy_(scores.view(-1, rows, cols).transpose(1, 2))
    return out


def _positions(wanted: torch.Tensor, among: torch.Tensor) -> torch.Tensor:
    """Index of each ``wanted`` value in the sorted ``among``; -1 stays -1."""
    found = torch.searchsorted(among, wanted.clamp_min(0))
    return torch.where(wanted >= 0, found, torch.full_like(found, -1))


def _block_scores(keys: torch.Tensor, queries: torch.Tensor, block: torch.Tensor,
                  fuse_weight: list[list[float]] | None, height: int, width: int,
                  work: _Workspace) -> torch.Tensor:
    """Fused scores ``(n, L)`` for the query indices ``block`` (upstream's volume, transposed).

    ``keys`` is ``(C*9, L)`` normalised, ``queries`` ``(P, C*9)``. The result is a view on
    the workspace, valid until the next block.
    """
    total = keys.shape[1]
    count = block.numel()
    if fuse_weight is None:
        return torch.mm(queries[block], keys, out=work.get("result", count, total))
    second = torch.stack([_neighbours(block, c, height, width, True) for c in (-1, 0, 1)])
    middle = torch.unique(second[second >= 0])  # queries the second pass reads
    first = torch.stack([_neighbours(middle, c, height, width, False) for c in (-1, 0, 1)])
    needed = torch.unique(first[first >= 0])  # raw score rows the first pass reads
    scores = torch.mm(queries[needed], keys, out=work.get("scores", needed.numel(), total))
    fused = _fuse_pass(scores, _positions(first, needed), fuse_weight,
                       work.get("fused", middle.numel(), total),
                       work.get("gathered", middle.numel(), total))
    # the second pass runs with keys in column-major order, as upstream's permute makes them
    fused = _transpose_keys(fused, height, width, work.get("scores", middle.numel(), total))
    refused = _fuse_pass(fused, _positions(second, middle), fuse_weight,
                         work.get("fused", count, total), work.get("gathered", count, total))
    return _transpose_keys(refused, width, height, work.get("result", count, total))


def _clip_box(height: int, width: int,
              box: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    top, bottom, left, right = box if box is not None else (0, height, 0, width)
    return max(0, top), min(height, bottom), max(0, left), min(width, right)


def _query_indices(width: int, box: tuple[int, int, int, int], device) -> torch.Tensor:
    """Row-major flat indices of the queries in ``box`` (clipped), in row-major box order."""
    top, bottom, left, right = box
    rows = torch.arange(top, bottom, device=device)
    cols = torch.arange(left, right, device=device)
    return (rows[:, None] * width + cols[None, :]).reshape(-1)


def _fold_box(pasted: torch.Tensor, box: tuple[int, int, int, int], height: int,
              width: int) -> torch.Tensor:
    """Overlap-add the box's ``(n, C*16)`` patches into a ``(1, C, height, width)`` map.

    Query ``q`` pastes on rows ``2q - 1 .. 2q + 2``; only the rows and columns from ``2 * top``
    to ``2 * bottom`` (and likewise for columns) are written, the rest of the map is zero.
    For the whole grid this is upstream's ``conv_transpose2d(stride 2, padding 1)``.
    """
    top, bottom, left, right = box
    channels = pasted.shape[1] // (2 * RATE) ** 2
    out = pasted.new_zeros(1, channels, height, width)
    if bottom <= top or right <= left:
        return out
    out[..., RATE * top:RATE * bottom, RATE * left:RATE * right] = F.fold(
        pasted.t()[None], (RATE * (bottom - top), RATE * (right - left)), 2 * RATE,
        padding=1, stride=RATE)
    return out


@torch.no_grad()
def chunked_contextual_attention(f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None,
                                 fuse_weight: torch.Tensor | None, eps_inside: bool,
                                 tf_compat: bool,
                                 query_box: tuple[int, int, int, int] | None = None,
                                 block_elements: int | None = None,
                                 query_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Contextual attention in ``O(block * HW)`` memory; same result as the full formulation.

    Args:
        f, b: ``(N, C, H, W)`` float32 (or float64) features to fill and to copy from (the same tensor in
            DeepFill); ``H`` and ``W`` even.
        mask: ``(N, 1, MASK_FACTOR/RATE*H, ...)`` hole mask (1 = hole) at image resolution, or
            ``None`` (every key usable). Only the first image's mask is used, as upstream.
        fuse_weight: 3x3 fuse kernel, or ``None`` for no fusing (networks_tf).
        eps_inside: key norm ``sqrt(sum(w^2 + 1e-4))`` (v1) instead of ``max(norm, 1e-4)``.
        tf_compat: TensorFlow-style nearest downscaling (networks_tf).
        query_box: ``(top, bottom, left, right)`` on the ``(H/2, W/2)`` matching grid: only
            these queries are computed, the others paste nothing, and only output rows
            ``2 * top .. 2 * bottom`` (columns likewise) are written, the rest is zero (see
            :func:`queries_reaching`).
        block_elements: score elements per block (memory knob); default by device.
        query_mask: ``(H/2, W/2)`` bool, further restricts the queries to its true cells
            (those of the box); the others paste nothing.

    Returns ``(N, C, H, W)``. Inference only (no autograd graph is recorded). Each block
    first calls :func:`~engines.neural.interrupt.check_cancelled`, so a cancelled run stops
    before its next block.
    """
    batch, _, height, width = b.shape
    if f.shape != b.shape:
        raise ValueError(f"foreground {tuple(f.shape)} and background {tuple(b.shape)} differ")
    if height % RATE or width % RATE:
        raise ValueError(f"feature size {height}x{width} must be even")
    grid_h, grid_w = height // RATE, width // RATE
    total = grid_h * grid_w
    usable = _usable_keys(mask, grid_h, grid_w, tf_compat, b.device)
    usable_index = usable.nonzero().squeeze(1)
    all_usable = usable_index.numel() == total
    weight = None if fuse_weight is None else fuse_weight.reshape(3, 3).tolist()
    budget = block_elements or DEFAULT_BLOCK.get(b.device.type, DEFAULT_BLOCK["cpu"])
    per_block = max(1, budget // total)
    box = _clip_box(grid_h, grid_w, query_box)
    selected = _query_indices(grid_w, box, b.device)
    positions = None  # of the selected queries within the box, when a mask thins them
    if query_mask is not None:
        top, bottom, left, right = box
        positions = query_mask[top:bottom, left:right].reshape(-1).nonzero().squeeze(1)
        positions = positions.to(b.device)
        selected = selected[positions]
    work = _Workspace(b.device, b.dtype)
    outputs = []
    for i in range(batch):
        raw = F.unfold(b[i:i + 1], 2 * RATE, padding=1, stride=RATE)[0].t()  # (L, C*16)
        raw = raw.contiguous() if all_usable else raw[usable_index]
        keys = _normalised_keys(_downsample(b[i:i + 1], RATE, tf_compat), eps_inside)
        queries = F.unfold(_downsample(f[i:i + 1], RATE, tf_compat), KSIZE,
                           padding=(KSIZE - 1) // 2)[0].t().contiguous()  # (P, C*k*k)
        count = (box[1] - box[0]) * (box[3] - box[2])
        pasted = (raw.new_empty(count, raw.shape[1]) if positions is None
                  else raw.new_zeros(count, raw.shape[1]))  # box order
        for start in range(0, selected.numel(), per_block):
            check_cancelled()  # a cancelled run stops before its next block
            block = selected[start:start + per_block]
            scores = _block_scores(keys, queries, block, weight, grid_h, grid_w, work)
            scores.mul_(usable).mul_(SOFTMAX_SCALE)  # upstream: softmax(scale * (S * usable))
            scores.sub_(scores.amax(dim=1, keepdim=True)).exp_()
            scores.div_(scores.sum(dim=1, keepdim=True))
            if not all_usable:  # unusable keys have zero attention: leave them out
                scores = torch.index_select(scores, 1, usable_index,
                                            out=work.get("usable", block.numel(),
                                                         usable_index.numel()))
            patch = torch.mm(scores, raw, out=work.get("patch", block.numel(), raw.shape[1]))
            if positions is None:
                pasted[start:start + block.numel()] = patch
            else:
                pasted.index_copy_(0, positions[start:start + block.numel()], patch)
        outputs.append(_fold_box(pasted, box, height, width) / 4.0)
    return torch.cat(outputs, dim=0)


def full_contextual_attention(f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None,
                              fuse_weight: torch.Tensor | None, eps_inside: bool,
                              tf_compat: bool) -> torch.Tensor:
    """The upstream formulation step by step: the whole ``(HW/4)^2`` score volume at once.

    Same arguments as :func:`chunked_contextual_attention` (no query box). Memory grows with
    the square of the feature area; used as the reference in tests and benchmarks.
    """
    batch, channels, height, width = b.shape
    grid_h, grid_w = height // RATE, width // RATE
    total = grid_h * grid_w
    usable = _usable_keys(mask, grid_h, grid_w, tf_compat, b.device).view(1, total, 1, 1)
    outputs = []
    for i in range(batch):
        raw = F.unfold(b[i:i + 1], 2 * RATE, padding=1, stride=RATE)[0]
        raw = raw.view(channels, 2 * RATE, 2 * RATE, total).permute(3, 0, 1, 2)
        small_b = _downsample(b[i:i + 1], RATE, tf_compat)
        small_f = _downsample(f[i:i + 1], RATE, tf_compat)
        keys = _normalised_keys(small_b, eps_inside).t().reshape(total, channels, KSIZE, KSIZE)
        scores = F.conv2d(small_f, keys, padding=(KSIZE - 1) // 2)  # (1, L, h, w)
        if fuse_weight is not None:
            kernel = fuse_weight.view(1, 1, 3, 3).to(scores)
            scores = F.conv2d(scores.view(1, 1, total, total), kernel, padding=1)
            scores = scores.view(1, grid_h, grid_w, grid_h, grid_w).permute(0, 2, 1, 4, 3)
            scores = F.conv2d(scores.reshape(1, 1, total, total), kernel, padding=1)
            scores = scores.view(1, grid_w, grid_h, grid_w, grid_h).permute(0, 2, 1, 4, 3)
        scores = scores.reshape(1, total, grid_h, grid_w) * usable
        attention = torch.softmax(scores * SOFTMAX_SCALE, dim=1) * usable
        out = F.conv_transpose2d(attention, raw, stride=RATE, padding=1) / 4.0
        outputs.append(out)
    return torch.cat(outputs, dim=0)


def _full_precision(device_type: str):
    """A context where autocast (CUDA float16, CPU bfloat16) is off."""
    if device_type in ("cuda", "cpu"):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


class ContextualAttention(nn.Module):
    """Contextual attention with the fixed upstream settings (ksize 3, stride 1, rate 2,
    softmax scale 10), in one of its variants.

    Args:
        fuse_buffer: register the fuse kernel as the persistent buffer ``fuse_weight``
            ``(1, 1, 3, 3)`` (nipponjo's v2 has it in its state dict; daa233's v1 does not and
            uses a fixed identity).
        eps_inside: v1's key norm ``sqrt(sum(w^2 + 1e-4))``; v2 uses ``max(norm, 1e-4)``.

    Attributes (switched by the owning network, not saved):
        fuse: whether scores are fused (False in nipponjo's ``networks_tf``).
        tf_compat: TensorFlow-style nearest downscaling (``networks_tf``).
        chunked: False runs :func:`full_contextual_attention` (for comparisons); the full
            formulation also runs whenever autograd records (training), the chunked one
            being inference-only.
        block_elements: score elements per block, ``None`` = by device.

    ``forward(f, b, mask, query_box=None)`` returns ``(N, C, H, W)`` in ``f``'s dtype; mask
    ``(N, 1, 4H, 4W)`` with 1 = hole, or ``None``.
    """

    def __init__(self, fuse_buffer: bool, eps_inside: bool) -> None:
        super().__init__()
        self.eps_inside = eps_inside
        self.fuse = True
        self.tf_compat = False
        self.chunked = True
        self.block_elements: int | None = None
        if fuse_buffer:
            self.register_buffer("fuse_weight", torch.eye(3).view(1, 1, 3, 3))
        else:
            self.fuse_weight = None

    def forward(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None,
                query_box: tuple[int, int, int, int] | None = None,
                query_mask: torch.Tensor | None = None) -> torch.Tensor:
        dtype = f.dtype
        kernel = None
        if self.fuse:
            kernel = self.fuse_weight if self.fuse_weight is not None else torch.eye(3)
        # at least float32 (half and bfloat16 overflow in the softmax); float64 stays float64
        wide = torch.promote_types(dtype, torch.float32)
        with _full_precision(f.device.type):
            f_wide, b_wide = f.to(wide), b.to(wide)
            if self.chunked and not (torch.is_grad_enabled() and f.requires_grad):
                out = chunked_contextual_attention(f_wide, b_wide, mask, kernel,
                                                   self.eps_inside, self.tf_compat, query_box,
                                                   self.block_elements, query_mask)
            else:
                out = full_contextual_attention(f_wide, b_wide, mask, kernel, self.eps_inside,
                                                self.tf_compat)
        return out.to(dtype)


def queries_reaching_mask(wanted: torch.Tensor) -> torch.Tensor:
    """``(H/2, W/2)`` bool: the queries whose pasted 4x4 patches touch a true pixel of
    ``wanted`` ``(N, 1, H, W)`` (float, the layer's outputs that are needed)."""
    return F.max_pool2d(F.pad(wanted, (1, 1, 1, 1)), 2 * RATE, stride=RATE)[0, 0] > 0


def queries_reaching(box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The queries whose pasted patches reach ``box`` of the layer's output, as a query box.

    ``box`` is a :class:`~engines.region.Box` on the ``(H, W)`` feature map the layer
    returns (``size``). Query ``q`` of the ``(H/2, W/2)`` matching grid pastes a 4x4 patch on
    rows ``2q - 1 .. 2q + 2``, so rows ``[a, b)`` receive queries ``(a - 1) // 2 .. b // 2``
    (the fuse passes' neighbours are handled by the layer); the layer writes rows ``2 * top``
    to ``2 * bottom``, which hold ``[a, b)``. Returns ``(top, bottom, left, right)`` for
    ``query_box``.
    """
    grid_h, grid_w = size[0] // RATE, size[1] // RATE
    return (max(0, (box.top - 1) // 2), min(grid_h, box.bottom // 2 + 1),
            max(0, (box.left - 1) // 2), min(grid_w, box.right // 2 + 1))

