"""A running daemon on the simulated trunk, scraped: its /metrics carries every catalogued
metric with bounded, debtor-free labels, and a real Prometheus server (Debian's package)
scrapes it, finds the key series and evaluates every rule of ops/prometheus/rules.yml."""

from __future__ import annotations

import math
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opskit import COLLECTORS, RULES, daemon_settings, require, running_daemon, until
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from dialer import __version__
from dialer.compliance.rules import Reason
from dialer.domain.agents import CollectorState
from dialer.domain.calls import CallOutcome
from dialer.metrics import (
    AMD_VERDICTS,
    HOPPER_EMPTY_REASONS,
    INBOUND_OUTCOMES,
    RECORDING_DROP_REASONS,
    RECORDING_FAILURE_REASONS,
)
from dialer.metrics.catalogue import catalogue
from dialer.store.db import create_engine
from dialer.store.tables import CaseNumber

# Series that appear with their first event (or from another helper's component).
EVENT_SERIES = {
    "dialer_reassignments_total",  # the reassigner
    "dialer_cases_deferred_total",  # a compliance block at dial time
    "dialer_trunk_errors_total",
    "dialer_store_errors_total",
    "dialer_calls_not_placed_total",  # a store outage
    "dialer_pacing_threshold",  # the predictive pacer
    "dialer_predicted_free_collectors",
}
CALL_STATES = {"dialing", "ringing", "answered", "bridged", "abandoned"}
LABEL_VALUES: dict[str, set[str]] = {
    "campaign": {"c1"},
    "state": CALL_STATES | {s.value for s in CollectorState},
    "outcome": {o.value for o in CallOutcome} | set(INBOUND_OUTCOMES) | set(AMD_VERDICTS),
    "reason": set(HOPPER_EMPTY_REASONS)
    | {r.value for r in Reason}
    | {"unknown", "store_unavailable"}
    | {"disconnected", "phone_lost"}  # dialer_collector_presence_lost_total
    | set(RECORDING_FAILURE_REASONS)
    | set(RECORDING_DROP_REASONS),
    "command": {"originate", "bridge", "play", "cancel", "hangup", "voicemail"},
    "trunk": {"sip", "simulated"},  # the trunk's kind: one per daemon
    "version": {__version__},
}


def _samples(exposition: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """family name as catalogued -> (sample name, labels, value)."""
    families: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        name = family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
        families[name] = [(s.name, s.labels, s.value) for s in family.samples]
    return families


async def test_scrape_has_every_catalogued_metric_and_no_debtor_data(tmp_path: Path) -> None:
    async with running_daemon(daemon_settings(tmp_path)) as (daemon, address):
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:

            async def busy_exposition() -> str | None:
                body = (await client.get("/metrics")).text
                done = re.search(r"dialer_answer_to_bridge_seconds_count\S* ([1-9]\d*)", body)
                outcomes = "dialer_call_outcomes_total{" in body
                return body if done and outcomes else None

            exposition = await until(busy_exposition, "bridged calls in /metrics")
        settings = daemon.settings
    families = _samples(exposition)

    for entry in catalogue():
        assert f"# TYPE {entry.name.removesuffix('_info')}" in exposition or (
            f"# TYPE {entry.name}" in exposition
        ), entry.name
        if entry.name not in EVENT_SERIES:
            assert families.get(entry.name), f"{entry.name} has no series"

    for name, samples in families.items():
        for sample, labels, value in samples:
            assert sample.startswith("dialer_")
            assert not math.isnan(value), sample
            for label, label_value in labels.items():
                if label == "le":
                    float(label_value)
                    continue
                if label == "operation":
                    assert re.fullmatch(r"[A-Za-z]+", label_value), (sample, label_value)
                else:
                    assert label_value in LABEL_VALUES[label], (sample, label, label_value)
                assert not re.search(r"\d{5,}|^\d+$|@|\+|\.[0-9a-f]{8}\.", label_value), (
                    sample,
                    label_value,
                )
        assert name.startswith("dialer_")

    # Nothing of the portfolio anywhere in the exposition: no number, no case reference.
    db = create_engine(settings.database.url)
    try:
        async with db.connect() as conn:
            found = await conn.execute(select(CaseNumber.e164))  # opened: they are sealed
            numbers = list(found.scalars())
            cases = await conn.execute(text("select debtor_ref, display_name_masked from cases"))
            debtors = [value for row in cases for value in row]
    finally:
        await db.dispose()
    assert numbers and debtors
    for number in numbers:
        assert number not in exposition and number.lstrip("+") not in exposition
    for value in debtors:
        assert f'"{value}"' not in exposition


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.ops
async def test_prometheus_scrapes_the_daemon_and_evaluates_the_rules(tmp_path: Path) -> None:
    prometheus = require("prometheus", "Debian: apt-get install prometheus")
    async with running_daemon(daemon_settings(tmp_path)) as (_daemon, address):
        port = _free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "dialer", "static_configs": [{"targets": [address]}]}],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (tmp_path / "prometheus.log").open("w")
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await _check_prometheus(client, process, tmp_path / "prometheus.log")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()


