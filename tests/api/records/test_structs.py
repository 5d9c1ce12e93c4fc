"""api.common.structs.partial: a PATCH body derived from its create body."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import UNSET, Meta, Struct

from api.common.structs import partial

Name = Annotated[str, Meta(min_length=1, max_length=5)]


class ThingCreate(Struct, forbid_unknown_fields=True, kw_only=True, rename={"kind": "type"}):
    name: Name
    kind: Literal["a", "b"] = "a"
    note: Name | None = None
    size: Annotated[int, Meta(ge=0)] | None = None
    key: str = "k"


ThingUpdate = partial(
    ThingCreate,
    name="ThingUpdate",
    exclude=("key",),
    not_null=("size",),
    extra={"reopen": bool},
    doc="A PATCH of a thing.",
)


def _decode(body: bytes) -> Struct:
    return msgspec.json.decode(body, type=ThingUpdate)


def test_every_field_is_optional_and_unset_by_default() -> None:
    empty = _decode(b"{}")
    assert [getattr(empty, f) for f in empty.__struct_fields__] == [UNSET] * 5
    assert ThingUpdate.__struct_fields__ == ("name", "kind", "note", "size", "reopen")
    assert ThingUpdate.__name__ == "ThingUpdate" and ThingUpdate.__module__ == __name__
    assert ThingUpdate.__doc__ == "A PATCH of a thing."
    with pytest.raises(TypeError):
        ThingUpdate(None)  # type: ignore[call-arg]  # keyword-only, like the original


def test_constraints_renames_and_unknown_fields_carry_over() -> None:
    assert _decode(b'{"name": "abc", "type": "b", "note": null, "reopen": true}') == ThingUpdate(
        name="abc", kind="b", note=None, reopen=True
    )
    for bad in (
        b'{"name": "toolong"}',  # max_length of Name
        b'{"name": null}',  # not nullable on create, so not on update
        b'{"type": "c"}',  # the Literal
        b'{"kind": "a"}',  # renamed: "kind" is an unknown field
        b'{"size": -1}',  # ge=0
        b'{"size": null}',  # not_null
        b'{"key": "x"}',  # excluded
    ):
        with pytest.raises(msgspec.ValidationError):
            _decode(bad)


def test_the_json_schema_matches_a_hand_written_update() -> None:
    class Written(Struct, forbid_unknown_fields=True, kw_only=True, rename={"kind": "type"}):
        name: Name | msgspec.UnsetType = UNSET
        kind: Literal["a", "b"] | msgspec.UnsetType = UNSET
        note: Name | None | msgspec.UnsetType = UNSET
        size: Annotated[int, Meta(ge=0)] | msgspec.UnsetType = UNSET
        reopen: bool | msgspec.UnsetType = UNSET

    ours = msgspec.json.schema(ThingUpdate)["$defs"]["ThingUpdate"]
    theirs = msgspec.json.schema(Written)["$defs"]["Written"]
    assert {k: v for k, v in ours.items() if k not in ("title", "description")} == {
        k: v for k, v in theirs.items() if k != "title"
    }


def test_naming_a_field_the_create_body_lacks_is_an_error() -> None:
    with pytest.raises(TypeError, match="no field"):
        partial(ThingCreate, name="X", exclude=("nope",))
    with pytest.raises(TypeError, match="already a field"):
        partial(ThingCreate, name="X", extra={"name": str})


def test_pick_keeps_the_chosen_fields_with_their_types_and_defaults() -> None:
    from api.common.structs import pick

    Part = pick(
        ThingCreate,
        name="Part",
        fields=("key", "kind", "name", "note"),
        override={"name": (Name, "x")},
    )
    assert Part.__struct_fields__ == ("name", "kind", "note", "key")  # the base's order
    assert Part.__module__ == __name__
    assert msgspec.json.decode(b'{"type": "b"}', type=Part) == Part(
        name="x", kind="b", note=None, key="k"
    )
    for bad in (b'{"note": "toolong"}', b'{"size": 1}', b'{"kind": "a"}'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=Part)
    with pytest.raises(TypeError):
        pick(ThingCreate, name="Bad", fields=("nope",))


def test_page_of_is_the_list_envelope() -> None:
    from api.common.structs import page_of

    Page = page_of(ThingCreate)
    assert Page.__name__ == "ThingCreatePage" and Page.__module__ == __name__
    assert Page.__struct_fields__ == ("data", "next_cursor", "has_more")
    assert page_of(ThingCreate, name="Things").__name__ == "Things"
