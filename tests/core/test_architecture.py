"""The layout is the architecture (DESIGN §2-3): the core is sans-I/O, each folder is one
part, the parts import each other in one direction only, and no module reaches into
another's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "dialer"
CORE_PACKAGES = ("domain", "pacing", "compliance", "engine")
CORE = [p for pkg in CORE_PACKAGES for p in sorted((ROOT / pkg).glob("*.py"))]
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
    "dialer.orchestration",
    "dialer.portfolio",
    "dialer.metrics",
)
CLOCK_READS = ("time.time", "time.monotonic", "datetime.now", "datetime.utcnow", "date.today")
# What each part may import of ours (DESIGN §2): the core inward only; adapters the core and
# the shared modules, never the composition root; daemon and cli compose everything.
SHARED = {"settings", "logs", "metrics", "clock", "privacy"}
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "pacing": {"domain"},
    "compliance": {"domain"},
    "engine": {"domain", "pacing", "compliance"},
    "orchestration": {"domain", "pacing", "compliance", "engine", "store"} | SHARED,
    "store": {"domain", "compliance"} | SHARED,
    "telephony": {"domain", "pacing"} | SHARED,
    # audio on the relay (recording): taps the telephony port structurally, stores through
    # the store, checks retention against the compliance profiles
    "media": {"domain", "compliance", "store"} | SHARED,
    "portfolio": {"domain", "compliance", "store"} | SHARED,
    "web": {"domain", "pacing", "compliance", "engine", "store", "media"} | SHARED,
    "daemon": {
        "domain",
        "pacing",
        "compliance",
        "engine",
        "orchestration",
        "store",
        "telephony",
        "media",
        "portfolio",
        "web",
    }
    | SHARED,
    "cli": set(),  # anything: checked only for circles
}


def _modules() -> Iterator[Path]:
    yield from sorted(ROOT.rglob("*.py"))


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    return [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]


def _names(path: Path) -> list[str]:
    names: list[str] = []
    for node in _imports(path):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif node.module:
            names.append(node.module)
            # `from dialer.engine import routing` imports the module dialer.engine.routing
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _part(module: str) -> str | None:
    """The top-level part of ours a dotted name belongs to (None: not ours)."""
    bits = module.split(".")
    if bits[0] != "dialer" or len(bits) < 2:
        return None
    return bits[1]


def _own_part(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def _is_part(name: str) -> bool:
    return (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules():
        own = _own_part(path)
        deps = graph.setdefault(own, set())
        for name in _names(path):
            part = _part(name)
            if part is not None and part != own and _is_part(part):
                deps.add(part)
    return graph


@pytest.mark.parametrize("path", CORE, ids=str)
def test_core_module_imports_no_io(path: Path) -> None:
    bad = [n for n in _names(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", CORE, ids=str)
def test_core_module_reads_no_clock(path: Path) -> None:
    source = path.read_text()
    assert not [c for c in CLOCK_READS if c + "(" in source]


def test_each_part_imports_only_what_the_design_allows() -> None:
    graph = _graph()
    for part, allowed in ALLOWED.items():
        if part == "cli":
            continue
        extra = graph.get(part, set()) - allowed
        assert not extra, f"dialer/{part} imports {sorted(extra)}"


def test_no_import_circle_between_parts() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path, node, dep]))
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("path", list(_modules()), ids=str)
def test_no_private_name_imported_across_modules(path: Path) -> None:
    bad = [
        f"{node.module}.{alias.name}"
        for node in _imports(path)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dialer")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert bad == [], f"{path} imports private names {bad}"


def test_compliance_imports_neither_the_store_nor_the_cli() -> None:
    for path in (ROOT / "compliance").glob("*.py"):
        ours = {_part(n) for n in _names(path)} - {None}
        assert not ours & {"store", "cli", "daemon", "web"}, (path.name, ours)


def test_domain_imports_nothing_of_ours_but_domain() -> None:
    for path in (ROOT / "domain").glob("*.py"):
        ours = [n for n in _names(path) if n.startswith("dialer.")]
        assert all(n.startswith("dialer.domain") for n in ours), (path.name, ours)


@pytest.mark.parametrize("path", list(_modules()), ids=str)
def test_module_at_most_400_lines_or_says_why(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    if lines <= 400:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "400 lines" in doc, f"{path} has {lines} lines and its docstring does not say why"


def test_top_level_holds_only_packages_and_shared_modules() -> None:
    """A newcomer finds each part as one folder; the top level keeps the shared modules."""
    loose = {p.stem for p in ROOT.glob("*.py")} - {"__init__", "__main__"}
    assert loose <= SHARED, f"modules outside a part: {sorted(loose - SHARED)}"


def test_readme_map_matches_the_tree() -> None:
    """README's "Where things are" names every part folder of dialer/, and nothing else."""
    readme = (ROOT.parent / "README.md").read_text()
    block = readme.split("### Where things are", 1)[1].split("```")[1]
    named = {
        line.split()[0].removeprefix("dialer/").rstrip("/")
        for line in block.splitlines()
        if line.startswith("dialer/")
    }
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert named - {"settings.py"} == folders
