"""Everything Dagster runs for Leadly: ``defs``, loaded by ``dagster-webserver`` and
``dagster-daemon`` with ``-m orchestration.definitions``.

Each area is a package under ``orchestration/defs/`` whose ``definitions`` module exposes its own
``defs``; they are found here and merged, with the shared resources of
:mod:`orchestration.resources`. Adding an area means adding its folder, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

from orchestration import defs as areas_package
from orchestration.resources import resources


def area_names() -> list[str]:
    """The areas under ``orchestration/defs/`` (packages), in name order."""
    return sorted(m.name for m in pkgutil.iter_modules(areas_package.__path__) if m.ispkg)


def area_definitions(name: str) -> dg.Definitions:
    module = importlib.import_module(f"{areas_package.__name__}.{name}.definitions")
    area_defs = getattr(module, "defs", None)
    if not isinstance(area_defs, dg.Definitions):
        raise TypeError(f"orchestration/defs/{name}/definitions.py must expose `defs`")
    return area_defs


defs = dg.Definitions.merge(
    *(area_definitions(name) for name in area_names()),
    dg.Definitions(resources=resources()),
)
