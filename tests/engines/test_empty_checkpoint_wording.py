"""A 0-byte checkpoint file (an interrupted copy or download leaves one) is called empty on
every import and install path, whichever check would refuse it first: the size check of a
spec without a digest, a pinned sha256 or md5, the format, an archive spec's zip lookup
(QA34 F5). An installed file emptied afterwards keeps its status wording ("it is an empty
file")."""

from __future__ import annotations

import hashlib

import pytest

import cli
from cli import EXIT_USAGE
from engines import download, weights
from tests.engines.test_download import Route, checkpoint_bytes, server  # noqa: F401 - the fixture

EMPTY = "empty.pth is an empty file (an interrupted copy or download leaves one)"


@pytest.fixture
def empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    return path


def spec_fields(which: str) -> dict:
    """The fields of a spec whose first check of a file to import is ``which``."""
    body = checkpoint_bytes()
    return {
        "size": {"size": 30_000_000},  # no digest: the size within tolerance
        "sha256": {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()},
        "md5": {"size": len(body), "md5": hashlib.md5(body).hexdigest()},
        "sha256 and md5": {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                           "md5": hashlib.md5(body).hexdigest()},
        "torchscript, digest": {"size": len(body), "format": "torchscript",
                                "md5": hashlib.md5(body).hexdigest()},
        "zip member, digest": {"size": len(body), "archive_member": "big/models/best.ckpt",
                               "sha256": hashlib.sha256(body).hexdigest()},
        "no size, no digest": {},
    }[which]


WHICH = ["size", "sha256", "md5", "sha256 and md5", "torchscript, digest",
         "zip member, digest", "no size, no digest"]


@pytest.mark.parametrize("which", WHICH)
def test_importing_an_empty_file_says_it_is_empty(make_spec, model_cache, empty_file, which):
    spec = make_spec(**spec_fields(which))

    with pytest.raises(weights.WrongFileError) as error:
        download.import_file(spec.id, empty_file)

    assert str(error.value) == EMPTY
    assert error.value.reason == EMPTY
    assert not weights.local_path(spec.id).exists()
    assert empty_file.is_file()  # the source is left alone


@pytest.mark.parametrize("which", WHICH)
def test_check_download_says_an_empty_file_is_empty(make_spec, empty_file, which):
    spec = make_spec(**spec_fields(which))

    with pytest.raises(weights.WrongFileError, match=r"^the file is an empty file \(an "
                       r"interrupted copy or download leaves one\)$"):
        weights.check_download(spec, empty_file, "the file")


@pytest.mark.parametrize("which", ["size", "sha256 and md5"])
def test_models_import_of_an_empty_file_says_it_is_empty(make_spec, model_cache, empty_file,
                                                        capsys, which):
    """As `main.py models import migan-512-places2 empty.pt` (a size) and
    `lama-big-torchscript` (a pinned md5) said "0 B ... not the right file" and "has md5
    d41d8cd98f00…"."""
    spec = make_spec(**spec_fields(which))

    assert cli.main(["models", "import", spec.id, str(empty_file)]) == EXIT_USAGE

    assert capsys.readouterr().err == f"error: {EMPTY}\n"
    assert not weights.local_path(spec.id).exists()


@pytest.mark.parametrize("which", ["size", "sha256"])
def test_an_empty_download_is_called_empty_and_removed(server, make_spec, which):  # noqa: F811
    server.routes["/net.pth"] = Route(body=b"")
    spec = make_spec(urls=(server.url("/net.pth"),), **spec_fields(which))

    with pytest.raises(weights.WrongFileError) as error:
        download.download(spec)

    assert str(error.value) == (f"the file from 127.0.0.1:{server.port} is an empty file (an "
                                "interrupted copy or download leaves one); the bad file was "
                                "removed")
    assert not weights.partial_path(spec.id).exists()
    assert not weights.local_path(spec.id).exists()


def test_an_installed_file_emptied_afterwards_keeps_its_status_words(make_spec, model_cache,
                                                                    tmp_path):
    body = checkpoint_bytes()
    source = tmp_path / "net.pth"
    source.write_bytes(body)
    spec = make_spec(**spec_fields("sha256"))
    installed = download.import_file(spec.id, source)
    installed.write_bytes(b"")

    assert weights.damage(spec.id) == "it is an empty file"
    with pytest.raises(weights.WrongFileError) as error:
        weights.verify(spec.id)
    assert error.value.reason == "it is an empty file"
    assert f"{installed} is damaged: it is an empty file" in str(error.value)


MEMBER = "big/models/best.ckpt"
EMPTY_MEMBER = (f"net.zip holds an empty {MEMBER}: the archive was made from an incomplete "
                "file; get it again")


@pytest.fixture
def zip_with_empty_member(tmp_path):
    """A whole zip (nothing cut short) whose checkpoint member has no bytes."""
    import zipfile

    path = tmp_path / "net.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("big/config.yaml", "generator: big\n")
        archive.writestr(MEMBER, b"")
    return path


@pytest.mark.parametrize("which", ["no size, no digest", "zip member, digest"])
def test_models_import_of_a_zip_holding_an_empty_member_says_so(
        make_spec, model_cache, zip_with_empty_member, capsys, which):
    """QA: an empty member inside a checkpoint zip was refused as "MEMBER in ARCHIVE is an
    empty file (an interrupted copy or download leaves one)"; an interrupted copy leaves a
    zip cut short, not an empty member: the archive was made so."""
    fields = spec_fields(which)
    if "sha256" in fields:  # the digest pins this very archive
        body = zip_with_empty_member.read_bytes()
        fields.update(size=len(body), sha256=hashlib.sha256(body).hexdigest())
    spec = make_spec(**{**fields, "archive_member": MEMBER})

    assert cli.main(["models", "import", spec.id, str(zip_with_empty_member)]) == EXIT_USAGE

    assert capsys.readouterr().err == f"error: {EMPTY_MEMBER}\n"
    assert not weights.local_path(spec.id).exists()
    assert zip_with_empty_member.is_file()  # the source is left alone


def test_the_member_taken_out_of_the_zip_keeps_the_empty_file_words(make_spec, model_cache,
                                                                     empty_file, capsys):
    """The archive spec's member given on its own (as unzipped) is an empty file, with its
    own cause."""
    spec = make_spec(archive_member=MEMBER)

    assert cli.main(["models", "import", spec.id, str(empty_file)]) == EXIT_USAGE

    assert capsys.readouterr().err == f"error: {EMPTY}\n"


def test_a_downloaded_zip_holding_an_empty_member_says_so(server, make_spec,  # noqa: F811
                                                          zip_with_empty_member):
    server.routes["/net.zip"] = Route(body=zip_with_empty_member.read_bytes())
    spec = make_spec(urls=(server.url("/net.zip"),), archive_member=MEMBER)

    with pytest.raises(weights.WrongFileError) as error:
        download.download(spec)

    assert str(error.value) == (f"the file from 127.0.0.1:{server.port} holds an empty "
                                f"{MEMBER}: the archive was made from an incomplete file; get "
                                "it again; the bad file was removed")
    assert not weights.partial_path(spec.id).exists()
    assert not weights.local_path(spec.id).exists()
