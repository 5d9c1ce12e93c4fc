"""Finding records and naming them, through the API as the signed-in member.

- :func:`find`: server-side search of one object (each of its ``search_fields`` with
  ``filter[f__contains]=``, case-insensitive substring; no first-200 cap: the API does the
  matching over every record the member may see).
- :func:`names`: record id → name for the ids a page shows (one ``filter[id__in]=`` call per
  object, cached briefly).
- :func:`members`: member id → name (cached per team).
- :func:`search_all`: the global search box: records of every object, then activities
  (``GET /search/activities``).

There is no ``GET /api/v1/search?q=`` across objects yet: when the API gains it, :func:`find`
and :func:`search_all` are the two places to switch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import streamlit as st

from apps import fmt, objects
from apps.client import ApiClient, ApiError, list_params
from apps.objects import ObjectDesc

TTL = 30


def find(api: ApiClient, desc: ObjectDesc, q: str, limit: int = 10) -> list[dict[str, Any]]:
    """Records of ``desc`` matching ``q`` in any of its search fields (the newest first), at
    most ``limit``; an empty ``q``: the most recent ones."""
    q = q.strip()
    fields = list(desc.list_fields)
    if not q:
        return api.get(desc.path, list_params(sort=desc.sort, fields=fields, limit=limit))["data"]
    found: dict[str, dict[str, Any]] = {}
    for name in desc.search_fields:
        page = api.get(
            desc.path,
            list_params({f"{name}__contains": q}, sort=desc.sort, fields=fields, limit=limit),
        )
        for row in page["data"]:
            found.setdefault(row["id"], row)
    return list(found.values())[:limit]


@st.cache_data(ttl=TTL, show_spinner=False)
def _names(token: str, api_name: str, ids: tuple[str, ...]) -> dict[str, str]:
    desc = objects.OBJECTS[api_name]
    api = ApiClient(token)
    out: dict[str, str] = {}
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        page = api.get(
            desc.path,
            list_params({"id__in": list(chunk)}, fields=list(desc.list_fields), limit=len(chunk)),
        )
        out.update({r["id"]: desc.name(r) for r in page["data"]})
    return out


def names(api: ApiClient, ids: Iterable[str | None]) -> dict[str, str]:
    """Record id → name for any mix of objects' ids (an id the member cannot see, or of an
    unknown object, is left out)."""
    by_object: dict[str, set[str]] = {}
    for record_id in ids:
        desc = objects.of_id(record_id)
        if desc is not None and record_id:
            by_object.setdefault(desc.api_name, set()).add(record_id)
    out: dict[str, str] = {}
    for api_name, wanted in by_object.items():
        try:
            out.update(_names(api.token or "", api_name, tuple(sorted(wanted))))
        except ApiError:
            continue
    return out


@st.cache_data(ttl=300, show_spinner=False)
def _members(team_id: str, token: str) -> dict[str, str]:
    return {m["id"]: m["name"] for m in ApiClient(token).members()}


def _team_map(read: Any, api: ApiClient, team_id: str) -> dict[str, str]:
    """A cached id → name map of the team (``read(team_id, token)``); empty when the API
    refuses (the page shows ids rather than fail)."""
    try:
        return read(team_id, api.token or "")
    except ApiError:
        return {}


def members(api: ApiClient, team_id: str) -> dict[str, str]:
    """Member id → name (the team's, cached per team)."""
    return _team_map(_members, api, team_id)


@st.cache_data(ttl=300, show_spinner=False)
def _stage_names(team_id: str, token: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in ApiClient(token).iter_pages("/pipelines", {"limit": "100"}):
        for stage in p["stages"]:
            out.setdefault(stage["key"], stage["name"])
    return out


def stage_names(api: ApiClient, team_id: str) -> dict[str, str]:
    """Stage key → name over the team's pipelines (the first pipeline's name of a shared key)."""
    return _team_map(_stage_names, api, team_id)


@st.cache_data(ttl=300, show_spinner=False)
def _pipeline_names(team_id: str, token: str) -> dict[str, str]:
    return {p["id"]: p["name"] for p in ApiClient(token).iter_pages("/pipelines", {"limit": "100"})}


PEOPLE = ("owner_id", "member_id", "changed_by", "created_by", "actor_id", "assignee_id")


def readable(api: ApiClient, team_id: str, df: pd.DataFrame) -> pd.DataFrame:
    """A report's table for people: members, pipelines and stages by name, keys as labels,
    headers in words."""
    out = df.copy()
    for col in out.columns:
        if col in PEOPLE:
            people = members(api, team_id)
            out[col] = out[col].map(
                lambda v, m=people: m.get(v, "Unassigned") if v else "Unassigned"
            )
        elif col == "pipeline_id":
            pipes = _team_map(_pipeline_names, api, team_id)
            out[col] = out[col].map(lambda v, p=pipes: p.get(v, v))
        elif col in ("stage", "from_stage", "to_stage"):
            stages = stage_names(api, team_id)
            out[col] = out[col].map(lambda v, s=stages: s.get(v, fmt.label(v)) if v else fmt.DASH)
        elif col in ("outcome", "forecast_category", "status", "value_type"):
            out[col] = out[col].map(lambda v: fmt.label(v) if isinstance(v, str) else v)
    return out.rename(columns={c: fmt.label(c) for c in out.columns})


def find_members(api: ApiClient, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Members whose name or email contains ``q`` (``GET /members?search=``)."""
    params = {"limit": str(limit), **({"search": q.strip()} if q.strip() else {})}
    page = api.get("/members", params)
    return page if isinstance(page, list) else page.get("data", [])


def search_all(api: ApiClient, q: str, per_object: int = 5) -> list[tuple[ObjectDesc, dict]]:
    """The records of every object matching ``q`` (at most ``per_object`` each)."""
    hits: list[tuple[ObjectDesc, dict]] = []
    for api_name in objects.RECORD_OBJECTS:
        desc = objects.OBJECTS[api_name]
        try:
            rows = find(api, desc, q, per_object)
        except ApiError:
            continue
        hits.extend((desc, r) for r in rows)
    return hits
