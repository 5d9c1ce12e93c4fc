"""Asset groups come from the dbt project's folders, never from hand-kept lists.

``models/staging/app/stg_app__leads.sql`` → group ``staging``; ``models/marts/...`` → ``marts``;
``models/reporting/...`` → ``reporting``; snapshots → ``snapshots``; seeds → ``seeds``. A model
placed directly under ``models/`` lands in ``analytics``. A model can still pin its group with
``meta: {dagster: {group: ...}}`` in its yml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

DEFAULT_GROUP = "analytics"
_TYPE_GROUPS = {"snapshot": "snapshots", "seed": "seeds"}


def folder_group(dbt_resource_props: Mapping[str, Any]) -> str:
    """The first folder under the resource's root (``models/<folder>/...``)."""
    resource_type = dbt_resource_props.get("resource_type")
    if resource_type in _TYPE_GROUPS:
        return _TYPE_GROUPS[resource_type]
    # fqn is [project, *folders, name]: the folder under models/ comes right after the project.
    fqn = dbt_resource_props.get("fqn") or []
    return str(fqn[1]) if len(fqn) > 2 else DEFAULT_GROUP


class LeadlyDbtTranslator(DagsterDbtTranslator):
    def __init__(self, settings: DagsterDbtTranslatorSettings | None = None):
        super().__init__(settings or DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        meta = dbt_resource_props.get("config", {}).get("meta") or dbt_resource_props.get(
            "meta", {}
        )
        pinned = (meta or {}).get("dagster", {}).get("group")
        return pinned or folder_group(dbt_resource_props)
