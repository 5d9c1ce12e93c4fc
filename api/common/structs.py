"""Derived Structs: the PATCH body of a record built from its POST body.

A PATCH body has the fields of the create body, each optional: absent is :data:`msgspec.UNSET`
(the field stays as it is), ``null`` clears it where the create body allows ``null``. Writing
both by hand keeps two lists of fields and their constraints in step; :func:`partial` derives
the second from the first instead, keeping each field's type with its constraints
(``Annotated[..., msgspec.Meta(...)]``) and the create body's options (``forbid_unknown_fields``,
``kw_only``, field renames), so the OpenAPI document shows the same schema as a hand-written
one. Where an update truly differs it says so with the options:

    DealUpdate = partial(
        DealCreate,
        name="DealUpdate",
        not_null=("probability", "pipeline_id", "stage"),  # defaults on create, never cleared
        extra={"reopen": bool},  # only on update
    )
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

_OPTIONS = (
    "forbid_unknown_fields",
    "omit_defaults",
    "frozen",
    "eq",
    "order",
    "array_like",
    "gc",
    "repr_omit_defaults",
)


def _without_none(tp: Any) -> Any:
    """``tp`` with ``None`` taken out of its union (``Text | None`` -> ``Text``)."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return tp
    kept = tuple(a for a in typing.get_args(tp) if a is not type(None))
    return typing.Union[kept] if len(kept) > 1 else kept[0]  # noqa: UP007


def _optional(tp: Any) -> Any:
    return typing.Union[tp, UnsetType]  # noqa: UP007


def _caller() -> str:
    """The module of the code that called the public function calling this one."""
    return sys._getframe(2).f_globals.get("__name__", __name__)


def _derive(
    base: type[msgspec.Struct],
    name: str,
    fields: list[tuple[Any, ...]],
    renamed: dict[str, str],
    doc: str | None,
    module: str,
    options: Mapping[str, Any],
) -> type[msgspec.Struct]:
    """A Struct of ``fields`` with the options of ``base`` (``kw_only`` on), then ``options``."""
    config = base.__struct_config__
    settings: dict[str, Any] = {o: getattr(config, o) for o in _OPTIONS if hasattr(config, o)}
    settings["kw_only"] = True  # by name only, like the originals
    if renamed:
        settings["rename"] = renamed
    settings.update(options)
    return msgspec.defstruct(name, fields, module=module, namespace={"__doc__": doc}, **settings)


def partial(
    base: type[msgspec.Struct],
    *,
    name: str,
    exclude: Iterable[str] = (),
    not_null: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    doc: str | None = None,
    module: str | None = None,
    **options: Any,
) -> type[msgspec.Struct]:
    """A Struct named ``name`` with every field of ``base`` but ``exclude``, each optional
    (``UNSET`` by default), then the ``extra`` fields (name -> type, optional too).

    ``not_null``: fields whose ``None`` is dropped from the type (the create body may leave
    them null for a default, an update cannot clear them). ``options`` override the Struct
    options taken from ``base`` (``forbid_unknown_fields``, ``rename``, ...; ``kw_only`` is
    on).
    ``module`` defaults to the caller's (the Struct's name in errors and the OpenAPI
    document is then that of a class written there)."""
    skipped, strict = set(exclude), set(not_null)
    known = {f.name for f in msgspec.structs.fields(base)}
    unknown = (skipped | strict) - known
    if unknown:
        raise TypeError(f"{base.__name__} has no field(s) {sorted(unknown)}")
    fields: list[tuple[str, Any, Any]] = []
    renamed: dict[str, str] = {}
    for f in msgspec.structs.fields(base):
        if f.name in skipped:
            continue
        tp = _without_none(f.type) if f.name in strict else f.type
        fields.append((f.name, _optional(tp), UNSET))
        if f.encode_name != f.name:
            renamed[f.name] = f.encode_name
    for field_name, tp in (extra or {}).items():
        if field_name in known - skipped:
            raise TypeError(f"{field_name!r} is already a field of {base.__name__}")
        fields.append((field_name, _optional(tp), UNSET))
    return _derive(base, name, fields, renamed, doc, module or _caller(), options)


def pick(
    base: type[msgspec.Struct],
    *,
    name: str,
    fields: Iterable[str],
    override: Mapping[str, tuple[Any, Any]] | None = None,
    doc: str | None = None,
    module: str | None = None,
) -> type[msgspec.Struct]:
    """A Struct named ``name`` with the ``fields`` of ``base`` (in ``base``'s order), each with
    its type, constraints and default; ``override`` gives some of them another
    ``(type, default)``. For a body that takes a part of another, e.g. the deal a lead
    conversion opens. The options of ``base`` carry over (``kw_only`` is on)."""
    wanted, changed = set(fields), dict(override or {})
    known = {f.name for f in msgspec.structs.fields(base)}
    unknown = (wanted | set(changed)) - known
    if unknown:
        raise TypeError(f"{base.__name__} has no field(s) {sorted(unknown)}")
    out: list[tuple[Any, ...]] = []
    renamed: dict[str, str] = {}
    for f in msgspec.structs.fields(base):
        if f.name not in wanted:
            continue
        if f.encode_name != f.name:
            renamed[f.name] = f.encode_name
        if f.name in changed:
            out.append((f.name, *changed[f.name]))
        elif f.default_factory is not msgspec.NODEFAULT:
            out.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            out.append((f.name, f.type, f.default))
        else:
            out.append((f.name, f.type))
    return _derive(base, name, out, renamed, doc, module or _caller(), {})


def page_of(
    item: Any, *, name: str | None = None, module: str | None = None
) -> type[msgspec.Struct]:
    """The list envelope of ``item`` (``data``, ``next_cursor``, ``has_more``: the cursor
    pagination of every list), named ``name`` (default ``<item>Page``); ``module`` defaults to
    the caller's, as for :func:`partial`."""
    return msgspec.defstruct(
        name or f"{item.__name__}Page",
        [("data", list[item]), ("next_cursor", str | None), ("has_more", bool)],
        kw_only=True,
        module=module or _caller(),
    )


__all__ = ["page_of", "partial", "pick"]
