"""The checkpoint catalogue and cache: location, state, safe loading, import, verification,
and the ``models`` command line."""

from __future__ import annotations

import hashlib
import pickle
import re
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from engines import download, weights
from engines.weights import InstallState, WeightSpec


def state_dict_file(folder: Path, name: str = "net.pth", seed: int = 0) -> Path:
    path = folder / name
    generator = torch.Generator().manual_seed(seed)
    torch.save({"conv.weight": torch.rand(4, 3, 3, 3, generator=generator),
                "conv.bias": torch.zeros(4)}, path)
    return path


def first_member_data(path: Path) -> int:
    """Where the first member's bytes begin in the zip ``path`` (after its local header)."""
    with zipfile.ZipFile(path) as archive:
        first = min(archive.infolist(), key=lambda info: info.header_offset)
    with open(path, "rb") as handle:
        handle.seek(first.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", handle.read(4))
    return first.header_offset + 30 + name_length + extra_length


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_unpickled = []


def _record_unpickling():
    _unpickled.append("ran")
    return "payload"


class Payload:
    """Unpickling this calls a function: what a malicious checkpoint would do."""

    def __reduce__(self):
        return _record_unpickling, ()


# --- cache location -----------------------------------------------------------------------


def test_cache_dir_follows_the_environment_variable(make_spec, tmp_path, monkeypatch):
    spec = make_spec()
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "elsewhere"))

    assert weights.cache_dir() == tmp_path / "elsewhere"
    assert weights.local_path(spec.id) == tmp_path / "elsewhere" / spec.id / "net.pth"
    assert weights.partial_path(spec.id) == tmp_path / "elsewhere" / spec.id / "net.pth.part"


def test_cache_dir_defaults_to_the_user_cache(monkeypatch):
    from platformdirs import user_cache_dir

    monkeypatch.delenv(weights.CACHE_ENV, raising=False)

    assert weights.cache_dir() == Path(user_cache_dir("inpaint-studio", appauthor=False),
                                       "models")


def test_unknown_id_suggests_the_closest(make_spec):
    spec = make_spec(id="test-lama-like")

    with pytest.raises(weights.UnknownWeightsError, match="Did you mean 'test-lama-like'"):
        weights.get_spec(spec.id + "x")


def test_an_engine_name_given_as_a_checkpoint_names_the_engines_checkpoints():
    """QA audit 31, F7: `models import migan-256 FILE` (the name `engines` lists) named the
    face model, the closest id, not the engine's own."""
    with pytest.raises(weights.UnknownWeightsError) as unknown:
        weights.get_spec("migan-256")
    assert str(unknown.value).startswith(
        "unknown model 'migan-256'. 'migan-256' is an engine; its checkpoints: "
        "migan-256-places2. Known: ")
    with pytest.raises(weights.UnknownWeightsError, match="'lama' is an engine; its "
                                                          "checkpoints: lama-big, "
                                                          r"lama-big-torchscript\. Known"):
        weights.get_spec("lama")


def test_register_spec_refuses_a_different_spec_under_the_same_id(make_spec):
    spec = make_spec()

    assert weights.register_spec(spec) is spec
    with pytest.raises(ValueError, match="already registered"):
        weights.register_spec(WeightSpec(spec.id, "other", "Other", "other.pth"))


# --- require and state --------------------------------------------------------------------


def test_require_names_the_command_to_run(make_spec):
    downloadable = make_spec(urls=("https://example.invalid/net.pth",))
    manual = make_spec(manual="ask the authors for states.pth")

    with pytest.raises(weights.WeightsMissingError,
                       match=f"python main.py models download {downloadable.id}"):
        weights.require(downloadable.id)
    with pytest.raises(weights.WeightsMissingError,
                       match=f"ask the authors.*python main.py models import {manual.id} FILE"):
        weights.require(manual.id)


