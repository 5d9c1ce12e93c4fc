"""The password policy every new password meets (sign-up, accepting an invitation): at least 10
characters (the schema), not only white space, at least four different characters, and not one of the 10,000 most common passwords
(``common_passwords.txt``, compared case-insensitively). A refused password is a 422 naming the
field. Team policies (length, rotation) come with the permissions capability."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from leadly.problem import validation

#: "aaaaaaaaaa" and "ababababab" are long enough but guessed at once.
MIN_DISTINCT = 4


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = Path(__file__).with_name("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def check_password(password: str, field: str = "password") -> str:
    if not password.strip():
        raise validation([{"field": field, "message": "A password cannot be only white space."}])
    if len(set(password)) < MIN_DISTINCT:
        raise validation(
            [
                {
                    "field": field,
                    "message": f"Use at least {MIN_DISTINCT} different characters.",
                }
            ]
        )
    if password.strip().casefold() in common_passwords():
        raise validation(
            [
                {
                    "field": field,
                    "message": "This password is one of the most common ones; choose another.",
                }
            ]
        )
    return password
