"""The Pipeline board's pure parts: card labels and the moves a drag-and-drop produced.

``streamlit-sortables`` returns the columns as lists of labels after the user dragged a card;
:func:`board_moves` turns the difference into ``POST /deals/{id}/move`` calls (stage + index in
the target column), which the API checks against the deal gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

Column = Mapping[str, Any]  # {"header": stage key, "items": [labels]}


def money(value: str | None, currency: str = "") -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    return f"{amount:,.2f} {currency}".strip()


def card_label(deal: Mapping[str, Any]) -> str:
    """What a card shows; unique on the board (it ends with the deal id)."""
    rot = " ⚠" if deal.get("is_rotting") else ""
    return (
        f"{deal['name']} · {money(deal.get('value'), deal.get('currency', ''))} · "
        f"{deal.get('days_in_stage', 0)}d{rot} · {deal['id']}"
    )


def deal_id_of(label: str) -> str:
    return label.rsplit(" · ", 1)[-1]


def board_columns(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sortables input: one container per stage (header = stage key)."""
    return [
        {"header": c["stage"], "items": [card_label(d) for d in c["deals"]]}
        for c in board["columns"]
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
    """(deal id, stage key, index in that column) for every card the drag moved."""
    where = {item: col["header"] for col in before for item in col["items"]}
    moves: list[tuple[str, str, int]] = []
    for col in after:
        stage = col["header"]
        items = list(col["items"])
        for i, item in enumerate(items):
            if item in where and where[item] != stage:
                moves.append((deal_id_of(item), stage, i))
        if moves:
            continue
        old = next((list(c["items"]) for c in before if c["header"] == stage), [])
        moved = _single_moved(old, items)
        if moved is not None:
            moves.append((deal_id_of(moved), stage, items.index(moved)))
    return moves