async def _check_prometheus(
    client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path
) -> None:
    async def query(expr: str) -> list[dict[str, Any]] | None:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            response = await client.get("/api/v1/query", params={"query": expr})
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"]) or None

    def value(result: list[dict[str, Any]]) -> float:
        return float(result[0]["value"][1])

    up = await until(lambda: query('up{job="dialer"} == 1'), "the first scrape")
    assert value(up) == 1
    # Key series, straight from the scrape.
    for expr in (
        "dialer_build_info",
        'dialer_calls_originated_total{campaign="c1"}',
        'dialer_collectors{campaign="c1",state="ready"}',
        "dialer_trunk_registered == 1",
        "dialer_db_pool_checked_out_connections",
        "dialer_db_pool_max_connections > 0",
        'dialer_abandon_rate_ratio{campaign="c1"}',
        'dialer_abandon_budget_remaining_ratio{campaign="c1"}',
        'dialer_hopper_cases{campaign="c1"}',
        'dialer_hopper_empty_reason{campaign="c1",reason="no_cases"}',
        "dialer_event_loop_lag_seconds_count > 0",
        'dialer_answer_to_bridge_seconds_bucket{campaign="c1",le="2.0"}',
        'dialer_occupancy_ratio{campaign="c1"}',
    ):
        await until(lambda e=expr: query(e), expr)  # type: ignore[misc]

    # Recording rules evaluate to what the daemon reports.
    logged_in = await until(
        lambda: query('campaign:dialer_collectors_logged_in:sum{campaign="c1"}'), "logged in"
    )
    assert value(logged_in) == COLLECTORS
    cap = await until(lambda: query("campaign:dialer_abandon_cap:ratio"), "the cap")
    assert value(cap) == pytest.approx(0.03)
    for expr in (
        'campaign:dialer_calls_originated:rate1m{campaign="c1"} > 0',
        "campaign:dialer_abandon_budget_remaining:ratio <= 1",
        "campaign:dialer_abandon_rate_window:ratio >= 0",
        "campaign:dialer_hopper_cases:sum",
        "campaign:dialer_occupancy:ratio",
        "instance:dialer_db_pool_usage:ratio <= 1",
        "instance:dialer_event_loop_lag_seconds:p99_1m",
        "instance:dialer_calls_originated:rate1m > 0",
    ):
        await until(lambda e=expr: query(e), expr)  # type: ignore[misc]

    # Every rule has been evaluated without an error.
    async def all_rules_evaluated() -> list[dict[str, Any]] | None:
        body = (await client.get("/api/v1/rules")).json()
        rules = [rule for group in body["data"]["groups"] for rule in group["rules"]]
        groups = yaml.safe_load(RULES.read_text())["groups"]
        expected = sum(len(group["rules"]) for group in groups)
        if len(rules) < expected or any(r["health"] == "unknown" for r in rules):
            return None
        return rules

    rules = await until(all_rules_evaluated, "every rule evaluated")
    errors = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert errors == {}
    firing = await query('ALERTS{alertstate="firing",alertname=~"DialerDown|DialerTargetMissing"}')
    assert firing is None
