"""A checkpoint with no download address is refused by `download` in the command-line
tool's words, as an error that names the checkpoint so that the editor can say it in its own
(the fields of a :class:`~engines.weights.WeightsMissingError`)."""

from __future__ import annotations

import pytest

from engines import download, weights


@pytest.mark.parametrize("manual", ["ask the authors", ""])
def test_no_address_names_the_checkpoint_besides_the_command(make_spec, manual):
    spec = make_spec(manual=manual)
    with pytest.raises(download.NoDownloadAddressError) as refused:
        download.download(spec.id)
    how = f"{manual}, then import it with" if manual else "import it with"
    assert str(refused.value) == (f"Test net has no download address: {how} "
                                  f"`python main.py models import {spec.id} FILE`")
    assert isinstance(refused.value, download.DownloadError)  # as callers catch it
    assert isinstance(refused.value, weights.WeightsMissingError)
    assert refused.value.weights_ids == (spec.id,)
    assert refused.value.path is None
    assert refused.value.reason == "Test net has no download address"
    assert not weights.local_path(spec.id).exists()
