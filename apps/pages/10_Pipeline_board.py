"""Pipeline board: a kanban of the pipeline's stages with each column's count, total and
weighted value; cards show owner, value, expected close and rotting; filters by owner and close
month; every card reachable (a column shows more on demand); open a deal's record page from the
picker under the board; drag cards between stages (streamlit-sortables) or use the move form. Every
move goes through ``POST /api/v1/deals/{id}/move`` with ``If-Match``; the deal gate's errors
(a missing required field, a reason, a closed deal) show here as the API names them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import streamlit as st
from streamlit_sortables import sort_items

from apps import fmt, lookup, record, ui
from apps.client import ApiError
from apps.deal_board import BoardLayout, card_label

# Columns side by side, equal width; cards wrap their text.
BOARD_STYLE = """
.sortable-component { display: flex; flex-direction: row; flex-wrap: nowrap !important; gap: 6px; }
.sortable-container { flex: 1 1 0 !important; min-width: 0 !important; width: auto !important; margin: 0 !important;
                      max-height: 640px; overflow-y: auto; }
.sortable-container-header { font-weight: 600; font-size: 0.85rem; white-space: normal; overflow-wrap: anywhere; }
.sortable-item { white-space: normal; font-size: 0.8rem; line-height: 1.2; }
"""

session = ui.start("Pipeline board")
api = session.api

try:
    pipelines = api.get("/pipelines", {"limit": 100})["data"]
except ApiError as e:
    ui.stop_on_error(e, "Loading the pipelines")
if not pipelines:
    st.info("Your team has no pipeline yet.")
    st.stop()
names = {p["id"]: p["name"] + (" (default)" if p["is_default"] else "") for p in pipelines}
default = next((i for i, p in enumerate(pipelines) if p["is_default"]), 0)
owners = lookup.members(api, session.team_id)
left, who, when = st.columns([2, 1, 1])
with left:
    pid = st.selectbox(
        "Pipeline", list(names), index=default, format_func=names.get, key="board_pipeline"
    )
ANYONE, ME = "", session.member["id"]
with who:
    owner = st.selectbox(
        "Owner",
        [ANYONE, ME, *sorted((m for m in owners if m != ME), key=lambda m: owners[m])],
        format_func=lambda m: "Anyone" if m == ANYONE else ("Me" if m == ME else owners[m]),
        key="board_owner",
    )
today = dt.date.today().replace(day=1)
months = [
    dt.date(today.year + (today.month - 1 + i) // 12, (today.month - 1 + i) % 12 + 1, 1)
    for i in range(-6, 13)
]
with when:
    close_month = st.selectbox(
        "Expected close",
        [None, *months],
        format_func=lambda m: "Any month" if m is None else fmt.month(m.isoformat()),
        key="board_close_month",
    )
pipeline = next(p for p in pipelines if p["id"] == pid)
stages = {s["key"]: s for s in pipeline["stages"]}

params: dict[str, str] = {"limit": "50"}
if owner:
    params["filter[owner_id]"] = owner
if close_month is not None:
    following = (close_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    params["filter[expected_close_date__gte]"] = close_month.isoformat()
    params["filter[expected_close_date__lt]"] = following.isoformat()
try:
    board = api.get(f"/pipelines/{pid}/board", params)
except ApiError as e:
    ui.stop_on_error(e, "Loading the board")
# The further cards of a column fetched with "Show more" (its cursor), for these filters.
more_key = "board_more_" + hashlib.sha256(json.dumps([pid, params]).encode()).hexdigest()[:12]
extra: dict[str, dict] = st.session_state.setdefault(more_key, {})
for c in board["columns"]:
    got = extra.get(c["stage"])
    if got:
        known = {d["id"] for d in c["deals"]}
        c["deals"] += [d for d in got["deals"] if d["id"] not in known]
        c["next_cursor"] = got["next_cursor"]
by_id = {d["id"]: d for c in board["columns"] for d in c["deals"]}

# Messages of the last move survive the rerun that shows its result.
for kind, text in st.session_state.pop("board_flash", []):
    (st.success if kind == "ok" else st.error)(text)


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault("board_flash", []).append((kind, text))


def move(deal_id: str, stage: str, index: int | None, extra: dict | None = None) -> bool:
    deal = by_id.get(deal_id)
    body = {"stage": stage, **({"position": index} if index is not None else {}), **(extra or {})}
    headers = {"If-Match": f'"{deal["version"]}"'} if deal else {}
    try:
        api.request("POST", f"/deals/{deal_id}/move", json=body, headers=headers)
    except ApiError as e:
        lines = [
            f"Moving {deal['name'] if deal else deal_id} to {stages[stage]['name']}: {e.detail}"
        ]
        lines += [f"- **{x.get('field')}**: {x.get('message')}" for x in e.errors]
        flash("error", "\n".join(lines))
        return False
    flash("ok", f"Moved {deal['name'] if deal else deal_id} to {stages[stage]['name']}.")
    return True


cols = st.columns(len(board["columns"]))
for col, c in zip(cols, board["columns"], strict=True):
    col.metric(
        stages[c["stage"]]["name"],
        f"{c['count']:,}",
        help=f"{c['stage']} · probability {stages[c['stage']]['probability']}%",
        border=True,
    )
    col.caption(f"Total {fmt.money(c['total_value'])}  \nWeighted {fmt.money(c['weighted_value'])}")
    more = c["count"] - len(c["deals"])
    label = f"Show {min(more, 50):,} more of {more:,}"
    if more > 0 and c.get("next_cursor") and col.button(label, key=f"board_more_{c['stage']}"):
        try:
            page = api.get(
                f"/pipelines/{pid}/board",
                {**params, "stage": c["stage"], "cursor": c["next_cursor"]},
            )
        except ApiError as e:
            ui.stop_on_error(e, "Loading more cards")
        fetched = page["columns"][0]
        got = extra.setdefault(c["stage"], {"deals": []})
        got["deals"] += fetched["deals"]
        got["next_cursor"] = fetched.get("next_cursor")
        st.rerun()


def redraw() -> None:
    """Draw the board's component afresh from the API's board on the next run. The component
    keeps what it was dragged into under its key (and would hand the same drag back on every
    run, a refused move retried forever) and ignores new items: each drag handled, and each
    change of the board, gets a new key."""
    st.session_state[f"board_drawn_{pid}"] = st.session_state.get(f"board_drawn_{pid}", 0) + 1
    st.session_state.pop(more_key, None)  # the cards fetched later are fetched afresh


st.caption("Drag a card to another stage (or within one) to move it.")
layout = BoardLayout.of(board, {k: v["name"] for k, v in stages.items()}, owners)
drawn = hashlib.sha256(json.dumps(layout.columns).encode()).hexdigest()[:12]
after = sort_items(
    layout.columns,
    multi_containers=True,
    direction="vertical",
    custom_style=BOARD_STYLE,
    key=f"sortable_{pid}_{st.session_state.get(f'board_drawn_{pid}', 0)}_{drawn}",
)
moves = layout.moves(after) if after else []
if moves:
    # Each move once: refused, its card goes back to the column the API still has it in.
    for deal_id, stage, index in moves:
        move(deal_id, stage, index)
    redraw()
    st.rerun()


def _open(key: str) -> None:
    """on_change: open the picked card's record (the picker is cleared for the way back)."""
    st.session_state["board_goto"] = st.session_state[key]
    st.session_state[key] = ""


