"""A parser's status says whether the checkpoints it declares (``Parser.weights``) are
there, as an engine's does: ready, or what to download, import or replace."""

from __future__ import annotations

import numpy as np
import torch

from engines import weights
from engines.base import Readiness
from engines.segmentation.base import LabelSet, Parser

URL = "https://example.invalid/qa-parser.pth"


class _Needs(Parser):
    """A parser (not registered) whose checkpoints the test sets."""

    name, title = "qa-needs", "QA parser"
    label_set = LabelSet("qa", ("all",), np.array([[0, 255, 0]], np.uint8))

    def parse(self, image, cancel=None, progress=None):
        return np.zeros(image.shape[:2], np.uint8)


def _parser(*weights_ids: str) -> Parser:
    return type("QaParser", (_Needs,), {"weights": weights_ids})()


def test_a_parser_without_checkpoints_is_ready(model_cache):
    assert _parser().status().readiness is Readiness.READY


def test_missing_checkpoints_need_a_download_saying_how(make_spec):
    fetched = make_spec(urls=(URL,))
    by_hand = make_spec(manual="copy it from the lab's share")
    status = _parser(fetched.id, by_hand.id).status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD and not status.ready
    assert status.detail == (f"QA parser: weights {fetched.id} not installed; run `python "
                             f"main.py models download {fetched.id}`; weights {by_hand.id} "
                             "not installed; copy it from the lab's share, then import it "
                             f"with `python main.py models import {by_hand.id} FILE`")


def test_an_installed_checkpoint_makes_it_ready_and_a_damaged_one_is_named(make_spec):
    spec = make_spec(urls=(URL,))
    path = weights.local_path(spec.id)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    status = _parser(spec.id).status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert f"{path.absolute()} is damaged: it is an empty file" in status.detail
    torch.save({"w": torch.zeros(2)}, path)
    assert _parser(spec.id).status().readiness is Readiness.READY


def test_a_checkpoint_no_module_declares_makes_it_unavailable(model_cache):
    status = _parser("qa-nowhere").status()
    assert status.readiness is Readiness.UNAVAILABLE
    assert status.detail.startswith("QA parser: unknown model 'qa-nowhere'")

