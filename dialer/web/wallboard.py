"""The wallboard's data: for each of a manager's campaigns a board (every logged-in
collector from the roster of dialer.web.collector_control, the abandon rate over the legal
window against the cap, the budget left, occupancy, the pacer's threshold, the latest
pacing decisions in plain words, today's figures), and the compact update that brings a
client from its last board to the current one.

An update is JSON rendered in the browser (dialer/web/static/wallboard.js): the first is
the whole board, later ones only the collectors whose row changed (null: gone), the
sections that changed and the samples of the time series the client has not seen. Rows
hold no clock reading that moves by itself: a state's start and a talk's start are engine
seconds, and the client counts on from the board's `now` (times `rate`, real seconds per
engine second), so a quiet floor of 500 sends nothing but the keep-alive.
The rows carry case ids, never a debtor's name or number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dialer.engine import window_words
from dialer.web import campaign_ops, collector_control
from dialer.web.collector_control import RosterLine
from dialer.web.context import WebContext
from dialer.web.wallboard_series import SAMPLE_COLUMNS, threshold_of, window_of

# A collector's row, in this order (the client reads `columns`).
ROW_COLUMNS = (
    "state", "pause_reason", "since", "console", "case_id", "talk_since", "after_call",
    "may_pause", "may_log_out", "team",
)  # fmt: skip
DECISIONS = 5


@dataclass(frozen=True, slots=True)
class Board:
    """One campaign's wallboard at one instant."""

    campaign: str
    now: float
    rows: dict[str, list[Any]]
    summary: dict[str, Any]
    decisions: list[dict[str, Any]]
    figures: dict[str, Any] | None
    series_seq: int


def row_of(line: RosterLine) -> list[Any]:
    return [
        line.state,
        line.pause_reason,
        round(line.since, 3),
        line.console,
        line.case_id,
        None if line.talk_started_at is None else round(line.talk_started_at, 3),
        line.pending,
        line.may_pause,
        line.may_log_out,
        line.team,
    ]


def summary(ctx: WebContext, name: str, now: float) -> dict[str, Any]:
    runner = ctx.runner(name)
    engine = runner.engine
    rate, cap, left = window_of(runner, now)
    guard = engine.cap_guard
    threshold = threshold_of(runner)
    counts = engine.counts()
    return {
        "running": not engine.paused,
        "pacer": engine.pacer.name,
        "abandon_rate": round(rate, 5),
        "cap": cap,
        "window": None if guard is None else window_words(guard.window_seconds),
        "abandons_left": None if left is None else max(0, math.floor(left + 1e-9)),
        "occupancy": round(engine.occupancy(now), 3),
        "threshold": None if threshold is None else round(threshold, 6),
        "collectors": {s: counts.get(s, 0) for s in campaign_ops.COLLECTOR_STATES},
        "hopper": engine.hopper_size,
    }


def decisions(ctx: WebContext, name: str) -> list[dict[str, Any]]:
    """The latest decisions: a sentence each, the pacer's own words and record beside."""
    return [
        {"at": d["at"], "plain": d["plain"], "reason": d["reason"], "detail": d["detail"],
         "launch": d["launch"]}
        for d in campaign_ops.decisions(ctx, name, DECISIONS)
    ]  # fmt: skip


def board(ctx: WebContext, name: str, figures: dict[str, Any] | None) -> Board:
    now = ctx.now()
    rows = {line.collector_id: row_of(line) for line in collector_control.roster(ctx, name)}
    series = ctx.floor.series_of(name)
    seq = series.samples[-1].seq if series.samples else 0
    return Board(name, now, rows, summary(ctx, name, now), decisions(ctx, name), figures, seq)


def update(ctx: WebContext, old: Board | None, new: Board) -> dict[str, Any] | None:
    """What brings a client showing `old` (None: nothing yet) to `new`; None: nothing."""
    series = ctx.floor.series_of(new.campaign)
    head = {
        "campaign": new.campaign,
        "now": round(new.now, 3),
        "rate": ctx.dialer.clock.real_seconds(1.0),
    }
    if old is None:
        return {
            **head,
            "full": True,
            "columns": ROW_COLUMNS,
            "sample_columns": SAMPLE_COLUMNS,
            "series_size": ctx.floor.size,  # the most samples kept
            "rows": new.rows,
            "summary": new.summary,
            "decisions": new.decisions,
            "figures": new.figures,
            "series": [s.as_list() for s in series.newer_than(0) if s.seq <= new.series_seq],
        }
    body: dict[str, Any] = {}
    rows: dict[str, list[Any] | None] = {
        cid: row for cid, row in new.rows.items() if old.rows.get(cid) != row
    }
    rows.update({cid: None for cid in old.rows.keys() - new.rows.keys()})
    if rows:
        body["rows"] = rows
    if new.summary != old.summary:
        body["summary"] = new.summary
    if new.decisions != old.decisions:
        body["decisions"] = new.decisions
    if new.figures != old.figures:
        body["figures"] = new.figures
    if new.series_seq != old.series_seq:
        newer = series.newer_than(old.series_seq)
        body["series"] = [s.as_list() for s in newer if s.seq <= new.series_seq]
    return {**head, "full": False, **body} if body else None
