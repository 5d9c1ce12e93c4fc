"""Pipeline builder (admins): create pipelines, add, edit (name, probability, forecast category,
required fields, rot days, auto-advance conditions), reorder and remove stages (a stage holding
deals moves them to the stage you pick, with their history)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps import fmt, ui
from apps.client import ApiError
from apps.deal_board import CONDITION_COLUMNS, conditions, rule_text

session = ui.start("Pipeline builder")
api = session.api
if session.member.get("role") not in ("admin", "owner"):
    st.info("Only admins and owners change pipelines. You can still use the Pipeline board.")
    st.stop()

for text in st.session_state.pop("builder_flash", []):
    st.success(text)

try:
    pipelines = api.get("/pipelines", {"limit": 100})["data"]
except ApiError as e:
    ui.stop_on_error(e, "Loading the pipelines")
names = {p["id"]: p["name"] + (" (default)" if p["is_default"] else "") for p in pipelines}
pid = st.selectbox("Pipeline", list(names), format_func=names.get, key="pb_pipeline")
pipeline = next(p for p in pipelines if p["id"] == pid)
keys = [s["key"] for s in pipeline["stages"]]
headers = {"If-Match": f'"{pipeline["version"]}"'}


def call(method: str, path: str, action: str, **kw) -> bool:
    try:
        api.request(method, path, headers=headers, **kw)
    except ApiError as e:
        ui.show_api_error(e, action)
        return False
    st.session_state.setdefault("builder_flash", []).append(f"{action}: done.")
    return True


REQUIRABLE = ["value", "expected_close_date", "next_step", "owner_id", "contacts", "account_id",
              "competitor", "source", "win_reason", "loss_reason"]  # fmt: skip
CATEGORIES = ["pipeline", "best_case", "commit", "closed", "omitted"]
OPS = ["is_set", "is_empty", "eq", "ne", "gt", "gte", "lt", "lte", "in"]
st.dataframe(
    pd.DataFrame(
        [
            {
                "Key": s["key"], "Name": s["name"], "Probability": f"{s['probability']}%",
                "Forecast category": fmt.label(s["forecast_category"]),
                "Kind": "Won" if s["is_won"] else "Lost" if s["is_lost"] else "Open",
                "Required to enter": ", ".join(fmt.label(f) for f in s["required_fields"]),
                "Rots after (days)": s["rot_days"] or "never",
                "Auto-advance when": rule_text(s),
            }
            for s in pipeline["stages"]
        ]
    ),
    hide_index=True,
    width="stretch",
)  # fmt: skip

add, edit, order, remove = st.tabs(["Add stage", "Rename / edit", "Reorder", "Remove"])
with add, st.form("pb_add"):
    key = st.text_input("Key (a-z, 0-9, _)", key="pb_add_key")
    name = st.text_input("Name", key="pb_add_name")
    prob = st.number_input("Probability", 0, 100, 50, key="pb_add_prob")
    cat = st.selectbox("Forecast category", ["pipeline", "best_case", "commit"], key="pb_add_cat")
    required = st.multiselect(
        "Required to enter",
        ["value", "expected_close_date", "next_step", "owner_id", "contacts", "account_id"],
        key="pb_add_req",
    )
    rot = st.number_input("Rots after (days, 0 = never)", 0, 3650, 0, key="pb_add_rot")
    position = st.selectbox("Before", [*keys, "(closed stages)"], index=len(keys), key="pb_add_pos")
    if st.form_submit_button("Add stage"):
        body = {
            "key": key.strip(),
            "name": name.strip(),
            "probability": int(prob),
            "forecast_category": cat,
            "required_fields": required,
            "rot_days": int(rot) or None,
        }
        if position in keys:
            body["position"] = keys.index(position)
        if call("POST", f"/pipelines/{pid}/stages", f"Adding stage {key}", json=body):
            st.rerun()
with edit:
    # The stage is picked outside the form (a pick inside a form reruns nothing until it is
    # submitted), and the form's widgets are keyed by pipeline and stage, so each stage's form
    # starts from that stage's values.
    key = st.selectbox("Stage", keys, key="pb_edit_key")
    current = next(s for s in pipeline["stages"] if s["key"] == key)
    tag = f"{pid}_{key}_{pipeline['version']}"
    with st.form(f"pb_edit_{tag}"):
        name = st.text_input("New name", value=current["name"], key=f"pb_edit_name_{tag}")
        c1, c2 = st.columns(2)
        prob = c1.number_input(
            "Probability", 0, 100, int(current["probability"]), key=f"pb_edit_prob_{tag}"
        )
        cat = c2.selectbox(
            "Forecast category",
            CATEGORIES,
            index=CATEGORIES.index(current["forecast_category"]),
            format_func=fmt.label,
            key=f"pb_edit_cat_{tag}",
        )
        required = st.multiselect(
            "Required to enter",
            list(dict.fromkeys([*REQUIRABLE, *current["required_fields"]])),
            default=current["required_fields"],
            format_func=fmt.label,
            key=f"pb_edit_req_{tag}",
        )
        rot = st.number_input(
            "Rots after (days, 0 = never)", 0, 3650, int(current["rot_days"] or 0),
            key=f"pb_edit_rot_{tag}",
        )  # fmt: skip
        st.markdown(
            "**Auto-advance** when every condition holds: a deal field (field, op, value) or "
            "activity (activity, outcome, at least min count, within days)."
        )
        rows = pd.DataFrame(
            [{k: c.get(k) for k in CONDITION_COLUMNS}
             for c in (current.get("auto_advance") or {}).get("all") or []],
            columns=CONDITION_COLUMNS,
        ).astype({"value": "object", "field": "object", "activity": "object", "outcome": "object"})  # fmt: skip
        edited = st.data_editor(
            rows,
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            key=f"pb_edit_auto_{tag}",
            column_config={
                "field": st.column_config.TextColumn("Field"),
                "op": st.column_config.SelectboxColumn("Op", options=OPS),
                "value": st.column_config.TextColumn("Value"),
                "activity": st.column_config.TextColumn("Activity"),
                "outcome": st.column_config.TextColumn("Outcome"),
                "min_count": st.column_config.NumberColumn("Min count", min_value=1, step=1),
                "within_days": st.column_config.NumberColumn("Within days", min_value=1, step=1),
            },
        )
        save = st.form_submit_button("Save stage")
    if save:
        conds = conditions(edited)
        body = {
            "name": name.strip(),
            "probability": int(prob),
            "forecast_category": cat,
            "required_fields": required,
            "rot_days": int(rot) or None,
            "auto_advance": {"all": conds} if conds else None,
        }
        if call("PATCH", f"/pipelines/{pid}/stages/{key}", f"Saving stage {key}", json=body):
            st.rerun()
with order, st.form("pb_order"):
    new_order = st.multiselect(
        "Stages in their new order (pick every stage)", keys, default=keys, key="pb_order_keys"
    )
    reorder = st.form_submit_button("Reorder")
    if reorder and call(
        "POST", f"/pipelines/{pid}/stages/reorder", "Reorder", json={"keys": new_order}
    ):
        st.rerun()
with remove, st.form("pb_remove"):
    key = st.selectbox("Stage to remove", keys, key="pb_remove_key")
    target = st.selectbox("Move its deals to", ["(it holds none)", *keys], key="pb_remove_target")
    if st.form_submit_button("Remove stage"):
        params = {} if target == "(it holds none)" else {"target_stage": target}
        if call("DELETE", f"/pipelines/{pid}/stages/{key}", f"Removing {key}", params=params):
            st.rerun()

st.subheader("New pipeline")
with st.form("pb_new"):
    name = st.text_input("Name", key="pb_new_name")
    make_default = st.checkbox("Make it the default", key="pb_new_default")
    if st.form_submit_button("Create pipeline"):
        body = {
            "name": name.strip(),
            "is_default": make_default,
            "stages": [
                {"key": "new", "name": "New", "probability": 10},
                {"key": "won", "name": "Won", "probability": 100, "is_won": True},
                {"key": "lost", "name": "Lost", "probability": 0, "is_lost": True},
            ],
        }
        try:
            api.post("/pipelines", json=body)
        except ApiError as e:
            ui.show_api_error(e, "Creating the pipeline")
        else:
            st.session_state.setdefault("builder_flash", []).append(f"Created {name}.")
            st.rerun()
