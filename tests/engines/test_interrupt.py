"""A cancelled neural run stops before the network's next layer, not at the end of a stage."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engines import registry
from engines.base import Cancelled, CancelToken, InpaintRequest
from engines.neural.interrupt import cancel_checks, watch_layers


def _image_and_hole() -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), np.uint8)
    hole[20:40, 20:40] = 255
    return image, hole


def test_cancel_stops_a_network_part_way_through_its_forward_pass():
    """MI-GAN (a quick preview, then one network pass): a cancel during the forward pass
    stops it before the next layer runs, with Cancelled, not at the end of the stage."""
    network = registry.create("migan").create_network()
    order = []  # the leaf layers in the order a forward pass calls them
    hooks = [m.register_forward_hook(lambda module, *_: order.append(module))
             for m in network.modules() if not list(m.children())]
    list(registry.create("migan", network=network).run(InpaintRequest(*_image_and_hole())))
    for hook in hooks:
        hook.remove()
    middle, last = order[len(order) // 2], order[-1]
    cancel = CancelToken()
    ran = []
    middle.register_forward_hook(lambda *_: cancel.cancel())  # as if the user pressed Esc
    last.register_forward_hook(lambda *_: ran.append("last layer"))
    engine = registry.create("migan", network=network)
    stages = engine.run(InpaintRequest(*_image_and_hole()), cancel)
    assert next(stages).name == "coarse"
    with pytest.raises(Cancelled):
        next(stages)
    assert ran == []  # nothing after the layer where it was cancelled

    # the same (watched) network runs to the end for the next request
    stages = list(engine.run(InpaintRequest(*_image_and_hole())))
    assert stages and ran == ["last layer"]


def test_the_checks_answer_only_the_token_of_their_own_thread():
    network = watch_layers(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()))
    assert watch_layers(network) is network  # hooks are added once
    assert len(network[0]._forward_pre_hooks) == 1
    cancelled = CancelToken()
    cancelled.cancel()
    inside, outside = threading.Event(), threading.Event()

    def elsewhere() -> None:
        with cancel_checks(cancelled):
            inside.set()
            outside.wait(10)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    try:
        assert inside.wait(10)
        assert network(torch.ones(1, 3)).shape == (1, 3)  # another thread's token
        with cancel_checks(CancelToken()):
            network(torch.ones(1, 3))  # this thread's token, not cancelled
        with cancel_checks(cancelled), pytest.raises(Cancelled):
            network(torch.ones(1, 3))
        network(torch.ones(1, 3))  # the block is left: no token on this thread again
    finally:
        outside.set()
        thread.join()


def test_the_model_slot_gives_what_it_loads_the_cancel_checks():
    """Every network held by the shared slot, a tuple of them included, stops once its
    run's token is cancelled, whichever engine or parser loaded it."""
    from engines.device import ModelSlot

    slot = ModelSlot()
    first, second = torch.nn.Linear(3, 3), torch.nn.Sequential(torch.nn.Linear(3, 3))
    assert slot.get("pair", lambda: (first, second)) == (first, second)
    cancelled = CancelToken()
    cancelled.cancel()
    for network in (first, second):
        with cancel_checks(cancelled), pytest.raises(Cancelled):
            network(torch.ones(1, 3))
        network(torch.ones(1, 3))  # outside the block the check does nothing
    assert len(second[0]._forward_pre_hooks) == 1
    slot.clear()
