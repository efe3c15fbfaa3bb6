"""`dialer migrate` and `dialer config`: the store's schema and the resolved settings."""

from __future__ import annotations

import asyncio

from dialer.cli.common import ConfigOption, console, settings_from


def migrate(config: ConfigOption = None) -> None:
    """Apply the database migrations (creates the SQLite file if needed)."""
    from dialer.store.db import migrate as run_migrate

    settings = settings_from(config)
    asyncio.run(run_migrate(settings.database.url))
    console.print("database is at the latest schema", highlight=False)


def show_config(config: ConfigOption = None) -> None:
    """Validate the settings and print them as resolved (secrets hidden)."""
    settings = settings_from(config)
    console.print_json(
        settings.model_dump_json(exclude={"web": {"session_secret"}, "privacy": {"key"}})
    )
