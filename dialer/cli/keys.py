"""`dialer keys`: the keyring that seals debtor data at rest (docs/privacy.md).

`status` counts the sealed values (and sealed call recordings, which keep the key they
were written with) per key; `rotate` adds a new key to privacy.key_file,
makes it current and re-seals every row under it in one transaction. Stop the daemons
first (or restart them right after): a daemon holding the old keyring cannot open values
sealed under the new key.
"""

from __future__ import annotations

import asyncio

import typer

from dialer.cli.common import ConfigOption, console, fail, settings_from
from dialer.store import keyfile, rekey
from dialer.store.crypto import install
from dialer.store.db import create_engine, migrate, session_factory

keys_app = typer.Typer(help="The key that seals debtor data at rest.", no_args_is_help=True)


@keys_app.command("status")
def status(config: ConfigOption = None) -> None:
    """The current key and how many sealed values each key holds."""
    settings = settings_from(config)
    keyring = keyfile.keyring_from(settings.privacy)

    async def main() -> None:
        await migrate(settings.database.url)
        engine = create_engine(settings.database.url)
        try:
            async with session_factory(engine)() as session:
                counts = await rekey.census(session)
                files = await rekey.recording_census(session)
        finally:
            await engine.dispose()
        console.print(f"current key: {keyring.current}", highlight=False)
        for key_id in sorted(set(keyring.keys) | set(counts) | set(files)):
            known = "" if key_id in keyring.keys else " (NOT in the keyring: unreadable)"
            recorded = f", {files[key_id]} sealed recordings" if files.get(key_id) else ""
            console.print(
                f"  {key_id}: {counts.get(key_id, 0)} values{recorded}{known}", highlight=False
            )

    asyncio.run(main())


@keys_app.command("rotate")
def rotate(config: ConfigOption = None) -> None:
    """Add a new key, make it current, and re-seal every row under it."""
    settings = settings_from(config)
    if settings.privacy.key:
        fail("privacy.key is set: rotation works on privacy.key_file (see docs/privacy.md)")

    async def main() -> None:
        await migrate(settings.database.url)  # with the old keyring, before the new key
        keyring = keyfile.add_key(settings.privacy.key_file)
        install(keyring)
        engine = create_engine(settings.database.url)
        try:
            async with session_factory(engine)() as session, session.begin():
                changed = await rekey.rotate(session, keyring)
        finally:
            await engine.dispose()
        console.print(
            f"new key {keyring.current}: {changed} values re-sealed; older keys stay in "
            f"{settings.privacy.key_file} (backups taken before now need them)",
            highlight=False,
        )

    asyncio.run(main())
