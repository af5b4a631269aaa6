"""Contextual attention: the chunked layer against a literal transliteration of upstream's
layer (daa233 / nipponjo ``ContextualAttention.forward``), in every variant DeepFill uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines.neural.contextual_attention import (
    ContextualAttention,
    chunked_contextual_attention,
    full_contextual_attention,
    queries_reaching,
)
from engines.region import Box

# (fuse kernel, v1 norm with the epsilon inside the sum, TensorFlow-style downscaling)
VARIANTS = {
    "v2-pt": (True, False, False),  # nipponjo networks.py
    "v2-tf": (False, False, True),  # nipponjo networks_tf.py (fuse=False)
    "v1": (True, True, False),  # daa233 networks.py
}


def downscale(x: torch.Tensor, n: int, tf: bool) -> torch.Tensor:
    """``F.interpolate(..., 1/n, nearest)`` or networks_tf's ``downsampling_nn_tf``."""
    if not tf:
        return F.interpolate(x, scale_factor=1.0 / n, mode="nearest",
                             recompute_scale_factor=False)
    h, w = x.shape[2:]
    rows = np.floor(np.linspace(0, h - 1, h // n) + 0.5).astype(int)
    cols = np.floor(np.linspace(0, w - 1, w // n) + 0.5).astype(int)
    return x[:, :, rows][..., cols]


def upstream_attention(f, b, mask, fuse_kernel, eps_inside, tf):
    """Upstream's forward, step by step (rate 2, ksize 3, stride 1, softmax scale 10, even
    sizes, where "same" padding is one pixel on every side)."""
    n, c, _, _ = b.shape
    raw_w = F.unfold(b, 4, padding=1, stride=2).view(n, c, 4, 4, -1).permute(0, 4, 1, 2, 3)
    f, b = downscale(f, 2, tf), downscale(b, 2, tf)
    fs, bs = list(f.shape), list(b.shape)
    w = F.unfold(b, 3, padding=1).view(n, c, 3, 3, -1).permute(0, 4, 1, 2, 3)
    if mask is None:
        mask = torch.zeros(n, 1, bs[2], bs[3])
    else:
        mask = downscale(mask, 8, tf)
    m = F.unfold(mask, 3, padding=1).view(n, 1, 3, 3, -1).permute(0, 4, 1, 2, 3)[0]
    mm = (torch.mean(m, dim=[1, 2, 3], keepdim=True) == 0.0).float().permute(1, 0, 2, 3)
    out = []
    for xi, wi, raw_wi in zip(torch.split(f, 1), torch.split(w, 1), torch.split(raw_w, 1),
                              strict=True):
        wi = wi[0]
        if eps_inside:
            norm = torch.sqrt(torch.sum(wi ** 2 + 1e-4, dim=[1, 2, 3], keepdim=True))
        else:
            norm = torch.sqrt(torch.sum(wi ** 2, dim=[1, 2, 3], keepdim=True)).clamp_min(1e-4)
        yi = F.conv2d(xi, wi / norm, stride=1, padding=1)
        if fuse_kernel is not None:
            k = fuse_kernel.view(1, 1, 3, 3)
            yi = yi.view(1, 1, bs[2] * bs[3], fs[2] * fs[3])
            yi = F.conv2d(yi, k, padding=1)
            yi = yi.contiguous().view(1, bs[2], bs[3], fs[2], fs[3]).permute(0, 2, 1, 4, 3)
            yi = yi.contiguous().view(1, 1, bs[2] * bs[3], fs[2] * fs[3])
            yi = F.conv2d(yi, k, padding=1)
            yi = yi.contiguous().view(1, bs[3], bs[2], fs[3], fs[2]).permute(0, 2, 1, 4, 3)
        yi = yi.contiguous().view(1, bs[2] * bs[3], fs[2], fs[3])
        yi = yi * mm
        yi = F.softmax(yi * 10, dim=1)
        yi = yi * mm
        out.append(F.conv_transpose2d(yi, raw_wi[0], stride=2, padding=1) / 4.0)
    return torch.cat(out, dim=0)


def features(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator)


def hole(batch, height, width, seed):
    """Random blotchy hole masks at image size (8x the matching grid)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = (torch.rand(batch, 1, height // 8, width // 8, generator=generator) > 0.6).float()
    return F.interpolate(coarse, scale_factor=8, mode="nearest")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("block", [1, 7, None])
def test_chunked_equals_upstream(variant, block):
    """Blocks of one query, of a few queries across row boundaries, and all at once; a
    non-square grid catches any mix-up of the two fuse layouts; a batch of two checks that
    upstream's first-image mask is used for both."""
    fuse, eps_inside, tf = VARIANTS[variant]
    f = features((2, 6, 12, 20), 1)
    mask = hole(2, 48, 80, 2)
    kernel = torch.eye(3) if fuse else None
    expected = upstream_attention(f, f, mask, kernel, eps_inside, tf)
    ours = chunked_contextual_attention(f, f, mask, kernel, eps_inside, tf,
                                        block_elements=None if block is None else block * 60)
    assert expected.shape == ours.shape == f.shape
    torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-5)


def test_chunked_equals_upstream_with_any_fuse_kernel():
    """A random kernel (not the identity) makes every key and query offset of both fuse
    passes count, including the flat-index wrap across rows and columns."""
    f = features((1, 5, 14, 10), 3)
    kernel = features((3, 3), 4)
    mask = hole(1, 56, 40, 5)
    expected = upstream_attention(f, f, mask, kernel, False, False)
    for block in (1, 13, 70):
        ours = chunked_contextual_attention(f, f, mask, kernel, False, False,
                                            block_elements=block * 35)
        torch.testing.assert_close(ours, expected, atol=5e-5, rtol=1e-5)


def test_no_mask_means_every_key_is_usable():
    f = features((1, 4, 8, 8), 6)
    expected = upstream_attention(f, f, None, torch.eye(3), False, False)
    torch.testing.assert_close(chunked_contextual_attention(f, f, None, torch.eye(3), False,
                                                            False), expected, atol=2e-5,
                               rtol=1e-5)


def test_fully_masked_background_pastes_nothing():
    f = features((1, 4, 8, 8), 7)
    mask = torch.ones(1, 1, 32, 32)
    assert upstream_attention(f, f, mask, torch.eye(3), False, False).abs().max() == 0
    assert chunked_contextual_attention(f, f, mask, torch.eye(3), False, False).abs().max() == 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_full_reference_equals_upstream(variant):
    fuse, eps_inside, tf = VARIANTS[variant]
    f = features((1, 6, 12, 16), 8)
    mask = hole(1, 48, 64, 9)
    kernel = torch.eye(3) if fuse else None
    torch.testing.assert_close(full_contextual_attention(f, f, mask, kernel, eps_inside, tf),
                               upstream_attention(f, f, mask, kernel, eps_inside, tf),
                               atol=2e-5, rtol=1e-5)


def test_query_box_computes_only_those_queries():
    """Outputs covered only by queries inside the box equal the full result; the layer
    writes only rows 2*top .. 2*bottom and columns 2*left .. 2*right (the 4x4 paste kernel
    of query i covers rows 2i-1 .. 2i+2), zero elsewhere."""
    f = features((1, 4, 24, 24), 10)
    everything = chunked_contextual_attention(f, f, None, torch.eye(3), False, False)
    boxed = chunked_contextual_attention(f, f, None, torch.eye(3), False, False,
                                         query_box=(3, 8, 2, 9))
    torch.testing.assert_close(boxed[..., 8:14, 6:16], everything[..., 8:14, 6:16])
    assert boxed[..., :6, :].abs().max() == 0 and boxed[..., :, 18:].abs().max() == 0
    assert boxed[..., 6, 4:18].abs().min() > 0 and boxed[..., 6:16, 17].abs().min() > 0
    assert everything[..., :6, :].abs().max() > 0


def test_module_variants_and_autograd_fallback():
    """The module runs the chunked path in inference, the full one when autograd records
    (training), and keeps its dtype; v2 has the fuse buffer in its state dict, v1 not."""
    v2 = ContextualAttention(fuse_buffer=True, eps_inside=False)
    v1 = ContextualAttention(fuse_buffer=False, eps_inside=True)
    assert list(v2.state_dict()) == ["fuse_weight"]
    assert torch.equal(v2.fuse_weight, torch.eye(3).view(1, 1, 3, 3))
    assert list(v1.state_dict()) == []
    f = features((1, 4, 8, 12), 11)
    mask = torch.zeros(1, 1, 32, 48)
    mask[..., 8:16, 16:32] = 1
    with torch.no_grad():
        torch.testing.assert_close(v1(f, f, mask), upstream_attention(f, f, mask, torch.eye(3),
                                                                      True, False))
    trainable = f.clone().requires_grad_(True)
    out = v2(trainable, trainable, mask)
    out.square().sum().backward()
    assert trainable.grad is not None and trainable.grad.abs().sum() > 0
    v2.chunked = False
    with torch.no_grad():
        torch.testing.assert_close(v2(f, f, mask), out.detach())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_float64_network_attends_in_float64(variant):
    """A float64 layer computes in float64, so a float64 test sees any difference beyond
    rounding between two ways of computing (upstream's full volume, the chunked blocks of
    any size). Attention computed in float32 differs from upstream's float64 by ~1e-7, and
    between block sizes by float32 rounding amplified by the softmax (~1e-5 on AVX-512)."""
    fuse, eps_inside, tf = VARIANTS[variant]
    layer = ContextualAttention(fuse_buffer=fuse, eps_inside=eps_inside).double()
    layer.fuse, layer.tf_compat = fuse, tf
    f = features((1, 6, 12, 20), 21).double()
    mask = torch.zeros(1, 1, 48, 80)
    mask[..., 16:32, 24:48] = 1
    expected = upstream_attention(f, f, mask, torch.eye(3, dtype=torch.float64) if fuse
                                  else None, eps_inside, tf)
    with torch.no_grad():
        for block in (1, 7, None):
            layer.block_elements = None if block is None else block * 60
            out = layer(f, f, mask)
            assert out.dtype == torch.float64 and out.abs().amax() > 0.1
            torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)


def test_shapes_are_checked():
    f = features((1, 4, 8, 8), 13)
    with pytest.raises(ValueError, match="differ"):
        chunked_contextual_attention(f, features((1, 4, 8, 10), 14), None, None, False, False)
    with pytest.raises(ValueError, match="even"):
        chunked_contextual_attention(features((1, 4, 9, 8), 15), features((1, 4, 9, 8), 15),
                                     None, None, False, False)
    with pytest.raises(ValueError, match="8x larger"):
        chunked_contextual_attention(f, f, torch.zeros(1, 1, 16, 16), None, False, False)


def test_queries_reaching_a_box_are_exactly_the_ones_that_paste_into_it():
    """Against the layer itself: the box from queries_reaching reproduces the output box, and
    dropping its outermost query row or column on any side changes the box's values."""
    f = features((1, 4, 32, 40), 16)
    everything = chunked_contextual_attention(f, f, None, torch.eye(3), False, False)
    out_box = Box(top=9, left=13, bottom=18, right=26)
    query_box = queries_reaching(out_box, (32, 40))
    assert query_box == (4, 10, 6, 14)
    boxed = chunked_contextual_attention(f, f, None, torch.eye(3), False, False, query_box)
    torch.testing.assert_close(out_box.crop(boxed, Box.frame((32, 40))),
                               out_box.crop(everything, Box.frame((32, 40))))
    top, bottom, left, right = query_box
    for smaller in ((top + 1, bottom, left, right), (top, bottom - 1, left, right),
                    (top, bottom, left + 1, right), (top, bottom, left, right - 1)):
        cut = chunked_contextual_attention(f, f, None, torch.eye(3), False, False, smaller)
        assert not torch.allclose(out_box.crop(cut, Box.frame((32, 40))),
                                  out_box.crop(everything, Box.frame((32, 40))))
    assert queries_reaching(Box.frame((32, 40)), (32, 40)) == (0, 16, 0, 20)


def test_query_mask_thins_the_box():
    """With a query mask, masked-out queries paste nothing; the others paste as without it."""
    f = features((1, 4, 24, 24), 17)
    box = (2, 10, 1, 11)
    keep = torch.zeros(12, 12, dtype=torch.bool)
    keep[3:5, 2:4] = True
    boxed = chunked_contextual_attention(f, f, None, torch.eye(3), False, False, box)
    thinned = chunked_contextual_attention(f, f, None, torch.eye(3), False, False, box,
                                           query_mask=keep)
    everything = chunked_contextual_attention(f, f, None, torch.eye(3), False, False)
    # rows 7..8, columns 5..6 receive pastes from those 2x2 queries only (4x4, stride 2)
    torch.testing.assert_close(thinned[..., 7:9, 5:7], everything[..., 7:9, 5:7])
    written = torch.zeros(24, 24, dtype=torch.bool)
    written[5:11, 3:9] = True  # the patches of queries rows 3..4, columns 2..3
    assert thinned[..., ~written].abs().max() == 0 and thinned[..., written].abs().min() > 0
    assert not torch.allclose(thinned, boxed)
    keep[:] = True
    torch.testing.assert_close(chunked_contextual_attention(
        f, f, None, torch.eye(3), False, False, box, query_mask=keep), boxed)
