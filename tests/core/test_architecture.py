"""The core is sans-I/O: it imports no asyncio, database, web stack or adapter (DESIGN §2-3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "dialer"
CORE = [
    ROOT / "engine.py",
    ROOT / "engine_dialing.py",
    ROOT / "engine_hopper.py",
    ROOT / "engine_routing.py",
    ROOT / "engine_views.py",
    ROOT / "routing.py",
    *sorted((ROOT / "domain").glob("*.py")),
    *sorted((ROOT / "pacing").glob("*.py")),
    *sorted((ROOT / "compliance").glob("*.py")),
]
FORBIDDEN = (
    "asyncio",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyVoIP",
    "aiosqlite",
    "asyncpg",
    "socket",
    "dialer.store",
    "dialer.telephony",
    "dialer.web",
    "dialer.daemon",
    "dialer.cli",
    "dialer.jobs",
    "dialer.metrics",
    "dialer.runner",
)
# The compliance CLI is an adapter that happens to live beside its rules.
ADAPTERS_IN_CORE_DIRS = {ROOT / "compliance" / "cli.py"}
CLOCK_READS = ("time.time", "time.monotonic", "datetime.now", "datetime.utcnow", "date.today")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", [p for p in CORE if p not in ADAPTERS_IN_CORE_DIRS], ids=str)
def test_core_module_imports_no_io(path: Path) -> None:
    bad = [n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", [p for p in CORE if p not in ADAPTERS_IN_CORE_DIRS], ids=str)
def test_core_module_reads_no_clock(path: Path) -> None:
    source = path.read_text()
    assert not [c for c in CLOCK_READS if c + "(" in source]


def test_domain_imports_nothing_of_ours_but_domain() -> None:
    for path in (ROOT / "domain").glob("*.py"):
        ours = [n for n in _imports(path) if n.startswith("dialer.")]
        assert all(n.startswith("dialer.domain") for n in ours), (path.name, ours)
