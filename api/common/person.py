"""The fields a lead and a contact share: a person's name and how to reach them (the same
columns, constraints and order in both bodies and answers)."""

from msgspec import Struct

from api.common.fields import Email, Phone, Text


class PersonCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """The leading fields of ``LeadCreate`` and ``ContactCreate``."""

    first_name: Text | None = None
    last_name: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    title: Text | None = None


class Person(Struct, kw_only=True):
    """The leading fields of ``Lead`` and ``Contact``."""

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    title: str | None
