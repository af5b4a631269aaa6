"""``train``: train a network that has no published weights (the semantic-guided network).

``python main.py train semantic --images DIR [--labels DIR] [--parser NAME] [--steps N]
[--batch-size B] [--size S] [--device auto|cpu|cuda|mps] [-o CHECKPOINT]
[--resume | --overwrite] [--no-install]``

Without ``--labels`` the images are labelled once by ``--parser`` (one that is not ready is
refused, naming its download). The checkpoint is saved every ``--save-every`` steps, at the
end, and on Ctrl+C (exit 130) or SIGTERM (exit 143), saying at which step and how to go on;
at the end it is installed into the model cache as ``semantic-local`` (unless
``--no-install``), which makes the ``semantic`` engine ready. A second run on the same ``-o``
while one is writing it is refused at once (exit 2), as are ``--resume`` with no checkpoint
at ``-o`` and a ``--batch-size`` and ``--size`` whose step cannot fit in the device's memory;
a step that runs out of memory all the same says so, naming them. A run that stops on an error
(out of memory, a label map changed meanwhile) after saving the steps it had done says which
file holds them and exits 1 (the work ran, kept in part); one that had done no step, 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    add_device_argument,
    add_parser_argument,
    one_line,
    ranged,
    refuse_link_loops,
    refuse_output_link,
)
from cli._errors import BUG_HINT, debug_traceback, describe_error
from engines.base import SEED_RANGE
from engines.device import require_device
from engines.fileio import skipped_files_note

NAME = "train"
# the training bar until its first step ends (the networks are built, then the step runs);
# no clock: nothing redraws it
FIRST_STEP_FORMAT = "{desc}: preparing the first step…"
NEXT_STEP_FORMAT = "{desc}: preparing step {step}…"  # the first of a resumed run
HELP = "train a model that has no published weights (semantic-guided network)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    semantic = models.add_parser(
        "semantic", help="the semantic-guided two-stage network (engine 'semantic')",
        description="Train the semantic-guided two-stage network on a folder of photos. "
                    "Label maps come from --labels (PNG class ids named like the images) or "
                    "are computed with --parser.")
    semantic.add_argument("--images", required=True, type=Path, help="folder of training images")
    semantic.add_argument("--labels", type=Path,
                          help="folder of label maps <image stem>.png (indexed or grey PNG "
                               "class ids, 255 = unlabelled); default: compute them")
    add_parser_argument(semantic, "what labels the images without --labels (one whose "
                                  "weights are missing is refused)")
    semantic.add_argument("--classes", type=ranged(int, 1, 255),
                          help="number of label classes, 1 to 255 (default: the parser's label "
                               "set, or the largest id in --labels + 1)")
    semantic.add_argument("--label-set", help="name of the label set of --labels "
                                              "(recorded in the checkpoint)")
    semantic.add_argument("--steps", type=ranged(int, 1), default=20000,
                          help="total steps (default 20000)")
    semantic.add_argument("--batch-size", type=ranged(int, 1), default=8,
                          help="crops per step (default 8; with --size, one whose step "
                               "cannot fit in the device's memory is refused)")
    semantic.add_argument("--size", type=int, default=256,
                          help="crop side in pixels: a multiple of 4, at least 32 "
                               "(default 256)")
    semantic.add_argument("--channels", type=ranged(int, 1),
                          help="network width of a new model (default 32; --resume keeps "
                               "the checkpoint's)")
    semantic.add_argument("--lr", type=ranged(float, 0, 1, above=True), default=2e-4,
                          help="Adam learning rate, more than 0 and at most 1 (default 2e-4)")
    add_device_argument(semantic)
    semantic.add_argument("-o", "--output", type=Path, default=Path("semantic.pt"),
                          help="checkpoint to write (default semantic.pt)")
    existing = semantic.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue from the checkpoint at --output up to --steps "
                               "(refused when there is none)")
    existing.add_argument("--overwrite", action="store_true",
                          help="start afresh, replacing the checkpoint at --output (without "
                               "it or --resume, an existing one is refused)")
    semantic.add_argument("--save-every", type=ranged(int, 0), default=1000,
                          help="save the checkpoint every N steps (default 1000; 0: at the "
                               "end only)")
    semantic.add_argument("--seed", type=ranged(int, *SEED_RANGE), default=0,
                          help="random seed (default 0)")
    semantic.add_argument("--no-perceptual", action="store_true",
                          help="skip the VGG16 perceptual loss even when its weights exist")
    semantic.add_argument("--install", action=argparse.BooleanOptionalAction, default=True,
                          help="install the result as model semantic-local (default: yes)")


def run(args: argparse.Namespace) -> int:
    """Train; a run stopped by Ctrl+C or SIGTERM is said by :func:`cli.main` (exit 130 or
    143), with how to go on once a checkpoint holds a step. One stopped by an error after
    saving its steps (:class:`~engines.neural.semantic_training.TrainingStopped`) is said
    here, as :func:`cli.main` says an error (``--debug``: its traceback first), exit 1: its
    steps were kept, so it was not refused (exit 2, before any result was written)."""
    from engines.neural.semantic_training import TrainingStopped

    try:
        return _train(args)
    except TrainingStopped as stop:
        if getattr(args, "debug", False):
            print(debug_traceback(stop), end="", file=sys.stderr)
        print(f"error: {one_line(describe_error(stop)[0])}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as stop:
        from engines.neural.semantic_training import TrainingInterrupted

        if not isinstance(stop, TrainingInterrupted) or stop.step is None:
            raise
        instead = " instead of --overwrite" if args.overwrite else ""
        if Path(stop.checkpoint) != Path(args.output):  # saved beside a file that appeared
            instead = f" and -o {stop.checkpoint}"
        raise KeyboardInterrupt(f"{stop}; run the same command with --resume{instead} to "
                                "continue") from stop  # a SIGTERM stays its cause


def _train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engines.neural.semantic_training import TrainConfig, TrainProgress, install, train

    refuse_link_loops([("--images", args.images), ("--labels", args.labels),
                       ("-o", args.output)])  # named, not taken for a bug
    refuse_output_link(args.output, "-o")  # saving would replace the file it points to
    require_device(args.device)  # an accelerator asked for by name must exist
    # what the folder holds besides pictures is named as batch and watermark name it
    skipped = skipped_files_note(args.images, used_folders=[args.labels] if args.labels else [])
    if skipped:
        print(one_line(skipped), file=sys.stderr)
    config = TrainConfig(
        images=args.images, labels=args.labels, parser=args.parser, output=args.output,
        steps=args.steps, batch_size=args.batch_size, size=args.size, channels=args.channels,
        num_classes=args.classes, label_set=args.label_set, device=args.device, lr=args.lr,
        perceptual=not args.no_perceptual, seed=args.seed, save_every=args.save_every,
        resume=args.resume, overwrite=args.overwrite)
    bars: dict[str, tqdm] = {}

    def bar(phase: str, total: int, unit: str, bar_format: str | None = None,
            initial: int = 0) -> tqdm:
        if phase not in bars:
            for other in bars.values():
                other.close()
            bars[phase] = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
                               desc="labelling" if phase == "labels" else "training",
                               bar_format=bar_format, initial=initial)
        return bars[phase]

    def starting(event: TrainProgress) -> None:
        """Once the data is ready, show the training bar at once, saying which step is under
        way: building the networks and the first step take long (tens of seconds on a CPU),
        and the labelling bar, done, must not stand for that work. The run's notices came
        before the labelling: none is written across this bar, which would draw it again."""
        preparing = (NEXT_STEP_FORMAT.replace("{step}", str(event.step + 1)) if event.step
                     else FIRST_STEP_FORMAT)
        bar("train", event.total, "step", bar_format=preparing, initial=event.step)

    bugs = []  # pictures left out for a parser's bug: the run ends with the bug hint

    def report(event: TrainProgress) -> None:
        if event.phase == "notice":
            tqdm.write(event.message, file=sys.stderr)
            if event.error is not None:  # a parser's bug
                bugs.append(event.error)
                if getattr(args, "debug", False):
                    tqdm.write(debug_traceback(event.error).rstrip("\n"), file=sys.stderr)
            return
        if event.phase == "start":
            starting(event)
            return
        current = bar(event.phase, event.total, "image" if event.phase == "labels" else "step",
                      initial=max(event.step - 1, 0))
        if event.phase == "train" and current.bar_format is not None:  # its first step ended
            current.bar_format = None
        current.update(event.step - current.n)
        if event.losses:
            current.set_postfix({k: f"{v:.3f}" for k, v in event.losses.items()}, refresh=False)

    try:
        result = train(config, progress=report)
    finally:
        for current in bars.values():
            current.close()
    print(one_line(f"saved {result.checkpoint} (step {result.step}, {result.num_classes} "
                   f"classes, label set {result.label_set}"
                   f"{'' if result.perceptual else ', without perceptual loss'})"))
    if args.install:
        path = install(result.checkpoint)
        print(one_line(f"installed as semantic-local: {path}"))
    if bugs and not getattr(args, "debug", False):  # last, as a folder run says it
        sys.stdout.flush()
        print(BUG_HINT, file=sys.stderr)
    return EXIT_OK
