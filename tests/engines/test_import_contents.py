"""A checkpoint is loaded into its network (names and shapes of every tensor, the way its
engine unwraps the file) before it is installed: another model's file is refused and leaves
an installed checkpoint as it was. Also: a zip archive cut short whose directory
:mod:`zipfile` would take from a file stored inside it is refused.

Files are written in the upstream layouts with the tensor names and shapes of the reference
lists (``tests/engines/*.tsv``); most tensors are views of one zero (``expand``), so a file
of a 200 MB network takes a few kB where its size is not checked.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest
import torch

from engines import download, weights
from engines.neural import deepfill_v2
from tests.engines.checkpoints_lama_migan import lightning_checkpoint, write_big_lama_zip

REFERENCE = Path(__file__).parent  # copies of /work/shared/reference/checkpoints/*.tsv
DATASETS = ("places2", "celeba", "psv")


def reference_state(tsv: str, prefix: str = "", contiguous: bool = False
                    ) -> dict[str, torch.Tensor]:
    """Zero tensors with the names (those starting with ``prefix``, which is removed) and
    shapes of a reference list; views of one zero unless ``contiguous`` (then they take
    their real size on disk)."""
    state = {}
    for line in (REFERENCE / tsv).read_text().splitlines():
        name, shape, *dtype = line.split("\t")
        if not name.startswith(prefix):
            continue
        size = tuple(int(dim) for dim in re.findall(r"\d+", shape))
        kind = getattr(torch, dtype[0]) if dtype else (
            torch.int64 if name.endswith("num_batches_tracked") else torch.float32)
        state[name[len(prefix):]] = torch.zeros(size, dtype=kind) if contiguous else \
            torch.zeros((), dtype=kind).expand(size)
    return state


def edgeconnect_file(path: Path, part: str) -> Path:
    """An upstream ``*_gen.pth``: a legacy (pre-zip) pickle of ``{"iteration", "generator"}``."""
    state = reference_state("edgeconnect_keys.tsv", f"{part}.")
    torch.save({"iteration": 2_000_000, "generator": state}, path,
               _use_new_zipfile_serialization=False)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One upstream-format file per network (keys as below), written once."""
    folder = tmp_path_factory.mktemp("upstream")
    made = {}

    def save(key: str, name: str, content) -> None:
        made[key] = folder / name
        torch.save(content, made[key])

    save("lama", "best.ckpt", lightning_checkpoint(
        reference_state("lama_big_best_ckpt_generator.tsv"), with_training_objects=True))
    save("deepfill1", "gen_00430000.pt", reference_state("deepfill_v1_daa233_gen.tsv"))
    save("deepfill2", "states_pt_places2.pth",
         {"G": reference_state("deepfill_v2_nipponjo_states_pt.tsv")})
    save("deepfill2-tf", "states_tf_places2.pth",
         {"G": reference_state("deepfill_v2_nipponjo_states_tf.tsv")})
    save("bisenet", "parsing_bisenet.pth", reference_state("face_bisenet_facexlib.tsv"))
    save("parsenet", "parsing_parsenet.pth", reference_state("face_parsenet_facexlib.tsv"))
    save("deeplab", "deeplabv2_resnet101_msc-cocostuff164k-100000.pth",
         reference_state("deeplab_v2_msc_cocostuff182_kazuto1011.tsv"))
    made["edge"] = edgeconnect_file(folder / "EdgeModel_gen.pth", "edge")
    made["inpaint"] = edgeconnect_file(folder / "InpaintingModel_gen.pth", "inpaint")

    from safetensors.torch import save_file

    from engines.segmentation import segformer

    torch.manual_seed(0)
    made["segformer-b0"] = folder / "segformer-b0.safetensors"
    save_file(segformer.build_network("b0").state_dict(), str(made["segformer-b0"]))
    made["other-safetensors"] = folder / "deepfill1.safetensors"
    save_file(reference_state("deepfill_v1_daa233_gen.tsv", contiguous=True),
              str(made["other-safetensors"]))
    return made


