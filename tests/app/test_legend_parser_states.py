"""The parser list asks each parser's state once per reload (:func:`app.semantic.parser_state`,
through ``parser_entries``), and still words it as the Engine panel does
(:func:`app.model_dialogs.readiness_word`, :func:`app.model_dialogs.weights_advice`) with the
checkpoints :func:`app.semantic.download_needed` names."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt

from app import semantic
from app.model_dialogs import readiness_word, weights_advice
from engines import weights
from engines.base import Readiness
from engines.segmentation.base import parser_names


def counted_states(monkeypatch) -> Counter:
    calls: Counter = Counter()
    state = semantic.parser_state

    def counting(name):
        calls[name] += 1
        return state(name)

    monkeypatch.setattr(semantic, "parser_state", counting)
    return calls


def listed(legend) -> dict[str, tuple[str, str]]:
    """Parser name -> (its text in the list, its tooltip)."""
    combo = legend.parser
    return {combo.itemData(i): (combo.itemText(i), combo.itemData(i, Qt.ToolTipRole) or "")
            for i in range(combo.count())}


def expected(name: str) -> tuple[str, str]:
    """What the list says of parser ``name``, worded from ``download_needed`` as before."""
    title, readiness, detail = semantic.parser_state(name)
    if readiness is Readiness.READY:
        return title, ""
    ids = semantic.download_needed(name)[0]
    advice = weights_advice(ids) if readiness is Readiness.NEEDS_DOWNLOAD else ""
    return (f"{title} ({readiness_word(readiness, ids)})",
            advice[:1].upper() + advice[1:] if advice else detail)


def test_each_parsers_state_is_asked_once_per_reload(legend, monkeypatch):
    slot = weights.local_path("face-bisenet")
    slot.parent.mkdir(parents=True, exist_ok=True)
    slot.write_bytes(b"PK\x03\x04" + b"\0" * 1000)  # damaged: a zip cut short
    calls = counted_states(monkeypatch)
    legend.reload_parsers()
    assert calls == Counter(dict.fromkeys(parser_names(), 1))
    said = listed(legend)
    assert said["face"][0].endswith("(damaged)")
    assert said["scene"][0].endswith("(needs download)")
    assert said["scene"][1] == ("Its weights are not installed: download them in File → "
                                "Models… (or Import file… with a copy you have)")
    assert said == {name: expected(name) for name in parser_names()}
