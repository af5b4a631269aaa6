"""A checkpoint spec is checked when it is made: a field no file could match, or that the
cache could not hold, is refused naming the spec and the field, so a plugin module
declaring one is not loaded (rather than every file being blamed later)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines import plugins, weights
from engines.weights import WeightSpec
from tests.engines.test_plugins import PLUGIN_PACKAGE, plugin_folder_fixture, write_plugin  # noqa: F401

DIGEST = "0123456789abcdef" * 4


def _spec(**fields) -> WeightSpec:
    fields = {"id": "qa-spec", "engine": "qa", "title": "QA", "filename": "qa.pth", **fields}
    return WeightSpec(**fields)


@pytest.mark.parametrize("fields, field", [
    ({"sha256": "not-a-hex-digest"}, "sha256"),
    ({"sha256": DIGEST[:-1]}, "sha256"),
    ({"sha256": DIGEST[:-1] + "g"}, "sha256"),
    ({"md5": DIGEST}, "md5"),
    ({"urls": ("ftp://example.invalid/qa.pth",)}, "urls"),
    ({"urls": ("example.invalid/qa.pth",)}, "urls"),
    ({"urls": "https://example.invalid/qa.pth"}, "urls"),  # one address, not a tuple
    ({"size": 0}, "size"),
    ({"size": -5}, "size"),
    ({"size": 1.5}, "size"),
    ({"filename": "../qa.pth"}, "filename"),
    ({"filename": ""}, "filename"),
    ({"id": "a/b"}, "id"),
    ({"id": ".."}, "id"),
])
def test_a_field_no_file_could_match_is_refused_naming_spec_and_field(fields, field):
    with pytest.raises(ValueError) as refused:
        _spec(**fields)
    weights_id = fields.get("id", "qa-spec")
    assert str(refused.value).startswith(f"weights spec {weights_id!r}: {field} must be ")


def test_digests_are_kept_in_lower_case_and_addresses_as_a_tuple():
    spec = _spec(sha256=DIGEST.upper(), md5=DIGEST[:32].upper(),
                 urls=["https://example.invalid/qa.pth", "http://mirror.invalid/qa.pth"],
                 size=1024)
    assert spec.sha256 == DIGEST and spec.md5 == DIGEST[:32]
    assert spec.urls == ("https://example.invalid/qa.pth", "http://mirror.invalid/qa.pth")
    assert spec == _spec(sha256=DIGEST, md5=DIGEST[:32], size=1024,
                         urls=("https://example.invalid/qa.pth", "http://mirror.invalid/qa.pth"))


def test_the_built_in_specs_pass_the_checks():
    ids = {spec.id for spec in weights.all_specs()}
    assert {"lama-big", "face-bisenet", "deeplab2-cocostuff164k"} <= ids
    assert not [problem for problem in plugins.load_problems()
                if problem.module.startswith("engines.")]


def test_a_plugin_declaring_a_bad_digest_is_not_loaded_and_named(plugin_folder, model_cache):
    bad = write_plugin(plugin_folder, "qa_bad_hash", '''
from engines.weights import WeightSpec, register_spec

register_spec(WeightSpec(id="qa-badhash", engine="qa", title="QA bad hash",
                         filename="bad.pt", sha256="not-a-hex-digest"))
''')
    assert "qa-badhash" not in {spec.id for spec in weights.all_specs()}
    [problem] = plugins.load_problems()
    assert Path(problem.path) == bad and problem.module == f"{PLUGIN_PACKAGE}.qa_bad_hash"
    assert problem.reason == ("ValueError: weights spec 'qa-badhash': sha256 must be 64 "
                              "hexadecimal digits, got 'not-a-hex-digest'")
    with pytest.raises(weights.UnknownWeightsError, match=r"not loaded: .*qa_bad_hash\.py: "
                                                          r"ValueError: weights spec"):
        weights.get_spec("qa-badhash")