# weights id -> (its upstream file, another model's file of the same format)
CASES = {
    "lama-big": ("lama", "bisenet"),
    "deepfill1-imagenet": ("deepfill1", "deepfill2"),
    "deepfill2-places2": ("deepfill2", "deepfill1"),
    "deepfill2-celebahq": ("deepfill2", "bisenet"),
    "deepfill2-places2-tf": ("deepfill2-tf", "deeplab"),
    "deepfill2-celebahq-tf": ("deepfill2-tf", "parsenet"),
    **{f"edgeconnect-{dataset}-edge": ("edge", "inpaint") for dataset in DATASETS},
    **{f"edgeconnect-{dataset}-inpaint": ("inpaint", "edge") for dataset in DATASETS},
    "face-bisenet": ("bisenet", "parsenet"),
    "face-parsenet": ("parsenet", "bisenet"),
    "deeplab2-cocostuff164k": ("deeplab", "bisenet"),
    "segformer-b0-ade": ("segformer-b0", "other-safetensors"),
    "segformer-b1-ade": (None, "segformer-b0"),  # another variant: other shapes
}


def test_every_checkpoint_no_digest_pins_is_checked_against_its_network():
    unchecked = {spec.id for spec in weights.all_specs()
                 if not (spec.sha256 or spec.md5) and spec.check_contents is None}
    assert unchecked == set()
    assert set(CASES) <= {spec.id for spec in weights.all_specs()}


@pytest.mark.parametrize("weights_id", sorted(CASES))
def test_the_right_file_fits_and_another_models_file_is_named_as_such(files, weights_id):
    spec = weights.get_spec(weights_id)
    right, other = CASES[weights_id]
    if right is not None:
        weights.check_checkpoint_file(spec, files[right])

    with pytest.raises(weights.WeightsCorruptError) as refused:
        weights.check_checkpoint_file(spec, files[other])
    message = str(refused.value)
    assert message.startswith(f"{files[other].name} is not the {spec.title} checkpoint: ")
    assert str(files[other].parent) not in message  # named once, by its name


def test_a_tensor_of_another_shape_is_named(tmp_path):
    state = reference_state("deeplab_v2_msc_cocostuff182_kazuto1011.tsv")
    state["base.aspp.c0.weight"] = torch.zeros(()).expand(150, 2048, 3, 3)  # 150 classes
    path = tmp_path / "deeplab_ade.pth"
    torch.save(state, path)

    with pytest.raises(weights.CheckpointMismatchError,
                       match=r"deeplab_ade\.pth is not the DeepLab v2 .* checkpoint: it does "
                             r"not fit .*1 tensors of another shape \(e\.g\. base\.aspp\.c0"):
        weights.check_checkpoint_file(weights.get_spec("deeplab2-cocostuff164k"), path)


def test_deepfill_v2_files_load_in_either_naming_but_not_with_a_missing_tensor(files, tmp_path):
    """The loader's own unwrapping: ``{"G": ...}``, the TF naming, the optional fuse buffer."""
    spec = weights.get_spec("deepfill2-places2")
    state = reference_state("deepfill_v2_nipponjo_states_pt.tsv")
    del state[deepfill_v2.FUSE_KEY]  # older files lack it: accepted
    optional = tmp_path / "no_fuse.pth"
    torch.save({"G": state}, optional)
    weights.check_checkpoint_file(spec, optional)
    del state["stage2.conv_conv1.conv.weight"]
    lacking = tmp_path / "lacking.pth"
    torch.save({"G": state}, lacking)

    with pytest.raises(weights.CheckpointMismatchError,
                       match=re.escape("missing: stage2.conv_conv1.conv.weight")):
        weights.check_checkpoint_file(spec, lacking)


# --- importing over an installed checkpoint -------------------------------------------------


def full_size_bisenet(path: Path) -> Path:
    """The BiSeNet face parsing file at its real size (the spec's size is checked first)."""
    torch.save(reference_state("face_bisenet_facexlib.tsv", contiguous=True), path)
    return path


def other_keys_of_about_the_same_size(path: Path) -> Path:
    """A ~52 MB ``torch.save`` dict of some other network: passes size and format checks."""
    torch.save({f"encoder.weight{index}": torch.zeros(1000, 1300) for index in range(10)}, path)
    return path