goto = st.session_state.pop("board_goto", None)
if goto:
    st.switch_page(record.RECORD_PAGE, query_params={"id": goto})
if by_id:
    st.selectbox(
        "Open a deal",
        ["", *by_id],
        format_func=lambda i: (
            "Pick a card to open its record" if not i else card_label(by_id[i], owners=owners)
        ),
        key=f"board_open_{pid}",
        on_change=_open,
        args=(f"board_open_{pid}",),
    )

with st.expander("Move a deal", expanded=not by_id):
    if not by_id:
        st.info("No deals on this board yet.")
    else:
        with st.form("board_move_form"):
            deal_id = st.selectbox(
                "Deal",
                list(by_id),
                format_func=lambda i: card_label(by_id[i], owners=owners),
                key="mv_deal",
            )
            stage = st.selectbox(
                "To stage", list(stages), format_func=lambda k: stages[k]["name"], key="mv_stage"
            )
            reason = st.text_input("Win or loss reason (for a won or lost stage)", key="mv_reason")
            reopen = st.checkbox("Reopen a won or lost deal", key="mv_reopen")
            go = st.form_submit_button("Move")
        if go:
            extra: dict = {"reopen": True} if reopen else {}
            target = stages[stage]
            if reason and target["is_won"]:
                extra["win_reason"] = reason
            if reason and target["is_lost"]:
                extra["loss_reason"] = reason
            move(deal_id, stage, None, extra)
            redraw()
            st.rerun()

with st.expander("New deal"):
    with st.form("board_new_deal"):
        name = st.text_input("Name", key="nd_name")
        value = st.text_input("Value", key="nd_value", placeholder="e.g. 12000")
        stage = st.selectbox(
            "Stage", list(stages), format_func=lambda k: stages[k]["name"], key="nd_stage"
        )
        close = st.date_input("Expected close", value=None, key="nd_close")
        next_step = st.text_input("Next step", key="nd_next")
        create = st.form_submit_button("Create deal")
    if create:
        body: dict = {"name": name, "pipeline_id": pid, "stage": stage}
        if value.strip():
            body["value"] = value.strip()
        if isinstance(close, dt.date):
            body["expected_close_date"] = close.isoformat()
        if next_step.strip():
            body["next_step"] = next_step.strip()
        try:
            created = api.post("/deals", json=body)
        except ApiError as e:
            ui.show_api_error(e, "Creating the deal")
        else:
            flash("ok", f"Created {created['name']} in {stages[created['stage']]['name']}.")
            st.rerun()
