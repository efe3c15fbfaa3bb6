"""The recordings catalogue on a real store: a row under its attempt (case, campaign,
collector copied), the search's filters, and the count of sealed files per key that
`dialer keys status` prints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from recordstore import NOW, add_attempt, add_recording, make_store
from sqlalchemy import update

from dialer.store.recordings_repo import RecordingRepository
from dialer.store.rekey import recording_census
from dialer.store.tables import Recording


async def test_rows_are_linked_to_their_attempt_and_found_by_the_filters(
    db_url: str, tmp_path: Path
) -> None:
    store = await make_store(db_url)
    try:
        path = tmp_path / "a.wav"
        path.write_bytes(b"RIFF....")
        await add_attempt(store, "c1.x.1", store.case_ids[0], bridged=True)
        await add_attempt(store, "c1.x.2", store.case_ids[1], bridged=False)
        first = await add_recording(store, "c1.x.1", path)
        second = await add_recording(store, "c1.x.2", path, started=NOW + timedelta(days=1))
        async with store.sessions() as s:
            repo = RecordingRepository(s)
            everything = await repo.search(["c1"])
            by_collector = await repo.search(["c1"], collector="alice")
            by_case = await repo.search(["c1"], case_ref="D0000002")
            by_day = await repo.search(["c1"], since=NOW + timedelta(hours=12))
            elsewhere = await repo.search(["c2"])
            found = await repo.file(first)
        assert [r.id for r in everything] == [second, first]  # newest first
        assert [(r.id, r.collector, r.case_ref) for r in by_collector] == [
            (first, "alice", "D0000001")
        ]
        assert [r.id for r in by_case] == [second] and by_case[0].collector is None
        assert [r.id for r in by_day] == [second]
        assert elsewhere == []
        assert found is not None and found.case_id == store.case_ids[0]
        assert found.campaign == "c1" and found.path == str(path)
    finally:
        await store.engine.dispose()


async def test_sealed_recordings_are_counted_per_key(db_url: str, tmp_path: Path) -> None:
    store = await make_store(db_url)
    try:
        for n, key in enumerate(("kold", "kold", "knew", None)):
            await add_attempt(store, f"c1.k.{n}", store.case_ids[0])
            row = await add_recording(store, f"c1.k.{n}", tmp_path / "x", sealed=key is not None)
            async with store.sessions() as s, s.begin():
                await s.execute(update(Recording).where(Recording.id == row).values(key_id=key))
        async with store.sessions() as s:
            assert await recording_census(s) == {"kold": 2, "knew": 1}
    finally:
        await store.engine.dispose()