def installed_record(weights_id: str) -> tuple[str, bytes]:
    return (sha256(weights.local_path(weights_id)),
            weights.manifest_path(weights_id).read_bytes())


@pytest.mark.parametrize("weights_id", ["face-bisenet", "lama-big", "edgeconnect-celeba-edge"])
def test_another_models_file_is_refused_and_the_installed_one_kept(model_cache, files, tmp_path,
                                                                   weights_id):
    if weights_id == "face-bisenet":
        right = full_size_bisenet(tmp_path / "parsing_bisenet.pth")
        wrong = [other_keys_of_about_the_same_size(tmp_path / "other.pth")]
    elif weights_id == "lama-big":
        right = write_big_lama_zip(tmp_path / "big-lama.zip",
                                   reference_state("lama_big_best_ckpt_generator.tsv"))
        wrong = [files["bisenet"], files["deepfill2"]]
    else:
        right = tmp_path / "celeba.zip"
        with zipfile.ZipFile(right, "w", zipfile.ZIP_STORED) as archive:
            archive.write(files["edge"], "celeba/EdgeModel_gen.pth")
            archive.write(files["inpaint"], "celeba/InpaintingModel_gen.pth")
        wrong = [files["bisenet"], files["inpaint"]]
    spec = weights.get_spec(weights_id)
    for source in wrong:  # nothing installed yet: refused, nothing left behind
        with pytest.raises(weights.WeightsCorruptError,
                           match=re.escape(f"is not the {spec.title} checkpoint")):
            download.import_file(weights_id, source)
    assert not weights.local_path(weights_id).parent.exists()

    installed = download.import_file(weights_id, right)
    assert weights.installation(weights_id).state is weights.InstallState.INSTALLED
    if not spec.archive_member:
        assert installed.read_bytes() == right.read_bytes()
    assert weights.read_manifest(weights_id)["checked"] == "size, format and tensors"
    before = installed_record(weights_id)

    for source in wrong:
        with pytest.raises(weights.WeightsCorruptError,
                           match=re.escape(f"{source.name} is not the {spec.title} "
                                           "checkpoint: it ")):
            download.import_file(weights_id, source)
        assert installed_record(weights_id) == before  # byte-identical, same manifest
    assert weights.installation(weights_id).state is weights.InstallState.INSTALLED
    assert "fits its network OK" in weights.verify(weights_id, deep=True)


def test_a_wrong_member_of_the_archive_is_named_as_in_the_archive(model_cache, files, tmp_path):
    archive_path = tmp_path / "checkpoints.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:
        archive.write(files["inpaint"], "celeba/EdgeModel_gen.pth")  # the files mixed up
        archive.write(files["edge"], "celeba/InpaintingModel_gen.pth")

    with pytest.raises(weights.CheckpointMismatchError) as refused:
        download.import_file("edgeconnect-celeba-edge", archive_path)
    assert str(refused.value).startswith(
        "celeba/EdgeModel_gen.pth in checkpoints.zip is not the EdgeConnect CelebA edge "
        "generator checkpoint: it does not fit the EdgeConnect EdgeGenerator (missing")
    assert not weights.local_path("edgeconnect-celeba-edge").parent.exists()
    assert not weights.local_path("edgeconnect-celeba-inpaint").exists()


# --- archives cut short ---------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["torch.save zip", "legacy pickle"])
def test_a_stored_zip_cut_short_is_refused(model_cache, files, tmp_path, inner):
    """The official EdgeConnect zips store their members uncompressed; with the end of such
    an archive missing, zipfile finds the directory of the last ``torch.save`` zip stored
    inside and would take that file for the archive."""
    member = tmp_path / "EdgeModel_gen.pth"
    if inner == "torch.save zip":
        torch.save(torch.load(files["edge"], weights_only=True), member)
    else:
        member.write_bytes(files["edge"].read_bytes())
    whole = tmp_path / "celeba.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_STORED) as archive:
        archive.write(member, "celeba/EdgeModel_gen.pth")
    cut = tmp_path / "celeba_cut.zip"
    cut.write_bytes(whole.read_bytes()[:-30])

    for format in ("state_dict", "torchscript"):
        with pytest.raises(weights.WrongFileError, match=r"celeba_cut\.zip is a zip archive "
                                                         r"cut short \("):
            weights.check_format(cut, format)
    with pytest.raises(weights.WrongFileError, match="cut short"):
        download.import_file("edgeconnect-celeba-edge", cut)
    assert not weights.local_path("edgeconnect-celeba-edge").parent.exists()

    download.import_file("edgeconnect-celeba-edge", whole)  # the whole archive is fine
    assert weights.damage("edgeconnect-celeba-edge") is None
    weights.local_path("edgeconnect-celeba-edge").write_bytes(cut.read_bytes())
    assert "cut short" in weights.damage("edgeconnect-celeba-edge")


