"""LaMa and MI-GAN checkpoint files in the exact upstream formats, with random weights.

* ``big-lama.zip``: ``big-lama/config.yaml`` (the training config as LaMa saves it, OmegaConf
  references unresolved) and ``big-lama/models/best.ckpt``, a ``torch.save`` of a Lightning
  checkpoint dict whose ``state_dict`` holds ``generator.*``, ``discriminator.*`` and
  ``loss_resnet_pl.*`` tensors. The plain variant uses only types ``weights_only`` loading
  accepts; the ``with_training_objects`` variant also pickles what PyTorch Lightning 1.x
  writes besides tensors (``callbacks`` keyed by a callback class, a ``hyper_parameters``
  config object), which ``weights_only`` refuses; unpickling those objects for real would
  call :func:`record_execution`.
* MI-GAN: a plain ``torch.save(generator.state_dict())``.
* TorchScript: ``torch.jit.trace`` of our modules, as IOPaint's files are traces.
"""

from __future__ import annotations

import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

BIG_LAMA_CONFIG = """\
run_title: b18_ffc075_batch8x15
training_model:
  kind: default
  visualize_each_iters: 1000
  concat_mask: true
  store_discr_outputs_for_vis: true
losses:
  l1:
    weight_missing: 0
    weight_known: 10
  perceptual:
    weight: 0
  adversarial:
    kind: r1
    weight: 10
    gp_coef: 0.001
    mask_as_fake_target: true
    allow_scale_mask: true
  feature_matching:
    weight: 100
  resnet_pl:
    weight: 30
    weights_path: ${env:TORCH_HOME}
optimizers:
  generator:
    kind: adam
    lr: 0.001
  discriminator:
    kind: adam
    lr: 0.0001
generator:
  kind: ffc_resnet
  input_nc: 4
  output_nc: 3
  ngf: 64
  n_downsampling: 3
  n_blocks: 18
  add_out_act: sigmoid
  init_conv_kwargs:
    ratio_gin: 0
    ratio_gout: 0
    enable_lfu: false
  downsample_conv_kwargs:
    ratio_gin: ${generator.init_conv_kwargs.ratio_gout}
    ratio_gout: ${generator.downsample_conv_kwargs.ratio_gin}
    enable_lfu: false
  resnet_conv_kwargs:
    ratio_gin: 0.75
    ratio_gout: ${generator.resnet_conv_kwargs.ratio_gin}
    enable_lfu: false
discriminator:
  kind: pix2pixhd_nlayer
  input_nc: 3
  ndf: 64
  n_layers: 4
"""

EXECUTED: list[str] = []


def record_execution(what: str) -> str:
    """Called only if a checkpoint's pickled objects are really unpickled."""
    EXECUTED.append(what)
    return what


class TrainingObject:
    """Pickles as a call of :func:`record_execution` (like any object with ``__reduce__``)."""

    def __reduce__(self):
        return record_execution, ("TrainingObject",)


class ModelCheckpoint:
    """Stands for ``pytorch_lightning.callbacks.ModelCheckpoint``, used as a dict key."""


def lightning_checkpoint(generator_state: dict[str, torch.Tensor],
                         with_training_objects: bool = False) -> dict:
    """A Lightning 1.x checkpoint dict around ``generator_state`` (keys ``generator.*``)."""
    generator = torch.Generator().manual_seed(3)
    state = OrderedDict(generator_state)
    state["discriminator.model0.0.weight"] = torch.randn(64, 3, 4, 4, generator=generator)
    state["discriminator.model0.0.bias"] = torch.randn(64, generator=generator)
    state["discriminator.model1.1.running_mean"] = torch.zeros(128)
    state["loss_resnet_pl.impl.encoder.conv1.weight"] = torch.randn(64, 3, 3, 3,
                                                                    generator=generator)
    checkpoint = {
        "epoch": 39,
        "global_step": 1_000_000,
        "pytorch-lightning_version": "1.2.9",
        "state_dict": state,
        "lr_schedulers": [],
        "optimizer_states": [],
    }
    if with_training_objects:
        checkpoint["callbacks"] = {ModelCheckpoint: {"best_model_score": torch.tensor(0.5),
                                                     "monitor": "val_ssim_fid100_f1_total_mean"}}
        checkpoint["hparams_name"] = "kwargs"
        checkpoint["hyper_parameters"] = TrainingObject()
    return checkpoint


def write_big_lama_zip(path: Path, generator_state: dict[str, torch.Tensor],
                       config: str = BIG_LAMA_CONFIG) -> Path:
    """``big-lama.zip`` as published: ``big-lama/config.yaml`` and ``big-lama/models/best.ckpt``."""
    checkpoint = path.parent / "best.ckpt"
    torch.save(lightning_checkpoint(generator_state), checkpoint)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("big-lama/", "")
        archive.writestr("big-lama/config.yaml", config)
        archive.write(checkpoint, "big-lama/models/best.ckpt")
    checkpoint.unlink()
    return path


def write_big_lama_folder(folder: Path, generator_state: dict[str, torch.Tensor],
                          config: str = BIG_LAMA_CONFIG) -> Path:
    """The unzipped ``big-lama`` folder."""
    (folder / "models").mkdir(parents=True)
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    torch.save(lightning_checkpoint(generator_state), folder / "models" / "best.ckpt")
    return folder


def trace_to(path: Path, module: torch.nn.Module, *example: torch.Tensor) -> Path:
    """``torch.jit.trace(module, example)`` saved at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still shipped
        torch.jit.trace(module.eval(), example, check_trace=False).save(str(path))
    return path


def photo(height: int, width: int, seed: int = 1) -> np.ndarray:
    """A textured ``(height, width, 3)`` uint8 test picture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 3 % 256, y * 2 % 256, (x + y) % 256], axis=-1).astype(np.float32)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def hole_mask(height: int, width: int, top: int, left: int, size: int) -> np.ndarray:
    """A mask with one ``size`` x ``size`` square hole (255) at ``top``, ``left``."""
    mask = np.zeros((height, width), np.uint8)
    mask[top:top + size, left:left + size] = 255
    return mask