def test_installation_states_and_remove(make_spec, tmp_path):
    source = state_dict_file(tmp_path)
    size = source.stat().st_size
    spec = make_spec(urls=("https://example.invalid/net.pth",), size=size)
    manual = make_spec()
    assert weights.installation(spec.id).state is InstallState.MISSING
    assert weights.installation(spec.id).label == "needs download"
    assert weights.installation(manual.id).state is InstallState.MANUAL

    part = weights.partial_path(spec.id)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    partial = weights.installation(spec.id)
    assert (partial.state, partial.partial_bytes) == (InstallState.PARTIAL, 1000)
    assert partial.label == f"partial: 1.0 kB of {weights.format_size(size)}"

    download.import_file(spec.id, source)
    installed = weights.installation(spec.id)
    assert installed.state is InstallState.INSTALLED
    assert installed.size == size
    assert not part.exists()  # importing supersedes the partial download
    assert weights.missing([spec.id, manual.id]) == [manual.id]

    assert weights.remove(spec.id) > size  # the file and its manifest
    assert weights.installation(spec.id).state is InstallState.MISSING
    assert not weights.local_path(spec.id).parent.exists()


def test_remove_reports_the_bytes_freed(make_spec, tmp_path):
    spec = make_spec()
    download.import_file(spec.id, state_dict_file(tmp_path))
    expected = sum(p.stat().st_size for p in weights.local_path(spec.id).parent.iterdir())

    assert weights.remove(spec.id) == expected
    assert weights.remove(spec.id) == 0


@pytest.mark.parametrize(("size", "text"), [(None, "?"), (512, "512 B"), (4_000, "4.0 kB"),
                                            (16_300_000, "16 MB"), (204_000_000, "204 MB"),
                                            (1_234_000_000, "1.2 GB")])
def test_format_size(size, text):
    assert weights.format_size(size) == text


# --- safe loading -------------------------------------------------------------------------


def test_load_checkpoint_reads_a_state_dict(tmp_path):
    path = state_dict_file(tmp_path)

    loaded = weights.load_checkpoint(path)

    assert set(loaded) == {"conv.weight", "conv.bias"}
    assert loaded["conv.weight"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize("legacy", [False, True])
def test_load_checkpoint_refuses_pickled_code(tmp_path, legacy):
    path = tmp_path / "evil.pth"
    torch.save({"state": torch.zeros(2), "extra": Payload()}, path,
               _use_new_zipfile_serialization=not legacy)
    _unpickled.clear()

    with pytest.raises(weights.WeightsCorruptError, match=r"evil\.pth is not a readable"):
        weights.load_checkpoint(path)
    assert _unpickled == []  # the payload never ran
    assert pickle.loads(pickle.dumps(Payload())) == "payload" and _unpickled == ["ran"]


def test_load_checkpoint_errors_for_missing_and_garbage_files(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint")

    with pytest.raises(weights.WeightsMissingError):
        weights.load_checkpoint(tmp_path / "absent.pth")
    with pytest.raises(weights.WeightsCorruptError):
        weights.load_checkpoint(garbage)


# --- format checks ------------------------------------------------------------------------


def test_check_format_tells_the_kinds_apart(tmp_path):
    state_dict = state_dict_file(tmp_path)
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    scripted = tmp_path / "scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still shipped
        torch.jit.save(torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2)), scripted)
    page = tmp_path / "page.pth"
    page.write_text("\n  <!DOCTYPE html><html><body>Quota exceeded</body></html>")
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    safetensors = tmp_path / "net.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(safetensors))

    for path in (state_dict, legacy):
        weights.check_format(path, "state_dict")
    weights.check_format(scripted, "torchscript")
    weights.check_format(safetensors, "safetensors")
    cases = [(page, "state_dict", "web page"), (scripted, "state_dict", "TorchScript model"),
             (state_dict, "torchscript", "not a TorchScript"), (plain_zip, "lightning", "zip"),
             (state_dict, "safetensors", "not a safetensors")]
    for path, format, message in cases:
        with pytest.raises(weights.WrongFileError, match=message):
            weights.check_format(path, format)


