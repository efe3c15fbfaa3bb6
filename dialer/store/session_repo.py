"""Web sessions kept in the store, so that logging out and changing a password end them for
good (a copied cookie is worth nothing afterwards).

The session id itself lives only in the user's (signed) cookie; the table keeps its SHA-256,
so a copy of the database opens no session. A session is shown (to its user, to managers)
by its `ref`, the first 16 hex digits of that hash: enough to name it, nothing to open it.
Like the other repositories, this one wraps a session the caller owns and returns values,
never ORM rows. Times are passed in by the caller (aware UTC).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.tables import WebSession

REF_LENGTH = 16


def session_key(session_id: str) -> str:
    """What the table stores for a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_ref(session_id: str) -> str:
    """How a session is named in lists (never the id the cookie carries)."""
    return session_key(session_id)[:REF_LENGTH]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    ref: str
    username: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    client_masked: str | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        session_id: str,
        username: str,
        now: datetime,
        expires_at: datetime,
        client_masked: str | None = None,
    ) -> None:
        """Record a new session; sessions that expired before `now` are deleted."""
        await self.purge_expired(now)
        self.session.add(
            WebSession(
                id_hash=session_key(session_id),
                username=username,
                created_at=now,
                expires_at=expires_at,
                last_seen_at=now,
                client_masked=client_masked,
            )
        )
        await self.session.flush()

    async def get(self, session_id: str) -> SessionInfo | None:
        row = await self.session.get(WebSession, session_key(session_id))
        return None if row is None else _info(row)

    async def active(self, session_id: str, now: datetime) -> SessionInfo | None:
        """The session, if it exists, has not expired and was not revoked."""
        found = await self.get(session_id)
        return found if found is not None and found.active(now) else None

    async def touch(self, session_id: str, now: datetime) -> None:
        await self.session.execute(
            update(WebSession)
            .where(WebSession.id_hash == session_key(session_id))
            .values(last_seen_at=now)
        )

    async def revoke(self, session_id: str, now: datetime) -> bool:
        """End one session; False when it was unknown or already revoked."""
        result = await self.session.execute(
            update(WebSession)
            .where(WebSession.id_hash == session_key(session_id), WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_all(self, username: str, now: datetime) -> int:
        """End every live session of `username` (a password change); how many there were."""
        result = await self.session.execute(
            update(WebSession)
            .where(
                WebSession.username == username,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
            )
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0))

    async def revoke_ref(self, username: str, ref: str, now: datetime) -> bool:
        """End the live session of `username` named `ref`; False when there is none."""
        if len(ref) != REF_LENGTH:
            return False
        result = await self.session.execute(
            update(WebSession)
            .where(
                WebSession.username == username,
                WebSession.id_hash.startswith(ref, autoescape=True),
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
            )
            .values(revoked_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def live_for_user(self, username: str, now: datetime) -> list[SessionInfo]:
        """The user's sessions neither expired nor revoked, oldest first."""
        return [s for s in await self.for_user(username) if s.active(now)]

    async def live_counts(self, now: datetime) -> dict[str, int]:
        """username -> number of live sessions (users without any are absent)."""
        rows = await self.session.execute(
            select(WebSession.username, func.count())
            .where(WebSession.revoked_at.is_(None), WebSession.expires_at > now)
            .group_by(WebSession.username)
        )
        return {username: int(count) for username, count in rows.tuples()}

    async def delete_for_user(self, username: str) -> int:
        """Forget every session of `username` (the account is deleted)."""
        result = await self.session.execute(
            delete(WebSession).where(WebSession.username == username)
        )
        return int(getattr(result, "rowcount", 0))

    async def for_user(self, username: str) -> list[SessionInfo]:
        rows = await self.session.scalars(
            select(WebSession)
            .where(WebSession.username == username)
            .order_by(WebSession.created_at, WebSession.id_hash)
        )
        return [_info(row) for row in rows]

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        return int(getattr(result, "rowcount", 0))


def _info(row: WebSession) -> SessionInfo:
    return SessionInfo(
        ref=row.id_hash[:REF_LENGTH],
        username=row.username,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        client_masked=row.client_masked,
        revoked_at=row.revoked_at,
    )
