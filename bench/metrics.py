"""Quality figures shared by the benchmarks: PSNR and SSIM over the hole only."""

from __future__ import annotations

import numpy as np


def hole_scores(result: np.ndarray, original: np.ndarray, mask: np.ndarray
                ) -> tuple[float, float]:
    """PSNR (dB) and mean SSIM over the hole pixels (``mask >= 128``) of two RGB uint8
    pictures. SSIM is scikit-image's full-picture map, averaged over the hole and channels."""
    from skimage.metrics import structural_similarity

    hole = mask >= 128
    error = result[hole].astype(np.float64) - original[hole]
    psnr = 10 * np.log10(255.0 ** 2 / max(float(np.mean(error ** 2)), 1e-10))
    _, ssim_map = structural_similarity(original, result, channel_axis=2, data_range=255,
                                        full=True)
    return float(psnr), float(ssim_map[hole].mean())
