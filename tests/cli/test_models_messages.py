"""`models remove`, `models verify`, `engines` and `models download` on damaged or
undownloadable checkpoints: one state word (damaged), the file's path and the commands that
replace it, no repeated advice, and what a failed download leaves in the cache."""

from __future__ import annotations

import pytest
import torch

import main
from engines import download, weights
from tests.engines.test_download import Route, server  # noqa: F401 - the fixture
from tests.engines.test_weights import first_member_data, state_dict_file

URL = "https://example.invalid/net.pth"  # never fetched: these tests download nothing


def _commands(spec_id: str) -> str:
    return (f"run `python main.py models remove {spec_id}`, then `python main.py models "
            f"download {spec_id}` (or `python main.py models import {spec_id} FILE` with a copy "
            "you have)")


def _place(spec, data: bytes):
    path = weights.local_path(spec.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _list_state(spec_id: str, capsys) -> str:
    assert main.main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith(spec_id + " "))
    return row[row.index("  damaged: ") + 2:] if "  damaged: " in row else row


# --- models remove ------------------------------------------------------------------------


def test_removing_an_empty_damaged_file_says_it_removed_it(make_spec, capsys):
    spec = make_spec(urls=(URL,), size=5000)
    path = _place(spec, b"")
    assert main.main(["models", "remove", spec.id]) == 0
    assert capsys.readouterr().out == (f"{spec.id}: removed the damaged file net.pth (it is an "
                                       f"empty file); 0 B freed in {path.parent}\n")
    assert not path.exists()
    assert main.main(["models", "remove", spec.id]) == 0  # now there is nothing
    assert capsys.readouterr().out == f"{spec.id}: nothing installed\n"


def test_removing_an_installed_file_says_how_much_it_freed(make_spec, tmp_path, capsys):
    source = state_dict_file(tmp_path)
    spec = make_spec(urls=(URL,), size=source.stat().st_size)
    path = download.import_file(spec.id, source)
    freed = path.stat().st_size + weights.manifest_path(spec.id).stat().st_size
    assert main.main(["models", "remove", spec.id]) == 0
    assert capsys.readouterr().out == (f"{spec.id}: removed {weights.format_size(freed)} from "
                                       f"{path.parent}\n")
    assert not path.exists()


# --- models verify: the path, the reason, the commands -----------------------------------


