"""One-line messages cut to a width so that their point stays: the file paths in them are
shortened in their middle first (a path at the start would otherwise push the reason after
it out of sight), and only what still does not fit is cut at its end. Qt widgets only draw
the result; the whole message stays theirs (the status bar's tooltip)."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

# Where an absolute path starts (/a, ~/a, C:\\a, \\\\server): at the start of the text, or
# after a space, a bracket or a quote, with no space right after its first separator.
_PATH_START = re.compile(r"""(?<![^\s("'])(?:[A-Za-z]:[\\/]|~?[\\/])(?=\S)""")
# Where the clause holding a path ends: ";", ",", a ":" or "." before a space or at the end,
# or an opening bracket after a space. A path is taken to hold none of these.
_CLAUSE_END = re.compile(r"[;,]|[:.](?=\s|$)|\s\(")
# A word that may end a path: one holding a separator, or a file name ("0001.png").
_PATH_WORD = re.compile(r"[\\/]|\.[A-Za-z0-9]{1,5}$")
_SENTENCE_ENDS = ".:)'\""  # taken off a path's end: the sentence's, not the name's
_KEPT_CHARACTERS = 8  # of a path shortened, at least about this many besides the "…"


def path_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each file path in ``text``, in order. A path may hold spaces
    ("/home/me/My Photos/IMG 0001.png"): it runs from its start (:data:`_PATH_START`) to
    the last word of its clause that holds a separator or is a file name, before the next
    path; "/srv/x.png at 16 bits" is the path "/srv/x.png"."""
    spans: list[tuple[int, int]] = []
    found = _PATH_START.search(text)
    while found is not None:
        start = found.start()
        clause_end = _CLAUSE_END.search(text, found.end())
        following = _PATH_START.search(text, found.end())
        limit = min(clause_end.start() if clause_end else len(text),
                    following.start() if following else len(text))
        end = found.end()
        for word in re.finditer(r"\S+", text[start:limit]):
            stripped = word.group().rstrip(_SENTENCE_ENDS)
            if stripped and _PATH_WORD.search(stripped):
                end = start + word.start() + len(stripped)
        spans.append((start, end))
        found = following
    return spans


def _shortened_path(path: str, metrics: QFontMetrics, width: int, shortest: int) -> str:
    """``path`` cut in its middle to ``width`` pixels: its folders only, the file name kept
    whole, while that leaves the folders ``shortest`` pixels; else the whole path."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    name_width = metrics.horizontalAdvance(path[cut:])
    if cut > 0 and width - name_width >= shortest:
        return metrics.elidedText(path[:cut], Qt.ElideMiddle, width - name_width) + path[cut:]
    return metrics.elidedText(path, Qt.ElideMiddle, width)


def elided_message(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` as it fits in ``width`` pixels drawn with ``metrics``: whole when it fits;
    else its paths shortened in their middle (``/home/m…Photos/IMG_0001.jpg``: the folders,
    the file name kept while there is room; the longest path first, each to no fewer than
    about :data:`_KEPT_CHARACTERS` characters), and what still does not fit cut at the end
    with "…"."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    parts, paths, start = [], [], 0
    for begin, end in path_spans(text):
        parts.append(text[start:begin])
        paths.append(len(parts))
        parts.append(text[begin:end])
        start = end
    parts.append(text[start:])
    whole = {index: parts[index] for index in paths}
    shortest = metrics.horizontalAdvance("…") + _KEPT_CHARACTERS * metrics.averageCharWidth()
    for _ in range(3):  # the parts' widths do not quite add up (kerning): try again
        excess = metrics.horizontalAdvance("".join(parts)) - width
        for index in sorted(paths, key=lambda i: -metrics.horizontalAdvance(parts[i])):
            if excess <= 0:
                break
            now = metrics.horizontalAdvance(parts[index])
            if now <= shortest:
                continue
            parts[index] = _shortened_path(whole[index], metrics, max(now - excess, shortest),
                                           shortest)
            excess -= now - metrics.horizontalAdvance(parts[index])
        if excess <= 0:
            break
    return metrics.elidedText("".join(parts), Qt.ElideRight, width)
