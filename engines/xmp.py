"""A photo's XMP packet (Adobe's RDF/XML metadata), made fit to travel with an edit of it.

XMP carries what photo software writes besides EXIF: title, description, keywords, creator
and rights (IPTC Core), ratings, labels. It can also say things that stop being true once the
pixels are edited and stored upright, so :func:`for_edited_copy` changes them:

* ``tiff:Orientation`` becomes 1 (the pixels are stored upright; a reader honouring the old
  value would turn them again), and the pixel dimensions become the upright size;
* Camera Raw / Lightroom develop settings (the ``crs:`` namespace) go: Lightroom and Bridge
  would apply the exposure, crop and retouching again to pixels that already have them;
* ``xmp:Thumbnails`` goes: it would still show what was removed; and so does
  ``xmpNote:HasExtendedXMP``, which points to extension segments that are not carried.

:func:`stamped` then sets the modification dates and a new instance ID when saving.
Packets are parsed with the standard library's expat (no external entities, guarded against
entity expansion) and written back with the document's own namespace prefixes. Qt-free.
"""

from __future__ import annotations

import datetime
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
TIFF = "http://ns.adobe.com/tiff/1.0/"
EXIF = "http://ns.adobe.com/exif/1.0/"
XMP = "http://ns.adobe.com/xap/1.0/"
XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
XMP_NOTE = "http://ns.adobe.com/xmp/note/"
CAMERA_RAW = "http://ns.adobe.com/camera-raw-settings/1.0/"
_XML = "http://www.w3.org/XML/1998/namespace"

_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_TRAILER = '\n<?xpacket end="w"?>'

_DROPPED_NAMESPACES = frozenset({CAMERA_RAW})
_DROPPED = frozenset({f"{{{XMP}}}Thumbnails", f"{{{XMP_NOTE}}}HasExtendedXMP"})


class XmpError(ValueError):
    """The packet is not well-formed XML."""


def for_edited_copy(packet: bytes, width: int, height: int) -> bytes:
    """``packet`` fit for an edit of its photo stored upright at ``width`` x ``height``.

    Raises :class:`XmpError` when the packet cannot be parsed.
    """
    root, prefixes = _parse(packet)
    _set(root, {f"{{{TIFF}}}ImageWidth": str(width), f"{{{TIFF}}}ImageLength": str(height),
                f"{{{EXIF}}}PixelXDimension": str(width),
                f"{{{EXIF}}}PixelYDimension": str(height), f"{{{TIFF}}}Orientation": "1"},
         drop=_dropped)
    return _serialise(root, prefixes)


def stamped(packet: bytes, when: datetime.datetime) -> bytes:
    """``packet`` as saved at ``when``: the modification and metadata dates (where the packet
    has them) set to ``when`` and a new ``xmpMM:InstanceID``; the creation date stays.

    Raises :class:`XmpError` when the packet cannot be parsed.
    """
    root, prefixes = _parse(packet)
    if when.tzinfo is None:
        when = when.astimezone()  # local time, with its offset, as XMP dates carry one
    _set(root, {f"{{{XMP}}}ModifyDate": when.isoformat(timespec="seconds"),
                f"{{{XMP}}}MetadataDate": when.isoformat(timespec="seconds"),
                f"{{{XMP_MM}}}InstanceID": f"xmp.iid:{uuid.uuid4()}"})
    return _serialise(root, prefixes)


def _set(root: ElementTree.Element, values: dict[str, str],
         drop: Callable[[str], bool] = lambda name: False) -> None:
    """Give every property named in ``values`` (``"{uri}name"``) its value, whether written
    as an attribute or as a simple element, and remove those ``drop`` names, in place."""
    for element in list(root.iter()):
        for child in list(element):
            if drop(child.tag):
                element.remove(child)
            elif child.tag in values and len(child) == 0:
                child.text = values[child.tag]
        for name in list(element.attrib):
            if drop(name):
                del element.attrib[name]
            elif name in values:
                element.attrib[name] = values[name]


def _dropped(name: str) -> bool:
    return name in _DROPPED or _namespace(name) in _DROPPED_NAMESPACES


def _namespace(name: str) -> str:
    return name[1:].partition("}")[0] if name.startswith("{") else ""


def _parse(packet: bytes) -> tuple[ElementTree.Element, dict[str, str]]:
    """The packet's root element and its namespace prefixes (URI -> prefix; a default
    namespace gets a prefix when written, since XMP attributes need one)."""
    prefixes: dict[str, str] = {}
    root = None
    parser = ElementTree.XMLPullParser(events=("start", "start-ns"))
    try:
        parser.feed(packet.strip(b"\x00 \t\r\n"))
        parser.close()
        for event, value in parser.read_events():
            if event == "start-ns" and value[0]:
                prefixes.setdefault(value[1], value[0])
            elif event == "start" and root is None:
                root = value
    except (ElementTree.ParseError, ValueError) as exc:
        raise XmpError(f"damaged XMP ({exc})") from None
    if root is None:
        raise XmpError("damaged XMP (no element)")
    return root, prefixes


def _serialise(root: ElementTree.Element, prefixes: dict[str, str]) -> bytes:
    """``root`` as an XMP packet (UTF-8), every namespace declared on the root element."""
    prefixes = dict(prefixes)
    used = set(prefixes.values())
    for element in root.iter():  # a namespace the document did not declare by prefix
        for name in (element.tag, *element.attrib):
            uri = _namespace(name)
            if uri and uri != _XML and uri not in prefixes:
                number = 0
                while f"ns{number}" in used:
                    number += 1
                prefixes[uri] = f"ns{number}"
                used.add(prefixes[uri])

    def qualified(name: str) -> str:
        uri = _namespace(name)
        if not uri:
            return name
        local = name.partition("}")[2]
        return f"{'xml' if uri == _XML else prefixes[uri]}:{local}"

    parts: list[str] = []

    def write(element: ElementTree.Element, declarations: str = "") -> None:
        tag = qualified(element.tag)
        attributes = "".join(f" {qualified(name)}={quoteattr(value)}"
                             for name, value in element.attrib.items())
        parts.append(f"<{tag}{declarations}{attributes}>")
        parts.append(escape(element.text or ""))
        for child in element:
            write(child)
            parts.append(escape(child.tail or ""))
        parts.append(f"</{tag}>")

    declarations = "".join(f" xmlns:{prefix}={quoteattr(uri)}"
                           for uri, prefix in prefixes.items()
                           if uri not in _DROPPED_NAMESPACES)
    write(root, declarations)
    return (_HEADER + "".join(parts) + _TRAILER).encode("utf-8")
