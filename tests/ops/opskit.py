"""Helpers of the ops tests: where the ops files are, outside programs, PromQL metric names."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from dialer.daemon import Daemon
from dialer.metrics.catalogue import exported_names
from dialer.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
RULES = OPS / "prometheus" / "rules.yml"
RULE_TESTS = OPS / "prometheus" / "tests.yml"
SCRAPE_EXAMPLE = OPS / "prometheus" / "prometheus.yml"
DASHBOARD = OPS / "grafana" / "dialer-dashboard.json"
UNIT = OPS / "systemd" / "dialer.service"
README = OPS / "README.md"

# A weekday, 11:00 in New York: inside every profile's calling hours for the demo numbers.
DAYTIME = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()
COLLECTORS = 6
T = TypeVar("T")

# Series Prometheus makes itself for every target.
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
    | {"unless", "offset", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?")


def require(program: str, why: str) -> str:
    """The program's path; skip when it is missing, or fail under DIALER_REQUIRE_ALL=1."""
    path = shutil.which(program)
    if path is not None:
        return path
    reason = f"{program} is not installed ({why})"
    if os.environ.get("DIALER_REQUIRE_ALL") == "1":
        pytest.fail(f"DIALER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def metric_names(expr: str) -> set[str]:
    """Metric and recording-rule names a PromQL expression selects (Grafana variables and
    `label_values(metric, label)` included); function, keyword and label names excluded."""
    names = set(re.findall(r"label_values\(\s*([A-Za-z_:][\w:]*)", expr))
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"label_values\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    for match in _NAME.finditer(text):
        name, call = match.group(1), match.group(2)
        if call is None and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def load_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in load_rules() if "record" in rule}


def unknown_names(expr: str) -> set[str]:
    """Names in `expr` that are neither exported by the daemon, nor made by Prometheus for
    a target, nor recorded by rules.yml."""
    known = exported_names() | SCRAPE_SERIES | recorded_names()
    return metric_names(expr) - known


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def heading_anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            title = match.group(1).strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def daemon_settings(tmp_path: Path, pacing: str = "{mode: ratio, ratio: 2.5}") -> Settings:
    """One campaign c1 (us_tsr_regf) on the simulated trunk, SQLite in tmp_path, web port 0."""
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{host: 127.0.0.1, port: 0}}
collectors: {{count: {COLLECTORS}, pause_probability: 0.1}}
demo_cases: 200
drain_timeout: 2
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {pacing}
"""
    )
    return load_settings(path)


@contextlib.asynccontextmanager
async def running_daemon(
    settings: Settings, clock_start: float = DAYTIME, speed: float = 20
) -> AsyncIterator[tuple[Daemon, str]]:
    """A daemon running in this event loop, and its web address; stopped on exit."""
    daemon = Daemon(settings, speed=speed, clock_start=clock_start, seed=11)
    await daemon.prepare()
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.wait_ready(), 30)
        async with asyncio.timeout(30):
            while daemon.web_port is None:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield daemon, f"127.0.0.1:{daemon.web_port}"
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 30) -> T:
    """Poll `check` until it returns something truthy (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)
