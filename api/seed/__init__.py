"""Demo data: ``leadly seed --demo`` and the first ``leadly up``.

This module is light (the CLI imports it for its options); the generator and the writes are in
:mod:`api.seed.demo`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_EMAIL = "demo@leadly.dev"
"""Login of the demo team's owner; the password is ``Settings.demo_password``."""


@dataclass(frozen=True)
class DemoSizes:
    """How many records the demo team gets (``--leads`` etc., ``LEADLY_DEMO_LEADS`` etc.)."""

    leads: int = 3000
    accounts: int = 300
    contacts: int = 800
    calls: int = 2000
