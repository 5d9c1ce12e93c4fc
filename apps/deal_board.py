"""The Pipeline board's pure parts: card labels and the moves a drag-and-drop produced.

``streamlit-sortables`` takes and returns the columns as lists of text labels; a drag returns
them reordered. :class:`BoardLayout` remembers which label is which deal and which header is
which stage, and :meth:`BoardLayout.moves` turns the difference into ``POST /deals/{id}/move``
calls (stage key + index in the target column), which the API checks against the deal gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from apps import fmt

Column = Mapping[str, Any]  # {"header": str, "items": [labels]}


def money(value: str | None, currency: str = "") -> str:
    return fmt.money(value, currency)


def card_label(
    deal: Mapping[str, Any], id_chars: int = 6, owners: Mapping[str, str] | None = None
) -> str:
    """What a card shows: name, value, owner, expected close, days in stage (⚠ when rotting),
    the id's tail."""
    rot = " ⚠ rotting" if deal.get("is_rotting") else ""
    parts = [str(deal["name"]), fmt.money(deal.get("value"), deal.get("currency", ""))]
    if owners is not None:
        parts.append(owners.get(deal.get("owner_id") or "", "Unassigned"))
    if deal.get("expected_close_date"):
        parts.append(f"closes {fmt.day(deal['expected_close_date'], short=True)}")
    parts.append(f"{deal.get('days_in_stage', 0)}d{rot}")
    return " · ".join(parts) + f" · #{deal['id'][-id_chars:]}"


@dataclass
class BoardLayout:
    """The sortables input for a board and the way back from labels to deals and stages."""

    columns: list[dict[str, Any]]
    deal_of: dict[str, str] = field(default_factory=dict)  # label -> deal id
    stage_of: dict[str, str] = field(default_factory=dict)  # header -> stage key

    @classmethod
    def of(
        cls,
        board: Mapping[str, Any],
        stage_names: Mapping[str, str],
        owners: Mapping[str, str] | None = None,
    ) -> BoardLayout:
        names = [stage_names.get(c["stage"], c["stage"]) for c in board["columns"]]
        unique = len(set(names)) == len(names)
        layout = cls([])
        for name, c in zip(names, board["columns"], strict=True):
            header = name if unique else f"{name} ({c['stage']})"
            layout.stage_of[header] = c["stage"]
            items = []
            for d in c["deals"]:
                label = card_label(d, owners=owners)
                if label in layout.deal_of:  # two ids with the same tail: show the whole id
                    label = card_label(d, id_chars=len(d["id"]), owners=owners)
                layout.deal_of[label] = d["id"]
                items.append(label)
            layout.columns.append({"header": header, "items": items})
        return layout

    def moves(self, after: Sequence[Column]) -> list[tuple[str, str, int]]:
        """(deal id, stage key, index in that column) for every card the drag moved."""
        return [
            (self.deal_of[label], self.stage_of[header], index)
            for label, header, index in board_moves(self.columns, after)
            if label in self.deal_of and header in self.stage_of
        ]


def _single_moved(before: Sequence[str], after: Sequence[str]) -> str | None:
    """The one item whose move turns ``before`` into ``after`` (same items), if any."""
    if list(before) == list(after):
        return None
    for item in after:
        if [x for x in before if x != item] == [x for x in after if x != item]:
            return item
    return None


def board_moves(before: Sequence[Column], after: Sequence[Column]) -> list[tuple[str, str, int]]:
    """(label, header, index in that column) for every item the drag moved: items now in
    another column, else the one item reordered within its column."""
    where = {item: col["header"] for col in before for item in col["items"]}
    moves: list[tuple[str, str, int]] = []
    for col in after:
        for i, item in enumerate(col["items"]):
            if item in where and where[item] != col["header"]:
                moves.append((item, col["header"], i))
    if moves:
        return moves
    for col in after:
        old = next((list(c["items"]) for c in before if c["header"] == col["header"]), [])
        moved = _single_moved(old, list(col["items"]))
        if moved is not None:
            moves.append((moved, col["header"], list(col["items"]).index(moved)))
    return moves


# --------------------------------------------------------------------------- the builder's rules

CONDITION_COLUMNS = ["field", "op", "value", "activity", "outcome", "min_count", "within_days"]


def rule_text(stage: Mapping[str, Any]) -> str:
    """A stage's auto-advance conditions in a line: \"value gte 5000; 1× call (connected)\"."""
    conds = (stage.get("auto_advance") or {}).get("all") or []
    return "; ".join(
        f"{c['field']} {c.get('op', '')} {c.get('value', '') if c.get('value') is not None else ''}"
        .strip() if c.get("field") else
        f"{c.get('min_count', 1)}× {c['activity']}" + (f" ({c['outcome']})" if c.get("outcome") else "")
        + (f" in {c['within_days']} days" if c.get("within_days") else "")
        for c in conds
    )  # fmt: skip


def conditions(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The auto-advance conditions of the editor's rows (empty rows left out)."""
    out = []
    for r in rows.to_dict("records"):
        c = {k: v for k, v in r.items() if k in CONDITION_COLUMNS and not _blank(v)}
        if c.get("field") or c.get("activity"):
            for k in ("min_count", "within_days"):
                if k in c:
                    c[k] = int(c[k])
            out.append(c)
    return out


def _blank(v: object) -> bool:
    return v is None or v == "" or (isinstance(v, float) and pd.isna(v))
