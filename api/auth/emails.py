"""One normalisation of login emails, used by sign-up, login, invitations, the login throttle
and the uniqueness of logins: Unicode NFKC case folding (``NFKC(casefold(NFKC(email)))``,
trimmed). It runs only in Python; the database stores its result in
``team_members.email_normalized`` (unique) and the login look-up compares that column with the
normalised input, so "aadmİn@..." and "aadmin@..." are one account to every check or to none."""

from __future__ import annotations

import unicodedata


def normalize_email(email: str) -> str:
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
