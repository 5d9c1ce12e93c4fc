"""Field types shared by the record Structs.

Text never holds a NUL character: PostgreSQL cannot store one, so it is refused at validation.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

_NO_NUL = r"^[^\x00]*$"

Text = Annotated[str, Meta(max_length=1000, pattern=_NO_NUL)]
LongText = Annotated[str, Meta(max_length=200_000, pattern=_NO_NUL)]
Email = Annotated[str, Meta(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=320)]
Phone = Annotated[str, Meta(pattern=r"^[0-9+()./\-\sextEXT#*]{3,40}$")]
Url = Annotated[str, Meta(pattern=r"^(https?://)?[^\s/$.?#\x00][^\s\x00]*$", max_length=2000)]
RecordId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9]*_[0-9A-HJKMNP-TV-Z]{26}$")]
Custom = Annotated[dict[str, Any], Meta(max_length=500)]