@pytest.mark.parametrize("case", ["empty", "web page", "far from the size", "not a pickle"])
def test_verify_says_what_models_list_says_with_the_path(make_spec, tmp_path, capsys, case):
    source = state_dict_file(tmp_path)
    size = source.stat().st_size
    spec = make_spec(urls=(URL,), size=size)
    big = tmp_path / "big.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 9, 9)}, big)
    path = _place(spec, {"empty": b"", "web page": b"<html><body>404</body></html>",
                         "far from the size": big.read_bytes(), "not a pickle": b"\0" * size}[case])
    listed = _list_state(spec.id, capsys)
    assert listed.startswith("damaged: ") and listed.endswith(_commands(spec.id))
    assert main.main(["models", "verify", spec.id]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == f"error: {path.absolute()} is damaged: {listed[9:]}\n"


@pytest.mark.parametrize("pinned", [False, True])
def test_verify_of_a_changed_file_gives_its_path_and_the_commands(make_spec, tmp_path, capsys,
                                                                  pinned):
    import hashlib

    source = state_dict_file(tmp_path)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    spec = make_spec(urls=(URL,), size=source.stat().st_size,
                     sha256=digest if pinned else None)
    path = download.import_file(spec.id, source)
    data = bytearray(path.read_bytes())
    data[first_member_data(path) + 4] ^= 0xFF  # the same size: only the digest tells
    path.write_bytes(bytes(data))
    changed = hashlib.sha256(bytes(data)).hexdigest()
    assert main.main(["models", "verify", spec.id]) == 2
    source_of = "published" if pinned else "recorded when it was installed"
    assert capsys.readouterr().err == (
        f"error: {path.absolute()} is damaged: it has sha256 {changed[:12]}…, not the "
        f"{digest[:12]}… {source_of}; {_commands(spec.id)}\n")


def test_verify_deep_of_a_file_its_network_refuses_gives_the_commands(make_spec, tmp_path,
                                                                      capsys):
    def refuse(path):
        raise RuntimeError("size mismatch for conv.weight")

    source = state_dict_file(tmp_path)
    spec = make_spec(urls=(URL,), size=source.stat().st_size,
                     check_contents=weights.network_check(lambda path, device: refuse(path)))
    path = _place(spec, source.read_bytes())
    assert main.main(["models", "verify", spec.id]) == 0  # the cheap checks pass
    capsys.readouterr()
    assert main.main(["models", "verify", spec.id, "--deep"]) == 2
    assert capsys.readouterr().err == (
        f"error: {path.absolute()} is damaged: it does not load into its network (size "
        f"mismatch for conv.weight); {_commands(spec.id)}\n")


# --- engines: the same word ---------------------------------------------------------------


def test_engines_says_damaged_as_models_list_does(model_cache, capsys):
    path = weights.local_path("lama-big")
    path.parent.mkdir(parents=True)
    path.write_text("<html><body>404</body></html>")
    assert main.main(["engines"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["lama"].split()[-1] == "damaged"
    assert rows["migan"].endswith("needs download")  # nothing of its own is damaged
    assert rows["telea"].endswith("ready")
    assert main.main(["engines", "-v"]) == 0
    verbose = capsys.readouterr().out
    assert f"    {path.absolute()} is damaged: it is a web page, not a checkpoint" in verbose
    assert _list_state("lama-big", capsys).startswith("damaged: it is a web page")


# --- models download of a model without an address ---------------------------------------


def test_migan_says_its_import_command_once(model_cache, capsys):
    assert main.main(["models", "download", "migan-512-places2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: MI-GAN 512 (Places2) has no download address: download "
                          "migan_512_places2.pt from the MI-GAN authors' Google Drive folder ")
    assert err.endswith(", then import it with `python main.py models import migan-512-places2 "
                        "FILE`\n")
    assert err.count("models import") == 1


def test_the_trained_model_says_why_then_the_by_hand_steps(model_cache, capsys):
    """Why it cannot be downloaded (trained on the user's own pictures, installed when
    training ends), then the by-hand steps in :func:`engines.weights.by_hand_steps`'s words,
    as the engines' status and the other refused downloads say them."""
    assert main.main(["models", "download", "semantic-local"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: Semantic-guided two-stage network (trained locally) has no download address: "
        "it is the model you train on your own pictures, installed when training ends; "
        "train one with `python main.py train semantic --images DIR` (or import one you have "
        "with `python main.py models import semantic-local FILE`)\n")
    assert err.endswith(f"; {weights.by_hand_steps(weights.get_spec('semantic-local'))}\n")


@pytest.mark.parametrize("manual", ["ask the authors", ""])
def test_other_manual_models_add_the_import_command(make_spec, capsys, manual):
    spec = make_spec(manual=manual)
    assert main.main(["models", "download", spec.id]) == 2
    how = f"{manual}, then import it with" if manual else "import it with"
    assert capsys.readouterr().err == (f"error: Test net has no download address: {how} "
                                       f"`python main.py models import {spec.id} FILE`\n")


# --- a failed download leaves only its lock file --------------------------------------------


def test_a_download_refused_before_its_first_byte_leaves_only_the_lock(server,  # noqa: F811
                                                                      make_spec, model_cache,
                                                                      capsys):
    server.routes["/net.pth"] = Route(status=404)
    spec = make_spec(urls=(server.url("/net.pth"),), size=5000)
    assert main.main(["models", "download", spec.id, "-q"]) == 2
    assert "404" in capsys.readouterr().err
    left = sorted(str(p.relative_to(model_cache)) for p in model_cache.rglob("*"))
    assert left == [".locks", f".locks/{spec.id}.lock"]  # as README says: the lock stays
    assert weights.lock_path(spec.id).stat().st_size == 0
