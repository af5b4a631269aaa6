"""Helpers shared by the CLI commands: engine options, requests from files, progress bars."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engines.base import InpaintRequest, InputError, Stage, Strategy
from engines.fileio import load_image, load_mask


def add_engine_arguments(parser: argparse.ArgumentParser, default_engine: str = "patchmatch"):
    """--engine, --strategy, --margin, --device, --seed."""
    parser.add_argument("--engine", default=default_engine,
                        help=f"engine name (default: {default_engine}; `engines` lists them)")
    parser.add_argument("--strategy", choices=[s.value for s in Strategy], default="crop",
                        help="crop: around the hole with context (default); resize: whole "
                             "image scaled to the engine's size; original: full resolution")
    parser.add_argument("--margin", type=int, default=128, metavar="PX",
                        help="context around the hole with --strategy crop (default 128)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an engine option, repeatable: e.g. quality=best (PatchMatch), "
                             "half=true (DeepFill: bfloat16 on CPUs with native support), "
                             "local=false (DeepFill: compute the whole frame, not only what "
                             "reaches the hole), source=torchscript (LaMa, MI-GAN); neural "
                             "engines: working_size=PX, seam_feather=PX (colour blend at the "
                             "hole's edge), weights_path=FILE; an option the engine does not "
                             "take is refused; `engines -v` lists each engine's")


def add_metadata_argument(parser: argparse.ArgumentParser) -> None:
    """--strip-metadata (results keep their input's metadata by default)."""
    parser.add_argument("--strip-metadata", action="store_true",
                        help="write results without the input's colour profile, EXIF, XMP and "
                             "IPTC (date, camera, GPS, caption, keywords, copyright); by "
                             "default they are kept, except thumbnails, which would still "
                             "show what was removed")


def engine_options(args: argparse.Namespace) -> dict[str, object]:
    """``--option KEY=VALUE`` pairs as a dict; true/false, integers and decimals are parsed."""
    options: dict[str, object] = {}
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option {item!r}: write it as KEY=VALUE")
        value: object = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    continue
        options[key.strip()] = value
    return options


def load_layer(path: str | None, shape: tuple[int, int], what: str) -> np.ndarray | None:
    """A binary layer file (white = set) checked against the image size, or None."""
    if path is None:
        return None
    layer = load_mask(path, shape, what)
    if what == "mask" and not layer.any():
        raise InputError(f"{Path(path).name}: the mask is empty (no white pixels)")
    return layer


def load_labels(path: str | None, shape: tuple[int, int]) -> np.ndarray | None:
    """A label map: an indexed PNG whose indices are class ids (or a grey PNG of ids)."""
    if path is None:
        return None
    from engines.segmentation.labelmap import load_label_png

    return load_label_png(path, shape)


def build_request(args: argparse.Namespace, image: np.ndarray, mask: np.ndarray,
                  sketch: np.ndarray | None = None, labels: np.ndarray | None = None,
                  include: np.ndarray | None = None, exclude: np.ndarray | None = None,
                  exemplars: tuple[np.ndarray, ...] = ()) -> InpaintRequest:
    return InpaintRequest(image=image, mask=mask, sketch=sketch, labels=labels,
                          sample_include=include, sample_exclude=exclude, exemplars=exemplars,
                          strategy=Strategy(args.strategy), crop_margin=args.margin,
                          seed=args.seed, device=args.device)


def load_exemplars(paths: list[str] | None) -> tuple[np.ndarray, ...]:
    return tuple(load_image(p).rgb for p in paths or ())


def run_with_bar(engine, request: InpaintRequest, description: str, leave: bool = True) -> Stage:
    """Run ``engine`` on ``request`` with a tqdm bar over its stages; returns the final one."""
    final = None
    with tqdm(total=100, desc=description, unit="%", leave=leave,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:
        for stage in engine.run(request):
            bar.n = round(stage.progress * 100)
            bar.set_postfix_str(stage.name)
            final = stage
    if final is None or not final.final:
        raise RuntimeError("the engine ended without a final result")
    return final
