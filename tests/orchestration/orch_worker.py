"""A stand-in daemon for the multi-process tests: one process, one lease owner.

python orch_worker.py race URL CAMPAIGN_ID OWNER BATCH OUT GO
    wait until the file GO exists, then refill BATCH cases at a time through the
    real Hopper until the campaign has nothing ready; write the case refs leased,
    one per line, to OUT.
python orch_worker.py hold URL CAMPAIGN_ID OWNER COUNT LEASE_SECONDS
    lease COUNT cases, print "leased <n>", then wait to be killed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from orchkit import NOON, profile

from dialer.orchestration.supply import Hopper
from dialer.settings import PrivacySettings
from dialer.store.db import create_engine, session_factory
from dialer.store.keyfile import install_from

GO_TIMEOUT = 60.0


async def race(url: str, campaign_id: int, owner: str, batch: int, out: Path, go: Path) -> None:
    engine = create_engine(url)
    hopper = Hopper(
        session_factory(engine),
        campaign="c1",
        campaign_id=campaign_id,
        profile=profile(),
        owner=owner,
        lease_seconds=600,
    )
    deadline = time.monotonic() + GO_TIMEOUT
    while not go.exists():  # bounded polling for the start signal
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        await asyncio.sleep(0.005)
    leased: list[str] = []
    try:
        while True:
            targets = await hopper.supply(batch, frozenset(), NOON)
            leased += [t.case.ref for t in targets]
            census = hopper.last.census if hopper.last else None
            if not targets and census is not None and not census.ready:
                break
    finally:
        out.write_text("".join(f"{ref}\n" for ref in leased))
        await engine.dispose()


async def hold(url: str, campaign_id: int, owner: str, count: int, lease: float) -> None:
    engine = create_engine(url)
    hopper = Hopper(
        session_factory(engine),
        campaign="c1",
        campaign_id=campaign_id,
        profile=profile(),
        owner=owner,
        lease_seconds=lease,
    )
    targets = await hopper.supply(count, frozenset(), NOON)
    print(f"leased {len(targets)}", flush=True)
    await asyncio.Event().wait()  # until SIGKILL: no clean stop, no release


def main(argv: list[str]) -> None:
    # The keyring of tests/conftest.py's `privacy_keyring` (DIALER_PRIVACY__KEY, inherited).
    install_from(PrivacySettings(key=os.environ["DIALER_PRIVACY__KEY"]))
    mode, url, campaign_id, owner = argv[1], argv[2], int(argv[3]), argv[4]
    if mode == "race":
        asyncio.run(race(url, campaign_id, owner, int(argv[5]), Path(argv[6]), Path(argv[7])))
    elif mode == "hold":
        asyncio.run(hold(url, campaign_id, owner, int(argv[5]), float(argv[6])))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
