"""The record page of any object, driven by its :class:`apps.objects.ObjectDesc`: the fields
with inline edit (PATCH with If-Match; the API's field errors shown under each field), related
lists, the timeline (log calls, emails, meetings, notes; comments and mentions), the field
history with "as of", follow, and the actions (assign owner, convert and merge a lead, add a
linked task, delete and restore).

Everything goes through the API as the signed-in member. The page's URL carries the record
(``?id=lead_01J…``), so a link to it can be shared and survives a reload.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from apps import fmt, lookup, objects, timeline, ui
from apps.client import ApiClient, ApiError, list_params
from apps.objects import Field, ObjectDesc
from apps.ui import Session

NONE = ""
RECORD_PAGE = "pages/32_Record.py"


def _k(record_id: str, name: str) -> str:
    return f"rec_{record_id}_{name}"


# --------------------------------------------------------------------------- pickers


def picker(
    api: ApiClient,
    label: str,
    target: str,
    *,
    key: str,
    current: str | None = None,
    current_name: str | None = None,
    exclude: str | None = None,
) -> str | None:
    """Choose a record of ``target`` (an object's api_name, or ``members``) by searching the
    API as you type in the box above the choice (no first-N cap). Returns the id, or None."""
    q = st.text_input(f"Find {label.lower()}", key=f"{key}_q", placeholder="type a few letters")
    try:
        if target == "members":
            rows = lookup.find_members(api, q)
            choices = {m["id"]: m["name"] for m in rows}
        else:
            desc = objects.OBJECTS[target]
            rows = [r for r in lookup.find(api, desc, q, 20) if r["id"] != exclude]
            choices = {r["id"]: desc.name(r) for r in rows}
        seen = list(choices.values())
        for i, name in list(choices.items()):
            if seen.count(name) > 1:  # two records of one name: tell them apart
                choices[i] = f"{name} · #{i[-6:]}"
    except ApiError as e:
        ui.show_api_error(e, f"Searching {label.lower()}")
        choices = {}
    if current and current not in choices:
        choices = {current: current_name or current, **choices}
    options = [NONE, *choices]
    if st.session_state.get(f"{key}_current") != current:  # a new record to show: follow it
        st.session_state[f"{key}_current"] = current
        st.session_state[f"{key}_pick"] = current or NONE
    return (
        st.selectbox(
            label,
            options,
            format_func=lambda i: choices.get(i, "(none)"),
            key=f"{key}_pick",  # its value follows ``current`` (set above)
        )
        or None
    )


# --------------------------------------------------------------------------- fields


def shown(f: Field, row: dict[str, Any], names: dict[str, str], zone: str) -> str:
    """A field's value as Markdown (references as links to their records)."""
    v = row.get(f.name)
    if f.kind == "member":
        return fmt.escape_md(names.get(v, fmt.DASH) if v else fmt.DASH)
    if f.kind == "ref":
        return fmt.link(names.get(v) or v, v) if v else fmt.DASH
    if f.kind in ("url", "email") and v:
        href = v if f.kind == "email" or "://" in v else f"https://{v}"
        return f"[{fmt.escape_md(v)}]({'mailto:' if f.kind == 'email' else ''}{href})"
    currency = row.get("currency") or ""
    return fmt.escape_md(fmt.value(v, f.kind, zone=zone, currency=currency))


def _input(api: ApiClient, f: Field, row: dict[str, Any], names: dict[str, str], key: str) -> Any:
    """The edit widget of one field; returns the value to send."""
    v = row.get(f.name)
    title = f.title + (" *" if f.required else "")
    if f.kind == "choice" and f.choices:
        opts = list(f.choices) if f.required else [NONE, *f.choices]
        return st.selectbox(title, opts, index=opts.index(v) if v in opts else 0,
                            format_func=lambda c: fmt.label(c) if c else "(none)", key=key) or None  # fmt: skip
    if f.kind in ("member", "ref"):
        return picker(api, title, "members" if f.kind == "member" else f.ref, key=key,
                      current=v, current_name=names.get(v) if v else None)  # fmt: skip
    if f.kind == "date":
        d = st.date_input(title, value=dt.date.fromisoformat(v) if v else None, key=key)
        return d.isoformat() if isinstance(d, dt.date) else None
    if f.kind == "percent":
        return int(st.number_input(title, 0, 100, value=int(v or 0), key=key))
    if f.kind == "duration":
        return int(st.number_input(f"{title} (seconds)", 0, 86_400, value=int(v or 0), key=key))
    if f.kind == "number":
        text = st.text_input(title, value="" if v is None else str(v), key=key).strip()
        return text or None
    if f.kind == "long_text":
        return st.text_area(title, value=v or "", key=key).strip() or None
    if f.kind == "datetime":
        text = st.text_input(f"{title} (ISO 8601, UTC)", value=v or "", key=key).strip()
        return text or None
    return st.text_input(title, value="" if v is None else str(v), key=key).strip() or None


def _coerce(f: Field, value: Any) -> Any:
    if f.kind == "number" and isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value  # the API names the field in its error
    return value


def _errors_by_field(e: ApiError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for err in e.errors:
        name = str(err.get("field") or "").split(".")[-1]
        out.setdefault(name, []).append(str(err.get("message") or ""))
    return out


def cells(n: int) -> list[Any]:
    """``n`` cells two to a row, row by row (a phone stacks them in reading order)."""
    out: list[Any] = []
    for _ in range(0, n, 2):
        out.extend(st.columns(2))
    return out[:n]


def show_fields(desc: ObjectDesc, row: dict[str, Any], names: dict[str, str], zone: str) -> None:
    for f, cell in zip(desc.fields, cells(len(desc.fields)), strict=True):
        cell.markdown(f"**{f.title}**  \n{shown(f, row, names, zone)}")


def fields(session: Session, desc: ObjectDesc, row: dict[str, Any], names: dict[str, str]) -> None:
    """The fields, two to a row; "Edit" turns them into one form saved with If-Match (only the
    changed fields are sent), the API's errors shown under the fields they name."""
    api, zone = session.api, session.member.get("time_zone") or "UTC"
    rid = row["id"]
    if st.session_state.pop(_k(rid, "saved"), False):
        st.session_state[_k(rid, "editing")] = False
    editing = st.toggle("Edit", key=_k(rid, "editing"))
    errors: dict[str, list[str]] = st.session_state.get(_k(rid, "errors"), {})
    if not editing:
        show_fields(desc, row, names, zone)
        return
    editable = [f for f in desc.fields if f.editable]
    with st.form(_k(rid, "form")):
        values: dict[str, Any] = {}
        for f, cell in zip(editable, cells(len(editable)), strict=True):
            with cell:
                values[f.name] = _coerce(f, _input(api, f, row, names, _k(rid, f"f_{f.name}")))
                for message in errors.get(f.name, []):
                    st.error(f"{f.title}: {message}")
        saved = st.form_submit_button("Save", type="primary")
    if not saved:
        return
    changed = {n: v for n, v in values.items() if v != row.get(n)}
    if not changed:
        st.info("Nothing changed.")
        return
    try:
        api.request("PATCH", f"{desc.path}/{rid}", json=changed,
                    headers={"If-Match": f'"{row["version"]}"'})  # fmt: skip
    except ApiError as e:
        by_field = _errors_by_field(e)
        st.session_state[_k(rid, "errors")] = by_field
        if e.status == 412:
            st.warning("Someone changed this record since you opened it: the page now shows "
                       "their version; make your change again.")  # fmt: skip
        elif not set(by_field) & {f.name for f in editable}:
            ui.show_api_error(e, "Saving")
        else:
            st.rerun()  # draw the errors under their fields
        return
    st.session_state.pop(_k(rid, "errors"), None)
    st.session_state[_k(rid, "saved")] = True
    st.session_state[_k(rid, "notice")] = f"Saved {', '.join(fmt.label(n) for n in changed)}."
    st.rerun()


# --------------------------------------------------------------------------- lists


def table(
    api: ApiClient,
    desc: ObjectDesc,
    rows: list[dict[str, Any]],
    *,
    columns: tuple[str, ...] = (),
    team_id: str,
    zone: str,
    key: str,
) -> None:
    """Records as a table: the name opens the record's page; references and members by name;
    values formatted; headers in words."""
    if not rows:
        st.caption(f"No {desc.plural_label.lower()}.")
        return
    cols = columns or desc.columns
    members = lookup.members(api, team_id)
    refs = lookup.names(api, [r.get(c) for r in rows for c in cols if str(c).endswith("_id")])
    data = []
    for r in rows:
        out: dict[str, Any] = {desc.label: fmt.record_url(r["id"]) + "#" + desc.name(r)}
        for c in cols:
            f = desc.get_field(c) or Field(c)
            v = r.get(c)
            if f.kind == "member":
                out[f.title] = members.get(v, fmt.DASH) if v else fmt.DASH
            elif f.kind == "ref":
                out[f.title] = refs.get(v, fmt.DASH) if v else fmt.DASH
            else:
                out[f.title] = fmt.value(v, f.kind, zone=zone, currency=r.get("currency") or "")
        data.append(out)
    event = st.dataframe(
        pd.DataFrame(data),
        hide_index=True,
        width="stretch",
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config={desc.label: st.column_config.LinkColumn(desc.label, display_text=r"#(.*)$")},
    )
    picked = event.selection.rows if event is not None else []
    if picked:
        st.switch_page(RECORD_PAGE, query_params={"id": rows[picked[0]]["id"]})


def related(session: Session, desc: ObjectDesc, row: dict[str, Any]) -> None:
    api, zone = session.api, session.member.get("time_zone") or "UTC"
    for rel in desc.related:
        other = objects.OBJECTS[rel.object]
        if rel.field == "related_to":
            filters: dict[str, Any] = {"related_to_type": desc.singular, "related_to_id": row["id"]}
        elif rel.field.startswith("@"):
            listed = row.get(rel.field[1:]) or []
            ids = [x.get(f"{other.singular}_id") if isinstance(x, dict) else x for x in listed]
            filters = {"id__in": [i for i in ids if i] or ["none"]}
        else:
            filters = {rel.field: row["id"]}
        fields_wanted = list(dict.fromkeys((*other.list_fields, *rel.columns)))
        try:
            page = api.get(other.path, list_params(filters, sort=other.sort, fields=fields_wanted,
                                                   limit=20))  # fmt: skip
        except ApiError as e:
            ui.show_api_error(e, f"Loading the {rel.title.lower()}")
            continue
        more = "+" if page.get("has_more") else ""
        st.markdown(f"**{rel.title}** ({len(page['data'])}{more})")
        table(api, other, page["data"], columns=rel.columns, team_id=session.team_id, zone=zone,
              key=_k(row["id"], f"rel_{rel.title}"))  # fmt: skip


# --------------------------------------------------------------------------- history


def history(session: Session, desc: ObjectDesc, row: dict[str, Any], names: dict) -> None:
    """Each changed field (who, when, from, to) and the record as it was at a moment."""
    api, zone = session.api, session.member.get("time_zone") or "UTC"
    rid = row["id"]
    try:
        entries = api.get(f"{desc.path}/{rid}/history", {"limit": "100"})["data"]
    except ApiError as e:
        ui.show_api_error(e, "Loading the history")
        return
    members = lookup.members(api, session.team_id)
    refs = lookup.names(api, [e.get(k) for e in entries for k in ("old", "new")
                              if isinstance(e.get(k), str)])  # fmt: skip

    def val(f: Field, v: Any) -> str:
        if f.kind == "member":
            return members.get(v, fmt.DASH) if v else fmt.DASH
        if f.kind == "ref":
            return refs.get(v, str(v)) if v else fmt.DASH
        return fmt.value(v, f.kind, zone=zone) if not isinstance(v, dict | list) else str(v)

    rows = []
    for e in entries:
        f = desc.get_field(e["field"] or "") or Field(e["field"] or "")
        rows.append({
            "When": fmt.when(e["changed_at"], zone),
            "Who": members.get(e["changed_by"] or "", "Leadly" if not e["changed_by"] else "?"),
            "What": fmt.label(e["action"]),
            "Field": f.title if e["field"] else fmt.DASH,
            "From": val(f, e["old"]),
            "To": val(f, e["new"]),
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=_k(rid, "hist"))
    st.markdown("**As of**")
    c1, c2 = st.columns(2)
    day = c1.date_input("Day", value=None, key=_k(rid, "asof_day"))
    at = c2.time_input("Time (your zone)", value=dt.time(12, 0), key=_k(rid, "asof_time"))
    if isinstance(day, dt.date):
        moment = dt.datetime.combine(day, at, fmt.zone_of(zone)).astimezone(dt.UTC)
        try:
            then = api.get(f"{desc.path}/{rid}", {"as_of": moment.isoformat()})
        except ApiError as e:
            ui.show_api_error(e, f"The record as of {fmt.when(moment, zone)}")
            return
        st.caption(f"The record as it was on {fmt.when(moment, zone)}")
        show_fields(desc, then, names, zone)


# --------------------------------------------------------------------------- follow, actions


def follow(session: Session, desc: ObjectDesc, rid: str) -> None:
    """Follow / Unfollow: a watch on the record (its changes reach the member's notifications)."""
    api = session.api
    try:
        watches = list(api.iter_pages("/watches", {"limit": "1000"}))
    except ApiError:
        return
    mine = next((w for w in watches if w["target_id"] == rid), None)
    label = "★ Following" if mine else "☆ Follow"
    if st.button(
        label, key=_k(rid, "follow"), help="Unfollow" if mine else "Get notified of changes"
    ):
        try:
            if mine:
                api.request("DELETE", f"/watches/{mine['id']}")
            else:
                api.post("/watches", json={"target_type": desc.singular, "target_id": rid})
        except ApiError as e:
            ui.show_api_error(e, "Follow")
        else:
            st.rerun()


def add_task(session: Session, desc: ObjectDesc, rid: str) -> None:
    """A task linked to the record (it shows in its Tasks list and on the Gantt's projects)."""
    with st.form(_k(rid, "task"), clear_on_submit=True):
        title = st.text_input("Task", key=_k(rid, "task_title"))
        c1, c2 = st.columns(2)
        due = c1.date_input("Due", value=None, key=_k(rid, "task_due"))
        at = c2.time_input("At (your zone)", value=dt.time(9, 0), key=_k(rid, "task_at"))
        if st.form_submit_button("Add task"):
            body: dict[str, Any] = {
                "title": title.strip(),
                "related_to_type": desc.singular,
                "related_to_id": rid,
                "assignee_ids": [session.member["id"]],
            }
            if isinstance(due, dt.date):
                zone = fmt.zone_of(session.member.get("time_zone"))
                body["due_at"] = dt.datetime.combine(due, at, zone).isoformat()
            try:
                api_ok = session.api.post("/tasks", json=body)
            except ApiError as e:
                ui.show_api_error(e, "Adding the task")
            else:
                st.session_state[_k(rid, "notice")] = f"Added the task {api_ok['title']}."
                st.rerun()


def convert(session: Session, row: dict[str, Any]) -> None:
    """Convert a lead: a contact, an account (matched or created), optionally a deal."""
    rid = row["id"]
    if row.get("status") == "converted":
        st.caption("This lead is converted.")
        return
    with st.form(_k(rid, "convert")):
        create_account = st.checkbox("Create the account from the company (when none matches)",
                                     value=True, key=_k(rid, "conv_acct"))  # fmt: skip
        deal_name = st.text_input("Also open a deal named (optional)", key=_k(rid, "conv_deal"))
        deal_value = st.text_input("Deal value", key=_k(rid, "conv_value"))
        go = st.form_submit_button("Convert lead", type="primary")
    if go:
        body: dict[str, Any] = {"create_account": create_account}
        if deal_name.strip():
            body["deal"] = {"name": deal_name.strip(), **({"value": deal_value.strip()}
                                                          if deal_value.strip() else {})}  # fmt: skip
        try:
            out = session.api.post(f"/leads/{rid}/convert", json=body)
        except ApiError as e:
            ui.show_api_error(e, "Converting the lead")
            return
        made = [f"contact {fmt.person(out['contact'])}"]
        if out.get("account"):
            made.append(f"account {out['account']['name']}")
        if out.get("deal"):
            made.append(f"deal {out['deal']['name']}")
        st.session_state[_k(rid, "notice")] = "Converted: " + ", ".join(made) + "."
        st.rerun()


def merge(session: Session, desc: ObjectDesc, row: dict[str, Any]) -> None:
    """Merge a duplicate into this record (this one survives, the other is retired)."""
    rid = row["id"]
    other = picker(session.api, "Duplicate to merge into this one", desc.api_name,
                   key=_k(rid, "merge"), exclude=rid)  # fmt: skip
    if st.button("Merge", key=_k(rid, "merge_go"), disabled=not other or other == rid):
        try:
            session.api.post(f"{desc.path}/{rid}/merge", json={"other_id": other})
        except ApiError as e:
            ui.show_api_error(e, "Merging")
        else:
            st.session_state[_k(rid, "notice")] = "Merged the duplicate into this record."
            st.rerun()


def assign(session: Session, desc: ObjectDesc, row: dict[str, Any], names: dict) -> None:
    rid = row["id"]
    owner = picker(session.api, "New owner", "members", key=_k(rid, "assign"),
                   current=row.get("owner_id"), current_name=names.get(row.get("owner_id")))  # fmt: skip
    if st.button("Assign", key=_k(rid, "assign_go"), disabled=owner == row.get("owner_id")):
        try:
            session.api.request("PATCH", f"{desc.path}/{rid}", json={"owner_id": owner},
                                headers={"If-Match": f'"{row["version"]}"'})  # fmt: skip
        except ApiError as e:
            ui.show_api_error(e, "Assigning")
        else:
            st.session_state[_k(rid, "notice")] = f"Assigned to {names.get(owner, 'nobody')}."
            st.rerun()


def delete(session: Session, desc: ObjectDesc, rid: str, name: str) -> None:
    confirm = st.checkbox(f"Yes, delete {name}", key=_k(rid, "del_confirm"))
    if st.button("Delete", key=_k(rid, "del_go"), disabled=not confirm):
        try:
            session.api.request("DELETE", f"{desc.path}/{rid}")
        except ApiError as e:
            ui.show_api_error(e, "Deleting")
        else:
            st.session_state["rec_deleted"] = (rid, name)
            st.rerun()


def deleted_notice(session: Session, desc: ObjectDesc, rid: str) -> bool:
    """After a delete: say so and offer Restore. True when the record is the deleted one."""
    gone = st.session_state.get("rec_deleted")
    if not gone or gone[0] != rid:
        return False
    st.warning(f"{desc.label} {gone[1]} is deleted.")
    if st.button("Restore", key=_k(rid, "restore"), type="primary"):
        try:
            session.api.post(f"{desc.path}/{rid}/restore")
        except ApiError as e:
            ui.show_api_error(e, "Restoring")
        else:
            del st.session_state["rec_deleted"]
            st.session_state[_k(rid, "notice")] = "Restored."
            st.rerun()
    return True


# --------------------------------------------------------------------------- create


def create(session: Session, desc: ObjectDesc) -> None:
    """A new record of ``desc`` from its editable fields; opens its page once created."""
    names: dict[str, str] = {}
    blank: dict[str, Any] = {"owner_id": session.member["id"]} if desc.get_field("owner_id") else {}
    with st.form(f"new_{desc.api_name}"):
        values: dict[str, Any] = {}
        editable = [f for f in desc.fields if f.editable]
        for f, cell in zip(editable, cells(len(editable)), strict=True):
            with cell:
                names = {session.member["id"]: session.member["name"]}
                values[f.name] = _coerce(f, _input(session.api, f, blank, names,
                                                   f"new_{desc.api_name}_{f.name}"))  # fmt: skip
        go = st.form_submit_button(f"Create {desc.label.lower()}", type="primary")
    if go:
        body = {n: v for n, v in values.items() if v is not None}
        try:
            out = session.api.post(desc.path, json=body)
        except ApiError as e:
            ui.show_api_error(e, f"Creating the {desc.label.lower()}")
            return
        st.session_state[_k(out["id"], "notice")] = f"Created {desc.name(out)}."
        st.query_params.clear()
        st.query_params["id"] = out["id"]
        st.rerun()


# --------------------------------------------------------------------------- the page


def render(session: Session, record_id: str) -> None:
    """The whole record page of ``record_id``."""
    desc = objects.of_id(record_id)
    if desc is None:
        st.error(f"{record_id!r} is not the id of a record Leadly knows.")
        return
    api = session.api
    if deleted_notice(session, desc, record_id):
        return
    try:
        row = api.get(f"{desc.path}/{record_id}")
    except ApiError as e:
        if e.status == 404:
            st.warning(f"No {desc.label.lower()} {record_id} that you can see (deleted, merged "
                       "or another team's).")  # fmt: skip
            return
        ui.stop_on_error(e, f"Loading the {desc.label.lower()}")
    name = desc.name(row)
    members = lookup.members(api, session.team_id)
    refs = lookup.names(api, [row.get(f.name) for f in desc.fields if f.kind == "ref"])
    names = {**members, **refs}

    st.title(name)
    bits = [desc.label]
    if row.get("owner_id"):
        bits.append(f"owned by {members.get(row['owner_id'], fmt.DASH)}")
    if "stage" in row and row.get("pipeline_id"):
        bits.append(_stage_name(api, row))
    if row.get("is_rotting"):
        bits.append(f"⚠ rotting ({row['days_in_stage']} days in stage)")
    st.caption(" · ".join(bits))
    notice = st.session_state.pop(_k(record_id, "notice"), None)
    if notice:
        st.success(notice)
    if desc.watchable:
        follow(session, desc, record_id)

    tab_names = ["Details", "Related"] + (["Timeline"] if desc.timeline else []) + ["History",
                                                                                    "Actions"]  # fmt: skip
    # The open tab is in the URL (``&tab=Timeline``): it survives the reruns of a form and a
    # reload, and only its content runs.
    tabs = dict(zip(tab_names, st.tabs(tab_names, key="tab", on_change="rerun",
                                       bind="query-params"), strict=True))  # fmt: skip
    with tabs["Details"]:
        if tabs["Details"].open:
            fields(session, desc, row, names)
    with tabs["Related"]:
        if tabs["Related"].open:
            related(session, desc, row)
            st.markdown("**Add a task**")
            add_task(session, desc, record_id)
            st.page_link(
                "pages/23_Gantt.py",
                label="This record's tasks on the Gantt",
                query_params={"project": f"{desc.singular}:{record_id}"},
            )
    if desc.timeline:
        with tabs["Timeline"]:
            if tabs["Timeline"].open:
                timeline.render(api, desc.api_name, record_id, team_id=session.team_id,
                                key=_k(record_id, "tl"))  # fmt: skip
    with tabs["History"]:
        if tabs["History"].open:
            history(session, desc, row, names)
    with tabs["Actions"]:
        if tabs["Actions"].open:
            actions(session, desc, row, names)


def actions(session: Session, desc: ObjectDesc, row: dict[str, Any], names: dict) -> None:
    if desc.get_field("owner_id"):
        st.markdown("**Assign owner**")
        assign(session, desc, row, names)
    if "convert" in desc.actions:
        st.markdown("**Convert**")
        convert(session, row)
    if "merge" in desc.actions:
        st.markdown("**Merge a duplicate**")
        merge(session, desc, row)
    st.markdown("**Delete**")
    delete(session, desc, row["id"], desc.name(row))


def _stage_name(api: ApiClient, row: dict[str, Any]) -> str:
    try:
        pipeline = api.get(f"/pipelines/{row['pipeline_id']}")
    except ApiError:
        return fmt.label(row["stage"])
    stages = {s["key"]: s["name"] for s in pipeline["stages"]}
    return f"{pipeline['name']} · {stages.get(row['stage'], fmt.label(row['stage']))}"
