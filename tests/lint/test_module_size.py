"""No Python module over 800 lines outside the migrations: a larger one is split along its seams
(see docs/contributing.md), so it stays readable as capabilities grow."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 800
EXEMPT = (Path("warehouse") / "migrations",)
"""Folders whose modules may be longer: a migration is frozen once landed."""


def python_modules(root: Path) -> list[Path]:
    """The ``.py`` files below ``root`` (relative), outside hidden folders (``.venv``, ``.git``),
    caches and dbt's output."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "target")
        ]
        here = Path(dirpath).relative_to(root)
        found += [here / name for name in filenames if name.endswith(".py")]
    return found


def test_no_module_is_over_800_lines() -> None:
    modules = python_modules(ROOT)
    assert Path("tests/lint/test_module_size.py") in modules  # the walk finds the tree
    long = {
        str(path): lines
        for path in modules
        if not any(path.is_relative_to(folder) for folder in EXEMPT)
        and (lines := len((ROOT / path).read_bytes().splitlines())) > LIMIT
    }
    assert not long, f"modules over {LIMIT} lines (split them along their seams): {long}"


def test_the_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * (LIMIT + 1))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "vendored.py").write_text("x = 1\n" * (LIMIT + 1))
    assert python_modules(tmp_path) == [Path("pkg/big.py")]
