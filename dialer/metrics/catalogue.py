"""The metrics catalogue (docs/metrics.md), generated from `dialer.metrics.Metrics`.

    python -m dialer.metrics.catalogue > docs/metrics.md

A test regenerates it and compares with the committed file, so the catalogue cannot drift
from the code. `exported_names()` lists every sample name a scrape can contain; the ops
tests check the Grafana dashboard and the Prometheus rules against it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from prometheus_client.metrics import MetricWrapperBase

from dialer.metrics import HOPPER_EMPTY_REASONS, Metrics
from dialer.metrics.declared import Counter, Gauge, Histogram, Info

# Suffixes a family's samples carry, by type (prometheus_client's exposition).
SAMPLE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
}
# The name a query uses for a family (histograms: the _bucket/_sum/_count family base).
QUERY_SUFFIX: dict[str, str] = {"counter": "_total", "gauge": "", "histogram": "", "info": "_info"}

# Label values worth spelling out; the rest of the meaning is each metric's help text.
NOTES: dict[str, str] = {
    "dialer_build_info": "Always 1; the version is in the `version` label.",
    "dialer_hopper_empty_reason": (
        "Set while the hopper holds no case; all 0 otherwise. `reason`: "
        + ", ".join(HOPPER_EMPTY_REASONS)
        + ". `no_cases`: the campaign has no callable case left; `not_due`: all are "
        "recycled until later; `all_queued`: every due case is already queued or in a call; "
        "`all_leased`: the due cases are held by other daemons; `no_dialable_number`: the "
        "due cases have no number that may be dialed; "
        "`refill_failed`: the store query failed; a compliance code: the rule that blocked "
        "most due cases (kept until a refill finds a case again: the cases it blocked are "
        "deferred until it allows them)."
    ),
    "dialer_cases_deferred_total": "`reason`: a compliance rule code (see above).",
    "dialer_trunk_errors_total": "`command`: originate, bridge, play, cancel, hangup.",
    "dialer_store_errors_total": "`operation`: the write's kind (AttemptStarted, ...).",
    "dialer_calls_not_placed_total": "`reason`: store_unavailable (its attempt could not be "
    "written first).",
    "dialer_abandon_rate_ratio": (
        "Read from the store's abandonment ledger every 10 s, so it covers every daemon "
        "dialing the campaign."
    ),
    "dialer_abandon_budget_remaining_ratio": (
        "1 - abandons / (cap x live answers) over the window, clamped to 0..1; 1 before the "
        "first live answer. Read from the ledger every 10 s."
    ),
    "dialer_reassignments_total": (
        "Declared for the reassigner (DESIGN §1 step 7), which increments it with the "
        "reason it moved a case; no series until the first reassignment."
    ),
    "dialer_pacing_threshold": "Set by the predictive pacer.",
    "dialer_predicted_free_collectors": "Set by the predictive pacer.",
    "dialer_abandon_guard_clamps_total": (
        "Counted by the engine's abandon-cap guard (dialer.engine.cap_guard) in every pacing "
        "mode; the daemon's gauges publish it every second."
    ),
    "dialer_abandon_guard_clamping": "Set every second from the engine's abandon-cap guard.",
    "dialer_db_pool_max_connections": "+Inf when the pool's overflow is unlimited.",
    "dialer_collector_presence_lost_total": (
        "Counted when it happens (a collector on a call is paused when it ends); a "
        "collector already paused for their own reason is not counted. See docs/web.md "
        '"Presence".'
    ),
}


# Units the name's suffix does not tell.
UNITS: dict[str, str] = {
    "dialer_hopper_empty_reason": "0 or 1",
    "dialer_trunk_registered": "0 or 1",
    "dialer_trunk_up": "0 or 1",
    "dialer_pacing_threshold": "probability 0..1",
    "dialer_build_info": "-",
}


@dataclass(frozen=True, slots=True)
class Entry:
    name: str  # as queried: counters end in _total, info in _info
    type: str
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def unit(self) -> str:
        if self.name in UNITS:
            return UNITS[self.name]
        for suffix, unit in (
            ("_seconds", "seconds"),
            ("_ratio", "ratio 0..1"),
            ("_connections", "connections"),
            ("_limit", "calls per second"),
        ):
            if self.name.removesuffix("_total").endswith(suffix):
                return unit
        return "events" if self.type == "counter" else "count"


Declared = Counter | Gauge | Histogram | Info


def _family(metric: Declared) -> tuple[str, str, tuple[str, ...], str]:
    """(base name, type, label names, help) of one declared metric."""
    (described,) = metric.describe()
    return described.name, described.type, metric.label_names, described.documentation


def catalogue(metrics: Metrics | None = None) -> list[Entry]:
    """Every metric of `Metrics`, in declaration order."""
    metrics = metrics or Metrics()
    entries: list[Entry] = []
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        if not isinstance(value, Counter | Gauge | Histogram | Info):
            raise TypeError(f"{value!r}: declare it with dialer.metrics.declared")
        base, kind, labels, text = _family(value)
        bounds: tuple[float, ...] = ()
        if isinstance(value, Histogram):
            bounds = tuple(b for b in value.bucket_bounds if math.isfinite(b))
        entries.append(Entry(base + QUERY_SUFFIX[kind], kind, labels, text, bounds))
    return entries


def exported_names(metrics: Metrics | None = None) -> frozenset[str]:
    """Every sample name the daemon's /metrics can contain."""
    names: set[str] = set()
    for entry in catalogue(metrics):
        base = entry.name.removesuffix(QUERY_SUFFIX[entry.type]) or entry.name
        names.update(base + suffix for suffix in SAMPLE_SUFFIXES[entry.type])
    return frozenset(names)


def _bucket_text(bounds: tuple[float, ...]) -> str:
    return ", ".join(f"{b:g}" for b in bounds) + ", +Inf"


def render(entries: list[Entry]) -> str:
    lines = [
        "# Metrics catalogue",
        "",
        "<!-- Generated by `python -m dialer.metrics.catalogue > docs/metrics.md`; do not edit.",
        "     tests/ops/test_ops_catalogue.py fails when this file and dialer.metrics differ. -->",
        "",
        "Every metric the daemon exports on `GET /metrics` (Prometheus text format). "
        "Conventions: `dialer_` prefix; base units (seconds); counters end in `_total`; "
        "ratios are 0..1 and end in `_ratio`; labels are bounded (campaign, outcome, state, "
        "reason, command, operation) and never carry a phone number, a name, a case id or a "
        "call id. Histograms also export `_bucket{le}`, `_sum` and `_count`; counters and "
        "histograms a `_created` timestamp. Campaign counters start at 0 when the daemon "
        "starts, so `rate()` works from the first scrape.",
        "",
        "| Metric | Type | Labels | Unit | Meaning |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        meaning = e.help.replace("|", "\\|")
        if e.buckets:
            meaning += f" Buckets (s): {_bucket_text(e.buckets)}."
        note = NOTES.get(e.name)
        if note:
            meaning += " " + note.replace("|", "\\|")
        labels = ", ".join(f"`{label}`" for label in e.labels) or "-"
        lines.append(f"| `{e.name}` | {e.type} | {labels} | {e.unit} | {meaning} |")
    lines += [
        "",
        "Recording rules (`dialer:*`) and alerts built on these metrics are in "
        "`ops/prometheus/rules.yml`; the dashboard that shows them is described in "
        "`ops/README.md`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(render(catalogue()))


if __name__ == "__main__":
    main()
