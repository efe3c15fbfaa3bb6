"""Several daemons, one store: two processes racing for the same campaign never lease the
same case, and a killed daemon's leases come back once they expire."""

from __future__ import annotations

import os
import select as io_select
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from orchkit import NOON, make_store, profile
from sqlalchemy import func, select

from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.settings import OrchestrationSettings
from dialer.orchestration.supply import Hopper
from dialer.store.tables import CaseRow

HERE = Path(__file__).resolve().parent
WORKER = HERE / "orch_worker.py"
PROCESS_TIMEOUT = 180.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(HERE.parents[1])
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), root, env.get("PYTHONPATH", "")])
    return env


def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The worker's next stdout line, waiting at most `timeout` seconds."""
    assert process.stdout is not None
    ready, _, _ = io_select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        raise AssertionError(f"worker said nothing in {timeout} s")
    return process.stdout.readline().strip()


async def test_two_processes_never_lease_the_same_case(db_url: str, tmp_path: Path) -> None:
    cases = 3000
    store = await make_store(db_url, cases)
    await store.dispose()
    go = tmp_path / "go"
    outs = {owner: tmp_path / f"{owner}.txt" for owner in ("alpha", "beta")}
    workers = {
        owner: _spawn("race", db_url, store.campaign_id, owner, 40, out, go)
        for owner, out in outs.items()
    }
    go.touch()  # both start together
    for owner, worker in workers.items():
        _, err = worker.communicate(timeout=PROCESS_TIMEOUT)
        assert worker.returncode == 0, f"{owner}: {err[-2000:]}"
    leased = {owner: out.read_text().split() for owner, out in outs.items()}
    alpha, beta = set(leased["alpha"]), set(leased["beta"])
    assert len(alpha) == len(leased["alpha"]) and len(beta) == len(leased["beta"])
    assert alpha & beta == set(), "no case leased by both"
    assert alpha | beta == {str(i) for i in range(1, cases + 1)}, "every case leased once"
    assert alpha and beta, "both processes took part in the race"
    store = await make_store(db_url)
    try:
        async with store.sessions() as s:
            holders = dict(
                (
                    await s.execute(
                        select(CaseRow.lease_owner, func.count()).group_by(CaseRow.lease_owner)
                    )
                )
                .tuples()
                .all()
            )
        assert holders == {"alpha": len(alpha), "beta": len(beta)}
    finally:
        await store.dispose()


async def test_a_killed_daemons_leases_come_back_after_expiry(db_url: str) -> None:
    store = await make_store(db_url, 200)
    try:
        worker = _spawn("hold", db_url, store.campaign_id, "doomed", 100, 60)
        try:
            line = _read_line(worker, PROCESS_TIMEOUT)
            assert line == "leased 100", worker.stderr.read() if worker.stderr else line
        finally:
            worker.send_signal(signal.SIGKILL)  # no clean stop: its leases stay behind
            worker.wait(timeout=PROCESS_TIMEOUT)
        survivor = Hopper(
            store.sessions,
            campaign="c1",
            campaign_id=store.campaign_id,
            profile=profile(),
            owner="survivor",
            lease_seconds=60,
        )
        first = await survivor.supply(200, frozenset(), NOON + timedelta(seconds=30))
        assert [t.case.ref for t in first] == [str(i) for i in range(100, 0, -1)]
        assert await survivor.supply(200, frozenset(), NOON + timedelta(seconds=59)) == []
        assert survivor.reason == "all_leased", "the dead daemon's leases are still live"
        back = await survivor.supply(200, frozenset(), NOON + timedelta(seconds=61))
        assert sorted(int(t.case.ref) for t in back) == list(range(101, 201)), "expired: back"
    finally:
        await store.dispose()


async def test_the_sweep_job_returns_expired_leases(db_url: str) -> None:
    store = await make_store(db_url, 20)
    try:
        dead = Hopper(
            store.sessions,
            campaign="c1",
            campaign_id=store.campaign_id,
            profile=profile(),
            owner="dead",
            lease_seconds=60,
        )
        assert len(await dead.supply(20, frozenset(), NOON)) == 20
        settings = OrchestrationSettings(lease_seconds=60, jobs={"lease_sweep_seconds": 20})
        live = Orchestrator(settings, store.sessions, owner="live", now=lambda: NOON)
        await live.sweep_leases(NOON + timedelta(seconds=59))
        async with store.sessions() as s:
            held = await s.scalar(select(func.count()).where(CaseRow.lease_owner == "dead"))
        assert held == 20
        await live.sweep_leases(NOON + timedelta(seconds=60))
        async with store.sessions() as s:
            held = await s.scalar(select(func.count()).where(CaseRow.lease_owner.is_not(None)))
        assert held == 0
    finally:
        await store.dispose()


async def test_heartbeat_keeps_leases_and_stop_releases_them(db_url: str) -> None:
    store = await make_store(db_url, 10)
    try:
        clock = [NOON]
        settings = OrchestrationSettings(lease_seconds=60, jobs={"lease_sweep_seconds": 20})
        me = Orchestrator(settings, store.sessions, owner="me", now=lambda: clock[0])
        hopper = me.hopper("c1", store.campaign_id, profile())
        targets = await hopper.supply(10, frozenset(), NOON)
        assert len(targets) == 10
        me.attach({"c1": _Runner({t.case.ref for t in targets})})  # type: ignore[dict-item]
        await me.heartbeat(NOON + timedelta(seconds=40))  # now held until +100 s
        await me.sweep_leases(NOON + timedelta(seconds=90))
        async with store.sessions() as s:
            held = await s.scalar(select(func.count()).where(CaseRow.lease_owner == "me"))
        assert held == 10, "extended by the heartbeat, so not swept"
        await me.stop()
        async with store.sessions() as s:
            held = await s.scalar(select(func.count()).where(CaseRow.lease_owner.is_not(None)))
        assert held == 0, "a clean stop gives every case back"
    finally:
        await store.dispose()


class _Runner:
    """What the orchestrator reads of a runner: the refs its engine holds."""

    def __init__(self, refs: set[str]) -> None:
        self.engine = type("E", (), {"queued_refs": frozenset(refs), "collectors": {}})()
        self.step_observers: list[object] = []
