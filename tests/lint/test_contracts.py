"""The import contracts of pyproject.toml (``make lint`` runs them) hold on the tree, and they
bite: a copy of the packages with one wrong import per layer rule fails them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leadly", "api", "warehouse", "ingestion", "orchestration", "ml", "apps")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages' Python files and pyproject.toml (no tests, data or .venv)."""
    dest = tmp_path_factory.mktemp("contracts")
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            dest / package,
            ignore=lambda _d, names: [
                n for n in names if not (n.endswith(".py") or "." not in n) or n == "__pycache__"
            ],
        )
    return dest


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    r = lint(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" not in r.stdout.split("Contracts:")[-1].split("kept")[0]


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        # the lowest layer reaching up into the HTTP package
        ("warehouse/db.py", "import api.app", "Layers, lowest last"),
        # shared basics depending on anything of Leadly's
        ("leadly/ids.py", "import warehouse.db", "Layers, lowest last"),
        # a service (domain) importing a route
        ("api/leads/service.py", "import api.deals.routes", "HTTP modules"),
        # Litestar in a service
        ("api/leads/service.py", "import litestar", "Litestar only in HTTP modules"),
        # ingestion reaching a route
        ("ingestion/export.py", "import api.leads.routes", "HTTP modules"),
        # orchestration reaching a route
        ("orchestration/resources.py", "import api.app", "HTTP modules"),
        # the dashboards writing through domain services
        ("apps/client.py", "import api.leads.service", "apps/ is a client of the API"),
        # Dagster outside orchestration
        ("api/leads/service.py", "import dagster", "Dagster only in orchestration"),
        # a module cycle inside a capability
        ("api/tasks/basics.py", "import api.tasks.service", "No import cycles"),
    ],
)
def test_a_wrong_import_fails_the_contracts(
    tree: Path, tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    path = copy / module
    path.write_text(path.read_text() + f"\n{bad_import}  # a deliberately wrong import\n")
    r = lint(copy)
    assert r.returncode != 0, r.stdout
    broken = r.stdout.split("Broken contracts")[-1]
    assert contract in broken, r.stdout