def test_check_format_says_a_zip_checkpoint_was_cut_short(tmp_path):
    whole = state_dict_file(tmp_path).read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole[:len(whole) * 2 // 3])

    for format in ("state_dict", "torchscript"):
        with pytest.raises(weights.WrongFileError,
                           match=r"cut\.pth is a zip archive cut short \(.* kB\)") as error:
            weights.check_format(cut, format)
        assert "not a PyTorch checkpoint" not in str(error.value)


def test_a_check_reads_a_zip_directory_once_per_version_of_the_file(tmp_path, monkeypatch):
    path = state_dict_file(tmp_path)
    opened = []
    real = zipfile.ZipFile

    class Counting(real):
        def __init__(self, file, *args, **kwargs):
            opened.append(file)
            super().__init__(file, *args, **kwargs)

    monkeypatch.setattr(weights.zipfile, "ZipFile", Counting)
    weights.check_format(path, "state_dict")  # cut short? which format? one directory read
    assert weights._damage_reason(path, "state_dict", None) is None
    assert len(opened) == 1
    path.write_bytes(b"not a zip any more")  # replaced: read again, and it shows
    with pytest.raises(weights.WrongFileError, match="not a PyTorch checkpoint"):
        weights.check_format(path, "state_dict")
    assert len(opened) == 2


def flip_a_tensor_byte(path: Path) -> None:
    """Change one byte inside a tensor's data in a ``torch.save`` zip, keeping its size and
    its directory: what splicing two downloads of different files leaves."""
    with zipfile.ZipFile(path) as archive:
        info = next(info for info in archive.infolist() if "/data/" in info.filename)
    data = bytearray(path.read_bytes())
    name_length, extra_length = int.from_bytes(data[info.header_offset + 26:
                                                    info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    data[start + 5] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_download_without_a_digest_must_match_its_zip_crcs(make_spec, tmp_path):
    source = state_dict_file(tmp_path)
    spec = make_spec(size=source.stat().st_size)
    weights.check_download(spec, source)  # sound
    flip_a_tensor_byte(source)
    weights.check_format(source, "state_dict")  # the cheap check cannot see it

    with pytest.raises(weights.WrongFileError, match=r"net\.pth is damaged \(Bad CRC-32"):
        weights.check_download(spec, source)
    with pytest.raises(weights.WrongFileError, match="Bad CRC-32"):
        download.import_file(spec.id, source)
    assert not weights.local_path(spec.id).exists()


# --- import -------------------------------------------------------------------------------


def test_import_checks_the_pinned_hash(make_spec, tmp_path):
    source = state_dict_file(tmp_path)
    good = make_spec(sha256=sha256(source))
    bad = make_spec(sha256="0" * 64)

    path = download.import_file(good.id, source)

    assert path.read_bytes() == source.read_bytes() and source.exists()
    assert weights.read_manifest(good.id)["checked"] == "sha256"
    with pytest.raises(weights.HashMismatchError, match="expected 000000000000"):
        download.import_file(bad.id, source)
    assert source.exists() and not weights.is_present(bad.id)


def test_import_rejects_a_web_page_and_a_missing_file(make_spec, tmp_path):
    spec = make_spec()
    page = tmp_path / "download.pth"
    page.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")

    with pytest.raises(weights.WrongFileError, match="web page"):
        download.import_file(spec.id, page)
    with pytest.raises(FileNotFoundError):
        download.import_file(spec.id, tmp_path / "absent.pth")
    assert not weights.is_present(spec.id)


def _refusing(expected_name: str):
    """A ``check_contents`` that refuses every file, recording the names it saw."""
    seen = []

    def check(path):
        seen.append(path)
        raise weights.WeightsCorruptError(f"{expected_name}: no generator inside")

    return check, seen


def test_a_file_whose_contents_do_not_fit_is_refused_and_leaves_no_trace(make_spec, tmp_path):
    check, seen = _refusing("net.pth")
    spec = make_spec(check_contents=check)
    source = state_dict_file(tmp_path)
    content = source.read_bytes()

    with pytest.raises(weights.WeightsCorruptError, match="no generator inside"):
        download.import_file(spec.id, source, move=True)

    assert seen == [source] and source.read_bytes() == content  # checked, not moved
    assert not weights.is_present(spec.id)
    assert not weights.local_path(spec.id).parent.exists()  # no empty folder in the cache
    with pytest.raises(weights.WeightsCorruptError, match="no generator inside"):
        weights.check_download(spec, source)  # downloads are checked the same way


def test_the_contents_of_a_zip_member_are_checked_before_it_is_installed(make_spec, tmp_path):
    member = state_dict_file(tmp_path, "best.ckpt")
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(member, "model/best.ckpt")
    check, seen = _refusing("best.ckpt")
    spec = make_spec(filename="best.ckpt", archive_member="model/best.ckpt",
                     check_contents=check)

    for source in (archive, member):
        with pytest.raises(weights.WeightsCorruptError, match="no generator inside"):
            download.import_file(spec.id, source)
    assert len(seen) == 2 and not weights.is_present(spec.id)
    assert not weights.local_path(spec.id).parent.exists()


def test_import_with_move(make_spec, tmp_path):
    spec = make_spec()
    source = state_dict_file(tmp_path)
    content = source.read_bytes()

    assert download.import_file(spec.id, source, move=True).read_bytes() == content
    assert not source.exists()


def test_import_of_a_zip_or_of_its_member(make_spec, tmp_path):
    member = state_dict_file(tmp_path, "best.ckpt", seed=5)
    archive = tmp_path / "big-lama.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(member, "big-lama/models/best.ckpt")
        zipped.writestr("big-lama/config.yaml", "x: 1\n")
    from_zip = make_spec(filename="best.ckpt", archive_member="big-lama/models/best.ckpt",
                         sha256=sha256(archive), format="lightning")
    from_member = make_spec(filename="best.ckpt", archive_member="big-lama/models/best.ckpt",
                            sha256=sha256(archive), format="lightning")

    assert download.import_file(from_zip.id, archive).read_bytes() == member.read_bytes()
    assert download.import_file(from_member.id, member).read_bytes() == member.read_bytes()
    assert archive.exists() and member.exists()
    assert weights.read_manifest(from_member.id)["sha256"] == sha256(member)


def test_importing_a_zip_installs_its_siblings_for_the_same_engine(make_spec, tmp_path):
    edge = state_dict_file(tmp_path, "EdgeModel_gen.pth", seed=1)
    inpaint = state_dict_file(tmp_path, "InpaintingModel_gen.pth", seed=2)
    archive = tmp_path / "checkpoints.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(edge, "places2/EdgeModel_gen.pth")
        zipped.write(inpaint, "places2/InpaintingModel_gen.pth")
    common = {"urls": ("https://example.invalid/checkpoints.zip",), "engine": "ec-test"}
    edge_spec = make_spec(filename=edge.name, archive_member="places2/EdgeModel_gen.pth",
                          **common)
    inpaint_spec = make_spec(filename=inpaint.name,
                             archive_member="places2/InpaintingModel_gen.pth", **common)

    download.import_file(edge_spec.id, archive, move=True)

    assert weights.local_path(inpaint_spec.id).read_bytes() == inpaint.read_bytes()
    assert weights.local_path(edge_spec.id).read_bytes() == edge.read_bytes()
    assert not archive.exists()


def zip_of(path: Path, members: list[str]) -> Path:
    """A zip at ``path`` holding a small ``torch.save`` file under each of ``members`` (a
    folder entry for a name ending in ``/``)."""
    member = state_dict_file(path.parent, f"{path.stem}-member.pth")
    with zipfile.ZipFile(path, "w") as archive:
        for name in members:
            if name.endswith("/"):
                archive.writestr(name, b"")
            else:
                archive.write(member, name)
    return path


def test_a_zip_of_other_datasets_says_which_it_holds_and_which_was_expected(model_cache,
                                                                           tmp_path):
    """EdgeConnect's checkpoints come as one folder per dataset: importing a zip of the
    CelebA and Paris StreetView folders as the Places2 generator names both sides."""
    archive = zip_of(tmp_path / "places2.zip", [
        f"{dataset}/{name}" for dataset in ("celeba", "psv")
        for name in ("EdgeModel_gen.pth", "InpaintingModel_gen.pth")])

    with pytest.raises(weights.WrongFileError) as refused:
        download.import_file("edgeconnect-places2-edge", archive)

    assert str(refused.value) == ("places2.zip holds celeba/ and psv/ but not places2/: no "
                                  "places2/EdgeModel_gen.pth, the EdgeConnect Places2 edge "
                                  "generator checkpoint (edgeconnect-places2-edge)")
    assert not weights.local_path("edgeconnect-places2-edge").parent.exists()
    assert not weights.local_path("edgeconnect-places2-inpaint").parent.exists()


def test_a_zip_without_its_member_names_what_it_holds(make_spec, tmp_path):
    spec = make_spec(title="LaMa", filename="best.ckpt", format="lightning",
                     archive_member="big-lama/models/best.ckpt")
    cases = {
        # another model of the same layout: the folders differ, the rest is the same
        ("lama-fourier.zip", ("lama-fourier/config.yaml", "lama-fourier/models/best.ckpt")):
            "lama-fourier.zip holds lama-fourier/ but not big-lama/: no "
            f"big-lama/models/best.ckpt, the LaMa checkpoint ({spec.id})",
        ("flat.zip", ("best.ckpt",)):
            "flat.zip holds best.ckpt at its top level but not big-lama/models/: no "
            f"big-lama/models/best.ckpt, the LaMa checkpoint ({spec.id})",
        # nothing of that name: the listing goes inside the one folder everything is in
        ("other.zip", ("wrap/", "wrap/a.pth", "wrap/b/c.pth")):
            "other.zip holds wrap/a.pth and wrap/b/ but has no 'big-lama/models/best.ckpt', "
            f"the LaMa checkpoint ({spec.id})",
        ("twice.zip", ("a/big-lama/models/best.ckpt", "b/big-lama/models/best.ckpt")):
            "twice.zip holds 'big-lama/models/best.ckpt' more than once "
            "(a/big-lama/models/best.ckpt and b/big-lama/models/best.ckpt): cannot tell which "
            f"is the LaMa checkpoint ({spec.id})",
    }
    for (name, members), message in cases.items():
        archive = zip_of(tmp_path / name, list(members))
        for check in (weights.check_download, weights.check_unpinned_file):
            with pytest.raises(weights.WrongFileError) as refused:
                check(spec, archive)
            assert str(refused.value) == message
        with pytest.raises(weights.WrongFileError, match=re.escape(message)):
            download.import_file(spec.id, archive)
    assert not weights.local_path(spec.id).parent.exists()


def test_a_zip_imported_as_a_plain_checkpoint_lists_what_it_holds(tmp_path):
    many = zip_of(tmp_path / "many.zip", [f"checkpoints/{n}/net.pth" for n in "abcdef"])

    with pytest.raises(weights.WrongFileError) as refused:
        weights.check_format(many, "state_dict")

    assert str(refused.value) == ("many.zip is a zip archive holding checkpoints/a/, "
                                  "checkpoints/b/, checkpoints/c/, checkpoints/d/ and 2 more, "
                                  "not a PyTorch checkpoint")


# --- verify -------------------------------------------------------------------------------


def test_verify_detects_a_damaged_install(make_spec, tmp_path):
    source = state_dict_file(tmp_path)
    spec = make_spec(size=source.stat().st_size)  # no pinned hash: the manifest's sha256 counts
    path = download.import_file(spec.id, source)

    assert "sha256" in weights.verify(spec.id, deep=True)
    data = bytearray(path.read_bytes())
    data[first_member_data(path) + 4] ^= 0xFF  # inside the pickle: the zip stays readable
    path.write_bytes(bytes(data))
    with pytest.raises(weights.HashMismatchError, match=f"models remove {spec.id}"):
        weights.verify(spec.id)


def test_a_zip_damaged_at_its_end_but_of_full_size_is_not_called_cut_short(make_spec,
                                                                             tmp_path):
    """A byte changed in the directory at a zip's end: the file has the size it was
    installed with, so it lost nothing; it is said to be damaged at its end though of full
    size, no cause guessed (QA39 F6: not "so it was changed in place": an end never
    written, as a preallocated copy leaves it, reads the same)."""
    source = state_dict_file(tmp_path)
    spec = make_spec(size=source.stat().st_size)
    path = download.import_file(spec.id, source)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")  # the end-of-directory record's signature
    data[end] ^= 0xFF
    path.write_bytes(bytes(data))
    reason = weights.damage(spec.id)
    size = weights.format_size(len(data))
    assert reason == (f"it is a zip archive damaged at its end (its directory), though of its "
                      f"full size ({size})")
    assert "cut short" not in reason and "changed in place" not in reason
    path.write_bytes(bytes(data[:-200]))  # now also cut short
    assert "cut short" in weights.damage(spec.id)


def test_verify_without_manifest_checks_size_and_format(make_spec, tmp_path):
    source = state_dict_file(tmp_path)
    spec = make_spec(size=source.stat().st_size)
    target = weights.local_path(spec.id)
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())  # placed by hand

    assert "size" in weights.verify(spec.id)
    target.write_text("<html><body>oops</body></html>")
    with pytest.raises(weights.WrongFileError):
        weights.verify(spec.id)
    with pytest.raises(weights.WeightsMissingError):
        weights.verify(make_spec().id)


# --- the models command -------------------------------------------------------------------


def test_cli_list_path_import_verify_remove(make_spec, tmp_path, capsys):
    from main import main

    source = state_dict_file(tmp_path)
    spec = make_spec(urls=("https://example.invalid/net.pth",), size=source.stat().st_size,
                     license="MIT")
    manual = make_spec(license="CC BY-NC 4.0", manual="ask the authors")

    assert main(["models", "list"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith(spec.id))
    assert "test" in row and "MIT" in row and row.endswith("needs download")
    assert next(line for line in table.splitlines()
                if line.startswith(manual.id)).endswith("manual import")
    assert str(weights.cache_dir()) in table

    assert main(["models", "path", spec.id]) == 1
    assert capsys.readouterr().out.strip() == str(weights.local_path(spec.id))
    assert main(["models", "import", spec.id, str(source)]) == 0
    assert "installed at" in capsys.readouterr().out
    assert main(["models", "path", spec.id]) == 0
    assert main(["models", "verify", spec.id]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith(spec.id)).endswith("installed")
    assert main(["models", "info", spec.id]) == 0
    assert "https://example.invalid/net.pth" in capsys.readouterr().out
    assert main(["models", "remove", spec.id]) == 0
    assert not weights.is_present(spec.id)


def test_cli_errors_are_one_line(make_spec, tmp_path, capsys):
    from main import main

    spec = make_spec(sha256="0" * 64)
    source = state_dict_file(tmp_path)

    assert main(["models", "import", spec.id, str(source)]) == 2
    assert main(["models", "import", spec.id, str(tmp_path / "absent.pth")]) == 2
    assert main(["models", "download", "no-such-model"]) == 2
    assert main(["models", "verify", spec.id, "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 5
    assert "sha256" in lines[0] and "absent.pth" in lines[1] and "unknown model" in lines[2]


class _Trap:
    """Pickles into a call that would create a file if it ever ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_lightning_checkpoints_load_tensors_and_neutralise_training_objects(tmp_path):
    import torch

    trap = tmp_path / "pwned"
    checkpoint = {"state_dict": {"generator.w": torch.arange(6.0).reshape(2, 3)},
                  "hyper_parameters": _Trap(trap), "epoch": 3}
    path = tmp_path / "best.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(weights.WeightsCorruptError):
        weights.load_checkpoint(path, "state_dict")  # plain formats stay strict
    loaded = weights.load_checkpoint(path, "lightning")
    assert torch.equal(loaded["state_dict"]["generator.w"], torch.arange(6.0).reshape(2, 3))
    assert loaded["epoch"] == 3
    assert not trap.exists()  # the pickled call never ran


# --- a file in the cache slot that is clearly not the checkpoint ---------------------------

URL = "https://example.invalid/net.pth"


def commands(spec: WeightSpec) -> str:
    return (f"run `python main.py models remove {spec.id}`, then `python main.py models "
            f"download {spec.id}` (or `python main.py models import {spec.id} FILE` with a "
            "copy you have)")


def placed(spec: WeightSpec, content: bytes) -> Path:
    """Put ``content`` in ``spec``'s cache slot by hand (no manifest)."""
    path = weights.local_path(spec.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_an_error_page_in_the_slot_is_damaged_not_installed(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), size=state_dict_file(tmp_path).stat().st_size)
    placed(spec, b"<html>Quota exceeded</html>")  # 24 bytes saved by a browser, say

    entry = weights.installation(spec.id)
    assert entry.state is InstallState.DAMAGED and entry.size == 27
    assert entry.problem.startswith("it is a web page, not a checkpoint")
    assert entry.label == f"damaged: {entry.problem}; {commands(spec)}"
    assert not weights.is_present(spec.id) and weights.missing([spec.id]) == [spec.id]


@pytest.mark.parametrize("case", ["empty", "far from the spec's size", "not a pickle",
                                  "another size than installed"])
def test_damage_uses_the_cheap_checks_of_verify(make_spec, tmp_path, case):
    source = state_dict_file(tmp_path)
    size = source.stat().st_size
    spec = make_spec(urls=(URL,), size=size)
    if case == "another size than installed":
        path = download.import_file(spec.id, source)
        path.write_bytes(path.read_bytes() + b"\0" * 100)  # within the spec's tolerance
    else:
        big = tmp_path / "big.pth"
        torch.save({"conv.weight": torch.zeros(4, 3, 9, 9)}, big)  # another, larger network
        path = placed(spec, {"empty": b"", "not a pickle": b"\0" * size,
                             "far from the spec's size": big.read_bytes()}[case])
    now = weights.format_size(path.stat().st_size)
    expected = {"empty": "it is an empty file",
                "far from the spec's size": f"it is {now}, but the Test net checkpoint is about "
                                            f"{weights.format_size(size)}: not the right file",
                "not a pickle": "it is not a PyTorch checkpoint",
                "another size than installed": f"it is {now}, but was "
                                               f"{weights.format_size(size)} when installed"}
    assert weights.damage(spec.id) == expected[case]
    assert weights.installation(spec.id).state is InstallState.DAMAGED
    assert not weights.is_present(spec.id)


def test_a_sound_file_is_installed_and_checked_cheaply(make_spec, tmp_path, monkeypatch):
    """is_present reads a header and a stat: no hashing, no loading, no contents check."""
    source = state_dict_file(tmp_path)
    opened = []
    spec = make_spec(urls=(URL,), size=source.stat().st_size,
                     check_contents=lambda path: opened.append(path))
    download.import_file(spec.id, source)
    opened.clear()
    placed_by_hand = make_spec(urls=(URL,), size=source.stat().st_size)
    placed(placed_by_hand, source.read_bytes())

    def forbidden(*args, **kwargs):
        raise AssertionError("is_present must stay cheap")

    monkeypatch.setattr(weights, "file_digests", forbidden)
    monkeypatch.setattr(weights, "load_checkpoint", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    for checked in (spec, placed_by_hand):
        assert weights.damage(checked.id) is None and weights.is_present(checked.id)
        assert weights.installation(checked.id).state is InstallState.INSTALLED
    assert opened == []
    assert weights.damage(make_spec().id) is None  # nothing installed: nothing damaged


def test_models_list_says_damaged_with_the_commands(make_spec, tmp_path, capsys):
    from main import main

    spec = make_spec(urls=(URL,), size=300_000, license="MIT")
    placed(spec, b"<!DOCTYPE html><html><body>Not Found</body></html>")

    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith(spec.id))
    assert row.endswith(f"damaged: it is a web page, not a checkpoint (a download page or an "
                        f"error message was saved instead of the file); {commands(spec)}")


def test_models_download_replaces_a_damaged_file_instead_of_calling_it_installed(
        make_spec, capsys):
    from main import main

    spec = make_spec(urls=("http://127.0.0.1:9/net.pth",), size=300_000)  # nothing listens
    placed(spec, b"<html>error</html>")

    assert main(["models", "download", spec.id, "-q"]) == 2
    captured = capsys.readouterr()
    assert "already installed" not in captured.out and "installed at" not in captured.out
    assert f"{spec.id}: the installed file is damaged (it is a web page" in captured.err
    assert "127.0.0.1" in captured.err  # it tried to download it again

    manual = make_spec(manual="ask the authors")
    path = placed(manual, b"")
    assert main(["models", "download", manual.id]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {path.absolute()} is damaged: it is an empty file; run `python main.py models "
        f"remove {manual.id}`, then ask the authors, then import it with `python main.py "
        f"models import {manual.id} FILE`")  # getting the file installs nothing by itself


def test_a_neural_engine_with_a_damaged_checkpoint_is_not_ready(model_cache):
    from engines import registry
    from engines.base import Readiness

    spec = weights.get_spec("deepfill1-imagenet")
    path = placed(spec, b"<html><body>Too many users have viewed this file</body></html>")
    status = registry.create("deepfill1").status()
    assert status.readiness is Readiness.NEEDS_DOWNLOAD
    assert status.detail == (f"{path.absolute()} is damaged: it is a web page, not a checkpoint "
                             "(a download page or an error message was saved instead of the "
                             f"file); {commands(spec)}")
    assert registry.create("deepfill1", weights_path=str(path)).status().ready  # as asked


# --- a readable checkpoint of another network ---------------------------------------------


def test_a_mismatch_in_an_installed_slot_names_the_path_and_the_commands(make_spec, tmp_path):
    spec = make_spec(urls=(URL,), title="Test net")
    path = download.import_file(spec.id, state_dict_file(tmp_path))
    error = weights.mismatch_error(path, "the test generator", "missing: conv2.weight")
    assert isinstance(error, weights.WeightsCorruptError)
    assert str(error) == (f"{path.absolute()} does not fit the test generator (missing: "
                          f"conv2.weight): it is not the Test net checkpoint; {commands(spec)}")
    manual = make_spec(manual="train one with `python main.py train it`")
    path = placed(manual, state_dict_file(tmp_path).read_bytes())
    assert str(weights.mismatch_error(path, "the test generator", "x")).endswith(
        f"; run `python main.py models remove {manual.id}`, then train one with `python main.py "
        f"train it` (or import one you have with `python main.py models import {manual.id} "
        "FILE`)")


def test_a_mismatch_outside_the_cache_gets_no_commands(tmp_path):
    path = state_dict_file(tmp_path)  # a weights_path option, or a file being imported
    message = str(weights.mismatch_error(path, "the test generator", "unexpected: b"))
    assert message == f"{path.absolute()} does not fit the test generator (unexpected: b)"
