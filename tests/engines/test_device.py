"""Device choice and the one-model slot: reuse, switching frees, a failed load rolls back;
the slot keys carry each checkpoint file's identity, which changes when the file is replaced."""

from __future__ import annotations

import gc
import os
import threading
import weakref

import pytest
import torch

from engines.base import EngineError
from engines.device import ModelSlot, checkpoint_identity, pick_device, slot_key


class Net(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.layer = torch.nn.Linear(2, 2)


def test_same_key_reuses_the_loaded_model():
    slot = ModelSlot()
    loads = []

    def load():
        loads.append(1)
        return Net("a")

    first = slot.get(("a", "cpu"), load)
    assert slot.get(("a", "cpu"), load) is first
    assert len(loads) == 1 and slot.key == ("a", "cpu")


def test_switching_frees_the_previous_model():
    slot = ModelSlot()
    first = slot.get("a", lambda: Net("a"))
    first_ref = weakref.ref(first)
    del first

    second = slot.get("b", lambda: Net("b"))
    gc.collect()

    assert first_ref() is None  # nothing in the slot keeps the old network alive
    assert slot.key == "b" and second.name == "b"
    assert slot.get("a", lambda: Net("a again")).name == "a again"  # switching back reloads


@pytest.mark.parametrize("cycle", [False, True])
def test_a_swap_collects_garbage_only_for_a_network_a_cycle_keeps(monkeypatch, cycle):
    """A full collection holds the GIL ~150 ms with torch imported (QA audit 28: every
    engine switch stalled the editor's window): a dropped network that its last reference
    frees needs none; one that a reference cycle keeps gets one, and is freed."""
    import engines.device as device

    collections = []
    collect = gc.collect
    monkeypatch.setattr(device.gc, "collect", lambda *a: collections.append(a) or collect())
    made = []

    def load_first():
        network = torch.nn.Linear(2, 2)
        if cycle:
            network.itself = [network]  # only a collection frees it
        made.append(weakref.ref(network))
        return network

    slot = ModelSlot()
    slot.get("a", load_first)
    gc.disable()  # no automatic collection between here and the check
    try:
        slot.get("b", lambda: torch.nn.Linear(2, 2))
        assert made[0]() is None  # freed, either way
        assert len(collections) == (1 if cycle else 0)
        slot.clear()  # nothing left in a cycle: no collection
        assert len(collections) == (1 if cycle else 0)
    finally:
        gc.enable()


def test_failed_load_keeps_the_previous_model():
    slot = ModelSlot()
    first = slot.get("a", lambda: Net("a"))

    def broken():
        raise EngineError("checkpoint damaged")

    with pytest.raises(EngineError, match="checkpoint damaged"):
        slot.get("b", broken)

    assert slot.key == "a"
    assert slot.get("a", lambda: pytest.fail("must not reload")) is first


def test_clear_drops_the_model():
    slot = ModelSlot()
    ref = weakref.ref(slot.get("a", lambda: Net("a")))
    slot.clear()
    gc.collect()

    assert slot.key is None and ref() is None


def test_concurrent_gets_load_once():
    slot = ModelSlot()
    loads = []
    started = threading.Barrier(4)

    def load():
        loads.append(1)
        return Net("a")

    def worker():
        started.wait()
        slot.get("a", load)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(loads) == 1


def test_switching_empties_the_cuda_cache_when_there_is_one(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    slot = ModelSlot()
    slot.get("a", lambda: Net("a"))
    slot.get("b", lambda: Net("b"))

    assert len(emptied) == 2


def test_pick_device_order(monkeypatch):
    mps = torch.backends.mps
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(mps, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device(None) == torch.device("cpu")
    assert pick_device("CPU") == torch.device("cpu")


def test_pick_device_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    with pytest.raises(EngineError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(EngineError, match="MPS was requested"):
        pick_device("mps")
    with pytest.raises(EngineError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_reduced_precision_defaults_to_float32_on_the_cpu():
    import contextlib

    import torch

    from engines.device import cpu_has_native_bf16, reduced_precision

    cpu = torch.device("cpu")
    assert isinstance(reduced_precision(cpu, None, True), contextlib.nullcontext)
    assert isinstance(reduced_precision(cpu, True, False), contextlib.nullcontext)
    asked = reduced_precision(cpu, True, True)
    if cpu_has_native_bf16():
        with asked:
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16
            assert torch.is_autocast_enabled("cpu")
    else:
        assert isinstance(asked, contextlib.nullcontext)


# --- checkpoint identity in the slot keys ---------------------------------------------------


def write(path, data: bytes, time_ns: int | None = None) -> None:
    path.write_bytes(data)
    if time_ns is not None:
        os.utime(path, ns=(time_ns, time_ns))


def after_tick(folder, time_ns: int) -> None:
    """Return once the filesystem's clock (coarse: one kernel tick) has passed ``time_ns``:
    two writes within one tick get the same timestamps (see checkpoint_identity)."""
    probe = folder / "tick"
    while True:
        probe.touch()
        now = probe.stat().st_ctime_ns
        probe.unlink()
        if now != time_ns:
            return


def test_an_unchanged_checkpoint_keeps_its_identity_and_reading_it_changes_nothing(tmp_path):
    path = tmp_path / "net.pth"
    write(path, b"A" * 64)
    identity = checkpoint_identity(path)
    assert path.read_bytes() == b"A" * 64
    assert checkpoint_identity(path) == identity == checkpoint_identity(str(path))
    assert identity[0] == str(path.resolve())


def test_an_atomic_replacement_of_the_same_size_and_time_changes_the_identity(tmp_path):
    path, temporary = tmp_path / "net.pth", tmp_path / "net.pth.part"
    write(path, b"A" * 64, 1_700_000_000_000_000_000)
    identity = checkpoint_identity(path)
    write(temporary, b"B" * 64, 1_700_000_000_000_000_000)
    os.replace(temporary, path)  # as the import and train semantic install a file
    assert path.stat().st_mtime_ns == 1_700_000_000_000_000_000
    assert checkpoint_identity(path) != identity  # another inode


def test_an_in_place_rewrite_with_size_and_time_put_back_changes_the_identity(tmp_path):
    path = tmp_path / "net.pth"
    write(path, b"A" * 64)
    before = path.stat()
    identity = checkpoint_identity(path)
    after_tick(tmp_path, before.st_ctime_ns)
    write(path, b"B" * 64, before.st_mtime_ns)  # same inode, size and modification time
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)
    assert checkpoint_identity(path) != identity  # the status-change time moved on


def test_a_retargeted_link_or_a_missing_file_changes_the_identity(tmp_path):
    first, second, link = tmp_path / "a.pth", tmp_path / "b.pth", tmp_path / "net.pth"
    write(first, b"A")
    write(second, b"B")
    link.symlink_to(first)
    identity = checkpoint_identity(link)
    assert identity == checkpoint_identity(first)  # the file the link points to
    link.unlink()
    link.symlink_to(second)
    assert checkpoint_identity(link) not in (identity, checkpoint_identity(tmp_path / "x"))
    missing = tmp_path / "x"
    assert checkpoint_identity(missing) == (str(missing.resolve()), None)  # no error:
    # the load that follows says what is wrong


def test_a_folders_identity_covers_every_file_in_it(tmp_path):
    folder = tmp_path / "big-lama"
    (folder / "models").mkdir(parents=True)
    write(folder / "config.yaml", b"generator: {}")
    write(folder / "models" / "best.ckpt", b"A" * 64)
    identity = checkpoint_identity(folder)
    assert checkpoint_identity(folder) == identity
    write(tmp_path / "best.ckpt", b"B" * 64)
    os.replace(tmp_path / "best.ckpt", folder / "models" / "best.ckpt")
    assert checkpoint_identity(folder) != identity


def test_slot_keys_name_the_owner_first_and_every_checkpoint(tmp_path):
    first, second = tmp_path / "edge.pth", tmp_path / "inpaint.pth"
    write(first, b"A")
    write(second, b"B")
    key = slot_key("EdgeConnectEngine", [first, second], torch.device("cpu"))
    assert key == ("EdgeConnectEngine", *checkpoint_identity(first),
                   *checkpoint_identity(second), "cpu")
    assert str(first.resolve()) in key
    slot = ModelSlot()
    held = slot.get(key, lambda: Net("a"))
    assert slot.get(slot_key("EdgeConnectEngine", [first, second], "cpu"),
                    lambda: pytest.fail("an unchanged file must not load again")) is held
    write(tmp_path / "new", b"C")
    os.replace(tmp_path / "new", second)  # one of the two files replaced
    assert slot.get(slot_key("EdgeConnectEngine", [first, second], "cpu"),
                    lambda: Net("b")).name == "b"
