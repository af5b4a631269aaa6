"""Importing the plugin packages, so the modules in them register themselves.

Engines (``@register``), parsers (``@register_parser``) and checkpoint specs
(``register_spec``) are declared in the module that implements them; importing every module
of their packages once makes them known. Importing twice costs nothing (Python caches).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

ENGINE_PACKAGES = ("engines.classical", "engines.neural")
PARSER_PACKAGES = ("engines.segmentation",)


@cache
def import_packages(package_names: tuple[str, ...]) -> None:
    """Import every module below each of ``package_names`` (once per tuple)."""
    for package_name in package_names:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
