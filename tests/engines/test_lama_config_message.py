"""A LaMa ``config.yaml`` that is not YAML is refused in one line that keeps PyYAML's whole
reason (where in the file), not its first line alone nor escaped line breaks."""

from __future__ import annotations

import pytest

from engines.base import message_line
from engines.neural.lama import check_config
from engines.weights import WeightsCorruptError


def test_a_broken_config_is_refused_on_one_line_with_its_place():
    with pytest.raises(WeightsCorruptError) as refused:
        check_config("generator:\n  kind: [ffc_resnet,\n  ngf: 64\n", "big-lama config.yaml")
    message = message_line(refused.value)
    assert message == str(refused.value) and "\n" not in message and "\\n" not in message
    assert message.startswith("big-lama config.yaml is not valid YAML (while parsing")
    assert "line 2" in message
