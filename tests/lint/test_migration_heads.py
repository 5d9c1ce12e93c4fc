"""The migrations form one line: exactly one head, every revision id unique. Two engineers who
each add a migration after the same head leave two heads, which `upgrade heads` would apply in an
order nobody chose; this fails until one is re-pointed after the other."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


def scripts(location: Path) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(location))
    return ScriptDirectory.from_config(config)


def test_the_migrations_have_one_head() -> None:
    heads = scripts(ROOT / "warehouse" / "migrations").get_heads()
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: {heads}"


def test_the_check_sees_two_heads(tmp_path: Path) -> None:
    """A copy of the migrations with a second script after the head's parent (as a second
    engineer would write it) has two heads."""
    source = ROOT / "warehouse" / "migrations"
    (tmp_path / "versions").mkdir()
    for name in ("env.py", "script.py.mako"):
        if (source / name).exists():
            (tmp_path / name).write_bytes((source / name).read_bytes())
    for path in (source / "versions").glob("*.py"):
        (tmp_path / "versions" / path.name).write_bytes(path.read_bytes())
    (head,) = scripts(tmp_path).get_heads()
    parent = scripts(tmp_path).get_revision(head).down_revision
    (tmp_path / "versions" / "zz_second.py").write_text(
        f'revision = "f0f0f0f0f0f0"\ndown_revision = "{parent}"\n'
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    assert sorted(scripts(tmp_path).get_heads()) == sorted([head, "f0f0f0f0f0f0"])