def test_an_extracted_member_must_match_its_own_crcs(model_cache, files, tmp_path):
    member = tmp_path / "EdgeModel_gen.pth"
    torch.save(torch.load(files["edge"], weights_only=True), member)  # a torch.save zip
    with zipfile.ZipFile(member) as archive:
        info = next(info for info in archive.infolist() if info.filename.endswith("data.pkl"))
    data = bytearray(member.read_bytes())
    local = info.header_offset  # the local header's own name and extra field lengths
    start = local + 30 + int.from_bytes(data[local + 26:local + 28], "little") + \
        int.from_bytes(data[local + 28:local + 30], "little")
    data[start + 20] ^= 0xFF  # a byte of the pickle: size and directory unchanged
    member.write_bytes(bytes(data))

    with pytest.raises(weights.WrongFileError, match=r"EdgeModel_gen\.pth is damaged \(Bad CRC"):
        download.import_file("edgeconnect-celeba-edge", member)
    assert not weights.local_path("edgeconnect-celeba-edge").parent.exists()


# --- how the check loads ----------------------------------------------------------------------


def test_the_check_builds_on_meta_and_maps_the_file(tmp_path, monkeypatch):
    path = tmp_path / "net.pth"
    torch.save({"w": torch.arange(6.0)}, path)
    legacy = tmp_path / "legacy.pth"  # a pre-zip pickle cannot be mapped: read as it is
    torch.save({"w": torch.arange(6.0)}, legacy, _use_new_zipfile_serialization=False)
    mapped = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, mmap=None, **kwargs: mapped.append(
        mmap) or real_load(*args, mmap=mmap, **kwargs))
    seen = []

    def load(file, device):
        tensor = weights.load_checkpoint(file)["w"]
        seen.append((device.type, torch.empty(1).device.type, tensor.device.type,
                     tensor.tolist()))

    weights.network_check(load)(path)
    weights.network_check(load, meta=False)(path)
    weights.network_check(load)(legacy)

    values = [0, 1, 2, 3, 4, 5]
    assert seen == [("meta", "meta", "cpu", values), ("cpu", "cpu", "cpu", values),
                    ("meta", "meta", "cpu", values)]
    assert mapped == [True, True, False]
    assert torch.empty(1).device.type == "cpu"  # only while checking
    weights.load_checkpoint(path)
    assert mapped[-1] is False


def test_safetensors_give_their_values_on_the_cpu_while_checking(tmp_path):
    from safetensors.torch import load_file, save_file

    path = tmp_path / "net.safetensors"
    save_file({"a": torch.arange(5, dtype=torch.int8), "b": torch.rand(2, 3),
               "c": torch.zeros(0, 4)}, str(path))
    read = {}
    weights.network_check(
        lambda file, device: read.update(weights.load_checkpoint(file, "safetensors")))(path)

    expected = load_file(str(path))
    assert sorted(read) == sorted(expected)
    for name, tensor in expected.items():
        assert read[name].device.type == "cpu" and torch.equal(read[name], tensor)


def test_a_loader_that_trips_reports_that_the_file_does_not_load(tmp_path):
    path = tmp_path / "net.pth"
    torch.save([1, 2], path)  # no dict at all

    def load(file, device):
        return weights.load_checkpoint(file)["generator"]

    with pytest.raises(weights.CheckpointMismatchError,
                       match=r"net\.pth does not load into its network \(list indices"):
        weights.network_check(load)(path)
