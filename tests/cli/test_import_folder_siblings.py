"""`models import` of a folder unzipped from a download that ships several checkpoints
(EdgeConnect's edge and inpainting generators) installs the others of the same engine too,
as an import of the zip itself does; a sibling refused is said and leaves the exit status
and the checkpoint asked for alone."""

from __future__ import annotations

import pytest

import cli
from cli import EXIT_OK
from engines import weights
from tests.engines.test_import_contents import edgeconnect_file

EDGE, INPAINT = "edgeconnect-places2-edge", "edgeconnect-places2-inpaint"


@pytest.fixture
def checkpoints(tmp_path):
    """The unzipped upstream checkpoints folder: celeba/ and places2/, each with both files."""
    top = tmp_path / "checkpoints"
    for dataset in ("celeba", "places2"):
        (top / dataset).mkdir(parents=True)
        edgeconnect_file(top / dataset / "EdgeModel_gen.pth", "edge")
        edgeconnect_file(top / dataset / "InpaintingModel_gen.pth", "inpaint")
    return top


@pytest.mark.parametrize("given", ["top", "dataset"])
def test_a_folder_import_installs_the_sibling_checkpoint(model_cache, checkpoints, capsys,
                                                         given):
    folder = checkpoints if given == "top" else checkpoints / "places2"
    assert cli.main(["models", "import", EDGE, str(folder)]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [EDGE, INPAINT]
    for weights_id, name in ((EDGE, "EdgeModel_gen.pth"), (INPAINT, "InpaintingModel_gen.pth")):
        assert weights.installation(weights_id).state is weights.InstallState.INSTALLED
        assert weights.local_path(weights_id).read_bytes() == \
            (checkpoints / "places2" / name).read_bytes()
    # the same names in another engine's dataset are not taken for its checkpoints
    assert not weights.is_present("edgeconnect-celeba-edge")
    assert not weights.is_present("edgeconnect-celeba-inpaint")


def test_an_installed_sibling_is_left_as_it_is(model_cache, checkpoints, capsys):
    assert cli.main(["models", "import", INPAINT, str(checkpoints / "celeba" /
                                                      "InpaintingModel_gen.pth")]) == EXIT_OK
    before = weights.local_path(INPAINT).stat().st_mtime_ns
    assert cli.main(["models", "import", EDGE, str(checkpoints / "places2")]) == EXIT_OK
    assert weights.local_path(INPAINT).stat().st_mtime_ns == before
    assert INPAINT + ":" not in capsys.readouterr().out.split(EDGE + ": installed")[-1]


def test_a_refused_sibling_is_said_and_the_import_still_succeeds(model_cache, checkpoints,
                                                                 capsys):
    (checkpoints / "places2" / "InpaintingModel_gen.pth").write_bytes(b"not a checkpoint")
    assert cli.main(["models", "import", EDGE, str(checkpoints / "places2")]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{EDGE}: installed at ")
    [line] = [line for line in captured.err.splitlines() if line.startswith(INPAINT)]
    assert line.startswith(f"{INPAINT}: not installed from "
                           f"{checkpoints / 'places2' / 'InpaintingModel_gen.pth'}: ")
    assert weights.installation(EDGE).state is weights.InstallState.INSTALLED
    assert not weights.is_present(INPAINT)


def test_a_file_import_installs_nothing_else(model_cache, checkpoints, capsys):
    assert cli.main(["models", "import", EDGE, str(checkpoints / "places2" /
                                                   "EdgeModel_gen.pth")]) == EXIT_OK
    assert not weights.is_present(INPAINT)
    assert weights.unzipped_siblings(EDGE, checkpoints / "places2" / "EdgeModel_gen.pth") == []
